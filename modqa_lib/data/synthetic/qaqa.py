"""QA-of-QA demo data: the ``vendor_qa`` and ``disputes`` tables, the auditor-error truths and their realised values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.data.synthetic.simulate import (
    _frame,
    _ids,
    _pick,
)
from modqa_lib.data.synthetic.tables import (
    _rate,
)
from modqa_lib.data.synthetic.world import (
    _AUDITOR_SE,
    _AUDITOR_SP,
    _DAY_S,
    _LEAK_EXTRA,
    _LOW_SP_SHARE,
    _LOW_SP_SITE,
    _NO_GOLD_POLICY,
    _SITE_CODES,
    _SITES,
    _WEAK_AUDITOR,
    _WEAK_AUDITOR_WRONG,
)

__all__: list[str] = []


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
