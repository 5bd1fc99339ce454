"""Tests of modqa_lib.stats.transparency (DSA accuracy figures) and the score-band sampler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modqa_lib.config import PROJ_ROOT
from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, EstimationError
from modqa_lib.stats.sampling import draw_by_plan, nonactioned_sample, score_band_sample, score_bands, stratified_sample
from modqa_lib.stats.sampling.nonactioned import ACTIONED
from modqa_lib.stats.transparency import (
    VIOLATING,
    automated_accuracy,
    load_systems,
    plan_summary,
    plan_transparency_audits,
)

RESULTS = PROJ_ROOT / "tests" / "results"


def _hand():
    df = pd.read_csv(RESULTS / "transparency_hand.csv")
    df[ACTIONED] = df[ACTIONED].astype(bool)
    df[VIOLATING] = df[VIOLATING].astype(bool)
    return df


def test_hand_computed_precision_recall():
    aud = _hand()
    exp = pd.read_csv(RESULTS / "transparency_hand_expected.csv").set_index("metric")
    out = automated_accuracy(aud, None, metrics=["precision", "recall"], min_n=0, max_half_width=1, fpc=False)
    got = out.set_index("metric")
    for m in ("precision", "recall"):
        assert got.loc[m, "estimate"] == pytest.approx(exp.loc[m, "estimate"], abs=1e-9)
        assert got.loc[m, "se"] == pytest.approx(exp.loc[m, "se"], abs=1e-9)
    # population defaults to the Horvitz-Thompson cell size: 100 + 60 + 200 + 1000
    assert got.loc["recall", "population"] == 1360
    assert got.loc["precision", "population"] == 160
    # the finite-population correction only shrinks the variance
    fpc = automated_accuracy(aud, None, metrics=["precision", "recall"], min_n=0).set_index("metric")
    assert (fpc["se"] < got["se"]).all()
    assert fpc["estimate"].tolist() == pytest.approx(got["estimate"].tolist())


def test_not_estimable_without_nonactioned_audits():
    aud = _hand()
    aud = aud[aud[ACTIONED]]
    pop = pd.DataFrame({S.SYSTEM: "clf", S.LANGUAGE: "de", ACTIONED: [True] * 160 + [False] * 1200})
    out = automated_accuracy(aud, pop, min_n=0).set_index("metric")
    for m in ("recall", "fnr", "fpr", "npv", "accuracy"):
        assert out.loc[m, "status"] == "not_estimable"
        assert out.loc[m, "note"] == "not estimable: no audited non-actioned items"
        assert np.isnan(out.loc[m, "estimate"]) and np.isnan(out.loc[m, "ci_low"])
    assert out.loc["precision", "status"] != "not_estimable"
    assert out.loc["recall", "population"] == 1360 and out.loc["npv", "population"] == 1200


def test_small_cell_flagged_insufficient():
    out = automated_accuracy(_hand(), None, min_n=30).set_index("metric")
    assert (out["status"] == "insufficient_sample").all()
    out = automated_accuracy(_hand(), None, min_n=0, max_half_width=0.9).set_index("metric")
    assert out.loc["accuracy", "status"] == "ok"


def test_unknown_metric_message():
    with pytest.raises(EstimationError, match="unknown transparency metric"):
        automated_accuracy(_hand(), None, metrics=["f1"])


def _population(seed=7):
    rng = np.random.default_rng(seed)
    rows = []
    # an ordinary cell, a rare-violation cell (1% prevalence) and a small cell
    for lang, n, prev in (("de", 4000, 0.10), ("pl", 15000, 0.01), ("mt", 1000, 0.10)):
        v = rng.random(n) < prev
        score = np.where(v, rng.beta(4, 1.5, n), rng.beta(1.3, 6.5, n))
        rows.append(
            pd.DataFrame(
                {
                    S.DECISION_ID: [f"{lang}{i}" for i in range(n)],
                    S.SYSTEM: "clf",
                    S.LANGUAGE: lang,
                    S.MODEL_SCORE: score,
                    ACTIONED: score >= 0.5,
                    VIOLATING: v,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _truth(pop):
    out = {}
    for lang, g in pop.groupby(S.LANGUAGE):
        a, v = g[ACTIONED].to_numpy(), g[VIOLATING].to_numpy()
        out[lang] = {
            "precision": (a & v).sum() / a.sum(),
            "recall": (a & v).sum() / v.sum(),
            "accuracy": (a == v).mean(),
            "fpr": (a & ~v).sum() / (~v).sum(),
            "fnr": (~a & v).sum() / v.sum(),
            "npv": (~a & ~v).sum() / (~a).sum(),
        }
    return out


def _planned_draws(pop, plan, reps, seed0):
    """``reps`` draws of a plan with the library's sampler, as :func:`draw_by_plan` makes them.

    The stratum key (arm | system | language | score band) is computed once; each draw is
    ``stratified_sample(..., allocation="equal", min_per_stratum=0)`` on it, which is what
    ``draw_by_plan`` does (checked against it for the first draw).
    """
    df = pop.copy()
    df["arm"] = np.where(df[ACTIONED], "actioned", "non_actioned")
    df["_key"] = df["arm"] + "|" + df[S.SYSTEM] + "|" + df[S.LANGUAGE] + "|" + score_bands(df[S.MODEL_SCORE])
    want = dict(
        zip(plan["arm"] + "|" + plan[S.SYSTEM] + "|" + plan[S.LANGUAGE] + "|" + plan["score_band"], plan["allocated"])
    )
    sizes = {k: min(int(want.get(k, 0)), int(v)) for k, v in df["_key"].value_counts().items()}
    out = []
    for r in range(reps):
        s = stratified_sample(df, ["_key"], sizes, allocation="equal", min_per_stratum=0, seed=seed0 + r)
        if r == 0:
            ref = draw_by_plan(pop, plan, seed=seed0)
            assert set(ref[S.DECISION_ID]) == set(s[S.DECISION_ID])
        s["rep"] = r
        s[S.STRATUM] = f"{r}|" + s[S.STRATUM]
        out.append(s.drop(columns="_key"))
    return pd.concat(out, ignore_index=True)


def _coverage_table(est, truth):
    est = est.copy()
    est["truth"] = [truth[lang][m] for lang, m in zip(est[S.LANGUAGE], est["metric"])]
    est["cover"] = (est[S.CI_LOW] <= est["truth"]) & (est["truth"] <= est[S.CI_HIGH])
    return est.groupby([S.LANGUAGE, "metric"]).agg(
        mean=("estimate", "mean"), truth=("truth", "first"), cover=("cover", "mean")
    )


@pytest.mark.slow
def test_simulation_bias_and_coverage():
    """Issue #14: bias and 95% coverage of every metric in an ordinary, a 1%-prevalence and a small cell.

    Known finite population; the ordinary (de) and rare (pl) cells are sampled the way the
    product samples them: last period's audits (a proportional first draw) give the band
    violation rates, :func:`plan_transparency_audits` sizes next period's draw per score band
    (Neyman allocation), and the plan is drawn 300 times with the library's sampler. The rare
    cell's plan puts its non-actioned audits where the missed violations are (about 5 found
    per draw instead of 0.45 with proportional allocation, which made any count-based interval
    cover either ~91% or ~99%). The small cell (mt: 114 actioned, 886 non-actioned decisions)
    gets the fixed 25 + 40 audits of a small market. Before (proportional rare cell): recall,
    FNR and NPV covered 99.0% and accuracy 91.0% at 1% prevalence.
    """
    pop = _population()
    truth = _truth(pop)
    big = pop[pop[S.LANGUAGE] != "mt"]
    cur = nonactioned_sample(big, {"clf|de": 250, "clf|pl": 500}, default_prior=0.5, seed=12345)
    cur = pd.concat(
        [
            cur,
            score_band_sample(
                big, {"clf|de": 150, "clf|pl": 100}, arm="actioned", allocation="proportional", seed=54321
            ),
        ]
    )
    plan = plan_transparency_audits(big, cur, targets={"precision": 0.05, "recall": 0.10})
    reps = 300
    draws = _planned_draws(big, plan, reps, 0)
    small = pop[pop[S.LANGUAGE] == "mt"].copy()
    small["_g"] = np.where(small[ACTIONED], "A", "B")
    small["_b"] = score_bands(small[S.MODEL_SCORE])
    sm = []
    for r in range(reps):
        s = stratified_sample(small, ["_g", "_b"], {"A": 25, "B": 40}, allocation="neyman", min_per_stratum=2, seed=r)
        s["rep"] = r
        s[S.STRATUM] = f"{r}|" + s[S.STRATUM]
        sm.append(s)
    est = automated_accuracy(pd.concat([draws, *sm], ignore_index=True), None, by=["rep", S.LANGUAGE], min_n=0)
    assert est["estimate"].notna().all() and est[S.CI_LOW].notna().all()
    g = _coverage_table(est, truth)
    assert ((g["mean"] - g["truth"]).abs() < 0.015).all(), g
    assert ((g.loc[["de", "pl"], "mean"] - g.loc[["de", "pl"], "truth"]).abs() < 0.005).all(), g
    # ordinary and 1%-prevalence cells: 93-97% for every metric at 1,000 draws (bench/transparency_coverage.py:
    # 93.1-96.4%); at 300 draws the Monte Carlo standard error is 1.3 pts, so each metric is held to 92-98%
    # (two standard errors around the band) and each cell's mean coverage to 93-97%
    cov = g.loc[["de", "pl"], "cover"]
    assert cov.between(0.92, 0.98).all(), g
    assert cov.groupby(level=S.LANGUAGE).mean().between(0.93, 0.97).all(), g
    # small cell: accuracy 93-97%; the other metrics conservative (1,000 draws: 97.3-99.7%; the 40
    # non-actioned audits find 0.36 missed violations per draw: coverage is ~91% or ~99%, and the
    # exact interval takes the high side), never under 93%
    assert 0.93 <= g.loc[("mt", "accuracy"), "cover"] <= 0.97, g
    assert (g.loc["mt", "cover"] >= 0.93).all(), g


def test_zero_variance_cell_has_an_interval():
    """A cell whose bands are censuses or all agree: zero variance, not rounding noise and a NaN interval."""
    aud = pd.read_csv(RESULTS / "transparency_zero_variance.csv")
    out = automated_accuracy(aud, None, by=[S.LANGUAGE], metrics=["precision"], min_n=0).iloc[0]
    assert out["estimate"] == pytest.approx(101 / 114)
    assert np.isfinite(out[S.CI_LOW]) and np.isfinite(out[S.CI_HIGH])
    assert out[S.CI_LOW] < out["estimate"] < out[S.CI_HIGH]


def test_nonactioned_sample_design():
    pop = _population()
    s = nonactioned_sample(pop, {"clf|de": 200, "clf|pl": 300}, default_prior=0.1, seed=3)
    assert not s[ACTIONED].any()
    assert set(s[S.LANGUAGE]) == {"de", "pl"}
    assert s.groupby(S.LANGUAGE).size().to_dict() == {"de": 200, "pl": 300}
    # weights add up to each band's size (simple random sampling within strata)
    pop_b = pop[~pop[ACTIONED]].assign(b=score_bands(pop.loc[~pop[ACTIONED], S.MODEL_SCORE]))
    sizes = pop_b.groupby([S.LANGUAGE, "b"]).size()
    tot = s.groupby([S.LANGUAGE, "score_band"])[S.WEIGHT].sum()
    for k, v in tot.items():
        assert v == pytest.approx(sizes[k])
    assert s[S.STRATUM].str.startswith("non_actioned|clf|").all()
    # same seed, shuffled rows: same sample
    s2 = nonactioned_sample(
        pop.sample(frac=1, random_state=1), {"clf|de": 200, "clf|pl": 300}, default_prior=0.1, seed=3
    )
    assert set(s2[S.DECISION_ID]) == set(s[S.DECISION_ID])


@pytest.mark.slow
def test_planner_sizes_reach_target_margins():
    pop = _population(11)
    pop = pop[pop[S.LANGUAGE] != "mt"]
    # current audits give the priors: a modest first-period draw
    cur = nonactioned_sample(pop, 300, default_prior=0.1, seed=1)
    cur = pd.concat([cur, score_band_sample(pop, 150, arm="actioned", allocation="proportional", seed=2)])
    targets = {"precision": 0.04, "recall": 0.06}
    plan = plan_transparency_audits(pop, cur, targets=targets)
    summ = plan_summary(plan)
    assert (summ["expected_margin"] <= np.array([targets[m] for m in summ["metric"]]) + 1e-9).all(), summ
    truth = _truth(pop)
    reps = []
    for r in range(150):
        s = draw_by_plan(pop, plan, seed=100 + r)
        s["rep"] = r
        s[S.STRATUM] = f"{r}|" + s[S.STRATUM]
        reps.append(s)
    est = automated_accuracy(pd.concat(reps, ignore_index=True), None, by=["rep", S.LANGUAGE], min_n=0)
    est = est[est["metric"].isin(list(targets))]
    est["err"] = (est["estimate"] - [truth[lang][m] for lang, m in zip(est[S.LANGUAGE], est["metric"])]).abs()
    est["hw"] = (est[S.CI_HIGH] - est[S.CI_LOW]) / 2
    g = est.groupby([S.LANGUAGE, "metric"]).agg(q95=("err", lambda e: e.quantile(0.95)), hw=("hw", "median"))
    tgt = np.array([targets[m] for m in g.index.get_level_values("metric")])
    assert (g["q95"] <= 1.15 * tgt).all(), g
    assert (g["hw"] <= 1.15 * tgt).all(), g


def test_load_systems_checks(tmp_path):
    sy = load_systems()
    assert len(sy["systems"]) >= 2 and "de" in sy["languages"]
    p = tmp_path / "s.yaml"
    p.write_text("systems:\n  - {name: a, content_types: [video]}\n  - {name: b, content_types: [video]}\n")
    with pytest.raises(ConfigError, match="claimed by"):
        load_systems(p)
    p.write_text("languages: {de: German}\n")
    with pytest.raises(ConfigError, match="non-empty 'systems'"):
        load_systems(p)


@pytest.mark.slow
def test_planner_sizes_reach_targets_on_demo():
    """Issue #14: the planner's sizes, drawn 200 times from the demo population, meet every cell's target.

    Asserted on the mean half-width of the reported (Korn-Graubard) interval per
    system x language x metric, which is what the planner promises (README, docstring);
    before the fix the planted cell's recall was 12% over target and its precision 4.6x
    over (a zero-variance fallback). The 90th percentile is bounded at 1.10x the target.
    """
    from modqa_lib.data.synthetic_transparency import generate_transparency
    from modqa_lib.stats.transparency import prepare_transparency_frame

    d = generate_transparency(seed=20261125, n_decisions=40_000)
    pop, aud = prepare_transparency_frame(d["decisions"], d["audits"])
    pop[VIOLATING] = d["violating"].reindex(pop[S.DECISION_ID]).to_numpy()
    targets = {"precision": 0.02, "recall": 0.05}
    plan = plan_transparency_audits(pop, aud, targets=targets)
    summ = plan_summary(plan)
    assert (summ["expected_margin"] <= np.array([targets[m] for m in summ["metric"]])).all(), summ
    reps = []
    for r in range(200):
        s = draw_by_plan(pop, plan, seed=1000 + r)
        s["rep"] = r
        s[S.STRATUM] = f"{r}|" + s[S.STRATUM]
        reps.append(s)
    est = automated_accuracy(
        pd.concat(reps, ignore_index=True), None, by=["rep", S.SYSTEM, S.LANGUAGE], metrics=list(targets), min_n=0
    )
    assert est["estimate"].notna().all()
    half = ((est[S.CI_HIGH] - est[S.CI_LOW]) / 2).groupby([est[S.SYSTEM], est[S.LANGUAGE], est["metric"]])
    hw, q90 = half.mean(), half.quantile(0.9)
    assert len(hw) == 30  # 3 systems (incl. human moderation) x 5 languages x 2 metrics
    tgt = np.array([targets[m] for m in hw.index.get_level_values("metric")])
    # the promise: the mean half-width is within target in every cell
    assert (hw.to_numpy() <= tgt).all(), hw[hw.to_numpy() > tgt]
    # not promised, but bounded: the 90th percentile stays within 1.10x the target (measured: up to 1.08x,
    # the planted low-recall cell's recall at 0.0518)
    assert (q90.to_numpy() <= 1.10 * tgt).all(), q90[q90.to_numpy() > 1.10 * tgt]
