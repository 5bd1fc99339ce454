"""Scoring: accuracy, severity, error mix, moderators and auditors, with honest intervals.

Every function takes the audit-level frame built by
:func:`modqa_lib.data.io.audited_decisions` (one row per audit, decision columns
joined) and returns a new tidy DataFrame with one row per group and explicit
columns (``n``, ``errors``, ``accuracy``, ``ci_low``, ``ci_high`` ...). Inputs
are never modified.

Two estimators are available wherever ``weights`` is accepted:

* ``weights=None`` (default): the audited decisions are treated as a simple
  random sample of each group. ``accuracy`` is the share of audits without an
  error and the interval is a binomial interval on ``(n - errors, n)``.
* ``weights="weight"`` (the design weight ``1 / inclusion_prob``): ``accuracy``
  is the Hajek (weighted ratio) estimator of the population accuracy, its
  variance is the Taylor-linearised variance of a ratio in a stratified
  with-replacement design (strata = the ``stratum`` column), and the interval
  is a binomial interval on the Korn-Graubard effective sample size, so groups
  where every audit is correct (or wrong) still get a valid interval inside
  [0, 1]. Use weights whenever the sample over-weights risky slices, as the
  modqa sample plans do: otherwise estimates are biased towards those slices.

The building block is :func:`ratio_estimates`, which
:mod:`modqa_lib.stats.model_eval` reuses for precision, recall and override rates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import multinomial_proportions_confint, proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, bh_qvalues, check_alpha, require_columns
from modqa_lib.errors import ConfigError, EstimationError

__all__ = [
    "CI_METHODS",
    "DEFAULT_SEVERITY_WEIGHTS",
    "STATUS_AT_RISK",
    "STATUS_MET",
    "STATUS_MISSED",
    "accuracy_table",
    "bool_column",
    "check_nonempty",
    "design_weights",
    "error_mix",
    "interval_method",
    "kpi_status",
    "proportion_ci",
    "ratio_estimates",
    "resolve_targets",
    "severity_table",
    "target_status",
    "targets_data",
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


# ============================================================== targets
def targets_data(targets: Any, what: str) -> Mapping:
    """Check that KPI targets were passed in as data (statistics read no files).

    Parameters
    ----------
    targets : Mapping
        ``params/targets.yaml`` as loaded by :func:`modqa_lib.data.io.load_targets`
        (a report has it as ``scope.targets``), or a dict shaped like it.
    what : str
        The function that needs them, named in the message.

    Returns
    -------
    Mapping
        ``targets`` itself.

    Raises
    ------
    ConfigError
        ``targets=True`` (the old way of asking the statistics to read the file), or not a mapping.
    """
    if targets is True or targets is None or not isinstance(targets, Mapping):
        got = "targets=True would read params/targets.yaml" if targets is True else f"got targets={targets!r}"
        raise ConfigError(
            f"{what}(): {got}; pass the KPI targets as data: targets=scope.targets "
            "(from load_scope) or targets=modqa_lib.data.io.load_targets()"
        )
    return targets


def _accuracy_targets(targets, what: str = "resolve_targets") -> dict:
    targets = targets_data(targets, what)
    acc = targets.get("accuracy", targets)
    if not isinstance(acc, Mapping) or "default" not in acc:
        raise EstimationError("targets: need an 'accuracy' section with a 'default' target (see params/targets.yaml)")
    out = {
        "default": acc["default"],
        "critical_policies": acc.get("critical_policies"),
        "by_vendor": dict(acc.get("by_vendor") or {}),
        "by_policy": dict(acc.get("by_policy") or {}),
    }
    vals = [out["default"], out["critical_policies"], *out["by_vendor"].values(), *out["by_policy"].values()]
    for v in vals:
        if v is not None and not (isinstance(v, (int, float)) and 0 < float(v) <= 1):
            raise EstimationError(f"targets: accuracy target {v!r} is not a number in (0, 1]")
    return out


def resolve_targets(frame: pd.DataFrame, by=None, targets: Mapping | None = None, taxonomy=None) -> pd.DataFrame:
    """The accuracy target of each group: the most specific rule of ``params/targets.yaml``.

    Parameters
    ----------
    frame : DataFrame
        Audit-level frame.
    by : str or list of str, optional
    targets : dict
        ``params/targets.yaml`` as loaded by :func:`modqa_lib.data.io.load_targets`
        (``scope.targets`` in a report), or its ``accuracy`` section.
    taxonomy : Taxonomy, optional
        For the critical policies; default ``params/taxonomy.yaml``.

    Returns
    -------
    DataFrame
        ``by`` columns, ``target``, ``target_source`` in {"policy", "critical_policy",
        "vendor", "default"}.

    Notes
    -----
    Order: ``by_policy`` override, then ``critical_policies`` (any policy marked
    critical in the taxonomy), then ``by_vendor``, then ``default``. A policy rule
    applies only when every audit of the group is under one policy (for example
    ``by`` includes ``policy``); a group spanning several policies gets its vendor
    or the default target, even if some of its audits are on critical policies: score
    ``by=[..., "policy"]`` to hold critical policies to their stricter target.
    Likewise a vendor rule needs a single vendor in the group.
    """
    by = as_columns(by)
    t = _accuracy_targets(targets)
    if taxonomy is None:
        taxonomy = S.load_taxonomy()
    codes, keys = _groups(frame, by)
    G = len(keys)
    target = np.full(G, float(t["default"]))
    source = np.array(["default"] * G, dtype=object)

    def _single(col):
        if col not in frame.columns:
            return np.full(G, None, dtype=object)
        s = frame[col]
        nun = s.groupby(codes).nunique(dropna=False).reindex(range(G)).to_numpy()
        first = s.groupby(codes).first().reindex(range(G)).to_numpy(dtype=object)
        return np.where(nun == 1, first, None)

    vendor = _single(S.VENDOR)
    policy = _single(S.POLICY)
    for i in range(G):
        if vendor[i] is not None and vendor[i] in t["by_vendor"]:
            target[i], source[i] = float(t["by_vendor"][vendor[i]]), "vendor"
        if policy[i] is not None:
            if policy[i] in t["by_policy"]:
                target[i], source[i] = float(t["by_policy"][policy[i]]), "policy"
            elif policy[i] in taxonomy.critical_policies and t["critical_policies"] is not None:
                target[i], source[i] = float(t["critical_policies"]), "critical_policy"
    out = keys.copy()
    out["target"] = target
    out["target_source"] = source.astype(str)
    return out


def target_status(estimate, ci_low, ci_high, target, higher_is_better: bool = True) -> np.ndarray:
    """KPI status per row: "met", "at risk" or "missed".

    Parameters
    ----------
    estimate, ci_low, ci_high, target : array_like
    higher_is_better : bool, default True
        True for accuracy, precision, recall; False for a rate with a ceiling
        (critical-error rate).

    Returns
    -------
    ndarray of str

    Notes
    -----
    For ``higher_is_better``: *missed* when the whole interval lies below the
    target (``ci_high < target``); *met* when the point estimate reaches it
    (``estimate >= target``); *at risk* otherwise (point below, interval still
    reaches the target). Mirrored for a ceiling: *missed* when ``ci_low > target``,
    *met* when ``estimate <= target``.
    """
    e, lo, hi, t = (np.asarray(a, dtype=float) for a in (estimate, ci_low, ci_high, target))
    if higher_is_better:
        missed, met = hi < t, e >= t
    else:
        missed, met = lo > t, e <= t
    return np.where(missed, STATUS_MISSED, np.where(met, STATUS_MET, STATUS_AT_RISK)).astype(object)


def _score_test_less(est, n_eff, target) -> np.ndarray:
    """One-sided score test p-value of H0: p >= target against p < target."""
    est, n_eff, target = (np.asarray(a, dtype=float) for a in (est, n_eff, target))
    sd = np.sqrt(target * (1 - target) / n_eff)
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = (est - target) / sd
    p = stats.norm.cdf(zval)
    p = np.where(sd > 0, p, np.where(est < target, 0.0, 1.0))
    return p


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


def __getattr__(name: str):
    """``scoring.moderator_table`` and ``scoring.golden_accuracy`` live in :mod:`modqa_lib.stats.moderators`."""
    if name in ("moderator_table", "golden_accuracy"):
        from modqa_lib.stats import moderators

        return getattr(moderators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
