"""Tests of modqa_lib.stats.operations: handle time, SLA, productivity, cost per correct decision, speed-quality.

References: the quantile interval is pinned to the order-statistic ranks of
Conover (1999, section 3.2) computed from scipy.stats.binom; Wilson intervals
to statsmodels; the flags and intervals are checked by seeded simulation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.data import io
from modqa_lib.errors import ConfigError
from modqa_lib.stats import operations as op
from modqa_lib.stats.scoring import bh_qvalues

TARGETS = {
    "sla": {"default": {"minutes": 60, "share": 0.9}, "livestream": {"minutes": 10, "share": 0.95}},
    "aht_s": {"default": 60, "livestream": 90},
}


def _decisions(n=4000, seed=0, sites=("A", "B", "C", "D"), fast=None, ct="video"):
    rng = np.random.default_rng(seed)
    site = rng.choice(sites, n)
    ht = rng.lognormal(np.log(45), 0.5, n)
    if fast is not None:
        ht[site == fast] *= 0.6
    decided = pd.Timestamp("2026-09-07", tz="UTC") + pd.to_timedelta(rng.uniform(0, 28 * 86400, n), unit="s")
    wait = rng.lognormal(np.log(3), 0.6, n)
    return pd.DataFrame(
        {
            S.DECISION_ID: [f"d{i}" for i in range(n)],
            S.SITE: site,
            S.VENDOR: np.where(np.isin(site, ["A", "B"]), "Vendor X", "Vendor Y"),
            S.QUEUE: "Q-" + ct,
            S.CONTENT_TYPE: ct,
            S.HANDLE_TIME_S: ht,
            S.DECIDED_AT: decided,
            S.REPORTED_AT: decided - pd.to_timedelta(wait * 60, unit="s"),
        }
    )


def _audits(dec, rate=0.05, err=None, seed=1, frac=0.3):
    rng = np.random.default_rng(seed)
    a = dec.sample(frac=frac, random_state=seed).copy()
    e = np.full(len(a), rate)
    for site, r in (err or {}).items():
        e[(a[S.SITE] == site).to_numpy()] = r
    a[S.IS_ERROR] = rng.random(len(a)) < e
    a[S.WEIGHT] = 1 / frac
    return a


# ------------------------------------------------------------------ quantile CI
def test_quantile_ci_matches_order_statistic_ranks():
    x = np.sort(np.random.default_rng(3).exponential(size=101))
    est, lo, hi = op.quantile_ci(x, 0.5, alpha=0.05)
    assert est == pytest.approx(np.median(x))
    # Conover: the interval is [x_(r), x_(s)] with r, s from Binomial(n, 0.5) quantiles
    r = int(stats.binom.ppf(0.025, 101, 0.5))
    s = int(stats.binom.ppf(0.975, 101, 0.5)) + 1
    assert lo == pytest.approx(x[r - 1]) and hi == pytest.approx(x[s - 1])


@pytest.mark.parametrize("q", [0.5, 0.9])
def test_quantile_ci_covers_in_simulation(q):
    rng = np.random.default_rng(11)
    true = stats.lognorm(s=0.6, scale=45).ppf(q)
    cover = 0
    for _ in range(400):
        _, lo, hi = op.quantile_ci(rng.lognormal(np.log(45), 0.6, 200), q)
        cover += lo <= true <= hi
    assert 0.93 <= cover / 400 <= 0.99  # exact intervals are conservative


def _scipy_quantile_ci(x, q, alpha):
    """The reference: scipy.stats.quantile_test per group (what handle_time_table called before #10)."""
    ci = stats.quantile_test(x, q=float(np.quantile(x, q)), p=q).confidence_interval(confidence_level=1 - alpha)
    return float(np.quantile(x, q)), float(ci.low), float(ci.high)


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.1])
def test_handle_time_table_equals_scipy_quantile_test_per_group(alpha):
    # groups of 1 to 400 decisions (bounds missing for the smallest), with ties: the vectorised
    # order-statistic ranks must give exactly scipy's intervals, and the mean the same float sum
    dec = _decisions(n=6000, seed=5, sites=tuple("ABCDEFGHIJ"))
    dec[S.HANDLE_TIME_S] = dec[S.HANDLE_TIME_S].round(0)
    dec[S.QUEUE] = [f"q{i % 37}" if i < 5000 else f"s{i}" for i in range(len(dec))]
    dec = dec.iloc[: 5000 + 3]
    t = op.handle_time_table(dec, by=[S.SITE, S.QUEUE], alpha=alpha)
    assert len(t) > 300 and t["n"].min() == 1
    for row, (_, g) in zip(t.itertuples(), dec.groupby([S.SITE, S.QUEUE], sort=True)):
        x = g[S.HANDLE_TIME_S].to_numpy(float)
        expect = _scipy_quantile_ci(x, 0.5, alpha) + _scipy_quantile_ci(x, 0.9, alpha) + (float(x.mean()),)
        got = (row.median_s, row.median_ci_low, row.median_ci_high, row.p90_s, row.p90_ci_low, row.p90_ci_high)
        np.testing.assert_array_equal(np.array(got + (row.mean_s,)), np.array(expect))
    for x in (np.array([3.0]), np.arange(1.0, 12.0), np.random.default_rng(1).exponential(size=57)):
        np.testing.assert_array_equal(op.quantile_ci(x, 0.9, alpha), _scipy_quantile_ci(x, 0.9, alpha))


