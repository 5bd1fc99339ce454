"""The transparency demo set: valid tables, its own stream, and the planted low-recall language."""

from __future__ import annotations

import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation import validate_tables
from modqa_lib.data.synthetic_transparency import PLANTED_TRANSPARENCY, generate_transparency
from modqa_lib.stats.transparency import (
    appeal_decision_times,
    appeal_reversal_rates,
    automated_accuracy,
    prepare_transparency_frame,
)


@pytest.fixture(scope="module")
def demo():
    return generate_transparency(seed=20261125, n_decisions=40_000)


def test_tables_valid_and_deterministic(demo):
    t = {k: demo[k] for k in ("decisions", "audits", "appeals")}
    out = validate_tables(t, {k: f"{k}.csv" for k in t})
    assert set(out) == set(t)
    again = generate_transparency(seed=20261125, n_decisions=40_000)
    pd.testing.assert_frame_equal(again["audits"], demo["audits"])


def test_planted_low_recall_language_is_found(demo):
    pop, aud = prepare_transparency_frame(demo["decisions"], demo["audits"])
    est = automated_accuracy(aud, pop)
    rec = est[(est["metric"] == "recall") & (est[S.SYSTEM] != "human_moderation")].set_index([S.SYSTEM, S.LANGUAGE])
    assert (rec["status"] != "not_estimable").all()
    planted = (PLANTED_TRANSPARENCY["low_recall"]["system"], PLANTED_TRANSPARENCY["low_recall"]["language"])
    assert rec["estimate"].idxmin() == planted
    others = rec.drop(index=planted)
    # far lower: its whole interval lies below every other cell's interval
    assert rec.loc[planted, "ci_high"] < others["ci_low"].min()
    # and the interval covers the realised population recall
    true = demo["truth"]["realised_recall"]["|".join(planted)]
    assert rec.loc[planted, "ci_low"] <= true <= rec.loc[planted, "ci_high"]
    # no cell shows a bare rate: every estimate has n, population and a CI
    ok = est[est["status"] != "not_estimable"]
    assert ok[["estimate", "ci_low", "ci_high", "n_audits", "population"]].notna().all().all()


def test_appeals_figures(demo):
    pop, _ = prepare_transparency_frame(demo["decisions"], demo["audits"])
    rr = appeal_reversal_rates(demo["appeals"], pop, by=[S.AUTOMATION])
    assert set(rr[S.AUTOMATION]) == {"fully_automated", "human_confirmed", "human_only"}
    assert ((rr[S.CI_LOW] <= rr["reversal_rate"]) & (rr["reversal_rate"] <= rr[S.CI_HIGH])).all()
    tm = appeal_decision_times(demo["appeals"])
    assert tm.loc[0, S.CI_LOW] < tm.loc[0, "median_hours"] < tm.loc[0, S.CI_HIGH]


def test_reversal_rate_wilson_hand_value():
    """3 reversed of 10: Wilson 95% interval (0.1078, 0.6032) (Newcombe 1998, method 3)."""
    dec = pd.DataFrame({S.DECISION_ID: [f"d{i}" for i in range(10)], S.POLICY: "spam_scam"})
    app = pd.DataFrame(
        {
            S.DECISION_ID: dec[S.DECISION_ID],
            S.OUTCOME: ["reversed"] * 3 + ["upheld"] * 7,
        }
    )
    r = appeal_reversal_rates(app, dec).iloc[0]
    assert r["n"] == 10 and r["reversal_rate"] == pytest.approx(0.3)
    assert r[S.CI_LOW] == pytest.approx(0.1078, abs=1e-4) and r[S.CI_HIGH] == pytest.approx(0.6032, abs=1e-4)
