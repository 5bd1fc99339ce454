"""The weekly QA sample (``draw_weekly_sample``, ``modqa sample``) drawn from the decisions log on disk.

On the demo, the in-memory path and the log path (partitioned dataset, single
parquet file, DuckDB relation) give the identical weekly sample: same ids, same
inclusion probabilities, same auditors and golden items, same plan and sample
id. ``modqa sample`` on a partitioned log draws with the pandas guard rail set
far below the log size (nothing loads the log), and the fingerprint of a log
equals the fingerprint of the same rows in a DataFrame.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.data import duck
from modqa_lib.data import io as mio
from modqa_lib.data.ingest import ingest
from modqa_lib.data.synthetic import write_demo_data
from modqa_lib.errors import ConfigError, DataContractError, SamplingError, TooLargeError
from modqa_lib.run.cli import main
from modqa_lib.stats import sampling as sm
from modqa_lib.stats.sampling.weekly import decisions_on_log

WEEKLY = dict(week="latest", by=S.VENDOR, margin=0.05, confidence=0.95, golden_share=0.05, seed=3)
#: sample ids of the in-memory draw on this demo, as main computed them before the log path existed
PINNED = {("proportional", None): "Sce500c357c", ("neyman", "Vendor B"): "Saf5fce0482"}


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    base = tmp_path_factory.mktemp("wlog")
    raw = write_demo_data(base / "raw", n_decisions=20_000)
    ingest(raw, base / "file")
    ingest(raw, base / "parts", partition_rows=0, batch_rows=7_000)
    assert mio.decisions_partitioned(base / "parts") and not mio.decisions_partitioned(base / "file")
    return mio.load_processed(base / "file"), base


def _plan(ws) -> dict:
    return {k: v for k, v in ws.plan.to_dict().items() if k != "created_at"}


def _same_sample(got, want) -> None:
    pd.testing.assert_frame_equal(got.worklist, want.worklist)
    pd.testing.assert_frame_equal(got.units, want.units)
    pd.testing.assert_frame_equal(got.allocation, want.allocation)
    assert _plan(got) == _plan(want)
    assert got.overall_margin == want.overall_margin and got.week == want.week and got.unit == want.unit


@pytest.mark.parametrize(
    "allocation, unit", [("proportional", None), ("neyman", None), ("neyman", "Vendor B"), ("equal", None)]
)
def test_log_path_gives_the_in_memory_weekly_sample(logs, allocation, unit):
    t, base = logs
    kw = dict(WEEKLY, allocation=allocation, unit=unit)
    want = sm.draw_weekly_sample(t["decisions"], t["audits"], t["golden"], **kw)
    got = sm.draw_weekly_sample(base / "parts", t["audits"], t["golden"], **kw)
    _same_sample(got, want)
    assert got.population is None and len(want.population) == got.units[sm.POPULATION].sum()
    real = got.worklist[~got.worklist[S.IS_GOLDEN]]
    assert set(real[S.DECISION_ID]) <= set(want.population[S.DECISION_ID])
    assert (real[S.INCLUSION_PROB] * real[S.WEIGHT]).round(12).eq(1).all()
    assert got.worklist[S.IS_GOLDEN].sum() > 0
    if (allocation, unit) in PINNED:  # the sample id of existing plans does not change
        assert got.plan.sample_id == want.plan.sample_id == PINNED[allocation, unit]


def test_every_log_source_and_any_row_order_give_the_same_sample(logs):
    t, base = logs
    kw = dict(WEEKLY, allocation="neyman")
    want = sm.draw_weekly_sample(t["decisions"], t["audits"], t["golden"], **kw)
    shuffled = t["decisions"].sample(frac=1, random_state=5)
    _same_sample(sm.draw_weekly_sample(shuffled, t["audits"], t["golden"], **kw), want)
    _same_sample(sm.draw_weekly_sample(base / "file", t["audits"], t["golden"], **kw), want)
    con = duck.connect()
    try:
        rel = con.sql(f"SELECT * FROM {duck.decisions_scan(base / 'parts')}")
        _same_sample(sm.draw_weekly_sample(rel, t["audits"], t["golden"], **kw), want)
    finally:
        con.close()


def test_log_path_errors_name_the_weeks_and_units(logs):
    t, base = logs
    kw = dict(WEEKLY, allocation="proportional")
    with pytest.raises(
        ConfigError, match=r"week 2026-11-17 is a Tuesday; ISO weeks start on Monday \(use 2026-11-16\)"
    ):
        sm.draw_weekly_sample(base / "parts", t["audits"], t["golden"], **{**kw, "week": "2026-11-17"})
    with pytest.raises(ConfigError, match=r"no decisions that week; the data covers weeks 20"):
        sm.draw_weekly_sample(base / "parts", t["audits"], t["golden"], **{**kw, "week": "2020-01-06"})
    with pytest.raises(ConfigError, match=r"unit 'Vendor Z': no decisions of that vendor in week .*'Vendor A'"):
        sm.draw_weekly_sample(base / "parts", t["audits"], t["golden"], **{**kw, "unit": "Vendor Z"})
    con = duckdb.connect()
    try:
        rel = con.sql("SELECT 'd1' AS decision_id, TIMESTAMP '2026-11-16 10:00' AS decided_at, 'x' AS policy")
        with pytest.raises(DataContractError, match="vendor"):  # the by column is missing
            sm.draw_weekly_sample(rel, t["audits"], t["golden"], **kw)
        gap = con.sql(
            "SELECT * FROM (VALUES ('d1', TIMESTAMPTZ '2026-11-02 10:00+00', 'x', 'A'), "
            "('d2', TIMESTAMPTZ '2026-11-16 10:00+00', 'x', 'A')) t(decision_id, decided_at, policy, vendor)"
        )
        with pytest.raises(
            ConfigError, match="2026-11-09: no decisions that week; the data covers weeks 2026-11-02 to 2026-11-16"
        ):
            sm.draw_weekly_sample(gap, t["audits"], t["golden"], **{**kw, "week": "2026-11-09"})
        empty = con.sql(
            "SELECT * FROM (SELECT 'd1' AS decision_id, now() AS decided_at, 'x' AS policy, 'A' AS vendor) LIMIT 0"
        )
        with pytest.raises(SamplingError, match="decisions table is empty"):
            sm.draw_weekly_sample(empty, t["audits"], t["golden"], **kw)
    finally:
        con.close()


def _run(processed, out, *extra) -> int:
    return main(
        ["sample", "--week", "latest", "--processed", str(processed), "--out", str(out), "--seed", "3", *extra]
        + ["--margin", "0.05", "--allocation", "neyman"]
    )


def test_sample_command_on_a_partitioned_log_never_loads_it(logs, tmp_path, monkeypatch):
    _, base = logs
    assert _run(base / "file", tmp_path / "mem") == 0  # the in-memory path (the log is small)
    limit = 1_000  # far below the log (20,000) and the week: any load of them trips the guard rail
    monkeypatch.setenv("MODQA_MAX_PANDAS_ROWS", str(limit))
    with pytest.raises(TooLargeError, match="MODQA_MAX_PANDAS_ROWS"):
        mio.load_processed(base / "parts", tables=["decisions"])
    real_load = mio.load_processed

    def load_no_decisions(processed=None, tables=None):
        assert tables is not None and "decisions" not in tables, "the decisions log was loaded into pandas"
        return real_load(processed, tables)

    monkeypatch.setattr(mio, "load_processed", load_no_decisions)
    assert _run(base / "parts", tmp_path / "log") == 0
    monkeypatch.setattr(mio, "load_processed", real_load)
    mem = tmp_path / "mem" / "samples" / "2026-11-16"
    log = tmp_path / "log" / "samples" / "2026-11-16"
    names = sorted(p.name for p in mem.iterdir())
    assert names == sorted(p.name for p in log.iterdir()) and "sample.csv" in names
    for name in names:
        if name.endswith(".csv"):
            assert (mem / name).read_text() == (log / name).read_text(), name
    a, b = (json.loads((d / "plan.json").read_text()) for d in (mem, log))
    assert {**a, "created_at": 0} == {**b, "created_at": 0}
    # a single-file log above the guard rail takes the log path too
    assert decisions_on_log(base / "file") and decisions_on_log(base / "parts")
    monkeypatch.setenv("MODQA_MAX_PANDAS_ROWS", str(10**9))
    assert not decisions_on_log(base / "file") and decisions_on_log(base / "parts")


def test_nonactioned_draws_on_a_partitioned_log(tmp_path, monkeypatch):
    from modqa_lib.data.synthetic_transparency import write_transparency_demo

    raw = write_transparency_demo(tmp_path / "raw", n_decisions=8000)
    ingest(raw, tmp_path / "file")
    ingest(raw, tmp_path / "parts", partition_rows=0)
    for flag in (["--nonactioned-per-cell", "30"], ["--adopt-transparency-plan"]):
        outs = {}
        for k in ("file", "parts"):
            monkeypatch.setenv("MODQA_MAX_PANDAS_ROWS", str(10**9 if k == "file" else 4_000))  # a week, not the log
            outs[k] = tmp_path / f"out_{k}_{flag[0]}"
            assert _run(tmp_path / k, outs[k], "--golden-share", "0", *flag) == 0
        (f,) = outs["file"].glob("samples/*/nonactioned_sample.csv")
        (g,) = outs["parts"].glob("samples/*/nonactioned_sample.csv")
        a = pd.read_csv(f).sort_values(S.DECISION_ID, ignore_index=True)
        pd.testing.assert_frame_equal(pd.read_csv(g).sort_values(S.DECISION_ID, ignore_index=True), a)
        assert len(a) > 0 and (a[S.WEIGHT] * a[S.INCLUSION_PROB]).round(6).eq(1).all()
    assert (g.parent / "transparency_plan.csv").exists()
    # a week above the guard rail is refused with a clear message
    monkeypatch.setenv("MODQA_MAX_PANDAS_ROWS", "100")
    from modqa_lib.run.transparency import write_nonactioned_sample

    with pytest.raises(TooLargeError, match=r"decisions in week 20.* more than the pandas path holds"):
        write_nonactioned_sample("latest", 30, tmp_path / "parts", tmp_path / "o")


def test_fingerprint_and_redraw_from_the_log(logs):
    t, base = logs
    dec = t["decisions"]
    cols = [S.VENDOR, S.POLICY]
    assert sm.decisions_fingerprint(base / "parts", cols) == sm.decisions_fingerprint(dec, cols)
    week = (
        "decided_at >= TIMESTAMPTZ '2026-11-16 00:00:00+00:00' AND decided_at < TIMESTAMPTZ '2026-11-23 00:00:00+00:00'"
    )
    dw = dec[
        (dec[S.DECIDED_AT] >= pd.Timestamp("2026-11-16", tz="UTC"))
        & (dec[S.DECIDED_AT] < pd.Timestamp("2026-11-23", tz="UTC"))
    ]
    assert sm.decisions_fingerprint(base / "parts", cols, where=week) == sm.decisions_fingerprint(dw, cols)
    assert sm.decisions_fingerprint(base / "parts", cols, where=week) != sm.decisions_fingerprint(base / "parts", cols)
    plan, s = sm.make_plan(base / "parts", strata=cols, n=300, seed=4, where=week, return_sample=True)
    want_plan, want = sm.make_plan(dw, strata=cols, n=300, seed=4, return_sample=True)
    assert plan.sample_id == want_plan.sample_id and plan.counts == want_plan.counts
    assert plan.counts["population"] == len(dw)
    key = [S.DECISION_ID, S.STRATUM, S.INCLUSION_PROB, S.WEIGHT]
    pd.testing.assert_frame_equal(
        s[key].sort_values(S.DECISION_ID, ignore_index=True), want[key].sort_values(S.DECISION_ID, ignore_index=True)
    )
    again = sm.redraw(plan, base / "parts", where=week)
    assert set(again[S.DECISION_ID]) == set(s[S.DECISION_ID])
    with pytest.raises(sm.FingerprintMismatchError, match="decisions differ"):
        sm.redraw(plan, base / "parts")  # the whole log is not the week the plan was drawn from
    with pytest.raises(SamplingError, match="where= filters a log"):
        sm.decisions_fingerprint(dec, cols, where=week)


def test_risk_weighted_sample_on_a_log_names_the_log_path(logs):
    _, base = logs
    msg = r"risk_weighted_sample needs the decisions in pandas.*read_decisions\(where=.*stratified_sample"
    with pytest.raises(SamplingError, match=msg):
        sm.risk_weighted_sample(base / "parts", n=50, seed=1)
    with pytest.raises(SamplingError, match=msg):
        sm.make_plan(base / "parts", "risk_weighted", n=50, seed=1)


def test_arrow_row_hashes_are_pandas_row_hashes():
    """The fast (Arrow) row hashes of the log fingerprint equal hash_pandas_object's, missing values included."""
    import pyarrow as pa

    from modqa_lib.stats.sampling import plan

    b = pa.RecordBatch.from_pydict(
        {
            S.DECISION_ID: ["d1", "d2", "d3", "d\u00e9", "d5"],
            S.VENDOR: ["A", None, "B", "A", "\u00c9"],
            S.POLICY: pa.array(["x", "y", None, "x", "y"]).dictionary_encode(),
        }
    )
    cols = [S.DECISION_ID, S.VENDOR, S.POLICY]
    want = plan._pandas_row_hashes(b, cols)
    assert len(set(want)) == 5
    assert np.array_equal(plan._arrow_row_hashes(b), want)
