"""Seeded demo data with planted truths.

:func:`generate` simulates twelve weeks of moderation at four BPO vendors (eight
sites), a machine classifier and human-in-the-loop (HITL) review, then draws a
QA audit sample, golden (known-answer) audits, calibration sessions, corrective
actions and policy changes. Every table satisfies :data:`modqa_lib.contract.schema.TABLES`.

A handful of problems are **planted** (:data:`PLANTED`): a fatigued night shift,
an ambiguous policy, a model blind spot, a policy-change drift, one corrective
action that worked and one that did not, a vendor whose low raw accuracy is
explained by its policy mix, a biased calibration group and a weak auditor with low
specificity (QA-07) who audits part of Lisbon's work, which looks worse as audited than
it is (routine and golden audits carry the same auditor error: the routine ``qa_label`` is
the auditor's, the truth stays in truth.json), a leaked golden item, a policy with no gold
(and, in the QA-of-QA tables drawn afterwards from their own stream, a site whose
vendor-reported QA is inflated and an auditor overturned in disputes far more
often). The
tests of scoring, RCA, drift, effects, model metrics and calibration assert that
those modules find exactly these. Everything else is noise around flat
baselines: human error does not depend on tenure, market, language, moderator
or (outside Penang) shift.

The generator is vectorised (numpy) and deterministic: the same seed and
arguments give identical tables and, through :func:`write_demo_data`, identical
file bytes. Each part of the simulation draws from its own random stream
(``numpy.random.SeedSequence(seed).spawn``), so changing one part does not
reshuffle the others.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, InputFileError

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_START",
    "MARKET_LANGUAGES",
    "PLANTED",
    "SHIFTS",
    "SITE_TIMEZONES",
    "VENDOR_SITES",
    "DemoData",
    "default_audit_rate",
    "generate",
    "planted_truths",
    "write_demo_data",
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


@dataclass
class DemoData:
    """Generated demo tables and the truths planted in them.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``decisions``, ``audits``, ``calibration``, ``golden``, ``actions``,
        ``policy_changes``, ``disputes``, ``vendor_qa``, each with the columns of
        :data:`schema.TABLES` in order.
    truth : dict
        JSON-serialisable: ``seed``, ``n_decisions``, ``start``, ``weeks``,
        ``audit_rate``, every entry of :func:`planted_truths` and ``realised``
        (what the simulation produced over *all* decisions, not just the audited
        ones: slice error rates, model recall, HITL override figures,
        calibration split items, counts); ``qaqa``: the QA-of-QA truths (a vendor site
        whose self-reported QA is inflated, an auditor overturned far more often, the
        truths not planted and why) and their realised values.
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    truth: dict = field(default_factory=dict)


# ============================================================================ helpers
def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows need not be normalised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _other_policy(rng: np.random.Generator, true_pol: np.ndarray, routed: np.ndarray) -> np.ndarray:
    """A wrong policy for truly violating cases: the routed one if different, else a confusion."""
    n = len(true_pol)
    rand_other = (true_pol + rng.integers(1, _NV, n)) % _NV
    conf = np.where(rng.random(n) < 0.7, _CONFUSE[np.minimum(true_pol, _NV - 1)], rand_other)
    return np.where(routed != true_pol, routed, conf)


