"""Tests of modqa_lib.report.tables: the building blocks every report notebook shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.data.scope import Scope
from modqa_lib.report import tables as report
from modqa_lib.report.format import interval_text


# ------------------------------------------------------------------ formatting
def _html(shown) -> str:
    """HTML of what report.show returns (a Styler, or Markdown for an empty table)."""
    return shown.to_html() if hasattr(shown, "to_html") else shown.data


def test_show_formats_escapes_and_cuts():
    df = pd.DataFrame(
        {"policy": ["<b>x</b>", "y"], "n": [1200, 3], "accuracy": [0.9512, 0.5], "q_value": [0.00001, 0.2]}
    )
    html = _html(report.show(df))
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "1,200" in html and "95.1%" in html and "&lt; 0.001" in html and "0.200" in html
    counts = _html(report.show(pd.DataFrame({"n before": [96], "errors_after": [7], "rate_after": [0.07]})))
    assert ">96<" in counts.replace(" ", "") and ">7<" in counts.replace(" ", "") and "7.0%" in counts
    long = pd.DataFrame({"n": range(50)})
    assert "first 40 of 50 rows" in _html(report.show(long))
    assert "nothing to see" in _html(report.show(long.iloc[:0], empty="nothing to see"))


# -------------------------------------------------------------- display tables
def _flags():
    return pd.DataFrame(
        {
            S.POLICY: ["harassment", "spam_scam"],
            "flagged": [True, False],
            "n_before": [300, 0],
            "rate_before": [0.03, np.nan],
            "rate_before_ci_low": [0.016, np.nan],
            "rate_before_ci_high": [0.056, np.nan],
            "n_after": [200, 0],
            "rate_after": [0.15, np.nan],
            "rate_after_ci_low": [0.107, np.nan],
            "rate_after_ci_high": [0.206, np.nan],
            "first_out_of_control": pd.to_datetime(["2026-10-12", None]),
            "direction": ["up", "none"],
            "confirmed": [True, False],
            "policy_change": ["after policy change 'harassment: <script>'", ""],
        }
    )


def test_drift_table_keeps_flagged_rows_with_intervals_and_n():
    t = report.drift_table(_flags())
    assert t[S.POLICY].tolist() == ["harassment"]
    row = t.iloc[0]
    assert row["n before"] == 300 and row["n after"] == 200
    assert row["error rate before (95% CI, audits unweighted)"] == "3.0% (1.6%–5.6%)"
    assert row["error rate after (95% CI, audits unweighted)"] == "15.0% (10.7%–20.6%)"
    assert "<script>" not in _html(report.show(t))


def _effects():
    return pd.DataFrame(
        {
            S.ACTION_ID: ["ACT-003", "ACT-009"],
            S.KIND: ["retraining", "calibration"],
            "scope": ["vendor=Vendor C", "policy=x"],
            S.STARTED_AT: pd.to_datetime(["2026-10-05", "2027-01-01"], utc=True),
            "n_before": [400, 500],
            "n_after": [380, 0],
            "accuracy_before": [0.80, 0.9],
            "accuracy_before_ci_low": [0.76, 0.87],
            "accuracy_before_ci_high": [0.84, 0.92],
            "accuracy_after": [0.97, np.nan],
            "accuracy_after_ci_low": [0.95, np.nan],
            "accuracy_after_ci_high": [0.98, np.nan],
            "did": [0.216, np.nan],
            "did_ci_low": [0.145, np.nan],
            "did_ci_high": [0.286, np.nan],
            "its_level_change": [0.15, np.nan],
            "its_ci_low": [0.05, np.nan],
            "its_ci_high": [0.25, np.nan],
            "verdict": ["worked", "insufficient data"],
            "reason": ["", "no audits in scope after it"],
        }
    )


def test_actions_table_shows_every_estimate_with_its_interval():
    t = report.actions_table(_effects()).set_index(S.ACTION_ID)
    assert t.loc["ACT-003", "accuracy before (95% CI)"] == "80.0% (76.0%–84.0%)"
    assert t.loc["ACT-003", "diff-in-diff (95% CI)"] == "+21.6 pts (+14.5 to +28.6)"
    assert t.loc["ACT-003", "time-series level change (95% CI)"] == "+15.0 pts (+5.0 to +25.0)"
    # no estimate: blank, and the reason is on the row
    assert t.loc["ACT-009", "accuracy after (95% CI)"] == ""
    assert t.loc["ACT-009", "why an estimate is missing"] == "no audits in scope after it"
    assert "99% CI" in report.actions_table(_effects(), alpha=0.01).columns[5]


def test_actions_table_says_which_numbers_are_design_weighted():
    fx = _effects().assign(rate_basis="design-weighted")
    t = report.actions_table(fx)
    assert t.columns[5] == "accuracy before (95% CI, design-weighted)"
    assert t.columns[7] == "accuracy after (95% CI, design-weighted)"
    assert t.columns[8] == "diff-in-diff (95% CI, audits unweighted)"
    assert t.columns[9] == "time-series level change (95% CI, audits unweighted)"
    assert t.iloc[0, 5] == "80.0% (76.0%–84.0%)"
    plain = report.actions_table(fx.assign(rate_basis="unweighted"))
    assert plain.columns[5] == "accuracy before (95% CI, unweighted)"


# ------------------------------------------------------ scopes on the demo data
@pytest.fixture(scope="module")
def scope(audited60k):
    a = audited60k
    return Scope(
        audits=a[a[S.VENDOR] == "Vendor B"],
        all_audits=a,
        golden_audits=a.iloc[:0],
        tables={},
        start=a[S.WEEK].min(),
        end=a[S.WEEK].max(),
        label="Vendor B",
        fingerprint="f",
    )


def test_vendor_audits_pseudonymise_own_and_anonymise_peers(scope):
    own, peers = report.vendor_audits(scope, "Vendor B")
    assert not set(own[S.MODERATOR_ID]) & set(scope.audits[S.MODERATOR_ID])
    assert own[S.MODERATOR_ID].str.match(r"^M-[0-9a-f]{8}$").all()
    assert own[S.AUDITOR_ID].str.match(r"^QA-[0-9a-f]{8}$").all()
    vendors = set(peers[S.VENDOR])
    assert "Vendor B" in vendors and not vendors & {"Vendor A", "Vendor C", "Vendor D", report.PLATFORM}
    assert {v for v in vendors if v != "Vendor B"} <= {"Peer A", "Peer B", "Peer C"}
    foreign = peers[S.VENDOR] != "Vendor B"
    assert peers.loc[foreign, S.MODERATOR_ID].isna().all() and S.AUDITOR_ID not in peers
    assert peers.loc[foreign, S.SITE].str.startswith("Peer ").all()


def test_headline_is_the_design_weighted_kpi_row(scope):
    hl = report.headline(scope.audits).iloc[0]
    a = scope.audits
    w = a[S.WEIGHT].to_numpy()
    assert hl["n"] == len(a)
    assert hl["accuracy"] == pytest.approx(1 - np.sum(w * a[S.IS_ERROR]) / np.sum(w))
    assert hl["ci_low"] < hl["accuracy"] < hl["ci_high"]
    assert hl["status"] in {"met", "at risk", "missed"}
    assert hl["critical_ci_low"] <= hl["critical_rate"] <= hl["critical_ci_high"]


def test_peer_table_has_intervals_for_every_vendor(scope):
    _, peers = report.vendor_audits(scope, "Vendor B")
    t = report.peer_table(peers)
    assert len(t) == 4 and (t["ci_low"] < t["accuracy"]).all() and (t["accuracy"] < t["ci_high"]).all()


def test_actions_in_scope_never_shows_another_vendors_action():
    acts = pd.DataFrame(
        {S.ACTION_ID: ["a", "b", "c"], S.VENDOR: [None, "Vendor B", "Vendor C"], S.MARKET: [None, None, "ID"]}
    )
    assert report.actions_in_scope(acts, vendor="Vendor B")[S.ACTION_ID].tolist() == ["a", "b"]
    assert report.actions_in_scope(acts, market="ID")[S.ACTION_ID].tolist() == ["a", "b", "c"]


def test_with_cause_names_uses_the_taxonomy():
    t = pd.DataFrame({S.ROOT_CAUSE: ["fatigue_attention", "not_a_code"]})
    out = report.with_cause_names(t)
    assert out[S.ROOT_CAUSE].tolist()[1] == "not_a_code"
    assert out[S.ROOT_CAUSE].tolist()[0] == S.load_taxonomy().root_cause_names["fatigue_attention"]


def test_wilson_intervals_in_drift_match_statsmodels():
    # the drift table shows what drift_flags computed: pin that to statsmodels once more here
    lo, hi = proportion_confint(6, 200, method="wilson")
    assert interval_text(0.03, lo, hi) == f"3.0% ({lo:.1%}–{hi:.1%})"


def test_session_table_shows_each_agreement_statistic_with_its_interval():
    from modqa_lib.stats.agreement import session_agreement

    cal = pd.DataFrame(
        {
            S.SESSION_ID: "S1",
            S.ITEM_ID: np.repeat(np.arange(12), 3),
            S.RATER_ID: np.tile(["r1", "r2", "r3"], 12),
            S.LABEL: list("aabbbbaaaabbcccccaaaabbbcccaabbbcccc"),
        }
    )
    sa = session_agreement(cal, n_boot=100)
    row = report.session_table(sa).iloc[0]
    k = sa.iloc[0]
    assert row["items"] == 12 and row["raters"] == 3
    assert row["Fleiss' kappa (95% CI)"] == (
        f"{k['fleiss_kappa']:.3f} ({k['fleiss_kappa_ci_low']:.3f} to {k['fleiss_kappa_ci_high']:.3f})"
    )
    assert row["percent agreement (95% CI)"].endswith("%)")


def test_metrics_table_pairs_each_metric_with_its_interval_and_n():
    wide = pd.DataFrame(
        {
            S.POLICY: ["a", "b"],
            "recall": [0.9, 0.7],
            "recall_ci_low": [0.85, 0.6],
            "recall_ci_high": [0.94, 0.78],
            "recall_n": [300, 120],
            "fpr": [0.02, np.nan],
            "fpr_ci_low": [0.01, np.nan],
            "fpr_ci_high": [0.04, np.nan],
            "fpr_n": [900, 0],
        }
    )
    t = report.metrics_table(wide, S.POLICY, ["recall", "fpr"], sort_by="recall")
    assert t[S.POLICY].tolist() == ["b", "a"]
    assert t.loc[0, "recall (95% CI)"] == "70.0% (60.0%–78.0%)" and t.loc[0, "recall n"] == 120
    assert t.loc[0, "fpr (95% CI)"] == "" and t.loc[0, "fpr n"] == 0
    assert t.loc[1, "fpr (95% CI)"] == "2.0% (1.0%–4.0%)"


def test_drivers_table_names_the_reference_of_each_level():
    d = pd.DataFrame(
        {
            "dimension": ["shift", "shift", "shift", "site", "site"],
            "level": ["day", "night", "evening", "Penang", "KL"],
            "n": [300, 380, 320, 470, 600],
            "odds_ratio": [1.0, 2.4, 0.9, 1.8, 1.0],
            "ci_low": [np.nan, 1.1, 0.5, 0.96, np.nan],
            "ci_high": [np.nan, 5.1, 1.6, 3.4, np.nan],
            "p_value": [np.nan, 0.01, 0.7, 0.06, np.nan],
            "q_value": [np.nan, 0.03, 0.7, 0.09, np.nan],
            "flag": [False, True, False, False, False],
            "is_reference": [True, False, False, False, True],
        }
    )
    t = report.drivers_table(d)
    assert t["level"].tolist() == ["night", "Penang"]  # OR > 1 only, most significant first
    assert t["compared with"].tolist() == ["day", "KL"]
    assert t["controls for"].tolist() == ["site", "shift"]
    # sum-to-zero coding (the default): no reference row, compared with the average level
    mean = report.drivers_table(d.assign(is_reference=False))
    assert mean["compared with"].tolist() == ["average shift", "average site"]
    assert "n_eff" not in t and report.drivers_table(d, top=1)["level"].tolist() == ["night"]


def test_slices_selecting_the_same_audits_are_listed_once():
    from modqa_lib.report.display import merge_alias_slices

    audits = pd.DataFrame(
        {"site": ["model", "model", "Penang", "Cebu"], "vendor": ["Platform", "Platform", "Vendor B", "Vendor A"]}
    )
    drill = pd.DataFrame(
        {
            "dimension": ["site", "vendor", "site"],
            "value": ["model", "Platform", "Penang"],
            "excess_errors": [5.0, 5.0, 2.0],
        }
    )
    out = merge_alias_slices(drill, audits)
    assert out["value"].tolist() == ["model ≡ Platform", "Penang"]
    assert out["dimension"].tolist() == ["site ≡ vendor", "site"]


def test_intervals_are_one_column_and_q_values_read_as_words():
    df = pd.DataFrame(
        {
            "n": [10],
            "accuracy": [0.9],
            "ci_low": [0.8],
            "ci_high": [0.95],
            "median_ci_low": [3.0],
            "median_ci_high": [4.5],
            "flag": [True],
            "q_value": [0.5],
        }
    )
    html = _html(report.show(df))
    assert "95% CI" in html and "80.0–95.0%" in html and "median 95% CI" in html and "3.00–4.50" in html
    assert "ci_low" not in html and "✓" in html and "q-value" in html
    assert "90% CI" in _html(report.show(df, alpha=0.10))


def test_operations_findings_in_plain_words(demo60k):
    from modqa_lib.data import io
    from modqa_lib.report.operations import plain_findings
    from modqa_lib.stats import operations as op

    dec = demo60k.tables["decisions"]
    human, audits = dec[dec[S.HANDLE_TIME_S].notna()], io.audited_decisions(demo60k.tables)
    text = plain_findings(
        cost=op.cost_table(human, audits, io.load_yaml("rates")),
        peaks=op.sla_peaks(dec[dec[S.CONTENT_TYPE] == "livestream"], io.load_targets()["operations"], by=S.QUEUE),
        speed=op.speed_quality(human, audits),
    ).data
    assert "Pune is significantly faster" in text and "speed bought with accuracy" in text
    assert "Vendor D is the cheapest per decision but ranks" in text
    assert "ID\\-livestream misses its SLA target" in text
    assert "nothing is significantly off" in plain_findings().data
