"""modqa_lib.stats.drift: control limits and recurrences against worked examples, change
points against a brute-force scan, and the planted harassment drift of the demo data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, DataContractError, EstimationError
from modqa_lib.stats import drift

RESULTS = Path(__file__).parents[1] / "results"
T0 = pd.Timestamp("2026-08-31")


def weeks(k: int) -> list[pd.Timestamp]:
    return [T0 + pd.Timedelta(weeks=i) for i in range(k)]


def audits_from_counts(rows, period=S.WEEK, by=()) -> pd.DataFrame:
    """Audit-level frame from (group values..., period, n, errors) tuples."""
    recs = []
    for r in rows:
        *g, p, n, e = r
        for i in range(n):
            recs.append({**dict(zip(by, g)), period: p, S.IS_ERROR: i < e})
    return pd.DataFrame(recs)


def read(name):
    return pd.read_csv(RESULTS / name, comment="#")


# ------------------------------------------------------------------ p chart
def test_p_chart_constant_n_matches_published_example():
    ref = read("drift_p_chart_published.csv")
    a = audits_from_counts(zip(ref["sample"], ref["n"], ref["errors"]), period="sample")
    out = drift.p_chart(a, period="sample", baseline="all", limits="normal")
    assert out["sample"].tolist() == ref["sample"].tolist()
    np.testing.assert_allclose(out["center"], ref["center"], atol=1e-12)
    np.testing.assert_allclose(out["ucl"], ref["ucl"], atol=5e-5)  # published to 4 dp
    np.testing.assert_allclose(out["lcl"], ref["lcl"], atol=5e-5)
    assert out["out_of_control"].tolist() == ref["out_of_control"].tolist()
    assert set(out["direction"]) == {drift.NO_SIGNAL}


def test_p_chart_variable_n_matches_hand_computation():
    ref = read("drift_p_chart_pyzdek.csv")
    a = audits_from_counts(zip(ref["shipment"], ref["n"], ref["errors"]), period="shipment")
    out = drift.p_chart(a, period="shipment", baseline="all", limits="normal")
    np.testing.assert_array_equal(out["n"], ref["n"])
    np.testing.assert_allclose(out["error_rate"], ref["errors"] / ref["n"])
    np.testing.assert_allclose(out["center"], ref["center"], atol=1e-12)
    np.testing.assert_allclose(out["lcl"], ref["lcl"], atol=1e-7)
    np.testing.assert_allclose(out["ucl"], ref["ucl"], atol=1e-7)
    assert out["out_of_control"].tolist() == ref["out_of_control"].tolist()


def test_p_chart_clips_limits_flags_both_directions_and_groups():
    w = weeks(4)
    # group X: baseline (first half = 2 weeks) 10/100 per week -> p-bar 0.10
    # week 3: 25/100 (> UCL 0.19); week 4: 0/10 (LCL clipped to 0, not below it)
    # group Y: baseline 1/10 -> p-bar 0.10, week 4: 0/400 -> below LCL 0.055
    rows = [
        ("X", w[0], 100, 10),
        ("X", w[1], 100, 10),
        ("X", w[2], 100, 25),
        ("X", w[3], 10, 0),
        ("Y", w[0], 5, 1),
        ("Y", w[1], 5, 0),
        ("Y", w[2], 20, 2),
        ("Y", w[3], 400, 0),
    ]
    a = audits_from_counts(rows, by=("g",))
    out = drift.p_chart(a, by="g", limits="normal").set_index(["g", S.WEEK])
    x3, x4 = out.loc[("X", w[2])], out.loc[("X", w[3])]
    sd = np.sqrt(0.1 * 0.9 / 100)
    assert x3["ucl"] == pytest.approx(0.1 + 3 * sd)
    assert x3["out_of_control"] and x3["direction"] == "up"
    assert x4["lcl"] == 0.0 and not x4["out_of_control"] and x4["direction"] == "none"
    assert x3["z"] == pytest.approx((0.25 - 0.1) / sd)
    y4 = out.loc[("Y", w[3])]
    assert y4["center"] == pytest.approx(0.1)
    assert y4["lcl"] == pytest.approx(0.1 - 3 * np.sqrt(0.09 / 400))
    assert y4["out_of_control"] and y4["direction"] == "down"
    assert out["in_baseline"].groupby(level=S.WEEK).first().tolist() == [True, True, False, False]


def test_exact_limits_equal_binomial_quantiles_by_hand():
    tail = stats.norm.sf(3.0)
    assert tail == pytest.approx(0.00135, abs=1e-6)
    # by hand: 40 audits a week at p-bar 0.05 (2 expected errors). P(X > 7) <= 0.00135 < P(X > 6), and
    # P(X < 0) = 0, so the exact limits are 0 and 7 errors; the normal UCL 0.05 + 3·sqrt(0.05·0.95/40)
    # = 0.1534 is 6.1 errors, so 7 errors signal with normal limits but not with exact ones
    assert stats.binom.sf(7, 40, 0.05) <= tail < stats.binom.sf(6, 40, 0.05)
    lo, hi = drift.exact_count_limits([40], [0.05])
    assert (lo[0], hi[0]) == (0, 7)
    w = weeks(4)
    a = audits_from_counts([(w[0], 40, 2), (w[1], 40, 2), (w[2], 40, 7), (w[3], 40, 8)])
    ex = drift.p_chart(a)
    nm = drift.p_chart(a, limits="normal")
    assert ex["center"].iloc[0] == pytest.approx(0.05) and ex["ucl"].iloc[2] == pytest.approx(7 / 40)
    assert nm["ucl"].iloc[2] == pytest.approx(0.05 + 3 * np.sqrt(0.05 * 0.95 / 40))
    assert ex["out_of_control"].tolist() == [False, False, False, True]
    assert nm["out_of_control"].tolist() == [False, False, True, True]
    # every row of a chart with varying n equals scipy's binomial quantiles over n
    rng = np.random.default_rng(4)
    rows = [(g, i, p, int(rng.integers(5, 400))) for g in ("X", "Y") for i, p in enumerate(weeks(8))]
    rate = {("X", False): 0.03, ("X", True): 0.12, ("Y", False): 0.4, ("Y", True): 0.25}  # X worse, Y better
    rows = [(g, p, n, int(rng.binomial(n, rate[(g, i >= 4)]))) for g, i, p, n in rows]
    out = drift.p_chart(audits_from_counts(rows, by=("g",)), by="g")
    n, pbar = out["n"].to_numpy(), out["center"].to_numpy()
    np.testing.assert_allclose(out["lcl"], stats.binom.ppf(tail, n, pbar) / n)
    np.testing.assert_allclose(out["ucl"], stats.binom.isf(tail, n, pbar) / n)
    e = out["errors"].to_numpy()
    expected = (e > stats.binom.isf(tail, n, pbar)) | (e < stats.binom.ppf(tail, n, pbar))
    assert out["out_of_control"].tolist() == expected.tolist()
    assert set(out.loc[expected, "direction"]) == {"up", "down"}
    with pytest.raises(ConfigError, match="limits must be one of"):
        drift.p_chart(a, limits="poisson")
    with pytest.raises(ConfigError, match="sigma must be positive"):
        drift.exact_count_limits([40], [0.05], sigma=0)


def test_exact_limits_keep_the_nominal_false_alarm_rate_with_few_expected_errors():
    """Known in-control rate, 1-5 expected errors a period: the share of periods outside the limits
    (both tails; nominal 2 x 0.00135 = 0.0027). Normal 3-sigma limits: 1.1 to 6.5 times the nominal share
    (worst at 1 expected error); exact limits: at most the nominal share in every setting."""
    rng = np.random.default_rng(1104)
    tail = 2 * stats.norm.sf(3.0)
    normal = []
    for p in (0.02, 0.05, 0.08):
        for expected in (1, 2, 3, 5):
            n = round(expected / p)
            x = rng.binomial(n, p, size=200_000)
            lo, hi = drift.exact_count_limits(n, p)
            exact_rate = np.mean((x > hi) | (x < lo))
            sd = np.sqrt(p * (1 - p) / n)
            normal_rate = np.mean((x / n > p + 3 * sd) | (x / n < p - 3 * sd))
            assert exact_rate <= tail + 0.0004, (p, expected, exact_rate)
            normal.append(normal_rate)
    print(np.round(normal, 4))
    assert np.mean(normal) > 2 * tail and max(normal) > 5 * tail


@pytest.mark.parametrize(
    "baseline, expected",
    [(None, 3 / 200), ("first_half", 3 / 200), ("all", 33 / 400), (1, 1 / 100), ([T0 + pd.Timedelta(weeks=3)], 0.2)],
)
def test_p_chart_baseline_options(baseline, expected):
    w = weeks(4)
    a = audits_from_counts([(w[0], 100, 1), (w[1], 100, 2), (w[2], 100, 10), (w[3], 100, 20)])
    out = drift.p_chart(a, baseline=baseline)
    assert out["center"].unique().tolist() == pytest.approx([expected])


def test_p_chart_rejects_bad_input_with_actionable_messages():
    a = audits_from_counts([(T0, 10, 1)])
    with pytest.raises(DataContractError, match="column 'policy'.*required by p_chart"):
        drift.p_chart(a, by=S.POLICY)
    with pytest.raises(EstimationError, match="no audits"):
        drift.p_chart(a.iloc[:0])
    bad = a.assign(**{S.IS_ERROR: "yes"})
    with pytest.raises(DataContractError, match="must be boolean"):
        drift.p_chart(bad)
    with pytest.raises(DataContractError, match="must not be empty"):
        drift.p_chart(a.assign(**{S.IS_ERROR: [None] + [True] * 9}))
    with pytest.raises(ConfigError, match="baseline=5 periods.*1 period"):
        drift.p_chart(a, baseline=5)
    with pytest.raises(ConfigError, match="none of the baseline periods"):
        drift.p_chart(a, baseline=["2030-01-06"])
    with pytest.raises(ConfigError, match="baseline must be"):
        drift.p_chart(a, baseline="last_half")


def test_functions_do_not_mutate_input():
    w = weeks(6)
    a = audits_from_counts([("harassment", p, 50, 2 + 4 * (i > 2)) for i, p in enumerate(w)], by=(S.POLICY,))
    before = a.copy(deep=True)
    drift.p_chart(a, by=S.POLICY)
    drift.ewma_chart(a, by=S.POLICY)
    drift.cusum_chart(a, by=S.POLICY)
    drift.drift_flags(a, charts=("p", "ewma", "cusum"))
    drift.change_points(a, by=S.POLICY)
    pd.testing.assert_frame_equal(a, before)


# ---------------------------------------------------------- EWMA and CUSUM
def test_ewma_recurrence_matches_montgomery_example():
    ref = read("drift_ewma_montgomery.csv")
    out = drift.ewma(ref["x"], lam=0.1, L=2.7, target=10.0, sigma=1.0)
    np.testing.assert_allclose(out["ewma"], ref["ewma"], atol=5e-5)
    np.testing.assert_allclose(out["lcl"], ref["lcl"], atol=5e-5)
    np.testing.assert_allclose(out["ucl"], ref["ucl"], atol=5e-5)
    assert out["out_of_control"].tolist() == ref["out_of_control"].tolist()
    # the book's worked first two values
    assert out["ewma"].iloc[:2].tolist() == pytest.approx([9.945, 9.7495])
    # an independent implementation of the same recurrence (pandas, adjust=False)
    indep = pd.Series([10.0, *ref["x"]]).ewm(alpha=0.1, adjust=False).mean().iloc[1:]
    np.testing.assert_allclose(out["ewma"], indep, rtol=1e-12)


def test_ewma_asymptotic_limits_match_nist_example():
    ref = read("drift_ewma_nist_limits.csv").iloc[0]
    out = drift.ewma(
        [50.0, 51.0], lam=ref["lam"], L=ref["L"], target=ref["target"], sigma=ref["sigma"], asymptotic=True
    )
    assert out["ucl"].iloc[0] == pytest.approx(ref["ucl"], abs=1e-4)
    assert out["lcl"].iloc[0] == pytest.approx(ref["lcl"], abs=1e-4)
    # exact limits converge to the asymptotic ones
    exact = drift.ewma(np.full(200, 50.0), lam=0.3, L=3, target=50, sigma=2.0539)
    assert exact["ucl"].iloc[-1] == pytest.approx(ref["ucl"], abs=1e-4)
    assert exact["ucl"].iloc[0] < exact["ucl"].iloc[-1]


def test_cusum_matches_montgomery_example():
    ref = read("drift_cusum_montgomery.csv")
    out = drift.cusum(ref["x"], k=0.5, h=5.0, target=10.0, sigma=1.0)
    np.testing.assert_allclose(out["c_plus"], ref["c_plus"], atol=5e-3)
    np.testing.assert_allclose(out["c_minus"], ref["c_minus"], atol=5e-3)
    np.testing.assert_array_equal(out["n_plus"], ref["n_plus"])
    np.testing.assert_array_equal(out["n_minus"], ref["n_minus"])
    first = int(np.flatnonzero(out["out_of_control"])[0]) + 1
    assert first == 29
    assert out["c_plus"].iloc[28] == pytest.approx(5.28, abs=5e-3)
    assert out["n_plus"].iloc[28] == 7 and out["direction"].iloc[28] == "up"


def test_ewma_and_cusum_reject_bad_parameters():
    with pytest.raises(ConfigError, match="lam must lie in"):
        drift.ewma([1.0], lam=0)
    with pytest.raises(ConfigError, match="L and sigma"):
        drift.ewma([1.0], L=-1)
    with pytest.raises(EstimationError, match="missing values"):
        drift.ewma([1.0, np.nan])
    with pytest.raises(ConfigError, match="h > 0"):
        drift.cusum([1.0], h=0)
    with pytest.raises(EstimationError, match="missing values"):
        drift.cusum([np.nan])


def test_ewma_and_cusum_charts_standardise_against_baseline_by_hand():
    w = weeks(6)
    n = [100, 100, 100, 50, 200, 100]
    e = [5, 5, 5, 6, 20, 4]
    a = audits_from_counts(list(zip(w, n, e)))
    pbar = 15 / 300  # first half = weeks 1-3
    z = [(ei / ni - pbar) / np.sqrt(pbar * (1 - pbar) / ni) for ni, ei in zip(n, e)]
    ew = drift.ewma_chart(a, lam=0.2, L=3)
    np.testing.assert_allclose(ew["z"], z)
    # recurrence by hand
    zz, hand = 0.0, []
    for v in z:
        zz = 0.2 * v + 0.8 * zz
        hand.append(zz)
    np.testing.assert_allclose(ew["ewma"], hand)
    half = [3 * np.sqrt(0.2 / 1.8 * (1 - 0.8 ** (2 * i))) for i in range(1, 7)]
    np.testing.assert_allclose(ew["ucl"], half)
    assert ew["out_of_control"].tolist() == [abs(h) > u for h, u in zip(hand, half)]
    cu = drift.cusum_chart(a, k=0.5, h=4)
    cp, hand_cp = 0.0, []
    for v in z:
        cp = max(0.0, v - 0.5 + cp)
        hand_cp.append(cp)
    np.testing.assert_allclose(cu["c_plus"], hand_cp)
    assert cu["out_of_control"].tolist() == [c > 4 for c in hand_cp]


# -------------------------------------------------------------- change points
def brute_force_scan(e, n, min_size):
    def ll(x, m):
        p = x / m
        return (x * np.log(p) if x else 0.0) + ((m - x) * np.log(1 - p) if m - x else 0.0)

    best = (-1, None)
    for tau in range(min_size, len(e) - min_size + 1):
        lr = 2 * (ll(sum(e[:tau]), sum(n[:tau])) + ll(sum(e[tau:]), sum(n[tau:])) - ll(sum(e), sum(n)))
        if lr > best[0]:
            best = (lr, tau)
    return best


def test_change_points_equal_brute_force_and_find_a_step():
    rng = np.random.default_rng(7)
    w = weeks(12)
    n = rng.integers(80, 160, 12)
    e = rng.binomial(n, np.where(np.arange(12) < 7, 0.03, 0.10))
    counts = pd.DataFrame({S.WEEK: w, S.N: n, S.ERRORS: e})
    out = drift.change_points(counts).iloc[0]
    lr, tau = brute_force_scan(e.tolist(), n.tolist(), 2)
    assert out["lr_stat"] == pytest.approx(lr)
    assert out["change_period"] == w[tau]
    assert out["change_period"] == w[7]
    assert out["rate_before"] == pytest.approx(e[:tau].sum() / n[:tau].sum())
    assert out["rate_after"] == pytest.approx(e[tau:].sum() / n[tau:].sum())
    assert out["p_value"] == pytest.approx(min(1.0, 9 * stats.chi2.sf(lr, 1)))
    assert out["significant"] and out["direction"] == "up"
    boot = drift.change_points(counts, method="bootstrap", n_boot=199, seed=1).iloc[0]
    assert boot["p_value"] == pytest.approx(1 / 200)
    # the same answer from the audit-level frame
    a = audits_from_counts(list(zip(w, n, e)))
    assert drift.change_points(a).iloc[0]["lr_stat"] == pytest.approx(lr)


def test_change_points_stable_series_not_significant_and_short_series():
    rng = np.random.default_rng(3)
    n = np.full(12, 120)
    counts = pd.DataFrame({S.WEEK: weeks(12), S.N: n, S.ERRORS: rng.binomial(n, 0.05)})
    out = drift.change_points(counts).iloc[0]
    assert not out["significant"] and out["p_value"] > 0.05
    short = drift.change_points(counts.iloc[:3]).iloc[0]
    assert pd.isna(short["change_period"]) and not short["significant"]
    with pytest.raises(ConfigError, match="method"):
        drift.change_points(counts, method="pelt")
    with pytest.raises(DataContractError, match="0 <= errors <= n"):
        drift.change_points(counts.assign(**{S.ERRORS: n + 1}))


# ---------------------------------------------------------------- drift flags
def policy_frame(steps: dict[str, tuple[float, float, int]], k=12, n=200, seed=0):
    """Audits of several policies: (rate before, rate after, first week of new rate)."""
    rng = np.random.default_rng(seed)
    rows = []
    for pol, (r0, r1, at) in steps.items():
        for i, w in enumerate(weeks(k)):
            rows.append((pol, w, n, int(rng.binomial(n, r1 if i >= at else r0))))
    return audits_from_counts(rows, by=(S.POLICY,))


def test_drift_flags_finds_step_and_aligns_policy_change():
    a = policy_frame({"harassment": (0.03, 0.12, 6), "spam_scam": (0.05, 0.05, 0)})
    changes = pd.DataFrame(
        {
            S.CHANGED_AT: pd.to_datetime(["2026-10-12", "2026-09-14"], utc=True),
            S.POLICY: ["harassment", "spam_scam"],
            S.DESCRIPTION: ["pile-ons added", "affiliate links allowed"],
        }
    )
    out = drift.drift_flags(a, policy_changes=changes, charts=("p", "ewma", "cusum"))
    top = out.iloc[0]
    assert top[S.POLICY] == "harassment" and top["rank"] == 1 and top["confirmed"]
    assert top["first_out_of_control"] == T0 + pd.Timedelta(weeks=6)
    assert top["direction"] == "up" and "p" in top["chart"].split("+")
    assert top["policy_change"] == ("after policy change 'harassment: pile-ons added' on 2026-10-12")
    assert top["policy_change_at"] == pd.Timestamp("2026-10-12", tz="UTC")
    assert top["rate_after"] > 0.09 and top["rate_before"] < 0.05
    assert top["rate_change"] == pytest.approx(top["rate_after"] - top["rate_before"])
    # each side's rate carries its n and a Wilson interval (statsmodels)
    assert top["n_before"] + top["n_after"] == top["n"]
    lo, hi = proportion_confint(round(top["rate_after"] * top["n_after"]), top["n_after"], method="wilson")
    assert (top["rate_after_ci_low"], top["rate_after_ci_high"]) == pytest.approx((lo, hi))
    assert top["rate_before_ci_low"] < top["rate_before"] < top["rate_before_ci_high"] < top["rate_after_ci_low"]
    assert top["change_period"] == T0 + pd.Timedelta(weeks=6)
    spam = out.set_index(S.POLICY).loc["spam_scam"]
    assert not spam["confirmed"]
    assert set(out.columns) >= {
        "n",
        "errors",
        "error_rate",
        "center",
        "flagged",
        "first_out_of_control",
        "direction",
        "chart",
        "n_out_of_control",
        "rate_before",
        "rate_after",
        "rate_change",
        "policy_change_at",
        "policy_change_description",
        "policy_change",
        "cp_p_value",
        "confirmed",
        "rank",
    }


def test_drift_flags_policy_change_outside_tolerance_is_not_aligned():
    a = policy_frame({"harassment": (0.03, 0.15, 6)})
    far = pd.DataFrame(
        {S.CHANGED_AT: [pd.Timestamp("2026-09-14", tz="UTC")], S.POLICY: ["harassment"], S.DESCRIPTION: ["old change"]}
    )
    out = drift.drift_flags(a, policy_changes=far).iloc[0]
    assert out["flagged"] and out["policy_change"] == "" and pd.isna(out["policy_change_at"])
    # a change logged one period after the signal is reported as such
    late = far.assign(**{S.CHANGED_AT: [pd.Timestamp("2026-10-19", tz="UTC")]})
    out = drift.drift_flags(a, policy_changes=late).iloc[0]
    assert out["policy_change"].startswith("1 period(s) before policy change 'harassment: ")


def test_drift_flags_error_paths():
    a = policy_frame({"harassment": (0.03, 0.03, 0)}, k=4)
    with pytest.raises(ConfigError, match="charts must be among"):
        drift.drift_flags(a, charts=("shewhart",))
    with pytest.raises(ConfigError, match="tolerance"):
        drift.drift_flags(a, tolerance=-1)
    with pytest.raises(DataContractError, match="policy_changes: column 'description'"):
        drift.drift_flags(a, policy_changes=pd.DataFrame({S.CHANGED_AT: [], S.POLICY: []}))


# ------------------------------------------------------- planted demo truths
def generate_demo():
    """60,000 decisions with a 25% audit rate (about 15,000 audits).

    At a 7.5% audit rate (the generator's default from 192k decisions) (about 4,500 audits, ~45 a week on
    harassment) the planted drift is caught in week 7 or 8 in only about 8 of 12
    seeds: whether the test passed would be luck, not a property of the method.
    With 25% it is caught in week 7 or 8, ranked first, in 12 of 12 seeds.
    """
    from modqa_lib.data import synthetic

    return synthetic.generate(n_decisions=60_000, audit_rate=0.25)


@pytest.fixture(scope="module")
def demo():
    from modqa_lib.data import io

    d = generate_demo()
    return d, io.audited_decisions(d.tables)


@pytest.fixture(scope="module")
def demo_flags(demo):
    d, a = demo
    return drift.drift_flags(a, by=[S.POLICY], policy_changes=d.tables["policy_changes"])


def test_planted_drift_harassment_is_first_and_labelled(demo, demo_flags):
    d, _ = demo
    truth = d.truth["drift"]
    start = pd.Timestamp("2026-08-31")
    top = demo_flags.iloc[0]
    assert top[S.POLICY] == truth["policy"], demo_flags[[S.POLICY, "rank", "cp_lr_stat"]]
    assert top["rank"] == 1 and top["confirmed"] and top["direction"] == "up"
    week = (top["first_out_of_control"] - start).days // 7 + 1
    assert week in (7, 8)
    assert top["policy_change"].startswith("after policy change 'harassment: ")
    assert top["policy_change_at"] == pd.Timestamp(truth["changed_at"])
    assert top["change_period"] == start + pd.Timedelta(weeks=6)
    assert top["rate_before"] < 0.06 and top["rate_after"] > 0.08


def test_planted_drift_few_false_alarms(demo_flags):
    # hate_speech really changes (the Porto retraining, ACT-003): it is not "stable"
    stable = demo_flags[~demo_flags[S.POLICY].isin(["harassment", "hate_speech"])]
    assert len(stable) == 9
    # with a few errors a week a stable policy's baseline rate is itself noisy, so a
    # chart may fire by chance; few do, fewer are confirmed by the change-point test,
    # and none looks as strong or as sustained as the planted drift
    assert int(stable["flagged"].sum()) <= 3, stable[[S.POLICY, "flagged", "n_out_of_control"]]
    assert int(stable["confirmed"].sum()) <= 2, stable[[S.POLICY, "flagged", "cp_p_value"]]
    harassment = demo_flags.set_index(S.POLICY).loc["harassment"]
    assert (stable["cp_lr_stat"] < harassment["cp_lr_stat"]).all()
    assert (stable["n_out_of_control"] < harassment["n_out_of_control"]).all()


def test_planted_drift_change_points(demo):
    d, a = demo
    cp = drift.change_points(a, by=S.POLICY, policy_changes=d.tables["policy_changes"])
    h = cp.set_index(S.POLICY).loc["harassment"]
    assert h["significant"] and h["direction"] == "up"
    assert h["change_period"] == pd.Timestamp("2026-10-12")
    assert h["policy_change"].startswith("after policy change 'harassment: ")


def _null_drift_audits(seed: int, policies: int = 12, weeks: int = 12) -> pd.DataFrame:
    """No change anywhere: each policy keeps its error rate (2-8%) with 40-120 audits a week."""
    rng = np.random.default_rng([seed, 1105])
    start = pd.Timestamp("2026-08-31")
    frames = []
    for i in range(policies):
        rate = 0.02 + 0.06 * i / (policies - 1)
        for w in range(weeks):
            n = int(rng.integers(40, 121))
            frames.append(
                pd.DataFrame(
                    {
                        S.POLICY: f"p{i:02d}",
                        S.WEEK: start + pd.Timedelta(weeks=w),
                        S.IS_ERROR: rng.random(n) < rate,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
def test_drift_reports_show_no_drift_when_nothing_changed():
    """Share of 60 seeded reports (12 policies × 12 weeks, no change) with any drift row:
    every flagged row shown (before) 71.7%; only ``reported`` rows (after) 5.0% (3 of 60; SE 2.8 pts).
    The test runs the first 30 (after: 1 of 30) to stay fast."""
    reps = 30
    before = after = 0
    for seed in range(reps):
        out = drift.drift_flags(_null_drift_audits(seed), by=[S.POLICY])
        before += bool(out["flagged"].any())
        after += bool(out["reported"].any())
    print(before / reps, after / reps)
    assert before / reps > 0.2
    assert after / reps <= 0.05


def test_planted_drift_is_reported_and_stable_policies_are_not(demo_flags):
    rep = demo_flags[demo_flags["reported"]]
    assert "harassment" in set(rep[S.POLICY])
    stable = demo_flags[~demo_flags[S.POLICY].isin(["harassment", "hate_speech"])]
    assert not stable["reported"].any(), stable[[S.POLICY, "flagged", "cp_q_value"]]


def _small_volume_null_audits(seed: int, policies: int = 12, weeks: int = 12) -> pd.DataFrame:
    """No change anywhere, few errors: each policy keeps its error rate (2-8%) and a week expects 1-5 errors."""
    rng = np.random.default_rng([seed, 1104])
    start = pd.Timestamp("2026-08-31")
    rate = np.repeat(0.02 + 0.06 * np.arange(policies) / (policies - 1), weeks)
    n = rng.integers(np.ceil(1 / rate).astype(int), (5 / rate).astype(int) + 1)
    cell = np.repeat(np.arange(policies * weeks), n)
    names = np.array([f"p{i:02d}" for i in range(policies)], dtype=object)
    return pd.DataFrame(
        {
            S.POLICY: names[cell // weeks],
            S.WEEK: start + pd.to_timedelta(7 * (cell % weeks), unit="D"),
            S.IS_ERROR: rng.random(len(cell)) < rate[cell],
        }
    )


@pytest.mark.slow
def test_small_volume_drift_reports_show_no_drift_when_nothing_changed():
    """300 seeded reports of 12 policies x 12 weeks with 1-5 expected errors a week and no change.

    Measured here: share of monitored (post-baseline) weeks out of control on the p chart (first 40 reports),
    normal 3-sigma limits 1.0%, exact limits 0.14% (nominal 0.27%); reports with any drift row shown
    (reported: the change-point test survives Holm over the report's policies) 2.0% (6 of 300). On 100
    reports: policies flagged by any chart 10.7% (normal) -> 5.3% (exact), reports with a flagged row 77% -> 50%."""
    reps = 300
    shown = 0
    points = {"exact": [0, 0], "normal": [0, 0]}
    for seed in range(reps):
        a = _small_volume_null_audits(seed)
        out = drift.drift_flags(a, by=[S.POLICY])
        shown += bool(out["reported"].any())
        if seed < 40:
            for limits in points:
                pc = drift.p_chart(a, by=[S.POLICY], limits=limits)
                mon = ~pc["in_baseline"].to_numpy()
                points[limits][0] += int(pc["out_of_control"].to_numpy()[mon].sum())
                points[limits][1] += int(mon.sum())
    rate = {k: v[0] / v[1] for k, v in points.items()}
    print(shown / reps, rate)
    assert shown / reps <= 0.05
    assert rate["exact"] <= 2 * stats.norm.sf(3.0) < 2 * stats.norm.sf(3.0) * 3 < rate["normal"]
