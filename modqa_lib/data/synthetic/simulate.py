"""Simulating the demo: decisions (human, machine, HITL), the QA audit sample, golden audits and calibration sessions."""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.data.synthetic.world import (
    _ACTION_MIX,
    _AMBIGUITY_EXTRA,
    _AMBIGUITY_TO,
    _AUDITOR_SE,
    _AUDITOR_SP,
    _BASE_ERR,
    _BLIND_MISS,
    _C_AMBIGUITY,
    _C_BASE,
    _C_DRIFT,
    _C_FATIGUE,
    _C_MANILA,
    _C_PORTO,
    _CAL_BIAS,
    _CAL_ITEMS,
    _CAL_NOISE,
    _CAL_RATERS,
    _CAL_SESSIONS,
    _COMPONENTS,
    _CONFUSE,
    _CONTENT_TYPES,
    _CRITICAL,
    _CT_BASE,
    _CT_ID,
    _DAY_S,
    _DRIFT_EXTRA,
    _DT,
    _FATIGUE_EXTRA,
    _FN_SHARE,
    _GOLDEN_QUOTA,
    _HANDLE_MEDIAN_S,
    _HITL_BAND,
    _HITL_CATCH,
    _HITL_HUMAN_ERR,
    _HITL_IN_BAND,
    _HITL_OUT_BAND,
    _LEAK_EXTRA,
    _LOW_SP_SHARE,
    _LOW_SP_SITE,
    _LOW_SP_SITE_LEVEL,
    _MANILA_EXTRA,
    _MARKET_POLICY_TILT,
    _MARKET_SHARE,
    _MARKETS,
    _MIN_DECISIONS,
    _MIN_WEEKS,
    _MODEL_CONTENT,
    _MODEL_POLICY_RIGHT,
    _MODEL_SHARE,
    _MODS_PER_SITE,
    _N_AUDITORS,
    _NEW_HIRE_SHARE,
    _NO_ACTION,
    _NV,
    _P,
    _POLICIES,
    _POLICY_GIVEN_CT,
    _PORTO_EXTRA,
    _PREVALENCE,
    _RC_BASE,
    _RISK_MULT,
    _ROUTED_RIGHT,
    _SCORE_BAND,
    _SCORE_CLEAN,
    _SCORE_VIOL,
    _SITE_CODES,
    _SITE_POLICY_AFFINITY,
    _SITE_VENDOR,
    _SITE_WEIGHT,
    _SITES,
    _THRESHOLD,
    _VENDOR_D_LEVEL,
    _VENDOR_MARKET,
    _VENDOR_POLICY_AFFINITY,
    _VENDORS,
    _WEAK_AUDITOR,
    _WEAK_AUDITOR_ITEMS,
    _WEAK_AUDITOR_WRONG,
    _WEEK_S,
    SITE_TIMEZONES,
)
from modqa_lib.errors import ConfigError

__all__: list[str] = []


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
