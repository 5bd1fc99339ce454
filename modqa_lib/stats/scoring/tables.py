"""The scoring tables: accuracy, severity (critical-error rate), error mix and KPI status per group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import multinomial_proportions_confint

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, bh_qvalues, check_alpha, require_columns
from modqa_lib.errors import EstimationError
from modqa_lib.stats.scoring.estimator import (
    DEFAULT_SEVERITY_WEIGHTS,
    STATUS_AT_RISK,
    STATUS_MET,
    STATUS_MISSED,
    _groups,
    bool_column,
    check_nonempty,
    interval_method,
    ratio_estimates,
)
from modqa_lib.stats.scoring.targets import (
    _score_test_less,
    resolve_targets,
    target_status,
    targets_data,
)

__all__ = [
    "accuracy_table",
    "error_mix",
    "kpi_status",
    "severity_table",
]


# ============================================================== accuracy
def accuracy_table(
    audits: pd.DataFrame,
    by=None,
    weights=None,
    alpha: float = 0.05,
    method: str = "wilson",
    targets=None,
    taxonomy=None,
    strata: str | None = S.STRATUM,
) -> pd.DataFrame:
    """Accuracy (1 - error rate) per group, with confidence interval and KPI status.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame from :func:`modqa_lib.data.io.audited_decisions` (needs
        ``is_error``; ``weight`` and ``stratum`` when weighted; ``policy`` and
        ``vendor`` for targets).
    by : str or list of str, optional
        Grouping columns, e.g. ``[VENDOR, SITE]``. None or [] gives one overall row.
        Missing keys (e.g. no moderator on machine decisions) form their own group.
    weights : None or str, default None
        None: unweighted. ``"weight"`` (or True): design-weighted, see Notes.
    alpha : float, default 0.05
        1 - confidence level.
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}
    targets : None or dict, optional
        ``params/targets.yaml`` as loaded by :func:`modqa_lib.data.io.load_targets`
        (``scope.targets`` in a report), or its ``accuracy`` section. Adds target columns.
    taxonomy : Taxonomy, optional
        Critical policies for targets; default ``params/taxonomy.yaml``.
    strata : str or None, default "stratum"
        Stratum column used for the weighted variance; None: one stratum.

    Returns
    -------
    DataFrame
        One row per group that has audits (never a NaN row for an empty group), sorted
        by the ``by`` columns:

        - ``by`` columns;
        - ``n``: audits; ``errors``: audits with an error (unweighted count);
        - ``accuracy``: unweighted ``1 - errors / n`` when ``weights`` is None; the
          **Hajek weighted estimate of population accuracy** when weighted;
        - ``ci_low``, ``ci_high``: confidence interval of ``accuracy``;
        - ``estimator``: "unweighted" or "hajek";
        - weighted only: ``accuracy_unweighted`` (``1 - errors / n``, for reference),
          ``se`` (linearised), ``deff`` (design effect), ``n_eff`` (effective sample
          size behind the interval), ``weight_sum`` (estimated decisions in the group),
          ``max_weight_share`` (share of ``weight_sum`` carried by the group's single
          largest weight: near 1 means one audit decides the estimate);
        - with ``targets``: ``target``, ``target_source``, ``gap`` (accuracy - target),
          ``status`` in {"met", "at risk", "missed"}, ``p_value`` (one-sided score test of
          accuracy >= target, on ``n_eff`` when weighted), ``q_value`` (Benjamini-Hochberg
          over the groups).

    Raises
    ------
    EstimationError
        Empty input, missing columns, bad weights or strata, unknown method.

    Notes
    -----
    Unweighted intervals are :func:`proportion_ci` on ``(n - errors, n)``. Weighted
    estimates are :func:`ratio_estimates` with ``y = 1 - is_error`` and ``x = 1``
    (Hajek estimator, stratified Taylor-linearised variance, Korn-Graubard
    effective-n interval); see its Notes and References. Status follows
    :func:`target_status`; with ``method="wilson"``, "missed" is equivalent to
    ``p_value < alpha / 2`` because the Wilson interval inverts the score test [3]_.
    Target resolution (policy, critical policy, vendor, default) follows
    :func:`resolve_targets`; a group that spans several policies is held to its
    vendor or default target.

    Validated against statsmodels intervals, Newcombe (1998) Table I, a
    hand-computed weighted example and a coverage simulation
    (``tests/test_scoring.py``).

    References
    ----------
    .. [1] Wilson, E. B. (1927). JASA 22, 209-212.
    .. [2] Korn, E. L., Graubard, B. I. (1998). Survey Methodology 24, 193-201.
    .. [3] Agresti, A. (2013). Categorical Data Analysis, 3rd ed. Wiley. Section 1.4
       (score test and the Wilson interval).
    .. [4] Benjamini, Y., Hochberg, Y. (1995). JRSS B 57, 289-300.

    Examples
    --------
    Two vendors, unweighted (Wilson intervals):

    >>> import pandas as pd
    >>> audits = pd.DataFrame({
    ...     "vendor": ["A"] * 100 + ["B"] * 50,
    ...     "is_error": [True] * 6 + [False] * 94 + [True] * 9 + [False] * 41,
    ... })
    >>> accuracy_table(audits, by="vendor")[["vendor", "n", "errors", "accuracy", "ci_low", "ci_high"]].round(3)
      vendor    n  errors  accuracy  ci_low  ci_high
    0      A  100       6      0.94   0.875    0.972
    1      B   50       9      0.82   0.692    0.902
    """
    by = as_columns(by)
    require_columns(audits, [S.IS_ERROR, *by], "accuracy_table")
    check_nonempty(audits)
    alpha = check_alpha(alpha)
    interval_method(method)
    err = bool_column(audits, S.IS_ERROR)
    weighted = weights is not None and weights is not False
    r = ratio_estimates(
        audits,
        (~err).astype(float),
        None,
        by=by,
        weights=weights,
        strata=strata,
        alpha=alpha,
        method=method,
        binomial=True,
    )
    out = r[by].copy()
    out[S.N] = r["n"].to_numpy()
    out[S.ERRORS] = (r["n"] - r["numerator"]).round().astype(np.int64).to_numpy()
    out[S.ACCURACY] = r["estimate"].to_numpy()
    out[S.CI_LOW] = r[S.CI_LOW].to_numpy()
    out[S.CI_HIGH] = r[S.CI_HIGH].to_numpy()
    out["estimator"] = "hajek" if weighted else "unweighted"
    if weighted:
        out["accuracy_unweighted"] = r["numerator"].to_numpy() / r["n"].to_numpy()
        for c in ("se", "deff", "n_eff", "weight_sum", "max_weight_share"):
            out[c] = r[c].to_numpy()
    if targets is not None and targets is not False:
        tg = resolve_targets(audits, by, targets_data(targets, "accuracy_table"), taxonomy)
        out["target"] = tg["target"].to_numpy()
        out["target_source"] = tg["target_source"].to_numpy()
        out["gap"] = out[S.ACCURACY] - out["target"]
        out["status"] = target_status(out[S.ACCURACY], out[S.CI_LOW], out[S.CI_HIGH], out["target"])
        out[S.P_VALUE] = _score_test_less(out[S.ACCURACY], r["n_eff"].to_numpy(), out["target"])
        out[S.Q_VALUE] = bh_qvalues(out[S.P_VALUE])
    return out.reset_index(drop=True)


# ============================================================== severity
def severity_table(
    audits: pd.DataFrame,
    by=None,
    weights=None,
    alpha: float = 0.05,
    method: str = "wilson",
    severity_weights: Mapping[str, float] | None = None,
    targets=None,
    strata: str | None = S.STRATUM,
) -> pd.DataFrame:
    """Severity-weighted quality score and critical-error rate per group.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (needs ``is_error`` and ``severity``).
    by : str or list of str, optional
    weights : None or str, default None
        Design-weight column for population estimates (see :func:`accuracy_table`).
    alpha : float, default 0.05
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}
    severity_weights : dict, optional
        Penalty points per severity; default :data:`DEFAULT_SEVERITY_WEIGHTS`
        (critical 5, major 2, minor 1). An error with no severity recorded is
        charged the largest penalty (conservative) and counted in ``severity_missing``.
    targets : None or dict
        ``params/targets.yaml`` as loaded by :func:`modqa_lib.data.io.load_targets`
        (``scope.targets``); reads its ``critical_error_rate_max``.
    strata : str or None, default "stratum"

    Returns
    -------
    DataFrame
        ``by`` columns, ``n``, ``errors``, ``critical``, ``major``, ``minor``,
        ``severity_missing`` (error counts per severity), ``severity_score`` =
        ``1 - sum(penalty) / (n * max penalty)`` (1 = no errors, 0 = every audit a
        critical error; weighted mean when weighted), ``score_ci_low``,
        ``score_ci_high``, ``critical_rate`` (share of audits with a critical error),
        ``critical_ci_low``, ``critical_ci_high``; with targets also
        ``critical_target`` and ``critical_status`` (met when the rate is at most the
        ceiling, missed when the whole interval is above it).

    Notes
    -----
    The score is the mean of ``s_i = 1 - penalty_i / max penalty`` in [0, 1]. Its
    interval is the effective-n binomial interval of :func:`ratio_estimates`
    (``binomial=False``), conservative for a bounded score because a 0/1 variable has
    the largest variance for its mean. The critical-error rate is a proportion, with
    the same intervals as :func:`accuracy_table`. The penalty points are a
    convention of BPO quality scorecards, not a statistical quantity: change them
    with ``severity_weights``.

    References
    ----------
    1. Korn, E. L., Graubard, B. I. (1998). Survey Methodology 24, 193-201.
    2. Wilson, E. B. (1927). JASA 22, 209-212.
    """
    by = as_columns(by)
    require_columns(audits, [S.IS_ERROR, S.SEVERITY, *by], "severity_table")
    check_nonempty(audits)
    sw = dict(DEFAULT_SEVERITY_WEIGHTS if severity_weights is None else severity_weights)
    if (
        not sw
        or any(not (isinstance(v, (int, float)) and v >= 0 and np.isfinite(v)) for v in sw.values())
        or max(sw.values()) <= 0
    ):
        raise EstimationError(
            f"severity_weights must map severities to non-negative numbers with a positive maximum, got {sw!r}"
        )
    err = bool_column(audits, S.IS_ERROR)
    sev = audits[S.SEVERITY].astype(object).where(audits[S.SEVERITY].notna(), None).to_numpy()
    smax = float(max(sw.values()))
    known = np.array([s in sw for s in sev])
    pen = np.where(err, np.where(known, [sw.get(s, smax) for s in sev], smax), 0.0).astype(float)
    score = 1.0 - pen / smax
    crit = err & (sev == "critical")
    kw = dict(by=by, weights=weights, strata=strata, alpha=alpha, method=method)
    rs = ratio_estimates(audits, score, None, binomial=False, **kw)
    rc = ratio_estimates(audits, crit.astype(float), None, binomial=True, **kw)
    codes, _ = _groups(audits, by)
    G = len(rs)
    out = rs[by].copy()
    out[S.N] = rs["n"].to_numpy()
    out[S.ERRORS] = np.bincount(codes, err, minlength=G).astype(np.int64)
    for name in ("critical", "major", "minor"):
        out[name] = np.bincount(codes, err & (sev == name), minlength=G).astype(np.int64)
    out["severity_missing"] = np.bincount(codes, err & ~known, minlength=G).astype(np.int64)
    out["severity_score"] = rs["estimate"].to_numpy()
    out["score_ci_low"] = rs[S.CI_LOW].to_numpy()
    out["score_ci_high"] = rs[S.CI_HIGH].to_numpy()
    out["critical_rate"] = rc["estimate"].to_numpy()
    out["critical_ci_low"] = rc[S.CI_LOW].to_numpy()
    out["critical_ci_high"] = rc[S.CI_HIGH].to_numpy()
    if targets is not None and targets is not False:
        ceiling = targets_data(targets, "severity_table").get("critical_error_rate_max")
        if not isinstance(ceiling, (int, float)) or not 0 <= ceiling < 1:
            raise EstimationError(
                "targets: 'critical_error_rate_max' must be a number in [0, 1) (see params/targets.yaml)"
            )
        out["critical_target"] = float(ceiling)
        out["critical_status"] = target_status(
            out["critical_rate"],
            out["critical_ci_low"],
            out["critical_ci_high"],
            out["critical_target"],
            higher_is_better=False,
        )
    return out.reset_index(drop=True)


# ============================================================== error mix
def error_mix(
    audits: pd.DataFrame,
    by=None,
    of: str = S.ERROR_TYPE,
    weights=None,
    alpha: float = 0.05,
    method: str = "wilson",
    categories: Sequence[str] | None = None,
    strata: str | None = S.STRATUM,
) -> pd.DataFrame:
    """Mix of errors by type (or root cause, severity) within each group.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (needs ``is_error`` and the ``of`` column).
    by : str or list of str, optional
    of : str, default "error_type"
        Category column of the errors, e.g. ``ERROR_TYPE``, ``ROOT_CAUSE``, ``SEVERITY``.
    weights : None or str, default None
        Design-weight column: shares of population errors instead of audited errors.
    alpha : float, default 0.05
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys", "goodman"}
        Per-category binomial interval, or "goodman" for simultaneous multinomial
        intervals (unweighted only).
    categories : sequence of str, optional
        Categories to report (zero counts included); default the taxonomy's
        vocabulary for ``error_type`` / ``root_cause`` / ``severity``, else the observed values.
        Errors whose category is missing are reported as "unknown".
    strata : str or None, default "stratum"

    Returns
    -------
    DataFrame
        One row per group with at least one error and category: ``by`` columns, ``of``
        column, ``count`` (errors in the category), ``errors`` (errors in the group),
        ``n`` (audits in the group), ``share`` (of the group's errors; weighted when
        weighted), ``ci_low``, ``ci_high`` (of ``share``), ``rate`` (count / n, per
        audit), ``cum_share`` (cumulative share, categories in descending share).
        Groups without errors have no mix and are left out.

    Notes
    -----
    Per-category intervals are binomial intervals of each share against the group's
    errors (the marginal of a multinomial), valid one at a time but not jointly; use
    ``method="goodman"`` (statsmodels ``multinomial_proportions_confint``) for
    simultaneous intervals.

    References
    ----------
    1. Wilson, E. B. (1927). JASA 22, 209-212.
    2. Goodman, L. A. (1965). On simultaneous confidence intervals for multinomial
       proportions. Technometrics 7, 247-254.
    """
    by = as_columns(by)
    require_columns(audits, [S.IS_ERROR, of, *by], "error_mix")
    check_nonempty(audits)
    alpha = check_alpha(alpha)
    simultaneous = method == "goodman"
    if simultaneous and weights is not None:
        raise EstimationError(
            "method='goodman' needs unweighted counts; use weights=None or a per-category method such as 'wilson'"
        )
    if not simultaneous:
        interval_method(method)
    err = bool_column(audits, S.IS_ERROR)
    cat = audits[of].astype(object).where(audits[of].notna(), "unknown").to_numpy()
    if categories is None:
        vocab = {S.ERROR_TYPE: "error_types", S.ROOT_CAUSE: "root_causes", S.SEVERITY: "severities"}
        if of in vocab:
            categories = list(S.load_taxonomy().vocab(vocab[of]))
        else:
            categories = sorted(pd.unique(cat[err]).tolist(), key=str)
    categories = list(categories)
    extra = sorted(set(cat[err].tolist()) - set(categories), key=str)
    categories += extra
    kw = dict(
        by=by, weights=weights, strata=strata, alpha=alpha, method="wilson" if simultaneous else method, binomial=True
    )
    frames = []
    for c in categories:
        r = ratio_estimates(audits, (err & (cat == c)).astype(float), err.astype(float), **kw)
        r.insert(len(by), of, c)
        frames.append(r)
    mix = pd.concat(frames, ignore_index=True)
    codes, keys = _groups(audits, by)
    totals = keys.copy()
    totals[S.N] = np.bincount(codes, minlength=len(keys)).astype(np.int64)
    mix = mix.rename(columns={"n": S.ERRORS, "numerator": "count", "estimate": "share"})
    mix = mix.merge(totals, on=by, how="left") if by else mix.assign(**{S.N: int(totals[S.N].iloc[0])})
    mix["count"] = mix["count"].round().astype(np.int64)
    if simultaneous:
        gcode = mix.groupby(by, dropna=False, sort=False).ngroup().to_numpy() if by else np.zeros(len(mix), int)
        lo, hi = mix[S.CI_LOW].to_numpy(copy=True), mix[S.CI_HIGH].to_numpy(copy=True)
        for gi in np.unique(gcode):
            rows = np.flatnonzero(gcode == gi)
            ci = multinomial_proportions_confint(mix["count"].to_numpy()[rows], alpha=alpha, method="goodman")
            lo[rows], hi[rows] = ci[:, 0], ci[:, 1]
        mix[S.CI_LOW], mix[S.CI_HIGH] = lo, hi
    mix["rate"] = mix["count"] / mix[S.N]
    order = [*by, "share"]
    mix = mix.sort_values(order, ascending=[True] * len(by) + [False], kind="stable")
    mix["cum_share"] = mix.groupby(by)["share"].cumsum() if by else mix["share"].cumsum()
    cols = [*by, of, "count", S.ERRORS, S.N, "share", S.CI_LOW, S.CI_HIGH, "rate", "cum_share"]
    return mix[cols].reset_index(drop=True)


# ============================================================== moderators


_STATUS_ORDER = {STATUS_MET: 0, STATUS_AT_RISK: 1, STATUS_MISSED: 2}


def kpi_status(
    audits: pd.DataFrame,
    by=None,
    weights=None,
    alpha: float = 0.05,
    method: str = "wilson",
    targets: Mapping | None = None,
    taxonomy=None,
    strata: str | None = S.STRATUM,
) -> pd.DataFrame:
    """Accuracy and critical-error KPIs side by side, with the worse status overall.

    Parameters
    ----------
    audits, by, weights, alpha, method, taxonomy, strata
        As in :func:`accuracy_table`.
    targets : dict
        ``params/targets.yaml`` as loaded by :func:`modqa_lib.data.io.load_targets`
        (``scope.targets``): needs the ``accuracy`` section and ``critical_error_rate_max``.

    Returns
    -------
    DataFrame
        The columns of :func:`accuracy_table` with targets, plus ``critical_rate``,
        ``critical_ci_low``, ``critical_ci_high``, ``critical_target``,
        ``critical_status`` and ``kpi_status`` (the worse of ``status`` and
        ``critical_status``: missed > at risk > met).

    Notes
    -----
    Combines :func:`accuracy_table` and :func:`severity_table`; see their Notes.

    References
    ----------
    1. Korn, E. L., Graubard, B. I. (1998). Survey Methodology 24, 193-201.
    """
    targets = targets_data(targets, "kpi_status")
    by = as_columns(by)
    acc = accuracy_table(
        audits, by, weights=weights, alpha=alpha, method=method, targets=targets, taxonomy=taxonomy, strata=strata
    )
    sev = severity_table(audits, by, weights=weights, alpha=alpha, method=method, targets=targets, strata=strata)
    cols = ["critical_rate", "critical_ci_low", "critical_ci_high", "critical_target", "critical_status"]
    out = acc.copy()
    for c in cols:
        out[c] = sev[c].to_numpy()
    worst = np.maximum(
        out["status"].map(_STATUS_ORDER).to_numpy(), out["critical_status"].map(_STATUS_ORDER).to_numpy()
    )
    inv = {v: k for k, v in _STATUS_ORDER.items()}
    out["kpi_status"] = [inv[int(x)] for x in worst]
    return out
