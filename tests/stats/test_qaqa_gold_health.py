"""Tests of modqa_lib.stats.qaqa.gold_health: golden-item health and policy coverage of the gold set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.data import synthetic as syn
from modqa_lib.data.io import audited_decisions
from modqa_lib.errors import EstimationError
from modqa_lib.stats import qaqa

T0 = pd.Timestamp("2026-01-05T00:00:00Z")


def _gold_audits():
    golden = pd.DataFrame(
        {
            S.ITEM_ID: ["leak", "hard", "fresh", "old", "unused"],
            S.GOLD_LABEL: ["spam_scam", "hate_speech", S.NO_VIOLATION, "harassment", "spam_scam"],
            S.POLICY: ["spam_scam", "hate_speech", "hate_speech", "harassment", "spam_scam"],
        }
    )
    rows = []
    # "leak": 20 servings to 3 auditors, always right
    for k in range(20):
        rows.append(("leak", f"QA-0{k % 3}", "spam_scam", T0 + pd.Timedelta(days=k)))
    # "hard": 10 servings to 10 auditors, 1 right
    for k in range(10):
        rows.append(("hard", f"QA-{k:02d}", "hate_speech" if k < 1 else S.NO_VIOLATION, T0 + pd.Timedelta(days=k)))
    # "fresh": 6 servings, 5 right, distinct auditors
    for k in range(6):
        rows.append(("fresh", f"QA-{k:02d}", S.NO_VIOLATION if k else "hate_speech", T0 + pd.Timedelta(days=150 + k)))
    # "old": 2 servings, first 200 days before the last audit
    rows += [("old", "QA-01", "harassment", T0 - pd.Timedelta(days=60)), ("old", "QA-02", "harassment", T0)]
    ga = pd.DataFrame(rows, columns=[S.DECISION_ID, S.AUDITOR_ID, S.QA_LABEL, S.AUDITED_AT])
    return ga, golden


def test_gold_set_health_verdicts():
    ga, golden = _gold_audits()
    h = qaqa.gold_set_health(ga, golden).set_index(S.ITEM_ID)
    assert h.loc["leak", "times_served"] == 20 and h.loc["leak", "n_auditors"] == 3
    assert h.loc["leak", "repeat_exposures"] == 17 and h.loc["leak", "max_by_one_auditor"] == 7
    assert h.loc["leak", "verdict"] == "retire" and "leaked" in h.loc["leak", "reason"]
    assert h.loc["hard", "verdict"] == "review" and h.loc["hard", "accuracy"] == pytest.approx(0.1)
    lo, hi = proportion_confint(1, 10, method="wilson")
    assert (h.loc["hard", "ci_low"], h.loc["hard", "ci_high"]) == pytest.approx((lo, hi))
    assert h.loc["fresh", "verdict"] == "keep"
    assert h.loc["old", "verdict"] == "refresh" and h.loc["old", "age_days"] > 180
    assert h.loc["unused", "times_served"] == 0 and h.loc["unused", "verdict"] == "keep"


def test_gold_policy_coverage_finds_policies_without_gold():
    _, golden = _gold_audits()
    audited = pd.DataFrame({S.POLICY: ["spam_scam"] * 50 + ["hate_speech"] * 30 + ["child_safety"] * 20})
    c = qaqa.gold_policy_coverage(golden, audited, min_items=2, policies=["self_harm"]).set_index(S.POLICY)
    assert c.loc["child_safety", "gold_items"] == 0 and c.loc["child_safety", "too_little_gold"]
    assert "add at least 2" in c.loc["child_safety", "message"]
    assert not c.loc["spam_scam", "too_little_gold"] and not c.loc["self_harm", "too_little_gold"]
    assert c.loc["harassment", "audits"] == 0 and not c.loc["harassment", "too_little_gold"]
    assert c["audit_share"].sum() == pytest.approx(1.0)
    with pytest.raises(EstimationError, match="min_items"):
        qaqa.gold_policy_coverage(golden, audited, min_items=0)


def test_gold_health_on_demo_data():
    demo = syn.generate(n_decisions=20_000)
    t = demo.tables
    ga = t["audits"][t["audits"][S.IS_GOLDEN]]
    h = qaqa.gold_set_health(ga, t["golden"])
    assert len(h) == len(t["golden"]) and (h["times_served"] == 2).all()  # two auditors per golden item
    assert (h["repeat_exposures"] == 0).all()
    c = qaqa.gold_policy_coverage(t["golden"], audited_decisions(t), policies=list(S.load_taxonomy().policies))
    assert not c["too_little_gold"].any()  # every policy has gold in the demo (no policy without gold is planted)


def _clean_gold_sim(seed: int, n_items: int = 200, n_auditors: int = 20, acc: float = 0.9):
    """Clean gold: each item served 2-8 times, to distinct auditors, auditors right with probability ``acc``."""
    rng = np.random.default_rng(seed)
    golden = pd.DataFrame(
        {S.ITEM_ID: [f"g{i}" for i in range(n_items)], S.GOLD_LABEL: "spam_scam", S.POLICY: "spam_scam"}
    )
    rows = []
    for i in range(n_items):
        k = int(rng.integers(2, 9))
        for j, a in enumerate(rng.choice(n_auditors, k, replace=False)):
            label = "spam_scam" if rng.random() < acc else S.NO_VIOLATION
            rows.append((f"g{i}", f"QA-{a:02d}", label, T0 + pd.Timedelta(days=int(j))))
    return pd.DataFrame(rows, columns=[S.DECISION_ID, S.AUDITOR_ID, S.QA_LABEL, S.AUDITED_AT]), golden


def test_gold_set_health_no_false_leak_flags_on_clean_gold():
    """Null check: on clean gold (no auditor sees an item twice) no item is flagged leaked or retired."""
    flagged = 0
    for seed in range(20):
        ga, golden = _clean_gold_sim(20261304 + seed)
        h = qaqa.gold_set_health(ga, golden)
        assert (h["repeat_exposures"] == 0).all()
        flagged += int(h["reason"].str.contains("leaked").sum() + (h["verdict"] == "retire").sum())
    assert flagged == 0
