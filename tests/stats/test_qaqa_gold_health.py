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
    leak = demo.truth["qaqa"]["realised"]["leaked_item"]
    clean = h[h[S.ITEM_ID] != leak["item_id"]]
    assert len(h) == len(t["golden"]) and (clean["times_served"] == 2).all()  # two auditors per golden item
    assert (clean["repeat_exposures"] == 0).all() and (clean["verdict"] != "retire").all()
    row = h.set_index(S.ITEM_ID).loc[leak["item_id"]]
    assert row["times_served"] == leak["times_served"] and row["verdict"] == "retire"
    c = qaqa.gold_policy_coverage(t["golden"], audited_decisions(t), policies=list(S.load_taxonomy().policies))
    no_gold = demo.truth["qaqa"]["policy_without_gold"]["policy"]
    assert c.loc[c["too_little_gold"], S.POLICY].tolist() == [no_gold]  # the planted coverage gap, only it


@pytest.mark.slow
def test_leak_flag_false_flag_rate_under_random_serving():
    """Clean gold (150 items) served at random with replacement to 12 auditors, 300 servings a report:
    chance re-exposures are common (a count rule alone flagged 93% of such reports), the leak test
    flags at most alpha of reports; a planted leak (2 auditors, 10 servings) is found in every report."""
    rng = np.random.default_rng(20261204)
    gold = pd.DataFrame({S.ITEM_ID: [f"g{i}" for i in range(150)], S.GOLD_LABEL: "ok", S.POLICY: "p"})
    reps, false_flags, found, chance_repeats = 200, 0, 0, 0
    for _ in range(reps):
        item = rng.integers(0, 150, 300)
        aud = rng.integers(0, 12, 300)
        rows = pd.DataFrame(
            {
                S.DECISION_ID: [f"g{i}" for i in item],
                S.AUDITOR_ID: [f"QA-{a:02d}" for a in aud],
                S.QA_LABEL: "ok",
                S.AUDITED_AT: T0 + pd.to_timedelta(rng.integers(0, 80, 300), unit="D"),
            }
        )
        h = qaqa.gold_set_health(rows, gold)
        chance_repeats += bool((h["repeat_exposures"] > 1).any())
        false_flags += bool(h["reason"].str.contains("leaked").any())
        leak = pd.DataFrame(
            {
                S.DECISION_ID: "g0",
                S.AUDITOR_ID: ["QA-00", "QA-01"] * 5,
                S.QA_LABEL: "ok",
                S.AUDITED_AT: T0 + pd.to_timedelta(np.arange(10), unit="D"),
            }
        )
        h2 = qaqa.gold_set_health(pd.concat([rows[rows[S.DECISION_ID] != "g0"], leak]), gold).set_index(S.ITEM_ID)
        found += h2.loc["g0", "verdict"] == "retire"
    assert chance_repeats / reps > 0.5  # the null really produces re-exposures
    assert false_flags / reps <= 0.05
    assert found == reps


def test_few_auditors_p_matches_enumeration():
    import itertools

    from modqa_lib.stats.qaqa.gold_health import _few_auditors_p

    shares = np.array([0.5, 0.3, 0.15, 0.05])
    for served in (2, 4, 5):
        tot = np.zeros(5)
        for combo in itertools.product(range(4), repeat=served):
            tot[len(set(combo))] += np.prod(shares[list(combo)])
        for d in range(1, min(served, 4)):
            assert _few_auditors_p(served, d, shares) == pytest.approx(tot[: d + 1].sum(), abs=1e-12)
