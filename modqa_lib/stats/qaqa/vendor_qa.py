"""Vendor-reported QA against the platform's re-audit ("QA of QA").

On decisions audited by both, the paired difference in accuracy (vendor minus
platform) with a paired interval, McNemar's test, and agreement (Cohen's kappa,
Gwet's AC1) between the two QA labels; and the vendor's reported accuracy over all
its own audits beside the platform's design-weighted estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from modqa_lib.contract import schema as S
from modqa_lib.errors import EstimationError
from modqa_lib.stats.agreement.coefficients import cohens_kappa, gwet_ac1
from modqa_lib.stats.qaqa._common import (
    DIFFERENCE,
    FLAG,
    MESSAGE,
    N_PAIRS,
    PLATFORM_ACCURACY,
    VENDOR_ACCURACY,
    as_list,
    check_alpha,
    require,
)
from modqa_lib.stats.scoring import accuracy_table, bh_qvalues

__all__ = ["paired_accuracy_difference", "paired_qa", "vendor_reported_accuracy", "vendor_vs_platform"]


def paired_accuracy_difference(b: int, c: int, n: int, alpha: float = 0.05) -> tuple[float, float, float, float]:
    """Paired difference of two accuracies on the same items, its interval and McNemar's p-value.

    Parameters
    ----------
    b : int
        Items the first rater (the vendor) called correct and the second (the platform) an error.
    c : int
        Items the first rater called an error and the second correct.
    n : int
        Items rated by both.
    alpha : float, default 0.05

    Returns
    -------
    difference, ci_low, ci_high, p_value : float
        ``difference = (b - c) / n``; the Agresti-Min interval [1]_ (Wald on the table
        with 0.5 added to each cell, clipped to [-1, 1]); the exact McNemar p-value
        (``statsmodels.stats.contingency_tables.mcnemar(exact=True)``, two-sided) [2]_.

    Raises
    ------
    EstimationError
        Negative counts or ``b + c > n``.

    Notes
    -----
    Coverage of the interval is checked by simulation in the tests (paired Bernoulli
    samples, 93-97% at the sizes a site has).

    References
    ----------
    .. [1] Agresti, A. and Min, Y. (2005). Simple improved confidence intervals for
       comparing matched proportions. Statistics in Medicine 24(5), 729-740.
    .. [2] McNemar, Q. (1947). Note on the sampling error of the difference between
       correlated proportions or percentages. Psychometrika 12(2), 153-157.
    """
    alpha = check_alpha(alpha)
    if min(b, c, n) < 0 or b + c > n:
        raise EstimationError(f"paired counts must satisfy 0 <= b + c <= n, got b={b}, c={c}, n={n}")
    if n == 0:
        return np.nan, np.nan, np.nan, np.nan
    diff = (b - c) / n
    nn = n + 2.0
    bb, cc = b + 0.5, c + 0.5
    d = (bb - cc) / nn
    var = ((bb + cc) - (bb - cc) ** 2 / nn) / nn**2
    z = stats.norm.isf(alpha / 2)
    lo, hi = max(d - z * np.sqrt(var), -1.0), min(d + z * np.sqrt(var), 1.0)
    p = 1.0 if b + c == 0 else float(mcnemar([[0, b], [c, 0]], exact=True).pvalue)
    return float(diff), float(lo), float(hi), p


def paired_qa(vendor_qa: pd.DataFrame, audited: pd.DataFrame) -> pd.DataFrame:
    """Decisions audited by both the vendor's QA and the platform, one row per decision.

    Parameters
    ----------
    vendor_qa : DataFrame
        The ``vendor_qa`` table.
    audited : DataFrame
        Audit-level frame (:func:`modqa_lib.data.io.audited_decisions`, golden excluded).

    Returns
    -------
    DataFrame
        The platform audit's columns plus ``vendor_qa_label``, ``vendor_is_error`` and
        ``vendor_auditor_id`` (the latest vendor audit and the latest platform audit of each decision).

    Raises
    ------
    EstimationError
        Missing columns, or no decision audited by both.
    """
    require(vendor_qa, [S.DECISION_ID, S.VENDOR_QA_LABEL, S.IS_ERROR, S.AUDITED_AT, S.VENDOR_AUDITOR_ID], "vendor_qa")
    require(audited, [S.DECISION_ID, S.IS_ERROR, S.QA_LABEL, S.AUDITED_AT], "audits")
    v = vendor_qa.sort_values(S.AUDITED_AT, kind="stable").drop_duplicates(S.DECISION_ID, keep="last")
    v = v[[S.DECISION_ID, S.VENDOR_QA_LABEL, S.IS_ERROR, S.VENDOR_AUDITOR_ID]].rename(
        columns={S.IS_ERROR: "vendor_is_error"}
    )
    p = audited.sort_values(S.AUDITED_AT, kind="stable").drop_duplicates(S.DECISION_ID, keep="last")
    out = p.merge(v, on=S.DECISION_ID, how="inner", validate="one_to_one")
    if out.empty:
        raise EstimationError(
            "no decision was audited by both the vendor's QA and the platform; the comparison needs "
            "vendor_qa rows on decisions the platform also audited"
        )
    return out


def _agreement(g: pd.DataFrame, alpha: float) -> tuple[float, float, float, float, float, float]:
    """Cohen's kappa and Gwet's AC1 (each with its CI) between the vendor and platform QA labels (NaN when undefined)."""
    try:
        kr = cohens_kappa(g[S.VENDOR_QA_LABEL].astype(object), g[S.QA_LABEL].astype(object), alpha=alpha).iloc[0]
        k, klo, khi = float(kr["kappa"]), float(kr[S.CI_LOW]), float(kr[S.CI_HIGH])
    except EstimationError:
        k = klo = khi = np.nan
    long = pd.concat(
        [
            pd.DataFrame({"item": g[S.DECISION_ID].to_numpy(), "rater": "vendor", "label": g[S.VENDOR_QA_LABEL]}),
            pd.DataFrame({"item": g[S.DECISION_ID].to_numpy(), "rater": "platform", "label": g[S.QA_LABEL]}),
        ],
        ignore_index=True,
    ).astype({"label": object})
    try:
        ar = gwet_ac1(long, item="item", rater="rater", label="label", alpha=alpha).iloc[0]
        a, alo, ahi = float(ar["estimate"]), float(ar[S.CI_LOW]), float(ar[S.CI_HIGH])
    except EstimationError:
        a = alo = ahi = np.nan
    return k, klo, khi, a, alo, ahi


def vendor_vs_platform(
    vendor_qa: pd.DataFrame, audited: pd.DataFrame, by=(S.VENDOR, S.SITE), alpha: float = 0.05, min_pairs: int = 30
) -> pd.DataFrame:
    """Vendor-reported against platform QA on the same decisions, per group, with a paired interval.

    Parameters
    ----------
    vendor_qa : DataFrame
        The ``vendor_qa`` table.
    audited : DataFrame
        Audit-level frame (golden excluded).
    by : str or list of str, default ("vendor", "site")
    alpha : float, default 0.05
        Level of the intervals and of the flags (after Benjamini-Hochberg over the groups).
    min_pairs : int, default 30
        Groups with fewer paired decisions are shown but not tested.

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns; ``n_pairs``; ``vendor_accuracy`` and
        ``platform_accuracy`` on the paired decisions; ``vendor_only_correct`` (b: vendor
        says correct, platform says error) and ``platform_only_correct`` (c); ``difference``
        (vendor minus platform accuracy) with ``ci_low``, ``ci_high`` (Agresti-Min paired
        interval); ``p_value`` (exact McNemar), ``q_value`` (BH over the tested groups);
        ``kappa`` (Cohen) with ``kappa_ci_low``, ``kappa_ci_high`` and ``gwet_ac1`` with
        ``ac1_ci_low``, ``ac1_ci_high`` between the two QA labels; ``flag`` (the
        vendor's self-reported accuracy is significantly inflated: q < alpha and
        difference > 0); ``message`` (plain words for flagged groups, else empty).

    Raises
    ------
    EstimationError
        Missing columns, no paired decisions.

    Notes
    -----
    The paired decisions are those both QA teams happened to audit, unweighted: the
    comparison is of the two teams' verdicts on the same items, not an estimate of
    population accuracy (for that see :func:`vendor_reported_accuracy`). See
    :func:`paired_accuracy_difference` for the interval and test.

    References
    ----------
    .. [1] Agresti, A. and Min, Y. (2005). Statistics in Medicine 24(5), 729-740.
    .. [2] McNemar, Q. (1947). Psychometrika 12(2), 153-157.
    .. [3] Gwet, K. L. (2008). British Journal of Mathematical and Statistical Psychology 61(1), 29-48.
    """
    by = as_list(by)
    alpha = check_alpha(alpha)
    require(audited, by, "audits")
    pq = paired_qa(vendor_qa, audited)
    groups = pq.groupby(by, dropna=False, sort=True) if by else [((), pq)]
    rows = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        ve, pe = g["vendor_is_error"].astype(bool).to_numpy(), g[S.IS_ERROR].astype(bool).to_numpy()
        n, b, c = len(g), int((~ve & pe).sum()), int((ve & ~pe).sum())
        diff, lo, hi, p = paired_accuracy_difference(b, c, n, alpha)
        kappa, klo, khi, ac1, alo, ahi = _agreement(g, alpha)
        row = dict(zip(by, key))
        row.update(
            {
                N_PAIRS: n,
                VENDOR_ACCURACY: 1 - ve.mean(),
                PLATFORM_ACCURACY: 1 - pe.mean(),
                "vendor_only_correct": b,
                "platform_only_correct": c,
                DIFFERENCE: diff,
                S.CI_LOW: lo,
                S.CI_HIGH: hi,
                S.P_VALUE: p if n >= min_pairs else np.nan,
                "kappa": kappa,
                "kappa_ci_low": klo,
                "kappa_ci_high": khi,
                "gwet_ac1": ac1,
                "ac1_ci_low": alo,
                "ac1_ci_high": ahi,
            }
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    out[S.Q_VALUE] = bh_qvalues(out[S.P_VALUE])
    out[FLAG] = ((out[S.Q_VALUE] < alpha) & (out[DIFFERENCE] > 0)).fillna(False).astype(bool)
    names = out[by].astype(str).agg(" / ".join, axis=1) if by else pd.Series(["All"] * len(out))
    out[MESSAGE] = [
        (
            f"{nm}: self-reported accuracy is {100 * d:.1f} points higher than the platform's re-audit of the "
            f"same {n} decisions (95% CI {100 * lo:.1f} to {100 * hi:.1f} points); the vendor's QA misses errors."
        )
        if f
        else ""
        for nm, d, n, lo, hi, f in zip(names, out[DIFFERENCE], out[N_PAIRS], out[S.CI_LOW], out[S.CI_HIGH], out[FLAG])
    ]
    return out


def vendor_reported_accuracy(
    vendor_qa: pd.DataFrame,
    decisions: pd.DataFrame,
    audited: pd.DataFrame,
    by=S.VENDOR,
    alpha: float = 0.05,
    method: str = "wilson",
) -> pd.DataFrame:
    """Each vendor's reported accuracy over all its own audits beside the platform's weighted estimate.

    Parameters
    ----------
    vendor_qa : DataFrame
        The ``vendor_qa`` table.
    decisions : DataFrame
        The ``decisions`` table (gives each vendor audit its vendor and site).
    audited : DataFrame
        Audit-level frame (golden excluded) with ``weight`` and ``stratum``.
    by : str or list of str, default "vendor"
    alpha : float, default 0.05
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}

    Returns
    -------
    DataFrame
        One row per group with vendor audits: the ``by`` columns; ``n_vendor`` (vendor
        audits), ``vendor_accuracy`` with ``vendor_ci_low``, ``vendor_ci_high``
        (unweighted: the vendor's sample design is not known); ``n_platform``,
        ``platform_accuracy`` with ``platform_ci_low``, ``platform_ci_high`` (Hajek
        design-weighted, :func:`~modqa_lib.stats.scoring.accuracy_table`); ``gap``
        (vendor minus platform, points as a share).

    Raises
    ------
    EstimationError
        Missing columns; no vendor audit on a known decision.

    Notes
    -----
    The two estimates come from different samples, so ``gap`` mixes sampling noise with
    inflation; the paired comparison in :func:`vendor_vs_platform` is the test.

    References
    ----------
    .. [1] Wilson, E. B. (1927). JASA 22(158), 209-212.
    """
    by = as_list(by)
    alpha = check_alpha(alpha)
    require(vendor_qa, [S.DECISION_ID, S.IS_ERROR], "vendor_qa")
    require(decisions, [S.DECISION_ID, *by], "decisions")
    v = vendor_qa[[S.DECISION_ID, S.IS_ERROR]].merge(decisions[[S.DECISION_ID, *by]], on=S.DECISION_ID, how="inner")
    if v.empty:
        raise EstimationError("no vendor_qa row points at a decision in the decisions given")
    va = accuracy_table(v, by=by, alpha=alpha, method=method)
    keys = va[by]
    pa = accuracy_table(audited, by=by, weights=S.WEIGHT, alpha=alpha, method=method)
    pa = keys.merge(pa, on=by, how="left") if by else pa
    out = keys.copy() if by else pd.DataFrame(index=range(1))
    out["n_vendor"] = va[S.N].to_numpy()
    out[VENDOR_ACCURACY] = va[S.ACCURACY].to_numpy()
    out["vendor_ci_low"], out["vendor_ci_high"] = va[S.CI_LOW].to_numpy(), va[S.CI_HIGH].to_numpy()
    out["n_platform"] = pa[S.N].to_numpy()
    out[PLATFORM_ACCURACY] = pa[S.ACCURACY].to_numpy()
    out["platform_ci_low"], out["platform_ci_high"] = pa[S.CI_LOW].to_numpy(), pa[S.CI_HIGH].to_numpy()
    out["gap"] = out[VENDOR_ACCURACY] - out[PLATFORM_ACCURACY]
    return out.reset_index(drop=True)
