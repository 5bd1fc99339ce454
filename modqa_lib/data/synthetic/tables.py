"""The demo's contract tables built from the simulation, and the realised truths (what the simulation produced)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.data.synthetic.simulate import (
    _cat,
    _frame,
    _ids,
    _utc,
)
from modqa_lib.data.synthetic.world import (
    _CHANNELS,
    _CONTENT_TYPES,
    _HARD,
    _MACHINE_SITE,
    _MACHINE_VENDOR,
    _MARKETS,
    _NV,
    _P,
    _POLICIES,
    _SITE_VENDOR,
    _SITES,
    _VENDORS,
    MARKET_LANGUAGES,
)

__all__: list[str] = []


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
