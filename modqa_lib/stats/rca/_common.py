"""Result columns, argument checks and the slice tests shared by the RCA package."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from modqa_lib.contract.checks import require_columns
from modqa_lib.errors import DataContractError

# ----------------------------------------------------------------- output columns
DIMENSION = "dimension"
VALUE = "value"
DEPTH = "depth"
N_EFF = "n_eff"
REST_N = "rest_n"
REST_RATE = "rest_rate"
LIFT = "lift"
EXCESS_ERRORS = "excess_errors"
TEST = "test"
FLAG = "flag"
EXPLAINED_BY = "explained_by"
COUNT = "count"
SHARE = "share"
CUM_SHARE = "cum_share"
RANK = "rank"
LEVEL = "level"
ODDS_RATIO = "odds_ratio"
IS_REFERENCE = "is_reference"
NOTE = "note"
GROUP = "group"
SHARE_BEFORE = "share_before"
SHARE_AFTER = "share_after"
RATE_BEFORE = "rate_before"
RATE_AFTER = "rate_after"
MIX_EFFECT = "mix_effect"
RATE_EFFECT = "rate_effect"
TOTAL_EFFECT = "total_effect"
SHARE_OF_CHANGE = "share_of_change"
IS_TOTAL = "is_total"
N_BEFORE = "n_before"
N_AFTER = "n_after"
ERRORS_BEFORE = "errors_before"
ERRORS_AFTER = "errors_after"
MARGINAL_EXCESS = "marginal_excess"
CAUSE_SHARE = "cause_share"
CAUSE_CI_LOW = "cause_ci_low"
CAUSE_CI_HIGH = "cause_ci_high"
CAUSE_N = "cause_n"

#: separator between dimension names and between values of a pair slice.
PAIR_SEP = " × "
#: label of a missing value (NaN) when it is kept as its own slice or level.
MISSING_LABEL = "(missing)"
#: label of the level that collects sparse levels in :func:`error_drivers`.
OTHER_LABEL = "(other)"
#: group label of the total row of :func:`decompose_change`.
TOTAL_LABEL = "(total)"
#: a 2×2 table whose smallest expected count is below this is tested with Fisher's exact test.
FISHER_MIN_EXPECTED = 5.0

#: error_drivers: a fit with |log odds ratio| or a standard error above these has diverged (separation).
_MAX_ABS_LOGIT = 15.0
_MAX_SE = 50.0

_CI_METHODS = frozenset({"wilson", "beta", "agresti_coull", "jeffreys", "normal"})


# ------------------------------------------------------------------- validation
def outcome_array(audits: pd.DataFrame, outcome: str, func: str) -> np.ndarray:
    """The outcome column as a float array of 0/1.

    Parameters
    ----------
    audits : DataFrame
    outcome : str
        A boolean (or 0/1) column, e.g. ``is_error``.
    func : str
        The function that needs it, named in the message (``rca.<func>``).

    Returns
    -------
    ndarray
        One 0.0/1.0 per row.

    Raises
    ------
    DataContractError
        A missing value, or a value other than true/false/0/1 (first rows listed).
    """
    s = audits[outcome]
    na = s.isna().to_numpy()
    if na.any():
        rows = (np.flatnonzero(na)[:5] + 1).tolist()
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": outcome,
                    "rule": f"rca.{func} needs a known outcome on every audit; "
                    "drop or fix the audits with an empty value",
                    "rows": rows,
                    "count": int(na.sum()),
                }
            ]
        )
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    try:
        y = s.to_numpy(dtype=float)
    except (TypeError, ValueError):
        y = None
    if y is None or not np.isin(y, (0.0, 1.0)).all():
        bad = np.ones(len(s), bool) if y is None else ~np.isin(y, (0.0, 1.0))
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": outcome,
                    "rule": f"rca.{func} needs a boolean (or 0/1) outcome",
                    "rows": (np.flatnonzero(bad)[:5] + 1).tolist(),
                    "count": int(bad.sum()),
                }
            ]
        )
    return y


_outcome_array = outcome_array  # the name the rca modules import


def _weight_array(audits: pd.DataFrame, weights: str | None, func: str) -> np.ndarray | None:
    if weights is None:
        return None
    require_columns(audits, [weights], f"rca.{func}")
    try:
        w = audits[weights].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": weights,
                    "rule": f"rca.{func}: weights must be numeric",
                    "count": len(audits),
                }
            ]
        ) from None
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": weights,
                    "rule": f"rca.{func}: weights must be positive and finite",
                    "rows": (np.flatnonzero(bad)[:5] + 1).tolist(),
                    "count": int(bad.sum()),
                }
            ]
        )
    return w


def _fmt_label(u: Any) -> str:
    if u is None or (not isinstance(u, str) and pd.isna(u)):
        return MISSING_LABEL
    if isinstance(u, pd.Timestamp) and u == u.normalize():
        return u.strftime("%Y-%m-%d")
    return str(u)


def _factorize(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (sorted by value; missing values last, as their own level) and labels."""
    codes, uniq = pd.factorize(s, sort=True)
    labels = [_fmt_label(u) for u in uniq]
    codes = np.asarray(codes, dtype=np.int64)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING_LABEL)
    return codes, labels


