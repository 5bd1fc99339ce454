"""The scoring core: interval methods, design weights and strata, :func:`proportion_ci` and the ratio estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, check_alpha, require_columns
from modqa_lib.errors import EstimationError

__all__ = [
    "CI_METHODS",
    "DEFAULT_SEVERITY_WEIGHTS",
    "STATUS_AT_RISK",
    "STATUS_MET",
    "STATUS_MISSED",
    "bool_column",
    "check_nonempty",
    "design_weights",
    "interval_method",
    "proportion_ci",
    "ratio_estimates",
]


#: Interval methods accepted by :func:`proportion_ci` and the scoring functions,
#: mapped to the name :func:`statsmodels.stats.proportion.proportion_confint` uses.
CI_METHODS: dict[str, str] = {
    "wilson": "wilson",
    "clopper-pearson": "beta",
    "beta": "beta",
    "agresti-coull": "agresti_coull",
    "agresti_coull": "agresti_coull",
    "jeffreys": "jeffreys",
}

#: Penalty points per error severity used by :func:`severity_table`.
DEFAULT_SEVERITY_WEIGHTS: dict[str, float] = {"critical": 5.0, "major": 2.0, "minor": 1.0}

STATUS_MET = "met"
STATUS_AT_RISK = "at risk"
STATUS_MISSED = "missed"


# ============================================================== small helpers
def check_nonempty(frame: pd.DataFrame, what: str = "audits") -> None:
    """Raise :class:`~modqa_lib.errors.EstimationError` when there is nothing to score.

    Parameters
    ----------
    frame : DataFrame
    what : str, default "audits"
        What the rows are, as the message names them.

    Returns
    -------
    None
    """
    if len(frame) == 0:
        raise EstimationError(f"no {what} to score: the frame is empty (check the period and filters)")


def interval_method(method: str) -> str:
    """The statsmodels name of an interval method (see :data:`CI_METHODS`).

    Parameters
    ----------
    method : {"wilson", "clopper-pearson", "beta", "agresti-coull", "jeffreys"}

    Returns
    -------
    str
        The ``method`` argument of :func:`statsmodels.stats.proportion.proportion_confint`.

    Raises
    ------
    EstimationError
        Unknown method.
    """
    try:
        return CI_METHODS[method]
    except (KeyError, TypeError):
        raise EstimationError(
            f"unknown interval method {method!r}; use one of {sorted(k for k in CI_METHODS if '_' not in k)}"
        ) from None


def bool_column(frame: pd.DataFrame, col: str) -> np.ndarray:
    """A boolean audit column as a numpy array; a clear error on missing or non-boolean values."""
    s = frame[col]
    if s.isna().any():
        bad = int(s.isna().sum())
        raise EstimationError(
            f"column '{col}' has {bad} missing value(s); every audit needs "
            f"{col} true or false (re-run ingest validation)"
        )
    if s.dtype == bool:
        return s.to_numpy()
    vals = set(pd.unique(s))
    if vals <= {True, False}:
        return s.astype(bool).to_numpy()
    raise EstimationError(f"column '{col}' must be boolean (true/false), found values {sorted(map(str, vals))[:5]}")


def _groups(frame: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer group code per row and the key frame (one row per observed group, sorted)."""
    if not by:
        return np.zeros(len(frame), dtype=np.int64), pd.DataFrame(index=range(1 if len(frame) else 0))
    g = frame.groupby(by, dropna=False, observed=True, sort=True)
    codes = g.ngroup().to_numpy()
    keys = g.size().index.to_frame(index=False)
    keys.columns = by
    return codes.astype(np.int64), keys


