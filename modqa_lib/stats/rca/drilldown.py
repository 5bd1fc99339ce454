"""Drill-down: slices whose error rate differs from the rest, and what explains them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, bh_qvalues, check_alpha, require_columns
from modqa_lib.errors import ConfigError, EstimationError
from modqa_lib.stats.rca._common import (
    DEPTH,
    DIMENSION,
    EXCESS_ERRORS,
    EXPLAINED_BY,
    FLAG,
    LIFT,
    N_EFF,
    PAIR_SEP,
    REST_N,
    REST_RATE,
    TEST,
    VALUE,
    _explains,
    _factorize,
    _outcome_array,
    _slice_vs_rest,
    _weight_array,
)


# -------------------------------------------------------------------- drilldown
def _drill(
    audits: pd.DataFrame,
    dims: Sequence[str],
    outcome: str,
    depth: int,
    alpha: float,
    min_n: int,
    weights: str | None,
    nested_share: float,
    func: str,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """drilldown plus the integer codes of each slice (hidden columns ``_d1,_c1,_d2,_c2``)."""
    dims = as_columns(dims, "dims")
    _check_drill_args(audits, dims, outcome, depth, alpha, min_n, nested_share, func)
    y = _outcome_array(audits, outcome, func)
    w = _weight_array(audits, weights, func)
    if len(audits) == 0:
        raise EstimationError(f"rca.{func}: no audits to analyse (the frame is empty)")
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    for d in dims:
        codes[d], labels[d] = _factorize(audits[d])
    parts = _slice_counts(dims, codes, labels, y, w, depth, min_n)
    cols_out = [DIMENSION, VALUE, DEPTH, S.N, *([N_EFF] if w is not None else []), *_DRILL_COLS]
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in cols_out + _HIDDEN})
        return empty, codes
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out, totals = _slice_tests(cat, dims, labels, y, w, alpha)
    if depth == 2 and (cat["_d2"] >= 0).any():
        _mark_explained(out, cat, w is not None, totals, nested_share, alpha)
    out = out.sort_values(
        [EXCESS_ERRORS, S.P_VALUE, DIMENSION, VALUE],
        ascending=[False, True, True, True],
        na_position="last",
        kind="mergesort",
    ).reset_index(drop=True)
    return out[cols_out + _HIDDEN], codes


_DRILL_COLS = [
    S.ERRORS,
    S.ERROR_RATE,
    S.CI_LOW,
    S.CI_HIGH,
    REST_N,
    REST_RATE,
    LIFT,
    EXCESS_ERRORS,
    TEST,
    S.P_VALUE,
    S.Q_VALUE,
    FLAG,
    EXPLAINED_BY,
]
_HIDDEN = ["_d1", "_c1", "_d2", "_c2"]


def _check_drill_args(audits, dims, outcome, depth, alpha, min_n, nested_share, func) -> None:
    """Validate the drill-down arguments (specific exceptions, one actionable line each)."""
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
    check_alpha(alpha)
    require_columns(audits, [outcome, *dims], f"rca.{func}")


def _slice_counts(dims, codes, labels, y, w, depth, min_n) -> list[dict[str, np.ndarray]]:
    """Per slice (each value, and at depth 2 each pair of values) with ≥ min_n audits: counts, weighted
    sums and the codes of its dimension(s) and value(s)."""
    wy = None if w is None else w * y
    w2 = None if w is None else w * w
    parts = []
    specs: list[tuple[int, ...]] = [(i,) for i in range(len(dims))]
    if depth == 2:
        specs += list(itertools.combinations(range(len(dims)), 2))
    for spec in specs:
        i = spec[0]
        if len(spec) == 1:
            key, size, kj = codes[dims[i]], len(labels[dims[i]]), 1
        else:
            j = spec[1]
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
        part["_d1"], part["_c1"] = np.full(keep.size, i), keep // kj
        if len(spec) == 1:
            part["_d2"], part["_c2"] = np.full(keep.size, -1), np.full(keep.size, -1)
        else:
            part["_d2"], part["_c2"] = np.full(keep.size, spec[1]), keep % kj
        parts.append(part)
    return parts


def _slice_labels(cat, dims, labels) -> tuple[np.ndarray, np.ndarray]:
    """The ``dimension`` ("site × shift") and ``value`` ("Penang × night") of every slice."""
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
    return dim_col, val


def _slice_tests(cat, dims, labels, y, w, alpha) -> tuple[pd.DataFrame, tuple[float, float, float]]:
    """Rates, Wilson intervals, slice-vs-rest tests, BH q-values and flags; also the totals (Σw, Σwy, Σw²)."""
    dim_col, val = _slice_labels(cat, dims, labels)
    is_pair = cat["_d2"] >= 0
    n, e = cat["n"].astype(np.int64), cat["e"]
    N, E = len(y), float(y.sum())
    rest_n = N - n
    with np.errstate(divide="ignore", invalid="ignore"):
        if w is None:
            totals = (float(N), E, float(N))
            rate = e / n
            rest_rate = (E - e) / rest_n
            x1, n1, x2, n2 = e, n.astype(float), E - e, rest_n.astype(float)
            excess = e - n * rest_rate
        else:
            W, WE, W2 = cat["W"], cat["WE"], cat["W2"]
            totals = (float(w.sum()), float((w * y).sum()), float((w * w).sum()))
            Wt, WEt, W2t = totals
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
    q = bh_qvalues(p)
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
    out[FLAG] = np.asarray((q < alpha) & (lift > 1), dtype=bool)
    out[EXPLAINED_BY] = pd.Series([None] * len(out), dtype=object)
    for k in _HIDDEN:
        out[k] = cat[k]
    return out, totals


def _mark_explained(out, cat, weighted, totals, nested_share, alpha) -> None:
    """Set ``explained_by`` (in place) of a single slice whose excess a child pair concentrates."""
    if weighted:
        sW, sWE, sW2 = cat["W"], cat["WE"], cat["W2"]
    else:
        sW, sWE, sW2 = cat["n"].astype(float), cat["e"].astype(float), cat["n"].astype(float)
    is_pair = cat["_d2"] >= 0
    tmp = pd.DataFrame(
        {
            "_d1": cat["_d1"],
            "_c1": cat["_c1"],
            "_d2": cat["_d2"],
            "_c2": cat["_c2"],
            "x": out[EXCESS_ERRORS].to_numpy(),
            "W": sW,
            "WE": sWE,
            "W2": sW2,
            "lab": out[VALUE] + " (" + out[DIMENSION] + ")",
        }
    )
    pairs, single = tmp[is_pair], tmp[~is_pair]
    cols_k = ["x", "W", "WE", "W2", "lab"]
    kids = pd.concat(
        [
            pairs[["_d1", "_c1", *cols_k]].rename(columns={"_d1": "pd", "_c1": "pc"}),
            pairs[["_d2", "_c2", *cols_k]].rename(columns={"_d2": "pd", "_c2": "pc"}),
        ],
        ignore_index=True,
    )
    par = single.rename(columns={"_d1": "pd", "_c1": "pc", "x": "px", "W": "pW", "WE": "pWE", "W2": "pW2"})
    par = par[["pd", "pc", "px", "pW", "pWE", "pW2"]].reset_index().rename(columns={"index": "row"})
    kids = kids.merge(par, on=["pd", "pc"], how="inner")
    kids = kids[
        _explains(
            (kids["W"], kids["WE"], kids["W2"]), (kids["pW"], kids["pWE"], kids["pW2"]), totals, nested_share, alpha
        )
    ]
    if not kids.empty:
        best = kids.sort_values(["x", "lab"], ascending=[False, True], kind="mergesort").drop_duplicates("row")
        out.loc[best["row"].to_numpy(), EXPLAINED_BY] = best["lab"].to_numpy()


def drilldown(
    audits: pd.DataFrame,
    dims: Sequence[str],
    outcome: str = S.IS_ERROR,
    depth: int = 1,
    alpha: float = 0.05,
    min_n: int = 30,
    weights: str | None = None,
    nested_share: float = 0.8,
) -> pd.DataFrame:
    """Test every slice of the given dimensions against the rest; rank by excess errors.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.data.io.audited_decisions`).
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
