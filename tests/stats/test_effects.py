"""modqa_lib.stats.effects: before/after and DiD against statsmodels and a hand 2x2 table,
ITS on a simulated step, the tracking table, and the planted actions of the demo data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.proportion import test_proportions_2indep as sm_test_2indep

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, DataContractError, EstimationError
from modqa_lib.stats import effects

RESULTS = Path(__file__).parents[1] / "results"
T0 = pd.Timestamp("2026-08-31", tz="UTC")
START = T0 + pd.Timedelta(weeks=5)  # start of week 6

ACTION = {
    S.ACTION_ID: "ACT-X",
    S.KIND: "retraining",
    S.VENDOR: "Vendor C",
    S.SITE: "Porto",
    S.MARKET: None,
    S.POLICY: "hate_speech",
    S.STARTED_AT: START,
}


def unit_rows(vendor, site, policy, when, n, errors, market="BR", channel="human"):
    return [
        {
            S.VENDOR: vendor,
            S.SITE: site,
            S.POLICY: policy,
            S.MARKET: market,
            S.CHANNEL: channel,
            S.DECIDED_AT: when,
            S.IS_ERROR: i < errors,
        }
        for i in range(n)
    ]


def spread(n, before: bool, weeks_=5):
    """n decision times spread over the weeks before/after START."""
    offs = (np.arange(n) % (weeks_ * 7)) * pd.Timedelta(days=1) + pd.Timedelta(hours=12)
    return [START - pd.Timedelta(weeks=weeks_) + o if before else START + o for o in offs]


def two_by_two() -> pd.DataFrame:
    ref = pd.read_csv(RESULTS / "effects_did_2x2.csv", comment="#")
    ref = ref[ref["arm"] != "did"]
    rows = []
    for _, r in ref.iterrows():
        n, e = int(r["n"]), int(r["errors"])
        times = spread(n, r["period"] == "before")
        if r["arm"] == "treated":
            units = [("Vendor C", "Porto")]
        else:
            units = [("Vendor D", "Pune"), ("Vendor D", "Hyderabad")]
        for i, t in enumerate(times):
            v, s = units[i % len(units)]
            rows += unit_rows(v, s, "hate_speech", t, 1, int(i < e))
    a = pd.DataFrame(rows)
    a[S.DECIDED_AT] = pd.to_datetime(a[S.DECIDED_AT], utc=True)
    a[S.WEEK] = a[S.DECIDED_AT].dt.tz_localize(None).dt.normalize() - pd.to_timedelta(
        a[S.DECIDED_AT].dt.day_of_week, unit="D"
    )
    return a


# ------------------------------------------------------------------ scope
def test_scope_mask_treats_null_as_any_and_describes_scope():
    a = pd.DataFrame(
        {
            S.VENDOR: ["Vendor C", "Vendor C", "Vendor A"],
            S.SITE: ["Porto", "Porto", "Manila"],
            S.MARKET: ["BR", "DE", "BR"],
            S.POLICY: ["hate_speech"] * 3,
        }
    )
    assert effects.in_scope(a, ACTION).tolist() == [True, True, False]
    assert effects.in_scope(a, {**ACTION, S.MARKET: "BR"}).tolist() == [True, False, False]
    assert effects.in_scope(a, pd.Series({**ACTION, S.VENDOR: np.nan, S.SITE: None})).tolist() == [True, True, True]
    assert effects.describe_scope(ACTION) == "vendor=Vendor C, site=Porto, policy=hate_speech"
    assert effects.describe_scope({S.STARTED_AT: START}) == "all"


# ------------------------------------------------------------ before/after
def test_before_after_matches_statsmodels_calls():
    a = two_by_two()
    out = effects.before_after(a, ACTION).iloc[0]
    assert (out["n_before"], out["n_after"]) == (200, 220)
    assert (out["errors_before"], out["errors_after"]) == (30, 11)
    assert out["accuracy_before"] == pytest.approx(0.85)
    assert out["accuracy_after"] == pytest.approx(0.95)
    assert (out["accuracy_before_ci_low"], out["accuracy_before_ci_high"]) == pytest.approx(
        proportion_confint(170, 200, method="wilson")
    )
    assert (out["accuracy_after_ci_low"], out["accuracy_after_ci_high"]) == pytest.approx(
        proportion_confint(209, 220, method="wilson")
    )
    assert out["diff"] == pytest.approx(0.10)
    assert (out["diff_ci_low"], out["diff_ci_high"]) == pytest.approx(
        confint_proportions_2indep(209, 220, 170, 200, method="newcomb")
    )
    assert out[S.P_VALUE] == pytest.approx(sm_test_2indep(209, 220, 170, 200, method="score").pvalue)
    # a window keeps only decisions near the start
    w = effects.before_after(a, ACTION, window_weeks=1).iloc[0]
    assert w["n_before"] < 200 and w["n_after"] < 220


def test_before_after_without_audits_on_one_side_says_so():
    a = two_by_two()
    late = {**ACTION, S.STARTED_AT: T0 + pd.Timedelta(weeks=30)}
    with pytest.raises(EstimationError, match=r"ACT-X .*no audits in scope after it"):
        effects.before_after(a, late)


# ---------------------------------------------------------- diff-in-diff
def test_did_on_hand_2x2_equals_hand_value_and_direct_ols():
    a = two_by_two()
    ref = pd.read_csv(RESULTS / "effects_did_2x2.csv", comment="#")
    hand = float(ref.loc[ref["arm"] == "did", "accuracy"].iloc[0])
    out = effects.diff_in_diff(a, ACTION).iloc[0]
    assert out["did"] == pytest.approx(hand, abs=1e-12)
    assert out["did"] == pytest.approx((0.95 - 0.85) - (0.95 - 0.94), abs=1e-12)
    assert (out["n_treated_before"], out["n_treated_after"], out["n_comparison_before"], out["n_comparison_after"]) == (
        200,
        220,
        400,
        380,
    )
    assert out["accuracy_comparison_before"] == pytest.approx(0.94)
    assert out["cov_type"] == "HC1" and out["n_clusters"] == 3
    # the same model fitted directly with statsmodels
    y = 1.0 - a[S.IS_ERROR].astype(float)
    tr = (a[S.SITE] == "Porto").astype(float)
    po = (a[S.DECIDED_AT] >= START).astype(float)
    X = sm.add_constant(pd.DataFrame({"treated": tr, "post": po, "did": tr * po}))
    res = sm.OLS(y, X).fit(cov_type="HC1")
    assert out["did"] == pytest.approx(res.params["did"], abs=1e-12)
    assert out["did_se"] == pytest.approx(res.bse["did"])
    ci = tuple(res.conf_int().loc["did"])
    assert (out["did_ci_low"], out["did_ci_high"]) == pytest.approx(ci)
    assert out["did_p_value"] == pytest.approx(res.pvalues["did"])
    assert "other vendors, same policy" in out["comparison"]


def test_did_uses_cluster_robust_errors_with_enough_clusters():
    rng = np.random.default_rng(11)
    rows = []
    for k in range(24):
        site, vendor = ("Porto", "Vendor C") if k == 0 else (f"S{k}", f"V{k}")
        for before in (True, False):
            p = 0.10 if (k == 0 and before) else 0.05
            n = 60
            e = int(rng.binomial(n, p))
            for i, t in enumerate(spread(n, before)):
                rows += unit_rows(vendor, site, "hate_speech", t, 1, int(i < e))
    a = pd.DataFrame(rows)
    out = effects.diff_in_diff(a, ACTION, min_clusters=20).iloc[0]
    assert out["cov_type"] == "cluster" and out["n_clusters"] == 24
    y = 1.0 - a[S.IS_ERROR].astype(float)
    tr = (a[S.SITE] == "Porto").astype(float)
    po = (pd.to_datetime(a[S.DECIDED_AT], utc=True) >= START).astype(float)
    X = np.column_stack([np.ones(len(a)), tr, po, tr * po])
    res = sm.OLS(y.to_numpy(), X).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(a[S.SITE])[0]})
    assert out["did"] == pytest.approx(res.params[3])
    assert out["did_se"] == pytest.approx(res.bse[3])
    few = effects.diff_in_diff(a, ACTION, min_clusters=30).iloc[0]
    assert few["cov_type"] == "HC1" and few["did"] == pytest.approx(out["did"])


def test_did_comparison_drops_other_actions_changed_policies_and_other_channels():
    a = two_by_two()
    extra = []
    # a comparison site with its own action in the window: must be dropped
    extra += unit_rows("Vendor B", "Penang", "hate_speech", START - pd.Timedelta(days=3), 50, 0)
    extra += unit_rows("Vendor B", "Penang", "hate_speech", START + pd.Timedelta(days=3), 50, 50)
    # machine decisions: a different channel from the treated units, dropped
    extra += unit_rows("Platform", "model", "hate_speech", START + pd.Timedelta(days=3), 30, 30, channel="machine")
    b = pd.concat([a, pd.DataFrame(extra)], ignore_index=True)
    actions = pd.DataFrame(
        [
            ACTION,
            {
                S.ACTION_ID: "ACT-Y",
                S.KIND: "coaching",
                S.VENDOR: "Vendor B",
                S.SITE: "Penang",
                S.MARKET: None,
                S.POLICY: None,
                S.STARTED_AT: START - pd.Timedelta(days=1),
            },
            # platform-wide action covering the treated units too: kept
            {
                S.ACTION_ID: "ACT-Z",
                S.KIND: "calibration",
                S.VENDOR: None,
                S.SITE: None,
                S.MARKET: None,
                S.POLICY: "hate_speech",
                S.STARTED_AT: START,
            },
        ]
    )
    out = effects.diff_in_diff(b, ACTION, actions=actions).iloc[0]
    assert out["did"] == pytest.approx(0.09)
    assert (out["n_comparison_before"], out["n_comparison_after"]) == (400, 380)
    assert "without other actions" in out["comparison"] and "channel human" in out["comparison"]
    # without the actions table the contaminated site is part of the comparison
    naive = effects.diff_in_diff(b, ACTION).iloc[0]
    assert naive["n_comparison_before"] == 450 and naive["did"] > 0.09
    # an action scoped to a vendor: policies changed inside the window leave both arms
    c = pd.concat(
        [
            a,
            pd.DataFrame(
                unit_rows("Vendor C", "Porto", "harassment", START + pd.Timedelta(days=2), 40, 20)
                + unit_rows("Vendor D", "Pune", "harassment", START + pd.Timedelta(days=2), 40, 0)
            ),
        ],
        ignore_index=True,
    )
    vendor_action = {**ACTION, S.POLICY: None}
    changes = pd.DataFrame({S.CHANGED_AT: [START], S.POLICY: ["harassment"], S.DESCRIPTION: ["pile-ons"]})
    kept = effects.diff_in_diff(c, vendor_action).iloc[0]
    dropped = effects.diff_in_diff(c, vendor_action, policy_changes=changes).iloc[0]
    assert kept["n_treated_after"] == 260 and dropped["n_treated_after"] == 220
    assert dropped["did"] == pytest.approx(0.09)
    assert "policies changed in the window (harassment)" in dropped["comparison"]


def test_did_other_policies_and_custom_comparison():
    a = two_by_two()
    other = pd.DataFrame(
        unit_rows("Vendor C", "Porto", "spam_scam", START - pd.Timedelta(days=2), 100, 10)
        + unit_rows("Vendor C", "Porto", "spam_scam", START + pd.Timedelta(days=2), 100, 10)
    )
    b = pd.concat([a, other], ignore_index=True)
    out = effects.diff_in_diff(b, ACTION, comparison="other_policies").iloc[0]
    assert out["did"] == pytest.approx(0.10) and out["n_comparison_before"] == 100
    assert out["comparison"].startswith("other policies, same vendor, same site")
    mask = b[S.POLICY] == "spam_scam"
    custom = effects.diff_in_diff(b, ACTION, comparison=mask).iloc[0]
    assert custom["did"] == pytest.approx(0.10)
    with pytest.raises(ConfigError, match="comparison must be one of"):
        effects.diff_in_diff(b, ACTION, comparison="nearest")


def test_did_with_an_empty_cell_explains_which():
    a = two_by_two()
    only_treated = a[a[S.SITE] == "Porto"]
    with pytest.raises(EstimationError, match="no audits for comparison before, comparison after"):
        effects.diff_in_diff(only_treated, ACTION)


# ---------------------------------------------------- interrupted time series
def its_frame(level_step=0.08, slope_pre=0.0, n=400, weeks_=12, start_week=6, seed=5):
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(weeks_):
        acc = 0.85 + slope_pre * w + (level_step if w >= start_week - 1 else 0.0)
        nw = int(n * (0.5 + (w % 3) * 0.5))  # 200, 400, 600 audits a week
        e = int(rng.binomial(nw, 1 - acc))
        when = T0 + pd.Timedelta(weeks=w) + pd.Timedelta(days=2)
        rows += unit_rows("Vendor C", "Porto", "hate_speech", when, nw, e)
    a = pd.DataFrame(rows)
    a[S.WEEK] = pd.to_datetime(a[S.DECIDED_AT], utc=True).dt.tz_localize(None).dt.normalize() - pd.to_timedelta(
        pd.to_datetime(a[S.DECIDED_AT]).dt.day_of_week, unit="D"
    )
    return a


def test_its_recovers_a_simulated_step_within_ci():
    for seed in (1, 2, 3):
        a = its_frame(level_step=0.08, slope_pre=0.002, seed=seed)
        out = effects.interrupted_time_series(a, ACTION).iloc[0]
        assert out["n_periods_before"] == 5 and out["n_periods_after"] == 7
        assert out["level_ci_low"] < 0.08 < out["level_ci_high"]
        assert out["level_ci_low"] > 0  # the step is detected
        assert out["slope_ci_low"] < 0 < out["slope_ci_high"]
    # against a direct WLS fit weighted by the audits per week
    a = its_frame(seed=1)
    wk = (1 - a.groupby(S.WEEK)[S.IS_ERROR].mean()).to_numpy()
    n = a.groupby(S.WEEK).size().to_numpy().astype(float)
    t = np.arange(12.0)
    post = (t >= 5).astype(float)
    X = np.column_stack([np.ones(12), t, post, (t - 5) * post])
    res = sm.WLS(wk, X, weights=n).fit()
    assert sm.OLS(wk, X).fit().params[2] != pytest.approx(res.params[2])  # weights matter here
    out = effects.interrupted_time_series(a, ACTION).iloc[0]
    assert out["level_change"] == pytest.approx(res.params[2])
    assert out["slope_change"] == pytest.approx(res.params[3])
    if res.scale >= 1e-9:  # over-dispersed enough: the fitted scale and t intervals are used
        lo, hi = res.conf_int()[2]
        binom = (n.sum() - (wk * n).sum() + 0.5) / (n.sum() + 1)
        if res.scale >= binom * (1 - binom):
            assert (out["level_ci_low"], out["level_ci_high"]) == pytest.approx((lo, hi))


def test_its_drops_the_transition_week_and_never_gives_zero_width():
    a = its_frame()
    mid = {**ACTION, S.STARTED_AT: START + pd.Timedelta(days=3)}
    out = effects.interrupted_time_series(a, mid).iloc[0]
    assert out["n_periods_before"] == 5 and out["n_periods_after"] == 6
    perfect = a.assign(**{S.IS_ERROR: False})
    p = effects.interrupted_time_series(perfect, ACTION).iloc[0]
    assert p["level_change"] == pytest.approx(0.0, abs=1e-9)
    assert p["level_ci_high"] - p["level_ci_low"] > 1e-4  # not a degenerate 0 width
    with pytest.raises(EstimationError, match="needs 3 periods .* found 1 before"):
        effects.interrupted_time_series(a, {**ACTION, S.STARTED_AT: T0 + pd.Timedelta(weeks=1)})


# ------------------------------------------------------------------ verdict
@pytest.mark.parametrize(
    "lo, hi, expected",
    [
        (0.01, 0.2, "worked"),
        (-0.01, 0.2, "no evidence"),
        (-0.2, -0.01, "worse"),
        (np.nan, 0.1, "insufficient data"),
        (None, None, "insufficient data"),
    ],
)
def test_verdict(lo, hi, expected):
    assert effects.verdict(lo, hi) == expected


# ------------------------------------------------------------ tracking table
def test_action_effects_table_and_insufficient_data_reasons():
    a = two_by_two()
    actions = pd.DataFrame(
        [
            ACTION,
            {**ACTION, S.ACTION_ID: "ACT-EARLY", S.STARTED_AT: T0 - pd.Timedelta(weeks=10)},
            {**ACTION, S.ACTION_ID: "ACT-LATE", S.STARTED_AT: T0 + pd.Timedelta(weeks=40)},
            {**ACTION, S.ACTION_ID: "ACT-NOWHERE", S.SITE: "Atlantis"},
        ]
    )
    before = a.copy(deep=True)
    out = effects.action_effects(a, actions).set_index(S.ACTION_ID)
    pd.testing.assert_frame_equal(a, before)
    assert list(out.reset_index().columns[:20]) == [
        "action_id",
        "kind",
        "scope",
        "started_at",
        "n_before",
        "n_after",
        "accuracy_before",
        "accuracy_before_ci_low",
        "accuracy_before_ci_high",
        "accuracy_after",
        "accuracy_after_ci_low",
        "accuracy_after_ci_high",
        "diff",
        "diff_ci_low",
        "diff_ci_high",
        "did",
        "did_ci_low",
        "did_ci_high",
        "did_p_value",
        "comparison",
    ]
    x = out.loc["ACT-X"]
    for side in ("before", "after"):  # every rate in the tracking table carries its interval
        assert x[f"accuracy_{side}_ci_low"] < x[f"accuracy_{side}"] < x[f"accuracy_{side}_ci_high"]
    assert x["did"] == pytest.approx(0.09) and x["verdict"] == "worked"
    assert x["diff"] == pytest.approx(0.10)
    assert x["reason"] == "" and x["its_ci_low"] < x["its_level_change"] < x["its_ci_high"]
    assert out.loc["ACT-EARLY", "verdict"] == "insufficient data"
    assert "no audits in scope before it" in out.loc["ACT-EARLY", "reason"]
    assert out.loc["ACT-LATE", "n_before"] == 420 and out.loc["ACT-LATE", "n_after"] == 0
    assert "no audits in scope after it" in out.loc["ACT-LATE", "reason"]
    assert out.loc["ACT-NOWHERE", "verdict"] == "insufficient data"
    # no NaN without a reason
    num = out.select_dtypes("number")
    assert (out.loc[num.isna().any(axis=1), "reason"] != "").all()


def test_action_effects_small_scope_is_insufficient():
    a = two_by_two()
    tiny = a[(a[S.SITE] != "Porto") | (a.index % 40 == 0)]
    out = effects.action_effects(tiny, pd.DataFrame([ACTION]), min_n=10).iloc[0]
    assert out["verdict"] == "insufficient data"
    assert "fewer than 10 audits in scope" in out["reason"]


def test_action_effects_error_paths():
    a = two_by_two()
    with pytest.raises(DataContractError, match="actions: column 'started_at'"):
        effects.action_effects(a, pd.DataFrame({S.ACTION_ID: ["A"]}))
    with pytest.raises(DataContractError, match="audits: column 'decided_at'"):
        effects.action_effects(a.drop(columns=S.DECIDED_AT), pd.DataFrame([ACTION]))
    with pytest.raises(ConfigError, match="pass one action"):
        effects.before_after(a, pd.DataFrame([ACTION, ACTION]))
    with pytest.raises(DataContractError, match="started_at"):
        effects.before_after(a, {**ACTION, S.STARTED_AT: None})
    with pytest.raises(ConfigError, match="window_weeks"):
        effects.before_after(a, ACTION, window_weeks=-2)


# ------------------------------------------------------- planted demo truths
@pytest.fixture(scope="module")
def demo_effects():
    """60,000 decisions with a 25% audit rate (about 15,000 audits).

    At a 7.5% audit rate (the generator's default from 192k decisions) ACT-003's scope holds about 55 audits before
    the action and the planted improvement is found in about 10 of 12 seeds; at
    25% (about 185 before, 270 after) in 12 of 12.
    """
    from modqa_lib.data import io, synthetic

    d = synthetic.generate(n_decisions=60_000, audit_rate=0.25)
    a = io.audited_decisions(d.tables)
    out = effects.action_effects(a, d.tables["actions"], policy_changes=d.tables["policy_changes"])
    return d, out.set_index(S.ACTION_ID)


def test_planted_action_that_worked(demo_effects):
    d, out = demo_effects
    worked = d.truth["action_worked"]["action_id"]
    r = out.loc[worked]
    assert r["verdict"] == "worked", r
    assert r["did"] > 0 and r["did_ci_low"] > 0
    assert r["accuracy_after"] > r["accuracy_before"]
    assert r["reason"] == ""


def test_planted_action_that_failed_and_null_actions(demo_effects):
    d, out = demo_effects
    failed = d.truth["action_failed"]["action_id"]
    assert out.loc[failed, "verdict"] != "worked"
    assert abs(out.loc[failed, "did"]) < 0.1
    # actions with no planted effect: each has a 5% chance of a spurious verdict
    # on a new seed; on this one none is found
    for aid in d.truth.get("null_effects", {}).get("actions", []):
        assert out.loc[aid, "verdict"] in ("no evidence", "insufficient data"), out.loc[aid]
    assert set(out["verdict"]) <= set(effects.VERDICTS)
    num = out.select_dtypes("number")
    assert (out.loc[num.isna().any(axis=1), "reason"] != "").all()


def _placebo_report(seed: int):
    """6 sites × 5 policies × 10 weeks of audits at a constant 6% error rate; 5 placebo actions."""
    rng = np.random.default_rng([seed, 1110])
    sites = [("Vendor C", "Porto"), ("Vendor C", "Lisbon"), ("Vendor D", "Pune"), ("Vendor D", "Hyderabad")]
    sites += [("Vendor A", "Manila"), ("Vendor A", "Cebu")]
    policies = ["hate_speech", "spam_scam", "harassment", "nudity", "violence"]
    n = 24_000
    idx = rng.integers(0, len(sites), n)
    a = pd.DataFrame(
        {
            S.VENDOR: [sites[i][0] for i in idx],
            S.SITE: [sites[i][1] for i in idx],
            S.POLICY: rng.choice(policies, n),
            S.MARKET: "BR",
            S.CHANNEL: "human",
            S.DECIDED_AT: T0 + pd.to_timedelta(rng.uniform(0, 70, n), unit="D"),
            S.IS_ERROR: rng.random(n) < 0.06,
        }
    )
    a[S.WEEK] = a[S.DECIDED_AT].dt.tz_localize(None).dt.normalize() - pd.to_timedelta(
        a[S.DECIDED_AT].dt.day_of_week, unit="D"
    )
    actions = pd.DataFrame(
        [
            {**ACTION, S.ACTION_ID: f"P{k}", S.VENDOR: sites[k][0], S.SITE: sites[k][1], S.POLICY: policies[k]}
            for k in range(5)
        ]
    )
    return a, actions


@pytest.mark.slow
def test_placebo_actions_rarely_get_a_verdict_in_a_report():
    """5 placebo actions per report, no effect, 40 seeded reports: share of reports with any "worked" or
    "worse" verdict before (per-action intervals only) 22.5% (the issue: 22.6%), after (Holm over the
    report's actions) 5.0% (2 of 40).
    Not covered here: persistent site shocks (few-cluster inference, issue #11 item 5, still open)."""
    reps = 40
    before = after = 0
    for seed in range(reps):
        a, actions = _placebo_report(seed)
        out = effects.action_effects(a, actions)
        raw = [effects.verdict(lo, hi) for lo, hi in zip(out["did_ci_low"], out["did_ci_high"])]
        before += any(v in ("worked", "worse") for v in raw)
        after += out["verdict"].isin(["worked", "worse"]).any()
    print(before / reps, after / reps)
    assert after / reps <= 0.05
    assert before > after
