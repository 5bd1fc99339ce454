"""Root-cause analysis: which slices drive errors, why, and what changed.

Every function takes the audit-level frame built by
:func:`modqa_lib.io.audited_decisions` (one row per audit, with the decision
columns and the derived ``week``, ``hour``, ``shift`` and ``tenure_band``) and
returns a tidy DataFrame with one row per slice, cause, driver or group. Inputs
are never modified.

Functions
---------
pareto
    Root causes among errors, ranked, with Wilson CIs on their shares.
drilldown
    Every value (and, at depth 2, every pair of values) of the dimensions you
    pass, tested against the rest, ranked by excess errors.
error_drivers
    Logistic regression: each dimension's levels controlling for the others.
decompose_change
    Change in error rate (or accuracy) between two periods split per group into
    mix and rate effects (Kitagawa).
summary_text
    A short generated paragraph built from the functions above.
top_findings
    Flagged, non-redundant drilldown slices with their dominant root cause.
"""
from __future__ import annotations

import itertools
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from scipy.special import gammaln
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

from . import schema as S
from .errors import ConfigError, DataContractError, EstimationError

__all__ = [
    "pareto", "drilldown", "error_drivers", "decompose_change", "summary_text",
    "top_findings", "two_proportion_ztest",
    # output column names specific to RCA
    "DIMENSION", "VALUE", "DEPTH", "N_EFF", "REST_N", "REST_RATE", "LIFT", "EXCESS_ERRORS",
    "TEST", "FLAG", "EXPLAINED_BY", "COUNT", "SHARE", "CUM_SHARE", "RANK", "LEVEL",
    "ODDS_RATIO", "IS_REFERENCE", "NOTE", "GROUP", "SHARE_BEFORE", "SHARE_AFTER",
    "RATE_BEFORE", "RATE_AFTER", "MIX_EFFECT", "RATE_EFFECT", "TOTAL_EFFECT",
    "SHARE_OF_CHANGE", "IS_TOTAL", "N_BEFORE", "N_AFTER", "ERRORS_BEFORE", "ERRORS_AFTER",
    "MARGINAL_EXCESS", "CAUSE_SHARE", "CAUSE_CI_LOW", "CAUSE_CI_HIGH", "CAUSE_N",
    # labels
    "PAIR_SEP", "MISSING_LABEL", "OTHER_LABEL", "TOTAL_LABEL", "FISHER_MIN_EXPECTED",
]

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
#: summary_text names a group as the source of a change only if its share of the change
#: exceeds its share of audits by at least this much.
_SUMMARY_MIN_CONCENTRATION = 0.2

_CI_METHODS = frozenset({"wilson", "beta", "agresti_coull", "jeffreys", "normal"})


# ------------------------------------------------------------------- validation
def _as_list(x, what: str) -> list:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    try:
        out = list(x)
    except TypeError:
        raise ConfigError(f"{what} must be a column name or a list of column names, got {x!r}") from None
    return out


def _require_columns(audits: pd.DataFrame, cols: Sequence[str], func: str) -> None:
    if not isinstance(audits, pd.DataFrame):
        raise ConfigError(f"rca.{func}: expected a DataFrame of audits (io.audited_decisions), "
                          f"got {type(audits).__name__}")
    missing = [c for c in dict.fromkeys(cols) if c not in audits.columns]
    if missing:
        raise DataContractError([{"table": "audits", "column": c,
                                  "rule": f"required by rca.{func} but missing "
                                          "(build the frame with io.audited_decisions)",
                                  "count": len(audits)} for c in missing])


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ConfigError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")


def _outcome_array(audits: pd.DataFrame, outcome: str, func: str) -> np.ndarray:
    """The outcome column as a float array of 0/1; DataContractError if it is not binary."""
    s = audits[outcome]
    na = s.isna().to_numpy()
    if na.any():
        rows = (np.flatnonzero(na)[:5] + 1).tolist()
        raise DataContractError([{"table": "audits", "column": outcome,
                                  "rule": f"rca.{func} needs a known outcome on every audit; "
                                          "drop or fix the audits with an empty value",
                                  "rows": rows, "count": int(na.sum())}])
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    try:
        y = s.to_numpy(dtype=float)
    except (TypeError, ValueError):
        y = None
    if y is None or not np.isin(y, (0.0, 1.0)).all():
        bad = np.ones(len(s), bool) if y is None else ~np.isin(y, (0.0, 1.0))
        raise DataContractError([{"table": "audits", "column": outcome,
                                  "rule": f"rca.{func} needs a boolean (or 0/1) outcome",
                                  "rows": (np.flatnonzero(bad)[:5] + 1).tolist(),
                                  "count": int(bad.sum())}])
    return y


def _weight_array(audits: pd.DataFrame, weights: str | None, func: str) -> np.ndarray | None:
    if weights is None:
        return None
    _require_columns(audits, [weights], func)
    try:
        w = audits[weights].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise DataContractError([{"table": "audits", "column": weights,
                                  "rule": f"rca.{func}: weights must be numeric",
                                  "count": len(audits)}]) from None
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise DataContractError([{"table": "audits", "column": weights,
                                  "rule": f"rca.{func}: weights must be positive and finite",
                                  "rows": (np.flatnonzero(bad)[:5] + 1).tolist(),
                                  "count": int(bad.sum())}])
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
        logp = (gammaln(r1 + 1) - gammaln(x + 1) - gammaln(r1 - x + 1)
                + gammaln(n - r1 + 1) - gammaln(c1 - x + 1) - gammaln(n - r1 - c1 + x + 1)
                - gammaln(n + 1) + gammaln(c1 + 1) + gammaln(n - c1 + 1))
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


def _bh(p: np.ndarray) -> np.ndarray:
    q = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q


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
    r = [pi - ci for pi, ci in zip(p, c)]            # rest of the parent
    o = [ti - pi for ti, pi in zip(t, p)]            # outside the parent

    def eff(v):
        with np.errstate(divide="ignore", invalid="ignore"):
            rate, ne = v[1] / v[0], v[0] * v[0] / v[2]
        return rate, ne

    (rc, nc), (rr, nr), (ro, no), (rp, _) = eff(c), eff(r), eff(o), eff(p)
    with np.errstate(invalid="ignore"):
        cand = ((c[0] > 0) & (r[0] > 0) & (o[0] > 0) & (c[0] <= nested_share * p[0])
                & (rp > ro) & (rc > rr))
    cand = np.asarray(cand, dtype=bool) & np.isfinite(rc) & np.isfinite(rr) & np.isfinite(ro)
    out = np.zeros(cand.shape, dtype=bool)
    if cand.any():
        k = cand
        p_child, _ = _slice_vs_rest(rc[k] * nc[k], nc[k], rr[k] * nr[k], nr[k])
        p_rest, _ = _slice_vs_rest(rr[k] * nr[k], nr[k], ro[k] * no[k], no[k])
        rest_worse = (rr[k] > ro[k]) & (p_rest < alpha)
        out[k] = (p_child < alpha) & ~rest_worse
    return out


# ----------------------------------------------------------------------- pareto
def pareto(audits: pd.DataFrame, cause: str = S.ROOT_CAUSE, by: str | Sequence[str] | None = None,
           outcome: str = S.IS_ERROR, alpha: float = 0.05, method: str = "wilson") -> pd.DataFrame:
    """Rank the causes of errors (a Pareto table), overall or per group.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.io.audited_decisions`).
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
    """
    by_l = _as_list(by, "by")
    _require_columns(audits, [cause, outcome, *by_l], "pareto")
    _check_alpha(alpha)
    if method not in _CI_METHODS:
        raise ConfigError(f"method must be one of {sorted(_CI_METHODS)}, got {method!r}")
    if cause in by_l:
        raise ConfigError(f"cause column {cause!r} cannot also be a 'by' column")
    y = _outcome_array(audits, outcome, "pareto").astype(bool)
    err = audits.loc[y, [*by_l, cause]].copy()
    err[cause] = err[cause].astype(object).where(err[cause].notna(), MISSING_LABEL)
    cols = [*by_l, cause, RANK, COUNT, S.N, SHARE, S.CI_LOW, S.CI_HIGH, CUM_SHARE]
    if err.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c in (SHARE, S.CI_LOW, S.CI_HIGH, CUM_SHARE)
                                          else "int64" if c in (RANK, COUNT, S.N) else object)
                             for c in cols})
    keys = [*by_l, cause]
    out = err.groupby(keys, dropna=False, observed=True, sort=True).size().rename(COUNT).reset_index()
    if by_l:
        out = out.sort_values([*by_l, COUNT, cause], ascending=[True] * len(by_l) + [False, True],
                              kind="mergesort").reset_index(drop=True)
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


