"""One extreme design weight must not silently decide a headline (issue 12, extreme weights)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.data.io import load_targets
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
    ok = headline(_vendor_audits(), targets=load_targets())
    assert ok["weight_note"].iloc[0] == ""
    bad = headline(_vendor_audits(1e-9), targets=load_targets())
    assert bad[S.ACCURACY].iloc[0] < 0.01  # the number itself moves ...
    assert bad["max_weight_share"].iloc[0] > 0.99  # ... and the table shows why
    note = bad["weight_note"].iloc[0]
    assert "One audit carries 100% of the design weight" in note
    assert "inclusion_prob" in note


def test_weight_note_threshold():
    assert weight_note(100, 80.0, WEIGHT_DOMINANCE) == ""
    assert weight_note(100, 3.0, WEIGHT_DOMINANCE + 0.01) != ""
    assert weight_note(100, 3.0, float("nan")) == ""


def test_headline_figures_carry_the_warning_only_when_there_is_one():
    from modqa_lib.report.tables import headline_figures

    assert "warning" not in headline_figures(headline(_vendor_audits(), targets=load_targets()).iloc[0])
    bad = headline_figures(headline(_vendor_audits(1e-9), targets=load_targets()).iloc[0])
    assert bad["warning"].startswith("One audit carries 100%")


def test_no_dominance_warning_under_the_null_on_demo_samples():
    """Seeded simulation under the null (no planted extreme weight): the generator's own risk-weighted
    Poisson sampler never triggers the stratum-outlier warning, and per-vendor, per-site and per-policy weighted
    estimates are flagged as dominated in at most 5% of groups."""
    from modqa_lib.contract.cross_checks import weights_outside_stratum
    from modqa_lib.data.io import audited_decisions
    from modqa_lib.data.synthetic import generate

    flagged = groups = 0
    for seed in (11, 12, 13):
        d = generate(seed=seed, n_decisions=20_000)
        assert weights_outside_stratum(d.tables["audits"]) == []
        a = audited_decisions(d.tables, site_timezones={})
        for by in ([S.VENDOR], [S.VENDOR, S.SITE], [S.POLICY]):
            t = accuracy_table(a, by=by, weights=S.WEIGHT)
            flagged += int((t["max_weight_share"] > WEIGHT_DOMINANCE).sum())
            groups += len(t)
    assert groups >= 50 and flagged / groups <= 0.05