def test_handle_time_table_columns_and_status():
    dec = _decisions(fast="A")
    t = op.handle_time_table(dec, by=S.SITE, targets=TARGETS)
    assert list(t[S.SITE]) == ["A", "B", "C", "D"]
    a = t.set_index(S.SITE)
    assert a.loc["A", "median_s"] < a.loc["B", "median_ci_low"]
    assert set(t["aht_status"]) <= {"met", "at risk", "missed"} and (t["aht_target_s"] == 60).all()
    assert (t["median_ci_low"] <= t["median_s"]).all() and (t["median_s"] <= t["median_ci_high"]).all()


# ------------------------------------------------------------------------ SLA
def test_sla_rule_per_decision_equals_the_per_row_lookup():
    # #10: one look-up per content type instead of one per decision; same minutes and shares
    sla = {**TARGETS["sla"], "image": {"minutes": 30}}
    for ct in (
        pd.Series(["video", "livestream", None, np.nan, "image", "other"] * 3),
        pd.Series(["video", "livestream", "image"] * 5, dtype="category"),
        pd.Series(["video", "livestream"] * 4, dtype="string[pyarrow]"),
    ):
        mins, share = op._sla_for({"sla": sla}, ct)
        rule = [sla.get(str(t)) or sla["default"] for t in ct.astype(object)]
        np.testing.assert_array_equal(mins, np.array([r.get("minutes", np.nan) for r in rule], dtype=float))
        np.testing.assert_array_equal(share, np.array([r.get("share", np.nan) for r in rule], dtype=float))


def test_sla_share_is_wilson_and_mixed_slas_are_not_judged():
    dec = _decisions()
    t = op.sla_table(dec, TARGETS, by=S.QUEUE)
    within = int(((dec[S.DECIDED_AT] - dec[S.REPORTED_AT]).dt.total_seconds() / 60 <= 60).sum())
    lo, hi = proportion_confint(within, len(dec), alpha=0.05, method="wilson")
    r = t.iloc[0]
    assert r["within"] == within and r["ci_low"] == pytest.approx(lo) and r["ci_high"] == pytest.approx(hi)
    mixed = pd.concat([dec, _decisions(ct="livestream", seed=4)]).assign(**{S.QUEUE: "one"})
    m = op.sla_table(mixed, TARGETS, by=S.QUEUE).iloc[0]
    assert np.isnan(m["target"]) and m["status"] == "mixed SLAs"


def test_sla_without_reported_at_counts_them_and_needs_targets():
    dec = _decisions(n=200)
    dec.loc[:49, S.REPORTED_AT] = pd.NaT
    r = op.sla_table(dec, TARGETS, by=S.QUEUE).iloc[0]
    assert r["n"] == 150 and r["n_no_report"] == 50
    with pytest.raises(ConfigError, match="operations.sla"):
        op.sla_table(dec, {}, by=S.QUEUE)