# ------------------------------------------------------------------------ tests
def two_proportion_ztest(count1, nobs1, count2, nobs2) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised two-sided two-proportion z-test with pooled variance.

    Parameters
    ----------
    count1, nobs1, count2, nobs2 : array_like
        Successes and trials of the two samples (may be non-integer effective counts).

    Returns
    -------
    z, p_value : ndarray
        ``z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with ``p`` the pooled
        proportion, and ``p_value = 2 * norm.sf(|z|)``. NaN where the pooled
        proportion is 0 or 1 or a sample is empty.

    Notes
    -----
    The same statistic as ``statsmodels.stats.proportion.proportions_ztest(
    [count1, count2], [nobs1, nobs2])`` (``value=0``, ``prop_var=False``), computed
    for many cells at once; ``tests/test_rca.py`` checks they agree cell by cell.

    References
    ----------
    .. [1] Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, §3.1.
    """
    c1, n1, c2, n2 = (np.asarray(a, dtype=float) for a in (count1, nobs1, count2, nobs2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = c1 / n1, c2 / n2
        pp = (c1 + c2) / (n1 + n2)
        se = np.sqrt(pp * (1.0 - pp) * (1.0 / n1 + 1.0 / n2))
        z = (p1 - p2) / se
    z = np.where((se > 0) & np.isfinite(se), z, np.nan)
    return z, 2.0 * stats.norm.sf(np.abs(z))


def _fisher_many(a, b, c, d) -> np.ndarray:
    """Two-sided Fisher exact p-values for many 2×2 tables [[a, b], [c, d]].

    The p-value is the total hypergeometric probability of the tables (same
    margins) that are no more probable than the observed one, with a relative
    tolerance of 1e-7 for ties (as R's ``fisher.test``); tested against
    ``scipy.stats.fisher_exact``. One small numpy evaluation per distinct
    table: scipy's function is ~100x slower per call.
    """
    tab = np.column_stack([a, b, c, d]).astype(np.int64)
    if len(tab) == 0:
        return np.empty(0)
    uniq, inv = np.unique(tab, axis=0, return_inverse=True)
    out = np.empty(len(uniq))
    for i, (a_, b_, c_, d_) in enumerate(uniq):
        r1, c1, n = a_ + b_, a_ + c_, a_ + b_ + c_ + d_
        lo, hi = max(0, c1 - (n - r1)), min(r1, c1)
        x = np.arange(lo, hi + 1)
        logp = (
            gammaln(r1 + 1)
            - gammaln(x + 1)
            - gammaln(r1 - x + 1)
            + gammaln(n - r1 + 1)
            - gammaln(c1 - x + 1)
            - gammaln(n - r1 - c1 + x + 1)
            - gammaln(n + 1)
            + gammaln(c1 + 1)
            + gammaln(n - c1 + 1)
        )
        obs = logp[a_ - lo]
        out[i] = min(1.0, float(np.exp(logp[logp <= obs + np.log1p(1e-7)]).sum()))
    return out[np.asarray(inv).ravel()]


def _slice_vs_rest(x1, n1, x2, n2) -> tuple[np.ndarray, np.ndarray]:
    """p-value of slice (x1/n1) vs rest (x2/n2): z-test, or Fisher where an expected count < 5.

    Returns p_value and the test used ("z", "fisher" or "" where untestable).
    """
    x1, n1, x2, n2 = (np.asarray(v, dtype=float) for v in (x1, n1, x2, n2))
    p = np.full(len(x1), np.nan)
    test = np.full(len(x1), "", dtype=object)
    ok = (n1 > 0) & (n2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = (x1 + x2) / (n1 + n2)
        exp_min = np.minimum.reduce([n1 * pp, n1 * (1 - pp), n2 * pp, n2 * (1 - pp)])
    small = ok & (exp_min < FISHER_MIN_EXPECTED)
    large = ok & ~small
    if large.any():
        _, p[large] = two_proportion_ztest(x1[large], n1[large], x2[large], n2[large])
        test[large] = "z"
    if small.any():
        a, c = np.rint(x1[small]), np.rint(x2[small])
        b, d = np.rint(n1[small]) - a, np.rint(n2[small]) - c
        p[small] = _fisher_many(a, b, c, d)
        test[small] = "fisher"
    return p, test


def _explains(child: tuple, parent: tuple, total: tuple, nested_share: float, alpha: float) -> np.ndarray:
    """Does a sub-slice explain a broader slice? (vectorised; see drilldown ``nested_share``).

    ``child``, ``parent`` and ``total`` are ``(W, WE, W2)``: sums of weights, of
    weight × error and of squared weights (``(n, errors, n)`` without weights)
    over the child slice, the parent slice that contains it, and all audits.
    True when the parent is worse than the audits outside it, the child holds
    at most ``nested_share`` of the parent's audits (it is not a near-copy), the
    child is significantly worse than the rest of the parent, and the rest of
    the parent is not significantly worse than the audits outside the parent
    (two-sided tests at ``alpha``, as in :func:`drilldown`): the parent's
    problem is the child.
    """
    c = [np.atleast_1d(np.asarray(v, dtype=float)) for v in child]
    p = [np.atleast_1d(np.asarray(v, dtype=float)) for v in parent]
    t = [np.atleast_1d(np.asarray(v, dtype=float)) for v in total]
    r = [pi - ci for pi, ci in zip(p, c)]  # rest of the parent
    o = [ti - pi for ti, pi in zip(t, p)]  # outside the parent

    def eff(v):
        with np.errstate(divide="ignore", invalid="ignore"):
            rate, ne = v[1] / v[0], v[0] * v[0] / v[2]
        return rate, ne

    (rc, nc), (rr, nr), (ro, no), (rp, _) = eff(c), eff(r), eff(o), eff(p)
    with np.errstate(invalid="ignore"):
        cand = (c[0] > 0) & (r[0] > 0) & (o[0] > 0) & (c[0] <= nested_share * p[0]) & (rp > ro) & (rc > rr)
    cand = np.asarray(cand, dtype=bool) & np.isfinite(rc) & np.isfinite(rr) & np.isfinite(ro)
    out = np.zeros(cand.shape, dtype=bool)
    if cand.any():
        k = cand
        p_child, _ = _slice_vs_rest(rc[k] * nc[k], nc[k], rr[k] * nr[k], nr[k])
        p_rest, _ = _slice_vs_rest(rr[k] * nr[k], nr[k], ro[k] * no[k], no[k])
        rest_worse = (rr[k] > ro[k]) & (p_rest < alpha)
        out[k] = (p_child < alpha) & ~rest_worse
    return out
