"""Disputes of QA verdicts: how often vendors dispute, how often QA is overturned, how fast.

All functions take the audit-level frame of :func:`modqa_lib.data.io.audited_decisions`
(audits joined to decisions) and the ``disputes`` table, and return tidy frames.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, EstimationError
from modqa_lib.stats.qaqa._common import (
    DIFFERENCE,
    DISPUTE_RATE,
    FLAG,
    N_DISPUTES,
    N_ERRORS,
    N_OVERTURNED,
    N_RESOLVED,
    OVERTURN_RATE,
    PEER_RATE,
    as_list,
    check_alpha,
    require,
)
from modqa_lib.stats.scoring import accuracy_table, bh_qvalues, proportion_ci, ratio_estimates

__all__ = [
    "accuracy_after_disputes",
    "auditor_overturn_flags",
    "dispute_rates",
    "dispute_resolution_times",
    "disputed_audits",
]

_DISPUTE_COLS = (S.AUDIT_ID, S.STATUS)


def disputed_audits(audited: pd.DataFrame, disputes: pd.DataFrame) -> pd.DataFrame:
    """The audit-level frame with one dispute outcome per audit (the latest dispute of each audit).

    Parameters
    ----------
    audited : DataFrame
        From :func:`modqa_lib.data.io.audited_decisions` (``audit_id``, ``is_error``, ``label``).
    disputes : DataFrame
        The ``disputes`` table.

    Returns
    -------
    DataFrame
        A copy of ``audited`` with ``disputed`` (bool), ``status`` (empty if not disputed),
        ``resolved`` (bool), ``overturned`` (bool: status ``overturned``),
        ``corrected_label`` and ``is_error_after`` (the verdict after resolved disputes:
        the decision label against ``corrected_label`` where one was given, else ``is_error``).

    Raises
    ------
    EstimationError
        Missing columns.
    """
    require(audited, [S.AUDIT_ID, S.IS_ERROR, S.LABEL], "audits")
    require(disputes, [*_DISPUTE_COLS, S.RAISED_AT, S.CORRECTED_LABEL], "disputes")
    last = disputes.sort_values(S.RAISED_AT, kind="stable").drop_duplicates(S.AUDIT_ID, keep="last")
    look = last.set_index(S.AUDIT_ID)[[S.STATUS, S.CORRECTED_LABEL]]
    out = audited.copy()
    ids = out[S.AUDIT_ID].to_numpy()
    status = look[S.STATUS].reindex(ids).to_numpy(dtype=object)
    corrected = look[S.CORRECTED_LABEL].reindex(ids).to_numpy(dtype=object)
    disputed = pd.notna(status)
    out["disputed"] = disputed
    out[S.STATUS] = status
    out["resolved"] = disputed & (status != S.STATUS_OPEN)
    out["overturned"] = status == S.STATUS_OVERTURNED
    out[S.CORRECTED_LABEL] = corrected
    err = out[S.IS_ERROR].astype(bool).to_numpy()
    has_fix = out["resolved"].to_numpy() & pd.notna(corrected)
    after = err.copy()
    after[has_fix] = out[S.LABEL].to_numpy(dtype=object)[has_fix] != corrected[has_fix]
    out["is_error_after"] = after
    return out


def dispute_rates(
    audited: pd.DataFrame, disputes: pd.DataFrame, by=S.VENDOR, alpha: float = 0.05, method: str = "wilson"
) -> pd.DataFrame:
    """Dispute rate and overturn rate per group, each with its count and interval.

    Parameters
    ----------
    audited : DataFrame
        Audit-level frame (:func:`modqa_lib.data.io.audited_decisions`), golden audits excluded.
    disputes : DataFrame
        The ``disputes`` table.
    by : str or list of str, default "vendor"
        E.g. ``"vendor"``, ``["vendor", "site"]`` or ``"auditor_id"``.
    alpha : float, default 0.05
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}

    Returns
    -------
    DataFrame
        One row per group with error verdicts: the ``by`` columns;
        ``n_errors`` (error verdicts, the disputable audits); ``n_disputes``;
        ``dispute_rate`` (= n_disputes / n_errors) with ``dispute_ci_low``,
        ``dispute_ci_high``; ``n_resolved`` (disputes no longer open);
        ``n_overturned``; ``overturn_rate`` (= n_overturned / n_resolved) with
        ``ci_low``, ``ci_high`` (NaN when nothing is resolved yet); ``n_partial``
        (partially overturned) and ``n_open``.

    Raises
    ------
    EstimationError
        Missing columns, bad alpha.

    Notes
    -----
    The rates are shares of the verdicts QA issued, not estimates for the decision
    population, so they are unweighted (the design weights say how many decisions an
    audit stands for, not how many verdicts). Intervals: :func:`~modqa_lib.stats.scoring.proportion_ci`
    (Wilson by default [1]_).

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
       inference. JASA 22(158), 209-212.
    """
    by = as_list(by)
    alpha = check_alpha(alpha)
    require(audited, by, "audits")
    d = disputed_audits(audited, disputes)
    d = d[d[S.IS_ERROR].astype(bool).to_numpy()]
    if d.empty:
        raise EstimationError("no error verdicts in the audits given, so nothing could be disputed")
    st = d[S.STATUS]
    d = d.assign(
        _disp=d["disputed"].astype(int),
        _res=d["resolved"].astype(int),
        _over=d["overturned"].astype(int),
        _part=(st == S.STATUS_PARTIAL).astype(int),
        _open=(st == S.STATUS_OPEN).astype(int),
        _one=1,
    )
    if by:
        g = d.groupby(by, dropna=False, observed=True, sort=True)[["_one", "_disp", "_res", "_over", "_part", "_open"]]
        agg = g.sum().reset_index()
    else:
        agg = d[["_one", "_disp", "_res", "_over", "_part", "_open"]].sum().to_frame().T
    out = agg[by].copy() if by else pd.DataFrame(index=range(1))
    out[N_ERRORS] = agg["_one"].to_numpy(dtype=np.int64)
    out[N_DISPUTES] = agg["_disp"].to_numpy(dtype=np.int64)
    out[DISPUTE_RATE] = out[N_DISPUTES] / out[N_ERRORS]
    lo, hi = proportion_ci(out[N_DISPUTES].to_numpy(), out[N_ERRORS].to_numpy(), alpha, method)
    out["dispute_ci_low"], out["dispute_ci_high"] = lo, hi
    out[N_RESOLVED] = agg["_res"].to_numpy(dtype=np.int64)
    out[N_OVERTURNED] = agg["_over"].to_numpy(dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[OVERTURN_RATE] = np.where(out[N_RESOLVED] > 0, out[N_OVERTURNED] / out[N_RESOLVED].clip(lower=1), np.nan)
    lo, hi = proportion_ci(out[N_OVERTURNED].to_numpy(), out[N_RESOLVED].to_numpy(), alpha, method)
    out[S.CI_LOW], out[S.CI_HIGH] = lo, hi
    out["n_partial"] = agg["_part"].to_numpy(dtype=np.int64)
    out["n_open"] = agg["_open"].to_numpy(dtype=np.int64)
    return out.reset_index(drop=True)


def _median_ci(x: np.ndarray, alpha: float) -> tuple[float, float]:
    """Distribution-free interval for the median from order statistics (binomial)."""
    n = len(x)
    if n < 1:
        return np.nan, np.nan
    xs = np.sort(x)
    lo = int(stats.binom.ppf(alpha / 2, n, 0.5))
    hi = int(stats.binom.isf(alpha / 2, n, 0.5))
    return float(xs[max(lo - 1, 0)]), float(xs[min(hi, n - 1)])


def dispute_resolution_times(
    disputes: pd.DataFrame, by=None, targets: Mapping | None = None, alpha: float = 0.05
) -> pd.DataFrame:
    """Days from a dispute being raised to its resolution: median, 90th percentile, against target.

    Parameters
    ----------
    disputes : DataFrame
        The ``disputes`` table (``raised_at``, ``resolved_at``, ``status``).
    by : str or list of str, optional
        E.g. ``"raised_by"`` (the vendor). None: one overall row.
    targets : dict, optional
        KPI targets as data (``scope.targets``: the parsed ``params/targets.yaml``, or just
        its ``disputes`` section with ``resolution_days_median`` and ``resolution_days_p90``);
        None: no target columns. Statistics read no files.
    alpha : float, default 0.05
        1 - confidence level of the interval of the median.

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns; ``n_resolved``; ``n_open``;
        ``median_days`` with ``ci_low``, ``ci_high`` (distribution-free order-statistic
        interval of the median [1]_); ``p90_days``; with targets: ``target_median_days``,
        ``target_p90_days``, ``meets_target`` (both met; NaN-safe: False when nothing resolved).

    Raises
    ------
    EstimationError
        Missing columns; targets without a ``disputes`` section.

    Notes
    -----
    Open disputes are counted in ``n_open`` but not in the times (their time is censored:
    a long-open backlog shows as ``n_open``, not as a fast median).

    References
    ----------
    .. [1] Conover, W. J. (1999). Practical Nonparametric Statistics, 3rd ed., section 3.2 (quantile test).
    """
    by = as_list(by)
    check_alpha(alpha)
    require(disputes, [S.RAISED_AT, S.RESOLVED_AT, S.STATUS, *by], "disputes")
    tg = None
    if targets is True:
        raise ConfigError(
            "dispute_resolution_times(): targets=True would read params/targets.yaml; "
            "pass the KPI targets as data: targets=scope.targets"
        )
    if targets is not None and targets is not False:
        sec = targets.get("disputes", targets) if isinstance(targets, Mapping) else None
        if not isinstance(sec, Mapping) or "resolution_days_median" not in sec:
            raise EstimationError(
                "targets: need a 'disputes' section with resolution_days_median and resolution_days_p90 "
                "(see params/targets.yaml)"
            )
        tg = (float(sec["resolution_days_median"]), float(sec.get("resolution_days_p90", np.inf)))
    d = disputes.copy()
    d["_days"] = (d[S.RESOLVED_AT] - d[S.RAISED_AT]).dt.total_seconds() / 86_400
    d["_open"] = d[S.STATUS].astype(object) == S.STATUS_OPEN
    groups = d.groupby(by, dropna=False, sort=True) if by else [((), d)]
    rows = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        days = g.loc[~g["_open"] & g["_days"].notna(), "_days"].to_numpy(dtype=float)
        lo, hi = _median_ci(days, alpha)
        row = dict(zip(by, key))
        row.update(
            {
                N_RESOLVED: len(days),
                "n_open": int(g["_open"].sum()),
                "median_days": float(np.median(days)) if len(days) else np.nan,
                S.CI_LOW: lo,
                S.CI_HIGH: hi,
                "p90_days": float(np.quantile(days, 0.9)) if len(days) else np.nan,
            }
        )
        if tg:
            row["target_median_days"], row["target_p90_days"] = tg
            row["meets_target"] = bool(len(days) and row["median_days"] <= tg[0] and row["p90_days"] <= tg[1])
        rows.append(row)
    return pd.DataFrame(rows)


def auditor_overturn_flags(
    audited: pd.DataFrame,
    disputes: pd.DataFrame,
    by=S.AUDITOR_ID,
    alpha: float = 0.05,
    min_resolved: int = 5,
    method: str = "wilson",
) -> pd.DataFrame:
    """Auditors whose verdicts are overturned in disputes significantly more often than their peers'.

    Parameters
    ----------
    audited : DataFrame
        Audit-level frame (golden excluded), with ``auditor_id``.
    disputes : DataFrame
        The ``disputes`` table.
    by : str, default "auditor_id"
    alpha : float, default 0.05
        Significance level of the flags, after Benjamini-Hochberg over the auditors tested.
    min_resolved : int, default 5
        Auditors with fewer resolved disputes are shown but not tested.
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}

    Returns
    -------
    DataFrame
        One row per auditor with resolved disputes: ``auditor_id``, ``n_resolved``,
        ``n_overturned``, ``overturn_rate``, ``ci_low``, ``ci_high``, ``peer_rate``
        (overturn rate of every other auditor pooled), ``p_value`` (one-sided Fisher
        exact test: overturned more often than the peers), ``q_value`` (BH over the
        tested auditors), ``flag`` (q < alpha). Sorted by ``p_value``.

    Raises
    ------
    EstimationError
        Missing columns, no resolved dispute.

    Notes
    -----
    Fisher's test by ``scipy.stats.fisher_exact`` [1]_; q-values by
    ``statsmodels.stats.multitest.multipletests(method="fdr_bh")`` [2]_. The
    false-flag rate under the null (every auditor overturned at the same rate) is
    checked by a seeded simulation in the tests.

    References
    ----------
    .. [1] Fisher, R. A. (1935). The logic of inductive inference. JRSS 98(1), 39-82.
    .. [2] Benjamini, Y. and Hochberg, Y. (1995). JRSS B 57, 289-300.
    """
    alpha = check_alpha(alpha)
    r = dispute_rates(audited, disputes, by=by, alpha=alpha, method=method)
    r = r[r[N_RESOLVED] > 0].reset_index(drop=True)
    if r.empty:
        raise EstimationError("no resolved dispute yet, so no overturn rate can be compared")
    k, n = r[N_OVERTURNED].to_numpy(), r[N_RESOLVED].to_numpy()
    K, N = k.sum(), n.sum()
    p = np.full(len(r), np.nan)
    for i in range(len(r)):
        if n[i] >= min_resolved and N - n[i] > 0:
            table = [[k[i], n[i] - k[i]], [K - k[i], (N - n[i]) - (K - k[i])]]
            p[i] = stats.fisher_exact(table, alternative="greater")[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        peer = (K - k) / (N - n)
    out = r[[by, N_RESOLVED, N_OVERTURNED, OVERTURN_RATE, S.CI_LOW, S.CI_HIGH]].copy()
    out[PEER_RATE] = peer
    out[S.P_VALUE] = p
    out[S.Q_VALUE] = bh_qvalues(p)
    out[FLAG] = (out[S.Q_VALUE] < alpha).fillna(False).astype(bool)
    return out.sort_values(S.P_VALUE, kind="stable", na_position="last").reset_index(drop=True)


def accuracy_after_disputes(
    audited: pd.DataFrame,
    disputes: pd.DataFrame,
    by=S.VENDOR,
    weights: str | None = S.WEIGHT,
    alpha: float = 0.05,
    strata: str | None = S.STRATUM,
) -> pd.DataFrame:
    """Accuracy as audited next to accuracy after resolved disputes, and the difference with its CI.

    Parameters
    ----------
    audited : DataFrame
        Audit-level frame (golden excluded) with ``weight``/``stratum`` when weighted.
    disputes : DataFrame
        The ``disputes`` table.
    by : str or list of str, default "vendor"
    weights : str or None, default "weight"
        Design-weight column; None for unweighted estimates.
    alpha : float, default 0.05
    strata : str or None, default "stratum"

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns; ``n`` (audits); ``accuracy_audited``
        with ``audited_ci_low``, ``audited_ci_high``; ``accuracy_after`` with
        ``after_ci_low``, ``after_ci_high``; ``n_changed`` (verdicts turned from error to
        correct by a resolved dispute); ``difference`` (after minus audited, >= 0 when
        disputes only remove errors) with ``ci_low``, ``ci_high``; ``estimator``.

    Raises
    ------
    EstimationError
        Missing columns, bad weights.

    Notes
    -----
    Both accuracies are :func:`~modqa_lib.stats.scoring.accuracy_table` (Hajek weighted,
    Korn-Graubard interval [1]_). The difference is computed on the same audits, so it is
    the weighted share of audits whose verdict changed, estimated with
    :func:`~modqa_lib.stats.scoring.ratio_estimates` (paired by construction: the
    interval of the difference is not built from the two separate intervals).

    References
    ----------
    .. [1] Korn, E. L. and Graubard, B. I. (1998). Confidence intervals for proportions with
       small expected number of positive counts estimated from survey data. Survey Methodology 24, 193-201.
    """
    by = as_list(by)
    alpha = check_alpha(alpha)
    d = disputed_audits(audited, disputes)
    a = accuracy_table(d, by=by, weights=weights, alpha=alpha, strata=strata)
    b = accuracy_table(
        d.assign(**{S.IS_ERROR: d["is_error_after"]}), by=by, weights=weights, alpha=alpha, strata=strata
    )
    changed = (d[S.IS_ERROR].astype(bool) & ~d["is_error_after"].astype(bool)).to_numpy()
    sign = np.where(d["is_error_after"].astype(bool) & ~d[S.IS_ERROR].astype(bool), -1.0, 0.0) + changed
    if (sign < 0).any():  # a dispute turned a correct verdict into an error: not a proportion any more
        r = ratio_estimates(d, sign, None, by=by, weights=weights, strata=strata, alpha=alpha, binomial=False)
    else:
        r = ratio_estimates(d, sign, None, by=by, weights=weights, strata=strata, alpha=alpha, binomial=True)
    out = a[by].copy() if by else pd.DataFrame(index=range(len(a)))
    out[S.N] = a[S.N].to_numpy()
    out["accuracy_audited"] = a[S.ACCURACY].to_numpy()
    out["audited_ci_low"], out["audited_ci_high"] = a[S.CI_LOW].to_numpy(), a[S.CI_HIGH].to_numpy()
    out["accuracy_after"] = b[S.ACCURACY].to_numpy()
    out["after_ci_low"], out["after_ci_high"] = b[S.CI_LOW].to_numpy(), b[S.CI_HIGH].to_numpy()
    out["n_changed"] = (
        pd.Series(changed.astype(int), index=d.index).groupby([d[c] for c in by], dropna=False).sum().to_numpy()
        if by
        else [int(changed.sum())]
    )
    out[DIFFERENCE] = r["estimate"].to_numpy()
    out[S.CI_LOW], out[S.CI_HIGH] = r[S.CI_LOW].to_numpy(), r[S.CI_HIGH].to_numpy()
    out["estimator"] = a["estimator"].to_numpy()
    return out.reset_index(drop=True)