# -------------------------------------------------------------------- drilldown
def _drill(audits: pd.DataFrame, dims: Sequence[str], outcome: str, depth: int, alpha: float,
           min_n: int, weights: str | None, nested_share: float, func: str
           ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """drilldown plus the integer codes of each slice (hidden columns ``_d1,_c1,_d2,_c2``)."""
    dims = _as_list(dims, "dims")
    if not dims:
        raise ConfigError("dims must name at least one column to drill into (e.g. [SITE, SHIFT])")
    if len(set(dims)) != len(dims):
        raise ConfigError(f"dims has duplicates: {dims}")
    if outcome in dims:
        raise ConfigError(f"the outcome column {outcome!r} cannot also be a dimension")
    if depth not in (1, 2):
        raise ConfigError(f"depth must be 1 (single dimensions) or 2 (also pairs), got {depth!r}")
    if not (isinstance(min_n, (int, np.integer)) and min_n >= 1):
        raise ConfigError(f"min_n must be a positive integer, got {min_n!r}")
    if not (0 < nested_share <= 1):
        raise ConfigError(f"nested_share must be in (0, 1], got {nested_share!r}")
    _check_alpha(alpha)
    _require_columns(audits, [outcome, *dims], func)
    y = _outcome_array(audits, outcome, func)
    w = _weight_array(audits, weights, func)
    if len(audits) == 0:
        raise EstimationError(f"rca.{func}: no audits to analyse (the frame is empty)")

    codes: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    for d in dims:
        codes[d], labels[d] = _factorize(audits[d])

    wy = None if w is None else w * y
    w2 = None if w is None else w * w
    parts = []
    specs: list[tuple[int, ...]] = [(i,) for i in range(len(dims))]
    if depth == 2:
        specs += list(itertools.combinations(range(len(dims)), 2))
    for spec in specs:
        if len(spec) == 1:
            (i,) = spec
            key, size = codes[dims[i]], len(labels[dims[i]])
        else:
            i, j = spec
            kj = len(labels[dims[j]])
            key, size = codes[dims[i]] * kj + codes[dims[j]], len(labels[dims[i]]) * kj
        n = np.bincount(key, minlength=size)
        keep = np.flatnonzero(n >= min_n)
        if keep.size == 0:
            continue
        part = {"n": n[keep], "e": np.bincount(key, weights=y, minlength=size)[keep]}
        if w is not None:
            part["W"] = np.bincount(key, weights=w, minlength=size)[keep]
            part["WE"] = np.bincount(key, weights=wy, minlength=size)[keep]
            part["W2"] = np.bincount(key, weights=w2, minlength=size)[keep]
        if len(spec) == 1:
            part["_d1"], part["_c1"] = np.full(keep.size, i), keep
            part["_d2"], part["_c2"] = np.full(keep.size, -1), np.full(keep.size, -1)
        else:
            part["_d1"], part["_c1"] = np.full(keep.size, i), keep // kj
            part["_d2"], part["_c2"] = np.full(keep.size, j), keep % kj
        parts.append(part)

    cols_out = [DIMENSION, VALUE, DEPTH, S.N] + ([N_EFF] if w is not None else []) + [
        S.ERRORS, S.ERROR_RATE, S.CI_LOW, S.CI_HIGH, REST_N, REST_RATE, LIFT, EXCESS_ERRORS,
        TEST, S.P_VALUE, S.Q_VALUE, FLAG, EXPLAINED_BY]
    hidden = ["_d1", "_c1", "_d2", "_c2"]
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in cols_out + hidden})
        return empty, codes
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    d1, c1, d2, c2 = cat["_d1"], cat["_c1"], cat["_d2"], cat["_c2"]
    is_pair = d2 >= 0

    names = np.array(dims + [""], dtype=object)
    dim_col = names[d1].copy()
    dim_col[is_pair] = names[d1[is_pair]] + PAIR_SEP + names[d2[is_pair]]
    lab = [np.array(labels[d], dtype=object) for d in dims]
    val = np.empty(len(d1), dtype=object)
    for i in range(len(dims)):
        m = d1 == i
        val[m] = lab[i][c1[m]]
    for j in range(len(dims)):
        m = d2 == j
        if m.any():
            val[m] = val[m] + PAIR_SEP + lab[j][c2[m]]

    n, e = cat["n"].astype(np.int64), cat["e"]
    N, E = len(y), float(y.sum())
    rest_n = N - n
    with np.errstate(divide="ignore", invalid="ignore"):
        if w is None:
            rate = e / n
            rest_rate = (E - e) / rest_n
            x1, n1, x2, n2 = e, n.astype(float), E - e, rest_n.astype(float)
            excess = e - n * rest_rate
        else:
            W, WE, W2 = cat["W"], cat["WE"], cat["W2"]
            Wt, WEt, W2t = float(w.sum()), float(wy.sum()), float(w2.sum())
            rate = WE / W
            rest_W = Wt - W
            rest_rate = (WEt - WE) / rest_W
            n1 = W * W / W2
            n2 = np.where(rest_W > 0, rest_W * rest_W / (W2t - W2), 0.0)
            x1, x2 = rate * n1, np.nan_to_num(rest_rate) * n2
            excess = WE - W * rest_rate
        lift = rate / rest_rate
    rest_rate = np.where(rest_n > 0, rest_rate, np.nan)
    excess = np.where(rest_n > 0, excess, np.nan)
    lift = np.where(rest_n > 0, lift, np.nan)
    lo, hi = proportion_confint(x1, n1, alpha=alpha, method="wilson")
    p, test = _slice_vs_rest(x1, n1, x2, n2)
    q = _bh(p)
    flag = (q < alpha) & (lift > 1)

    out = pd.DataFrame({DIMENSION: dim_col, VALUE: val, DEPTH: np.where(is_pair, 2, 1), S.N: n})
    if w is not None:
        out[N_EFF] = n1
    out[S.ERRORS] = np.rint(e).astype(np.int64)
    out[S.ERROR_RATE] = rate
    out[S.CI_LOW], out[S.CI_HIGH] = np.asarray(lo, float), np.asarray(hi, float)
    out[REST_N] = rest_n
    out[REST_RATE] = rest_rate
    out[LIFT] = lift
    out[EXCESS_ERRORS] = excess
    out[TEST] = test
    out[S.P_VALUE] = p
    out[S.Q_VALUE] = q
    out[FLAG] = np.asarray(flag, dtype=bool)
    out[EXPLAINED_BY] = pd.Series([None] * len(out), dtype=object)
    for k in hidden:
        out[k] = cat[k]

    if depth == 2 and is_pair.any():
        # a single slice is "explained by" a child pair that concentrates its excess errors
        if w is None:
            sW, sWE, sW2 = n.astype(float), e.astype(float), n.astype(float)
        else:
            sW, sWE, sW2 = cat["W"], cat["WE"], cat["W2"]
        tmp = pd.DataFrame({"_d1": d1, "_c1": c1, "_d2": d2, "_c2": c2, "x": excess,
                            "W": sW, "WE": sWE, "W2": sW2, "lab": out[VALUE] + " (" + out[DIMENSION] + ")"})
        pairs, single = tmp[is_pair], tmp[~is_pair]
        cols_k = ["x", "W", "WE", "W2", "lab"]
        kids = pd.concat([
            pairs[["_d1", "_c1", *cols_k]].rename(columns={"_d1": "pd", "_c1": "pc"}),
            pairs[["_d2", "_c2", *cols_k]].rename(columns={"_d2": "pd", "_c2": "pc"}),
        ], ignore_index=True)
        par = single.rename(columns={"_d1": "pd", "_c1": "pc", "x": "px", "W": "pW", "WE": "pWE", "W2": "pW2"})
        par = par[["pd", "pc", "px", "pW", "pWE", "pW2"]].reset_index().rename(columns={"index": "row"})
        kids = kids.merge(par, on=["pd", "pc"], how="inner")
        if w is None:
            total = (float(N), E, float(N))
        else:
            total = (Wt, WEt, W2t)
        kids = kids[_explains((kids["W"], kids["WE"], kids["W2"]), (kids["pW"], kids["pWE"], kids["pW2"]),
                              total, nested_share, alpha)]
        if not kids.empty:
            best = kids.sort_values(["x", "lab"], ascending=[False, True], kind="mergesort") \
                       .drop_duplicates("row")
            out.loc[best["row"].to_numpy(), EXPLAINED_BY] = best["lab"].to_numpy()

    out = out.sort_values([EXCESS_ERRORS, S.P_VALUE, DIMENSION, VALUE],
                          ascending=[False, True, True, True], na_position="last",
                          kind="mergesort").reset_index(drop=True)
    return out[cols_out + hidden], codes


