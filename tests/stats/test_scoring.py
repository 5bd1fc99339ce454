"""modqa_lib.stats.scoring: intervals, the weighted estimator, targets, moderators, golden items.

Reference values live in tests/results/scoring_*.csv with their sources.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from modqa_lib.contract import schema as S
from modqa_lib.data import io
from modqa_lib.errors import ConfigError, DataContractError, EstimationError
from modqa_lib.stats import scoring
from modqa_lib.stats.scoring import (
    accuracy_table,
    error_mix,
    golden_accuracy,
    kpi_status,
    moderator_table,
    proportion_ci,
    ratio_estimates,
    resolve_targets,
    severity_table,
    target_status,
)

RESULTS = Path(__file__).parents[1] / "results"
TARGETS = {
    "accuracy": {"default": 0.95, "critical_policies": 0.99, "by_vendor": {}, "by_policy": {}},
    "critical_error_rate_max": 0.005,
}


# --------------------------------------------------------------------------- helpers
def audits_frame(groups: dict[str, tuple[int, int]], col: str = S.VENDOR, **const) -> pd.DataFrame:
    """One row per audit: ``groups`` maps a group value to (n, errors)."""
    rows = []
    for g, (n, e) in groups.items():
        for i in range(n):
            rows.append({col: g, S.IS_ERROR: i < e})
    df = pd.DataFrame(rows)
    for k, v in const.items():
        df[k] = v
    df[S.AUDIT_ID] = [f"AU{i:05d}" for i in range(len(df))]
    return df


# --------------------------------------------------------------------------- proportion_ci
@pytest.mark.parametrize(
    "method,sm",
    [("wilson", "wilson"), ("clopper-pearson", "beta"), ("agresti-coull", "agresti_coull"), ("jeffreys", "jeffreys")],
)
@pytest.mark.parametrize("k,n", [(0, 1), (0, 20), (20, 20), (1, 29), (81, 263), (15, 148), (999, 1000)])
def test_proportion_ci_equals_statsmodels(k, n, method, sm):
    lo, hi = proportion_ci(k, n, method=method)
    elo, ehi = proportion_confint(k, n, alpha=0.05, method=sm)
    if method == "jeffreys":  # Brown-Cai-DasGupta boundary modification
        elo, ehi = (0.0 if k == 0 else elo), (1.0 if k == n else ehi)
    assert lo == pytest.approx(max(elo, 0.0), abs=1e-12)
    assert hi == pytest.approx(min(ehi, 1.0), abs=1e-12)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_proportion_ci_vectorised_and_n_zero():
    k = np.array([0, 5, 10, 0])
    n = np.array([10, 10, 10, 0])
    lo, hi = proportion_ci(k, n, alpha=0.1)
    elo, ehi = proportion_confint(k[:3], n[:3], alpha=0.1, method="wilson")
    np.testing.assert_allclose(lo[:3], np.clip(elo, 0, 1), atol=1e-12)
    np.testing.assert_allclose(hi[:3], ehi, atol=1e-12)
    assert np.isnan(lo[3]) and np.isnan(hi[3])
    assert isinstance(proportion_ci(3, 10)[0], float)
    lo2, _ = proportion_ci(np.array([[1, 2], [3, 4]]), 10)
    assert lo2.shape == (2, 2)


def test_proportion_ci_newcombe_1998_table_1():
    ref = pd.read_csv(RESULTS / "scoring_newcombe1998.csv", comment="#")
    assert len(ref) == 8
    for r in ref.itertuples():
        lo, hi = proportion_ci(r.k, r.n, method=r.method)
        assert round(lo, 4) == pytest.approx(r.ci_low, abs=1e-9), r
        assert round(hi, 4) == pytest.approx(r.ci_high, abs=1e-9), r


def test_proportion_ci_bad_input_messages():
    with pytest.raises(EstimationError, match="exceed"):
        proportion_ci(11, 10)
    with pytest.raises(EstimationError, match="non-negative"):
        proportion_ci(-1, 10)
    with pytest.raises(EstimationError, match="unknown interval method 'wald'"):
        proportion_ci(1, 10, method="wald")
    with pytest.raises(ConfigError, match="alpha must be a number strictly between 0 and 1.*got 1.5"):
        proportion_ci(1, 10, alpha=1.5)


def test_doctests_run():
    modules = [
        importlib.import_module(m.name) for m in pkgutil.iter_modules(scoring.__path__, "modqa_lib.stats.scoring.")
    ]
    results = [doctest.testmod(m, verbose=False) for m in modules]
    assert sum(r.failed for r in results) == 0 and sum(r.attempted for r in results) >= 1


# --------------------------------------------------------------------------- unweighted accuracy
def test_accuracy_table_unweighted_counts_and_wilson():
    df = audits_frame({"Vendor A": (200, 10), "Vendor B": (50, 0), "Vendor C": (30, 30)})
    before = df.copy()
    t = accuracy_table(df, S.VENDOR)
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert list(t.columns[:6]) == [S.VENDOR, S.N, S.ERRORS, S.ACCURACY, S.CI_LOW, S.CI_HIGH]
    assert t[S.VENDOR].tolist() == ["Vendor A", "Vendor B", "Vendor C"]
    assert t[S.N].tolist() == [200, 50, 30]
    assert t[S.ERRORS].tolist() == [10, 0, 30]
    assert t[S.ACCURACY].tolist() == pytest.approx([0.95, 1.0, 0.0])
    lo, hi = proportion_confint(190, 200, method="wilson")
    assert t.loc[0, S.CI_LOW] == pytest.approx(lo) and t.loc[0, S.CI_HIGH] == pytest.approx(hi)
    # all-correct and all-wrong groups: valid, non-degenerate intervals inside [0, 1]
    b, c = t.iloc[1], t.iloc[2]
    assert 0.9 < b[S.CI_LOW] < 1.0 and b[S.CI_HIGH] == pytest.approx(1.0)
    assert c[S.CI_LOW] == pytest.approx(0.0, abs=1e-12) and 0.0 < c[S.CI_HIGH] < 0.15
    assert (t[S.CI_LOW] >= 0).all() and (t[S.CI_HIGH] <= 1).all()


def test_accuracy_table_overall_row_and_clopper_pearson():
    df = audits_frame({"x": (263, 263 - 81)})  # 81 correct of 263
    t = accuracy_table(df, None, method="clopper-pearson")
    assert len(t) == 1 and S.VENDOR not in t.columns
    assert t.loc[0, S.ACCURACY] == pytest.approx(81 / 263)
    assert round(t.loc[0, S.CI_LOW], 4) == 0.2527 and round(t.loc[0, S.CI_HIGH], 4) == 0.3676
    assert accuracy_table(df, []).equals(accuracy_table(df, None))


def test_accuracy_table_no_empty_or_nan_rows_for_unobserved_groups():
    df = audits_frame({"Vendor A": (10, 1), "Vendor B": (5, 0)})
    df[S.VENDOR] = pd.Categorical(df[S.VENDOR], categories=["Vendor A", "Vendor B", "Vendor Z"])
    t = accuracy_table(df, S.VENDOR)
    assert t[S.VENDOR].astype(str).tolist() == ["Vendor A", "Vendor B"]
    assert t[[S.ACCURACY, S.CI_LOW, S.CI_HIGH]].notna().all().all()


# --------------------------------------------------------------------------- weighted estimator
def test_weighted_equal_weights_one_stratum_reproduces_unweighted():
    df = audits_frame({"Vendor A": (300, 18), "Vendor B": (120, 2)}, **{S.WEIGHT: 7.0, S.STRATUM: "all"})
    u = accuracy_table(df, S.VENDOR)
    w = accuracy_table(df, S.VENDOR, weights=S.WEIGHT)
    assert (w["estimator"] == "hajek").all()
    np.testing.assert_allclose(w[S.ACCURACY], u[S.ACCURACY], rtol=0, atol=1e-12)
    np.testing.assert_allclose(w["accuracy_unweighted"], u[S.ACCURACY], atol=1e-12)
    assert w[S.ERRORS].tolist() == u[S.ERRORS].tolist()
    # Vendor A is a domain of the whole sample (n_h = 420): V = N/(N-1) sum z^2 with z = (y - p)/n
    n, p, N = 300, 282 / 300, 420
    assert w.loc[0, "se"] == pytest.approx(np.sqrt(N / (N - 1) * p * (1 - p) / n), rel=1e-10)
    assert w.loc[0, "weight_sum"] == pytest.approx(7.0 * 300)
    # intervals within 1% of the unweighted Wilson bounds
    np.testing.assert_allclose(w[S.CI_LOW], u[S.CI_LOW], rtol=0.01)
    np.testing.assert_allclose(w[S.CI_HIGH], u[S.CI_HIGH], rtol=0.01)
    # one group, one stratum: textbook se sqrt(p(1-p)/(n-1)), n_eff = n - 1
    one = accuracy_table(df[df[S.VENDOR] == "Vendor A"], None, weights=S.WEIGHT)
    assert one.loc[0, "se"] == pytest.approx(np.sqrt(p * (1 - p) / (n - 1)), rel=1e-10)
    assert one.loc[0, "n_eff"] == pytest.approx(n - 1, rel=1e-10)


@pytest.fixture
def hand_sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            S.STRATUM: ["A", "A", "A", "B", "B"],
            S.WEIGHT: [2.0, 2.0, 4.0, 1.0, 3.0],
            S.IS_ERROR: [False, True, False, False, False],
            "group": ["g1", "g1", "g2", "g1", "g2"],
        }
    )


def test_weighted_hand_computed_hajek_and_linearised_variance(hand_sample):
    ref = pd.read_csv(RESULTS / "scoring_hajek_hand.csv", comment="#").set_index("case")
    overall = accuracy_table(hand_sample, None, weights=S.WEIGHT)
    assert overall.loc[0, S.ACCURACY] == pytest.approx(ref.loc["overall", "estimate"], rel=1e-12)
    assert overall.loc[0, "se"] ** 2 == pytest.approx(ref.loc["overall", "variance"], rel=1e-12)
    by = accuracy_table(hand_sample, "group", weights=S.WEIGHT).set_index("group")
    for g in ("g1", "g2"):
        assert by.loc[g, S.ACCURACY] == pytest.approx(ref.loc[g, "estimate"], rel=1e-12)
        assert by.loc[g, "se"] ** 2 == pytest.approx(ref.loc[g, "variance"], abs=1e-12)
    # Korn-Graubard interval by hand: n_eff = p(1-p)/V, df-adjusted with df = n - H = 3
    p, V, n = 5 / 6, 11 / 324, 5
    n_eff = p * (1 - p) / V * (stats.t.isf(0.025, n - 1) / stats.t.isf(0.025, n - 2)) ** 2
    lo, hi = proportion_confint(p * n_eff, n_eff, method="wilson")
    assert overall.loc[0, "n_eff"] == pytest.approx(n_eff, rel=1e-10)
    assert overall.loc[0, S.CI_LOW] == pytest.approx(lo, rel=1e-10)
    assert overall.loc[0, S.CI_HIGH] == pytest.approx(hi, rel=1e-10)
    assert overall.loc[0, "deff"] == pytest.approx(V / (p * (1 - p) / n), rel=1e-10)
    # g2 is all correct: variance 0, interval falls back to Kish's n_eff = (4+3)^2/(16+9) and stays valid
    g2 = by.loc["g2"]
    kish = 49 / 25 * (stats.t.isf(0.025, 1) / stats.t.isf(0.025, 1)) ** 2
    assert g2["n_eff"] == pytest.approx(kish)
    elo, _ehi = proportion_confint(kish, kish, method="wilson")
    assert g2[S.CI_LOW] == pytest.approx(elo) and g2[S.CI_HIGH] == pytest.approx(1.0)
    assert 0 < g2[S.CI_LOW] < 1


def test_weighted_all_correct_and_all_wrong_groups_keep_valid_intervals():
    df = audits_frame({"ok": (40, 0), "bad": (15, 15), "mid": (60, 6)}, col="group")
    df[S.WEIGHT] = np.where(np.arange(len(df)) % 3 == 0, 10.0, 2.0)
    df[S.STRATUM] = np.where(np.arange(len(df)) % 2 == 0, "s1", "s2")
    t = accuracy_table(df, "group", weights=S.WEIGHT).set_index("group")
    assert t.loc["ok", S.ACCURACY] == 1.0 and t.loc["bad", S.ACCURACY] == 0.0
    assert 0.8 < t.loc["ok", S.CI_LOW] < 1.0 and t.loc["ok", S.CI_HIGH] == pytest.approx(1.0)
    assert t.loc["bad", S.CI_LOW] == pytest.approx(0.0, abs=1e-12) and 0 < t.loc["bad", S.CI_HIGH] < 0.4
    assert t[[S.CI_LOW, S.CI_HIGH]].notna().all().all()
    assert (
        (t[S.CI_LOW] >= 0) & (t[S.CI_HIGH] <= 1) & (t[S.CI_LOW] <= t[S.ACCURACY]) & (t[S.ACCURACY] <= t[S.CI_HIGH])
    ).all()


def test_weighted_interval_covers_population_accuracy_under_poisson_sampling():
    """400 Poisson samples with unequal inclusion probabilities, estimated in one call."""
    rng = np.random.default_rng(20261125)
    seg = np.repeat([0, 1, 2, 3], [3000, 5000, 2000, 10000])  # risky / normal in two strata
    pi = np.array([0.06, 0.01, 0.04, 0.008])[seg]
    correct = rng.random(len(seg)) < np.array([0.80, 0.97, 0.85, 0.98])[seg]
    stratum = np.array(["S1", "S1", "S2", "S2"])[seg]
    p_true = correct.mean()
    reps = 400
    rep, idx = np.nonzero(rng.random((reps, len(seg))) < pi)
    # each replicate is its own design: its strata are "rep|stratum"
    df = pd.DataFrame(
        {
            "rep": rep,
            S.IS_ERROR: ~correct[idx],
            S.WEIGHT: 1 / pi[idx],
            S.STRATUM: pd.Series(rep).astype(str).to_numpy() + "|" + stratum[idx],
        }
    )
    w = accuracy_table(df, "rep", weights=S.WEIGHT)
    u = accuracy_table(df, "rep")
    assert len(w) == reps
    cover_w = ((w[S.CI_LOW] <= p_true) & (p_true <= w[S.CI_HIGH])).mean()
    cover_u = ((u[S.CI_LOW] <= p_true) & (p_true <= u[S.CI_HIGH])).mean()
    assert 0.92 <= cover_w <= 0.98, cover_w
    assert abs(w[S.ACCURACY].mean() - p_true) < 0.003  # Hajek: ~unbiased
    assert u[S.ACCURACY].mean() < p_true - 0.05  # unweighted: biased down
    assert cover_u < 0.2
    # the linearised se matches the spread of the estimates
    assert w["se"].mean() == pytest.approx(w[S.ACCURACY].std(), rel=0.1)


def test_ratio_estimates_domain_mask_and_empty_denominator(hand_sample):
    y = (~hand_sample[S.IS_ERROR]).astype(float).to_numpy()
    r = ratio_estimates(hand_sample, y, None, weights=S.WEIGHT, mask=(hand_sample["group"] == "g1").to_numpy())
    assert r.loc[0, "estimate"] == pytest.approx(0.6)
    assert r.loc[0, "se"] ** 2 == pytest.approx(0.128)
    empty = ratio_estimates(hand_sample, y, np.zeros(5), by="group")
    assert len(empty) == 0


# --------------------------------------------------------------------------- errors
def test_bad_weights_messages():
    df = audits_frame({"Vendor A": (5, 1)}, **{S.STRATUM: "s"})
    for bad, what in ((np.nan, "missing"), (0.0, "zero"), (-2.0, "negative"), (np.inf, "infinite")):
        d = df.assign(**{S.WEIGHT: [1.0, 2.0, bad, 1.0, 1.0]})
        with pytest.raises(EstimationError, match=rf"weights column 'weight': 1 audit\(s\) have a .*{what}") as ei:
            accuracy_table(d, S.VENDOR, weights=S.WEIGHT)
        assert "AU00002" in str(ei.value) and "1 / inclusion_prob" in str(ei.value)
    with pytest.raises(EstimationError, match="weights column 'weight' not found; pass weights=None"):
        accuracy_table(df, S.VENDOR, weights=S.WEIGHT)
    with pytest.raises(EstimationError, match="must be numeric"):
        accuracy_table(df.assign(**{S.WEIGHT: "heavy"}), S.VENDOR, weights=S.WEIGHT)
    with pytest.raises(EstimationError, match="strata column 'stratum' not found; pass strata=None"):
        accuracy_table(df.drop(columns=S.STRATUM).assign(**{S.WEIGHT: 2.0}), S.VENDOR, weights=S.WEIGHT)


def test_empty_and_malformed_input_messages():
    df = audits_frame({"Vendor A": (5, 1)})
    with pytest.raises(EstimationError, match="no audits to score: the frame is empty"):
        accuracy_table(df.iloc[0:0], S.VENDOR)
    with pytest.raises(
        DataContractError, match=r"column 'site': required by accuracy_table\(\) but missing.*audited_decisions"
    ):
        accuracy_table(df, S.SITE)
    with pytest.raises(EstimationError, match="'is_error' has 1 missing"):
        accuracy_table(df.assign(**{S.IS_ERROR: [True, False, None, False, False]}), S.VENDOR)
    with pytest.raises(EstimationError, match="unknown interval method"):
        accuracy_table(df, S.VENDOR, method="exact")


# --------------------------------------------------------------------------- targets
def test_target_status_hand_cases():
    st = target_status([0.96, 0.95, 0.94, 0.90], [0.93, 0.92, 0.90, 0.85], [0.98, 0.97, 0.97, 0.93], 0.95)
    assert st.tolist() == ["met", "met", "at risk", "missed"]
    ceil = target_status([0.004, 0.006, 0.02], [0.001, 0.002, 0.01], [0.01, 0.012, 0.03], 0.005, higher_is_better=False)
    assert ceil.tolist() == ["met", "at risk", "missed"]


def test_accuracy_table_targets_status_gap_and_test():
    df = audits_frame({"Vendor A": (100, 2), "Vendor B": (100, 7), "Vendor C": (200, 30)}, **{S.POLICY: "spam_scam"})
    df[S.POLICY] = np.where(df[S.VENDOR] == "Vendor A", "hate_speech", "spam_scam")
    df.loc[df.index[-1], S.POLICY] = "hate_speech"  # Vendor C spans two policies
    t = accuracy_table(df, S.VENDOR, targets=TARGETS).set_index(S.VENDOR)
    assert t["status"].tolist() == ["met", "at risk", "missed"]
    assert t["target"].tolist() == [0.95, 0.95, 0.95]
    assert t["gap"].tolist() == pytest.approx([0.03, -0.02, -0.10])
    assert t.loc["Vendor C", S.CI_HIGH] < 0.95 < t.loc["Vendor B", S.CI_HIGH]
    # p_value: one-sided score test of accuracy >= target, as statsmodels computes it
    _, p = proportions_ztest(93, 100, value=0.95, alternative="smaller", prop_var=0.95)
    assert t.loc["Vendor B", S.P_VALUE] == pytest.approx(p)
    np.testing.assert_allclose(t[S.Q_VALUE], multipletests(t[S.P_VALUE], method="fdr_bh")[1])
    # Wilson inverts the score test: missed <=> p < alpha/2
    assert ((t["status"] == "missed") == (t[S.P_VALUE] < 0.025)).all()


def test_resolve_targets_most_specific_rule():
    tg = {
        "accuracy": {
            "default": 0.95,
            "critical_policies": 0.99,
            "by_vendor": {"Vendor A": 0.96},
            "by_policy": {"spam_scam": 0.97},
        }
    }
    df = pd.DataFrame(
        {
            S.VENDOR: ["Vendor A", "Vendor A", "Vendor A", "Vendor B", "Vendor B", "Vendor B"],
            S.POLICY: ["child_safety", "spam_scam", "hate_speech", "child_safety", "hate_speech", "harassment"],
            S.IS_ERROR: False,
        }
    )
    r = resolve_targets(df, [S.VENDOR, S.POLICY], tg).set_index([S.VENDOR, S.POLICY])
    assert r.loc[("Vendor A", "child_safety"), "target"] == 0.99
    assert r.loc[("Vendor A", "child_safety"), "target_source"] == "critical_policy"
    assert r.loc[("Vendor A", "spam_scam"), "target"] == 0.97
    assert r.loc[("Vendor A", "hate_speech"), ["target", "target_source"]].tolist() == [0.96, "vendor"]
    assert r.loc[("Vendor B", "hate_speech"), ["target", "target_source"]].tolist() == [0.95, "default"]
    # a group spanning several policies gets its vendor / the default target
    v = resolve_targets(df, S.VENDOR, tg).set_index(S.VENDOR)
    assert v["target"].tolist() == [0.96, 0.95]
    assert v["target_source"].tolist() == ["vendor", "default"]
    # the file is read by data.io.load_targets, never by the statistics
    assert resolve_targets(df, None, io.load_targets())["target"].iloc[0] == pytest.approx(0.95)
    with pytest.raises(EstimationError, match="'accuracy' section with a 'default'"):
        resolve_targets(df, None, {"model": {}})
    with pytest.raises(EstimationError, match="not a number in"):
        resolve_targets(df, None, {"default": 95})


# --------------------------------------------------------------------------- severity and mix
@pytest.fixture
def typed_errors() -> pd.DataFrame:
    rows = (
        [("Vendor A", True, "false_negative", "critical")] * 2
        + [("Vendor A", True, "false_positive", "major")] * 3
        + [("Vendor A", True, "wrong_policy", "minor")] * 5
        + [("Vendor A", False, None, None)] * 90
        + [("Vendor B", True, "false_positive", "minor")] * 4
        + [("Vendor B", False, None, None)] * 46
        + [("Vendor C", False, None, None)] * 10
    )
    return pd.DataFrame(rows, columns=[S.VENDOR, S.IS_ERROR, S.ERROR_TYPE, S.SEVERITY])


def test_severity_table_score_and_critical_rate(typed_errors):
    t = severity_table(typed_errors, S.VENDOR, targets=TARGETS).set_index(S.VENDOR)
    a = t.loc["Vendor A"]
    assert [a["critical"], a["major"], a["minor"], a[S.ERRORS]] == [2, 3, 5, 10]
    assert a["severity_score"] == pytest.approx(1 - (2 * 5 + 3 * 2 + 5 * 1) / (100 * 5))
    assert a["critical_rate"] == pytest.approx(0.02)
    lo, hi = proportion_confint(2, 100, method="wilson")
    assert (a["critical_ci_low"], a["critical_ci_high"]) == pytest.approx((lo, hi))
    assert a["score_ci_low"] < a["severity_score"] < a["score_ci_high"]
    assert a["critical_ci_low"] > 0.005  # whole interval above the ceiling
    assert t["critical_status"].tolist() == ["missed", "met", "met"]
    one = severity_table(typed_errors.iloc[1:], S.VENDOR, targets=TARGETS)  # 1 critical in 99
    assert one.loc[0, "critical_status"] == "at risk"
    assert t.loc["Vendor C", "severity_score"] == 1.0 and t.loc["Vendor C", "score_ci_low"] < 1.0
    custom = severity_table(typed_errors, S.VENDOR, severity_weights={"critical": 1, "major": 1, "minor": 1})
    assert custom.loc[0, "severity_score"] == pytest.approx(0.90)  # = accuracy when all weights equal
    with pytest.raises(EstimationError, match="severity_weights"):
        severity_table(typed_errors, S.VENDOR, severity_weights={"critical": -1})


def test_error_mix_shares_and_intervals(typed_errors):
    m = error_mix(typed_errors, S.VENDOR)
    a = m[m[S.VENDOR] == "Vendor A"].set_index(S.ERROR_TYPE)
    assert a["count"].to_dict() == {"wrong_policy": 5, "false_positive": 3, "false_negative": 2}
    assert a["share"].sum() == pytest.approx(1.0)
    assert (a[S.ERRORS] == 10).all() and (a[S.N] == 100).all()
    lo, hi = proportion_confint(5, 10, method="wilson")
    assert (a.loc["wrong_policy", S.CI_LOW], a.loc["wrong_policy", S.CI_HIGH]) == pytest.approx((lo, hi))
    assert a.loc["false_negative", "rate"] == pytest.approx(0.02)
    assert a["cum_share"].iloc[-1] == pytest.approx(1.0)
    b = m[m[S.VENDOR] == "Vendor B"].set_index(S.ERROR_TYPE)
    assert b.loc["false_negative", "count"] == 0 and b.loc["false_positive", "share"] == 1.0
    assert "Vendor C" not in set(m[S.VENDOR])  # no errors, no mix
    g = error_mix(typed_errors, S.VENDOR, method="goodman")
    ga = g[g[S.VENDOR] == "Vendor A"]
    assert (ga[S.CI_HIGH] - ga[S.CI_LOW]).min() > (a[S.CI_HIGH] - a[S.CI_LOW]).min()  # simultaneous: wider
    sev = error_mix(typed_errors, None, of=S.SEVERITY)
    assert sev.set_index(S.SEVERITY)["count"].to_dict() == {"minor": 9, "major": 3, "critical": 2}


# --------------------------------------------------------------------------- moderators
@pytest.fixture
def moderators() -> pd.DataFrame:
    errs = [1, 2, 3, 5, 8, 10, 12, 15, 20]  # overdispersed: moderators truly differ
    rows = []
    for j, e in enumerate(errs):
        rows += [("Penang", f"M{j:02d}", i < e) for i in range(100)]
    rows += [("Penang", "NEW", False)] * 3  # 3 audits, no error
    rows += [("Cebu", f"C{j:02d}", i < 3) for j in range(4) for i in range(60)]
    df = pd.DataFrame(rows, columns=[S.SITE, S.MODERATOR_ID, S.IS_ERROR])
    df[S.VENDOR] = np.where(df[S.SITE] == "Penang", "Vendor B", "Vendor A")
    return df


def test_moderator_shrinkage_keeps_small_samples_off_the_top(moderators):
    t = moderator_table(moderators, min_n=10)
    pen = t[t[S.SITE] == "Penang"].set_index(S.MODERATOR_ID)
    new = pen.loc["NEW"]
    assert new[S.ACCURACY] == 1.0 and pen[S.ACCURACY].idxmax() == "NEW"  # raw: would be first
    assert new["rank"] > 1 and new["rank"] < len(pen)  # shrunk: not top, not bottom
    assert pen.sort_values("rank").index[0] == "M00"
    assert pen.loc["NEW", "shrunk_accuracy"] < pen.loc["M00", "shrunk_accuracy"]
    assert new["shrunk_accuracy"] == pytest.approx(
        (3 + new["prior_mean"] * new["prior_strength"]) / (3 + new["prior_strength"])
    )
    assert not new["tested"] and np.isnan(new[S.P_VALUE]) and not new["flag"]
    assert pen.loc["M08", "flag"] and not pen.loc["M00", "flag"]
    assert t.columns[:3].tolist() == [S.SITE, S.VENDOR, S.MODERATOR_ID]
    # Cebu moderators are identical: no overdispersion, near-complete pooling
    ceb = t[t[S.SITE] == "Cebu"]
    assert ceb["prior_strength"].iloc[0] == pytest.approx(240)
    assert ceb["shrunk_accuracy"].nunique() == 1 and not ceb["flag"].any()


def test_moderator_fisher_and_bh_match_scipy_and_statsmodels(moderators):
    t = moderator_table(moderators, min_n=10)
    tested = t[t["tested"]]
    for r in tested.itertuples():
        site = t[t[S.SITE] == r.site]
        rest_n = site[S.N].sum() - r.n
        rest_e = site[S.ERRORS].sum() - r.errors
        _, p = stats.fisher_exact([[r.errors, r.n - r.errors], [rest_e, rest_n - rest_e]], alternative="greater")
        assert r.p_value == pytest.approx(p, rel=1e-9, abs=1e-15)
    np.testing.assert_allclose(tested[S.Q_VALUE], multipletests(tested[S.P_VALUE], method="fdr_bh")[1])
    assert t.loc[~t["tested"], S.Q_VALUE].isna().all()


def test_moderator_prior_method_of_moments_recovers_beta_binomial():
    rng = np.random.default_rng(3)
    a, b = 45.0, 5.0  # mean 0.9, strength a + b = 50
    acc = rng.beta(a, b, 400)
    err = rng.binomial(60, 1 - acc)
    rows = pd.DataFrame(
        {
            S.MODERATOR_ID: np.repeat([f"M{i}" for i in range(400)], 60),
            S.IS_ERROR: np.concatenate([np.arange(60) < e for e in err]),
            S.SITE: "X",
        }
    )
    t = moderator_table(rows)
    assert t["prior_mean"].iloc[0] == pytest.approx(0.9, abs=0.01)
    assert t["prior_strength"].iloc[0] == pytest.approx(50, rel=0.3)
    glob = moderator_table(rows, by_site=None, prior="global")
    assert glob["prior_strength"].iloc[0] == pytest.approx(t["prior_strength"].iloc[0])
    with pytest.raises(EstimationError, match="prior must be"):
        moderator_table(rows, prior="vendor")


# --------------------------------------------------------------------------- golden items
def test_golden_accuracy_hand_example():
    golden = pd.DataFrame({S.ITEM_ID: ["G1", "G2", "G3"], S.GOLD_LABEL: ["hate_speech", "no_violation", "spam_scam"]})
    au = pd.DataFrame(
        {
            S.DECISION_ID: ["G1", "G2", "G3"] * 4 + ["D9"],
            S.AUDITOR_ID: ["QA-01"] * 3 + ["QA-02"] * 3 + ["QA-03"] * 6 + ["QA-01"],
            S.QA_LABEL: [
                "hate_speech",
                "no_violation",
                "spam_scam",
                "hate_speech",
                "hate_speech",
                "spam_scam",
                "no_violation",
                "no_violation",
                "no_violation",
                "harassment",
                "hate_speech",
                "spam_scam",
                "spam_scam",
            ],
            S.IS_GOLDEN: [True] * 12 + [False],
        }
    )
    t = golden_accuracy(au, golden, min_n=3).set_index(S.AUDITOR_ID)
    assert t[S.N].tolist() == [3, 3, 6]
    assert t[S.ERRORS].tolist() == [0, 1, 4]
    lo, hi = proportion_confint(2, 6, method="wilson")
    assert (t.loc["QA-03", S.CI_LOW], t.loc["QA-03", S.CI_HIGH]) == pytest.approx((lo, hi))
    _, p = stats.fisher_exact([[4, 2], [1, 5]], alternative="greater")
    assert t.loc["QA-03", S.P_VALUE] == pytest.approx(p)
    with pytest.raises(EstimationError, match=r"1 golden audit\(s\) refer to items missing"):
        golden_accuracy(au.assign(**{S.IS_GOLDEN: True}), golden)
    with pytest.raises(EstimationError, match="no golden audits"):
        golden_accuracy(au[~au[S.IS_GOLDEN]], golden)


# --------------------------------------------------------------------------- planted truths
@pytest.fixture(scope="module")
def demo(demo60k):
    return demo60k


@pytest.fixture(scope="module")
def audited(audited60k):
    return audited60k


def test_planted_fatigue_penang_night_is_missed_and_lowest(demo, audited):
    truth = demo.truth["fatigue"]
    human = audited[audited[S.SITE] != "model"]
    t = accuracy_table(human, [S.VENDOR, S.SITE, S.SHIFT], weights=S.WEIGHT, targets=io.load_targets())
    key = (t[S.VENDOR] == truth["vendor"]) & (t[S.SITE] == truth["site"]) & (t[S.SHIFT] == truth["shift"])
    row = t[key].iloc[0]
    assert row["status"] == "missed" and row[S.CI_HIGH] < 0.95
    assert t[S.ACCURACY].idxmin() == t[key].index[0]
    assert row[S.Q_VALUE] < 0.05
    # within its own site and vendor, the night shift is the worst
    site = t[(t[S.VENDOR] == truth["vendor"]) & (t[S.SITE] == truth["site"])]
    assert site.loc[site[S.ACCURACY].idxmin(), S.SHIFT] == truth["shift"]
    # the unweighted view agrees
    u = accuracy_table(human, [S.SITE, S.SHIFT], targets=io.load_targets())
    lowest = u.loc[u[S.ACCURACY].idxmin()]
    assert (lowest[S.SITE], lowest[S.SHIFT]) == (truth["site"], truth["shift"])


def test_planted_weak_golden_auditor(demo):

    ag = io.audited_decisions(demo.tables, include_golden=True)
    t = golden_accuracy(ag, demo.tables["golden"])
    worst = t.loc[t[S.ACCURACY].idxmin()]
    assert worst[S.AUDITOR_ID] == demo.truth["calibration"]["worst_golden_auditor"]
    assert worst["flag"] and t["flag"].sum() == 1


def test_kpi_status_on_demo(audited):
    k = kpi_status(audited, S.VENDOR, weights=S.WEIGHT, targets=io.load_targets())
    assert set(k["kpi_status"]) <= {"met", "at risk", "missed"}
    order = {"met": 0, "at risk": 1, "missed": 2}
    assert (k["kpi_status"].map(order) >= k["status"].map(order)).all()
    assert (k["kpi_status"].map(order) >= k["critical_status"].map(order)).all()


def test_statistics_take_targets_as_data_and_never_read_the_file(monkeypatch):
    """targets=True used to make scoring and model_eval read params/targets.yaml; now it is an error."""

    def no_file_reads(*args, **kwargs):
        raise AssertionError("a statistic read a file")

    monkeypatch.setattr(io, "load_targets", no_file_reads)
    monkeypatch.setattr(io, "load_yaml", no_file_reads)
    df = audits_frame({"Vendor A": (50, 2), "Vendor B": (40, 5)})
    msg = r"targets=True would read params/targets.yaml; pass the KPI targets as data: targets=scope.targets"
    with pytest.raises(ConfigError, match=r"^accuracy_table\(\): " + msg):
        accuracy_table(df, S.VENDOR, targets=True)
    with pytest.raises(ConfigError, match=r"^kpi_status\(\): got targets=None; pass the KPI targets as data"):
        kpi_status(df, S.VENDOR)
    with pytest.raises(ConfigError, match=r"^resolve_targets\(\): got targets=None"):
        resolve_targets(df, S.VENDOR)
    with pytest.raises(ConfigError, match=r"^severity_table\(\): " + msg):
        severity_table(df.assign(**{S.SEVERITY: None}), S.VENDOR, targets=True)
    # as data they work, with the same figures as before
    t = accuracy_table(df, S.VENDOR, targets=TARGETS)
    assert t["target"].notna().all()


def _shift_mix_report(seed: int) -> pd.DataFrame:
    """One site, no moderator effect: night 10% errors, day 3%; 6 of 24 moderators work only nights."""
    rng = np.random.default_rng([seed, 1104])
    rows = []
    for j in range(24):
        n = int(rng.integers(30, 70))
        night = np.ones(n, bool) if j < 6 else rng.random(n) < 0.15
        policy = rng.choice(["hate", "spam"], n, p=[0.3, 0.7])
        rate = np.where(night, 0.10, 0.03) * np.where(policy == "hate", 1.5, 1.0)
        rows.append(
            pd.DataFrame(
                {
                    S.SITE: "Penang",
                    S.MODERATOR_ID: f"M{j:02d}",
                    S.SHIFT: np.where(night, "night", "day"),
                    S.POLICY: policy,
                    S.IS_ERROR: rng.random(n) < rate,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_moderators_are_not_flagged_for_working_a_bad_shift():
    """No moderator effect; 6 of 24 moderators work only the bad night shift. Share of 150 seeded
    reports with any flag: before (Fisher against the rest of the site) 36.7%; after (exact
    conditional test within site × shift × policy cells) 5.3% (alpha 5%, binomial SE 1.8 pts)."""
    reps = 150
    before = after = 0
    for seed in range(reps):
        df = _shift_mix_report(seed)
        before += bool(moderator_table(df, adjust_for=None)["flag"].any())
        after += bool(moderator_table(df)["flag"].any())
    print(before / reps, after / reps)
    assert before / reps > 0.2
    assert after / reps <= 0.07  # alpha + 1 binomial SE at 150 reports


def test_moderator_expected_errors_by_hand():
    df = pd.DataFrame(
        {
            S.SITE: "X",
            S.MODERATOR_ID: ["a"] * 4 + ["b"] * 4 + ["c"] * 2,
            S.SHIFT: ["night"] * 4 + ["day"] * 2 + ["night"] * 2 + ["day"] * 2,
            S.IS_ERROR: [1, 1, 0, 0, 0, 0, 1, 0, 0, 1],
        }
    ).astype({S.IS_ERROR: bool})
    t = moderator_table(df, min_n=1, adjust_for=[S.SHIFT]).set_index(S.MODERATOR_ID)
    # expected: Σ n_mc K_c / N_c; night cell N 6, K 3; day cell N 4, K 1
    exp = {"a": 4 * 3 / 6, "b": 2 * 1 / 4 + 2 * 3 / 6, "c": 2 * 1 / 4}
    assert t["expected_errors"].to_dict() == pytest.approx(exp)
    # a: one stratum, so Fisher's one-sided test against b's night audits
    assert t.loc["a", S.P_VALUE] == pytest.approx(stats.fisher_exact([[2, 2], [1, 1]], alternative="greater")[1])
    # b: 0 of 2 days + 1 of 2 nights: P(H_day + H_night >= 1)
    p0 = stats.hypergeom.pmf(0, 4, 1, 2) * stats.hypergeom.pmf(0, 6, 3, 2)
    assert t.loc["b", S.P_VALUE] == pytest.approx(1 - p0)


def test_moderator_table_weighted_accuracy_matches_a_hand_computation():
    """Issue #11 item 8: with weights the moderator's accuracy is the Hájek estimate over all their
    decisions (risky ones oversampled), with the design-based interval of ratio_estimates; the
    shrinkage and the test stay on counts and are labelled so (``estimator``)."""
    rng = np.random.default_rng(118)
    n = 1200
    risky = rng.random(n) < 0.3
    df = pd.DataFrame(
        {
            S.SITE: rng.choice(["X", "Y"], n),
            S.MODERATOR_ID: rng.choice([f"m{i}" for i in range(8)], n),
            S.SHIFT: rng.choice(["day", "night"], n),
            S.IS_ERROR: rng.random(n) < np.where(risky, 0.15, 0.03),
            S.STRATUM: np.where(risky, "risky", "rest"),
            S.WEIGHT: np.where(risky, 2.0, 12.0),
        }
    )
    before = df.copy()
    un = moderator_table(df)
    wt = moderator_table(df, weights=S.WEIGHT)
    pd.testing.assert_frame_equal(df, before)
    assert (un["estimator"] == "unweighted").all() and (wt["estimator"] == "hajek").all()
    for _, r in wt.iterrows():
        g = df[(df[S.SITE] == r[S.SITE]) & (df[S.MODERATOR_ID] == r[S.MODERATOR_ID])]
        acc = np.average(1 - g[S.IS_ERROR], weights=g[S.WEIGHT])
        assert r[S.ACCURACY] == pytest.approx(acc, rel=1e-12)
        assert r["accuracy_unweighted"] == pytest.approx(1 - g[S.IS_ERROR].mean(), rel=1e-12)
        assert r[S.CI_LOW] < acc < r[S.CI_HIGH]
    ref = scoring.ratio_estimates(
        df, 1.0 - df[S.IS_ERROR].to_numpy(float), by=[S.SITE, S.MODERATOR_ID], weights=S.WEIGHT
    )
    got = wt.set_index([S.SITE, S.MODERATOR_ID])
    ref = ref.set_index([S.SITE, S.MODERATOR_ID]).loc[got.index]
    np.testing.assert_allclose(got[S.CI_LOW], ref[S.CI_LOW], rtol=1e-12)
    np.testing.assert_allclose(got["n_eff"], ref["n_eff"], rtol=1e-12)
    assert (wt[S.ACCURACY] != wt["accuracy_unweighted"]).any(), "weights must matter here"
    # everything that rests on counts is unchanged
    same = ["shrunk_accuracy", "peer_accuracy", "expected_errors", S.P_VALUE, S.Q_VALUE, "flag", "rank"]
    pd.testing.assert_frame_equal(wt[same], un[same])
    with pytest.raises(EstimationError, match="weights column 'nope' not found"):
        moderator_table(df, weights="nope")
