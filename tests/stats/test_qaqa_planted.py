"""The QA-of-QA truths planted in the demo by the auditor-error process, found on the default seed and on
three seeds fixed before looking (default + 1, + 2, + 3; 60,000 decisions each).

Planted (``truth["qaqa"]``): routine and golden audits carry the same auditor error (Se 0.95, Sp 0.997);
QA-07 (Se = Sp = 0.85) audits routinely only at Lisbon (10% of its audits), which looks worse as audited
than it is; a golden item
leaked (served again and again to its two auditors, always right); no golden item for ip_infringement.
"""

from __future__ import annotations

import pytest

from modqa_lib.contract import schema as S
from modqa_lib.data import synthetic as syn
from modqa_lib.data.io import audited_decisions
from modqa_lib.stats import qaqa

SEEDS = [syn.DEFAULT_SEED, syn.DEFAULT_SEED + 1, syn.DEFAULT_SEED + 2, syn.DEFAULT_SEED + 3]


@pytest.fixture(scope="module", params=SEEDS)
def planted(request):
    d = syn.generate(seed=request.param, n_decisions=60_000)
    t = d.tables
    ga = audited_decisions(t, include_golden=True)
    ga = ga[ga[S.IS_GOLDEN]]
    return d, audited_decisions(t), ga, qaqa.auditor_error_rates(ga, t["golden"])


def test_low_specificity_auditor_and_the_site_it_makes_look_worse(planted):
    d, a, _, ar = planted
    low = d.truth["qaqa"]["low_specificity_auditor"]
    assert ar.loc[ar["flag"], S.AUDITOR_ID].tolist() == [low["auditor"]]
    c = qaqa.corrected_error_rates(a, ar, by=S.SITE).set_index(S.SITE)
    real = d.truth["qaqa"]["realised"]["sites"]
    row, truth = c.loc[low["site"]], real[low["site"]]["true_error_rate_audited_sample"]
    gap = row[S.ERROR_RATE] - truth
    assert gap > 0.01  # audited is biased as planted: the site looks worse than it is
    assert row[S.CI_LOW] <= truth <= row[S.CI_HIGH]
    assert abs(row["corrected_error_rate"] - truth) < 0.5 * gap  # the correction removes most of the gap
    assert row["top_auditors"].split(", ")[0] == low["auditor"]  # the report names the auditor driving it


def test_corrected_is_right_on_average_and_audited_is_not_biased_elsewhere(planted):
    """Routine audits carry the golden audits' auditor error, so the correction is right on average."""
    d, a, _, ar = planted
    c = qaqa.corrected_error_rates(a, ar, by=S.SITE).set_index(S.SITE)
    real = d.truth["qaqa"]["realised"]["sites"]
    truth = {s: v["true_error_rate_audited_sample"] for s, v in real.items()}
    covered = [c.loc[s, S.CI_LOW] <= t <= c.loc[s, S.CI_HIGH] for s, t in truth.items()]
    assert sum(covered) >= len(truth) - 1  # 8 sites at 95%: at most one miss
    diff = [c.loc[s, "corrected_error_rate"] - t for s, t in truth.items()]
    assert abs(sum(diff) / len(diff)) < 0.005
    others = [s for s in truth if s != d.truth["qaqa"]["low_specificity_auditor"]["site"]]
    assert all(abs(c.loc[s, S.ERROR_RATE] - truth[s]) < 0.01 for s in others)  # misses and false alarms balance
    r = d.truth["qaqa"]["realised"]
    assert 0.93 < 1 - r["routine_audited_error_rate"] < 0.955  # headline accuracy stays plausible


def test_leaked_golden_item_is_flagged_alone(planted):
    d, _, ga, _ = planted
    leak = d.truth["qaqa"]["realised"]["leaked_item"]
    h = qaqa.gold_set_health(ga, d.tables["golden"])
    flagged = h.loc[h["reason"].str.contains("leaked"), S.ITEM_ID].tolist()
    assert flagged == [leak["item_id"]]
    row = h.set_index(S.ITEM_ID).loc[leak["item_id"]]
    assert row["verdict"] == "retire" and row["accuracy"] == 1.0 and row["n_auditors"] == 2


def test_policy_without_gold_is_not_estimable_and_listed(planted):
    d, a, _, ar = planted
    pol = d.truth["qaqa"]["policy_without_gold"]["policy"]
    c = qaqa.corrected_error_rates(a, ar, by=S.POLICY, golden=d.tables["golden"]).set_index(S.POLICY)
    assert c.loc[pol, "n"] > 0 and not c.loc[pol, "defined"]
    assert c.loc[pol, ["corrected_error_rate", S.CI_LOW, S.CI_HIGH]].isna().all()
    assert c.loc[pol, "note"] == f"not estimable: no golden items for policy {pol}"
    assert c.drop(index=pol)["defined"].all() and c.drop(index=pol)["corrected_error_rate"].notna().all()
    cov = qaqa.gold_policy_coverage(d.tables["golden"], a, policies=list(S.load_taxonomy().policies))
    assert cov.loc[cov["too_little_gold"], S.POLICY].tolist() == [pol]
