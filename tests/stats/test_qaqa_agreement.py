"""Gwet's AC1, Brennan-Prediger and the kappa-paradox check (modqa_lib.stats.agreement.coefficients).

Reference values: ``tests/results/agreement_gwet_irrcac.json``, computed by the irrCAC
package 0.4.4 (``CAC(data).gwet()`` / ``.bp()``) on its bundled data sets; ``raw_4raters``
is Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed., Table 2.15 (AC1 = 0.7754).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modqa_lib.errors import ConfigError, EstimationError
from modqa_lib.stats.agreement import (
    brennan_prediger,
    brennan_prediger_from_counts,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac1_from_counts,
    kappa_paradox,
    to_count_table,
)

RESULTS = Path(__file__).resolve().parents[1] / "results"
REF = json.loads((RESULTS / "agreement_gwet_irrcac.json").read_text())


def _votes(case: dict) -> pd.DataFrame:
    df = pd.DataFrame(case["votes"], columns=["item_id", "rater_id", "label"])
    return df[df["label"] != "None"]


@pytest.mark.parametrize("name", sorted(REF["cases"]))
def test_ac1_and_bp_match_irrcac(name):
    case = REF["cases"][name]
    votes, cats = _votes(case), case["categories"]
    for fn, key in ((gwet_ac1, "gwet_ac1"), (brennan_prediger, "brennan_prediger")):
        got = fn(votes, categories=cats).iloc[0]
        exp = case[key]
        tol = 1e-5  # irrCAC rounds to 5 digits
        assert got["estimate"] == pytest.approx(exp["coefficient_value"], abs=tol)
        assert got["se"] == pytest.approx(exp["se"], abs=tol)
        assert got["observed_agreement"] == pytest.approx(exp["pa"], abs=tol)
        assert got["expected_agreement"] == pytest.approx(exp["pe"], abs=tol)
        assert [got["ci_low"], got["ci_high"]] == pytest.approx(exp["confidence_interval"], abs=tol)
    # AC1's p-value is two-sided in irrCAC too
    got = gwet_ac1(votes, categories=cats).iloc[0]
    assert got["p_value"] == pytest.approx(case["gwet_ac1"]["p_value"], rel=1e-6)


def test_gwet_handbook_value():
    got = gwet_ac1(_votes(REF["cases"]["raw_4raters"]), categories=REF["cases"]["raw_4raters"]["categories"])
    assert round(float(got["estimate"].iloc[0]), 4) == 0.7754  # Gwet (2014), Handbook, 4th ed.


def test_counts_and_long_agree_and_bp_equals_randolph():
    rng = np.random.default_rng(5)
    votes = pd.DataFrame(
        [(f"i{i}", f"r{r}", rng.choice(["a", "b", "c"], p=[0.7, 0.2, 0.1])) for i in range(30) for r in range(4)],
        columns=["item_id", "rater_id", "label"],
    )
    counts = to_count_table(votes)
    assert gwet_ac1_from_counts(counts).iloc[0]["estimate"] == pytest.approx(gwet_ac1(votes).iloc[0]["estimate"])
    bp = brennan_prediger_from_counts(counts).iloc[0]["estimate"]
    assert bp == pytest.approx(fleiss_kappa(counts, method="randolph").iloc[0]["kappa"])
    assert bp == pytest.approx(brennan_prediger(votes).iloc[0]["estimate"])


def test_kappa_paradox_warns_when_prevalence_is_skewed():
    # 100 items, 2 raters: 95 agree on "ok", 5 disagree; the rare label is never agreed on
    rows = []
    for i in range(100):
        a, b = ("ok", "ok") if i < 95 else ("bad", "ok") if i % 2 else ("ok", "bad")
        rows += [(i, "r1", a), (i, "r2", b)]
    votes = pd.DataFrame(rows, columns=["item_id", "rater_id", "label"])
    res = kappa_paradox(votes).iloc[0]
    assert res["paradox"]
    assert res["kappa"] < 0.1 and res["gwet_ac1"] > 0.9 and res["percent_agreement"] == pytest.approx(0.95)
    assert "AC1" in res["message"] and "95%" in res["message"]
    # balanced labels: no paradox
    rows = [(i, r, "a" if (i + (r == "r2" and i % 10 == 0)) % 2 else "b") for i in range(100) for r in ("r1", "r2")]
    res = kappa_paradox(pd.DataFrame(rows, columns=["item_id", "rater_id", "label"])).iloc[0]
    assert not res["paradox"] and res["message"] == ""


def test_errors_are_clear():
    with pytest.raises(EstimationError, match="at least two categories"):
        gwet_ac1_from_counts(np.array([[2], [2]]))
    with pytest.raises(EstimationError, match="no item was rated by two or more raters"):
        gwet_ac1_from_counts(np.array([[1, 0], [0, 1]]))
    with pytest.raises(ConfigError, match="alpha"):
        gwet_ac1_from_counts(np.array([[2, 0], [0, 2]]), alpha=2)