def _round_sig(x: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round positive values to ``digits`` significant digits (exact decimal, vectorised)."""
    k = digits - 1 - np.floor(np.log10(x)).astype(int)  # decimals to keep
    out = np.empty_like(x, dtype=float)
    for kk in np.unique(k):  # a handful of distinct exponents
        m = k == kk
        f = 10.0 ** abs(int(kk))
        out[m] = np.round(x[m] * f) / f if kk >= 0 else np.round(x[m] / f) * f
    return out


def _ids(prefix: str, nums: np.ndarray, width: int) -> np.ndarray:
    return (prefix + pd.Series(nums, dtype="int64").astype(str).str.zfill(width)).to_numpy(dtype=object)


def _cat(values, codes: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Map integer codes to strings; ``missing`` rows become None."""
    arr = np.asarray(tuple(values), dtype=object)[codes]
    if missing is not None:
        arr[missing] = None
    return arr


def _utc(seconds: np.ndarray) -> pd.DatetimeIndex:
    return cast(pd.DatetimeIndex, pd.to_datetime(seconds, unit="s", utc=True).astype(_DT))


def _frame(table: str, cols: dict) -> pd.DataFrame:
    """A DataFrame in contract column order with contract dtypes (str, Int64, ...)."""
    spec = S.TABLES[table]
    n = len(next(iter(cols.values()))) if cols else 0
    df = pd.DataFrame({c.name: cols[c.name] if c.required or c.name in cols else [None] * n for c in spec.columns})
    for col in spec.columns:
        if col.dtype == "str":
            df[col.name] = df[col.name].astype("str")
        elif col.dtype == "int":
            df[col.name] = df[col.name].astype("Int64" if col.nullable else "int64")
        elif col.dtype == "float":
            df[col.name] = df[col.name].astype("float64")
        elif col.dtype == "bool":
            df[col.name] = df[col.name].astype(bool)
        elif col.dtype == "datetime":
            df[col.name] = df[col.name].astype(_DT)  # type: ignore[call-overload]  # pandas-stubs: no tz-aware dtype strings
    return df


def _validate_args(seed, n_decisions, weeks, audit_rate) -> None:
    """Raise ConfigError for an out-of-range argument (``audit_rate`` None means the default)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(n_decisions, bool) or not isinstance(n_decisions, (int, np.integer)) or n_decisions < _MIN_DECISIONS:
        raise ConfigError(
            f"n_decisions must be an integer >= {_MIN_DECISIONS:,} (the golden set and "
            f"the planted effects need it), got {n_decisions!r}"
        )
    if isinstance(weeks, bool) or not isinstance(weeks, (int, np.integer)) or weeks < _MIN_WEEKS:
        raise ConfigError(
            f"weeks must be an integer >= {_MIN_WEEKS} (the planted drift starts in week 7), got {weeks!r}"
        )
    if audit_rate is None:
        return
    try:
        ok = 0 < float(audit_rate) <= 0.5
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"audit_rate must be a number in (0, 0.5], got {audit_rate!r}")


# ============================================================================ simulation
def _simulate(
    rng: dict[str, np.random.Generator], n: int, weeks: int, t0_s: int, tax: S.Taxonomy
) -> dict[str, np.ndarray]:
    """Simulate every decision: its case, who decided it, the decision and its truth.

    Returns a dict of aligned arrays (integer codes), sorted by decision time.
    """
    r_case, r_route, r_model, r_human = rng["case"], rng["route"], rng["model"], rng["human"]
    w: dict[str, np.ndarray] = {}

    # --- cases: market, content type, routed policy, time, truth ------------------
    market = r_case.choice(len(_MARKETS), n, p=_MARKET_SHARE)
    ctype = _pick(r_case, np.where((market == _MARKETS.index("ID"))[:, None], _CT_ID, _CT_BASE))
    tilt = np.ones((len(_MARKETS), _NV))
    for (mk, pol), f in _MARKET_POLICY_TILT.items():
        tilt[_MARKETS.index(mk), _P[pol]] = f
    policy = _pick(r_case, _POLICY_GIVEN_CT[ctype] * tilt[market])
    t_rel = np.sort(r_case.integers(0, weeks * _WEEK_S, n))  # seconds since start
    viol = r_case.random(n) < _PREVALENCE[policy]
    misroute = r_case.random(n) >= _ROUTED_RIGHT
    alt = _pick(r_case, _POLICY_GIVEN_CT[ctype])
    truth = np.where(viol, np.where(misroute, alt, policy), _NV)
    week_idx = t_rel // _WEEK_S  # 0-based week

    # --- model score, proposal and channel -----------------------------------------
    model_handled = (r_route.random(n) < _MODEL_SHARE[policy]) & _MODEL_CONTENT[ctype]
    blind = viol & (market == _MARKETS.index("ID")) & (ctype == _CONTENT_TYPES.index("livestream"))
    looks_clean = ~viol | (blind & (r_model.random(n) < _BLIND_MISS))
    score = np.round(
        r_model.beta(
            np.where(looks_clean, _SCORE_CLEAN[0], _SCORE_VIOL[0]),
            np.where(looks_clean, _SCORE_CLEAN[1], _SCORE_VIOL[1]),
        ),
        4,
    )
    right_pol = r_model.random(n) < _MODEL_POLICY_RIGHT
    flagged_as = np.where(viol, np.where(right_pol, truth, _other_policy(r_model, truth, policy)), policy)
    model_lab = np.where(score >= _THRESHOLD, flagged_as, _NV)
    in_band = (score >= _HITL_BAND[0]) & (score <= _HITL_BAND[1])
    to_hitl = r_route.random(n) < np.where(in_band, _HITL_IN_BAND, _HITL_OUT_BAND)
    channel = np.where(model_handled, np.where(to_hitl, 2, 1), 0)
    humanish = channel != 1  # a vendor moderator decides

    # --- vendor and site of human / HITL work ----------------------------------------
    site_p = np.zeros((len(_MARKETS) * _NV, len(_SITES)))
    for m in range(len(_MARKETS)):
        for p in range(_NV):
            vw = _VENDOR_MARKET[:, m] * np.array(
                [_VENDOR_POLICY_AFFINITY.get((v, _POLICIES[p]), 1.0) for v in _VENDORS]
            )
            vw = vw / vw.sum()
            for v in range(len(_VENDORS)):
                sites = np.flatnonzero(v == _SITE_VENDOR)
                sw = np.array(
                    [
                        _SITE_WEIGHT.get(_SITES[i], 1.0) * _SITE_POLICY_AFFINITY.get((_SITES[i], _POLICIES[p]), 1.0)
                        for i in sites
                    ]
                )
                site_p[m * _NV + p, sites] = vw[v] * sw / sw.sum()
    site = np.where(humanish, _pick(r_route, site_p[market * _NV + policy]), -1)

    # --- local shift and moderator -----------------------------------------------------
    abs_s = t0_s + t_rel
    shift = np.full(n, -1)
    for i, s in enumerate(_SITES):
        m = site == i
        hour = np.asarray(_utc(abs_s[m]).tz_convert(SITE_TIMEZONES[s]).hour)
        shift[m] = np.where((hour >= 7) & (hour < 15), 0, np.where((hour >= 15) & (hour < 23), 1, 2))
    mods = _roster(r_route, weeks)
    mod = np.full(n, -1)
    group = np.where(humanish, site * 3 + shift, -1)
    for g in range(len(_SITES) * 3):  # 24 site-shift teams, not rows
        rows = np.flatnonzero(group == g)
        team = np.flatnonzero(mods["group"] == g)
        pick = team[r_route.integers(0, len(team), len(rows))]
        for _ in range(50):  # redraw cases decided before the hire date
            bad = mods["hire_rel_s"][pick] > t_rel[rows]
            if not bad.any():
                break
            pick[bad] = team[r_route.integers(0, len(team), int(bad.sum()))]
        bad = mods["hire_rel_s"][pick] > t_rel[rows]
        pick[bad] = team[np.argmin(mods["hire_rel_s"][team])]
        mod[rows] = pick
    tenure = np.where(mod >= 0, (t_rel - mods["hire_rel_s"][np.maximum(mod, 0)]) // _DAY_S, -1)

    # --- the human judgement: competing error components ----------------------------
    is_site = {s: site == i for i, s in enumerate(_SITES)}
    hz = np.zeros((n, len(_COMPONENTS)))
    hz[:, _C_BASE] = _BASE_ERR[policy]
    hz[:, _C_FATIGUE] = _FATIGUE_EXTRA * (is_site["Penang"] & (shift == 2))
    hz[:, _C_AMBIGUITY] = _AMBIGUITY_EXTRA * ((policy == _P["misinformation"]) & (truth == _P["misinformation"]))
    hz[:, _C_DRIFT] = _DRIFT_EXTRA * ((policy == _P["harassment"]) & (week_idx >= 6))
    hz[:, _C_PORTO] = _PORTO_EXTRA * (is_site["Porto"] & (policy == _P["hate_speech"]) & (week_idx < 5))
    hz[:, _C_MANILA] = _MANILA_EXTRA * (is_site["Manila"] & (policy == _P["regulated_goods"]))
    hz[channel == 1] = 0.0
    hz[channel == 2] *= _HITL_HUMAN_ERR
    hz[humanish & (_SITE_VENDOR[np.maximum(site, 0)] == _VENDORS.index("Vendor D"))] *= _VENDOR_D_LEVEL
    hz[humanish & (site == _SITES.index(_LOW_SP_SITE))] *= _LOW_SP_SITE_LEVEL  # better than it looks
    comp = (np.cumsum(hz, axis=1) <= r_human.random(n)[:, None]).sum(axis=1)  # len(_COMPONENTS): none
    h_err = comp < len(_COMPONENTS)
    amb_to = np.where(r_human.random(n) < _AMBIGUITY_TO[0][1], _AMBIGUITY_TO[0][0], _AMBIGUITY_TO[1][0])
    missed = r_human.random(n) < _FN_SHARE
    wrong = np.where(truth == _NV, policy, np.where(missed, _NV, _other_policy(r_human, truth, policy)))
    wrong = np.where(comp == _C_AMBIGUITY, amb_to, wrong)
    human_lab = np.where(h_err, wrong, truth)
    rc = tuple(tax.root_causes)
    base_rc = np.array([rc.index(c) for c in _RC_BASE])[
        r_human.choice(len(_RC_BASE), n, p=np.array(list(_RC_BASE.values())))
    ]
    comp_rc = np.array([-1] + [rc.index(c) for c in _COMPONENTS[1:]] + [-1])
    human_rc = np.where(comp == _C_BASE, base_rc, comp_rc[comp])

    # --- the decision ------------------------------------------------------------------
    catch = rng["hitl"].random(n) < _HITL_CATCH
    # HITL: a right proposal is overturned only when the reviewer errs; a wrong one when caught
    hitl_lab = np.where(model_lab != truth, np.where(catch, human_lab, model_lab), human_lab)
    label = np.select([channel == 0, channel == 1], [human_lab, model_lab], hitl_lab)
    is_err = label != truth
    model_rc = rc.index("model_error")
    root = np.where((channel == 1) | ((channel == 2) & (label == model_lab)), model_rc, human_rc)
    err_type, severity = _error_fields(r_human, label, truth)
    action = np.where(label == _NV, _NO_ACTION, _pick(r_human, _ACTION_MIX[np.minimum(label, _NV - 1)]))
    handle = np.where(
        channel == 1,
        np.nan,
        np.round(_HANDLE_MEDIAN_S[ctype] * np.where(channel == 2, 0.6, 1.0) * np.exp(r_human.normal(0.0, 0.45, n)), 1),
    )
    content = r_case.permutation(n * 5)[:n] + 10_000_000

    w.update(
        market=market,
        ctype=ctype,
        policy=policy,
        t_rel=t_rel,
        abs_s=abs_s,
        week_idx=week_idx,
        viol=viol,
        truth=truth,
        blind=blind,
        score=score,
        model_lab=model_lab,
        channel=channel,
        humanish=humanish,
        site=site,
        shift=shift,
        mod=mod,
        tenure=tenure,
        comp=comp,
        label=label,
        is_err=is_err,
        root=np.where(is_err, root, -1),
        err_type=err_type,
        severity=severity,
        action=action,
        handle=handle,
        content=content,
        mod_ids=mods["id"],
    )
    return w


def _roster(rng: np.random.Generator, weeks: int) -> dict[str, np.ndarray]:
    """Moderators per site, each on one shift, with hire times in seconds from the start.

    About 16% are new hires joining between 25 days before the start and mid-period
    (tenure under 30 days for a while); every site-shift team keeps at least three veterans.
    """
    ids, group, hire = [], [], []
    for i, s in enumerate(_SITES):
        k = _MODS_PER_SITE[i]
        sh = np.arange(k) % 3
        new = np.zeros(k, bool)
        for g in range(3):
            members = np.flatnonzero(sh == g)
            n_new = min(rng.binomial(len(members), _NEW_HIRE_SHARE), len(members) - 3)
            new[rng.choice(members, n_new, replace=False)] = True
        days = np.where(new, rng.uniform(-25, min(55, weeks * 7 - 14), k), -rng.uniform(60, 1500, k))
        letter = _VENDORS[_SITE_VENDOR[i]][-1]
        ids += [f"{letter}-{_SITE_CODES[s]}-{j + 1:03d}" for j in range(k)]
        group += list(i * 3 + sh)
        hire += list(np.round(days * _DAY_S).astype(np.int64))
    return {"id": np.array(ids, dtype=object), "group": np.array(group), "hire_rel_s": np.array(hire)}


def _error_fields(rng: np.random.Generator, label: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """error_type and severity codes (taxonomy order) of ``label`` judged against ``correct``.

    False positive if the correct label is no_violation, false negative if the
    decision is, else wrong policy. A missed critical policy is critical; other
    severities are drawn (misses mostly major, wrong policy mostly minor).
    """
    fp, fn = correct == _NV, label == _NV
    etype = np.where(fp, 0, np.where(fn, 1, 2))
    u = rng.random(len(label))
    crit_fn = fn & ~fp & _CRITICAL[np.minimum(correct, _NV - 1)]
    major = np.where(fn, u < 0.7, np.where(fp, u < 0.4, u < 0.3))
    return etype, np.where(crit_fn, 0, np.where(major, 1, 2))


# ============================================================================ audits
def _draw_audits(
    rng: dict[str, np.random.Generator], w: dict, n: int, audit_rate: float, tax: S.Taxonomy
) -> dict[str, np.ndarray]:
    """Poisson QA sample plus golden audits, as aligned arrays sorted by audit time.

    Routine and golden verdicts carry the same auditor error: an auditor catches a wrong
    decision with probability Se and passes a right one with probability Sp (QA-07: both
    0.85, and it audits routinely only at Cebu, a share of that site's audits). The routine
    ``qa`` label is the auditor's, not the truth (``w["truth"]``).
    """
    r_audit, r_gold = rng["audit"], rng["gold"]
    has_model = w["channel"] != 0
    mult = np.ones(n)
    mult *= np.where(w["ctype"] == _CONTENT_TYPES.index("livestream"), _RISK_MULT["livestream"], 1.0)
    mult *= np.where(
        has_model & (w["score"] >= _SCORE_BAND[0]) & (w["score"] <= _SCORE_BAND[1]), _RISK_MULT["score_band"], 1.0
    )
    mult *= np.where((w["mod"] >= 0) & (w["tenure"] < 30), _RISK_MULT["new_moderator"], 1.0)
    mult *= np.where(_CRITICAL[w["policy"]], _RISK_MULT["critical"], 1.0)
    p_inc = np.minimum(_round_sig(np.minimum(audit_rate * n * mult / mult.sum(), 1.0), 6), 1.0)
    sampled = r_audit.random(n) < p_inc
    reg = np.flatnonzero(sampled)
    gold_idx = _choose_golden(r_gold, w["policy"], w["truth"], w["humanish"] & ~sampled)

    reg_auditor = r_audit.integers(0, _N_AUDITORS, len(reg))
    reg_delay = np.minimum(2 * 3600 + r_audit.lognormal(np.log(20 * 3600), 0.8, len(reg)), 6 * _DAY_S).astype(np.int64)
    r_noise = np.random.default_rng(r_audit.integers(0, 2**63))  # own stream: the sample above is unchanged
    weak = int(_WEAK_AUDITOR.split("-")[1]) - 1
    others = np.array([i for i in range(_N_AUDITORS) if i != weak])
    reg_auditor = np.where(reg_auditor == weak, others[r_noise.integers(0, len(others), len(reg))], reg_auditor)
    at_low = w["site"][reg] == _SITES.index(_LOW_SP_SITE)
    reg_auditor = np.where(at_low & (r_noise.random(len(reg)) < _LOW_SP_SHARE), weak, reg_auditor)
    is_weak = reg_auditor == weak
    dec_wrong = w["is_err"][reg]
    p_slip = np.where(dec_wrong, 1 - _AUDITOR_SE, 1 - _AUDITOR_SP)
    p_slip = np.where(is_weak, _WEAK_AUDITOR_WRONG, p_slip)
    slip = r_noise.random(len(reg)) < p_slip
    reg_truth = w["truth"][reg]
    reg_label = w["label"][reg]
    alt = _auditor_alt(r_noise, reg_truth, w["policy"][reg])
    reg_qa = np.where(slip, np.where(dec_wrong, reg_label, alt), reg_truth)
    reg_err = reg_label != reg_qa
    fa_type, fa_sev = _error_fields(r_noise, reg_label, reg_qa)
    rc = tuple(tax.root_causes)
    fa_rc = np.array([rc.index(c) for c in _RC_BASE])[
        r_noise.choice(len(_RC_BASE), len(reg), p=np.array(list(_RC_BASE.values())))
    ]
    model_made = (w["channel"][reg] == 1) | ((w["channel"][reg] == 2) & (reg_label == w["model_lab"][reg]))
    fa_rc = np.where(model_made, rc.index("model_error"), fa_rc)  # as for true errors of the model
    false_alarm = reg_err & ~dec_wrong
    reg_type = np.where(false_alarm, fa_type, w["err_type"][reg])
    reg_sev = np.where(false_alarm, fa_sev, w["severity"][reg])
    reg_rc = np.where(false_alarm, fa_rc, w["root"][reg])

    g_dec, g_aud, g_qa, g_wrong = _golden_audits(r_gold, gold_idx, w["truth"], w["policy"], w["label"])
    g_delay = r_gold.integers(_DAY_S, 10 * _DAY_S, len(g_dec))
    leak = _leak(r_noise, g_dec, g_aud, g_wrong, weak)
    g_dec = np.concatenate([g_dec, leak["dec"]])
    g_aud = np.concatenate([g_aud, leak["aud"]])
    g_qa = np.concatenate([g_qa, w["truth"][leak["dec"]]])
    g_wrong = np.concatenate([g_wrong, np.zeros(len(leak["dec"]), bool)])
    g_delay = np.concatenate([g_delay, leak["delay"]])
    g_type, g_sev = _error_fields(r_gold, w["label"][g_dec], g_qa)
    g_err = w["label"][g_dec] != g_qa
    qa_error = tuple(tax.root_causes).index("qa_error")
    g_rc = np.where(g_err, np.where(g_wrong, qa_error, w["root"][g_dec]), -1)

    a = {
        "dec": np.concatenate([reg, g_dec]),
        "auditor": np.concatenate([reg_auditor, g_aud]),
        "when": np.concatenate([w["abs_s"][reg] + reg_delay, w["abs_s"][g_dec] + g_delay]),
        "qa": np.concatenate([reg_qa, g_qa]),
        "err": np.concatenate([reg_err, g_err]),
        "type": np.concatenate([reg_type, g_type]),
        "sev": np.concatenate([reg_sev, g_sev]),
        "rc": np.concatenate([reg_rc, g_rc]),
        "golden": np.concatenate([np.zeros(len(reg), bool), np.ones(len(g_dec), bool)]),
        "p": np.concatenate([p_inc[reg], np.ones(len(g_dec))]),
        "true_err": np.concatenate([dec_wrong, w["is_err"][g_dec]]),
    }
    order = np.lexsort((a["auditor"], a["dec"], a["when"]))
    a = {k: v[order] for k, v in a.items()}
    a["gold_idx"] = gold_idx
    a["leak_dec"], a["leak_aud"] = leak["dec"], leak["aud"]
    return a


def _auditor_alt(rng: np.random.Generator, gold: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """The label an auditor gives when it wrongly calls a right decision an error (never the right label)."""
    return np.where(
        gold == _NV, policy, np.where(rng.random(len(gold)) < 0.5, _NV, _CONFUSE[np.minimum(gold, _NV - 1)])
    )


def _leak(rng: np.random.Generator, g_dec: np.ndarray, g_aud: np.ndarray, g_wrong: np.ndarray, weak: int) -> dict:
    """A leaked golden item: served again ``_LEAK_EXTRA`` times to each of its two auditors, always right.

    The item is one whose two first servings were right and that QA-07 did not audit.
    """
    k = len(g_dec) // 2
    ok = ~g_wrong[:k] & ~g_wrong[k:] & (g_aud[:k] != weak) & (g_aud[k:] != weak)
    i = int(rng.choice(np.flatnonzero(ok)))
    auds = np.array([g_aud[i], g_aud[k + i]])
    return {
        "dec": np.full(2 * _LEAK_EXTRA, g_dec[i]),
        "aud": np.repeat(auds, _LEAK_EXTRA),
        "delay": np.sort(rng.integers(_DAY_S, 10 * _DAY_S, 2 * _LEAK_EXTRA)),
    }


def _choose_golden(rng: np.random.Generator, policy: np.ndarray, truth: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Golden-item decisions: clean cases per policy quota, none otherwise audited."""
    out = []
    for p, (k_viol, k_clean) in _GOLDEN_QUOTA.items():
        pi = _P[p]
        for k, mask in ((k_viol, truth == pi), (k_clean, truth == _NV)):
            pool = np.flatnonzero(eligible & (policy == pi) & mask)
            out.append(rng.choice(pool, min(k, len(pool)), replace=False))
    return np.sort(np.concatenate(out))


def _golden_audits(
    rng: np.random.Generator, gold_idx: np.ndarray, truth: np.ndarray, policy: np.ndarray, label: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two auditors per golden item; QA-07 (on 100 items) is wrong on exactly 15% of its items.

    The others slip as on routine audits: a wrong decision passed with probability
    1 - Se (the label agrees with the decision), a right one called an error with 1 - Sp.
    """
    k = len(gold_idx)
    weak = int(_WEAK_AUDITOR.split("-")[1]) - 1
    with_weak = np.zeros(k, bool)
    with_weak[rng.choice(k, min(_WEAK_AUDITOR_ITEMS, k), replace=False)] = True
    others = np.array([i for i in range(_N_AUDITORS) if i != weak])
    first = rng.integers(0, len(others), k)
    second = (first + rng.integers(1, len(others), k)) % len(others)  # a different auditor
    aud = np.concatenate([others[first], np.where(with_weak, weak, others[second])])
    dec = np.concatenate([gold_idx, gold_idx])
    gold = truth[dec]
    dec_wrong = label[dec] != gold
    wrong = rng.random(2 * k) < np.where(dec_wrong, 1 - _AUDITOR_SE, 1 - _AUDITOR_SP)
    weak_rows = np.flatnonzero(aud == weak)
    wrong[weak_rows] = False
    wrong[rng.choice(weak_rows, int(round(_WEAK_AUDITOR_WRONG * len(weak_rows))), replace=False)] = True
    alt = _auditor_alt(rng, gold, policy[dec])
    return dec, aud, np.where(wrong, np.where(dec_wrong, label[dec], alt), gold), wrong


def _calibration(
    rng: np.random.Generator, gold_idx: np.ndarray, truth: np.ndarray, policy: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Calibration votes: 6 sessions x 25 golden items x 9 raters.

    vendor_qa raters label gold misinformation as hate_speech 30% of the time;
    one non-misinformation item per session splits the room (4-5 of 9 dissent).
    Returns session, item, rater and vote codes plus the split items' indices.
    """
    items = rng.permutation(gold_idx)[: _CAL_SESSIONS * _CAL_ITEMS].reshape(_CAL_SESSIONS, -1)
    n_r = len(_CAL_RATERS)
    groups = np.array([g for _, g in _CAL_RATERS])
    item = np.repeat(items.ravel(), n_r)
    sess = np.repeat(np.arange(_CAL_SESSIONS), items.shape[1] * n_r)
    rater = np.tile(np.arange(n_r), items.size)
    gold = truth[item]
    noise = np.array([_CAL_NOISE[g] for g in groups])[rater]
    alt = np.where(
        gold == _NV, policy[item], np.where(rng.random(len(item)) < 0.6, _NV, _CONFUSE[np.minimum(gold, _NV - 1)])
    )
    alt = np.where(alt == _P["hate_speech"], _NV, alt)  # keep the noise off the planted bias
    vote = np.where(rng.random(len(item)) < noise, alt, gold)
    biased = (groups[rater] == "vendor_qa") & (gold == _P["misinformation"]) & (rng.random(len(item)) < _CAL_BIAS)
    vote = np.where(biased, _P["hate_speech"], vote)
    split = []
    for s in range(_CAL_SESSIONS):  # 6 sessions, not rows
        cand = [i for i in items[s] if truth[i] != _P["misinformation"]]
        it = cand[rng.integers(0, len(cand))]
        split.append(it)
        rows = np.flatnonzero((sess == s) & (item == it))
        g = truth[it]
        other = policy[it] if g == _NV else (_NV if rng.random() < 0.5 else _CONFUSE[g])
        vote[rows] = g
        vote[rng.choice(rows, int(rng.integers(4, 6)), replace=False)] = other
    return sess, item, rater, vote, np.array(split)


# ============================================================================ tables
def _static_tables(t0: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Corrective actions and policy changes (ACT-003, ACT-004 and the harassment change are planted)."""

    def week(w: int) -> pd.Timestamp:
        return t0 + pd.Timedelta(weeks=w - 1)

    rows = [
        (
            "ACT-001",
            "calibration",
            None,
            None,
            None,
            "misinformation",
            week(3),
            "Policy team",
            "accuracy",
            "Cross-vendor calibration session on misinformation edge cases",
        ),
        (
            "ACT-002",
            "coaching",
            "Vendor A",
            "Cebu",
            None,
            None,
            week(4),
            "Vendor A QA lead",
            "accuracy",
            "One-to-one coaching for moderators below 95% in their first audits",
        ),
        (
            "ACT-003",
            "retraining",
            "Vendor C",
            "Porto",
            None,
            "hate_speech",
            week(6),
            "Vendor C training",
            "accuracy",
            "Retraining on Brazilian Portuguese slurs, slang and reclaimed terms",
        ),
        (
            "ACT-004",
            "sop_clarification",
            "Vendor A",
            "Manila",
            None,
            "regulated_goods",
            week(6),
            "Policy team",
            "accuracy",
            "SOP clarification: regulated goods listings (supplements, vapes)",
        ),
        (
            "ACT-005",
            "retraining",
            "Vendor B",
            "Kuala Lumpur",
            None,
            "spam_scam",
            week(8),
            "Vendor B training",
            "accuracy",
            "Refresher on scam patterns in seller messages",
        ),
    ]
    cols = [
        S.ACTION_ID,
        S.KIND,
        S.VENDOR,
        S.SITE,
        S.MARKET,
        S.POLICY,
        S.STARTED_AT,
        S.OWNER,
        S.TARGET_METRIC,
        S.DESCRIPTION,
    ]
    actions = _frame("actions", {c: [r[i] for r in rows] for i, c in enumerate(cols)})
    changes = [
        (week(3), "spam_scam", "Affiliate links in bios are allowed when disclosed"),
        (week(7), "harassment", "Harassment policy expanded: coordinated pile-ons and new severity tiers"),
        (week(10), "adult_nudity", "Art and education exception clarified"),
    ]
    policy_changes = _frame(
        "policy_changes",
        {
            S.CHANGED_AT: [c[0] for c in changes],
            S.POLICY: [c[1] for c in changes],
            S.DESCRIPTION: [c[2] for c in changes],
        },
    )
    return actions, policy_changes


def _decision_table(w: dict, dec_ids: np.ndarray, tax: S.Taxonomy) -> pd.DataFrame:
    labels = tax.labels
    humanish, has_model = w["humanish"], w["channel"] != 0
    site = np.maximum(w["site"], 0)
    market = _cat(_MARKETS, w["market"])
    ctype = _cat(_CONTENT_TYPES, w["ctype"])
    tenure = pd.array(np.where(w["mod"] >= 0, w["tenure"], 0), dtype="Int64")
    tenure[w["mod"] < 0] = pd.NA
    return _frame(
        "decisions",
        {
            S.DECISION_ID: dec_ids,
            S.CONTENT_ID: _ids("C", w["content"], 9),
            S.CONTENT_TYPE: ctype,
            S.QUEUE: market.astype(str) + "-" + ctype.astype(str),
            S.MARKET: market,
            S.LANGUAGE: _cat(MARKET_LANGUAGES.values(), w["market"]),
            S.VENDOR: np.where(humanish, np.asarray(_VENDORS, dtype=object)[_SITE_VENDOR[site]], _MACHINE_VENDOR),
            S.SITE: np.where(humanish, np.asarray(_SITES, dtype=object)[site], _MACHINE_SITE),
            S.MODERATOR_ID: np.where(w["mod"] >= 0, w["mod_ids"][np.maximum(w["mod"], 0)], None),
            S.MODERATOR_TENURE_DAYS: tenure,
            S.DECIDED_AT: _utc(w["abs_s"]),
            S.CHANNEL: _cat(_CHANNELS, w["channel"]),
            S.POLICY: _cat(labels, w["policy"]),
            S.LABEL: _cat(labels, w["label"]),
            S.ACTION: _cat(tax.actions, w["action"]),
            S.MODEL_LABEL: _cat(labels, w["model_lab"], ~has_model),
            S.MODEL_SCORE: np.where(has_model, w["score"], np.nan),
            S.HANDLE_TIME_S: w["handle"],
        },
    )


def _audit_table(a: dict, w: dict, dec_ids: np.ndarray, tax: S.Taxonomy, width: int) -> pd.DataFrame:
    dec = a["dec"]
    iso = _utc(w["abs_s"][dec]).isocalendar()
    week_id = ("S" + iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)).to_numpy()
    site = w["site"][dec]
    stratum = np.where(
        site >= 0,
        np.asarray([f"{_VENDORS[_SITE_VENDOR[i]]}|{s}" for i, s in enumerate(_SITES)] + [""], dtype=object)[site],
        f"{_MACHINE_VENDOR}|{_MACHINE_SITE}",
    )
    no_err = ~a["err"]
    return _frame(
        "audits",
        {
            S.AUDIT_ID: _ids("AU", np.arange(1, len(dec) + 1), width),
            S.DECISION_ID: dec_ids[dec],
            S.AUDITOR_ID: _ids("QA-", a["auditor"] + 1, 2),
            S.AUDITED_AT: _utc(a["when"]),
            S.QA_LABEL: _cat(tax.labels, a["qa"]),
            S.IS_ERROR: a["err"],
            S.ERROR_TYPE: _cat(tax.error_types, np.where(no_err, 0, a["type"]), no_err),
            S.SEVERITY: _cat(tax.severities, np.where(no_err, 0, a["sev"]), no_err),
            S.ROOT_CAUSE: _cat(tax.root_causes, np.where(no_err, 0, a["rc"]), no_err),
            S.SAMPLE_ID: np.where(a["golden"], "GOLDEN", week_id).astype(object),
            S.STRATUM: np.where(a["golden"], "golden", stratum).astype(object),
            S.INCLUSION_PROB: a["p"],
            S.WEIGHT: np.round(1.0 / a["p"], 6),
            S.IS_GOLDEN: a["golden"],
        },
    )


# ============================================================================ realised truth
def _rate(err: np.ndarray, mask: np.ndarray) -> float | None:
    k = int(mask.sum())
    return round(float(err[mask].mean()), 4) if k else None


def _realised(w: dict, a: dict, split_items: list[str]) -> dict:
    """What the simulation produced over all decisions (population values, not estimates)."""
    err, ch, pol, wk = w["is_err"], w["channel"], w["policy"], w["week_idx"]
    hum = w["humanish"]
    site = np.asarray(_SITES + ("",), dtype=object)[w["site"]]
    vendor_code = np.where(w["site"] >= 0, _SITE_VENDOR[np.maximum(w["site"], 0)], -1)
    vendor = np.asarray(_VENDORS + ("",), dtype=object)[vendor_code]
    night = w["shift"] == 2
    pen, porto, manila = hum & (site == "Penang"), hum & (site == "Porto"), hum & (site == "Manila")
    mis = pol == _P["misinformation"]
    policy_err = {p: _rate(err, pol == i) for i, p in enumerate(_POLICIES)}
    har = hum & (pol == _P["harassment"])
    hs, rg = porto & (pol == _P["hate_speech"]), manila & (pol == _P["regulated_goods"])
    model = ch != 0
    v_model = model & w["viol"]
    hit = w["model_lab"] != _NV
    idl = (w["market"] == _MARKETS.index("ID")) & (w["ctype"] == _CONTENT_TYPES.index("livestream"))
    hitl = ch == 2
    over = hitl & (w["label"] != w["model_lab"])
    return {
        "scope": "all decisions (population); error rates of human and HITL decisions unless noted",
        "fatigue": {
            "slice_error_rate": _rate(err, pen & night),
            "penang_other_shifts": _rate(err, pen & ~night),
            "rest_error_rate": _rate(err, hum & ~(pen & night)),
        },
        "ambiguous_policy": {
            "policy_error_rate_all_channels": policy_err,
            "misinformation_human_error_rate": _rate(err, hum & mis),
        },
        "model_fn": {
            "recall_slice": _rate(hit, v_model & idl),
            "recall_elsewhere": _rate(hit, v_model & ~idl),
            "recall_by_market": {m: _rate(hit, v_model & (w["market"] == i)) for i, m in enumerate(_MARKETS)},
        },
        "drift": {"error_rate_before": _rate(err, har & (wk < 6)), "error_rate_after": _rate(err, har & (wk >= 6))},
        "action_worked": {
            "error_rate_before": _rate(err, hs & (wk < 5)),
            "error_rate_after": _rate(err, hs & (wk >= 5)),
        },
        "action_failed": {
            "error_rate_before": _rate(err, rg & (wk < 5)),
            "error_rate_after": _rate(err, rg & (wk >= 5)),
        },
        "confounder": {
            "vendor_error_rate": {v: _rate(err, vendor == v) for v in _VENDORS},
            "vendor_hard_policy_share": {v: _rate(np.isin(pol, [_P[p] for p in _HARD]), vendor == v) for v in _VENDORS},
        },
        "hitl_override_rate": _rate(over, hitl),
        "hitl_override_accuracy": _rate(~err, over),
        "channel_share": {c: round(float((ch == i).mean()), 4) for i, c in enumerate(_CHANNELS)},
        "human_error_rate": _rate(err, ch == 0),
        "violation_prevalence": round(float(w["viol"].mean()), 4),
        "calibration_split_items": split_items,
        "n_audits": len(a["dec"]),
        "n_golden_audits": int(a["golden"].sum()),
        "n_golden_items": len(a["gold_idx"]),
    }


# ============================================================================ QA of QA
#: the QA-of-QA tables draw from their own stream, after every other table is made,
#: so adding them changed no value of the existing tables
_QAQA_STREAM = 1301
_INFLATED_VENDOR, _INFLATED_SITE = "Vendor D", "Pune"
_INFLATION = 0.03  # vendor-reported accuracy minus the true accuracy at the inflated site
_VQA_OVERLAP = 0.6  # share of platform-audited vendor decisions the vendor's own QA also audited
_VQA_RANDOM = 0.04  # share of the other vendor decisions the vendor's own QA audited
_VQA_MISS = 0.08  # vendor QA misses this share of true errors, balanced by false flags (no bias)
_VQA_PER_SITE = 5  # vendor QA auditors per site
_DISPUTE_RATE = 0.5  # share of error verdicts on vendor decisions the vendor disputes
_OVERTURNED_AUDITOR = "QA-04"
_OVERTURN_RATE = {"planted": 0.55, "others": 0.12}
_PARTIAL_RATE = 0.06  # of disputes not overturned
_RESOLUTION_DAYS = (2.5, 0.7)  # lognormal median (days) and sigma of the time to resolution
_DISPUTE_REASONS = ("policy_interpretation", "missing_context", "guideline_changed", "other")
_DISPUTE_REASON_P = np.array([0.5, 0.3, 0.1, 0.1])
_RESOLVERS = ("POL-01", "POL-02", "IQA-01", "IQA-02")


def _qaqa_planted() -> dict:
    """The QA-of-QA truths planted by :func:`_qaqa_tables` (design values)."""
    return {
        "vendor_inflation": {
            "vendor": _INFLATED_VENDOR,
            "site": _INFLATED_SITE,
            "inflation_points": round(100 * _INFLATION, 1),
            "note": "vendor QA misses errors at this site only; elsewhere its misses and false flags balance",
        },
        "overturned_auditor": {
            "auditor": _OVERTURNED_AUDITOR,
            "overturn_rate": _OVERTURN_RATE["planted"],
            "others_overturn_rate": _OVERTURN_RATE["others"],
        },
        "low_specificity_auditor": {
            "auditor": _WEAK_AUDITOR,
            "site": _LOW_SP_SITE,
            "share_of_site_audits": _LOW_SP_SHARE,
            "sensitivity": round(1 - _WEAK_AUDITOR_WRONG, 2),
            "specificity": round(1 - _WEAK_AUDITOR_WRONG, 2),
            "note": f"{_WEAK_AUDITOR} calls right decisions errors; it audits routinely only at {_LOW_SP_SITE}, "
            "which looks worse as audited than it is; the correction for auditor error removes most of the gap",
        },
        "auditors": {
            "sensitivity": _AUDITOR_SE,
            "specificity": _AUDITOR_SP,
            "note": "every other auditor, on routine and golden audits alike; routine qa_label is the "
            "auditor's label, not the truth (realised: true and audited error rates per site)",
        },
        "leaked_golden_item": {
            "extra_servings_per_auditor": _LEAK_EXTRA,
            "note": "one golden item served again to its two auditors, always answered right; "
            "realised.leaked_item has its id and auditors",
        },
        "policy_without_gold": {
            "policy": _NO_GOLD_POLICY,
            "note": "no golden item has this policy: auditor error cannot be estimated for it",
        },
    }


def _qaqa_tables(seed: int, w: dict, decisions: pd.DataFrame, audits: pd.DataFrame, tax: S.Taxonomy) -> tuple:
    """The ``vendor_qa`` and ``disputes`` tables and their realised truths.

    Draws from ``np.random.default_rng([seed, 1301])`` only, and reads (never
    changes) the other tables.
    """
    rng = np.random.default_rng([int(seed), _QAQA_STREAM])
    labels = np.asarray(tax.labels, dtype=object)
    n = len(decisions)
    human = decisions[S.CHANNEL].to_numpy(dtype=object) != "machine"
    site = decisions[S.SITE].to_numpy(dtype=object)
    label = decisions[S.LABEL].to_numpy(dtype=object)
    truth = labels[w["truth"]]
    wrong = label != truth
    reg = audits[~audits[S.IS_GOLDEN].to_numpy(dtype=bool)]
    dec_pos = pd.Index(decisions[S.DECISION_ID]).get_indexer(reg[S.DECISION_ID])
    plat = np.zeros(n, bool)
    plat[dec_pos] = True

    # --- vendor_qa: the vendor's own audits ------------------------------------
    u_sel, u_miss, u_flag = rng.random(n), rng.random(n), rng.random(n)
    sel = human & np.where(plat, u_sel < _VQA_OVERLAP, u_sel < _VQA_RANDOM)
    miss, flag = np.zeros(n), np.zeros(n)
    for s_name in _SITES:
        m = human & (site == s_name)
        e = float(wrong[m & sel].mean()) if (m & sel).any() else 0.0  # error rate among the vendor's audits
        flag[m] = _VQA_MISS * e / max(1 - e, 1e-9)  # false flags that offset the base misses on average
        miss[m] = _VQA_MISS
        if s_name == _INFLATED_SITE and e > 0:  # extra misses lift the reported accuracy by _INFLATION
            miss[m] = min(_VQA_MISS + _INFLATION / e, 1.0)
    says_err = np.where(wrong, u_miss >= miss, u_flag < flag)
    alt = np.where(label == tax.no_violation, labels[w["policy"]], tax.no_violation)
    vqa_lab = np.where(says_err, np.where(wrong, truth, alt), label)
    idx = np.flatnonzero(sel)
    site_code = np.asarray([_SITE_CODES.get(x, "X") for x in site[idx]], dtype=object)
    k_aud = rng.integers(1, _VQA_PER_SITE + 1, len(idx))
    delay = rng.integers(2 * 3600, 3 * _DAY_S, len(idx))
    vendor_qa = _frame(
        "vendor_qa",
        {
            S.VENDOR_AUDIT_ID: _ids("VA", np.arange(1, len(idx) + 1), 7),
            S.DECISION_ID: decisions[S.DECISION_ID].to_numpy(dtype=object)[idx],
            S.VENDOR_AUDITOR_ID: site_code + "-VQA-" + np.char.zfill(k_aud.astype(str), 2).astype(object),
            S.AUDITED_AT: decisions[S.DECIDED_AT].iloc[idx].reset_index(drop=True) + pd.to_timedelta(delay, unit="s"),
            S.VENDOR_QA_LABEL: vqa_lab[idx],
            S.IS_ERROR: label[idx] != vqa_lab[idx],
        },
    )

    # --- disputes of platform error verdicts on vendor decisions --------------
    err_rows = np.flatnonzero(reg[S.IS_ERROR].to_numpy(dtype=bool) & human[dec_pos])
    disputed = err_rows[rng.random(len(err_rows)) < _DISPUTE_RATE]
    da = reg.iloc[disputed]
    k = len(da)
    auditor = da[S.AUDITOR_ID].to_numpy(dtype=object)
    p_over = np.where(auditor == _OVERTURNED_AUDITOR, _OVERTURN_RATE["planted"], _OVERTURN_RATE["others"])
    u = rng.random(k)
    over = u < p_over
    partial = ~over & (rng.random(k) < _PARTIAL_RATE)
    raised = da[S.AUDITED_AT].reset_index(drop=True) + pd.to_timedelta(rng.integers(2 * 3600, 4 * _DAY_S, k), unit="s")
    med, sig = _RESOLUTION_DAYS
    res_s = np.round(rng.lognormal(np.log(med * _DAY_S), sig, k)).astype(np.int64)
    resolved = raised + pd.to_timedelta(res_s, unit="s")
    end = audits[S.AUDITED_AT].max()
    is_open = (resolved > end).to_numpy()
    status = np.where(
        is_open, "open", np.where(over, "overturned", np.where(partial, "partially_overturned", "upheld"))
    )
    grader = rng.random(k) < 0.8
    reason_res = np.where(
        status == "upheld", "not_grader_error", np.where(grader, "grader_error", "policy_unclear")
    ).astype(object)
    dlab = label[dec_pos[disputed]]
    corrected = np.where(status == "overturned", dlab, None)
    vendor_of = decisions[S.VENDOR].to_numpy(dtype=object)[dec_pos[disputed]]
    disputes = _frame(
        "disputes",
        {
            S.DISPUTE_ID: _ids("DP", np.arange(1, k + 1), 6),
            S.AUDIT_ID: da[S.AUDIT_ID].to_numpy(dtype=object),
            S.RAISED_BY: vendor_of,
            S.RAISED_AT: raised,
            S.REASON: np.asarray(_DISPUTE_REASONS, dtype=object)[_pick(rng, np.tile(_DISPUTE_REASON_P, (k, 1)))],
            S.STATUS: status.astype(object),
            S.RESOLVED_AT: resolved.where(~is_open),
            S.RESOLVED_BY: np.where(is_open, None, np.asarray(_RESOLVERS, dtype=object)[rng.integers(0, 4, k)]),  # type: ignore[call-overload]  # pandas-stubs: where(other=ndarray)
            S.RESOLUTION_REASON: np.where(is_open, None, reason_res),  # type: ignore[call-overload]
            S.CORRECTED_LABEL: corrected,
        },
    )

    # --- realised truths -----------------------------------------------------------
    pair = sel & plat
    real_inf = {
        s_name: round(
            float(wrong[pair & (site == s_name)].mean() - (label != vqa_lab)[pair & (site == s_name)].mean()), 4
        )
        for s_name in _SITES
        if (pair & (site == s_name)).any()
    }
    real_all = {
        s_name: round(
            float(wrong[sel & (site == s_name)].mean() - (label != vqa_lab)[sel & (site == s_name)].mean()), 4
        )
        for s_name in _SITES
        if (sel & (site == s_name)).any()
    }
    closed = ~is_open
    planted_aud = auditor == _OVERTURNED_AUDITOR
    realised = {
        "vendor_minus_true_accuracy_on_paired": real_inf,
        "vendor_minus_true_accuracy_all_vendor_audits": real_all,
        "n_vendor_qa": int(len(idx)),
        "n_paired": int(pair.sum()),
        "n_disputes": int(k),
        "overturn_rate_planted_auditor": _rate(over, closed & planted_aud),
        "overturn_rate_others": _rate(over, closed & ~planted_aud),
    }
    return vendor_qa, disputes, realised


def _auditor_realised(w: dict, a: dict, dec_ids: np.ndarray) -> dict:
    """Realised truths of the auditor-error plants: per-site error rates true and as audited, the leak."""
    reg = ~a["golden"]
    site = w["site"][a["dec"]]
    wt = 1.0 / a["p"]
    hum = w["humanish"]

    def hajek(x: np.ndarray, m: np.ndarray) -> float | None:
        return round(float((wt[m] * x[m]).sum() / wt[m].sum()), 4) if m.any() else None

    sites = {}
    for i, s_name in enumerate(_SITES):
        m = reg & (site == i)
        sites[s_name] = {
            "population_error_rate": _rate(w["is_err"], hum & (w["site"] == i)),
            "true_error_rate_audited_sample": hajek(a["true_err"].astype(float), m),
            "audited_error_rate": hajek(a["err"].astype(float), m),
            "n_audits": int(m.sum()),
            "weak_auditor_share": round(float((a["auditor"][m] == int(_WEAK_AUDITOR[3:]) - 1).mean()), 4)
            if m.any()
            else None,
        }
    item = str(dec_ids[a["leak_dec"][0]])
    served = a["golden"] & (a["dec"] == a["leak_dec"][0])
    return {
        "sites": sites,
        "routine_true_error_rate": hajek(a["true_err"].astype(float), reg),
        "routine_audited_error_rate": hajek(a["err"].astype(float), reg),
        "leaked_item": {
            "item_id": item,
            "auditors": sorted({f"QA-{x + 1:02d}" for x in a["leak_aud"]}),
            "times_served": int(served.sum()),
        },
    }


# ============================================================================ public API
def default_audit_rate(n_decisions: int, weeks: int = 12) -> float:
    """The audit share :func:`generate` uses when none is given.

    Parameters
    ----------
    n_decisions : int
        Number of decisions in the period.
    weeks : int, default 12
        Length of the period.

    Returns
    -------
    float
        ``min(0.25, max(0.075, 1200 * weeks / n_decisions))`` rounded to 4
        decimals: the contract minimum of 7.5% of decisions, or what the QA
        team (12 auditors, about 100 re-reviews each a week) audits when that
        is more, never above a quarter of the work.

    Notes
    -----
    The demo keeps a real-sized roster (about 200 moderators at 8 sites)
    whatever the volume, so at 7.5% a small demo would give each moderator
    one or two audits a week and each site-shift team about ten: too few for
    a weekly QA loop, and too few for the planted slices (one team, one
    site's policy, one policy after a change) to show reliably on every
    seed. A QA team audits what its capacity allows, so small demos are
    audited more densely: 24% at 60,000 decisions, 18% at 80,000, the
    contract minimum from 192,000 decisions (the default 200,000) up.

    Examples
    --------
    >>> default_audit_rate(60_000), default_audit_rate(80_000), default_audit_rate(200_000)
    (0.24, 0.18, 0.075)
    """
    rate = _QA_AUDITS_PER_WEEK * int(weeks) / int(n_decisions)
    return round(min(_MAX_DEFAULT_AUDIT_RATE, max(_MIN_AUDIT_RATE, rate)), 4)


def generate(
    seed: int = DEFAULT_SEED,
    n_decisions: int = 200_000,
    weeks: int = 12,
    start: str = DEFAULT_START,
    audit_rate: float | None = None,
) -> DemoData:
    """Generate the demo data set with planted truths.

    Parameters
    ----------
    seed : int, default DEFAULT_SEED
        Seed of the random streams; the same seed and arguments give identical tables.
    n_decisions : int, default 200_000
        Number of moderation decisions (at least 5,000).
    weeks : int, default 12
        Number of weeks simulated (at least 8: the planted drift starts in week 7).
    start : str, default "2026-08-31"
        First Monday (UTC) of the period, ``YYYY-MM-DD``.
    audit_rate : float, optional
        Expected share of decisions audited, in (0, 0.5]. Default
        :func:`default_audit_rate`: 7.5%, or more for small demos (24% at
        60,000 decisions), so every site-shift team gets a realistic number of
        audits a week.

    Returns
    -------
    DemoData
        ``tables`` keyed by contract table name and ``truth`` (see :data:`PLANTED`
        and :class:`DemoData`).

    Raises
    ------
    ConfigError
        If an argument is out of range, ``start`` is not a Monday, or the
        taxonomy's policies are not the ones the generator knows.

    Notes
    -----
    Audits are a Poisson sample: decision *i* is audited independently with
    probability ``p_i = audit_rate * n * m_i / sum(m)`` (capped at 1), where
    the risk multiplier ``m_i`` is x2 for livestreams, x2 for model scores in
    [0.35, 0.65], x1.5 for moderators under 30 days' tenure and x2 for critical
    policies. ``inclusion_prob`` is ``p_i`` to 6 significant digits and
    ``weight`` is ``1 / inclusion_prob``, so Horvitz-Thompson estimates over
    the audits are design-unbiased [1]_. Golden audits (``is_golden``) are
    outside the sample design (``inclusion_prob = 1``, stratum ``golden``).

    References
    ----------
    .. [1] Horvitz, D. G. and Thompson, D. J. (1952). A generalization of
       sampling without replacement from a finite universe. *Journal of the
       American Statistical Association* 47(260), 663-685.

    Examples
    --------
    >>> demo = generate(n_decisions=5_000)
    >>> sorted(demo.tables)
    ['actions', 'audits', 'calibration', 'decisions', 'disputes', 'golden', 'policy_changes', 'vendor_qa']
    >>> demo.truth["fatigue"]["site"], demo.truth["drift"]["week"]
    ('Penang', '2026-10-12')
    """
    _validate_args(seed, n_decisions, weeks, audit_rate)
    if audit_rate is None:
        audit_rate = default_audit_rate(n_decisions, weeks)
    t0 = _start_ts(start)
    tax = S.load_taxonomy()
    if (
        tuple(tax.policies) != _POLICIES
        or tax.actions[_NO_ACTION] != "no_action"
        or tuple(tax.error_types) != ("false_positive", "false_negative", "wrong_policy")
        or tuple(tax.severities) != ("critical", "major", "minor")
        or tuple(tax.channels) != _CHANNELS
        or not {"model_error", "qa_error", *_RC_BASE} <= set(tax.root_causes)
    ):
        raise ConfigError(
            "params/taxonomy.yaml does not match the demo generator (policies, actions, "
            "error types, severities, channels or root causes changed); the demo data "
            "cannot be generated from it"
        )
    names = ("case", "route", "model", "human", "hitl", "audit", "gold", "cal")
    rng = dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(len(names)))))
    n = int(n_decisions)

    w = _simulate(rng, n, int(weeks), int(t0.value // 1_000_000_000), tax)
    a = _draw_audits(rng, w, n, float(audit_rate), tax)
    width = max(7, len(str(n)))
    dec_ids = _ids("D", np.arange(1, n + 1), width)
    decisions = _decision_table(w, dec_ids, tax)
    audits = _audit_table(a, w, dec_ids, tax, width)
    gold_idx = a["gold_idx"]
    golden = _frame(
        "golden",
        {
            S.ITEM_ID: dec_ids[gold_idx],
            S.GOLD_LABEL: _cat(tax.labels, w["truth"][gold_idx]),
            S.POLICY: _cat(tax.labels, w["policy"][gold_idx]),
        },
    )
    sess, item, rater, vote, split = _calibration(rng["cal"], gold_idx, w["truth"], w["policy"])
    calibration = _frame(
        "calibration",
        {
            S.SESSION_ID: _ids("CAL-", sess + 1, 2),
            S.ITEM_ID: dec_ids[item],
            S.RATER_ID: _cat([r for r, _ in _CAL_RATERS], rater),
            S.RATER_GROUP: _cat([g for _, g in _CAL_RATERS], rater),
            S.LABEL: _cat(tax.labels, vote),
        },
    )
    actions, policy_changes = _static_tables(t0)

    truth = {
        "seed": int(seed),
        "n_decisions": n,
        "start": t0.date().isoformat(),
        "weeks": int(weeks),
        "audit_rate": float(audit_rate),
        **planted_truths(start),
        "realised": _realised(w, a, [str(x) for x in dec_ids[split]]),
    }
    vendor_qa, disputes, qaqa_realised = _qaqa_tables(int(seed), w, decisions, audits, tax)
    qaqa_realised.update(_auditor_realised(w, a, dec_ids))
    truth["qaqa"] = {**_qaqa_planted(), "realised": qaqa_realised}
    tables = {
        "decisions": decisions,
        "audits": audits,
        "calibration": calibration,
        "golden": golden,
        "actions": actions,
        "policy_changes": policy_changes,
        "disputes": disputes,
        "vendor_qa": vendor_qa,
    }
    from modqa_lib.data.synthetic_ops import add_operations  # own RNG stream: existing tables stay as they are

    tables, truth["operations"] = add_operations(tables, int(seed), t0)
    return DemoData(tables={k: tables[k] for k in S.TABLE_NAMES if k in tables}, truth=truth)


# ============================================================================ writing
def _csv_bytes(df: pd.DataFrame) -> bytes:
    """Deterministic CSV bytes: ISO-8601 timestamps with offset, true/false, empty for null."""
    out: dict[str, Any] = {}
    for c in df.columns:
        s = df[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            naive = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
            txt = pd.Series(np.datetime_as_string(naive, unit="s"), index=df.index, dtype=object) + "+00:00"
            out[c] = txt.where(s.notna(), None)
        elif s.dtype == bool:
            out[c] = np.where(s.to_numpy(), "true", "false")
        else:
            out[c] = s
    return pd.DataFrame(out, index=df.index).to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, engine="pyarrow", compression="snappy")
    return buf.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file in the same folder, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; use normal permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_demo_data(
    out_dir: str | os.PathLike,
    seed: int = DEFAULT_SEED,
    n_decisions: int = 200_000,
    fmt: str = "csv",
    force: bool = False,
) -> Path:
    """Generate the demo data and write each table plus ``truth.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Folder to write into (created if missing), usually ``data/raw``.
    seed : int, default DEFAULT_SEED
        Passed to :func:`generate`.
    n_decisions : int, default 200_000
        Passed to :func:`generate`.
    fmt : {"csv", "parquet"}
        File format of the tables (``<table>.csv`` or ``<table>.parquet``). CSV is
        UTF-8, comma-delimited, ``\\n`` line ends, ISO-8601 timestamps with
        offset, ``true``/``false`` booleans and empty fields for nulls.
    force : bool, default False
        Overwrite existing files whose bytes differ. Without it, any such file
        makes the call fail before anything is written: raw data is never
        overwritten silently. Files with identical bytes are left untouched.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    InputFileError
        If target files exist with different bytes and ``force`` is false, or
        ``out_dir`` cannot be written.
    ConfigError
        If ``fmt`` or a generator argument is invalid.

    Notes
    -----
    Each file is written atomically (temp file in the same folder, then
    :func:`os.replace`), so a reader never sees a half-written table. Same seed
    and size give byte-identical files.
    """
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"format must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputFileError(f"{out} exists and is not a folder")
    demo = generate(seed=seed, n_decisions=n_decisions)
    render = _csv_bytes if fmt == "csv" else _parquet_bytes
    files = {f"{name}.{fmt}": render(df) for name, df in demo.tables.items()}
    files["truth.json"] = (json.dumps(demo.truth, sort_keys=True, indent=2) + "\n").encode("utf-8")
    try:
        differ = [
            out / name for name, data in files.items() if (out / name).exists() and (out / name).read_bytes() != data
        ]
    except OSError as exc:
        raise InputFileError(f"cannot read existing files in {out}: {exc}") from None
    if differ and not force:
        verb = "exists and differs" if len(differ) == 1 else "exist and differ"
        raise InputFileError(
            f"{', '.join(str(p) for p in differ)} {verb}; pass --force to overwrite "
            f"(raw data is never overwritten silently)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            path = out / name
            if path.exists() and path.read_bytes() == data:
                continue
            _atomic_write(path, data)
    except OSError as exc:
        raise InputFileError(f"cannot write demo data to {out}: {exc}") from None
    return out


# Building blocks for the other demo generators (operations, transparency), under public names.
contract_frame = _frame
csv_bytes = _csv_bytes
atomic_write = _atomic_write
start_timestamp = _start_ts
