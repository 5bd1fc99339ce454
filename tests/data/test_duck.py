"""Tests of modqa_lib.data.duck and the DuckDB paths: same numbers as the pandas path on the demo.

The demo is ingested twice: as ``decisions.parquet`` (pandas path) and as the
hive-partitioned dataset (``partition_rows=0``, the layout of large logs). Every
reader must give the same frames and counts from both, and a pandas-only load
of a log above the row limit must refuse with a message naming the DuckDB path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.data import duck
from modqa_lib.data import io as mio
from modqa_lib.data.ingest import ingest
from modqa_lib.data.scope import load_scope
from modqa_lib.data.synthetic import write_demo_data
from modqa_lib.errors import TooLargeError
from modqa_lib.report.text import processed_summary
from modqa_lib.stats.scoring import accuracy_table


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    base = tmp_path_factory.mktemp("duck")
    raw = write_demo_data(base / "raw", n_decisions=20_000)
    ingest(raw, base / "file")
    ingest(raw, base / "parts", partition_rows=0, batch_rows=6_000)
    assert (base / "parts" / "decisions").is_dir() and (base / "file" / "decisions.parquet").is_file()
    return base / "file", base / "parts"


def _by(df: pd.DataFrame, key: str) -> pd.DataFrame:
    return df.sort_values(key, ignore_index=True)


def test_load_processed_reads_both_layouts_alike(both):
    a, b = (mio.load_processed(p)["decisions"] for p in both)
    assert len(a) == 20_000
    pd.testing.assert_frame_equal(_by(a, S.DECISION_ID), _by(b, S.DECISION_ID))


def test_audited_decisions_pushed_down_equals_pandas_join(both):
    file, parts = both
    want = mio.audited_decisions(mio.load_processed(file))
    for src in (file, parts):
        got = mio.audited_decisions(src)  # audits loaded, decisions read by their ids only
        pd.testing.assert_frame_equal(_by(got, S.AUDIT_ID), _by(want, S.AUDIT_ID))
    got = mio.audited_decisions(parts, include_golden=True)
    assert len(got) == len(mio.audited_decisions(mio.load_processed(file), include_golden=True))


def test_read_decisions_filters_in_the_scan(both):
    file, parts = both
    full = mio.load_processed(file)["decisions"]
    ids = full[S.DECISION_ID].iloc[[5, 17, 900, 19_999]].tolist()
    got = duck.read_decisions(parts, ids=ids + ["not-an-id"])
    pd.testing.assert_frame_equal(
        _by(got, S.DECISION_ID), _by(full[full[S.DECISION_ID].isin(ids)].reset_index(drop=True), S.DECISION_ID)
    )
    v = duck.read_decisions(parts, columns=[S.DECISION_ID, S.VENDOR], where=f"{S.VENDOR} = 'Platform'")
    assert list(v.columns) == [S.DECISION_ID, S.VENDOR]
    assert len(v) == int((full[S.VENDOR] == "Platform").sum()) > 0


def test_report_scope_is_the_same_from_the_partitioned_log(both):
    file, parts = both
    a, b = load_scope(file, vendor="ALL"), load_scope(parts, vendor="ALL")
    assert len(b.tables["decisions"]) < 20_000  # only the audited decisions were read
    pd.testing.assert_frame_equal(_by(a.audits, S.AUDIT_ID), _by(b.audits, S.AUDIT_ID))
    ta = accuracy_table(_by(a.audits, S.AUDIT_ID), by=S.VENDOR)
    tb = accuracy_table(_by(b.audits, S.AUDIT_ID), by=S.VENDOR)
    pd.testing.assert_frame_equal(ta, tb)
    assert a.fingerprint == b.fingerprint


def test_processed_summary_from_aggregates(both):
    file, parts = both
    a, b = processed_summary(file), processed_summary(parts)
    assert a.splitlines()[2:] == b.splitlines()[2:]  # line 1: the folder; line 2: ingest time
    assert "20,000 rows" in b


@pytest.mark.parametrize("layout", [0, 1])
def test_decision_volumes_equal_a_pandas_groupby(both, layout):
    full = mio.add_derived_columns(mio.load_processed(both[0])["decisions"])
    by = [S.VENDOR, S.SITE, S.POLICY, S.WEEK]
    want = full.groupby(by, observed=True).size().rename("n").reset_index().astype({"n": "int64"})
    got = duck.decision_volumes(both[layout], by=by)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["n"].sum() == 20_000
    one = duck.decision_volumes(both[layout], by=[S.CHANNEL], where=f"{S.VENDOR} <> 'Platform'")
    assert dict(zip(one[S.CHANNEL], one["n"])) == full[full[S.VENDOR] != "Platform"][S.CHANNEL].value_counts().to_dict()


def test_score_band_counts_equal_pd_cut(both):
    full = mio.load_processed(both[0])["decisions"]
    edges = [0.0, 0.3, 0.5, 0.9, 1.0]
    s = full[S.MODEL_SCORE].to_numpy(dtype="float64", na_value=np.nan)
    band = np.digitize(s, edges[1:-1], right=False)
    has = np.isfinite(s)
    want = pd.Series(band[has]).value_counts().sort_index()
    got = duck.score_band_counts(both[1], edges=edges, by=())
    assert got["band"].tolist() == want.index.tolist()
    assert got["n"].tolist() == want.tolist()
    assert got["band_low"].tolist() == [edges[i] for i in want.index]
    assert got["n"].sum() == has.sum()


def test_guard_rail_names_the_duckdb_path(both, monkeypatch):
    monkeypatch.setenv("MODQA_MAX_PANDAS_ROWS", "1000")
    with pytest.raises(TooLargeError) as ei:
        mio.load_processed(both[1])
    msg = str(ei.value)
    assert "20,000 decisions" in msg and "limit 1,000" in msg and "modqa_lib.data.duck" in msg
    assert len(load_scope(both[1]).audits) > 0  # the report path does not load the log, so it still works
    with pytest.raises(TooLargeError, match="DuckDB path: x.y"):
        duck.check_pandas_rows(1001, "audits", "x.y")
    duck.check_pandas_rows(1000, "audits", "x.y")  # at the limit: fine


def test_partitioned_log_without_an_optional_column_reads_it_as_empty(both, tmp_path):
    """A log published before an optional column (reported_at) existed still scans, with that column empty."""
    _, parts = both
    want = duck.read_decisions(parts)
    assert S.REPORTED_AT in want.columns
    con = duck.connect()
    try:
        con.execute(
            f"COPY (SELECT * EXCLUDE ({S.REPORTED_AT}), CAST(date_trunc('week', {S.DECIDED_AT}) AS DATE) AS week "
            f"FROM {duck.decisions_scan(parts)}) TO '{tmp_path / 'decisions'}' "
            "(FORMAT parquet, PARTITION_BY (week, vendor))"
        )
    finally:
        con.close()
    got = duck.read_decisions(tmp_path)
    assert list(got.columns) == list(want.columns) and got[S.REPORTED_AT].isna().all()
    pd.testing.assert_frame_equal(
        _by(got.drop(columns=S.REPORTED_AT), S.DECISION_ID), _by(want.drop(columns=S.REPORTED_AT), S.DECISION_ID)
    )
    assert duck.decision_rows(tmp_path) == len(want)


def test_week_start_equals_date_trunc_from_1900_to_2150():
    con = duck.connect()
    try:
        got = con.execute(
            f"SELECT count(*), count_if({duck.week_start_sql('x')} <> CAST(date_trunc('week', x) AS DATE)) FROM ("
            "SELECT TIMESTAMPTZ '1900-01-01 00:00:00+00' + to_microseconds(CAST(random() * 7.9e15 AS BIGINT)) AS x "
            "FROM range(200000) UNION ALL SELECT unnest([TIMESTAMPTZ '1969-12-28 23:59:59.999999+00', "
            "TIMESTAMPTZ '1969-12-29 00:00:00+00', TIMESTAMPTZ '1970-01-04 23:59:59.999999+00', "
            "TIMESTAMPTZ '1970-01-05 00:00:00+00', TIMESTAMPTZ '2026-03-01 23:59:59+00', TIMESTAMPTZ '2026-03-02 00:00:00+00']))"
        ).fetchone()
    finally:
        con.close()
    assert got == (200_006, 0)


def test_read_decisions_in_decision_id_order_whatever_the_partition_order(both):
    _, parts = both
    df = duck.read_decisions(parts)
    assert df[S.DECISION_ID].is_monotonic_increasing and df[S.DECISION_ID].is_unique
    some = df[S.DECISION_ID].sample(50, random_state=1)
    got = duck.read_decisions(parts, ids=some)
    assert got[S.DECISION_ID].tolist() == sorted(some)
