"""Pareto of root causes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, check_alpha, require_columns
from modqa_lib.errors import ConfigError
from modqa_lib.stats.rca._common import (
    _CI_METHODS,
    COUNT,
    CUM_SHARE,
    MISSING_LABEL,
    RANK,
    SHARE,
    _outcome_array,
)


# ----------------------------------------------------------------------- pareto
def pareto(
    audits: pd.DataFrame,
    cause: str = S.ROOT_CAUSE,
    by: str | Sequence[str] | None = None,
    outcome: str = S.IS_ERROR,
    alpha: float = 0.05,
    method: str = "wilson",
) -> pd.DataFrame:
    """Rank the causes of errors (a Pareto table), overall or per group.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.data.io.audited_decisions`).
    cause : str, default ROOT_CAUSE
        Column holding the cause of each error (any categorical column works,
        e.g. ERROR_TYPE or SEVERITY). Errors without a cause are counted as
        ``"(missing)"`` so the shares still sum to one.
    by : str or list of str, optional
        Group columns; the table is computed within each group.
    outcome : str, default IS_ERROR
        Boolean column selecting the errors.
    alpha : float, default 0.05
        1 − confidence level of the share intervals.
    method : {"wilson", "beta", "agresti_coull", "jeffreys", "normal"}, default "wilson"
        Interval method passed to ``statsmodels`` ``proportion_confint``.

    Returns
    -------
    DataFrame
        One row per (group, cause), groups in sorted order, causes by count
        descending (ties by name): the ``by`` columns, ``<cause>`` (the cause
        value), ``rank`` (1 = most frequent), ``count`` (errors with this
        cause), ``n`` (errors in the group), ``share`` = count / n,
        ``ci_low``, ``ci_high`` (interval on the share), ``cum_share``
        (cumulative share, ends at exactly 1 in each group).

    Notes
    -----
    Shares and the cumulative share are computed from integer counts, so each
    group's shares sum to one. The intervals are statsmodels'
    ``proportion_confint`` (tested against it in ``tests/test_rca.py``); they
    are marginal intervals for each share, not simultaneous ones.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. *JASA* 22(158), 209–212.
    .. [2] Juran, J. M. (1951). *Quality Control Handbook*, McGraw-Hill (the
       Pareto principle in quality work).

    Examples
    --------
    Ten errors and their root causes:

    >>> import pandas as pd
    >>> errors = pd.DataFrame({
    ...     "is_error": True,
    ...     "root_cause": ["policy_knowledge_gap"] * 5 + ["fatigue_attention"] * 3 + ["tooling_ui"] * 2,
    ... })
    >>> pareto(errors)[["root_cause", "count", "share", "ci_low", "ci_high", "cum_share"]].round(3)
                 root_cause  count  share  ci_low  ci_high  cum_share
    0  policy_knowledge_gap      5    0.5   0.237    0.763        0.5
    1     fatigue_attention      3    0.3   0.108    0.603        0.8
    2            tooling_ui      2    0.2   0.057    0.510        1.0
    """
    by_l = as_columns(by, "by")
    require_columns(audits, [cause, outcome, *by_l], "rca.pareto")
    check_alpha(alpha)
    if method not in _CI_METHODS:
        raise ConfigError(f"method must be one of {sorted(_CI_METHODS)}, got {method!r}")
    if cause in by_l:
        raise ConfigError(f"cause column {cause!r} cannot also be a 'by' column")
    y = _outcome_array(audits, outcome, "pareto").astype(bool)
    err = audits.loc[y, [*by_l, cause]].copy()
    err[cause] = err[cause].astype(object).where(err[cause].notna(), MISSING_LABEL)
    cols = [*by_l, cause, RANK, COUNT, S.N, SHARE, S.CI_LOW, S.CI_HIGH, CUM_SHARE]
    if err.empty:
        return pd.DataFrame(
            {
                c: pd.Series(
                    dtype=float
                    if c in (SHARE, S.CI_LOW, S.CI_HIGH, CUM_SHARE)
                    else "int64"
                    if c in (RANK, COUNT, S.N)
                    else object
                )
                for c in cols
            }
        )
    keys = [*by_l, cause]
    out = err.groupby(keys, dropna=False, observed=True, sort=True).size().rename(COUNT).reset_index()
    if by_l:
        out = out.sort_values(
            [*by_l, COUNT, cause], ascending=[True] * len(by_l) + [False, True], kind="mergesort"
        ).reset_index(drop=True)
        g = out.groupby(by_l, dropna=False, observed=True, sort=False)
        out[S.N] = g[COUNT].transform("sum").astype("int64")
        out[RANK] = (g.cumcount() + 1).astype("int64")
        cum = g[COUNT].cumsum()
    else:
        out = out.sort_values([COUNT, cause], ascending=[False, True], kind="mergesort").reset_index(drop=True)
        out[S.N] = int(out[COUNT].sum())
        out[RANK] = np.arange(1, len(out) + 1, dtype="int64")
        cum = out[COUNT].cumsum()
    out[COUNT] = out[COUNT].astype("int64")
    out[SHARE] = out[COUNT] / out[S.N]
    lo, hi = proportion_confint(out[COUNT].to_numpy(), out[S.N].to_numpy(), alpha=alpha, method=method)
    out[S.CI_LOW], out[S.CI_HIGH] = np.asarray(lo, float), np.asarray(hi, float)
    out[CUM_SHARE] = cum.to_numpy() / out[S.N].to_numpy()
    return out[cols]
