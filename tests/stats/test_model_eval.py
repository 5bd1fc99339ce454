"""modqa_lib.stats.model_eval: confusion, metrics with intervals, thresholds, HITL overrides.

Hand-built confusion matrices (no sklearn) are stored in
tests/results/model_eval_hand_confusion.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, DataContractError, EstimationError
from modqa_lib.stats.model_eval import (
    METRICS,
    confusion,
    hitl_overrides,
    model_metrics,
    threshold_curve,
    threshold_for_precision,
)

RESULTS = Path(__file__).parents[1] / "results"
NV = S.NO_VIOLATION


def _rows(market: str, tp: int, fp: int, fn: int, tn: int, start: int = 0) -> list[dict]:
    """Model-involved audits with a given confusion matrix (alternating machine / HITL)."""
    out = []
    cells = (
        [("hate_speech", "hate_speech", 0.9)] * tp
        + [("hate_speech", NV, 0.7)] * fp
        + [(NV, "hate_speech", 0.3)] * fn
        + [(NV, NV, 0.1)] * tn
    )
    for i, (model, qa, score) in enumerate(cells):
        ch = "machine" if (start + i) % 2 == 0 else "hitl"
        out.append(
            {
                S.MARKET: market,
                S.CHANNEL: ch,
                S.MODEL_LABEL: model,
                S.MODEL_SCORE: score,
                S.LABEL: model,
                S.QA_LABEL: qa,
            }
        )
    return out


@pytest.fixture
def hand() -> pd.DataFrame:
    rows = _rows("X", 40, 10, 20, 130) + _rows("Y", 5, 0, 5, 10)
    # human decisions and a model row without a score are not model evaluations
    rows += [
        {
            S.MARKET: "X",
            S.CHANNEL: "human",
            S.MODEL_LABEL: None,
            S.MODEL_SCORE: np.nan,
            S.LABEL: "hate_speech",
            S.QA_LABEL: NV,
        }
    ] * 7
    rows += [
        {
            S.MARKET: "Y",
            S.CHANNEL: "hitl",
            S.MODEL_LABEL: "hate_speech",
            S.MODEL_SCORE: np.nan,
            S.LABEL: "hate_speech",
            S.QA_LABEL: NV,
        }
    ]
    df = pd.DataFrame(rows)
    # a machine decision without model_label: the decision label is the model's
    df.loc[0, S.MODEL_LABEL] = None
    df[S.STRATUM] = "s"
    return df


def test_confusion_hand_matrix(hand):
    before = hand.copy()
    c = confusion(hand, S.MARKET).set_index(S.MARKET)
    pd.testing.assert_frame_equal(hand, before)
    assert c.loc["X", ["tp", "fp", "fn", "tn"]].tolist() == [40, 10, 20, 130]
    assert c.loc["Y", ["tp", "fp", "fn", "tn"]].tolist() == [5, 0, 5, 10]
    assert c[S.N].tolist() == [200, 20]
    w = confusion(hand.assign(**{S.WEIGHT: 3.0}), S.MARKET, weights=S.WEIGHT).set_index(S.MARKET)
    assert w.loc["X", ["tp_w", "fp_w", "fn_w", "tn_w"]].tolist() == [120, 30, 60, 390]
    overall = confusion(hand)
    assert overall.loc[0, ["tp", "fp", "fn", "tn"]].tolist() == [45, 10, 25, 140]
    pol = confusion(hand, S.MARKET, positive="hate_speech").set_index(S.MARKET)
    assert pol.loc["X", ["tp", "fp", "fn", "tn"]].tolist() == [40, 10, 20, 130]


def test_model_metrics_against_hand_confusion(hand):
    ref = pd.read_csv(RESULTS / "model_eval_hand_confusion.csv", comment="#")
    m = model_metrics(hand, S.MARKET)
    assert len(m) == len(ref) == 14
    got = m.set_index([S.MARKET, "metric"])
    for r in ref.itertuples():
        row = got.loc[(r.market, r.metric)]
        assert row["estimate"] == pytest.approx(r.estimate), r
        assert row[S.N] == (r.denominator if r.metric != "f1" else r.denominator - r.numerator / 2), r
        if r.metric != "f1":
            lo, hi = proportion_confint(r.numerator, r.denominator, method="wilson")
            assert (row[S.CI_LOW], row[S.CI_HIGH]) == pytest.approx((lo, hi)), r
            assert row["numerator"] == r.numerator
    assert m["metric"].tolist()[:7] == list(METRICS)
    assert ((m[S.CI_LOW] <= m["estimate"]) & (m["estimate"] <= m[S.CI_HIGH])).all()


def test_f1_interval_uses_delta_method_variance(hand):
    """Linearised F1 variance equals the multinomial delta method (Takahashi et al. 2022)."""
    m = model_metrics(hand, S.MARKET).set_index([S.MARKET, "metric"])
    tp, fp, fn, tn = 40, 10, 20, 130
    n = tp + fp + fn + tn
    p = np.array([tp, fp, fn, tn]) / n
    f1 = lambda q: 2 * q[0] / (2 * q[0] + q[1] + q[2])  # noqa: E731
    grad = np.array([(f1(p + e) - f1(p - e)) / 2e-7 for e in np.eye(4) * 1e-7])
    var = grad @ ((np.diag(p) - np.outer(p, p)) / n) @ grad
    N = 228  # rows of the frame: the single stratum of the design
    assert m.loc[("X", "f1"), "se"] ** 2 == pytest.approx(var * N / (N - 1), rel=1e-5)
    assert 0 < m.loc[("X", "f1"), S.CI_LOW] < 8 / 11 < m.loc[("X", "f1"), S.CI_HIGH] < 1


def test_model_metrics_wide_weighted_and_targets(hand):
    wide = model_metrics(hand, S.MARKET, wide=True).set_index(S.MARKET)
    assert wide.loc["X", "precision"] == pytest.approx(0.8)
    assert wide.loc["Y", "precision_n"] == 5
    assert {"recall_ci_low", "f1_ci_high", "prevalence_n"} <= set(wide.columns)
    one = model_metrics(hand, None, wide=True)
    assert len(one) == 1 and one.loc[0, "recall"] == pytest.approx(45 / 70)
    # equal weights, one stratum: same point estimates as unweighted
    w = model_metrics(hand.assign(**{S.WEIGHT: 4.0}), S.MARKET, weights=S.WEIGHT)
    u = model_metrics(hand, S.MARKET)
    np.testing.assert_allclose(w["estimate"], u["estimate"])
    t = model_metrics(hand, S.MARKET, targets={"model": {"precision": 0.9, "recall": 0.8}})
    x = t[t[S.MARKET] == "X"].set_index("metric")
    assert x.loc["precision", "target"] == 0.9 and x.loc["precision", "status"] in {"at risk", "missed"}
    assert x.loc["recall", "status"] == "missed"  # 40/60, CI high ~0.77 < 0.8
    assert pd.isna(x.loc["f1", "target"]) and pd.isna(x.loc["f1", "status"])


def test_model_metrics_empty_denominator_left_out():
    df = pd.DataFrame(_rows("Z", 0, 0, 3, 7))  # model never flags anything
    m = model_metrics(df, S.MARKET, strata=None)
    assert "precision" not in set(m["metric"])
    assert m.set_index("metric").loc["recall", "estimate"] == 0.0
    assert m[["estimate", S.CI_LOW, S.CI_HIGH]].notna().all().all()


def test_model_eval_error_messages(hand):
    human = hand[hand[S.CHANNEL] == "human"]
    with pytest.raises(EstimationError, match="no audited machine or HITL decisions"):
        model_metrics(human)
    with pytest.raises(EstimationError, match="positive must be 'violating' or a policy code"):
        confusion(hand, positive="bad")
    with pytest.raises(EstimationError, match="custom threshold only applies"):
        confusion(hand, positive="hate_speech", threshold=0.3)
    with pytest.raises(DataContractError, match=r"column 'policy': required by the model metrics but missing"):
        model_metrics(hand, S.POLICY)
    with pytest.raises(EstimationError, match="no audits to score"):
        hitl_overrides(hand.iloc[0:0])


# --------------------------------------------------------------------------- thresholds
@pytest.fixture
def scored() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 600
    viol = rng.random(n) < 0.4
    score = np.round(np.where(viol, rng.beta(4, 1.5, n), rng.beta(1.3, 6.5, n)), 4)
    return pd.DataFrame(
        {
            S.CHANNEL: np.where(rng.random(n) < 0.5, "machine", "hitl"),
            S.MODEL_SCORE: score,
            S.MODEL_LABEL: np.where(score >= 0.5, "spam_scam", NV),
            S.LABEL: np.where(score >= 0.5, "spam_scam", NV),
            S.QA_LABEL: np.where(viol, "spam_scam", NV),
            S.MARKET: np.where(rng.random(n) < 0.5, "A", "B"),
            S.WEIGHT: np.where(score > 0.35, 5.0, 20.0),
            S.STRATUM: np.where(rng.random(n) < 0.5, "s1", "s2"),
        }
    )


def test_threshold_curve_monotone_and_matches_confusion(scored):
    c = threshold_curve(scored, S.MARKET)
    for _, d in c.groupby(S.MARKET):
        d = d.sort_values("threshold")
        assert (np.diff(d["recall"]) <= 1e-12).all()
        assert (np.diff(d["fpr"]) <= 1e-12).all()
        assert (np.diff(d["predicted_positive"]) <= 0).all()
        assert d["recall"].iloc[0] == 1.0 and d["fpr"].iloc[0] == 1.0
        assert ((d["tp"] + d["fp"] + d["fn"] + d["tn"]) == d[S.N]).all()
    at = c[c["threshold"] == 0.5].set_index(S.MARKET)
    conf = confusion(scored, S.MARKET).set_index(S.MARKET)
    for k in ("tp", "fp", "fn", "tn"):
        assert at[k].tolist() == conf[k].tolist()
    top = c[c["threshold"] == 1.0]
    assert (top["predicted_positive"] == 0).all() and top["precision"].isna().all()
    # weighted curve at 0.5 = weighted metrics; interval columns match model_metrics
    cw = threshold_curve(scored, S.MARKET, weights=S.WEIGHT, ci=True, thresholds=[0.3, 0.5])
    mw = model_metrics(scored, S.MARKET, weights=S.WEIGHT, threshold=0.5)
    p5 = cw[cw["threshold"] == 0.5].set_index(S.MARKET)
    mp = mw[mw["metric"] == "precision"].set_index(S.MARKET)
    np.testing.assert_allclose(p5["precision"], mp["estimate"])
    np.testing.assert_allclose(p5["precision_ci_low"], mp[S.CI_LOW])
    np.testing.assert_allclose(p5["precision_ci_high"], mp[S.CI_HIGH])
    cu = threshold_curve(scored, None, ci=True, thresholds=[0.5])
    lo, _ = proportion_confint(cu.loc[0, "tp"], cu.loc[0, "predicted_positive"], method="wilson")
    assert cu.loc[0, "precision_ci_low"] == pytest.approx(lo)


def test_threshold_for_precision_hand_example():
    # scores 0.05 .. 0.95; violating = the top 6 plus 0.45 and 0.25
    score = np.round(np.arange(0.05, 1.0, 0.1), 2)
    viol = np.isin(score, [0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 0.25])
    df = pd.DataFrame(
        {
            S.CHANNEL: "machine",
            S.MODEL_SCORE: score,
            S.MODEL_LABEL: None,
            S.LABEL: np.where(score >= 0.5, "spam_scam", NV),
            S.QA_LABEL: np.where(viol, "spam_scam", NV),
        }
    )
    grid = np.round(np.arange(0.0, 1.01, 0.1), 1)
    r = threshold_for_precision(df, target=0.8, thresholds=grid, strata=None)
    # t=0.3: 6 of 7 flagged violate (0.857 >= 0.8); t=0.2: 7/8 = 0.875 also meets; t=0.1: 7/9 = 0.778
    assert r.loc[0, "found"] and r.loc[0, "threshold"] == pytest.approx(0.2)
    assert r.loc[0, "precision"] == pytest.approx(7 / 8) and r.loc[0, "recall"] == pytest.approx(1.0)
    lo, hi = proportion_confint(7, 8, method="wilson")
    assert (r.loc[0, "precision_ci_low"], r.loc[0, "precision_ci_high"]) == pytest.approx((lo, hi))
    none = threshold_for_precision(df, target=1.0, thresholds=[0.0, 0.1], strata=None)
    assert not none.loc[0, "found"] and np.isnan(none.loc[0, "threshold"])
    cons = threshold_for_precision(df, target=0.5, thresholds=grid, conservative=True, strata=None)
    assert cons.loc[0, "precision_ci_low"] >= 0.5


def test_threshold_for_precision_by_group(scored):
    r = threshold_for_precision(scored, 0.9, by=S.MARKET, weights=S.WEIGHT)
    assert r[S.MARKET].tolist() == ["A", "B"] and r["found"].all()
    c = threshold_curve(scored, S.MARKET, weights=S.WEIGHT)
    for row in r.itertuples():
        d = c[(c[S.MARKET] == row.market) & (c["threshold"] < row.threshold)]
        assert (d["precision"] < 0.9).all()  # nothing smaller on the grid meets it
        assert row.precision >= 0.9


# --------------------------------------------------------------------------- HITL
def test_hitl_overrides_hand_example():
    # (model_label, label, qa_label)
    cases = (
        [("hate_speech", NV, NV)] * 3
        + [("hate_speech", NV, "hate_speech")]
        + [(NV, NV, NV)] * 5
        + [(NV, NV, "spam_scam")]
    )
    df = pd.DataFrame(cases, columns=[S.MODEL_LABEL, S.LABEL, S.QA_LABEL])
    df[S.CHANNEL] = "hitl"
    df[S.VENDOR] = "Vendor A"
    extra = pd.DataFrame(
        {
            S.MODEL_LABEL: [None, "spam_scam"],
            S.LABEL: [NV, NV],
            S.QA_LABEL: [NV, NV],
            S.CHANNEL: ["human", "machine"],
            S.VENDOR: "Vendor A",
        }
    )
    df = pd.concat([df, extra], ignore_index=True)
    h = hitl_overrides(df, S.VENDOR, strata=None)
    r = h.iloc[0]
    assert r[S.N] == 10 and r["overrides"] == 4
    assert r["override_rate"] == pytest.approx(0.4)
    assert r["override_accuracy"] == pytest.approx(0.75)
    assert r["model_right_share"] == pytest.approx(0.25)
    assert r["confirmed_accuracy"] == pytest.approx(5 / 6)
    lo, hi = proportion_confint(4, 10, method="wilson")
    assert (r["override_rate_ci_low"], r["override_rate_ci_high"]) == pytest.approx((lo, hi))
    lo, hi = proportion_confint(3, 4, method="wilson")
    assert (r["override_accuracy_ci_low"], r["override_accuracy_ci_high"]) == pytest.approx((lo, hi))
    one = hitl_overrides(df, None, strata=None)
    assert one.loc[0, "override_rate"] == pytest.approx(0.4)


# --------------------------------------------------------------------------- planted truths
@pytest.fixture(scope="module")
def demo(demo60k):
    return demo60k


@pytest.fixture(scope="module")
def audited(audited60k):
    return audited60k


def test_planted_model_recall_lowest_in_market_id(demo, audited):
    truth = demo.truth["model_fn"]
    for weights in (S.WEIGHT, None):
        m = model_metrics(audited, S.MARKET, weights=weights)
        rec = m[m["metric"] == truth["metric"]].set_index(S.MARKET)["estimate"]
        assert rec.idxmin() == truth["market"], rec
    # and the blind spot is livestreams in that market
    ind = audited[audited[S.MARKET] == truth["market"]]
    m = model_metrics(ind, S.CONTENT_TYPE, weights=S.WEIGHT)
    rec = m[m["metric"] == "recall"].set_index(S.CONTENT_TYPE)
    assert rec["estimate"].idxmin() == truth["content_type"]
    assert rec.loc[truth["content_type"], S.CI_LOW] < truth["recall"] < rec.loc[truth["content_type"], S.CI_HIGH]


def test_planted_hitl_override_rate_and_accuracy(demo, audited):
    realised = demo.truth["realised"]
    # 99% intervals: the check must not hinge on one generator realisation (coverage itself is
    # validated by the simulation in test_scoring.py); weights are needed because the audit
    # sample over-weights the uncertain score band where humans override more.
    h = hitl_overrides(audited, None, weights=S.WEIGHT, alpha=0.01).iloc[0]
    assert h["override_rate_ci_low"] <= realised["hitl_override_rate"] <= h["override_rate_ci_high"]
    assert h["override_accuracy_ci_low"] <= realised["hitl_override_accuracy"] <= h["override_accuracy_ci_high"]
    assert abs(h["override_rate"] - demo.truth["hitl"]["override_rate"]) < 0.05


def test_model_metrics_take_targets_as_data(hand):
    with pytest.raises(ConfigError, match=r"^model_metrics\(\): targets=True would read params/targets.yaml; pass"):
        model_metrics(hand, S.MARKET, targets=True)


def _scored_population(n_pop=60_000):
    rng = np.random.default_rng([7, 1107])
    score = rng.beta(0.6, 2.0, n_pop)
    viol = rng.random(n_pop) < score**1.5
    pred = score >= 0.5
    lab = np.where(pred, "spam_scam", S.NO_VIOLATION)
    return pd.DataFrame(
        {
            S.CHANNEL: "machine",
            S.MODEL_SCORE: score,
            S.MODEL_LABEL: lab,
            S.LABEL: lab,
            S.QA_LABEL: np.where(viol, "spam_scam", S.NO_VIOLATION),
            S.STRATUM: np.digitize(score, [0.2, 0.4, 0.5, 0.6, 0.8]).astype(str),
        }
    )


@pytest.mark.slow
def test_model_metrics_design_based_intervals_cover_without_the_n_cap():
    """Score-band-stratified samples (6 bands × 150, stratified SRS) of a 60k population; 150 samples.
    Coverage before (n_eff capped at n): precision 95.5%, recall 94%, FPR 100% (mean width 4.4 pts);
    after (design effect credited where stable): precision 95.5%, recall 94%, FPR 96% (1.5 pts)."""
    pop = _scored_population()
    act = pop[S.MODEL_LABEL] != S.NO_VIOLATION
    vio = pop[S.QA_LABEL] != S.NO_VIOLATION
    truth = {
        "precision": (act & vio).sum() / act.sum(),
        "recall": (act & vio).sum() / vio.sum(),
        "fpr": (act & ~vio).sum() / (~vio).sum(),
    }
    strata = pop[S.STRATUM].to_numpy()
    sizes = pd.Series(strata).value_counts()
    reps = 150
    cov = dict.fromkeys(truth, 0)
    for s in range(reps):
        rng = np.random.default_rng([s, 1108])
        take = np.concatenate([rng.choice(np.flatnonzero(strata == h), 150, replace=False) for h in sizes.index])
        w = sizes.reindex(strata[take]).to_numpy() / 150
        m = model_metrics(pop.iloc[take].assign(**{S.WEIGHT: w}), weights=S.WEIGHT).set_index("metric")
        for k in truth:
            cov[k] += m.loc[k, S.CI_LOW] <= truth[k] <= m.loc[k, S.CI_HIGH]
    rates = {k: v / reps for k, v in cov.items()}
    print(rates)
    for k in truth:
        assert 0.93 <= rates[k] <= 0.975, (k, rates)