def test_sla_peaks_finds_a_planted_weekend_breach_and_nothing_under_the_null():
    dec = _decisions(n=20_000, seed=5, ct="livestream")
    t = dec[S.DECIDED_AT]
    peak = (t.dt.day_of_week >= 5) & (t.dt.hour >= 18)
    dec.loc[peak, S.REPORTED_AT] = dec.loc[peak, S.DECIDED_AT] - pd.Timedelta(minutes=12)
    flagged = op.sla_peaks(dec, TARGETS).query("flag")
    assert set(flagged["day"]) == {"Sat", "Sun"} and set(flagged["hour"]) == {18, 21}


def test_sla_peaks_cells_match_a_loop_over_groups_with_wilson_and_binomtest():
    """The vectorised cells equal a per-cell loop: counts, Wilson interval, exact one-sided binomial p."""
    dec = pd.concat([_decisions(n=3000, seed=7), _decisions(n=1500, seed=8, ct="livestream")])
    dec = dec.assign(**{S.QUEUE: np.where(dec[S.CONTENT_TYPE] == "video", "Q-video", "Q-live")})
    dec.loc[dec.index[:40], S.REPORTED_AT] = pd.NaT
    out = op.sla_peaks(dec, TARGETS, by=S.QUEUE, min_n=20)
    wait = (dec[S.DECIDED_AT] - dec[S.REPORTED_AT]).dt.total_seconds() / 60
    sla = np.where(dec[S.CONTENT_TYPE] == "video", 60, 10)
    share = np.where(dec[S.CONTENT_TYPE] == "video", 0.9, 0.95)
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    key = pd.DataFrame(
        {
            "q": dec[S.QUEUE].to_numpy(),
            "day": [days[i] for i in dec[S.DECIDED_AT].dt.day_of_week],
            "hour": dec[S.DECIDED_AT].dt.hour.to_numpy() // 3 * 3,
            "known": wait.notna().to_numpy(),
            "within": (wait <= sla).to_numpy(),
            "target": share,
        }
    )
    checked = 0
    for (q, day, hour), g in key.groupby(["q", "day", "hour"]):
        r = out[(out[S.QUEUE] == q) & (out["day"] == day) & (out["hour"] == hour)].iloc[0]
        n, k = int(g["known"].sum()), int((g["within"] & g["known"]).sum())
        assert (r["n"], r["n_no_report"], r["within"]) == (n, len(g) - n, k)
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert r["ci_low"] == pytest.approx(lo) and r["ci_high"] == pytest.approx(hi)
        if n >= 20:
            p = stats.binomtest(k, n, float(g["target"].iloc[0]), alternative="less").pvalue
            assert r["p_value"] == pytest.approx(p, rel=1e-12, abs=1e-300)
            checked += 1
        else:
            assert np.isnan(r["p_value"])
    assert len(out) == key.groupby(["q", "day", "hour"]).ngroups and checked > 50


@pytest.mark.slow
def test_sla_peaks_false_alarm_rate_under_the_null_is_at_most_alpha():
    """Every block exactly at the target share: the share of reports with any flag stays <= alpha."""
    rng = np.random.default_rng(21)
    reps, hits = 200, 0
    base = _decisions(n=6000, seed=9, ct="livestream")
    for _ in range(reps):
        ok = rng.random(len(base)) < 0.95  # true share = target
        wait = np.where(ok, 5.0, 15.0)
        d = base.assign(**{S.REPORTED_AT: base[S.DECIDED_AT] - pd.to_timedelta(wait, unit="m")})
        hits += bool(op.sla_peaks(d, TARGETS)["flag"].any())
    assert hits / reps <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / reps)


def test_sla_weekly_is_a_p_chart_of_breaches():
    chart = op.sla_weekly(_decisions(), TARGETS)
    assert {"week", "n", "errors", "error_rate", "lcl", "ucl"} <= set(chart.columns) and len(chart) == 4


# ------------------------------------------------------------- productivity
def test_productivity_is_3600_over_mean_handle_time():
    dec = _decisions()
    t = op.productivity_table(dec, by=S.VENDOR, target=60).set_index(S.VENDOR)
    x = dec.loc[dec[S.VENDOR] == "Vendor X", S.HANDLE_TIME_S]
    assert t.loc["Vendor X", "decisions_per_hour"] == pytest.approx(3600 / x.mean())
    assert t.loc["Vendor X", "decisions_per_hour_ci_low"] < t.loc["Vendor X", "decisions_per_hour"]
    assert t.loc["Vendor X", "productive_hours"] == pytest.approx(x.sum() / 3600)


