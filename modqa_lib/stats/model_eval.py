"""Machine moderation and human-in-the-loop (HITL) quality on audited samples.

The QA label is taken as the truth. The *model decision* of an audit is the
model's proposed label (``model_label``) at the deployed threshold; for machine
decisions with no ``model_label`` the decision ``label`` itself is used. A case
is *violating* when the QA label is not ``no_violation``; with
``positive=<policy code>`` the positive class is that policy instead.

Only audits where the model was involved are scored: channel ``machine`` or
``hitl`` with a model score. Audit samples over-weight uncertain score bands,
so pass ``weights="weight"`` for population estimates (precision, recall and
override rates as the platform experiences them); the variance and intervals
follow :func:`modqa_lib.stats.scoring.ratio_estimates` (Hajek ratio, stratified
Taylor linearisation, Korn-Graubard effective-n interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, check_alpha, require_columns
from modqa_lib.errors import EstimationError
from modqa_lib.stats.scoring import (
    check_nonempty,
    design_weights,
    interval_method,
    proportion_ci,
    ratio_estimates,
    target_status,
    targets_data,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DEPLOYED_THRESHOLD",
    "METRICS",
    "MODEL_CHANNELS",
    "confusion",
    "hitl_overrides",
    "model_metrics",
    "threshold_curve",
    "threshold_for_precision",
]

#: channels in which the model takes part
MODEL_CHANNELS: tuple[str, ...] = ("machine", "hitl")
#: default grid for :func:`threshold_curve`
DEFAULT_THRESHOLDS: np.ndarray = np.round(np.linspace(0.0, 1.0, 101), 2)
#: threshold the model runs at in production (model_label is computed at it)
DEPLOYED_THRESHOLD: float = 0.5
#: metrics reported by :func:`model_metrics`, in order
METRICS: tuple[str, ...] = ("precision", "recall", "f1", "fpr", "fnr", "prevalence", "accuracy")


# ------------------------------------------------------------------ helpers
def _model_rows(audits: pd.DataFrame) -> np.ndarray:
    """Rows where the model was involved: channel machine or hitl and a model score."""
    ch = audits[S.CHANNEL].astype(object).to_numpy()
    return np.isin(ch, MODEL_CHANNELS) & audits[S.MODEL_SCORE].notna().to_numpy()


def _str(frame: pd.DataFrame, col: str) -> np.ndarray:
    """A label column as an object array with None for missing values."""
    s = frame[col]
    return s.astype(object).where(s.notna(), None).to_numpy()


def _eq(frame: pd.DataFrame, col: str, value) -> np.ndarray:
    """``frame[col] == value`` as a bool array, False where missing."""
    s = frame[col]
    return (s.notna() & (s.astype(object) == value)).to_numpy(dtype=bool)


def _decided_model_label(audits: pd.DataFrame) -> pd.Series:
    """The model's label: ``model_label``, or ``label`` for a machine decision without one."""
    ml = audits[S.MODEL_LABEL].astype(object)
    use_label = ml.isna() & (audits[S.CHANNEL].astype(object) == "machine")
    return ml.where(~use_label, audits[S.LABEL].astype(object))


