"""One extreme design weight must not silently decide a headline (issue 12, extreme weights)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.report.tables import WEIGHT_DOMINANCE, headline, weight_note
from modqa_lib.stats.scoring import accuracy_table, ratio_estimates


def _vendor_audits(p_error: float = 0.25) -> pd.DataFrame:
    """12 audits of one vendor, 1 error (91.7% accuracy); the error's inclusion_prob is ``p_error``."""
    n = 12
    err = np.zeros(n, dtype=bool)
    err[5] = True
    p = np.full(n, 0.25)
    p[5] = p_error
    return pd.DataFrame(
        {
            S.VENDOR: "Vendor A",
            S.POLICY: "spam_scam",
            S.IS_ERROR: err,
            S.SEVERITY: np.where(err, "minor", None),
            S.STRATUM: "Vendor A|Manila",
            S.INCLUSION_PROB: p,
            S.WEIGHT: 1 / p,
        }
    )


def test_max_weight_share_and_kish_n_eff_on_equal_weights():
    a = _vendor_audits()
    t = accuracy_table(a, weights=S.WEIGHT)
    assert t[S.ACCURACY].iloc[0] == pytest.approx(11 / 12)
    assert t["max_weight_share"].iloc[0] == pytest.approx(1 / 12)
    r = ratio_estimates(a, (~a[S.IS_ERROR]).astype(float), None, weights=S.WEIGHT)
    assert r["max_weight_share"].iloc[0] == pytest.approx(1 / 12)
    assert "n_eff" in t


def test_one_extreme_weight_is_flagged_in_the_headline():
    """The issue's case: 91.7% becomes 0.0% from one inclusion_prob = 1e-9; the report must say so."""
    ok = headline(_vendor_audits(), targets=True)
    assert ok["weight_note"].iloc[0] == ""
    bad = headline(_vendor_audits(1e-9), targets=True)
    assert bad[S.ACCURACY].iloc[0] < 0.01  # the number itself moves ...
    assert bad["max_weight_share"].iloc[0] > 0.99  # ... and the table shows why
    note = bad["weight_note"].iloc[0]
    assert "One audit carries 100% of the design weight" in note
    assert "inclusion_prob" in note


def test_weight_note_threshold():
    assert weight_note(100, 80.0, WEIGHT_DOMINANCE) == ""
    assert weight_note(100, 3.0, WEIGHT_DOMINANCE + 0.01) != ""
    assert weight_note(100, 3.0, float("nan")) == ""