def drilldown(audits: pd.DataFrame, dims: Sequence[str], outcome: str = S.IS_ERROR, depth: int = 1,
              alpha: float = 0.05, min_n: int = 30, weights: str | None = None,
              nested_share: float = 0.8) -> pd.DataFrame:
    """Test every slice of the given dimensions against the rest; rank by excess errors.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.io.audited_decisions`).
    dims : list of str
        Dimension columns, e.g. ``[VENDOR, SITE, MARKET, QUEUE, POLICY, CONTENT_TYPE,
        SHIFT, HOUR, TENURE_BAND, LANGUAGE, CHANNEL]``. Values are compared as
        labels (``hour`` 3 becomes ``"3"``); a missing value is its own slice
        ``"(missing)"`` (e.g. ``tenure_band`` of machine decisions).
    outcome : str, default IS_ERROR
        Boolean (or 0/1) column; its mean is the error rate.
    depth : {1, 2}, default 1
        1: every value of every dimension. 2: also every pair of values of two
        different dimensions (``dimension`` "site × shift", ``value``
        "Penang × night"; names in the order of ``dims``).
    alpha : float, default 0.05
        False discovery rate for ``flag`` and 1 − level of the Wilson interval.
    min_n : int, default 30
        Slices with fewer audits are left out of the table and of the
        multiple-testing family.
    weights : str, optional
        Column of design weights (e.g. WEIGHT). Rates become weighted (Hájek)
        estimates; tests and intervals use Kish effective sample sizes;
        ``excess_errors`` is then in population (weighted) units.
    nested_share : float, default 0.8
        At depth 2, a single-dimension slice (the parent) is marked
        ``explained_by`` a child pair (the parent crossed with another
        dimension) that holds at most this share of the parent's audits, has
        a significantly higher error rate than the parent's other audits, while
        those other audits are not significantly worse than the audits
        outside the parent (two-sided tests at ``alpha``): the parent's
        problem is the child, and it adds nothing the child does not already
        say. A child that is nearly the whole parent does not count. Among
        several such children the one with the most excess errors is named.

    Returns
    -------
    DataFrame
        One row per slice, sorted by ``excess_errors`` descending (impact), ties
        by p-value. Columns: ``dimension``, ``value``, ``depth`` (1 or 2), ``n``
        (audits), [``n_eff`` (Kish effective size, only with ``weights``)],
        ``errors``, ``error_rate``, ``ci_low``, ``ci_high`` (Wilson),
        ``rest_n``, ``rest_rate`` (error rate of all other audits), ``lift`` =
        error_rate / rest_rate, ``excess_errors`` = errors − n · rest_rate,
        ``test`` ("z" or "fisher"), ``p_value`` (two-sided, slice vs rest),
        ``q_value`` (Benjamini–Hochberg over every test in the table, depth 1
        and 2 together), ``flag`` (q < alpha and lift > 1), ``explained_by``
        (depth 2: the child pair that explains this slice, else None).

    Notes
    -----
    Counts are ``numpy.bincount`` over integer codes (one pass per dimension or
    pair), so 1M audits × 10 dimensions take about a second. Each slice is
    compared with the rest by the pooled two-proportion z-test
    (:func:`two_proportion_ztest`, which ``tests/test_rca.py`` checks against
    ``statsmodels.stats.proportion.proportions_ztest`` cell by cell); where a
    2×2 table has an expected count below 5 (Cochran's rule) the two-sided
    Fisher exact test is used instead: the hypergeometric sum is evaluated
    with numpy once per distinct table (scipy's ``fisher_exact`` costs
    milliseconds per call, too slow for thousands of cells) and checked
    against ``scipy.stats.fisher_exact`` to 1e-9 in the tests. q-values are
    ``statsmodels.stats.multitest.multipletests(method="fdr_bh")``, tested
    against it. Slices overlap (a site and its site × shift pairs), so the
    tests are positively dependent, a case where BH still controls the FDR [4]_.
    Slices that cover every audit have no "rest" and no test (NaN).

    References
    ----------
    .. [1] Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, §3.1, §3.5.
    .. [2] Cochran, W. G. (1954). Some methods for strengthening the common χ²
       tests. *Biometrics* 10(4), 417–451.
    .. [3] Benjamini, Y., Hochberg, Y. (1995). Controlling the false discovery
       rate. *JRSS B* 57(1), 289–300.
    .. [4] Benjamini, Y., Yekutieli, D. (2001). The control of the false
       discovery rate in multiple testing under dependency. *Ann. Statist.* 29(4), 1165–1188.
    .. [5] Kish, L. (1965). *Survey Sampling*, Wiley (effective sample size).
    .. [6] Wilson, E. B. (1927). *JASA* 22(158), 209–212.
    """
    out, _ = _drill(audits, dims, outcome, depth, alpha, min_n, weights, nested_share, "drilldown")
    return out.drop(columns=["_d1", "_c1", "_d2", "_c2"])


# ---------------------------------------------------------------- error drivers
def _design(frame: pd.DataFrame, dims: list[str], refs: dict[str, str], levels: dict[str, list[str]]
            ) -> tuple[np.ndarray, list[tuple[str, str]]]:
    cols = [np.ones(len(frame))]
    terms: list[tuple[str, str]] = []
    for d in dims:
        v = frame[d].to_numpy()
        for lv in levels[d]:
            if lv == refs[d]:
                continue
            cols.append((v == lv).astype(float))
            terms.append((d, lv))
    return np.column_stack(cols), terms


def _best_level(frame: pd.DataFrame, dim: str, weighted: bool, alpha: float) -> str:
    """The level of ``dim`` that is most confidently good: lowest upper Wilson bound of its error rate.

    ``frame`` has ``_y`` (0/1) and, if ``weighted``, ``_w``; with weights the
    rate is the Hájek ratio and n its Kish effective size. The pooled
    ``"(other)"`` level is chosen only when it is the only one. A level with
    a low rate on few audits has a high upper bound, so the reference is a
    stable one (a small level with one error would make every odds ratio
    against it huge and uninformative).
    """
    g = frame.assign(_w1=frame["_w"] if weighted else 1.0)
    g = g.assign(_wy=g["_w1"] * g["_y"], _w2=g["_w1"] ** 2).groupby(dim, sort=True)[["_w1", "_wy", "_w2"]].sum()
    n = g["_w1"] ** 2 / g["_w2"]
    rate = g["_wy"] / g["_w1"]
    upper = proportion_confint(rate * n, n, alpha=alpha, method="wilson")[1]
    cand = pd.DataFrame({"upper": np.asarray(upper, float), "rate": rate.to_numpy(float)}, index=g.index)
    if len(cand) > 1:
        cand = cand.drop(index=OTHER_LABEL, errors="ignore")
    return cand.sort_values(["upper", "rate"], kind="mergesort").index[0]


