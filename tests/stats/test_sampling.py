"""modqa_lib.stats.sampling: sizes, allocation, stratified and risk-weighted draws, worklists, plans,
weekly sample, CLI.

Reference values for sample sizes live in ``tests/results/sampling_cochran.csv``
with their published source. Unbiasedness is checked by simulation against a
population whose truth is known.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, DataContractError, InputFileError, SamplingError
from modqa_lib.stats import sampling as sm

RESULTS = Path(__file__).parents[1] / "results"
Z = NormalDist().inv_cdf  # stdlib quantiles: independent of scipy


# ----------------------------------------------------------------- fixtures
def make_population(sizes: dict[tuple[str, str], int], seed: int = 0, error_rates=None) -> pd.DataFrame:
    """Decisions with VENDOR x POLICY strata of the given sizes (+ SITE, moderator, risk columns)."""
    rng = np.random.default_rng(seed)
    frames = []
    for (vendor, policy), n in sizes.items():
        frames.append(pd.DataFrame({S.VENDOR: [vendor] * n, S.POLICY: [policy] * n}))
    df = pd.concat(frames, ignore_index=True)
    n = len(df)
    df.insert(0, S.DECISION_ID, [f"d{i:06d}" for i in range(n)])
    df[S.SITE] = rng.choice(["Manila", "Kuala Lumpur", "Lisbon"], n)
    df[S.MODERATOR_ID] = rng.choice([f"m{i}" for i in range(20)], n)
    df[S.MODEL_SCORE] = rng.random(n)
    df[S.MODERATOR_TENURE_DAYS] = rng.integers(0, 400, n)
    df[S.CONTENT_TYPE] = rng.choice(["video", "livestream", "comment"], n, p=[0.5, 0.2, 0.3])
    if error_rates is not None:
        p = df[[S.VENDOR, S.POLICY]].apply(tuple, axis=1).map(error_rates).to_numpy(float)
        df[S.IS_ERROR] = rng.random(n) < p
    return df


@pytest.fixture
def pop():
    return make_population(
        {
            ("A", "hate_speech"): 600,
            ("A", "child_safety"): 300,
            ("B", "hate_speech"): 200,
            ("B", "child_safety"): 50,
            ("C", "hate_speech"): 3,
        }
    )


# ============================================================= sample sizes
COCHRAN = pd.read_csv(RESULTS / "sampling_cochran.csv")


@pytest.mark.parametrize(
    "row",
    COCHRAN.to_dict("records"),
    ids=[f"{r.source.split()[0]}-N{r.population}-{r.rounding}" for r in COCHRAN.itertuples()],
)
def test_sample_size_matches_published_examples(row):
    pop_ = None if pd.isna(row["population"]) else int(row["population"])
    got = sm.sample_size(pop_, row["margin"], row["confidence"], row["expected_rate"])
    if row["rounding"] == "ceil":
        assert got == row["n_published"]
    else:  # Krejcie & Morgan round to nearest; modqa rounds up so the margin is met
        exact = sm.sizes._cochran_n(pop_, row["margin"], row["confidence"], row["expected_rate"])
        assert round(exact) == row["n_published"]
        assert got == math.ceil(exact) and got - row["n_published"] in (0, 1)


def test_cochran_classic_by_hand():
    # 1.96^2 * .25 / .05^2 = 384.16 -> 385; with FPC for N = 1000 -> 277.7 -> 278
    assert pytest.approx(384.16) == 1.96**2 * 0.25 / 0.05**2
    assert sm.sample_size(None, 0.05) == 385
    assert sm.sample_size(1000, 0.05) == 278
    # other rate and margin, computed independently with stdlib quantiles
    z = Z(0.975)
    assert sm.sample_size(None, 0.02, 0.95, 0.1) == math.ceil(z * z * 0.09 / 0.0004)  # 864.3 -> 865
    n0 = Z(0.995) ** 2 * 0.25 / 0.03**2
    assert sm.sample_size(5000, 0.03, 0.99) == math.ceil(n0 / (1 + (n0 - 1) / 5000))


@pytest.mark.parametrize("N", [1, 2, 7, 50])
def test_sample_size_never_exceeds_tiny_populations(N):
    n = sm.sample_size(N, 0.01)
    assert 1 <= n <= N
    assert sm.sample_size(1, 0.3) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(population=100, margin=0), r"margin must lie in \(0, 1\)"),
        (dict(population=100, margin=1.5), "margin must lie in"),
        (dict(population=0, margin=0.05), "population must be an integer >= 1"),
        (dict(population=100, margin=0.05, expected_rate=0), "expected_rate must lie in"),
        (dict(population=100, margin=0.05, confidence=1), "confidence must lie in"),
        (dict(population=10.5, margin=0.05), "population must be an integer"),
    ],
)
def test_sample_size_rejects_bad_arguments(kwargs, message):
    with pytest.raises(SamplingError, match=message):
        sm.sample_size(**kwargs)


@pytest.mark.parametrize(
    "n, p, conf", [(385, 0.5, 0.95), (100, 0.05, 0.95), (40, 0.2, 0.9), (1, 0.5, 0.95), (1000, 0.03, 0.99)]
)
def test_achieved_margin_is_statsmodels_wilson(n, p, conf):
    lo, hi = proportion_confint(p * n, n, alpha=1 - conf, method="wilson")
    assert sm.achieved_margin(n, confidence=conf, expected_rate=p) == pytest.approx((hi - lo) / 2, rel=1e-12)
    # Wilson's closed form, independently
    z = Z(1 - (1 - conf) / 2)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert sm.achieved_margin(n, confidence=conf, expected_rate=p) == pytest.approx(half, rel=1e-9)


def test_achieved_margin_fpc_and_vectorised():
    lo, hi = proportion_confint(139, 278, method="wilson")
    fpc = math.sqrt((1000 - 278) / 999)
    assert sm.achieved_margin(278, 1000) == pytest.approx((hi - lo) / 2 * fpc)
    assert sm.achieved_margin(278, 1000) <= 0.05  # the Cochran n meets its margin
    assert sm.achieved_margin(385) <= 0.05
    assert sm.achieved_margin(50, 50) == 0.0  # a census has no sampling error
    assert sm.achieved_margin(1, 1) == 0.0
    v = sm.achieved_margin(np.array([10, 100, 1000]))
    assert isinstance(v, np.ndarray) and np.all(np.diff(v) < 0)
    assert sm.achieved_margin(100, method="beta") > sm.achieved_margin(100, method="wilson")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n=0), "n must be an integer >= 1"),
        (dict(n=10, population=5), "population must be an integer >= n"),
        (dict(n=10, method="exact"), "method must be one of"),
    ],
)
def test_achieved_margin_errors(kwargs, message):
    with pytest.raises(SamplingError, match=message):
        sm.achieved_margin(**kwargs)


@pytest.mark.parametrize(
    "p, drop, alpha, power, ratio, alt",
    [
        (0.95, 0.03, 0.05, 0.8, 1.0, "two-sided"),
        (0.90, 0.05, 0.05, 0.9, 1.0, "two-sided"),
        (0.97, 0.02, 0.05, 0.8, 2.0, "two-sided"),
        (0.95, 0.03, 0.05, 0.8, 1.0, "larger"),
    ],
)
def test_power_sample_size_matches_independent_formula(p, drop, alpha, power, ratio, alt):
    h = 2 * math.asin(math.sqrt(p)) - 2 * math.asin(math.sqrt(p - drop))  # Cohen's h, by hand
    za = Z(1 - alpha / 2) if alt == "two-sided" else Z(1 - alpha)
    n_hand = (1 + 1 / ratio) * ((za + Z(power)) / h) ** 2
    got = sm.sample_size_two_periods(p, drop, alpha, power, ratio, alternative=alt)
    assert got == math.ceil(n_hand)
    n_sm = NormalIndPower().solve_power(
        proportion_effectsize(p, p - drop), alpha=alpha, power=power, ratio=ratio, alternative=alt
    )
    assert got == math.ceil(n_sm)
    assert sm.sample_size_two_periods(0.95, 0.03) == 1047  # (1+1)(2.8016/0.12248)^2 = 1046.3


def test_power_sample_size_errors():
    with pytest.raises(SamplingError, match="drop must lie in"):
        sm.sample_size_two_periods(0.9, 0.95)
    with pytest.raises(SamplingError, match="alternative must be"):
        sm.sample_size_two_periods(0.9, 0.05, alternative="smaller")


# =============================================================== allocation
def test_allocation_sums_to_n_and_respects_caps(pop):
    for how in sm.ALLOCATIONS:
        for n in (5, 60, 500, 1100, len(pop)):
            t = sm.allocate(pop, [S.VENDOR, S.POLICY], n, how)
            assert t[sm.ALLOCATED].sum() == n
            assert (t[sm.ALLOCATED] <= t[sm.POPULATION]).all()
            assert (t[sm.ALLOCATED] >= 1).all()  # min_per_stratum=1
            assert np.allclose(t[S.INCLUSION_PROB], t[sm.ALLOCATED] / t[sm.POPULATION])
    # the 3-row stratum is capped, its surplus goes to the others
    t = sm.allocate(pop, [S.VENDOR, S.POLICY], 100, "equal").set_index(S.STRATUM)
    assert t.loc["C|hate_speech", sm.ALLOCATED] == 3
    assert t[sm.ALLOCATED].drop("C|hate_speech").tolist() == [25, 24, 24, 24] or sorted(
        t[sm.ALLOCATED].drop("C|hate_speech")
    ) == [24, 24, 24, 25]
    t = sm.allocate(pop, [S.VENDOR, S.POLICY], 1100, "equal").set_index(S.STRATUM)
    assert t.loc["B|child_safety", sm.ALLOCATED] == 50 and t.loc["C|hate_speech", sm.ALLOCATED] == 3


def test_allocation_table_shape(pop):
    t = sm.allocate(pop, [S.VENDOR, S.POLICY], 100)
    assert list(t.columns) == [
        S.STRATUM,
        S.VENDOR,
        S.POLICY,
        sm.POPULATION,
        sm.PRIOR_ERROR_RATE,
        sm.ALLOCATED,
        S.INCLUSION_PROB,
        sm.EXPECTED_MARGIN,
    ]
    assert t[S.STRATUM].tolist() == [
        "A|child_safety",
        "A|hate_speech",
        "B|child_safety",
        "B|hate_speech",
        "C|hate_speech",
    ]
    assert t[sm.POPULATION].tolist() == [300, 600, 50, 200, 3]
    # expected margin = Wilson half-width at p=0.5 with FPC
    r = t.iloc[0]
    assert r[sm.EXPECTED_MARGIN] == pytest.approx(sm.achieved_margin(int(r[sm.ALLOCATED]), 300))
    eq = sm.allocate(pop, [S.VENDOR, S.POLICY], 100, "equal").set_index(S.STRATUM)
    assert eq.loc["C|hate_speech", sm.EXPECTED_MARGIN] == 0.0  # census of 3 rows


def test_proportional_and_equal_exact_when_divisible():
    df = make_population({("A", "x"): 400, ("B", "x"): 200, ("C", "x"): 200})
    prop = sm.allocate(df, [S.VENDOR], 80)
    assert prop[sm.ALLOCATED].tolist() == [40, 20, 20]
    assert prop[S.INCLUSION_PROB].tolist() == [0.1, 0.1, 0.1]
    eq = sm.allocate(df, [S.VENDOR], 90, "equal")
    assert eq[sm.ALLOCATED].tolist() == [30, 30, 30]
    eq = sm.allocate(df, [S.VENDOR], 91, "equal")
    assert sorted(eq[sm.ALLOCATED]) == [30, 30, 31]


def test_neyman_puts_more_where_variance_is_higher():
    df = make_population({("A", "x"): 1000, ("B", "x"): 1000, ("C", "x"): 1000})
    priors = {"A": 0.02, "B": 0.10, "C": 0.30}
    t = sm.allocate(df, [S.VENDOR], 300, "neyman", prior_error_rates=priors).set_index(S.STRATUM)
    a = t[sm.ALLOCATED]
    assert a["A"] < a["B"] < a["C"]
    s = {k: math.sqrt(p * (1 - p)) for k, p in priors.items()}
    for k in priors:  # n_h = n N_h S_h / sum N S, up to rounding
        assert abs(a[k] - 300 * s[k] / sum(s.values())) < 1
    assert t[sm.PRIOR_ERROR_RATE].to_dict() == priors
    # equal priors -> proportional
    p = sm.allocate(df, [S.VENDOR], 300, "neyman", prior_error_rates={"A": 0.1, "B": 0.1, "C": 0.1})
    assert p[sm.ALLOCATED].tolist() == [100, 100, 100]


def test_neyman_priors_accept_several_forms_and_default():
    df = make_population({("A", "x"): 500, ("A", "y"): 500, ("B", "x"): 500, ("B", "y"): 500})
    strata = [S.VENDOR, S.POLICY]
    as_dict = {"A|x": 0.01, "A|y": 0.2, "B|x": 0.05}
    as_series = pd.Series([0.01, 0.2, 0.05], index=pd.MultiIndex.from_tuples([("A", "x"), ("A", "y"), ("B", "x")]))
    as_frame = pd.DataFrame({S.VENDOR: ["A", "A", "B"], S.POLICY: ["x", "y", "x"], S.ERROR_RATE: [0.01, 0.2, 0.05]})
    as_acc = as_frame.assign(**{S.ACCURACY: 1 - as_frame[S.ERROR_RATE]}).drop(columns=S.ERROR_RATE)
    ref = sm.allocate(df, strata, 200, "neyman", prior_error_rates=as_dict, default_prior=0.5)
    for form in (as_series, as_frame, as_acc):
        t = sm.allocate(df, strata, 200, "neyman", prior_error_rates=form, default_prior=0.5)
        pd.testing.assert_series_equal(t[sm.ALLOCATED], ref[sm.ALLOCATED])
    assert ref.set_index(S.STRATUM).loc["B|y", sm.PRIOR_ERROR_RATE] == 0.5  # missing -> default
    assert ref.set_index(S.STRATUM).loc["B|y", sm.ALLOCATED] == ref[sm.ALLOCATED].max()
    with pytest.raises(SamplingError, match=r"must lie in \[0, 1\]"):
        sm.allocate(df, strata, 200, "neyman", prior_error_rates={"A|x": 1.5})


def test_zero_prior_stratum_keeps_its_floor():
    df = make_population({("A", "x"): 100, ("B", "x"): 100})
    t = sm.allocate(df, [S.VENDOR], 50, "neyman", prior_error_rates={"A": 0.0, "B": 0.2})
    assert t[sm.ALLOCATED].tolist() == [1, 49]
    t = sm.allocate(df, [S.VENDOR], 150, "neyman", prior_error_rates={"A": 0.0, "B": 0.2})
    assert t[sm.ALLOCATED].tolist() == [50, 100]  # B full, the rest spills over


def test_min_per_stratum_and_group_sizes(pop):
    t = sm.allocate(pop, [S.VENDOR, S.POLICY], 60, min_per_stratum=10).set_index(S.STRATUM)
    assert t.loc["C|hate_speech", sm.ALLOCATED] == 3 and (t[sm.ALLOCATED].drop("C|hate_speech") >= 10).all()
    t = sm.allocate(pop, [S.VENDOR, S.POLICY], {"A": 90, "B": 25, "C": 0}).set_index(S.STRATUM)
    assert t.loc[["A|child_safety", "A|hate_speech"], sm.ALLOCATED].tolist() == [30, 60]
    assert t.loc[["B|child_safety", "B|hate_speech"], sm.ALLOCATED].tolist() == [5, 20]
    assert t.loc["C|hate_speech", sm.ALLOCATED] == 0
    assert np.isnan(t.loc["C|hate_speech", sm.EXPECTED_MARGIN])


@pytest.mark.parametrize(
    "n, kwargs, exc, message",
    [
        (0, {}, SamplingError, r"n = 0: nothing to sample"),
        (1154, {}, SamplingError, r"n = 1154 is larger than the population \(1153 decisions\)"),
        (4, {}, SamplingError, r"cannot give min_per_stratum = 1 to each of 5 strata"),
        (10, {"allocation": "optimal"}, SamplingError, "allocation must be one of"),
        (-3, {}, SamplingError, "n must be an integer >= 0"),
        (10.0, {}, SamplingError, "n must be an integer"),
        ({"A": 10, "Z": 5}, {}, SamplingError, r"not in the data: \['Z'\]"),
        ({"A": 10}, {}, SamplingError, r"gives no sample size for \['B', 'C'\]"),
        ({"A": 10, "B": 260, "C": 0}, {}, SamplingError, r"n = 260 for 'B' is larger than the population \(250"),
    ],
)
def test_allocation_edge_cases_raise(pop, n, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        sm.allocate(pop, [S.VENDOR, S.POLICY], n, **kwargs)
    with pytest.raises(exc, match=message):
        sm.stratified_sample(pop, [S.VENDOR, S.POLICY], n, seed=1, **kwargs)


def test_missing_columns_and_empty_population(pop):
    with pytest.raises(DataContractError, match="decisions: column 'market': required by the sample plan but missing"):
        sm.allocate(pop, [S.MARKET], 10)
    with pytest.raises(SamplingError, match="empty population"):
        sm.stratified_sample(pop.iloc[:0], [S.VENDOR], 1, seed=1)
    with pytest.raises(SamplingError, match="strata must be a non-empty list"):
        sm.allocate(pop, [], 10)


# ======================================================== stratified sample
def test_stratified_sample_columns_counts_and_weights(pop):
    before = pop.copy()
    s = sm.stratified_sample(pop, [S.VENDOR, S.POLICY], 100, "equal", seed=7)
    pd.testing.assert_frame_equal(pop, before)  # input not mutated
    assert list(s.columns) == list(pop.columns) + [S.STRATUM, S.INCLUSION_PROB, S.WEIGHT]
    assert s.index.is_unique and s.index.isin(pop.index).all()
    pd.testing.assert_frame_equal(s[pop.columns], pop.loc[s.index])  # rows unchanged, input order
    assert s.index.is_monotonic_increasing
    t = sm.allocate(pop, [S.VENDOR, S.POLICY], 100, "equal").set_index(S.STRATUM)
    got = s[S.STRATUM].value_counts()
    assert got.sort_index().to_dict() == t[sm.ALLOCATED].to_dict()
    assert (s[S.STRATUM] == s[S.VENDOR] + "|" + s[S.POLICY]).all()
    assert np.allclose(s[S.INCLUSION_PROB], s[S.STRATUM].map(t[S.INCLUSION_PROB]))
    assert np.allclose(s[S.WEIGHT], 1 / s[S.INCLUSION_PROB])
    assert s[S.WEIGHT].groupby(s[S.STRATUM]).sum().round(9).to_dict() == t[sm.POPULATION].astype(float).to_dict()
    s[S.VENDOR] = "changed"  # a copy, not a view
    pd.testing.assert_frame_equal(pop, before)


def test_stratified_sample_is_reproducible_and_order_free(pop):
    a = sm.stratified_sample(pop, [S.VENDOR, S.POLICY], 80, seed=11)
    b = sm.stratified_sample(pop, [S.VENDOR, S.POLICY], 80, seed=11)
    pd.testing.assert_frame_equal(a, b)
    c = sm.stratified_sample(pop, [S.VENDOR, S.POLICY], 80, seed=12)
    assert set(a[S.DECISION_ID]) != set(c[S.DECISION_ID])
    shuffled = pop.sample(frac=1, random_state=3)
    d = sm.stratified_sample(shuffled, [S.VENDOR, S.POLICY], 80, seed=11)
    assert set(d[S.DECISION_ID]) == set(a[S.DECISION_ID])
    g1 = sm.stratified_sample(pop, [S.VENDOR], 80, seed=np.random.default_rng(5))
    g2 = sm.stratified_sample(pop, [S.VENDOR], 80, seed=np.random.default_rng(5))
    pd.testing.assert_frame_equal(g1, g2)
    with pytest.raises(SamplingError, match="seed must be an int or a numpy Generator"):
        sm.stratified_sample(pop, [S.VENDOR], 80, seed=None)


def test_stratified_sample_small_populations():
    one = make_population({("A", "x"): 1})
    s = sm.stratified_sample(one, [S.VENDOR], 1, seed=1)
    assert len(s) == 1 and s[S.WEIGHT].iloc[0] == 1.0 and s[S.INCLUSION_PROB].iloc[0] == 1.0
    with pytest.raises(SamplingError, match=r"n = 2 is larger than the population \(1 decisions\)"):
        sm.stratified_sample(one, [S.VENDOR], 2, seed=1)
    df = make_population({("A", "x"): 10, ("B", "x"): 2})
    full = sm.stratified_sample(df, [S.VENDOR], 12, seed=1)  # census
    assert len(full) == 12 and (full[S.WEIGHT] == 1).all()


def test_stratified_sample_rejects_bad_ids(pop):
    dup = pop.copy()
    dup.loc[5, S.DECISION_ID] = dup.loc[4, S.DECISION_ID]
    with pytest.raises(DataContractError, match="decision_id'.*must be unique"):
        sm.stratified_sample(dup, [S.VENDOR], 10, seed=1)
    gap = pop.copy()
    gap[S.DECISION_ID] = gap[S.DECISION_ID].astype(object)
    gap.loc[5, S.DECISION_ID] = None
    with pytest.raises(DataContractError, match="must not be empty"):
        sm.stratified_sample(gap, [S.VENDOR], 10, seed=1)


def test_stratified_missing_values_form_their_own_stratum():
    df = make_population({("A", "x"): 20, ("B", "x"): 20})
    df[S.VENDOR] = df[S.VENDOR].astype(object)
    df.loc[:4, S.VENDOR] = None
    t = sm.allocate(df, [S.VENDOR], 10)
    assert "<NA>" in t[S.STRATUM].tolist()
    s = sm.stratified_sample(df, [S.VENDOR], 10, seed=2)
    assert (s[S.STRATUM] == "<NA>").sum() == t.set_index(S.STRATUM).loc["<NA>", sm.ALLOCATED]


# ----------------------------------------------------------- simulations
R = 300


def _sim_population():
    sizes = {("A", "x"): 3000, ("B", "x"): 1500, ("C", "x"): 500}
    rates = {("A", "x"): 0.02, ("B", "x"): 0.10, ("C", "x"): 0.30}
    return make_population(sizes, seed=42, error_rates=rates)


def test_simulation_weighted_stratified_estimate_is_unbiased():
    df = _sim_population()
    truth = 1 - df[S.IS_ERROR].mean()  # ~0.928
    err = df[S.IS_ERROR].to_numpy()
    assert isinstance(df.index, pd.RangeIndex)  # index labels are positions
    hajek, naive, hits = np.empty(R), np.empty(R), np.zeros(len(df))
    for r in range(R):  # equal allocation: pi = 1/30, 1/15, 1/5
        s = sm.stratified_sample(df, [S.VENDOR], 300, "equal", seed=1000 + r)
        i = s.index.to_numpy()
        w = s[S.WEIGHT].to_numpy()
        hajek[r] = 1 - np.sum(w * err[i]) / np.sum(w)
        naive[r] = 1 - err[i].mean()
        hits[i] += 1
    tol = 4 * hajek.std(ddof=1) / math.sqrt(R)
    assert abs(hajek.mean() - truth) < tol, (hajek.mean(), truth, tol)
    bias = naive.mean() - truth  # expected ~ -0.07
    assert bias < -10 * tol and abs(bias) > 0.05, (bias, tol)
    # empirical inclusion frequency per stratum matches n_h / N_h
    freq = pd.Series(hits / R).groupby(df[S.VENDOR].to_numpy()).mean()
    assert freq.to_dict() == pytest.approx({"A": 100 / 3000, "B": 100 / 1500, "C": 100 / 500}, rel=0.02)


def _risk_population():
    rng = np.random.default_rng(7)
    df = make_population(
        {("A", "hate_speech"): 2500, ("A", "child_safety"): 500, ("B", "spam_scam"): 1500, ("B", "self_harm"): 500},
        seed=7,
    )
    prof = sm.risk_profile(df)
    # errors are far more common in risky slices, so ignoring the weights is biased
    p = 0.02 + 0.10 * prof["low_confidence"] + 0.08 * prof["new_moderator"] + 0.05 * prof["critical_policy"]
    df[S.IS_ERROR] = rng.random(len(df)) < p.to_numpy()
    return df


@pytest.mark.parametrize("method", sm.RISK_METHODS)
def test_simulation_risk_weighted_estimate_is_unbiased(method):
    df = _risk_population()
    err = df[S.IS_ERROR].to_numpy()
    truth = err.mean()
    N, n = len(df), 300
    assert isinstance(df.index, pd.RangeIndex)
    ht, hajek, naive, sizes, hits = (np.empty(R), np.empty(R), np.empty(R), np.empty(R), np.zeros(N))
    pi_ref = None
    for r in range(R):
        s = sm.risk_weighted_sample(df, n, method=method, seed=5000 + r)
        i = s.index.to_numpy()
        w = s[S.WEIGHT].to_numpy()
        ht[r] = np.sum(w * err[i]) / N
        hajek[r] = np.sum(w * err[i]) / np.sum(w)
        naive[r] = err[i].mean()
        sizes[r] = len(s)
        hits[i] += 1
        if pi_ref is None:
            pi_ref = sm.pps_inclusion_probabilities(sm.risk_profile(df)["size"].to_numpy(), n)
        assert np.allclose(s[S.INCLUSION_PROB].to_numpy(), pi_ref[i])
    for est in (ht, hajek):
        tol = 4 * est.std(ddof=1) / math.sqrt(R)
        assert abs(est.mean() - truth) < tol, (method, est.mean(), truth, tol)
    tol = 4 * hajek.std(ddof=1) / math.sqrt(R)
    assert naive.mean() - truth > 10 * tol, (naive.mean(), truth)
    if method == "systematic":
        assert (sizes == n).all()
    else:  # Poisson: random size with mean n and variance sum pi (1 - pi)
        assert sizes.std() > 0
        assert abs(sizes.mean() - n) < 4 * math.sqrt(np.sum(pi_ref * (1 - pi_ref)) / R)
    # empirical selection frequency matches pi within each distinct pi level
    levels = pd.Series(hits / R).groupby(np.round(pi_ref, 12)).mean()
    for p_level, freq in levels.items():
        k = int((np.round(pi_ref, 12) == p_level).sum())
        assert abs(freq - p_level) < 5 * math.sqrt(p_level * (1 - p_level) / (R * k)) + 1e-12, (p_level, freq)


# ==================================================== risk-weighted details
def test_risk_profile_flags():
    df = pd.DataFrame(
        {
            S.DECISION_ID: ["a", "b", "c", "d", "e"],
            S.MODEL_SCORE: [0.5, 0.9, np.nan, 0.36, 0.64],
            S.MODERATOR_TENURE_DAYS: [10, 400, np.nan, 29, 30],
            S.POLICY: ["child_safety", "spam_scam", "self_harm", "spam_scam", "hate_speech"],
            S.CONTENT_TYPE: ["livestream", "video", "comment", "video", "livestream"],
        }
    )
    prof = sm.risk_profile(df)
    assert prof["low_confidence"].tolist() == [True, False, False, True, True]
    assert prof["new_moderator"].tolist() == [True, False, False, True, False]
    assert prof["critical_policy"].tolist() == [True, False, True, False, False]
    assert prof["livestream"].tolist() == [True, False, False, False, True]
    assert prof["size"].tolist() == [3 * 2 * 3 * 2, 1, 3, 3 * 2, 3 * 2]
    assert prof[S.STRATUM].iloc[1] == "risk:base"
    assert prof[S.STRATUM].iloc[0] == "risk:low_confidence+new_moderator+critical_policy+livestream"
    off = sm.risk_profile(df, {"low_confidence": 1, "critical_policies": ["spam_scam"]})
    assert off["size"].tolist() == [2 * 2, 3, 1, 2 * 3, 2]
    with pytest.raises(SamplingError, match="unknown risk weight"):
        sm.risk_profile(df, {"livestreams": 2})
    with pytest.raises(DataContractError, match="risk flag 'livestream'"):
        sm.risk_profile(df.drop(columns=S.CONTENT_TYPE))
    assert len(sm.risk_profile(df.drop(columns=S.CONTENT_TYPE), {"livestream": 1})) == 5


def test_pps_probabilities_cap_and_redistribute():
    pi = sm.pps_inclusion_probabilities([100, 1, 1, 1, 1, 1], 3)
    assert pi[0] == 1.0 and np.allclose(pi[1:], 0.4) and pi.sum() == pytest.approx(3)
    pi = sm.pps_inclusion_probabilities([50, 40, 1, 1, 1, 1, 1, 1], 4)  # cascade: two certainties
    assert pi[:2].tolist() == [1.0, 1.0] and np.allclose(pi[2:], 2 / 6)
    pi = sm.pps_inclusion_probabilities([1, 2, 3, 4], 2)
    assert np.allclose(pi, [0.2, 0.4, 0.6, 0.8])
    assert np.allclose(sm.pps_inclusion_probabilities([1, 2, 3], 3), 1)
    with pytest.raises(SamplingError, match="larger than the population"):
        sm.pps_inclusion_probabilities([1, 2], 3)
    with pytest.raises(SamplingError, match="sizes must be finite and > 0"):
        sm.pps_inclusion_probabilities([1, 0], 1)


def test_risk_weighted_sample_output_and_errors(pop):
    s = sm.risk_weighted_sample(pop, 50, seed=3)
    assert len(s) == 50 and s.index.is_monotonic_increasing
    assert list(s.columns) == list(pop.columns) + [S.STRATUM, S.INCLUSION_PROB, S.WEIGHT]
    assert s[S.STRATUM].str.startswith("risk:").all()
    assert np.allclose(s[S.WEIGHT] * s[S.INCLUSION_PROB], 1)
    pd.testing.assert_frame_equal(s, sm.risk_weighted_sample(pop, 50, seed=3))
    assert set(sm.risk_weighted_sample(pop.sample(frac=1, random_state=1), 50, seed=3)[S.DECISION_ID]) == set(
        s[S.DECISION_ID]
    )
    everything = sm.risk_weighted_sample(pop, len(pop), seed=3)
    assert len(everything) == len(pop) and (everything[S.WEIGHT] == 1).all()
    for n, msg in [(0, "n = 0"), (len(pop) + 1, "larger than the population")]:
        with pytest.raises(SamplingError, match=msg):
            sm.risk_weighted_sample(pop, n, seed=3)
    with pytest.raises(SamplingError, match="method must be one of"):
        sm.risk_weighted_sample(pop, 5, method="pareto", seed=3)


# ================================================================ golden
@pytest.fixture
def golden():
    return pd.DataFrame(
        {S.ITEM_ID: [f"g{i:03d}" for i in range(40)], S.GOLD_LABEL: "hate_speech", S.POLICY: "hate_speech"}
    )


def test_inject_golden_per_auditor(pop, golden):
    s = sm.stratified_sample(pop, [S.VENDOR, S.POLICY], 120, seed=1)
    a = sm.assign_auditors(s, ["q1", "q2", "q3"], seed=1)
    w = sm.inject_golden(a, golden, share=0.05, seed=2)
    assert len(w) == 120 + 3 * 2  # 40 each -> round(40*.05/.95) = 2
    assert set(w.loc[~w[S.IS_GOLDEN], S.DECISION_ID]) == set(s[S.DECISION_ID])
    g = w[w[S.IS_GOLDEN]]
    assert (g[S.STRATUM] == sm.GOLDEN_STRATUM).all() and (g[S.INCLUSION_PROB] == 1).all() and (g[S.WEIGHT] == 1).all()
    assert (g[S.DECISION_ID] == g[S.ITEM_ID]).all() and g[S.ITEM_ID].isin(golden[S.ITEM_ID]).all()
    assert w[~w[S.IS_GOLDEN]][S.ITEM_ID].isna().all()
    for _aud, rows in w.groupby(S.AUDITOR_ID):
        assert rows[S.IS_GOLDEN].sum() == 2 and not rows[S.ITEM_ID].dropna().duplicated().any()
    assert w[S.AUDITOR_ID].tolist() == sorted(w[S.AUDITOR_ID])  # grouped by auditor
    # blind: golden rows are shuffled in, not appended at the end of each list
    last = w.groupby(S.AUDITOR_ID)[S.IS_GOLDEN].apply(lambda x: bool(x.iloc[-2:].all()))
    assert not last.all()
    pd.testing.assert_frame_equal(w, sm.inject_golden(a, golden, share=0.05, seed=2))
    # integer decision columns stay integers
    assert str(w[S.MODERATOR_TENURE_DAYS].dtype) == "Int64"


def test_inject_golden_without_auditors_and_edge_cases(pop, golden):
    s = sm.stratified_sample(pop, [S.VENDOR], 95, seed=1)
    w = sm.inject_golden(s, golden, share=0.05, seed=3)
    assert w[S.IS_GOLDEN].sum() == 5 and len(w) == 100
    none = sm.inject_golden(s, golden, share=0.0, seed=3)
    assert len(none) == 95 and not none[S.IS_GOLDEN].any()
    with pytest.raises(SamplingError, match="needs 24 distinct golden items .* golden set holds 10"):
        sm.inject_golden(s, golden.head(10), share=0.2, seed=3)
    with pytest.raises(SamplingError, match=r"share must lie in \[0, 1\)"):
        sm.inject_golden(s, golden, share=1.0, seed=3)


# ============================================================ auditors
def test_assign_auditors_balanced_without_constraints(pop):
    s = sm.stratified_sample(pop, [S.VENDOR, S.POLICY], 103, seed=1)
    a = sm.assign_auditors(s, ["q1", "q2", "q3", "q4"], seed=9)
    counts = a[S.AUDITOR_ID].value_counts()
    assert counts.sum() == 103 and counts.max() - counts.min() <= 1 and len(counts) == 4
    pd.testing.assert_frame_equal(a.drop(columns=S.AUDITOR_ID), s)
    pd.testing.assert_frame_equal(a, sm.assign_auditors(s, ["q1", "q2", "q3", "q4"], seed=9))


def test_assign_auditors_respects_site_and_own_decisions(pop):
    s = sm.stratified_sample(pop, [S.VENDOR, S.POLICY], 150, seed=4)
    s.loc[s.index[:20], S.MODERATOR_ID] = "q1"  # q1 also moderated some decisions
    sites = {"q1": "Manila", "q2": "Lisbon", "q3": "Kuala Lumpur", "q4": "Manila", "q5": "Lisbon"}
    a = sm.assign_auditors(s, list(sites), auditor_sites=sites, seed=5)
    assert not (a[S.AUDITOR_ID] == a[S.MODERATOR_ID]).any()
    assert not (a[S.AUDITOR_ID].map(sites) == a[S.SITE]).any()
    counts = a[S.AUDITOR_ID].value_counts()
    assert counts.max() - counts.min() <= 1  # constraints leave room for balance here


def test_assign_auditors_forced_imbalance_is_optimal():
    # 90 decisions from Manila, 10 from Lisbon; two Lisbon auditors can take Manila, one Manila auditor only Lisbon
    df = pd.DataFrame(
        {S.DECISION_ID: [f"d{i}" for i in range(100)], S.SITE: ["Manila"] * 90 + ["Lisbon"] * 10, S.MODERATOR_ID: "m"}
    )
    sites = {"a": "Lisbon", "b": "Lisbon", "c": "Manila"}
    a = sm.assign_auditors(df, list(sites), auditor_sites=sites, seed=1)
    assert a[S.AUDITOR_ID].value_counts().to_dict() == {"a": 45, "b": 45, "c": 10}
    assert not (a[S.AUDITOR_ID].map(sites) == a[S.SITE]).any()


def test_assign_auditors_impossible_and_bad_input(pop):
    df = pd.DataFrame(
        {S.DECISION_ID: ["d1", "d2", "d3"], S.SITE: ["Manila", "Manila", "Lisbon"], S.MODERATOR_ID: ["x", "q2", "y"]}
    )
    with pytest.raises(SamplingError, match=r"no eligible auditor for 2 decision\(s\) from site 'Manila'"):
        sm.assign_auditors(df, ["q1"], auditor_sites={"q1": "Manila"}, seed=1)
    with pytest.raises(SamplingError, match="from moderator 'q2'"):
        sm.assign_auditors(df.iloc[[1]], ["q2"], seed=1)
    with pytest.raises(SamplingError, match=r"no site for auditor\(s\) \['q2'\]"):
        sm.assign_auditors(df, ["q1", "q2"], auditor_sites={"q1": "Lisbon"}, seed=1)
    with pytest.raises(SamplingError, match="no auditors"):
        sm.assign_auditors(df, [], seed=1)
    with pytest.raises(SamplingError, match="listed twice"):
        sm.assign_auditors(df, ["q1", "q1"], seed=1)
    empty = sm.assign_auditors(df.iloc[:0], ["q1"], seed=1)
    assert len(empty) == 0 and S.AUDITOR_ID in empty.columns


# ================================================================= plans
def test_plan_save_load_redraw(pop, tmp_path):
    plan, sample = sm.make_plan(
        pop,
        strata=[S.VENDOR, S.POLICY],
        n=90,
        allocation="neyman",
        prior_error_rates={"A|hate_speech": 0.1},
        seed=21,
        return_sample=True,
        metadata={"week": "2026-11-16"},
    )
    assert (sample[S.SAMPLE_ID] == plan.sample_id).all()
    assert plan.counts["drawn"] == 90 and plan.counts["population"] == len(pop) and plan.counts["strata"] == 5
    path = sm.save_plan(plan, tmp_path / "plan.json")
    raw = json.loads(path.read_text())
    for key in ("sample_id", "method", "params", "seed", "fingerprint", "created_at", "counts"):
        assert key in raw
    assert raw["params"]["prior_error_rates"] == {"A|hate_speech": 0.1}
    loaded = sm.load_plan(path)
    assert loaded == plan
    again = sm.redraw(loaded, pop.sample(frac=1, random_state=8))  # row order does not matter
    pd.testing.assert_frame_equal(again.sort_index(), sample.sort_index())
    # same inputs -> same id; a different seed -> a different id
    assert (
        sm.make_plan(
            pop,
            strata=[S.VENDOR, S.POLICY],
            n=90,
            allocation="neyman",
            prior_error_rates={"A|hate_speech": 0.1},
            seed=21,
        ).sample_id
        == plan.sample_id
    )
    assert sm.make_plan(pop, strata=[S.VENDOR, S.POLICY], n=90, seed=22).sample_id != plan.sample_id


@pytest.mark.parametrize("change", ["drop_row", "edit_stratum", "edit_id"])
def test_redraw_detects_changed_data(pop, change):
    plan = sm.make_plan(pop, strata=[S.VENDOR, S.POLICY], n=40, seed=3)
    changed = pop.copy()
    if change == "drop_row":
        changed = changed.iloc[1:]
    elif change == "edit_stratum":
        changed.loc[10, S.POLICY] = "child_safety" if changed.loc[10, S.POLICY] != "child_safety" else "hate_speech"
    else:
        changed.loc[10, S.DECISION_ID] = "other"
    with pytest.raises(sm.FingerprintMismatchError, match=f"decisions differ from those sample plan {plan.sample_id}"):
        sm.redraw(plan, changed)
    # columns the draw does not use may change freely
    sm.redraw(plan, pop.assign(**{S.MODEL_SCORE: 0.0}))


def test_risk_weighted_plan_roundtrip(pop, tmp_path):
    plan, sample = sm.make_plan(pop, "risk_weighted", n=60, risk={"livestream": 4}, seed=9, return_sample=True)
    assert plan.params["risk"]["livestream"] == 4 and plan.params["risk"]["critical_policies"]
    loaded = sm.load_plan(sm.save_plan(plan, tmp_path / "p.json"))
    pd.testing.assert_frame_equal(sm.redraw(loaded, pop), sample)
    with pytest.raises(sm.FingerprintMismatchError):
        sm.redraw(loaded, pop.assign(**{S.MODEL_SCORE: 0.5}))


def test_plan_errors(pop, tmp_path):
    with pytest.raises(SamplingError, match="needs an integer seed"):
        sm.make_plan(pop, strata=[S.VENDOR], n=5, seed=np.random.default_rng(1))
    with pytest.raises(SamplingError, match="unknown parameter"):
        sm.make_plan(pop, strata=[S.VENDOR], n=5, seed=1, alloc="equal")
    with pytest.raises(InputFileError, match="cannot read sample plan"):
        sm.load_plan(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputFileError, match="not valid JSON"):
        sm.load_plan(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(InputFileError, match="not a modqa sample plan"):
        sm.load_plan(tmp_path / "other.json")


def test_fingerprint_is_order_free_and_content_sensitive(pop):
    f = sm.decisions_fingerprint(pop, [S.VENDOR])
    assert f == sm.decisions_fingerprint(pop.sample(frac=1, random_state=2), [S.VENDOR])
    assert f != sm.decisions_fingerprint(pop, [S.VENDOR, S.POLICY])
    assert f != sm.decisions_fingerprint(pop.assign(**{S.VENDOR: "A"}), [S.VENDOR])
    assert len(f) == 16


def test_estimate_prior_error_rates_shrinks_towards_overall():
    dec = make_population({("A", "x"): 100, ("B", "x"): 100})
    aud = pd.DataFrame(
        {
            S.DECISION_ID: dec[S.DECISION_ID],
            S.IS_ERROR: [True] * 10 + [False] * 90 + [False] * 100,
            S.WEIGHT: 1.0,
            S.IS_GOLDEN: False,
        }
    )
    aud.loc[len(aud)] = ["g1", True, 1.0, True]  # golden audit ignored
    pr = sm.estimate_prior_error_rates(dec, aud, [S.VENDOR], strength=20).set_index(S.STRATUM)
    assert pr[S.N].to_dict() == {"A": 100, "B": 100}
    assert pr.loc["A", S.ERROR_RATE] == pytest.approx((10 + 20 * 0.05) / 120)
    assert pr.loc["B", S.ERROR_RATE] == pytest.approx((0 + 20 * 0.05) / 120)
    t = sm.allocate(dec, [S.VENDOR], 50, "neyman", prior_error_rates=pr.reset_index())
    assert t[sm.ALLOCATED].iloc[0] > t[sm.ALLOCATED].iloc[1]


# ================================================================== CLI
def write_processed(folder: Path, golden_items: int = 30) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 2400
    monday = pd.Timestamp("2026-11-09", tz="UTC")
    dec = pd.DataFrame(
        {
            S.DECISION_ID: [f"d{i:05d}" for i in range(n)],
            S.CONTENT_ID: [f"c{i:05d}" for i in range(n)],
            S.CONTENT_TYPE: rng.choice(["video", "livestream"], n),
            S.QUEUE: "q",
            S.MARKET: rng.choice(["BR", "DE"], n),
            S.LANGUAGE: "pt",
            S.VENDOR: rng.choice(["Vendor A", "Vendor B", "Platform"], n, p=[0.5, 0.3, 0.2]),
            S.SITE: rng.choice(["Manila", "Lisbon"], n),
            S.MODERATOR_ID: rng.choice(["m1", "m2", "qa1", "m3"], n),
            S.MODERATOR_TENURE_DAYS: rng.integers(0, 500, n),
            S.DECIDED_AT: monday + pd.to_timedelta(rng.integers(0, 14 * 24 * 3600, n), unit="s"),
            S.CHANNEL: "human",
            S.POLICY: rng.choice(["hate_speech", "child_safety", "spam_scam"], n),
            S.LABEL: "no_violation",
            S.ACTION: "no_action",
            S.MODEL_LABEL: None,
            S.MODEL_SCORE: rng.random(n),
            S.HANDLE_TIME_S: 30.0,
        }
    )
    first_week = dec[dec[S.DECIDED_AT] < monday + pd.Timedelta(days=7)]
    audited = first_week.sample(300, random_state=1)
    aud = pd.DataFrame(
        {
            S.AUDIT_ID: [f"a{i}" for i in range(300)],
            S.DECISION_ID: audited[S.DECISION_ID].to_numpy(),
            S.AUDITOR_ID: rng.choice(["qa1", "qa2", "qa3", "qa4"], 300),
            S.AUDITED_AT: monday + pd.Timedelta(days=8),
            S.QA_LABEL: "no_violation",
            S.IS_ERROR: (audited[S.VENDOR] == "Vendor B").to_numpy() & (rng.random(300) < 0.4),
            S.ERROR_TYPE: None,
            S.SEVERITY: None,
            S.ROOT_CAUSE: None,
            S.SAMPLE_ID: "S0",
            S.STRATUM: "x",
            S.INCLUSION_PROB: 0.1,
            S.WEIGHT: 10.0,
            S.IS_GOLDEN: False,
        }
    )
    gold = pd.DataFrame(
        {S.ITEM_ID: [f"g{i:03d}" for i in range(golden_items)], S.GOLD_LABEL: "hate_speech", S.POLICY: "hate_speech"}
    )
    folder.mkdir(parents=True, exist_ok=True)
    dec.to_parquet(folder / "decisions.parquet", index=False)
    aud.to_parquet(folder / "audits.parquet", index=False)
    if golden_items:
        gold.to_parquet(folder / "golden.parquet", index=False)
    return {"decisions": dec, "audits": aud, "golden": gold}


@pytest.fixture
def processed(tmp_path):
    folder = tmp_path / "processed"
    write_processed(folder)
    return folder


@pytest.mark.parametrize("allocation", sm.ALLOCATIONS)
def test_run_sample_command_writes_worklists_and_plan(processed, tmp_path, allocation):
    out = tmp_path / "out"
    msg = sm.run_sample_command(
        week="latest",
        by="vendor",
        margin=0.08,
        confidence=0.95,
        allocation=allocation,
        golden_share=0.05,
        seed=1,
        processed=processed,
        out=out,
    )
    folder = out / "samples" / "2026-11-16"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "plan.json",
        "sample.csv",
        "worklist_qa1.csv",
        "worklist_qa2.csv",
        "worklist_qa3.csv",
        "worklist_qa4.csv",
    ]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    key = pd.read_csv(folder / "sample.csv", dtype={S.DECISION_ID: str})
    real = key[~key[S.IS_GOLDEN]]
    assert not (real[S.AUDITOR_ID] == real[S.MODERATOR_ID]).any()  # nobody audits themselves
    sizes = real[S.AUDITOR_ID].value_counts()
    assert sizes.max() - sizes.min() <= 1
    assert key[S.IS_GOLDEN].sum() == sum(round(k * 0.05 / 0.95) for k in sizes)
    plan = sm.load_plan(folder / "plan.json")
    assert plan.metadata["week"] == "2026-11-16" and plan.params["strata"] == [S.VENDOR, S.POLICY]
    # each unit sized to the margin
    units = plan.metadata["units"]
    assert set(units) == {"Platform", "Vendor A", "Vendor B"}
    for u, d in units.items():
        assert d["drawn"] == sm.sample_size(d["population"], 0.08)
        assert d["margin"] <= 0.08 * (1.25 if allocation != "proportional" else 1.02)
        assert real[S.VENDOR].eq(u).sum() == d["drawn"]
    # the plan redraws exactly the sampled decisions from that week's data
    dec = pd.read_parquet(processed / "decisions.parquet")
    week = dec[(dec[S.DECIDED_AT] >= pd.Timestamp("2026-11-16", tz="UTC"))]
    assert set(sm.redraw(plan, week)[S.DECISION_ID]) == set(real[S.DECISION_ID])
    # worklists are blind and their union is the sample
    wl = pd.concat([pd.read_csv(folder / f"worklist_qa{i}.csv") for i in range(1, 5)])
    assert list(wl.columns) == list(sm.WORKLIST_COLUMNS)
    assert sorted(wl[S.DECISION_ID]) == sorted(key[S.DECISION_ID].astype(str))
    assert "Vendor A" in msg and "2026-11-16" in msg and plan.sample_id in msg and "margin" in msg


def test_run_sample_command_is_reproducible(processed, tmp_path):
    kw = dict(
        week="2026-11-09",
        by="site",
        margin=0.1,
        confidence=0.9,
        allocation="neyman",
        golden_share=0.1,
        seed=5,
        processed=processed,
    )
    sm.run_sample_command(out=tmp_path / "o1", **kw)
    sm.run_sample_command(out=tmp_path / "o2", **kw)
    for name in ("sample.csv", "worklist_qa2.csv"):
        a = (tmp_path / "o1" / "samples" / "2026-11-09" / name).read_text()
        b = (tmp_path / "o2" / "samples" / "2026-11-09" / name).read_text()
        assert a == b


@pytest.mark.parametrize(
    "week, message",
    [
        ("2026-11-11", r"is a Wednesday; ISO weeks start on Monday \(use 2026-11-09\)"),
        ("2026-12-07", "no decisions that week; the data covers weeks 2026-11-09 to 2026-11-16"),
        ("next week", "is not a date .* the data covers weeks 2026-11-09 to 2026-11-16"),
    ],
)
def test_run_sample_command_bad_week(processed, tmp_path, week, message):
    with pytest.raises(ConfigError, match=message):
        sm.run_sample_command(
            week=week,
            by="vendor",
            margin=0.05,
            confidence=0.95,
            allocation="proportional",
            golden_share=0.05,
            seed=1,
            processed=processed,
            out=tmp_path,
        )


def test_run_sample_command_other_errors(tmp_path):
    folder = tmp_path / "p"
    write_processed(folder, golden_items=0)
    kw = dict(
        week="latest",
        by="vendor",
        margin=0.05,
        confidence=0.95,
        allocation="proportional",
        seed=1,
        processed=folder,
        out=tmp_path / "o",
    )
    with pytest.raises(SamplingError, match="no golden table .* --golden-share 0"):
        sm.run_sample_command(golden_share=0.05, **kw)
    assert "Vendor A" in sm.run_sample_command(golden_share=0.0, **kw)
    with pytest.raises(ConfigError, match="--margin must lie strictly between 0 and 0.5"):
        sm.run_sample_command(golden_share=0.0, **{**kw, "margin": 0.7})
    with pytest.raises(ConfigError, match="--by must be one of"):
        sm.run_sample_command(golden_share=0.0, **{**kw, "by": "policy"})


def test_cli_sample_subcommand(processed, tmp_path, capsys):
    from modqa_lib.run.cli import main

    rc = main(["sample", "--week", "latest", "--processed", str(processed), "--out", str(tmp_path), "--margin", "0.1"])
    assert rc == 0 and "worklists" in capsys.readouterr().out
    rc = main(["sample", "--week", "1999-01-04", "--processed", str(processed), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "covers weeks 2026-11-09 to 2026-11-16" in err and "Traceback" not in err


# ====================================================== weekly sample: pure draw, files
WEEKLY = dict(week="latest", by="vendor", margin=0.08, confidence=0.95, golden_share=0.05, seed=1)


def load_tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(folder / f"{t}.parquet") for t in ("decisions", "audits", "golden")}


def cochran(N: int, margin: float, confidence: float, p: float) -> int:
    """Cochran (1977) Sect. 4.4 with the FPC of Israel (1992) eq. 3, computed here independently."""
    n0 = Z(1 - (1 - confidence) / 2) ** 2 * p * (1 - p) / margin**2
    return math.ceil(n0 / (1 + (n0 - 1) / N) - 1e-9)


@pytest.mark.parametrize("allocation", sm.ALLOCATIONS)
def test_draw_weekly_sample_is_the_command_without_files(processed, tmp_path, allocation):
    t = load_tables(processed)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    ws = sm.draw_weekly_sample(t["decisions"], t["audits"], t["golden"], allocation=allocation, **WEEKLY)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before  # no file I/O
    sm.run_sample_command(allocation=allocation, processed=processed, out=tmp_path / "cmd", **WEEKLY)
    written = sm.write_sample_files(ws, tmp_path / "pure")
    cmd_dir = tmp_path / "cmd" / "samples" / "2026-11-16"
    assert {p.parent for p in written} == {tmp_path / "pure" / "samples" / "2026-11-16"}
    assert [p.name for p in written][-2:] == ["sample.csv", "plan.json"]
    assert sorted(p.name for p in written) == sorted(p.name for p in cmd_dir.iterdir())
    for p in written:
        if p.suffix == ".csv":
            assert p.read_text() == (cmd_dir / p.name).read_text(), p.name
    a, b = sm.load_plan(written[-1]), sm.load_plan(cmd_dir / "plan.json")
    assert a.sample_id == b.sample_id == ws.plan.sample_id and a.metadata == b.metadata
    # the tables agree with one another and with the plan
    assert ws.week == "2026-11-16" and ws.by == S.VENDOR and ws.unit is None
    assert list(ws.units.columns) == [sm.UNIT, sm.POPULATION, sm.DRAWN, sm.MARGIN]
    assert len(ws.population) == ws.units[sm.POPULATION].sum() == ws.allocation[sm.POPULATION].sum()
    drawn = ws.allocation.groupby(S.VENDOR)[sm.ALLOCATED].sum()
    assert drawn.to_dict() == dict(zip(ws.units[sm.UNIT], ws.units[sm.DRAWN]))
    real = ws.worklist[~ws.worklist[S.IS_GOLDEN]]
    assert len(real) == ws.units[sm.DRAWN].sum()
    assert set(real[S.DECISION_ID]) <= set(ws.population[S.DECISION_ID])
    assert ws.plan.metadata["units"] == {
        r.unit: {"population": r.population, "drawn": r.drawn, "margin": round(r.margin, 6)}
        for r in ws.units.itertuples()
    }
    assert 0 < ws.overall_margin < ws.units[sm.MARGIN].min()
    sizes = ws.worklist_sizes()
    assert list(sizes.columns) == [S.AUDITOR_ID, "decisions", "golden_items", "total"]
    assert sizes["decisions"].sum() == len(real) and sizes["total"].sum() == len(ws.worklist)
    assert dict(zip(sizes[S.AUDITOR_ID], sizes["total"])) == ws.plan.metadata["worklist_sizes"]
    assert ws.auditors == ["qa1", "qa2", "qa3", "qa4"]


def test_expected_rate_lowers_n_as_cochran_says(processed):
    t = load_tables(processed)
    kw = dict(WEEKLY, margin=0.05, allocation="proportional")
    worst = sm.draw_weekly_sample(t["decisions"], t["audits"], t["golden"], **kw)
    good = sm.draw_weekly_sample(t["decisions"], t["audits"], t["golden"], expected_rate=0.05, **kw)
    for ws, p in ((worst, 0.5), (good, 0.05)):
        for u, N, n in ws.units[[sm.UNIT, sm.POPULATION, sm.DRAWN]].itertuples(index=False):
            assert n == cochran(N, 0.05, 0.95, p), (u, p)
        assert (ws.units[sm.MARGIN] <= 0.05 * 1.02).all()  # margins reported at the assumed rate
        assert ws.plan.metadata["expected_rate"] == p
    assert (good.units[sm.DRAWN] < worst.units[sm.DRAWN] / 2).all()
    assert (good.allocation[sm.PRIOR_ERROR_RATE] == 0.05).all()  # no history: the assumed rate
    assert "default_prior" not in worst.plan.params and good.plan.params["default_prior"] == 0.05


def test_draw_weekly_sample_for_one_unit(processed, tmp_path):
    t = load_tables(processed)
    args = (t["decisions"], t["audits"], t["golden"])
    kw = dict(WEEKLY, allocation="neyman")
    full = sm.draw_weekly_sample(*args, **kw)
    assert sm.draw_weekly_sample(*args, unit="ALL", **kw).plan.sample_id == full.plan.sample_id
    one = sm.draw_weekly_sample(*args, unit="Vendor B", **kw)
    assert one.unit == "Vendor B" and one.units[sm.UNIT].tolist() == ["Vendor B"]
    assert (one.population[S.VENDOR] == "Vendor B").all() and (one.allocation[S.VENDOR] == "Vendor B").all()
    assert len(one.population) == (full.population[S.VENDOR] == "Vendor B").sum()
    pd.testing.assert_frame_equal(one.units, full.units[full.units[sm.UNIT] == "Vendor B"].reset_index(drop=True))
    assert one.overall_margin == pytest.approx(one.units[sm.MARGIN].iloc[0])
    # the unit's decisions are exactly its part of the all-unit draw (same priors, same random numbers)
    w = full.worklist
    assert set(one.worklist.loc[~one.worklist[S.IS_GOLDEN], S.DECISION_ID]) == set(
        w.loc[~w[S.IS_GOLDEN] & (w[S.VENDOR] == "Vendor B"), S.DECISION_ID]
    )
    # a unit's files go to their own folder and leave the week's files alone
    full_files = sm.write_sample_files(full, tmp_path)
    one_files = sm.write_sample_files(one, tmp_path)
    assert {p.parent for p in one_files} == {tmp_path / "samples" / "2026-11-16" / "vendor_Vendor_B"}
    assert all(p.exists() for p in full_files)
    with pytest.raises(
        ConfigError,
        match=r"^unit 'Vendor Z': no decisions of that vendor in week 2026-11-16; "
        r"vendor values that week: \['Platform', 'Vendor A', 'Vendor B'\]",
    ):
        sm.draw_weekly_sample(*args, unit="Vendor Z", **kw)


def test_draw_weekly_sample_errors_name_the_python_parameters(processed):
    t = load_tables(processed)
    kw = dict(WEEKLY, allocation="proportional")
    with pytest.raises(ConfigError, match=r"^expected_rate must lie strictly between 0 and 1, got 1\.0"):
        sm.draw_weekly_sample(t["decisions"], t["audits"], t["golden"], expected_rate=1.0, **kw)
    with pytest.raises(ConfigError, match=r"^week 2026-11-11 is a Wednesday; .*\(use 2026-11-09\)"):
        sm.draw_weekly_sample(t["decisions"], t["audits"], t["golden"], **{**kw, "week": "2026-11-11"})
    with pytest.raises(SamplingError, match=r"^golden_share 0\.05 asks for golden items .* use golden_share 0$"):
        sm.draw_weekly_sample(t["decisions"], t["audits"], None, **kw)
    with pytest.raises(SamplingError, match="no auditor ids"):
        sm.draw_weekly_sample(t["decisions"], t["audits"].iloc[:0], t["golden"], **kw)


def test_cli_sample_passes_expected_rate(processed, tmp_path, capsys):
    from modqa_lib.run.cli import main

    base = ["sample", "--week", "latest", "--processed", str(processed), "--out", str(tmp_path), "--margin", "0.05"]
    rc = main(base + ["--expected-rate", "0.05"])
    assert rc == 0 and "assumed error rate p = 0.05" in capsys.readouterr().out
    plan = sm.load_plan(tmp_path / "samples" / "2026-11-16" / "plan.json")
    assert plan.metadata["expected_rate"] == 0.05
    assert all(d["drawn"] == cochran(d["population"], 0.05, 0.95, 0.05) for d in plan.metadata["units"].values())
    with pytest.raises(SystemExit) as exit_info:  # rejected up front by the option parser
        main(base + ["--expected-rate", "0"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--expected-rate: must be in (0, 1), got 0" in err and "Traceback" not in err


# ================================================== random-number internals
def test_id_hash_depends_on_text_only():
    text = ["d1", "d22", "", "décision-ü", "d1234567890123456789"]
    ref = sm.draw._id_hash(pd.Series(text, dtype="str"), salt=7)
    assert len(set(ref.tolist())) == len(text)
    for series in (
        pd.Series(text, dtype=object),
        pd.Series(text, dtype="category"),
        pd.Series(text, dtype="string[python]"),
        pd.Series(text, dtype="str").iloc[1:],
    ):
        got = sm.draw._id_hash(series, salt=7)
        assert got.tolist() == ref[-len(series) :].tolist()
    # a fixed-width column hashes each id as the mixed-width path does
    fixed = sm.draw._id_hash(pd.Series(["ab", "cd", "ef"]), salt=7)
    mixed = sm.draw._id_hash(pd.Series(["ab", "cd", "ef", "ghi"]), salt=7)
    assert fixed.tolist() == mixed[:3].tolist()
    assert (
        sm.draw._id_hash(pd.Series([10, 20]), salt=7).tolist()
        == sm.draw._id_hash(pd.Series(["10", "20"]), salt=7).tolist()
    )
    assert sm.draw._id_hash(pd.Series(text), salt=8).tolist() != ref.tolist()
    u = sm.draw._unit(sm.draw._id_hash(pd.Series([f"x{i}" for i in range(20000)]), salt=3))
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01  # roughly uniform
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 1800


def test_argsort_keys_matches_numpy_including_tied_top_bits():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**63, 5000, dtype=np.int64).astype(np.uint64)
    assert (sm.draw._argsort_keys(keys) == np.argsort(keys, kind="stable")).all()
    tied = (np.uint64(12345) << np.uint64(40)) | rng.integers(0, 2**10, 300).astype(np.uint64)
    keys[:300] = tied  # same top bits, differ in low bits
    keys[300:310] = keys[0] ^ np.uint64(1)
    assert (sm.draw._argsort_keys(keys) == np.lexsort((np.arange(len(keys)), keys))).all()


@pytest.mark.parametrize("dtype", ["str", object, "category", "string[python]"])
def test_factorize_sorted_matches_pandas(dtype):
    s = pd.Series(["b", None, "a", "c", "a", None, "b"], dtype=dtype)
    codes, uniques = sm.allocation._factorize_sorted(s)
    ref_codes, ref_uniques = pd.factorize(s, sort=True, use_na_sentinel=False)
    assert codes.tolist() == ref_codes.tolist()
    assert [None if pd.isna(v) else v for v in uniques] == [None if pd.isna(v) else v for v in ref_uniques]


def _iterative_capped(w, cap, n):
    """Textbook redistribution: allocate pro rata, fix strata that exceed their cap, repeat."""
    x = np.zeros(len(w))
    free = np.ones(len(w), bool)
    while True:
        rest = n - x[~free].sum()
        x[free] = rest * w[free] / w[free].sum()
        over = free & (x > cap)
        if not over.any():
            return x
        x[over] = cap[over]
        free &= ~over


def test_capped_allocation_matches_textbook_redistribution():
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(2, 30))
        cap = rng.integers(1, 60, k)
        w = rng.random(k) * rng.choice([1, 100], k)
        n = int(rng.integers(1, cap.sum()))
        got = sm.allocation._capped_allocation(w, np.zeros(k, dtype=np.int64), cap, n)
        ref = _iterative_capped(w, cap.astype(float), n)
        assert got.sum() == n and (got <= cap).all() and (got >= 0).all()
        assert np.all(np.abs(got - ref) < 1 + 1e-9), (got, ref)


def test_inject_golden_skips_items_already_in_the_sample(pop):
    s = sm.stratified_sample(pop, [S.VENDOR], 38, seed=1)
    golden = pd.DataFrame(
        {S.ITEM_ID: s[S.DECISION_ID].tolist()[:5] + ["g1", "g2"], S.GOLD_LABEL: "x", S.POLICY: "hate_speech"}
    )
    w = sm.inject_golden(s, golden, share=0.05, seed=1)  # round(38 * .05 / .95) = 2
    assert sorted(w.loc[w[S.IS_GOLDEN], S.ITEM_ID]) == ["g1", "g2"]
    assert not w[S.DECISION_ID].duplicated().any()
    with pytest.raises(SamplingError, match="golden set holds 2"):
        sm.inject_golden(s, golden, share=0.1, seed=1)


def test_inject_golden_copies_item_description(pop):
    s = sm.stratified_sample(pop, [S.VENDOR], 40, seed=1).assign(**{S.CONTENT_ID: "c"})
    golden = pd.DataFrame(
        {
            S.ITEM_ID: ["g1", "g2"],
            S.GOLD_LABEL: "x",
            S.POLICY: "self_harm",
            S.CONTENT_ID: ["cg1", None],
            S.CONTENT_TYPE: "livestream",
            "note": "not copied",
        }
    )
    w = sm.inject_golden(s, golden, share=0.05, seed=1)
    g = w[w[S.IS_GOLDEN]].set_index(S.ITEM_ID)
    assert g.loc["g1", S.CONTENT_ID] == "cg1" and g.loc["g2", S.CONTENT_ID] == "g2"
    assert (g[S.CONTENT_TYPE] == "livestream").all() and (g[S.POLICY] == "self_harm").all()
    assert "note" not in w.columns and g[S.VENDOR].isna().all()