def design_weights(frame: pd.DataFrame, weights) -> np.ndarray | None:
    """Validated design weights as a float array, or None when unweighted.

    Parameters
    ----------
    frame : DataFrame
    weights : None, bool or str
        None/False: unweighted; True: the ``weight`` column; a string: that column.

    Returns
    -------
    ndarray or None
        One positive, finite weight per row.

    Raises
    ------
    EstimationError
        The column is missing, not numeric, or has a missing, zero or negative weight.
    """
    if weights is None or weights is False:
        return None
    col = S.WEIGHT if weights is True else weights
    if not isinstance(col, str):
        raise EstimationError(
            f"weights must be None or the name of a weight column (e.g. '{S.WEIGHT}'), got {type(weights).__name__}"
        )
    if col not in frame.columns:
        raise EstimationError(
            f"weights column '{col}' not found; pass weights=None for an "
            f"unweighted estimate or add design weights (1 / {S.INCLUSION_PROB})"
        )
    s = frame[col]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise EstimationError(f"weights column '{col}' must be numeric, got dtype {s.dtype}")
    w = s.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        ids = (
            frame.loc[bad, S.AUDIT_ID].astype(str).head(5).tolist()
            if S.AUDIT_ID in frame.columns
            else np.flatnonzero(bad)[:5].tolist()
        )
        raise EstimationError(
            f"weights column '{col}': {int(bad.sum())} audit(s) have a missing, infinite, zero or "
            f"negative weight (e.g. {', '.join(map(str, ids))}); design weights must be "
            f"1 / {S.INCLUSION_PROB} > 0: fix the sample plan or drop these audits"
        )
    return w


def _strata(frame: pd.DataFrame, strata) -> np.ndarray:
    """Stratum code per row (one stratum when ``strata`` is None)."""
    if strata is None:
        return np.zeros(len(frame), dtype=np.int64)
    if strata not in frame.columns:
        raise EstimationError(
            f"strata column '{strata}' not found; pass strata=None to treat the sample as a single stratum"
        )
    s = frame[strata]
    if s.isna().any():
        raise EstimationError(
            f"strata column '{strata}' has {int(s.isna().sum())} missing value(s); "
            "every audit must belong to a sampling stratum"
        )
    return pd.factorize(s)[0].astype(np.int64)


# ============================================================== intervals
def proportion_ci(k, n, alpha: float = 0.05, method: str = "wilson"):
    """Confidence interval for a binomial proportion ``k / n``, vectorised.

    Parameters
    ----------
    k : int, float or array_like
        Successes. May be non-integer (an effective count, see :func:`ratio_estimates`).
    n : int, float or array_like
        Trials, broadcast against ``k``. ``n == 0`` gives NaN bounds.
    alpha : float, default 0.05
        1 - confidence level (two-sided).
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}
        "clopper-pearson" is the exact interval (statsmodels' ``"beta"``; ``"beta"``
        and ``"agresti_coull"`` are accepted as aliases).

    Returns
    -------
    ci_low, ci_high : float or ndarray
        Floats for scalar input, arrays otherwise. NaN where ``n == 0``: callers must
        drop or flag such groups, never show them in a report. Bounds lie in [0, 1].

    Raises
    ------
    EstimationError
        Negative counts, ``k > n``, or an unknown method.

    Notes
    -----
    A thin wrapper of :func:`statsmodels.stats.proportion.proportion_confint`
    that adds the ``n == 0`` case and input checks. Tested to equal statsmodels
    for several ``(k, n)`` including ``k = 0`` and ``k = n``, and to reproduce
    Newcombe (1998), Table I (Wilson and exact intervals), stored in
    ``tests/results/scoring_newcombe1998.csv``. Jeffreys bounds are statsmodels'
    equal-tailed interval with the boundary modification of Brown, Cai and
    DasGupta (2001) [4]_: lower bound 0 when ``k = 0`` and upper bound 1 when
    ``k = n`` (otherwise the interval would exclude the estimate).

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. JASA 22, 209-212.
    .. [2] Clopper, C. J., Pearson, E. S. (1934). The use of confidence or fiducial
       limits illustrated in the case of the binomial. Biometrika 26, 404-413.
    .. [3] Agresti, A., Coull, B. A. (1998). Approximate is better than "exact" for
       interval estimation of binomial proportions. Am. Stat. 52, 119-126.
    .. [4] Brown, L. D., Cai, T. T., DasGupta, A. (2001). Interval estimation for a
       binomial proportion. Statistical Science 16, 101-133.
    .. [5] Newcombe, R. G. (1998). Two-sided confidence intervals for the single
       proportion: comparison of seven methods. Stat. Med. 17, 857-872.

    Examples
    --------
    >>> lo, hi = proportion_ci(81, 263)
    >>> round(lo, 4), round(hi, 4)
    (0.2553, 0.3662)
    """
    sm_method = interval_method(method)
    alpha = check_alpha(alpha)
    scalar = np.ndim(k) == 0 and np.ndim(n) == 0
    k_a, n_a = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(n, dtype=float))
    if np.isnan(k_a).any() or np.isnan(n_a).any():
        raise EstimationError("proportion_ci: counts must not be missing")
    if (k_a < 0).any() or (n_a < 0).any():
        raise EstimationError("proportion_ci: counts must be non-negative")
    if (k_a > n_a * (1 + 1e-12) + 1e-9).any():
        raise EstimationError("proportion_ci: successes k exceed trials n")
    k_a = np.minimum(k_a, n_a)
    lo = np.full(k_a.shape, np.nan)
    hi = np.full(k_a.shape, np.nan)
    ok = n_a > 0
    if ok.any():
        lo_ok, hi_ok = proportion_confint(k_a[ok], n_a[ok], alpha=alpha, method=sm_method)
        lo[ok] = np.clip(lo_ok, 0.0, 1.0)
        hi[ok] = np.clip(hi_ok, 0.0, 1.0)
        # k = 0 and k = n: exact 0 / 1 bounds (Wilson and Agresti-Coull reach them only up to
        # rounding; Jeffreys needs the Brown-Cai-DasGupta boundary modification, section 4.1.2)
        lo[ok & (k_a <= 0)] = 0.0
        hi[ok & (k_a >= n_a)] = 1.0
    if scalar:
        return float(lo.reshape(-1)[0]), float(hi.reshape(-1)[0])
    return lo, hi


