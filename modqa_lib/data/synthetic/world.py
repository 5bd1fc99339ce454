"""The demo world (vendors, sites, markets, policies, base rates, the planted effects) and the truths planted in it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modqa_lib.errors import ConfigError

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_START",
    "MARKET_LANGUAGES",
    "PLANTED",
    "SHIFTS",
    "SITE_TIMEZONES",
    "VENDOR_SITES",
    "planted_truths",
]


DEFAULT_SEED = 20261125
DEFAULT_START = "2026-08-31"

# ============================================================================ world
#: vendor -> its sites (cities); machine decisions use vendor "Platform", site "model"
VENDOR_SITES: dict[str, tuple[str, ...]] = {
    "Vendor A": ("Manila", "Cebu"),
    "Vendor B": ("Kuala Lumpur", "Penang"),
    "Vendor C": ("Lisbon", "Porto"),
    "Vendor D": ("Hyderabad", "Pune"),
}
#: site -> IANA time zone; io derives the local hour and shift from it
SITE_TIMEZONES: dict[str, str] = {
    "Manila": "Asia/Manila",
    "Cebu": "Asia/Manila",
    "Kuala Lumpur": "Asia/Kuala_Lumpur",
    "Penang": "Asia/Kuala_Lumpur",
    "Lisbon": "Europe/Lisbon",
    "Porto": "Europe/Lisbon",
    "Hyderabad": "Asia/Kolkata",
    "Pune": "Asia/Kolkata",
    "model": "UTC",
}
#: shift -> (first local hour, end local hour, exclusive); night wraps midnight (23:00-07:00)
SHIFTS: dict[str, tuple[int, int]] = {"day": (7, 15), "evening": (15, 23), "night": (23, 7)}
#: market -> content language (ISO 639-1)
MARKET_LANGUAGES: dict[str, str] = {"US": "en", "BR": "pt", "ID": "id", "DE": "de", "MX": "es", "PH": "tl"}

_MACHINE_VENDOR, _MACHINE_SITE = "Platform", "model"
_CHANNELS = ("human", "machine", "hitl")  # integer codes 0, 1, 2
_SITE_CODES = {
    "Manila": "MNL",
    "Cebu": "CEB",
    "Kuala Lumpur": "KUL",
    "Penang": "PEN",
    "Lisbon": "LIS",
    "Porto": "OPO",
    "Hyderabad": "HYD",
    "Pune": "PNQ",
}
_VENDORS = tuple(VENDOR_SITES)
_SITES = tuple(s for v in _VENDORS for s in VENDOR_SITES[v])  # the 8 human sites
_SITE_VENDOR = np.array([_VENDORS.index(v) for v in _VENDORS for _ in VENDOR_SITES[v]])
_MARKETS = tuple(MARKET_LANGUAGES)
_MARKET_SHARE = np.array([0.24, 0.18, 0.20, 0.12, 0.13, 0.13])
_CONTENT_TYPES = ("video", "livestream", "comment", "product_listing", "seller_profile", "ip_claim")
_CT_BASE = np.array([0.34, 0.20, 0.30, 0.13, 0.015, 0.015])
_CT_ID = np.array([0.26, 0.35, 0.22, 0.14, 0.015, 0.015])  # ID: livestream shopping market

# Policies in taxonomy order (generate() checks params/taxonomy.yaml agrees).
_POLICIES = (
    "child_safety",
    "violent_extremism",
    "self_harm",
    "hate_speech",
    "harassment",
    "adult_nudity",
    "violent_graphic",
    "spam_scam",
    "misinformation",
    "regulated_goods",
    "ip_infringement",
)
_P = {p: i for i, p in enumerate(_POLICIES)}
_NV = len(_POLICIES)  # integer code of no_violation
_CRITICAL = np.array([True, True, True] + [False] * 8)
#: P(routed policy | content type); columns in _POLICIES order
_POLICY_GIVEN_CT = np.array(
    [
        [0.03, 0.04, 0.05, 0.10, 0.12, 0.14, 0.10, 0.10, 0.12, 0.05, 0.15],  # video
        [0.04, 0.03, 0.05, 0.14, 0.18, 0.22, 0.12, 0.06, 0.06, 0.06, 0.04],  # livestream
        [0.02, 0.03, 0.05, 0.20, 0.26, 0.02, 0.02, 0.22, 0.15, 0.01, 0.02],  # comment
        [0.01, 0.01, 0.00, 0.02, 0.01, 0.05, 0.01, 0.30, 0.04, 0.35, 0.20],  # product_listing
        [0.01, 0.01, 0.00, 0.03, 0.03, 0.02, 0.00, 0.50, 0.02, 0.30, 0.08],  # seller_profile
        [0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.05, 0.00, 0.00, 0.95],  # ip_claim
    ]
)
#: market tilt of the policy mix (hate speech in DE and BR, e-commerce in ID and PH)
_MARKET_POLICY_TILT = {
    ("DE", "hate_speech"): 1.6,
    ("BR", "hate_speech"): 1.4,
    ("ID", "regulated_goods"): 2.0,
    ("PH", "regulated_goods"): 2.0,
    ("US", "misinformation"): 1.3,
}
#: P(truly violating | routed policy)
_PREVALENCE = np.array([0.30, 0.30, 0.35, 0.40, 0.42, 0.45, 0.40, 0.50, 0.45, 0.45, 0.40])
_ROUTED_RIGHT = 0.95  # a violating case is routed under its true policy
#: baseline human error probability by routed policy (hate_speech, misinformation harder)
_BASE_ERR = np.array([0.0035, 0.0045, 0.0045, 0.034, 0.024, 0.017, 0.017, 0.019, 0.034, 0.019, 0.021])
_FN_SHARE = 0.55  # of errors on violating cases: missed; the rest wrong policy
#: most likely wrong policy for each true policy
_CONFUSE = np.array(
    [
        _P["adult_nudity"],
        _P["violent_graphic"],
        _P["violent_graphic"],
        _P["harassment"],
        _P["hate_speech"],
        _P["violent_graphic"],
        _P["violent_extremism"],
        _P["ip_infringement"],
        _P["hate_speech"],
        _P["spam_scam"],
        _P["spam_scam"],
    ]
)
#: share of cases handled by the model (machine or HITL); critical policies mostly human
_MODEL_SHARE = np.where(_CRITICAL, 0.20, 0.385)
#: content types the classifier scores; seller profiles and IP claims (legal notices) are
#: reviewed by people only, so model metrics never rest on a handful of such items
_MODEL_CONTENT = np.array([ct in ("video", "livestream", "comment", "product_listing") for ct in _CONTENT_TYPES])
#: vendor share of each market's human work (rows: vendors A-D; columns: markets)
_VENDOR_MARKET = np.array(
    [
        # US   BR   ID   DE   MX   PH
        [0.30, 0.00, 0.35, 0.00, 0.00, 0.50],  # Vendor A
        [0.25, 0.00, 0.60, 0.00, 0.00, 0.45],  # Vendor B
        [0.15, 0.75, 0.00, 0.65, 0.65, 0.00],  # Vendor C
        [0.18, 0.18, 0.04, 0.28, 0.28, 0.04],  # Vendor D
    ]
)
_HARD = ("hate_speech", "misinformation")
#: routing preferences (multiply the market share); Vendor D's is the planted confounder
_VENDOR_POLICY_AFFINITY = {
    ("Vendor D", "misinformation"): 15.0,
    ("Vendor D", "hate_speech"): 1.5,
    ("Vendor A", "regulated_goods"): 4.0,
}
_SITE_WEIGHT = {"Kuala Lumpur": 1.2, "Penang": 1.0}
#: specialist sites: Porto takes Vendor C's hate speech, Manila Vendor A's regulated goods
_SITE_POLICY_AFFINITY = {("Porto", "hate_speech"): 6.0, ("Manila", "regulated_goods"): 3.0}
#: Vendor D's error level: its per-policy error rates equal the *average* of the other
#: vendors including their planted slices, so its policy-adjusted odds ratio is ~1
#: against Vendor C, the largest vendor and default reference (geometric mean over seeds
#: 0-39 at 80,000 decisions: 1.0; on two seeds at 2M decisions: 1.0 and 1.08)
_VENDOR_D_LEVEL = 1.15
_MODS_PER_SITE = (25, 26, 24, 25, 25, 26, 24, 25)
_NEW_HIRE_SHARE = 0.16
_N_AUDITORS = 12
#: baseline root-cause mix of human errors
_RC_BASE = {
    "policy_knowledge_gap": 0.22,
    "guideline_ambiguity": 0.14,
    "misread_context": 0.30,
    "language_nuance": 0.16,
    "tooling_ui": 0.10,
    "fatigue_attention": 0.08,
}
#: enforcement action given the decided policy; columns remove, restrict, age_gate, demote
_ACTION_MIX = np.array(
    [
        [1.0, 0.0, 0.0, 0.0],
        [0.9, 0.1, 0.0, 0.0],
        [0.5, 0.3, 0.2, 0.0],
        [0.7, 0.2, 0.0, 0.1],
        [0.6, 0.3, 0.0, 0.1],
        [0.5, 0.1, 0.4, 0.0],
        [0.3, 0.2, 0.5, 0.0],
        [0.6, 0.0, 0.0, 0.4],
        [0.2, 0.3, 0.0, 0.5],
        [0.7, 0.3, 0.0, 0.0],
        [0.9, 0.1, 0.0, 0.0],
    ]
)
_NO_ACTION = 4  # index of "no_action" in the taxonomy's actions
_HANDLE_MEDIAN_S = np.array([55.0, 80.0, 25.0, 45.0, 70.0, 120.0])  # by content type

# --- model (classifier) ------------------------------------------------------------
_THRESHOLD = 0.5
_SCORE_VIOL = (4.0, 1.45)  # Beta(a, b) of violating cases' scores: recall ~0.85
_SCORE_CLEAN = (1.3, 6.5)  # non-violating cases: false positive rate ~0.03
_BLIND_MISS = 0.5  # ID livestreams: half the violations score like clean cases
_MODEL_POLICY_RIGHT = 0.985  # when it flags a violation, it names the right policy
_HITL_BAND = (0.2, 0.8)  # uncertain scores mostly go to HITL review
_HITL_IN_BAND, _HITL_OUT_BAND = 0.8, 0.14
_HITL_HUMAN_ERR = 0.7  # reviewing a proposal, humans slip less often
_HITL_CATCH = 0.92  # the HITL reviewer overturns a wrong proposal

# --- planted effects: extra error probability of the human judgement ---------------
_FATIGUE_EXTRA = 0.125
_AMBIGUITY_EXTRA = 0.40  # true misinformation decided under another policy
_AMBIGUITY_TO = ((_P["hate_speech"], 0.6), (_P["spam_scam"], 0.4))
_DRIFT_EXTRA = 0.11
_PORTO_EXTRA = 0.18
_MANILA_EXTRA = 0.12
#: error components of the human judgement, in order, and the root cause each carries
_COMPONENTS = (
    "baseline",
    "fatigue_attention",
    "guideline_ambiguity",
    "policy_knowledge_gap",
    "language_nuance",
    "tooling_ui",
)
_C_BASE, _C_FATIGUE, _C_AMBIGUITY, _C_DRIFT, _C_PORTO, _C_MANILA = range(len(_COMPONENTS))

# --- audits, golden items, calibration ----------------------------------------------
_RISK_MULT = {"livestream": 2.0, "score_band": 2.0, "new_moderator": 1.5, "critical": 2.0}
_SCORE_BAND = (0.35, 0.65)
_GOLDEN_QUOTA = {  # routed policy -> (violating items, non-violating items); 150 in all
    "child_safety": (7, 3),
    "violent_extremism": (7, 3),
    "self_harm": (7, 3),
    "hate_speech": (14, 6),
    "harassment": (10, 5),
    "adult_nudity": (7, 4),
    "violent_graphic": (6, 4),
    "spam_scam": (13, 7),
    "misinformation": (30, 6),
    "regulated_goods": (5, 3),
    "ip_infringement": (0, 0),  # planted: a policy with no gold (its 8 items went to spam_scam)
}
#: default audit share: the contract minimum, or what the QA team (12 auditors, about 100
#: re-reviews each a week) can audit if that is more, capped so QA never re-reviews more
#: than a quarter of the work (see :func:`default_audit_rate`)
_MIN_AUDIT_RATE = 0.075
_QA_AUDITS_PER_WEEK = 1_200
_MAX_DEFAULT_AUDIT_RATE = 0.25
_WEAK_AUDITOR = "QA-07"
_WEAK_AUDITOR_ITEMS = 100  # golden items QA-07 audits (each item has two auditors)
_WEAK_AUDITOR_WRONG = 0.15  # QA-07's sensitivity and specificity are 1 - this (exact share on gold)
#: every other auditor: P(says error | decision wrong) and P(says correct | decision right);
#: routine and golden audits carry the same verdict error (the routine label is the auditor's)
_AUDITOR_SE, _AUDITOR_SP = 0.95, 0.997  # misses and false alarms balance at ~5.5% errors
_LOW_SP_SITE = "Lisbon"  # QA-07 audits routinely here only (a share of its audits): it looks worse
_LOW_SP_SHARE = 0.10
#: Lisbon's true human error level: as audited (with QA-07's false alarms) it matches what it was before
#: the plant, so every vendor- and market-level audited figure (and the planted truths on them) stays put
_LOW_SP_SITE_LEVEL = 0.53
_NO_GOLD_POLICY = "ip_infringement"
_LEAK_EXTRA = 6  # extra servings of the leaked golden item to each of its two auditors
_CAL_SESSIONS, _CAL_ITEMS = 6, 25
_CAL_RATERS = (
    ("VQA-A", "vendor_qa"),
    ("VQA-B", "vendor_qa"),
    ("VQA-C", "vendor_qa"),
    ("VQA-D", "vendor_qa"),
    ("IQA-01", "internal_qa"),
    ("IQA-02", "internal_qa"),
    ("IQA-03", "internal_qa"),
    ("POL-01", "policy"),
    ("POL-02", "policy"),
)
_CAL_NOISE = {"vendor_qa": 0.05, "internal_qa": 0.03, "policy": 0.01}
_CAL_BIAS = 0.30

_WEEK_S = 7 * 86_400
_DAY_S = 86_400
_MIN_DECISIONS = 5_000
_MIN_WEEKS = 8
_DT = "datetime64[us, UTC]"


# ============================================================================ truths
def planted_truths(start: str = DEFAULT_START) -> dict:
    """The planted truths, with their timestamps placed relative to ``start``.

    Parameters
    ----------
    start : str, default "2026-08-31"
        Monday (UTC) the demo data begins, ``YYYY-MM-DD``.

    Returns
    -------
    dict
        JSON-serialisable. :data:`PLANTED` is ``planted_truths(DEFAULT_START)``.
        Keys ``fatigue``, ``ambiguous_policy``, ``model_fn``, ``drift``,
        ``action_worked``, ``action_failed``, ``confounder``, ``calibration``,
        ``hitl`` and ``null_effects`` (actions, policy changes and slices that
        move nothing). ``extra_error_rate`` values are the added probability of a
        human error in the slice; baselines are 0.3-3.4% by policy.

    Raises
    ------
    ConfigError
        If ``start`` is not a Monday.
    """
    t0 = _start_ts(start)

    def week(w: int) -> pd.Timestamp:  # start of week w (1-based)
        return t0 + pd.Timedelta(weeks=w - 1)

    return {
        "fatigue": {
            "vendor": "Vendor B",
            "site": "Penang",
            "shift": "night",
            "root_cause": "fatigue_attention",
            "extra_error_rate": _FATIGUE_EXTRA,
            "note": "night shift (23-07 local) at Penang only; other Penang shifts normal",
        },
        "ambiguous_policy": {
            "policy": "misinformation",
            "error_type": "wrong_policy",
            "root_cause": "guideline_ambiguity",
            "labelled_as": [_POLICIES[p] for p, _ in _AMBIGUITY_TO],
            "extra_error_rate": _AMBIGUITY_EXTRA,
            "note": "all vendors; truly violating misinformation decided under "
            "hate_speech or spam_scam; lowest accuracy of all policies",
        },
        "model_fn": {
            "market": "ID",
            "content_type": "livestream",
            "metric": "recall",
            "root_cause": "model_error",
            "recall": round(_recall_design(_BLIND_MISS), 2),
            "recall_elsewhere": round(_recall_design(0.0), 2),
            "note": "half the violating ID livestreams score like clean content; model recall is lowest in market ID",
        },
        "drift": {
            "policy": "harassment",
            "changed_at": _iso(week(7)),
            "week": week(7).date().isoformat(),
            "root_cause": "policy_knowledge_gap",
            "extra_error_rate": _DRIFT_EXTRA,
            "note": "human error on harassment jumps at the policy change and does not recover",
        },
        "action_worked": {
            "action_id": "ACT-003",
            "vendor": "Vendor C",
            "site": "Porto",
            "policy": "hate_speech",
            "kind": "retraining",
            "started_at": _iso(week(6)),
            "root_cause": "language_nuance",
            "extra_error_rate_before": _PORTO_EXTRA,
            "extra_error_rate_after": 0.0,
        },
        "action_failed": {
            "action_id": "ACT-004",
            "vendor": "Vendor A",
            "site": "Manila",
            "policy": "regulated_goods",
            "kind": "sop_clarification",
            "started_at": _iso(week(6)),
            "root_cause": "tooling_ui",
            "extra_error_rate_before": _MANILA_EXTRA,
            "extra_error_rate_after": _MANILA_EXTRA,
        },
        "confounder": {
            "vendor": "Vendor D",
            "reason": "policy_mix",
            "hard_policies": list(_HARD),
            "adjusted_odds_ratio": 1.0,
            "error_level_vs_baseline": _VENDOR_D_LEVEL,
            "note": "Vendor D is routed most misinformation (and more hate speech); its "
            "per-policy error rates equal the other vendors' average, so its raw "
            "accuracy is the lowest but its policy-adjusted odds ratio is ~1. "
            f"Its error level (x{_VENDOR_D_LEVEL} the baseline) matches the other vendors' "
            "including their planted slices. No planted slice is at Vendor D.",
        },
        "calibration": {
            "biased_group": "vendor_qa",
            "bias": {"from": "misinformation", "to": "hate_speech"},
            "bias_rate": _CAL_BIAS,
            "worst_golden_auditor": _WEAK_AUDITOR,
            "worst_golden_auditor_wrong_rate": _WEAK_AUDITOR_WRONG,
            "split_items_per_session": 1,
        },
        "hitl": {
            "override_rate": 0.15,
            "override_accuracy": 0.75,
            "note": "design targets; truth['realised'] has hitl_override_rate and hitl_override_accuracy as simulated",
        },
        "null_effects": {
            "actions": ["ACT-001", "ACT-002", "ACT-005"],
            "policy_changes": [
                {"policy": "spam_scam", "changed_at": _iso(week(3))},
                {"policy": "adult_nudity", "changed_at": _iso(week(10))},
            ],
            "slices": [
                "moderator_tenure_days",
                "moderator_id",
                "market (human error)",
                "language",
                "shift (outside Penang)",
            ],
        },
    }


def _recall_design(blind_share: float) -> float:
    """Model recall when ``blind_share`` of the violations score like clean content."""
    from scipy.stats import beta

    return float(
        (1 - blind_share) * beta.sf(_THRESHOLD, *_SCORE_VIOL) + blind_share * beta.sf(_THRESHOLD, *_SCORE_CLEAN)
    )


def _start_ts(start: str) -> pd.Timestamp:
    try:
        t0 = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"start {start!r} is not a date (YYYY-MM-DD): {exc}") from None
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    if t0 != t0.normalize() or t0.day_of_week != 0:
        raise ConfigError(f"start {start!r} must be a Monday at 00:00 UTC (weeks are ISO weeks)")
    return t0


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S+00:00")


PLANTED: dict = planted_truths(DEFAULT_START)
