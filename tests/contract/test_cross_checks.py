"""Cross-table reliability rules (issue 12): golden audits, weights vs the sample plan and their stratum."""

from __future__ import annotations

import pytest
from valid_tables import make_valid_tables, write_raw

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation import validate_tables
from modqa_lib.data.ingest import ingest
from modqa_lib.errors import DataContractError


def _rules(exc: DataContractError) -> list[tuple[str, str]]:
    return [(p["column"], p["rule"]) for p in exc.problems]


def test_valid_tables_pass_without_warnings():
    warned: list = []
    validate_tables(make_valid_tables(), warnings=warned)
    assert warned == []


def test_golden_audit_pointing_at_non_golden_item_is_an_error():
    t = make_valid_tables()
    t["golden"] = t["golden"][t["golden"][S.ITEM_ID] != "d00000"]
    with pytest.raises(DataContractError) as e:
        validate_tables(t)
    (p,) = [p for p in e.value.problems if "golden audit" in p["rule"]]
    assert p["column"] == S.DECISION_ID and p["rows"] == [1] and "'d00000'" in p["rule"]


def test_extreme_weight_is_warned_not_silently_accepted():
    t = make_valid_tables(80)
    a = t["audits"]
    a.loc[3, S.INCLUSION_PROB] = "1e-9"
    a.loc[3, S.WEIGHT] = "1e9"
    warned: list = []
    validate_tables(t, warnings=warned)
    (w,) = warned
    assert w["level"] == "warning" and w["column"] == S.WEIGHT and w["rows"] == [4]
    assert "stratum's median" in w["rule"]


def test_ingest_reports_weight_warning_in_summary_and_manifest(tmp_path):
    import json

    t = make_valid_tables(80)
    t["audits"].loc[3, S.INCLUSION_PROB] = "1e-9"
    t["audits"].loc[3, S.WEIGHT] = "1e9"
    raw = write_raw(t, tmp_path / "raw")
    rep = ingest(raw, tmp_path / "processed")
    assert "WARNING audits.csv: column 'weight'" in rep.summary()
    assert json.loads((tmp_path / "processed" / "manifest.json").read_text())["warnings"] == rep.warnings


def test_inclusion_prob_must_match_the_sample_plan(tmp_path):
    t = make_valid_tables()
    raw = write_raw(t, tmp_path / "raw")
    plan = t["audits"][[S.SAMPLE_ID, S.DECISION_ID, S.STRATUM, S.INCLUSION_PROB]].copy()
    (raw / "samples" / "2026-03-02").mkdir(parents=True)
    plan.to_csv(raw / "samples" / "2026-03-02" / "sample.csv", index=False)
    ingest(raw, tmp_path / "p1")  # matches: accepted
    plan.loc[2, S.INCLUSION_PROB] = "0.5"
    plan.loc[4, S.STRATUM] = "Vendor Z"
    plan.to_csv(raw / "samples" / "2026-03-02" / "sample.csv", index=False)
    with pytest.raises(DataContractError) as e:
        ingest(raw, tmp_path / "p2")
    rules = _rules(e.value)
    assert any(c == S.INCLUSION_PROB and "differs from the sample plan" in r and "plan 0.5" in r for c, r in rules)
    assert any(c == S.STRATUM and "differs from the sample plan" in r for c, r in rules)