# ----------------------------------------------------------------------- cost
RATES = {
    "vendors": {"Vendor X": {"basis": "per_decision", "price": 0.5}, "Vendor Y": {"basis": "per_hour", "price": 40}}
}


def test_cost_per_correct_decision_divides_by_design_weighted_accuracy():
    dec = _decisions()
    aud = _audits(dec, err={"C": 0.2, "D": 0.2})
    t = op.cost_table(dec, aud, RATES).set_index(S.VENDOR)
    y = dec[dec[S.VENDOR] == "Vendor Y"]
    per = 40 * y[S.HANDLE_TIME_S].sum() / 3600 / len(y)
    assert t.loc["Vendor Y", "cost_per_decision"] == pytest.approx(per)
    assert t.loc["Vendor Y", "cost_per_correct"] == pytest.approx(per / t.loc["Vendor Y", "accuracy"])
    assert t.loc["Vendor Y", "cost_per_correct_ci_high"] == pytest.approx(per / t.loc["Vendor Y", "ci_low"])
    with pytest.raises(ConfigError, match="rates.yaml"):
        op.cost_table(dec, aud, {"vendors": {"Vendor X": {"basis": "monthly", "price": 1}}})
    no_price = op.cost_table(dec, aud, {"vendors": {}})
    assert no_price["note"].str.contains("no contract price").all()


def test_cost_per_correct_interval_covers_in_simulation():
    """The interval maps the accuracy interval through cost / accuracy, so it covers as often (93-97%)."""
    rng = np.random.default_rng(7)
    dec = _decisions(n=3000, seed=2)
    true_acc = 0.92
    cover, reps = 0, 300
    for i in range(reps):
        a = dec.sample(n=400, random_state=i).assign(**{S.IS_ERROR: rng.random(400) > true_acc, S.WEIGHT: 7.5})
        r = op.cost_table(dec, a, RATES).set_index(S.VENDOR).loc["Vendor X"]
        true_cost = 0.5 / true_acc
        cover += r["cost_per_correct_ci_low"] <= true_cost <= r["cost_per_correct_ci_high"]
    assert 0.93 <= cover / reps <= 0.975


# -------------------------------------------------------------- speed-quality
def test_speed_quality_flags_only_the_fast_and_inaccurate_site():
    dec = _decisions(n=20_000, fast="A")
    aud = _audits(dec, err={"A": 0.12, "B": 0.12})  # B inaccurate but not fast
    sq = op.speed_quality(dec, aud, by=S.SITE).set_index(S.SITE)
    assert sq["flag"].tolist() == [True, False, False, False]
    assert "speed bought with accuracy" in sq.loc["A", "reading"]


@pytest.mark.parametrize("ties", [False, True])
def test_mannwhitney_vs_rest_equals_scipy_per_unit(ties):
    # what speed_quality did per unit before #10: scipy.stats.mannwhitneyu(unit, rest, alternative="less");
    # units of 1 to 8 decisions take scipy's exact path when there are no ties
    dec = _decisions(n=3000, seed=8, sites=tuple("ABCDEFGHIJKL"))
    dec.loc[dec.index[:20], S.SITE] = [f"tiny{i % 6}" for i in range(20)]
    if ties:
        dec[S.HANDLE_TIME_S] = dec[S.HANDLE_TIME_S].round(0)
    x, g = dec[S.HANDLE_TIME_S].to_numpy(float), dec[S.SITE]
    units = sorted(g.unique()) + ["absent"]
    got = op.mannwhitney_less_vs_rest(x, g, units)
    expect = [
        stats.mannwhitneyu(x[(g == u).to_numpy()], x[(g != u).to_numpy()], alternative="less").pvalue
        if (g == u).any()
        else np.nan
        for u in units
    ]
    np.testing.assert_array_equal(got, np.array(expect))
    assert np.isnan(op.mannwhitney_less_vs_rest(x, pd.Series(["A"] * len(x)), ["A"])).all()


