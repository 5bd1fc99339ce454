"""The generated summary paragraph (report.summary.summary_text): every number from the statistics layer,
every rate written by report.format.rate_text with the level alpha gives."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

import modqa_lib
from modqa_lib.contract import schema as S
from modqa_lib.data import io
from modqa_lib.errors import ConfigError, DataContractError
from modqa_lib.report.summary import summary_text
from modqa_lib.stats import rca


def _weeks_frame(n=6000, seed=8):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            S.WEEK: rng.integers(1, 13, n),
            S.SHIFT: rng.choice(["day", "evening", "night"], n),
            S.POLICY: rng.choice(["p1", "p2"], n),
        }
    )
    late_night = (df[S.WEEK] >= 7) & (df[S.SHIFT] == "night")
    df[S.IS_ERROR] = rng.random(n) < np.where(late_night, 0.20, 0.04)
    df[S.ROOT_CAUSE] = np.where(df[S.IS_ERROR], np.where(late_night, "fatigue_attention", "misread_context"), None)
    return df


def test_summary_text_is_generated_from_the_functions():
    rng = np.random.default_rng(8)
    n = 6000
    df = pd.DataFrame(
        {
            S.WEEK: rng.integers(1, 13, n),
            S.SHIFT: rng.choice(["day", "evening", "night"], n),
            S.POLICY: rng.choice(["p1", "p2"], n),
        }
    )
    late_night = (df[S.WEEK] >= 7) & (df[S.SHIFT] == "night")
    df[S.IS_ERROR] = rng.random(n) < np.where(late_night, 0.20, 0.04)
    df[S.ROOT_CAUSE] = np.where(df[S.IS_ERROR], np.where(late_night, "fatigue_attention", "misread_context"), None)
    txt = summary_text(df, "Penang", dims=[S.SHIFT, S.POLICY], period_col=S.WEEK)
    dc = rca.decompose_change(df, (1, 6), (7, 12), period_col=S.WEEK, by=S.SHIFT, metric="accuracy")
    tot = dc[dc[rca.IS_TOTAL]].iloc[0]
    assert txt.startswith(f"The accuracy for Penang was {100 * (1 - df[S.IS_ERROR].mean()):.1f}%")
    assert f"fell {100 * abs(tot[rca.TOTAL_EFFECT]):.1f} pts" in txt
    assert f"pts (95% CI {100 * -tot[S.CI_HIGH]:.1f} to {100 * -tot[S.CI_LOW]:.1f})" in txt
    assert "shift night" in txt and "rate effect" in txt
    assert "Fatigue / attention" in txt
    assert "weeks 1–6" in txt and "weeks 7–12" in txt
    # each period's accuracy carries its Wilson interval and n (statsmodels)
    nb = int(tot[rca.N_BEFORE])
    lo, hi = proportion_confint(round(tot[rca.RATE_BEFORE] * nb), nb, method="wilson")
    assert (
        f"from {100 * tot[rca.RATE_BEFORE]:.1f}% (95% CI {100 * lo:.1f}%–{100 * hi:.1f}%; n = {nb:,}) in weeks 1–6"
        in txt
    )
    # no change: says so and attributes nothing
    flat = df.assign(**{S.IS_ERROR: rng.random(n) < 0.05})
    txt2 = summary_text(flat, "Lisbon", dims=[S.SHIFT, S.POLICY], period_col=S.WEEK)
    assert "did not change detectably" in txt2 and "No slice" in txt2


def test_summary_writes_the_level_alpha_gives_and_never_mutates():
    df = _weeks_frame()
    before = df.copy()
    txt = summary_text(df, "Penang", dims=[S.SHIFT, S.POLICY], period_col=S.WEEK, alpha=0.1)
    pd.testing.assert_frame_equal(df, before)
    assert "95%" not in txt and txt.count("90% CI") >= 4
    # every rate with an interval also has its n, in the one format
    rates = re.findall(r"\d+\.?\d*% \(90% CI [^)]*\)", txt)
    assert rates and all(re.fullmatch(r"\S+% \(90% CI \S+%–\S+%; n = [\d,]+( \w+){0,2}\)", r) for r in rates), rates


def test_summary_checks_its_arguments():
    df = _weeks_frame(n=500)
    with pytest.raises(ConfigError, match=r"^summary_text\(\): alpha must be a number strictly between 0 and 1"):
        summary_text(df, "unit", alpha=1.5)
    with pytest.raises(DataContractError, match=r"column 'site': required by summary_text\(\) but missing"):
        summary_text(df, "unit", dims=[S.SITE])


def test_summary_text_lives_in_report_and_stays_importable_from_the_root():
    assert modqa_lib.summary_text is summary_text
    assert modqa_lib.report.summary_text is summary_text
    assert not hasattr(rca, "summary_text")  # statistics do not write prose


def test_planted_summary_for_penang(demo60k):
    demo_audits = io.audited_decisions(demo60k.tables)
    txt = summary_text(demo_audits[demo_audits[S.SITE] == "Penang"], "Penang")
    assert "Largest excess: night (shift)" in txt and "root cause mostly Fatigue / attention" in txt
    assert "n = " in txt and "95% CI" in txt


def test_summary_text_weighted_opening_matches_scoring(demo60k):
    from modqa_lib.data import io
    from modqa_lib.stats.scoring import accuracy_table

    a = io.audited_decisions(demo60k.tables)
    a = a[a[S.VENDOR] == "Vendor B"]
    row = accuracy_table(a, weights=S.WEIGHT).iloc[0]
    txt = summary_text(a, "Vendor B", weights=S.WEIGHT)
    assert txt.startswith(
        f"The design-weighted accuracy for Vendor B was {100 * row[S.ACCURACY]:.1f}% "
        f"(95% CI {100 * row[S.CI_LOW]:.1f}%–{100 * row[S.CI_HIGH]:.1f}%; n = {len(a):,} audits)."
    )
    assert row[S.ACCURACY] != pytest.approx(1 - a[S.IS_ERROR].mean(), abs=1e-6), "weights must matter here"


def _vendor_b(demo60k) -> pd.DataFrame:
    a = io.audited_decisions(demo60k.tables)
    return a[a[S.VENDOR] == "Vendor B"]


def test_summary_change_is_the_weighted_difference(demo60k):
    """Issue #11 item 8: the summary opened with the weighted headline, then reported the unweighted
    fall (on this demo 3.8 pts; weighted 4.4). Now every period rate and the change are design-weighted."""
    a = _vendor_b(demo60k)
    weeks = sorted(a[S.WEEK].unique())
    first = a[S.WEEK].isin(weeks[:6]).to_numpy()
    acc = 1 - a[S.IS_ERROR].to_numpy(float)
    w = a[S.WEIGHT].to_numpy(float)
    r0, r1 = np.average(acc[first], weights=w[first]), np.average(acc[~first], weights=w[~first])
    unweighted = acc[first].mean() - acc[~first].mean()
    assert abs(round(100 * unweighted, 1) - round(100 * (r0 - r1), 1)) >= 0.3, "weights must matter here"
    txt = summary_text(a, "Vendor B", dims=[S.SITE, S.SHIFT, S.POLICY], weights=S.WEIGHT)
    assert f"Design-weighted accuracy fell {100 * (r0 - r1):.1f} pts" in txt, txt
    assert f"from {100 * r0:.1f}% (95% CI " in txt and f"to {100 * r1:.1f}% (95% CI " in txt
    # the intervals are the design-based ones of scoring.ratio_estimates, as in the headline
    from modqa_lib.stats.scoring import ratio_estimates

    est = ratio_estimates(a, 1.0 - a[S.IS_ERROR].to_numpy(float), weights=S.WEIGHT, mask=first).iloc[0]
    assert f"from {100 * r0:.1f}% (95% CI {100 * est[S.CI_LOW]:.1f}%–{100 * est[S.CI_HIGH]:.1f}%; n = " in txt
    # without weights, the unweighted figures, labelled as plain accuracy
    plain = summary_text(a, "Vendor B", dims=[S.SITE, S.SHIFT, S.POLICY])
    assert f"Accuracy fell {100 * unweighted:.1f} pts" in plain and "design-weighted" not in plain.lower()


def test_summary_names_the_planted_slice_on_the_demo(demo60k):
    """The planted fatigue slice is one shift at one site; the summary leads with it, not with its parent."""
    truth = demo60k.truth["fatigue"]
    a = _vendor_b(demo60k)
    dims = [S.SITE, S.SHIFT, S.POLICY, S.MARKET, S.CONTENT_TYPE, S.TENURE_BAND]
    for w in (S.WEIGHT, None):
        txt = summary_text(a, "Vendor B", dims=dims, weights=w)
        assert f"Largest excess: {truth['site']} × {truth['shift']} (site × shift), error rate" in txt, txt
        assert f"it holds the excess of {truth['shift']} (shift)" in txt


def test_summary_weighted_excess_matches_a_hand_computation(demo60k):
    """The "Largest excess" sentence with weights: Hájek rates of the slice and the rest, the excess in
    population units, the Wilson interval on Kish's effective n."""
    a = _vendor_b(demo60k)
    txt = summary_text(a, "Vendor B", dims=[S.SITE, S.SHIFT, S.POLICY], weights=S.WEIGHT)
    m = ((a[S.SITE] == "Penang") & (a[S.SHIFT] == "night")).to_numpy()
    y, w = a[S.IS_ERROR].to_numpy(float), a[S.WEIGHT].to_numpy(float)
    rate, rest = np.average(y[m], weights=w[m]), np.average(y[~m], weights=w[~m])
    n_eff = w[m].sum() ** 2 / (w[m] ** 2).sum()
    lo, hi = proportion_confint(rate * n_eff, n_eff, method="wilson")
    assert (
        f"Largest excess: Penang × night (site × shift), error rate {100 * rate:.1f}% "
        f"(95% CI {100 * lo:.1f}%–{100 * hi:.1f}%; n = {m.sum():,}) vs {100 * rest:.1f}% elsewhere "
        f"(n = {(~m).sum():,}), about {w[m].sum() * (rate - rest):,.0f} excess errors among all decisions "
        "(design-weighted)"
    ) in txt, txt