def _fit_logit(model, ridge_model, cov_type: str, alpha: float, l2: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Fit a GLM logit; if it diverges (separation), a ridge fit of ``ridge_model`` instead.

    Returns the coefficients, their Wald intervals (``(k, 2)``, NaN after the
    ridge fallback), p-values and the note to put on every estimated row.
    ``ridge_model`` has the same coefficients and likelihood as ``model``
    (it may be its grouped form).
    """
    method_note = ""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # statsmodels warns of "perfect separation" whenever fitted = observed, which a
        # saturated grouped model always does; judge divergence from the estimates instead.
        # A saturated model also has df_resid 0, which statsmodels' inner WLS divides by.
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        try:
            res = model.fit(cov_type=cov_type)
            beta = np.asarray(res.params)
            bse = np.asarray(res.bse)
            diverged = (not getattr(res, "converged", True) or not np.all(np.isfinite(bse))
                        or np.any(np.abs(beta) > _MAX_ABS_LOGIT) or np.any(bse > _MAX_SE))
        except (PerfectSeparationError, np.linalg.LinAlgError, ValueError):
            diverged = True
        if not diverged:
            ci = np.asarray(res.conf_int(alpha=alpha))
            pv = np.asarray(res.pvalues)
        else:
            pen = np.full(ridge_model.exog.shape[1], l2)
            pen[0] = 0.0
            res = ridge_model.fit_regularized(alpha=pen, L1_wt=0.0)
            beta = np.asarray(res.params)
            ci = np.full((len(beta), 2), np.nan)
            pv = np.full(len(beta), np.nan)
            method_note = (f"separation: the likelihood has no finite maximum; ridge-penalised estimate "
                           f"(l2={l2}), shrunk towards 1, no interval or p-value")
    return beta, ci, pv, method_note


def error_drivers(audits: pd.DataFrame, dims: Sequence[str], outcome: str = S.IS_ERROR,
                  reference: Mapping[str, str] | None = None, alpha: float = 0.05, min_n: int = 30,
                  l2: float = 1e-3, weights: str | None = None) -> pd.DataFrame:
    """Odds ratios of each level of each dimension, controlling for the other dimensions.

    A logistic regression ``logit P(error) = b0 + Σ_dims Σ_levels b_l · 1[level]``
    with treatment (dummy) coding, fitted by maximum likelihood with
    ``statsmodels`` GLM (Binomial family, logit link); with ``weights``, by
    survey-weighted pseudo-maximum likelihood with design-based (sandwich)
    standard errors.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.io.audited_decisions`).
    dims : list of str
        Categorical dimensions (numeric columns such as ``hour`` are treated as
        categories). Nested dimensions (site within vendor) are collinear and
        rejected: pass one of them.
    outcome : str, default IS_ERROR
        Boolean (or 0/1) column.
    reference : mapping of str to str, or "best", optional
        Reference level per dimension. Default: the largest level (most audits;
        ties by label), so every odds ratio compares a level with the bulk of the work.
        ``"best"``: per dimension, the level most confidently good, i.e. with
        the lowest upper Wilson bound of its (weighted) error rate among those
        fitted (not the pooled ``"(other)"``, not a level without errors), so
        odds ratios read "how much worse than a good, well-measured level" and
        a bad level is never hidden as the reference.
    alpha : float, default 0.05
        1 − level of the Wald intervals, and the FDR of ``flag``.
    min_n : int, default 30
        Levels with fewer audits are pooled into ``"(other)"`` before fitting.
    l2 : float, default 1e-3
        Ridge penalty for the fallback fit if the maximum-likelihood fit
        reports perfect separation.
    weights : str, optional
        Column of sampling (design) weights, ``1 / inclusion_prob`` (e.g.
        WEIGHT). Give it whenever the QA sample was drawn with unequal
        probabilities (risk-weighted oversampling): the odds ratios then
        describe all decisions, not the audited mix, and the intervals are
        design-based (see Notes). Every weight must be positive and finite.

    Returns
    -------
    DataFrame
        One row per (dimension, level), dimensions in the order given, levels by
        odds ratio descending with the reference first: ``dimension``,
        ``level``, ``n`` (audits), [``n_eff`` (Kish [9]_ effective size of
        the level's audits, only with ``weights``)], ``errors`` (audits with an
        error), ``error_rate`` (raw; with ``weights`` the weighted (Hájek)
        rate Σw·y / Σw, an estimate for all decisions of the level),
        ``odds_ratio`` (adjusted, vs the reference), ``ci_low``, ``ci_high``
        (Wald, on the odds-ratio scale; robust with ``weights``), ``p_value``
        (Wald), ``q_value`` (Benjamini–Hochberg over all non-reference
        levels), ``flag`` (q < alpha and OR > 1), ``is_reference``, ``note``
        (empty, or why a row has no interval). ``n`` and ``errors`` are
        always raw audit counts.

    Notes
    -----
    *Fitting.* Audits are first aggregated to one binomial row per observed
    combination of levels (successes, failures); the grouped fit has exactly
    the same likelihood, coefficients and standard errors as the audit-level
    fit but is much faster. ``tests/test_rca.py`` checks the odds ratios, CIs
    and p-values against a direct audit-level
    ``statsmodels.formula.api.glm("y ~ C(vendor, Treatment(...)) + ...")`` fit.

    *Sparse levels.* Levels with fewer than ``min_n`` audits are pooled into
    ``"(other)"``; a dimension left with a single level is dropped with a warning.

    *Separation.* A level whose audits are all correct (or all errors) has a
    maximum-likelihood odds ratio of exactly 0 (or ∞): quasi-complete
    separation. Such a level is reported with ``odds_ratio`` 0 (or inf), no
    interval and a ``note``, and its audits are left out of the fit, which is
    the limit of the likelihood as its coefficient diverges, so the other
    estimates are the exact MLE [3]_. If the fit still diverges (separation
    caused by a combination of levels: IRLS does not converge, a
    |log odds ratio| exceeds 15 or a standard error exceeds 50), the model is
    refitted with a small ridge penalty ``l2`` (``fit_regularized``, ``L1_wt=0``,
    intercept unpenalised): odds ratios are then shrunk estimates without
    intervals or p-values, and ``note`` says so.

    *Weights.* Without ``weights`` the fit describes the audited sample. When
    inclusion depends on something that drives errors and is not in ``dims``
    (livestreams, low model confidence, new moderators...), its odds ratios
    are biased for the population of decisions (``tests/test_rca.py``
    simulates it: an odds ratio of 5.0 in the population is 3.3 unweighted
    and 5.0 weighted, averaged over 8 samples).
    With ``weights`` the coefficients solve the weighted score equations
    Σ w_i x_i (y_i − μ_i) = 0 (pseudo-maximum likelihood [5]_, [6]_, [7]_): a GLM
    with the weights, scaled to mean 1, as ``var_weights``. ``freq_weights``
    would give the same coefficients but treat each audit as w_i observed
    decisions: statsmodels' standard errors, robust ones included, would then
    ignore the variance the unequal weights add. The covariance is the
    sandwich ``cov_type="HC0"`` [8]_, i.e. the Taylor-linearisation
    variance of Binder [5]_ for a with-replacement sample of audits,
    H⁻¹ (Σ w_i² (y_i − μ_i)² x_i x_iᵀ) H⁻¹ with H = Σ w_i μ_i (1 − μ_i) x_i x_iᵀ
    (``tests/test_rca.py`` checks statsmodels against this formula); it is
    what R's ``survey::svyglm`` reports for a design without strata, up to
    the factor n/(n−1). Clustering by stratum would be wrong: strata are not
    clusters. svyglm with strata also centres the scores z_i within each
    stratum, which removes the between-stratum part Σ_h n_h z̄_h z̄_hᵀ;
    statsmodels has no such option, so for a stratified sample these
    intervals are slightly conservative (up to the factor n_h/(n_h−1)).
    No finite-population correction is applied. Audits identical in levels, outcome and weight are merged into
    one row with ``freq_weights`` equal to their count, which leaves the
    estimates and the sandwich unchanged (tested against the audit-level
    fit). Scaling all weights by a constant changes nothing. The ridge
    fallback maximises the same weighted likelihood. Separation is judged
    on the raw counts, which weighting cannot change.

    References
    ----------
    .. [1] Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, ch. 5.
    .. [2] McCullagh, P., Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed.
    .. [3] Albert, A., Anderson, J. A. (1984). On the existence of maximum
       likelihood estimates in logistic regression models. *Biometrika* 71(1), 1–10.
    .. [4] Benjamini, Y., Hochberg, Y. (1995). *JRSS B* 57(1), 289–300.
    .. [5] Binder, D. A. (1983). On the variances of asymptotically normal
       estimators from complex surveys. *International Statistical Review*
       51(3), 279–292.
    .. [6] Skinner, C. J., Holt, D., Smith, T. M. F. (1989). *Analysis of
       Complex Surveys*, Wiley (pseudo-likelihood).
    .. [7] Lumley, T., Scott, A. J. (2017). Fitting regression models to
       survey data. *Statistical Science* 32(2), 265–278.
    .. [8] White, H. (1980). A heteroskedasticity-consistent covariance matrix
       estimator and a direct test for heteroskedasticity. *Econometrica*
       48(4), 817–838.
    .. [9] Kish, L. (1965). *Survey Sampling*, Wiley (effective sample size).
    """
    dims = _as_list(dims, "dims")
    if not dims:
        raise ConfigError("dims must name at least one column (e.g. [VENDOR, POLICY])")
    if len(set(dims)) != len(dims):
        raise ConfigError(f"dims has duplicates: {dims}")
    if outcome in dims:
        raise ConfigError(f"the outcome column {outcome!r} cannot also be a dimension")
    _check_alpha(alpha)
    if not (isinstance(min_n, (int, np.integer)) and min_n >= 1):
        raise ConfigError(f"min_n must be a positive integer, got {min_n!r}")
    if weights is not None and not isinstance(weights, str):
        raise ConfigError(f"weights must be the name of a column of design weights (e.g. {S.WEIGHT!r}), "
                          f"got {type(weights).__name__}")
    if weights is not None and (weights in dims or weights == outcome):
        raise ConfigError(f"the weights column {weights!r} cannot also be the outcome or a dimension")
    _require_columns(audits, [outcome, *dims], "error_drivers")
    best_reference = isinstance(reference, str)
    if best_reference and reference != "best":
        raise ConfigError(f"reference must be a mapping of dimension to level, or 'best'; got {reference!r}")
    reference = {} if best_reference else dict(reference or {})
    unknown = set(reference) - set(dims)
    if unknown:
        raise ConfigError(f"reference names dimension(s) not in dims: {sorted(unknown)}")
    y = _outcome_array(audits, outcome, "error_drivers")
    if len(y) == 0:
        raise EstimationError("rca.error_drivers: no audits to analyse (the frame is empty)")
    w = _weight_array(audits, weights, "error_drivers")

    # labels, with sparse levels pooled
    frame = pd.DataFrame({"_y": y})
    if w is not None:
        frame["_w"] = w
    kept: list[str] = []
    for d in dims:
        codes, labels = _factorize(audits[d])
        counts = np.bincount(codes, minlength=len(labels))
        lab = np.array(labels, dtype=object)
        sparse = counts < min_n
        if sparse.any() and sparse.sum() < len(labels):
            lab = np.where(sparse, OTHER_LABEL, lab)
        col = lab[codes]
        if len(set(col)) < 2:
            warnings.warn(f"error_drivers: dimension {d!r} has a single level after pooling levels "
                          f"with < {min_n} audits; it is left out of the model", stacklevel=2)
            continue
        if d in reference and reference[d] not in set(col):
            raise ConfigError(f"reference level {reference[d]!r} of {d!r} is not among its levels "
                              f"(after pooling levels with < {min_n} audits into {OTHER_LABEL!r})")
        frame[d] = col
        kept.append(d)
    if not kept:
        raise EstimationError("rca.error_drivers: no dimension has two or more levels to compare")

    # per-level raw counts
    level_stats = {d: frame.groupby(d, sort=True)["_y"].agg(["size", "sum"]) for d in kept}
    if w is not None:   # sums of weights, of weight x outcome and of squared weights per level
        fw = frame.assign(_wy=frame["_w"] * frame["_y"], _w2=frame["_w"] ** 2)
        level_w = {d: fw.groupby(d, sort=True)[["_w", "_wy", "_w2"]].sum() for d in kept}

    # quasi-complete separation by single levels: drop their rows, report at the boundary
    boundary: dict[tuple[str, str], tuple[float, str]] = {}
    active = np.ones(len(frame), bool)
    for _ in range(len(frame)):
        changed = False
        for d in kept:
            g = frame.loc[active].groupby(d, sort=True)["_y"].agg(["size", "sum"])
            for lv, row in g.iterrows():
                if row["sum"] == 0 or row["sum"] == row["size"]:
                    if reference.get(d) == lv:
                        raise EstimationError(
                            f"rca.error_drivers: reference level {lv!r} of {d!r} has "
                            f"{'no errors' if row['sum'] == 0 else 'only errors'}; odds ratios "
                            "against it are not finite. Choose another reference level.")
                    if g.shape[0] <= 1:
                        continue
                    zero = row["sum"] == 0
                    boundary[(d, lv)] = (0.0 if zero else np.inf,
                                         ("no errors" if zero else "only errors")
                                         + " in this level: the odds ratio is at the boundary "
                                         "(separation) and has no interval; its audits were left out of the fit")
                    active &= frame[d].to_numpy() != lv
                    changed = True
        if not changed:
            break
    fit_frame = frame.loc[active]
    if fit_frame.empty:
        raise EstimationError("rca.error_drivers: every level is all-correct or all-error; nothing to fit")

    refs: dict[str, str] = {}
    levels: dict[str, list[str]] = {}
    for d in kept:
        sizes = fit_frame.groupby(d, sort=True).size()
        levels[d] = list(sizes.index)
        if d in reference:
            refs[d] = reference[d]
        elif best_reference:
            refs[d] = _best_level(fit_frame, d, weighted=w is not None, alpha=alpha)
        else:
            refs[d] = sizes.sort_values(ascending=False, kind="mergesort").index[0]

    grouped = fit_frame.groupby(kept, sort=True)["_y"].agg(["size", "sum"]).reset_index()
    X, terms = _design(grouped, kept, refs, levels)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        for a, b in itertools.combinations(kept, 2):
            Xab, _ = _design(grouped, [a, b], refs, levels)
            if np.linalg.matrix_rank(Xab) < Xab.shape[1]:
                raise EstimationError(
                    f"rca.error_drivers: dimensions {a!r} and {b!r} are collinear (one is nested in "
                    "the other, e.g. every site belongs to one vendor); keep only one of them")
        raise EstimationError("rca.error_drivers: the dimensions are collinear; drop one of them")
    succ = grouped["sum"].to_numpy(float)
    endog = np.column_stack([succ, grouped["size"].to_numpy(float) - succ])
    if w is None:
        model = sm.GLM(endog, X, family=sm.families.Binomial())
        beta, ci, pv, method_note = _fit_logit(model, model, "nonrobust", alpha, l2)
    else:
        # pseudo-likelihood: design weights (mean 1) as var_weights, sandwich (HC0) covariance.
        # Audits identical in levels, outcome and weight are merged into one row with
        # freq_weights = their count: same estimates and same HC0 as the audit-level fit
        # (statsmodels does not square freq_weights in the sandwich), far fewer rows.
        wn = fit_frame["_w"].to_numpy(float)
        wn = wn / wn.mean()
        yw = fit_frame[kept].assign(_y=fit_frame["_y"].to_numpy(float), _wn=wn)
        comp = yw.groupby([*kept, "_y", "_wn"], sort=True).size().reset_index(name="_f")
        Xa, _ = _design(comp, kept, refs, levels)
        model = sm.GLM(comp["_y"].to_numpy(float), Xa, family=sm.families.Binomial(),
                       var_weights=comp["_wn"].to_numpy(float), freq_weights=comp["_f"].to_numpy(float))
        # the ridge fallback (no intervals) maximises the same weighted likelihood, aggregated
        # like the unweighted fit to one binomial row per cell (weighted successes, failures)
        wsum = yw.assign(_wy=wn * yw["_y"].to_numpy()).groupby(kept, sort=True)[["_wn", "_wy"]].sum().reset_index()
        Xg, _ = _design(wsum, kept, refs, levels)
        wy = wsum["_wy"].to_numpy(float)
        ridge = sm.GLM(np.column_stack([wy, np.maximum(wsum["_wn"].to_numpy(float) - wy, 0.0)]), Xg,
                       family=sm.families.Binomial())
        beta, ci, pv, method_note = _fit_logit(model, ridge, "HC0", alpha, l2)

    rows = []
    for d in kept:
        st = level_stats[d]
        rows.append({DIMENSION: d, LEVEL: refs[d], ODDS_RATIO: 1.0, S.CI_LOW: np.nan, S.CI_HIGH: np.nan,
                     S.P_VALUE: np.nan, IS_REFERENCE: True, NOTE: "reference level"})
        for lv in st.index:
            if lv == refs[d]:
                continue
            if (d, lv) in boundary:
                orv, note = boundary[(d, lv)]
                rows.append({DIMENSION: d, LEVEL: lv, ODDS_RATIO: orv, S.CI_LOW: np.nan, S.CI_HIGH: np.nan,
                             S.P_VALUE: np.nan, IS_REFERENCE: False, NOTE: note})
                continue
            k = 1 + terms.index((d, lv))
            rows.append({DIMENSION: d, LEVEL: lv, ODDS_RATIO: float(np.exp(beta[k])),
                         S.CI_LOW: float(np.exp(ci[k, 0])), S.CI_HIGH: float(np.exp(ci[k, 1])),
                         S.P_VALUE: float(pv[k]), IS_REFERENCE: False, NOTE: method_note})
    out = pd.DataFrame(rows)
    nn = np.array([level_stats[d].loc[lv, "size"] for d, lv in zip(out[DIMENSION], out[LEVEL])])
    ee = np.array([level_stats[d].loc[lv, "sum"] for d, lv in zip(out[DIMENSION], out[LEVEL])])
    out[S.N] = nn.astype(np.int64)
    out[S.ERRORS] = ee.astype(np.int64)
    out[S.ERROR_RATE] = ee / nn
    if w is not None:
        lw = np.array([level_w[d].loc[lv].to_numpy(float) for d, lv in zip(out[DIMENSION], out[LEVEL])])
        out[S.ERROR_RATE] = lw[:, 1] / lw[:, 0]
        out[N_EFF] = lw[:, 0] ** 2 / lw[:, 2]
    p = out[S.P_VALUE].to_numpy(float)
    out[S.Q_VALUE] = _bh(p)
    out[FLAG] = (out[S.Q_VALUE] < alpha) & (out[ODDS_RATIO] > 1)
    out["_dorder"] = out[DIMENSION].map({d: i for i, d in enumerate(kept)})
    out = out.sort_values(["_dorder", IS_REFERENCE, ODDS_RATIO, LEVEL], ascending=[True, False, False, True],
                          kind="mergesort").reset_index(drop=True)
    return out[[DIMENSION, LEVEL, S.N, *([N_EFF] if w is not None else []), S.ERRORS, S.ERROR_RATE,
                ODDS_RATIO, S.CI_LOW, S.CI_HIGH, S.P_VALUE, S.Q_VALUE, FLAG, IS_REFERENCE, NOTE]]


# ------------------------------------------------------------- decompose change
def _period_mask(col: pd.Series, spec: Any, name: str) -> np.ndarray:
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ConfigError(f"{name} as a tuple must be (start, end), got {spec!r}")
        lo, hi = spec
        try:
            m = (col >= lo) & (col <= hi)
        except TypeError as exc:
            raise ConfigError(f"{name} range {spec!r} cannot be compared with column "
                              f"{col.name!r} ({col.dtype}): {exc}") from None
    elif isinstance(spec, (list, set, frozenset, np.ndarray, pd.Index)):
        m = col.isin(list(spec))
    else:
        m = col == spec
    return np.asarray(m, dtype=bool)


def decompose_change(audits: pd.DataFrame, before: Any, after: Any, period_col: str = S.WEEK,
                     by: str = S.POLICY, outcome: str = S.IS_ERROR, metric: str = "error_rate",
                     alpha: float = 0.05, weights: str | None = None) -> pd.DataFrame:
    """Split the change in error rate between two periods into mix and rate effects per group.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.io.audited_decisions`).
    before, after : scalar, (start, end) tuple or list
        The two periods: a value of ``period_col``, an inclusive ``(start, end)``
        range, or a list of values. They must not overlap.
    period_col : str, default WEEK
        Column defining periods (any comparable column).
    by : str, default POLICY
        Grouping column of the decomposition (missing values form "(missing)").
    outcome : str, default IS_ERROR
        Boolean (or 0/1) error column.
    metric : {"error_rate", "accuracy"}, default "error_rate"
        Rates and effects are of the error rate or of accuracy = 1 − error rate
        (effects then change sign).
    alpha : float, default 0.05
        1 − level of the intervals.
    weights : str, optional
        Design-weight column: shares and rates become weighted; intervals and
        p-values use Kish effective counts.

    Returns
    -------
    DataFrame
        One row per group, by ``|total_effect|`` descending, then a total row
        (``group`` = "(total)", ``is_total`` True). Columns: ``dimension``
        (= ``by``), ``group``, ``n_before``, ``n_after``, ``errors_before``,
        ``errors_after``, ``share_before``, ``share_after`` (share of audits),
        ``rate_before``, ``rate_after`` (the metric), ``mix_effect``,
        ``rate_effect``, ``total_effect`` (= mix + rate, the group's
        contribution to the overall change; see Notes), ``share_of_change`` =
        total_effect / overall change, ``ci_low``, ``ci_high`` (interval of
        rate_after − rate_before: per group, and for the total row the overall
        change), ``p_value`` (two-sided test of rate_after = rate_before),
        ``is_total``.

    Notes
    -----
    With shares ``s`` and rates ``r`` of each group g in the two periods (0 =
    before, 1 = after), the overall rate is ``R = Σ s_g r_g`` and the change
    ``R1 − R0`` is split symmetrically, Kitagawa's two-factor decomposition
    [1]_ [3]_::

        rate_g = (r1_g − r0_g) · (s0_g + s1_g) / 2
        mix_g  = (s1_g − s0_g) · ((r0_g + r1_g) / 2 − (R0 + R1) / 2)
        total_effect_g = mix_g + rate_g

    The mix term is centred on the mean overall rate: since ``Σ (s1_g − s0_g)
    = 0`` this leaves the totals ``Σ mix_g`` and ``Σ rate_g`` exactly equal to
    Kitagawa's ``Σ (s1 − s0)(r0 + r1)/2`` and ``Σ (r1 − r0)(s0 + s1)/2``, and
    ``Σ total_effect_g = R1 − R0`` exactly (checked to 1e-12 on random data in
    the tests), but a group that merely grew is credited only with how far its
    rate is from the average, not with the whole rate level. This also makes
    the accuracy decomposition the exact negative of the error-rate one,
    group by group. A group present in one period only has no rate in the
    other; it is given the same rate in both periods, so its whole
    contribution is mix. The interval of a change is Newcombe's hybrid score
    interval from statsmodels ``confint_proportions_2indep(compare="diff")``
    [2]_; the p-value is the pooled two-proportion z-test (Fisher's exact
    test for small counts), as in :func:`drilldown`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"week": [1] * 10 + [2] * 10,
    ...                    "policy": ["a"] * 8 + ["b"] * 2 + ["a"] * 5 + ["b"] * 5,
    ...                    "is_error": [False] * 8 + [True, False] + [False] * 5 + [True] * 2 + [False] * 3})
    >>> dc = decompose_change(df, before=1, after=2)
    >>> print(dc[["group", "mix_effect", "rate_effect", "total_effect"]].round(3).to_string(index=False))
      group  mix_effect  rate_effect  total_effect
          b       0.090       -0.035         0.055
          a       0.045        0.000         0.045
    (total)       0.135       -0.035         0.100

    References
    ----------
    .. [1] Kitagawa, E. M. (1955). Components of a difference between two
       rates. *JASA* 50(272), 1168–1194.
    .. [2] Newcombe, R. G. (1998). Interval estimation for the difference
       between independent proportions. *Statistics in Medicine* 17, 873–890.
    .. [3] Das Gupta, P. (1993). *Standardization and Decomposition of Rates*,
       U.S. Census Bureau, P23-186.
    """
    _require_columns(audits, [period_col, by, outcome], "decompose_change")
    _check_alpha(alpha)
    if metric not in ("error_rate", "accuracy"):
        raise ConfigError(f"metric must be 'error_rate' or 'accuracy', got {metric!r}")
    y = _outcome_array(audits, outcome, "decompose_change")
    w = _weight_array(audits, weights, "decompose_change")
    m0 = _period_mask(audits[period_col], before, "before")
    m1 = _period_mask(audits[period_col], after, "after")
    if (m0 & m1).any():
        raise ConfigError(f"the before and after periods overlap ({int((m0 & m1).sum())} audits in both)")
    for m, nm, spec in ((m0, "before", before), (m1, "after", after)):
        if not m.any():
            raise EstimationError(f"rca.decompose_change: no audits in the {nm} period {spec!r} "
                                  f"of {period_col!r}")
    codes, labels = _factorize(audits[by])
    K = len(labels)
    if metric == "accuracy":
        y = 1.0 - y
    ww = np.ones(len(y)) if w is None else w

    def sums(m):
        c = codes[m]
        n = np.bincount(c, minlength=K)
        W = np.bincount(c, weights=ww[m], minlength=K)
        WY = np.bincount(c, weights=ww[m] * y[m], minlength=K)
        W2 = np.bincount(c, weights=ww[m] ** 2, minlength=K)
        ev = np.bincount(c, weights=(1.0 - y[m]) if metric == "accuracy" else y[m], minlength=K)
        return n, W, WY, W2, ev

    n0, W0, WY0, W20, e0 = sums(m0)
    n1, W1, WY1, W21, e1 = sums(m1)
    keep = (n0 + n1) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        s0, s1 = W0 / W0.sum(), W1 / W1.sum()
        r0, r1 = WY0 / W0, WY1 / W1
    r0 = np.where(n0 > 0, r0, r1)
    r1 = np.where(n1 > 0, r1, r0)
    R0, R1 = float(WY0.sum() / W0.sum()), float(WY1.sum() / W1.sum())
    mix = (s1 - s0) * ((r0 + r1) / 2.0 - (R0 + R1) / 2.0)
    rate = (r1 - r0) * (s0 + s1) / 2.0

    def eff(W, WY, W2):
        with np.errstate(divide="ignore", invalid="ignore"):
            ne = np.where(W > 0, W * W / W2, 0.0)
            return np.where(W > 0, WY / W, 0.0) * ne, ne

    x0, ne0 = eff(W0, WY0, W20)
    x1, ne1 = eff(W1, WY1, W21)
    X0, NE0 = eff(np.array([W0.sum()]), np.array([WY0.sum()]), np.array([W20.sum()]))
    X1, NE1 = eff(np.array([W1.sum()]), np.array([WY1.sum()]), np.array([W21.sum()]))
    both = (n0 > 0) & (n1 > 0)
    lo, hi = np.full(K, np.nan), np.full(K, np.nan)
    if both.any():
        lo_, hi_ = confint_proportions_2indep(x1[both], ne1[both], x0[both], ne0[both],
                                              compare="diff", alpha=alpha)
        lo[both], hi[both] = lo_, hi_
    p = np.full(K, np.nan)
    if both.any():
        p[both], _ = _slice_vs_rest(x1[both], ne1[both], x0[both], ne0[both])
    tlo, thi = confint_proportions_2indep(X1[0], NE1[0], X0[0], NE0[0], compare="diff", alpha=alpha)
    tp, _ = _slice_vs_rest(X1, NE1, X0, NE0)

    out = pd.DataFrame({
        DIMENSION: by, GROUP: np.array(labels, dtype=object), N_BEFORE: n0, N_AFTER: n1,
        ERRORS_BEFORE: np.rint(e0).astype(np.int64), ERRORS_AFTER: np.rint(e1).astype(np.int64),
        SHARE_BEFORE: s0, SHARE_AFTER: s1,
        RATE_BEFORE: np.where(n0 > 0, r0, np.nan), RATE_AFTER: np.where(n1 > 0, r1, np.nan),
        MIX_EFFECT: mix, RATE_EFFECT: rate, TOTAL_EFFECT: mix + rate,
        S.CI_LOW: lo, S.CI_HIGH: hi, S.P_VALUE: p, IS_TOTAL: False,
    })[keep]
    total_change = R1 - R0
    out = out.iloc[np.argsort(-np.abs(out[TOTAL_EFFECT].to_numpy()), kind="mergesort")]
    total = pd.DataFrame([{
        DIMENSION: by, GROUP: TOTAL_LABEL, N_BEFORE: int(n0.sum()), N_AFTER: int(n1.sum()),
        ERRORS_BEFORE: int(np.rint(e0.sum())), ERRORS_AFTER: int(np.rint(e1.sum())),
        SHARE_BEFORE: 1.0, SHARE_AFTER: 1.0, RATE_BEFORE: R0, RATE_AFTER: R1,
        MIX_EFFECT: float(mix[keep].sum()), RATE_EFFECT: float(rate[keep].sum()), TOTAL_EFFECT: total_change,
        S.CI_LOW: float(tlo), S.CI_HIGH: float(thi), S.P_VALUE: float(tp[0]), IS_TOTAL: True,
    }])
    out = pd.concat([out, total], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out.insert(out.columns.get_loc(TOTAL_EFFECT) + 1, SHARE_OF_CHANGE,
                   out[TOTAL_EFFECT] / total_change if total_change != 0 else np.nan)
    return out


# ------------------------------------------------------------- top findings
def top_findings(audits: pd.DataFrame, dims: Sequence[str], depth: int = 2, outcome: str = S.IS_ERROR,
                 cause: str = S.ROOT_CAUSE, alpha: float = 0.05, min_n: int = 30,
                 weights: str | None = None, nested_share: float = 0.8,
                 max_findings: int | None = 10, max_candidates: int = 200,
                 min_new_share: float = 0.5) -> pd.DataFrame:
    """Distinct flagged slices (no echoes, most specific first), with their dominant root cause.

    Parameters
    ----------
    audits, dims, depth, outcome, alpha, min_n, weights, nested_share
        As in :func:`drilldown`.
    cause : str, default ROOT_CAUSE
        Cause column summarised within each finding's errors (as in :func:`pareto`).
    max_findings : int or None, default 10
        Stop after this many findings (None = all).
    max_candidates : int, default 200
        Only the first flagged slices in drilldown order are considered.
    min_new_share : float, default 0.5
        A slice is listed only if at least this share of its excess errors is
        on audits not already in a finding (otherwise it is an echo).

    Returns
    -------
    DataFrame
        One row per finding, in the order they were selected, with the
        :func:`drilldown` columns plus ``marginal_excess`` (excess errors on
        its audits not in an earlier finding, against the error rate of the
        other audits not in an earlier finding), ``<cause>`` (the most frequent cause among the slice's
        errors), ``cause_share``, ``cause_ci_low``, ``cause_ci_high`` (Wilson)
        and ``cause_n`` (errors in the slice).

    Notes
    -----
    Slices overlap, so one problem shows up many times (misinformation, then
    night × misinformation, Pune × misinformation, ...), and a broad slice can
    look bad only because it contains a small bad one. Starting from the
    flagged slices that are not ``explained_by`` a child pair, findings are
    picked greedily:

    1. The audits of the findings picked so far are set aside. For every
       candidate, the *marginal excess* is its excess errors on the audits
       left, against the error rate of the other audits left (so once
       misinformation is a finding, a site is judged on its other policies,
       against the other policies). A candidate whose marginal excess is below
       ``min_new_share`` of its drilldown excess is an echo and is dropped.
    2. The candidate with the largest marginal excess is picked.
    3. It is replaced by a smaller candidate that explains it on the audits
       left, in the sense of ``nested_share`` in :func:`drilldown` (at most
       ``nested_share`` of its audits, significantly worse than the rest of
       it, while that rest is not significantly worse than the other audits
       left); repeated until no such candidate is left.

    Every number comes from :func:`drilldown` and :func:`pareto`; see their
    Notes for what they are validated against. The greedy selection is a
    heuristic for reading, not a test: ``q_value`` is the drilldown's.

    References
    ----------
    .. [1] Benjamini, Y., Hochberg, Y. (1995). *JRSS B* 57(1), 289–300.
    .. [2] Wilson, E. B. (1927). *JASA* 22(158), 209–212.
    .. [3] Bhagwan, R. et al. (2014). Adtributor: revenue debugging in
       advertising systems. *NSDI '14*, 43–55 (explanatory power and
       succinctness of root-cause slices).
    """
    _require_columns(audits, [cause], "top_findings")
    if max_findings is not None and not (isinstance(max_findings, (int, np.integer)) and max_findings >= 1):
        raise ConfigError(f"max_findings must be a positive integer or None, got {max_findings!r}")
    if not (isinstance(max_candidates, (int, np.integer)) and max_candidates >= 1):
        raise ConfigError(f"max_candidates must be a positive integer, got {max_candidates!r}")
    if not (0 < min_new_share <= 1):
        raise ConfigError(f"min_new_share must be in (0, 1], got {min_new_share!r}")
    dd, codes = _drill(audits, dims, outcome, depth, alpha, min_n, weights, nested_share, "top_findings")
    dims = _as_list(dims, "dims")
    cand = dd[dd[FLAG].astype(bool) & dd[EXPLAINED_BY].isna()].head(max_candidates)
    y = _outcome_array(audits, outcome, "top_findings")
    w = _weight_array(audits, weights, "top_findings")
    ww = np.ones(len(y)) if w is None else w
    wy = ww * y
    w2 = ww * ww
    d1, c1 = cand["_d1"].to_numpy(), cand["_c1"].to_numpy()
    d2, c2 = cand["_d2"].to_numpy(), cand["_c2"].to_numpy()
    excess = cand[EXCESS_ERRORS].to_numpy(float)
    cache: dict[int, np.ndarray] = {}
    use_cache = len(y) * len(cand) <= 50_000_000

    def mask(k: int) -> np.ndarray:
        if k in cache:
            return cache[k]
        m = codes[dims[d1[k]]] == c1[k]
        if d2[k] >= 0:
            m &= codes[dims[d2[k]]] == c2[k]
        if use_cache:
            cache[k] = m
        return m

    def marginal_excess(m: np.ndarray, tot: tuple[float, float]) -> float:
        """Excess errors on rows m (not yet covered) vs the other uncovered audits."""
        wm, wym = float(ww[m].sum()), float(wy[m].sum())
        rest_w = tot[0] - wm
        return wym - wm * ((tot[1] - wym) / rest_w) if rest_w > 0 else np.nan

    covered = np.zeros(len(y), bool)
    remaining = list(range(len(cand)))
    chosen: list[int] = []
    marginal: list[float] = []
    while remaining and (max_findings is None or len(chosen) < max_findings):
        unc = ~covered
        tot = (float(ww[unc].sum()), float(wy[unc].sum()), float(w2[unc].sum()))
        mex = {k: marginal_excess(mask(k) & unc, tot) for k in remaining}
        remaining = [k for k in remaining if mex[k] > 0 and mex[k] >= min_new_share * excess[k]]
        if not remaining:
            break
        f = max(remaining, key=lambda k: (mex[k], -k))
        improved, seen = True, {f}
        while improved:
            improved = False
            mf = mask(f) & unc
            nf = float(ww[mf].sum())
            par = (nf, float(wy[mf].sum()), float(w2[mf].sum()))
            for k in sorted(remaining, key=lambda k: (-mex[k], k)):
                if k in seen or float(ww[mask(k) & unc].sum()) >= nf:
                    continue       # only strictly smaller slices: the loop must end
                mk = mask(k) & mf
                kid = (float(ww[mk].sum()), float(wy[mk].sum()), float(w2[mk].sum()))
                if _explains(kid, par, tot, nested_share, alpha)[0]:
                    f, improved = k, True
                    seen.add(k)
                    break
        chosen.append(f)
        marginal.append(mex[f])
        covered |= mask(f)
        remaining.remove(f)

    sel = cand.iloc[chosen]
    yb = y.astype(bool)
    extra = {cause: [], CAUSE_SHARE: [], CAUSE_CI_LOW: [], CAUSE_CI_HIGH: [], CAUSE_N: []}
    for k in chosen:
        pt = pareto(audits.loc[mask(k) & yb, [cause, outcome]], cause=cause, outcome=outcome, alpha=alpha)
        if pt.empty:
            vals = (None, np.nan, np.nan, np.nan, 0)
        else:
            t = pt.iloc[0]
            vals = (t[cause], t[SHARE], t[S.CI_LOW], t[S.CI_HIGH], int(t[S.N]))
        for key, v in zip(extra, vals):
            extra[key].append(v)
    out = sel.drop(columns=["_d1", "_c1", "_d2", "_c2"]).reset_index(drop=True)
    out.insert(out.columns.get_loc(EXCESS_ERRORS) + 1, MARGINAL_EXCESS, np.asarray(marginal, float))
    for key, v in extra.items():
        out[key] = pd.Series(v, dtype=object if key == cause else ("int64" if key == CAUSE_N else float))
    return out


# -------------------------------------------------------------- summary text
def _pct(x: float, nd: int = 1) -> str:
    return f"{100 * x:.{nd}f}%"


def _pts(x: float) -> str:
    return f"{100 * x:.1f}"


def _int(x) -> str:
    return f"{int(round(float(x))):,}"


def _rate_n(rate: float, n, alpha: float, with_rate: bool = True) -> str:
    """"96.1%, 95% CI 94.2% to 97.4%, n = 542": an unweighted rate with its Wilson interval."""
    k, m = int(round(float(rate) * float(n))), int(round(float(n)))
    if m <= 0:
        return "no audits"
    lo, hi = proportion_confint(k, m, alpha=alpha, method="wilson")
    ci = f"{1 - alpha:.0%} CI {_pct(lo)} to {_pct(hi)}, n = {_int(m)}"
    return f"{_pct(rate)}, {ci}" if with_rate else ci


def _q(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _cause_name(code: str) -> str:
    try:
        from .schema import load_taxonomy
        return load_taxonomy().root_cause_names.get(code, code)
    except Exception:  # taxonomy is optional for a summary
        return str(code)


def _period_label(audits: pd.DataFrame, period_col: str, spec: Any, all_periods: list) -> str:
    vals = sorted(set(audits.loc[_period_mask(audits[period_col], spec, "period"), period_col].dropna()))
    if not vals:
        return str(spec)
    pos = [all_periods.index(v) + 1 for v in (vals[0], vals[-1])]
    unit = "week" if period_col == S.WEEK else f"{period_col}"
    if pos[0] == pos[1]:
        base = f"{unit} {pos[0]}"
    else:
        base = f"{unit}s {pos[0]}–{pos[1]}" if period_col == S.WEEK else f"{unit} {pos[0]}–{pos[1]} (of {len(all_periods)})"
    if period_col == S.WEEK:
        return f"{base} ({_fmt_label(vals[0])} to {_fmt_label(vals[-1])})"
    return base


def summary_text(audits: pd.DataFrame, unit_label: str = "all audited decisions",
                 dims: Sequence[str] | None = None, before: Any = None, after: Any = None,
                 period_col: str = S.WEEK, by: str | None = None, depth: int = 1,
                 outcome: str = S.IS_ERROR, cause: str = S.ROOT_CAUSE, alpha: float = 0.05,
                 min_n: int = 30, weights: str | None = None) -> str:
    """A short generated paragraph: level, change, where it comes from, biggest slice, root cause.

    With ``weights`` (e.g. ``"weight"``) the opening accuracy is the design-weighted
    estimate of :func:`modqa_lib.scoring.accuracy_table` (so it matches the
    report's headline); the comparisons that follow are on the audited sample.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame, already restricted to the unit described.
    unit_label : str, default "all audited decisions"
        How the unit is named in the text ("Penang", "Vendor B", "market ID").
    dims : list of str, optional
        Dimensions for the drilldown and the change attribution; default the
        usual ones present in ``audits`` (vendor, site, market, policy,
        content type, shift, tenure band, channel) with two or more values.
    before, after : optional
        Periods of ``period_col`` (as in :func:`decompose_change`). Default:
        the first and the second half of the periods present.
    period_col : str, default WEEK
    by : str, optional
        Attribution dimension of the change. Default: the dimension of
        ``dims`` whose group contributes most out of proportion to its size
        (share of the change minus share of audits). A group is named only if
        that difference is at least 20 points and its own change is
        detectable (the CI of its accuracy change excludes 0, or for a mix
        effect its share of audits changed at p < alpha); otherwise the change
        is described as spread over the groups of the first dimension.
    depth : {1, 2}, default 1
        Drilldown depth for the "largest excess" sentence. Depth 2 tests many
        more slices, which costs power on the few hundred audits of one site.
    outcome, cause, alpha, min_n
        As in :func:`drilldown` and :func:`pareto`.

    Returns
    -------
    str
        Plain text (escape it before rendering as HTML or Markdown). Every
        number carries its n or its confidence interval.

    Notes
    -----
    Generated from :func:`decompose_change`, :func:`top_findings` (i.e.
    :func:`drilldown` and :func:`pareto`) and a Wilson interval on overall
    accuracy; no number is typed by hand. A change whose interval includes 0 is
    reported as not detectable and not attributed.

    References
    ----------
    .. [1] Kitagawa, E. M. (1955). *JASA* 50(272), 1168–1194.
    .. [2] Benjamini, Y., Hochberg, Y. (1995). *JRSS B* 57(1), 289–300.
    .. [3] Wilson, E. B. (1927). *JASA* 22(158), 209–212.
    """
    _require_columns(audits, [outcome], "summary_text")
    _check_alpha(alpha)
    y = _outcome_array(audits, outcome, "summary_text")
    n = len(y)
    if n == 0:
        return f"No audits for {unit_label}."
    conf = f"{100 * (1 - alpha):.0f}%"
    if weights is not None and outcome == S.IS_ERROR:
        from .scoring import accuracy_table

        row = accuracy_table(audits, weights=weights, alpha=alpha).iloc[0]
        acc, lo, hi, kind = row[S.ACCURACY], row[S.CI_LOW], row[S.CI_HIGH], "design-weighted accuracy"
    else:
        acc = 1 - y.mean()
        lo, hi = proportion_confint(n - y.sum(), n, alpha=alpha, method="wilson")
        kind = "accuracy"
    parts = [f"The {kind} for {unit_label} was {_pct(acc)} ({conf} CI {_pct(lo)} to {_pct(hi)}; "
             f"n = {_int(n)} audits)."]
    if dims is None:
        cand = [S.VENDOR, S.SITE, S.MARKET, S.POLICY, S.CONTENT_TYPE, S.SHIFT, S.TENURE_BAND, S.CHANNEL]
        dims = [d for d in cand if d in audits.columns and audits[d].nunique(dropna=False) > 1]
    else:
        dims = _as_list(dims, "dims")
        _require_columns(audits, dims, "summary_text")

    # change between periods
    if period_col in audits.columns:
        periods = sorted(audits[period_col].dropna().unique())
        if before is None and after is None and len(periods) >= 2:
            h = len(periods) // 2
            before, after = (periods[0], periods[h - 1]), (periods[h], periods[-1])
        if before is not None and after is not None:
            cand_by = [by] if by is not None else [d for d in dims if d != period_col]
            if not cand_by:
                cand_by = [period_col]
            decs = [decompose_change(audits, before, after, period_col=period_col, by=d, outcome=outcome,
                                     metric="accuracy", alpha=alpha) for d in cand_by]
            tot = decs[0][decs[0][IS_TOTAL]].iloc[0]
            lab0 = _period_label(audits, period_col, before, periods)
            lab1 = _period_label(audits, period_col, after, periods)
            ch = float(tot[TOTAL_EFFECT])
            span = (f"from {lab0} ({_rate_n(tot[RATE_BEFORE], tot[N_BEFORE], alpha)}) "
                    f"to {lab1} ({_rate_n(tot[RATE_AFTER], tot[N_AFTER], alpha)})")
            if not (tot[S.CI_LOW] > 0 or tot[S.CI_HIGH] < 0):
                parts.append(f"Accuracy did not change detectably {span}: {'+' if ch >= 0 else '-'}"
                             f"{_pts(abs(ch))} pts ({conf} CI {_pts(tot[S.CI_LOW])} to {_pts(tot[S.CI_HIGH])}).")
            else:
                sign = 1.0 if ch > 0 else -1.0
                lo_, hi_ = sorted((sign * tot[S.CI_LOW], sign * tot[S.CI_HIGH]))
                noun = "rise" if ch > 0 else "fall"
                s = (f"Accuracy {'rose' if ch > 0 else 'fell'} {_pts(abs(ch))} pts ({conf} CI {_pts(lo_)} to "
                     f"{_pts(hi_)}) {span}")
                # the dimension with the most disproportionate contributor; a group qualifies only
                # if its own change is detectable (rate: CI of its accuracy change excludes 0;
                # mix: its share of audits changed, two-proportion test p < alpha)
                best = None
                for dc in decs:
                    grp = dc[~dc[IS_TOTAL]]
                    if grp.empty:
                        continue
                    n0, n1 = float(grp[N_BEFORE].sum()), float(grp[N_AFTER].sum())
                    _, p_mix = two_proportion_ztest(grp[N_AFTER], n1, grp[N_BEFORE], n0)
                    rate_dom = grp[RATE_EFFECT].abs() >= grp[MIX_EFFECT].abs()
                    detect = np.where(rate_dom, (grp[S.CI_LOW] > 0) | (grp[S.CI_HIGH] < 0), p_mix < alpha)
                    conc = grp[SHARE_OF_CHANGE] - (grp[SHARE_BEFORE] + grp[SHARE_AFTER]) / 2
                    ok = detect & (grp[SHARE_OF_CHANGE] > 0).to_numpy() & (conc >= _SUMMARY_MIN_CONCENTRATION).to_numpy()
                    if ok.any():
                        i = conc[ok].idxmax()
                        if best is None or conc[i] > best[2]:
                            best = (dc, grp.loc[i], float(conc[i]))
                dc, g = (best[0], best[1]) if best is not None else (decs[0], None)
                t = dc[dc[IS_TOTAL]].iloc[0]
                kind = "rate" if abs(t[RATE_EFFECT]) >= abs(t[MIX_EFFECT]) else "mix"
                d = t[DIMENSION]
                s += (f"; it is mostly a {kind} effect "
                      + ("(accuracy changed within groups" if kind == "rate" else "(the mix of audits changed")
                      + f" of {d})")
                if g is not None:
                    gs = float(g[SHARE_OF_CHANGE])
                    share_txt = f"{_pct(gs, 0)} of the {noun}" if gs <= 1 else f"more than the whole {noun}"
                    if abs(g[RATE_EFFECT]) >= abs(g[MIX_EFFECT]):
                        detail = (f"its accuracy went from {_pct(g[RATE_BEFORE])} "
                                  f"({_rate_n(g[RATE_BEFORE], g[N_BEFORE], alpha, with_rate=False)}) "
                                  f"to {_pct(g[RATE_AFTER])} "
                                  f"({_rate_n(g[RATE_AFTER], g[N_AFTER], alpha, with_rate=False)})")
                    else:
                        detail = (f"its share of audits went from {_pct(g[SHARE_BEFORE])} "
                                  f"(n = {_int(g[N_BEFORE])}) to {_pct(g[SHARE_AFTER])} "
                                  f"(n = {_int(g[N_AFTER])})")
                    s += f"; {share_txt} is {d} {g[GROUP]} ({detail})"
                else:
                    s += f", spread over the {d} groups with no single group standing out"
                parts.append(s + ".")

    # biggest slice and its root cause
    if dims:
        has_cause = cause in audits.columns
        dep = depth if len(dims) > 1 else 1
        frame = audits if has_cause else audits[[outcome, *dims]].assign(**{cause: None})
        tf = top_findings(frame, dims, depth=dep, outcome=outcome, cause=cause, alpha=alpha,
                          min_n=min_n, max_findings=1)
        if tf.empty:
            dd = drilldown(audits, dims, outcome=outcome, depth=dep, alpha=alpha, min_n=min_n)
            k = int(dd[S.P_VALUE].notna().sum())
            parts.append(f"No slice of {', '.join(dims)} has an error rate above the rest after "
                         f"Benjamini–Hochberg control (q < {alpha:g}, {k} tests"
                         f"{' of single values and pairs' if dep == 2 else ''}).")
            if has_cause and y.sum() > 0:
                pt = pareto(audits, cause=cause, outcome=outcome, alpha=alpha)
                t = pt.iloc[0]
                parts.append(f"Root cause of errors mostly {_cause_name(t[cause])} ({_pct(t[SHARE], 0)}, "
                             f"{conf} CI {_pct(t[S.CI_LOW], 0)} to {_pct(t[S.CI_HIGH], 0)}, "
                             f"of n = {_int(t[S.N])} errors).")
        else:
            t = tf.iloc[0]
            s = (f"Largest excess: {t[VALUE]} ({t[DIMENSION]}), error rate {_pct(t[S.ERROR_RATE])} "
                 f"({conf} CI {_pct(t[S.CI_LOW])} to {_pct(t[S.CI_HIGH])}; n = {_int(t[S.N])}) vs "
                 f"{_pct(t[REST_RATE])} elsewhere (n = {_int(t[REST_N])}), about {_int(t[EXCESS_ERRORS])} "
                 f"excess errors ({_q(t[S.Q_VALUE])})")
            if has_cause and t[CAUSE_N] > 0 and t[cause] is not None:
                s += (f"; root cause mostly {_cause_name(t[cause])} ({_pct(t[CAUSE_SHARE], 0)}, "
                      f"{conf} CI {_pct(t[CAUSE_CI_LOW], 0)} to {_pct(t[CAUSE_CI_HIGH], 0)}, "
                      f"of n = {_int(t[CAUSE_N])} errors)")
            parts.append(s + ".")
    return " ".join(parts)