def test_speed_quality_by_moderator_equals_the_per_unit_loop():
    # the whole table against the per-unit loop speed_quality ran before #10 (scipy per moderator)
    dec = _decisions(n=8000, seed=21, fast="A")
    dec[S.MODERATOR_ID] = [f"m{i % 40}" if i % 97 else "solo" for i in range(len(dec))]
    aud = _audits(dec, err={"A": 0.12})
    sq = op.speed_quality(dec, aud, by=S.MODERATOR_ID)
    x, y, w = dec[S.HANDLE_TIME_S].to_numpy(float), aud[S.IS_ERROR].to_numpy(float), aud[S.WEIGHT].to_numpy(float)
    p_fast, p_acc = [], []
    for u in sq[S.MODERATOR_ID]:
        inn, ain = (dec[S.MODERATOR_ID] == u).to_numpy(), (aud[S.MODERATOR_ID] == u).to_numpy()
        p_fast.append(stats.mannwhitneyu(x[inn], x[~inn], alternative="less").pvalue)
        if ain.sum() >= 30:
            (pu, vu), (pr, vr) = op._hajek(y[ain], w[ain]), op._hajek(y[~ain], w[~ain])
            p_acc.append(float(stats.norm.sf((pu - pr) / np.sqrt(vu + vr))))
        else:
            p_acc.append(np.nan)
    np.testing.assert_array_equal(sq["q_faster"].to_numpy(), bh_qvalues(np.array(p_fast)))
    np.testing.assert_array_equal(sq["q_less_accurate"].to_numpy(), bh_qvalues(np.array(p_acc)))
    assert sq["q_less_accurate"].notna().sum() == 40 and sq["q_faster"].notna().all()


@pytest.mark.slow
def test_speed_quality_false_flag_rate_under_the_null_is_at_most_alpha():
    rng = np.random.default_rng(13)
    reps, hits = 200, 0
    for i in range(reps):
        dec = _decisions(n=2000, seed=1000 + i, sites=tuple("ABCDEF"))
        aud = _audits(dec, seed=int(rng.integers(1 << 30)))
        hits += bool(op.speed_quality(dec, aud, by=S.SITE)["flag"].any())
    assert hits / reps <= 0.05


# ------------------------------------------------------------ planted truths
@pytest.fixture(scope="module")
def demo_ops(demo60k):
    dec = demo60k.tables["decisions"]
    return dec, dec[dec[S.HANDLE_TIME_S].notna()], io.audited_decisions(demo60k.tables)


def test_demo_corner_cutting_site_is_the_one_flagged(demo_ops):
    _, human, audits = demo_ops
    sq = op.speed_quality(human, audits, by=S.SITE)
    assert sq.loc[sq["flag"], S.SITE].tolist() == ["Pune"]
    assert sq.set_index(S.SITE)["median_s"].idxmin() == "Pune"


def test_demo_cheapest_per_decision_is_not_cheapest_per_correct_decision(demo_ops):
    _, human, audits = demo_ops
    cost = op.cost_table(human, audits, io.load_yaml("rates")).set_index(S.VENDOR)
    assert cost["cost_per_decision"].idxmin() == "Vendor D"
    assert cost["cost_per_correct"].idxmin() != "Vendor D"


def test_demo_livestream_sla_breaks_at_weekend_peaks_only(demo_ops):
    dec, _, _ = demo_ops
    targets = io.load_targets()["operations"]
    live = dec[dec[S.CONTENT_TYPE] == "livestream"]
    peaks = op.sla_peaks(live, targets, by=S.QUEUE)
    flagged = peaks[peaks["flag"]]
    assert set(flagged[S.QUEUE]) == {"ID-livestream"}
    assert set(flagged["day"]) <= {"Sat", "Sun"} and not flagged.empty


def test_handle_time_weekly_gives_one_row_per_site_and_week():
    dec = _decisions()
    w = op.handle_time_weekly(dec, by=S.SITE)
    assert len(w) == 4 * 4 and {"week", "median_s", "median_ci_low"} <= set(w.columns)
    assert w.groupby(S.SITE)["week"].nunique().eq(4).all()