# ============================================================== the estimator
#: ratio_estimates(cap_n_eff=False): audits needed on each side of the ratio to credit a design effect < 1
_MIN_STABLE = 10


def ratio_estimates(
    frame: pd.DataFrame,
    numerator,
    denominator=None,
    by=None,
    weights=None,
    strata=S.STRATUM,
    mask=None,
    alpha: float = 0.05,
    method: str = "wilson",
    binomial: bool = True,
    cap_n_eff: bool = True,
) -> pd.DataFrame:
    """Per-group ratio ``sum(w * y) / sum(w * x)`` with a design-based interval.

    The workhorse behind accuracy, precision, recall and override rates: ``y`` is
    the numerator value and ``x`` the denominator value of each audit (for a
    proportion, 0/1 indicators with ``y <= x``).

    Parameters
    ----------
    frame : DataFrame
        The whole audited sample (the design): stratum sizes are counted on every row.
    numerator, denominator : str or array_like
        Column names or arrays aligned with ``frame``; ``denominator=None`` means 1 for
        every row (a mean).
    by : str or list of str, optional
        Grouping columns; None or [] gives one overall row.
    weights : None or str, default None
        Design-weight column (e.g. ``"weight"``); None treats every audit alike.
    strata : str or None, default "stratum"
        Stratum column for the variance (weighted only); None means one stratum.
    mask : array_like of bool, optional
        Rows to estimate on (a domain). Rows outside still count in the stratum sizes,
        as in domain estimation.
    alpha : float, default 0.05
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}
    binomial : bool, default True
        True when ``y`` and ``x`` are 0/1 with ``y <= x`` (a proportion). Unweighted
        proportions then use the plain binomial interval on the counts; anything else
        (weighted, or a non-binomial ratio such as F1) uses the linearised variance.
    cap_n_eff : bool, default True
        Truncate the effective sample size at ``n`` (no credit for a design
        effect below 1). False credits it where the variance estimate is
        stable (≥ 10 audits on each side of the ratio): model metrics from a
        score-band-stratified sample (:func:`modqa_lib.stats.model_eval.model_metrics`).

    Returns
    -------
    DataFrame
        One row per group whose denominator is positive (groups with an empty
        denominator are left out, never returned as NaN rows): the ``by`` columns,
        ``n`` (rows with ``x > 0``), ``numerator`` (unweighted sum of ``y``),
        ``estimate``, ``se``, ``n_eff``, ``deff``, ``ci_low``, ``ci_high`` and, when
        weighted, ``weight_sum`` (sum of ``w * x``) and ``max_weight_share`` (the
        largest single ``w * x`` over ``weight_sum``: how much of the estimate one
        unit carries; Kish's ``n_eff`` collapses towards 1 as it nears 1).

    Notes
    -----
    *Point estimate.* The Hajek ratio estimator ``R = sum(w y) / sum(w x)`` [1]_.

    *Variance.* Taylor linearisation [1]_ [2]_: with ``z_i = w_i (y_i - R x_i) / sum(w x)``
    for rows in the group and 0 elsewhere, ``V = sum_h n_h/(n_h-1) sum_i (z_hi - zbar_h)^2``
    over strata ``h``, with ``n_h`` the sample size of stratum ``h`` in the whole
    ``frame`` (domain estimation). This is the with-replacement (no finite-population
    correction) approximation that R's ``survey::svymean`` / ``svyratio`` use for a
    stratified one-stage design, so it is conservative for Poisson sampling without
    replacement. A stratum with a single sampled audit contributes ``z_i^2``
    (R's ``survey.lonely.psu = "adjust"``).

    *Interval.* Korn and Graubard (1998) [3]_: the effective sample size
    ``n_eff = R (1 - R) / V``, truncated at ``n`` (design effect below 1 is not
    credited, as in the NCHS standards [4]_; with ``cap_n_eff=False`` it is
    credited wherever the variance estimate is stable, i.e. the group has at
    least 10 audits on each side of the ratio, so a score-band-stratified
    sample gets its real precision), multiplied by
    ``(t_{n-1} / t_{df})^2`` with ``df = n - (number of strata in the group)``, and
    the chosen binomial interval on ``(R n_eff, n_eff)``. When ``R`` is 0 or 1 the
    variance is 0 and ``n_eff`` falls back to Kish's ``(sum w x)^2 / sum (w x)^2`` [5]_,
    so an all-correct group keeps a non-degenerate interval within [0, 1].
    ``deff = V / (R (1 - R) / n)`` (Kish's weighting design effect where ``R`` is 0 or 1).
    Unweighted non-binomial ratios use the same linearisation with unit weights and the
    whole ``frame`` as one stratum. For a non-binomial ratio in [0, 1] (F1, a severity
    score) the same effective-n interval is used; it is conservative because a 0/1 variable has the largest
    variance for its mean.

    Validated in ``tests/test_scoring.py`` against a hand-computed two-stratum
    example, against the unweighted estimator (equal weights, one stratum), and by
    a simulation of unequal-probability Poisson sampling in which the interval
    covers the population accuracy close to 95% of the time.

    References
    ----------
    .. [1] Särndal, C.-E., Swensson, B., Wretman, J. (1992). Model Assisted Survey
       Sampling. Springer. Sections 5.6-5.7 (ratio estimator, Taylor variance).
    .. [2] Lumley, T. (2010). Complex Surveys: A Guide to Analysis Using R. Wiley.
       Chapter 2 (domains, lonely PSUs).
    .. [3] Korn, E. L., Graubard, B. I. (1998). Confidence intervals for proportions
       with small expected number of positive counts estimated from survey data.
       Survey Methodology 24, 193-201.
    .. [4] Parker, J. D. et al. (2017). National Center for Health Statistics data
       presentation standards for proportions. Vital Health Stat 2(175).
    .. [5] Kish, L. (1965). Survey Sampling. Wiley. Section 11.7 (weighting effect).
    """
    alpha = check_alpha(alpha)
    interval_method(method)
    by = as_columns(by)
    require_columns(frame, by, "ratio_estimates", table="frame")
    nrow = len(frame)

    def _arr(v, name):
        if v is None:
            return np.ones(nrow)
        a = frame[v].to_numpy(dtype=float, na_value=np.nan) if isinstance(v, str) else np.asarray(v, dtype=float)
        if a.shape != (nrow,):
            raise EstimationError(f"{name} must have one value per row ({nrow}), got shape {a.shape}")
        return a

    y = _arr(numerator, "numerator")
    x = _arr(denominator, "denominator")
    m = np.ones(nrow, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != (nrow,):
        raise EstimationError(f"mask must have one value per row ({nrow})")
    use = m & (x > 0)
    if np.isnan(y[use]).any() or np.isnan(x[m]).any():
        raise EstimationError("ratio_estimates: numerator or denominator has missing values")
    w_full = design_weights(frame, weights)
    weighted = w_full is not None
    h_full = _strata(frame, strata) if weighted else np.zeros(nrow, dtype=np.int64)
    H = int(h_full.max()) + 1 if nrow else 1
    n_h = np.bincount(h_full, minlength=H).astype(float)

    every = bool(use.all())  # no domain, no empty denominator: use the arrays as they are (no copies)
    sub = (frame[by] if by else frame[[]]) if every else (frame.loc[use, by] if by else frame.loc[use, []])
    codes, keys = _groups(sub, by)
    G = len(keys)
    out = keys.copy()
    if G == 0:
        for c in ("n", "numerator", "estimate", "se", "n_eff", "deff", S.CI_LOW, S.CI_HIGH):
            out[c] = pd.Series(dtype=float)
        return out
    yu, xu = (y, x) if every else (y[use], x[use])
    w = (w_full if every else w_full[use]) if w_full is not None else np.ones(len(yu))
    h = h_full if every else h_full[use]
    ones_x = denominator is None  # x is 1.0 everywhere: w * x == w exactly, so skip the products
    n = np.bincount(codes, minlength=G).astype(float)
    num_raw = np.bincount(codes, yu, minlength=G)
    Y = np.bincount(codes, w * yu, minlength=G)
    wx = w if ones_x else w * xu
    X = np.bincount(codes, wx, minlength=G)
    R = Y / X

    if binomial and not weighted:
        se = np.sqrt(R * (1 - R) / n)
        n_eff = n.copy()
        deff = np.ones(G)
        lo, hi = proportion_ci(num_raw, n, alpha, method)
    else:
        # z = w (y - R x) / X, computed in place (same operations in the same order: the same bits)
        z = R[codes]
        if not ones_x:
            z *= xu
        np.subtract(yu, z, out=z)
        np.multiply(w, z, out=z)
        z /= X[codes]
        key = codes * H
        key += h
        if 4 * len(key) + 4096 >= G * H:  # dense keys: bincount, linear (np.unique sorts: 6x a groupby at 10M)
            uk = np.flatnonzero(np.bincount(key, minlength=G * H))
            s1 = np.bincount(key, z, minlength=G * H)[uk]
            np.multiply(z, z, out=z)
            s2 = np.bincount(key, z, minlength=G * H)[uk]
        else:
            uk, inv = np.unique(key, return_inverse=True)
            s1 = np.bincount(inv, z)
            np.multiply(z, z, out=z)
            s2 = np.bincount(inv, z)
        del z, key
        gk, hk = uk // H, uk % H
        nh = n_h[hk]
        single = nh <= 1
        contrib = np.where(single, s2, nh / np.where(single, 2, nh - 1) * (s2 - s1**2 / nh))
        var = np.maximum(np.bincount(gk, contrib, minlength=G), 0.0)
        strata_in_group = np.bincount(gk, minlength=G).astype(float)
        se = np.sqrt(var)
        kish = X**2 / np.bincount(codes, np.square(wx), minlength=G)
        pq = R * (1 - R)
        ok = (pq > 1e-15) & (var > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            neff_raw = np.where(ok, pq / np.where(ok, var, 1.0), np.nan)
            deff = np.where(ok, var / np.where(ok, pq / n, 1.0), n / kish)
        stable = (np.minimum(num_raw, n - num_raw) >= _MIN_STABLE) if not cap_n_eff else np.zeros(G, bool)
        n_eff = np.where(ok, np.where(stable, neff_raw, np.minimum(neff_raw, n)), np.minimum(kish, n))
        df = np.maximum(n - strata_in_group, 1.0)
        adj = np.ones(G)
        big = n > 1
        adj[big] = (stats.t.isf(alpha / 2, n[big] - 1) / stats.t.isf(alpha / 2, df[big])) ** 2
        n_eff = n_eff * adj
        lo, hi = proportion_ci(np.clip(R, 0, 1) * n_eff, n_eff, alpha, method)

    out["n"] = n.astype(np.int64)
    out["numerator"] = num_raw
    out["estimate"] = R
    out["se"] = se
    out["n_eff"] = n_eff
    out["deff"] = deff
    out[S.CI_LOW] = lo
    out[S.CI_HIGH] = hi
    if weighted:
        out["weight_sum"] = X
        # share of the group's weighted denominator carried by its single largest unit
        wx_max = np.zeros(G)
        np.maximum.at(wx_max, codes, wx)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["max_weight_share"] = np.where(X > 0, wx_max / X, np.nan)
    return out