def _outcomes(
    audits: pd.DataFrame, positive: str, threshold: float | None, no_violation: str = S.NO_VIOLATION
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted positive, actually positive) per row as bool arrays."""
    qa = audits[S.QA_LABEL].astype(object)
    if positive == "violating":
        actual = (qa.notna() & (qa != no_violation)).to_numpy(dtype=bool)
    else:
        actual = (qa.notna() & (qa == positive)).to_numpy(dtype=bool)
    if threshold is not None:
        if positive != "violating":
            raise EstimationError(
                "a custom threshold only applies to positive='violating': the model's "
                "policy label is known only at the deployed threshold"
            )
        score = audits[S.MODEL_SCORE].to_numpy(dtype=float, na_value=np.nan)
        pred = np.nan_to_num(score, nan=-np.inf) >= threshold
    else:
        d = _decided_model_label(audits)
        ok = d.notna()
        pred = (ok & ((d != no_violation) if positive == "violating" else (d == positive))).to_numpy(dtype=bool)
    return pred, actual


def _check_positive(positive: str) -> None:
    if positive == "violating":
        return
    pols = S.load_taxonomy().policies
    if positive not in pols:
        raise EstimationError(f"positive must be 'violating' or a policy code ({', '.join(pols)}), got {positive!r}")


def _prepare(audits, by, positive, threshold):
    by = as_columns(by)
    require_columns(audits, [S.CHANNEL, S.MODEL_SCORE, S.MODEL_LABEL, S.LABEL, S.QA_LABEL, *by], "the model metrics")
    check_nonempty(audits)
    _check_positive(positive)
    mask = _model_rows(audits)
    if not mask.any():
        raise EstimationError(
            "no audited machine or HITL decisions with a model score: nothing to evaluate (check the channel filter)"
        )
    pred, actual = _outcomes(audits, positive, threshold)
    return by, mask, pred, actual


# ------------------------------------------------------------------ confusion
def confusion(
    audits: pd.DataFrame, by=None, positive: str = "violating", weights=None, threshold: float | None = None
) -> pd.DataFrame:
    """Confusion matrix of the model against the QA label, per group.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame from :func:`modqa_lib.data.io.audited_decisions`.
    by : str or list of str, optional
        E.g. ``POLICY`` or ``MARKET``; None gives one overall row.
    positive : str, default "violating"
        "violating" (QA label is not no_violation) or a policy code.
    weights : None or str, default None
        Design-weight column; adds weighted counts (estimated decisions).
    threshold : float, optional
        Score threshold; default: the model's label at the deployed threshold.

    Returns
    -------
    DataFrame
        ``by`` columns, ``n`` (audits with model involvement), ``tp``, ``fp``, ``fn``,
        ``tn`` (audit counts); when weighted also ``tp_w``, ``fp_w``, ``fn_w``, ``tn_w``
        (sums of design weights, i.e. estimated decisions in the population).

    Notes
    -----
    Rows: audits with channel machine or hitl and a model score. Counts only; see
    :func:`model_metrics` for rates and intervals.

    References
    ----------
    1. Fawcett, T. (2006). An introduction to ROC analysis. Pattern Recognition
       Letters 27, 861-874.
    """
    by, mask, pred, actual = _prepare(audits, by, positive, threshold)
    w = design_weights(audits, weights)
    d = audits.loc[mask, by].copy() if by else pd.DataFrame(index=audits.index[mask])
    p, a = pred[mask], actual[mask]
    cells = {"tp": p & a, "fp": p & ~a, "fn": ~p & a, "tn": ~p & ~a}
    for k, v in cells.items():
        d[k] = v.astype(np.int64)
    if w is not None:
        ww = w[mask]
        for k, v in cells.items():
            d[f"{k}_w"] = v * ww
    d[S.N] = 1
    cols = [S.N, *cells] + ([f"{k}_w" for k in cells] if w is not None else [])
    if by:
        out = d.groupby(by, dropna=False, observed=True, sort=True)[cols].sum().reset_index()
    else:
        out = d[cols].sum().to_frame().T
        for k in [S.N, *cells]:
            out[k] = out[k].astype(np.int64)
    return out.reset_index(drop=True)


# ------------------------------------------------------------------ metrics
def model_metrics(
    audits: pd.DataFrame,
    by=None,
    weights=None,
    alpha: float = 0.05,
    method: str = "wilson",
    positive: str = "violating",
    threshold: float | None = None,
    targets=None,
    strata: str | None = S.STRATUM,
    wide: bool = False,
) -> pd.DataFrame:
    """Precision, recall, F1, FPR, FNR, prevalence and accuracy of the model, with intervals.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame from :func:`modqa_lib.data.io.audited_decisions`.
    by : str or list of str, optional
        E.g. ``[MARKET]`` or ``[POLICY]``.
    weights : None or str, default None
        Design-weight column (``"weight"``) for population estimates.
    alpha : float, default 0.05
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}
    positive : str, default "violating"
        "violating" or a policy code (one-vs-rest for that policy).
    threshold : float, optional
        Score threshold (positive="violating" only); default the deployed model label.
    targets : None or dict, optional
        ``params/targets.yaml`` as loaded by :func:`modqa_lib.data.io.load_targets`
        (``scope.targets``), or its ``model`` section (``precision``, ``recall``):
        adds ``target`` and ``status`` on those rows.
    strata : str or None, default "stratum"
    wide : bool, default False
        One row per group with ``<metric>``, ``<metric>_ci_low``,
        ``<metric>_ci_high``, ``<metric>_n`` columns instead of the long format.

    Returns
    -------
    DataFrame
        Long format (default): one row per group and metric with a non-empty
        denominator (a metric whose denominator is empty in a group, e.g. precision
        when the model flagged nothing, is left out rather than NaN): ``by``
        columns, ``metric`` in :data:`METRICS`, ``estimate``, ``ci_low``, ``ci_high``,
        ``n`` (audits in the denominator), ``numerator`` (audits in the numerator;
        for F1 ``2 tp``), ``se``, ``n_eff``; with targets, ``target`` and ``status``
        (NaN/None for metrics without a target).

    Notes
    -----
    Definitions (``tp`` etc. from :func:`confusion`): precision ``tp/(tp+fp)``, recall
    ``tp/(tp+fn)``, FPR ``fp/(fp+tn)``, FNR ``fn/(tp+fn)``, prevalence
    ``(tp+fn)/n``, accuracy ``(tp+tn)/n``, F1 ``2tp/(2tp+fp+fn)``. Each is a ratio
    estimated by :func:`modqa_lib.stats.scoring.ratio_estimates`: unweighted proportions
    get the binomial interval on their denominator (Wilson by default); weighted
    ones the Korn-Graubard effective-n interval. F1 is not a binomial proportion:
    its variance is the delta-method (linearisation) variance of the ratio
    ``2tp/(2tp+fp+fn)`` [3]_, with the effective-n interval. Validated against
    hand-built confusion matrices in ``tests/test_model_eval.py``.

    References
    ----------
    .. [1] Wilson, E. B. (1927). JASA 22, 209-212.
    .. [2] Korn, E. L., Graubard, B. I. (1998). Survey Methodology 24, 193-201.
    .. [3] Takahashi, K., Yamamoto, K., Kuchiba, A., Koyama, T. (2022). Confidence
       interval for micro-averaged F1 and macro-averaged F1 scores. Applied
       Intelligence 52, 4961-4972.
    """
    by, mask, pred, actual = _prepare(audits, by, positive, threshold)
    alpha = check_alpha(alpha)
    interval_method(method)
    tp = (pred & actual).astype(float)
    fp = (pred & ~actual).astype(float)
    fn = (~pred & actual).astype(float)
    tn = (~pred & ~actual).astype(float)
    one = np.ones(len(audits))
    spec = {
        "precision": (tp, tp + fp, True),
        "recall": (tp, tp + fn, True),
        "f1": (2 * tp, 2 * tp + fp + fn, False),
        "fpr": (fp, fp + tn, True),
        "fnr": (fn, tp + fn, True),
        "prevalence": (tp + fn, one, True),
        "accuracy": (tp + tn, one, True),
    }
    parts = []
    for name in METRICS:
        y, x, binom = spec[name]
        r = ratio_estimates(
            audits,
            y,
            x,
            by=by,
            weights=weights,
            strata=strata,
            mask=mask,
            alpha=alpha,
            method=method,
            binomial=binom,
            cap_n_eff=False,
        )
        r.insert(len(by), "metric", name)
        parts.append(r)
    out = pd.concat(parts, ignore_index=True)
    cols = [*by, "metric", "estimate", S.CI_LOW, S.CI_HIGH, S.N, "numerator", "se", "n_eff"]
    out = out[cols]
    order = {m: i for i, m in enumerate(METRICS)}
    out = out.assign(_o=out["metric"].map(order)).sort_values([*by, "_o"], kind="stable").drop(columns="_o")
    if targets is not None and targets is not False:
        targets = targets_data(targets, "model_metrics")
        mt = targets.get("model", targets)
        if not isinstance(mt, dict):
            raise EstimationError(
                "targets: need a 'model' section with precision/recall targets (see params/targets.yaml)"
            )
        tgt = out["metric"].map({k: float(v) for k, v in mt.items() if k in METRICS}).astype(float)
        out["target"] = tgt
        st = target_status(out["estimate"], out[S.CI_LOW], out[S.CI_HIGH], tgt.fillna(0.0))
        out["status"] = np.where(tgt.notna(), st, None)  # type: ignore[call-overload]  # pandas-stubs: Series is array-like
    out = out.reset_index(drop=True)
    if wide:
        vals = ["estimate", S.CI_LOW, S.CI_HIGH, S.N]
        piv = (
            out.pivot_table(index=by if by else None, columns="metric", values=vals, aggfunc="first", dropna=False)
            if by
            else None
        )
        if piv is not None:
            piv.columns = [m if v == "estimate" else f"{m}_{v}" for v, m in piv.columns]  # type: ignore[str-unpack]  # MultiIndex
            piv = piv.reset_index()
        else:
            row: dict[str, Any] = {}
            for _, rec in out.iterrows():
                m = rec["metric"]
                row[m], row[f"{m}_{S.CI_LOW}"], row[f"{m}_{S.CI_HIGH}"], row[f"{m}_{S.N}"] = (
                    rec["estimate"],
                    rec[S.CI_LOW],
                    rec[S.CI_HIGH],
                    rec[S.N],
                )
            piv = pd.DataFrame([row])
        ordered = [*by] + [
            c for m in METRICS for c in (m, f"{m}_{S.CI_LOW}", f"{m}_{S.CI_HIGH}", f"{m}_{S.N}") if c in piv.columns
        ]
        return piv[ordered]
    return out


# ------------------------------------------------------------------ thresholds
def _thresholds(thresholds) -> np.ndarray:
    t = DEFAULT_THRESHOLDS if thresholds is None else np.asarray(thresholds, dtype=float).ravel()
    if t.size == 0 or np.isnan(t).any():
        raise EstimationError("thresholds must be a non-empty list of numbers")
    return np.unique(t)


def threshold_curve(
    audits: pd.DataFrame,
    by=None,
    thresholds: Sequence[float] | None = None,
    weights=None,
    alpha: float = 0.05,
    method: str = "wilson",
    ci: bool = False,
    strata: str | None = S.STRATUM,
) -> pd.DataFrame:
    """Precision, recall and false-positive rate of ``model_score >= t`` across thresholds.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame.
    by : str or list of str, optional
    thresholds : sequence of float, optional
        Default :data:`DEFAULT_THRESHOLDS` (0, 0.01, ..., 1).
    weights : None or str, default None
        Design-weight column: weighted counts and rates.
    alpha, method
        Interval level and method when ``ci``.
    ci : bool, default False
        Add ``precision_ci_low/high`` and ``recall_ci_low/high`` (slower).
    strata : str or None, default "stratum"

    Returns
    -------
    DataFrame
        One row per group and threshold: ``by`` columns, ``threshold``, ``n``
        (audits scored), ``predicted_positive`` (audits with score >= t), ``tp``,
        ``fp``, ``fn``, ``tn`` (weighted sums when weighted), ``precision``,
        ``recall``, ``fpr``. ``precision`` is NaN where nothing is predicted positive
        (filter on ``predicted_positive > 0`` before showing it).

    Notes
    -----
    Uses every audit with channel machine or hitl and a model score. Recall and FPR
    are non-increasing in the threshold by construction; precision need not be
    monotone. Intervals (``ci=True``) as in :func:`model_metrics`.

    References
    ----------
    1. Davis, J., Goadrich, M. (2006). The relationship between precision-recall and
       ROC curves. Proc. ICML, 233-240.
    """
    by, mask, _, actual = _prepare(audits, by, "violating", None)
    ts = _thresholds(thresholds)
    w_full = design_weights(audits, weights)
    score = audits[S.MODEL_SCORE].to_numpy(dtype=float, na_value=np.nan)
    sub = audits.loc[mask, by] if by else pd.DataFrame(index=audits.index[mask])
    if by:
        g = sub.groupby(by, dropna=False, observed=True, sort=True)
        codes = g.ngroup().to_numpy()
        keys = g.size().index.to_frame(index=False)
        keys.columns = by
    else:
        codes = np.zeros(int(mask.sum()), dtype=np.int64)
        keys = pd.DataFrame(index=[0])
    s, a = score[mask], actual[mask]
    w = w_full[mask] if w_full is not None else np.ones(len(s))
    rows = []
    for gi in range(len(keys)):
        sel = codes == gi
        order = np.argsort(s[sel], kind="stable")
        ss, aa, ww = s[sel][order], a[sel][order], w[sel][order]
        cpos = np.concatenate([[0.0], np.cumsum(ww * aa)])
        cneg = np.concatenate([[0.0], np.cumsum(ww * ~aa)])
        cnt = np.arange(len(ss) + 1)
        idx = np.searchsorted(ss, ts, side="left")  # rows idx: have score >= t
        P, Nn = cpos[-1], cneg[-1]
        tp = P - cpos[idx]
        fp = Nn - cneg[idx]
        part = pd.DataFrame(
            {
                "threshold": ts,
                S.N: int(sel.sum()),
                "predicted_positive": (len(ss) - cnt[idx]).astype(np.int64),
                "tp": tp,
                "fp": fp,
                "fn": P - tp,
                "tn": Nn - fp,
            }
        )
        for c in by:
            part.insert(by.index(c), c, keys[c].iloc[gi])
        rows.append(part)
    out = pd.concat(rows, ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        pp = out["tp"] + out["fp"]
        out["precision"] = np.where(pp > 0, out["tp"] / pp.where(pp > 0, 1), np.nan)
        ap = out["tp"] + out["fn"]
        out["recall"] = np.where(ap > 0, out["tp"] / ap.where(ap > 0, 1), np.nan)
        an = out["fp"] + out["tn"]
        out["fpr"] = np.where(an > 0, out["fp"] / an.where(an > 0, 1), np.nan)
    if w_full is None:
        for c in ("tp", "fp", "fn", "tn"):
            out[c] = out[c].round().astype(np.int64)
    if ci:
        out = _curve_intervals(out, audits, by, ts, mask, actual, score, weights, strata, alpha, method)
    return out


def _curve_intervals(out, audits, by, ts, mask, actual, score, weights, strata, alpha, method):
    """Add precision/recall intervals to a threshold curve."""
    out = out.copy()
    if weights is None or weights is False:
        for m, num, den in (("precision", "tp", "predicted_positive"), ("recall", "tp", None)):
            d = out[den] if den else out["tp"] + out["fn"]
            ok = d.to_numpy() > 0
            lo = np.full(len(out), np.nan)
            hi = np.full(len(out), np.nan)
            lo[ok], hi[ok] = proportion_ci(out[num].to_numpy()[ok], d.to_numpy()[ok], alpha, method)
            out[f"{m}_{S.CI_LOW}"], out[f"{m}_{S.CI_HIGH}"] = lo, hi
        return out
    # Weighted: one design per threshold, stacked so that a single call estimates all of them
    # (strata are made threshold-specific, so stratum sizes stay those of the real sample).
    n, T = len(audits), len(ts)
    stk = pd.DataFrame({c: np.tile(audits[c].to_numpy(), T) for c in by})
    stk["threshold"] = np.repeat(ts, n)
    stk["_w"] = np.tile(design_weights(audits, weights), T)  # type: ignore[arg-type]  # weighted branch: not None
    hcodes = pd.factorize(audits[strata])[0] if strata is not None else np.zeros(n, dtype=np.int64)
    if strata is not None and audits[strata].isna().any():
        raise EstimationError(f"strata column '{strata}' has missing values")
    stk["_h"] = np.repeat(np.arange(T), n) * (hcodes.max() + 1) + np.tile(hcodes, T)
    pred = np.nan_to_num(np.tile(score, T), nan=-np.inf) >= stk["threshold"].to_numpy()
    act = np.tile(actual, T)
    msk = np.tile(mask, T)
    key = [*by, "threshold"]
    for m, (y, x) in {"precision": (pred & act, pred), "recall": (pred & act, act)}.items():
        r = ratio_estimates(
            stk,
            y.astype(float),
            x.astype(float),
            by=key,
            weights="_w",
            strata="_h",
            mask=msk,
            alpha=alpha,
            method=method,
        )
        r = r[[*key, S.CI_LOW, S.CI_HIGH]].rename(columns={S.CI_LOW: f"{m}_{S.CI_LOW}", S.CI_HIGH: f"{m}_{S.CI_HIGH}"})
        out = out.merge(r, on=key, how="left")
    return out


def threshold_for_precision(
    audits: pd.DataFrame,
    target: float = 0.9,
    by=None,
    thresholds: Sequence[float] | None = None,
    weights=None,
    alpha: float = 0.05,
    method: str = "wilson",
    conservative: bool = False,
    strata: str | None = S.STRATUM,
) -> pd.DataFrame:
    """The smallest score threshold whose precision meets a target, with its recall.

    Parameters
    ----------
    audits : DataFrame
    target : float, default 0.9
        Required precision (``params/targets.yaml`` ``model.precision``).
    by : str or list of str, optional
    thresholds : sequence of float, optional
        Candidate grid; default :data:`DEFAULT_THRESHOLDS`.
    weights : None or str, default None
    alpha, method
        Interval level and method.
    conservative : bool, default False
        Require the interval's lower bound (not the point estimate) to reach the target.
    strata : str or None, default "stratum"

    Returns
    -------
    DataFrame
        One row per group: ``by`` columns, ``target``, ``found`` (a threshold on the
        grid meets the target), ``threshold``, ``precision``, ``precision_ci_low``,
        ``precision_ci_high``, ``precision_n``, ``recall``, ``recall_ci_low``,
        ``recall_ci_high``, ``recall_n``. When ``found`` is False the threshold and
        metrics are NaN: no threshold on the grid gives the target precision.

    Notes
    -----
    Precision is not monotone in the threshold; this returns the smallest grid
    threshold at which it meets the target, i.e. the one with the highest recall
    among those meeting it. Intervals as in :func:`model_metrics`.

    References
    ----------
    1. Davis, J., Goadrich, M. (2006). Proc. ICML, 233-240.
    2. Korn, E. L., Graubard, B. I. (1998). Survey Methodology 24, 193-201.
    """
    if not (isinstance(target, (int, float)) and 0 < target <= 1):
        raise EstimationError(f"target precision must be in (0, 1], got {target!r}")
    by = as_columns(by)
    curve = threshold_curve(audits, by, thresholds, weights, alpha, method, ci=conservative, strata=strata)
    crit = curve[f"precision_{S.CI_LOW}"] if conservative else curve["precision"]
    ok = curve[(crit >= target) & (curve["predicted_positive"] > 0)]
    keys = curve[by].drop_duplicates().reset_index(drop=True) if by else pd.DataFrame(index=[0])
    best = (
        ok.groupby(by, dropna=False, sort=True)["threshold"].min().reset_index()
        if by
        else pd.DataFrame({"threshold": [ok["threshold"].min() if len(ok) else np.nan]})
    )
    res = keys.merge(best, on=by, how="left") if by else best
    _, mask, _, actual = _prepare(audits, by, "violating", None)
    cols = [
        "precision",
        f"precision_{S.CI_LOW}",
        f"precision_{S.CI_HIGH}",
        "precision_n",
        "recall",
        f"recall_{S.CI_LOW}",
        f"recall_{S.CI_HIGH}",
        "recall_n",
    ]
    for c in cols:
        res[c] = np.nan
    score = audits[S.MODEL_SCORE].to_numpy(dtype=float, na_value=np.nan)
    for i in range(len(res)):
        t = res["threshold"].iloc[i]
        if np.isnan(t):
            continue
        in_group = mask.copy()
        for c in by:
            v = res[c].iloc[i]
            col = audits[c]
            in_group &= col.isna().to_numpy() if pd.isna(v) else (col == v).fillna(False).to_numpy()
        pred = np.nan_to_num(score, nan=-np.inf) >= t
        for m, (y, x) in {"precision": (pred & actual, pred), "recall": (pred & actual, actual)}.items():
            r = ratio_estimates(
                audits,
                y.astype(float),
                x.astype(float),
                weights=weights,
                strata=strata,
                mask=in_group,
                alpha=alpha,
                method=method,
            )
            if len(r):
                res.loc[i, m] = r["estimate"].iloc[0]
                res.loc[i, f"{m}_{S.CI_LOW}"] = r[S.CI_LOW].iloc[0]
                res.loc[i, f"{m}_{S.CI_HIGH}"] = r[S.CI_HIGH].iloc[0]
                res.loc[i, f"{m}_n"] = r["n"].iloc[0]
    res.insert(len(by), "target", float(target))
    res.insert(len(by) + 1, "found", res["threshold"].notna().to_numpy())
    return res[[*by, "target", "found", "threshold", *cols]]


# ------------------------------------------------------------------ HITL
def hitl_overrides(
    audits: pd.DataFrame,
    by=None,
    weights=None,
    alpha: float = 0.05,
    method: str = "wilson",
    strata: str | None = S.STRATUM,
) -> pd.DataFrame:
    """How often HITL reviewers overturn the model, and how often they are right to.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame; HITL audits (channel ``hitl``) with a model label are used.
    by : str or list of str, optional
        E.g. ``[VENDOR, SITE]`` or ``[POLICY]``.
    weights : None or str, default None
        Design-weight column for population estimates.
    alpha : float, default 0.05
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}
    strata : str or None, default "stratum"

    Returns
    -------
    DataFrame
        One row per group with HITL audits: ``by`` columns, ``n`` (HITL audits),
        ``overrides`` (final label != model label), ``override_rate``,
        ``override_rate_ci_low``, ``override_rate_ci_high``; ``override_accuracy``
        (share of overrides where the human label equals the QA label) with
        ``override_accuracy_ci_low/high``; ``model_right_share`` (share of overrides
        where the model's label equals the QA label, i.e. the human overturned a
        right call) with ``model_right_ci_low/high``; ``confirmed_accuracy`` (share
        of confirmations, label == model label, that QA agrees with) with
        ``confirmed_ci_low/high``. The override-conditional columns are NaN in a
        group with no overrides (``overrides == 0``), and the confirmation columns
        when every case was overridden: read them with the counts.

    Notes
    -----
    All four are proportions estimated by :func:`modqa_lib.stats.scoring.ratio_estimates`
    (binomial interval unweighted; Korn-Graubard effective-n interval weighted).
    ``override_accuracy + model_right_share`` can be below 1: both can be wrong
    (e.g. a wrong policy either way).

    References
    ----------
    1. Wilson, E. B. (1927). JASA 22, 209-212.
    2. Korn, E. L., Graubard, B. I. (1998). Survey Methodology 24, 193-201.
    """
    by = as_columns(by)
    require_columns(audits, [S.CHANNEL, S.MODEL_LABEL, S.LABEL, S.QA_LABEL, *by], "hitl_overrides")
    check_nonempty(audits)
    alpha = check_alpha(alpha)
    interval_method(method)
    ch = _str(audits, S.CHANNEL)
    ml = _str(audits, S.MODEL_LABEL)
    lab = _str(audits, S.LABEL)
    qa = _str(audits, S.QA_LABEL)
    mask = (ch == "hitl") & np.array([m is not None for m in ml])
    if not mask.any():
        raise EstimationError("no audited HITL decisions with a model label: nothing to evaluate")
    over = mask & (lab != ml)
    conf = mask & ~over
    human_right = lab == qa
    model_right = ml == qa
    kw = dict(by=by, weights=weights, strata=strata, alpha=alpha, method=method, mask=mask)
    base = ratio_estimates(audits, over.astype(float), None, **kw)
    out = base[by].copy()
    out[S.N] = base["n"].to_numpy()
    out["overrides"] = base["numerator"].round().astype(np.int64).to_numpy()
    out["override_rate"] = base["estimate"].to_numpy()
    out["override_rate_ci_low"] = base[S.CI_LOW].to_numpy()
    out["override_rate_ci_high"] = base[S.CI_HIGH].to_numpy()
    for name, short, y, x in (
        ("override_accuracy", "override_accuracy", over & human_right, over),
        ("model_right_share", "model_right", over & model_right, over),
        ("confirmed_accuracy", "confirmed", conf & human_right, conf),
    ):
        r = ratio_estimates(audits, y.astype(float), x.astype(float), **kw)
        r = r[[*by, "estimate", S.CI_LOW, S.CI_HIGH]].rename(
            columns={"estimate": name, S.CI_LOW: f"{short}_ci_low", S.CI_HIGH: f"{short}_ci_high"}
        )
        if by:
            out = out.merge(r, on=by, how="left")
        else:
            for c in r.columns:
                out[c] = r[c].iloc[0] if len(r) else np.nan
    return out.reset_index(drop=True)
