"""Tests of modqa_lib.stats.qaqa.calibration_pack and the booklet's case cards."""

from __future__ import annotations

import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.data import synthetic as syn
from modqa_lib.data.io import audited_decisions
from modqa_lib.errors import EstimationError
from modqa_lib.report.qaqa_tables import case_study_markdown
from modqa_lib.stats import qaqa


@pytest.fixture(scope="module")
def demo():
    d = syn.generate(n_decisions=40_000)
    return d, audited_decisions(d.tables)


def _pack(demo, **kw):
    d, a = demo
    t = d.tables
    ga = t["audits"][t["audits"][S.IS_GOLDEN]]
    args = dict(
        calibration=t["calibration"],
        golden=t["golden"],
        decisions=t["decisions"],
        actions=t["actions"],
        golden_audits=ga,
    )
    args.update(kw)
    return qaqa.calibration_pack(a, args.pop("vendor", "Vendor B"), **args)


def test_pack_mix_size_and_no_ids(demo):
    p = _pack(demo, size=30, seed=1)
    assert list(p.columns) == qaqa.PACK_COLUMNS and len(p) == 30 and p["case_no"].tolist() == list(range(1, 31))
    counts = p["source"].value_counts()
    assert counts["gold"] == 6 and counts["split_last_session"] <= 9 and counts["error_pattern"] >= 15
    assert p[S.ITEM_ID].is_unique
    d, a = demo
    ids = set(d.tables["decisions"][S.MODERATOR_ID].dropna()) | set(d.tables["audits"][S.AUDITOR_ID])
    assert not ids & set(p.astype(str).to_numpy().ravel())  # no moderator or auditor id anywhere
    own = a[a[S.VENDOR] == "Vendor B"]
    pat = p[p["source"] == "error_pattern"]
    assert pat[S.ITEM_ID].isin(own.loc[own[S.IS_ERROR], S.DECISION_ID]).all()  # the vendor's own errors
    # the most frequent (root cause, policy) of the vendor is in the pack
    top = own[own[S.IS_ERROR]].groupby([S.ROOT_CAUSE, S.POLICY]).size().idxmax()
    assert ((pat[S.ROOT_CAUSE] == top[0]) & (pat[S.POLICY] == top[1])).any()
    assert _pack(demo, size=30, seed=1).equals(p)  # same seed, same pack


def test_pack_policy_filter_and_sop(demo):
    p = _pack(demo, vendor="Vendor A", policy="regulated_goods", size=12)
    assert (p[S.POLICY] == "regulated_goods").all()
    assert p["sop_clarification"].str.contains("SOP clarification").all()  # the demo's action on regulated goods


def test_pack_errors(demo):
    with pytest.raises(EstimationError, match="size"):
        _pack(demo, size=0)
    with pytest.raises(EstimationError, match="no audits for vendor 'Vendor Z'"):
        _pack(demo, vendor="Vendor Z")
    with pytest.raises(EstimationError, match="must not exceed 1"):
        _pack(demo, gold_share=0.7, split_share=0.5)


def test_case_card_escapes_everything():
    case = pd.Series(
        {
            "case_no": 1,
            S.POLICY: "hate_speech",
            S.CONTENT_TYPE: "video",
            "why": "<script>alert(1)</script>",
            S.ITEM_ID: "D1",
            "decision_label": "no_violation",
            "correct_label": "hate_speech",
            S.ROOT_CAUSE: "misread_context",
            "sop_clarification": "[click](javascript:alert(1)) *x*",
            "share_wrong": 0.25,
            "n_rated": 8,
        }
    )
    md = case_study_markdown(case).data
    assert "<script>" not in md and "](javascript:" not in md
    assert "25% of 8" in md and "Misread context" in md
