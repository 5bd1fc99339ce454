"""``modqa transparency``: the notebook as a one-unit batch family, the filing CSV, and its error path."""

from __future__ import annotations

import pandas as pd
import pytest

from modqa_lib.report.transparency_tables import CSV_COLUMNS
from modqa_lib.run.cli import main


def test_bad_period_is_one_line_exit_2(capsys):
    assert main(["transparency", "--period", "2026-13-01:2026-09-27"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modqa transparency: error: period") and "Traceback" not in err


@pytest.mark.slow
def test_transparency_report_and_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("MODQA_HEADLESS", "1")
    raw, proc, out = tmp_path / "raw", tmp_path / "proc", tmp_path / "out"
    assert main(["demo-data", "--transparency", "--out", str(raw), "--decisions", "30000"]) == 0
    assert main(["ingest", "--raw", str(raw), "--processed", str(proc)]) == 0
    rc = main(
        [
            "transparency",
            "--period",
            "2026-08-31:2026-09-27",
            "--processed",
            str(proc),
            "--out",
            str(out),
            "--run-id",
            "r1",
        ]
    )
    assert rc == 0
    run = out / "r1"
    assert list(run.glob("transparency/*.html"))
    csv = pd.read_csv(run / "transparency.csv")
    assert tuple(csv.columns) == CSV_COLUMNS
    # one row per system x language x metric: 3 systems (2 automated + human) x 5 languages x 6 metrics
    assert len(csv) == 3 * 5 * 6
    assert not csv.duplicated(["system", "language", "metric"]).any()
    # no bare rate: every number has its interval, n and population; the rest say why not
    num = csv[csv["status"] != "not_estimable"]
    assert num[["estimate", "ci_low", "ci_high", "n_audits", "population"]].notna().all().all()
    low = csv[(csv["metric"] == "recall") & (csv["system"] != "human_moderation")]
    assert tuple(low.loc[low["estimate"].idxmin(), ["system", "language"]]) == ("text_classifier", "pl")


def test_sample_nonactioned_option(tmp_path):
    from modqa_lib.data.ingest import ingest
    from modqa_lib.data.synthetic_transparency import write_transparency_demo

    raw, proc, out = tmp_path / "raw", tmp_path / "proc", tmp_path / "out"
    write_transparency_demo(raw, n_decisions=8000)
    ingest(raw, proc)
    rc = main(
        ["sample", "--week", "latest", "--processed", str(proc), "--out", str(out), "--golden-share", "0"]
        + ["--nonactioned-per-cell", "40"]
    )
    assert rc == 0
    (f,) = list(out.glob("samples/*/nonactioned_sample.csv"))
    s = pd.read_csv(f)
    assert set(s["system"]) == {"text_classifier", "visual_classifier"}
    assert (s.groupby(["system", "language"]).size() == 40).all()
    assert (s["model_score"] < 0.5).all()  # the model did not action them
    assert (s["weight"] * s["inclusion_prob"]).round(6).eq(1).all()


def test_sample_adopts_transparency_plan(tmp_path):
    """``--adopt-transparency-plan``: the non-actioned draw has exactly the planner's sizes per band."""
    from modqa_lib.data.ingest import ingest
    from modqa_lib.data.synthetic_transparency import write_transparency_demo

    raw, proc, out = tmp_path / "raw", tmp_path / "proc", tmp_path / "out"
    write_transparency_demo(raw, n_decisions=8000)
    ingest(raw, proc)
    rc = main(
        ["sample", "--week", "latest", "--processed", str(proc), "--out", str(out), "--golden-share", "0"]
        + ["--adopt-transparency-plan"]
    )
    assert rc == 0
    (f,) = list(out.glob("samples/*/nonactioned_sample.csv"))
    (pf,) = list(out.glob("samples/*/transparency_plan.csv"))
    s, plan = pd.read_csv(f), pd.read_csv(pf)
    assert set(plan["system"]) == {"text_classifier", "visual_classifier"}
    assert set(plan["arm"]) == {"actioned", "non_actioned"}
    want = plan[plan["arm"] == "non_actioned"].set_index(["system", "language", "score_band"])["allocated"]
    got = s.groupby(["system", "language", "score_band"]).size().reindex(want.index, fill_value=0)
    assert (
        got
        == want.clip(
            upper=plan.set_index(["system", "language", "score_band", "arm"])["population"].xs(
                "non_actioned", level="arm"
            )
        )
    ).all()
    assert len(s) == int(want.sum()) and len(s) > 0
    # not a fixed N per cell: the planner sizes cells differently
    assert s.groupby(["system", "language"]).size().nunique() > 1
    assert (s["model_score"] < 0.5).all()
    assert (s["weight"] * s["inclusion_prob"]).round(6).eq(1).all()
