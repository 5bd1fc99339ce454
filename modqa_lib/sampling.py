"""Drawing QA samples: how many, from where, and who audits what.

Answers the planning questions of the weekly QA loop:

* how many decisions to audit for a given margin of error
  (:func:`sample_size`, :func:`achieved_margin`, :func:`sample_size_two_periods`);
* how to split them over strata and draw them
  (:func:`allocate`, :func:`stratified_sample`), or how to oversample risky
  decisions with known inclusion probabilities (:func:`risk_weighted_sample`);
* how to mix in golden items and hand out balanced worklists
  (:func:`inject_golden`, :func:`assign_auditors`);
* how to record a draw so it can be reproduced and checked later
  (:class:`SamplePlan`, :func:`make_plan`, :func:`save_plan`, :func:`load_plan`,
  :func:`redraw`);
* the whole weekly loop, one ISO week sized per vendor/site/market/queue
  (:func:`draw_weekly_sample`, pure, for notebooks), its files
  (:func:`write_sample_files`) and the ``modqa sample`` command
  (:func:`run_sample_command`, both together).

Every sampled row carries ``stratum``, ``inclusion_prob`` and ``weight``
(= 1 / inclusion_prob), the design information that scoring needs to turn
audits into unbiased (Horvitz-Thompson / Hajek) accuracy estimates.

Randomness
----------
Draws use *permanent random numbers* (PRN): each decision gets a pseudo-random
key in [0, 1) from a salted 64-bit hash of the text of its ``decision_id``
(the id's UTF-8 bytes folded 8 at a time through the SplitMix64 finaliser
[7]_; the salt comes from ``seed``). Taking the ``n_h`` smallest keys of a
stratum is simple random sampling without replacement [6]_, and because the
keys depend only on the ids and the seed, **the sample does not depend on the
row order or on the dtype** of the input: re-ingesting the same data in
another order gives the same sample. Ids must be unique and non-empty.

References
----------
.. [1] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley. Ch. 4
   (sample size for proportions, finite-population correction) and Ch. 5
   (stratified sampling, proportional and optimum/Neyman allocation).
.. [2] Horvitz, D. G. and Thompson, D. J. (1952). A generalization of sampling
   without replacement from a finite universe. *JASA* 47, 663-685.
.. [3] Sarndal, C.-E., Swensson, B. and Wretman, J. (1992). *Model Assisted
   Survey Sampling*. Springer. Ch. 3 (Poisson and systematic pi-ps sampling).
.. [4] Hartley, H. O. and Rao, J. N. K. (1962). Sampling with unequal
   probabilities and without replacement. *Ann. Math. Statist.* 33, 350-374.
.. [5] Tille, Y. (2006). *Sampling Algorithms*. Springer (inclusion
   probabilities proportional to size, capped at 1).
.. [6] Ohlsson, E. (1995). Coordination of samples using permanent random
   numbers. In Cox et al. (eds), *Business Survey Methods*, Wiley, 153-169.
.. [7] Steele, G. L., Lea, D. and Flood, C. H. (2014). Fast splittable
   pseudorandom number generators. *OOPSLA 2014*, 453-472.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize

from . import schema as S
from .errors import ConfigError, DataContractError, InputFileError, SamplingError

__all__ = [
    # sizes
    "sample_size", "achieved_margin", "sample_size_two_periods",
    # stratified
    "allocate", "stratified_sample", "estimate_prior_error_rates",
    # risk-weighted
    "RiskWeights", "risk_profile", "pps_inclusion_probabilities", "risk_weighted_sample",
    # worklists
    "inject_golden", "assign_auditors",
    # plans
    "SamplePlan", "FingerprintMismatchError", "decisions_fingerprint", "make_plan",
    "save_plan", "load_plan", "redraw",
    # weekly sample and the CLI
    "WeeklySample", "draw_weekly_sample", "write_sample_files", "sample_folder", "run_sample_command",
    # column names of the allocation table and vocabularies
    "POPULATION", "ALLOCATED", "EXPECTED_MARGIN", "PRIOR_ERROR_RATE",
    "UNIT", "DRAWN", "MARGIN",
    "ALLOCATIONS", "RISK_METHODS", "MARGIN_METHODS", "GOLDEN_STRATUM", "STRATUM_SEP", "BY_COLUMNS",
    "WORKLIST_COLUMNS",
]

# --- column names of the allocation table (sampling-specific result columns)
POPULATION = "population"
ALLOCATED = "allocated"
EXPECTED_MARGIN = "expected_margin"
PRIOR_ERROR_RATE = "prior_error_rate"

ALLOCATIONS = ("proportional", "neyman", "equal")
RISK_METHODS = ("systematic", "poisson")
MARGIN_METHODS = ("wilson", "normal", "agresti_coull", "beta", "jeffreys")
GOLDEN_STRATUM = "golden"
STRATUM_SEP = "|"
NA_KEY = "<NA>"
BY_COLUMNS = (S.VENDOR, S.SITE, S.MARKET, S.QUEUE)
PLAN_FORMAT = 1

# columns an auditor sees in a worklist CSV: nothing that tells golden items apart
WORKLIST_COLUMNS = (S.SAMPLE_ID, S.DECISION_ID, S.CONTENT_ID, S.POLICY)


class FingerprintMismatchError(SamplingError):
    """The decisions given to :func:`redraw` are not the ones the plan was drawn from."""


# =============================================================== small helpers
def _rng(seed) -> np.random.Generator:
    """A numpy Generator from an int seed or a Generator (never from None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SamplingError(f"seed must be an int or a numpy Generator, got {seed!r} "
                            "(a fixed seed makes the sample reproducible)")
    return np.random.default_rng(int(seed))


def _check_int(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SamplingError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_prob(value, name: str, lo_open=True, hi_open=True, lo=0.0, hi=1.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SamplingError(f"{name} must be a number, got {value!r}") from None
    ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok or math.isnan(v):
        rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise SamplingError(f"{name} must lie in {rng}, got {value!r}")
    return v


def _require_columns(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataContractError([{"table": "decisions", "column": c,
                                  "rule": f"required column missing ({what})", "count": len(df)}
                                 for c in missing])


def _ceil(x: float) -> int:
    """Ceiling that forgives float noise (384.0000000001 -> 384)."""
    return int(math.ceil(x - 1e-9))


# ======================================================================= sizes
def _cochran_n(population, margin, confidence, expected_rate) -> float:
    """Unrounded Cochran sample size with finite-population correction."""
    z = norm.ppf(1 - (1 - confidence) / 2)
    n0 = z * z * expected_rate * (1 - expected_rate) / (margin * margin)
    if population is None:
        return n0
    return n0 / (1 + (n0 - 1) / population)


def sample_size(population: int | None, margin: float, confidence: float = 0.95,
                expected_rate: float = 0.5) -> int:
    """Number of decisions to audit to estimate a rate within +/- ``margin``.

    Cochran's formula for a proportion, ``n0 = z^2 p (1 - p) / e^2``, with the
    finite-population correction ``n = n0 / (1 + (n0 - 1) / N)``, rounded up.

    Parameters
    ----------
    population : int or None
        Number of decisions the estimate is about (N >= 1); ``None`` for an
        infinite population (no correction).
    margin : float
        Half-width of the confidence interval, in (0, 1), e.g. 0.03 for +/-3 points.
    confidence : float, default 0.95
        Two-sided confidence level, in (0, 1).
    expected_rate : float, default 0.5
        Anticipated error (or accuracy) rate, in (0, 1); 0.5 is the
        conservative worst case.

    Returns
    -------
    int
        Sample size, between 1 and ``population``.

    Raises
    ------
    SamplingError
        For arguments outside their range.

    Notes
    -----
    Validated against published worked examples kept in
    ``tests/results/sampling_cochran.csv``: n0 = 385 for 95 %, +/-5 %, p = 0.5
    [1]_ [2]_; n = 323 for N = 2000 [2]_; and Krejcie and Morgan's table [3]_
    (e.g. N = 1000 -> 278). The normal approximation behind the formula is
    what the references use; :func:`achieved_margin` gives the Wilson
    half-width a given n actually achieves.

    References
    ----------
    .. [1] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, Sect. 4.4.
    .. [2] Israel, G. D. (1992). *Determining Sample Size*. Fact sheet PEOD-6,
       University of Florida IFAS, Eq. 2 and 3.
    .. [3] Krejcie, R. V. and Morgan, D. W. (1970). Determining sample size for
       research activities. *Educ. Psychol. Meas.* 30, 607-610, Table 1.

    Examples
    --------
    >>> sample_size(None, 0.05)
    385
    >>> sample_size(1000, 0.05)
    278
    """
    if population is not None:
        population = _check_int(population, "population", 1)
    margin = _check_prob(margin, "margin")
    confidence = _check_prob(confidence, "confidence")
    expected_rate = _check_prob(expected_rate, "expected_rate")
    n = _ceil(_cochran_n(population, margin, confidence, expected_rate))
    return max(1, n if population is None else min(n, population))


def achieved_margin(n, population=None, confidence: float = 0.95, expected_rate: float = 0.5,
                    method: str = "wilson"):
    """Margin of error (CI half-width) that ``n`` audited decisions achieve.

    Parameters
    ----------
    n : int or array-like of int
        Sample size(s), >= 1.
    population : int or array-like of int, optional
        Population size(s) N >= n; when given, the half-width is multiplied by
        the finite-population correction ``sqrt((N - n) / (N - 1))`` (0 when n = N).
    confidence : float, default 0.95
    expected_rate : float, default 0.5
        Anticipated rate p in [0, 1]; the interval is computed for ``p * n`` successes.
    method : {"wilson", "normal", "agresti_coull", "beta", "jeffreys"}, default "wilson"
        Interval method of :func:`statsmodels.stats.proportion.proportion_confint`.

    Returns
    -------
    float or ndarray
        ``(ci_high - ci_low) / 2``, times the FPC when ``population`` is given.

    Notes
    -----
    Tested against ``proportion_confint(method="wilson")`` called directly and
    against Wilson's closed form [1]_. The interval is not symmetric around p
    unless p = 0.5; the half-width is half its length.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. *JASA* 22, 209-212.
    .. [2] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, Sect. 3.2
       (finite-population correction).

    Examples
    --------
    >>> round(achieved_margin(385), 4)
    0.0497
    """
    if method not in MARGIN_METHODS:
        raise SamplingError(f"method must be one of {MARGIN_METHODS}, got {method!r}")
    confidence = _check_prob(confidence, "confidence")
    expected_rate = _check_prob(expected_rate, "expected_rate", lo_open=False, hi_open=False)
    scalar = np.ndim(n) == 0 and (population is None or np.ndim(population) == 0)
    n_arr = np.asarray(n, dtype=float)
    if np.any(~np.isfinite(n_arr)) or np.any(n_arr < 1) or np.any(n_arr != np.round(n_arr)):
        raise SamplingError(f"n must be an integer >= 1 (a sample of 0 has no margin), got {n!r}")
    lo, hi = proportion_confint(expected_rate * n_arr, n_arr, alpha=1 - confidence, method=method)
    half = (np.asarray(hi, dtype=float) - np.asarray(lo, dtype=float)) / 2
    if population is not None:
        pop = np.asarray(population, dtype=float)
        if np.any(pop < n_arr) or np.any(pop != np.round(pop)):
            raise SamplingError(f"population must be an integer >= n, got population={population!r}, n={n!r}")
        with np.errstate(divide="ignore", invalid="ignore"):
            fpc = np.sqrt(np.where(pop > 1, (pop - n_arr) / np.maximum(pop - 1, 1), 0.0))
        half = half * fpc
    return float(half) if scalar else half


def sample_size_two_periods(p_before: float, drop: float, alpha: float = 0.05, power: float = 0.8,
                            ratio: float = 1.0, alternative: str = "two-sided") -> int:
    """Audits needed per period to detect an accuracy drop between two periods.

    Uses Cohen's effect size h for two proportions
    (:func:`statsmodels.stats.proportion.proportion_effectsize`) and the
    normal-approximation power of a two-sample test
    (:class:`statsmodels.stats.power.NormalIndPower`).

    Parameters
    ----------
    p_before : float
        Accuracy in the reference period, in (0, 1].
    drop : float
        Smallest drop worth detecting, in (0, p_before]; e.g. 0.02 for 96 % -> 94 %.
    alpha : float, default 0.05
        Significance level.
    power : float, default 0.8
        Probability of detecting a drop of exactly ``drop``.
    ratio : float, default 1.0
        Size of the second (after) period relative to the first.
    alternative : {"two-sided", "larger"}, default "two-sided"
        ``"larger"`` is the one-sided test of a drop.

    Returns
    -------
    int
        n for the first (before) period, rounded up; the after period needs
        ``ceil(ratio * n)``.

    Notes
    -----
    Tested against an independent computation of
    ``n = (1 + 1/ratio) * ((z_{1-alpha/2} + z_{power}) / h)^2`` with
    ``h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p2))`` [1]_.

    References
    ----------
    .. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral
       Sciences*, 2nd ed. Erlbaum, Ch. 6.
    """
    p_before = _check_prob(p_before, "p_before", hi_open=False)
    drop = _check_prob(drop, "drop", hi=p_before, hi_open=False)
    alpha = _check_prob(alpha, "alpha")
    power = _check_prob(power, "power")
    if not (isinstance(ratio, (int, float, np.number)) and ratio > 0):
        raise SamplingError(f"ratio must be a positive number, got {ratio!r}")
    if alternative not in ("two-sided", "larger"):
        raise SamplingError(f"alternative must be 'two-sided' or 'larger', got {alternative!r}")
    h = float(proportion_effectsize(p_before, p_before - drop))
    n1 = NormalIndPower().solve_power(effect_size=h, nobs1=None, alpha=alpha, power=power,
                                      ratio=ratio, alternative=alternative)
    n1 = float(np.asarray(n1).ravel()[0])
    if not math.isfinite(n1) or n1 <= 0:
        raise SamplingError(f"no sample size found for p_before={p_before}, drop={drop} "
                            f"(effect size h={h:.4g}); the drop is too small to detect")
    return max(1, _ceil(n1))


# ==================================================================== strata
@dataclass
class _Strata:
    codes: np.ndarray          # per row: stratum index 0..H-1
    keys: np.ndarray           # per stratum: key "a|b|c" (object array)
    values: dict               # per stratum column: its value per stratum
    pop: np.ndarray            # per stratum: N_h
    group: np.ndarray          # per stratum: index of its value of strata[0]
    group_keys: list[str]      # string value of strata[0] per group index


def _key_strings(uniques) -> list[str]:
    return [NA_KEY if pd.isna(v) else str(v) for v in uniques]


def _factorize_sorted(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(s, sort=True, use_na_sentinel=False)``, via Arrow for Arrow-backed strings."""
    dt = s.dtype
    arrow_str = (isinstance(dt, pd.StringDtype) and dt.storage == "pyarrow") or \
        (isinstance(dt, pd.ArrowDtype) and pa.types.is_string(dt.pyarrow_dtype))
    if not arrow_str or len(s) == 0:
        codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=False)
        return codes.astype(np.int64, copy=False), pd.Index(uniques)
    arr = pa.array(s)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = pc.dictionary_encode(arr)
    values = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    order = np.argsort(values, kind="stable")
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rank[-1] = len(order)                      # missing values: one level, sorted last
    idx = enc.indices.fill_null(len(order)).to_numpy(zero_copy_only=False)
    codes = rank[idx]
    uniques = list(values[order]) + ([None] if enc.indices.null_count else [])
    return codes, pd.Index(pd.array(uniques, dtype=dt)) if uniques else pd.Index([], dtype=dt)


def _code_strata(df: pd.DataFrame, strata: Sequence[str]) -> _Strata:
    if isinstance(strata, str):
        strata = [strata]
    strata = list(strata)
    if not strata or len(set(strata)) != len(strata):
        raise SamplingError(f"strata must be a non-empty list of distinct column names, got {strata!r}")
    _require_columns(df, strata, "stratum column")
    col_codes, col_uniques = [], []
    for c in strata:
        codes, uniques = _factorize_sorted(df[c])
        col_codes.append(codes)
        col_uniques.append(uniques)
    sizes = [max(len(u), 1) for u in col_uniques]
    n_rows = len(df)
    if math.prod(sizes) < 2**62:
        combined = np.zeros(n_rows, dtype=np.int64)
        for codes, size in zip(col_codes, sizes):
            combined *= size
            combined += codes
        total = math.prod(sizes)
        if total <= 4 * n_rows + 4096:
            counts = np.bincount(combined, minlength=total)
            present = np.flatnonzero(counts)
            remap = np.full(total, -1, dtype=np.int64)
            remap[present] = np.arange(len(present))
            inv, pop, comb_u = remap[combined], counts[present], present
        else:
            comb_u, inv, pop = np.unique(combined, return_inverse=True, return_counts=True)
        parts, rem = [], comb_u.copy()
        for size in reversed(sizes):
            parts.append(rem % size)
            rem //= size
        parts = parts[::-1]
    else:  # pragma: no cover - astronomically many value combinations
        g = df.groupby(strata, sort=True, dropna=False, observed=True)
        inv = g.ngroup().to_numpy()
        pop = np.bincount(inv)
        first = np.unique(inv, return_index=True)[1]
        parts = [codes[first] for codes in col_codes]
    values = {c: u.take(p).to_numpy() if len(u) else np.array([], dtype=object)
              for c, u, p in zip(strata, col_uniques, parts)}
    key_parts = [np.asarray(_key_strings(u), dtype=object)[p] if len(u) else np.array([], dtype=object)
                 for u, p in zip(col_uniques, parts)]
    keys = key_parts[0].astype(object)
    for kp in key_parts[1:]:
        keys = keys + STRATUM_SEP + kp
    return _Strata(codes=np.asarray(inv, dtype=np.int64), keys=np.asarray(keys, dtype=object),
                   values=values, pop=np.asarray(pop, dtype=np.int64),
                   group=np.asarray(parts[0], dtype=np.int64),
                   group_keys=_key_strings(col_uniques[0]))


def _prior_map(prior_error_rates, strata: Sequence[str]) -> dict[str, float]:
    """Normalise the accepted forms of prior error rates to {stratum key: rate}."""
    if prior_error_rates is None:
        return {}
    if isinstance(prior_error_rates, pd.DataFrame):
        df = prior_error_rates
        if S.ERROR_RATE in df.columns:
            rate = df[S.ERROR_RATE]
        elif PRIOR_ERROR_RATE in df.columns:
            rate = df[PRIOR_ERROR_RATE]
        elif S.ACCURACY in df.columns:
            rate = 1 - df[S.ACCURACY]
        else:
            raise SamplingError("prior_error_rates DataFrame needs an 'error_rate', "
                                "'prior_error_rate' or 'accuracy' column")
        if all(c in df.columns for c in strata):
            keys = df[list(strata)].astype(object).apply(
                lambda r: STRATUM_SEP.join(_key_strings(r)), axis=1)
        elif S.STRATUM in df.columns:
            keys = df[S.STRATUM].astype(str)
        else:
            raise SamplingError(f"prior_error_rates DataFrame needs the strata columns {list(strata)} "
                                f"or a '{S.STRATUM}' column")
        out = dict(zip(keys.tolist(), rate.astype(float).tolist()))
    elif isinstance(prior_error_rates, pd.Series):
        idx = prior_error_rates.index
        if isinstance(idx, pd.MultiIndex):
            keys = [STRATUM_SEP.join(_key_strings(t)) for t in idx]
        else:
            keys = _key_strings(idx)
        out = dict(zip(keys, prior_error_rates.astype(float).tolist()))
    elif isinstance(prior_error_rates, Mapping):
        out = {str(k) if not isinstance(k, tuple) else STRATUM_SEP.join(_key_strings(k)): float(v)
               for k, v in prior_error_rates.items()}
    else:
        raise SamplingError("prior_error_rates must be a DataFrame, Series or mapping keyed by stratum, "
                            f"got {type(prior_error_rates).__name__}")
    bad = {k: v for k, v in out.items() if not (0.0 <= v <= 1.0)}
    if bad:
        raise SamplingError(f"prior error rates must lie in [0, 1]; got {dict(list(bad.items())[:5])}")
    return out


def _capped_allocation(weights: np.ndarray, lower: np.ndarray, upper: np.ndarray, n: int) -> np.ndarray:
    """Integer allocation x with lower <= x <= upper, sum x = n, x ~ proportional to weights.

    The real-valued solution ``clip(lam * w, lower, upper)`` (water-filling:
    strata at their cap give their surplus to the others) is found exactly:
    the sum is piecewise linear in ``lam`` with breakpoints ``lower/w`` and
    ``upper/w``, so a binary search over the breakpoints and one linear
    interpolation give ``lam``. It is rounded with the largest-remainder
    (Hamilton) method, which keeps both bounds and the total.
    """
    lower = lower.astype(np.int64)
    upper = upper.astype(np.int64)
    if n == int(lower.sum()):
        return lower.copy()
    if n == int(upper.sum()):
        return upper.copy()
    w = np.asarray(weights, dtype=float)
    # zero-weight strata (e.g. a prior error rate of 0) only fill up once every other is full
    w = np.maximum(w, max(w.max(), 1.0) * 1e-12)
    bp = np.unique(np.concatenate([lower / w, upper / w]))

    def total(lam: float) -> float:
        return float(np.clip(lam * w, lower, upper).sum())

    i, j = 0, len(bp) - 1            # total(bp[-1]) = sum(upper) > n >= total(bp[0]) = sum(lower)
    while i < j:
        mid = (i + j) // 2
        if total(bp[mid]) >= n:
            j = mid
        else:
            i = mid + 1
    a, b = bp[i - 1], bp[i]
    fa, fb = total(a), total(b)
    lam = b if fb == fa else a + (n - fa) * (b - a) / (fb - fa)
    x = np.clip(lam * w, lower, upper)
    x = np.round(x, 9)
    base = np.maximum(np.floor(x).astype(np.int64), lower)
    base = np.minimum(base, upper)
    short = n - int(base.sum())
    if short > 0:
        frac = x - base
        frac[base >= upper] = -np.inf
        order = np.argsort(-frac, kind="stable")[:short]
        base[order] += 1
    elif short < 0:  # only from float noise: take back from the largest remainders' complements
        frac = x - base
        frac[base <= lower] = np.inf
        order = np.argsort(frac, kind="stable")[:-short]
        base[order] -= 1
    if int(base.sum()) != n or np.any(base < lower) or np.any(base > upper):  # pragma: no cover
        raise RuntimeError("allocation rounding failed; this is a bug")
    return base


def _allocate(decisions, strata, n, allocation, min_per_stratum, prior_error_rates,
              default_prior) -> tuple[_Strata, np.ndarray, np.ndarray]:
    """(strata, prior rate per stratum, allocation per stratum)."""
    if allocation not in ALLOCATIONS:
        raise SamplingError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
    min_per_stratum = _check_int(min_per_stratum, "min_per_stratum", 0)
    default_prior = _check_prob(default_prior, "default_prior", lo_open=False, hi_open=False)
    strata = [strata] if isinstance(strata, str) else list(strata)
    st = _code_strata(decisions, strata)
    pop = st.pop
    if len(decisions) == 0:
        raise SamplingError("cannot sample from an empty population (0 decisions); "
                            "check the filters (week, unit) that produced it")

    priors = _prior_map(prior_error_rates, strata)
    p = np.array([priors.get(k, default_prior) for k in st.keys], dtype=float)

    if allocation == "proportional":
        w = pop.astype(float)
    elif allocation == "neyman":
        w = pop * np.sqrt(p * (1 - p))
    else:
        w = np.ones(len(pop))

    # totals per group of strata[0] (one group when n is an int)
    if isinstance(n, Mapping):
        want = {str(k): _check_int(v, f"n[{k!r}]", 0) for k, v in n.items()}
        unknown = sorted(set(want) - set(st.group_keys))
        if unknown:
            raise SamplingError(f"n names {strata[0]} value(s) "
                                f"not in the data: {unknown[:10]}")
        missing = sorted(set(st.group_keys) - set(want))
        if missing:
            raise SamplingError(f"n gives no sample size for {missing[:10]}; give every group a size "
                                "(0 to skip a group on purpose)")
        if sum(want.values()) == 0:
            raise SamplingError("n is 0 for every group: nothing to sample")
        groups = [(np.flatnonzero(st.group == gi), want[key], key) for gi, key in enumerate(st.group_keys)]
    else:
        n = _check_int(n, "n", 0)
        if n == 0:
            raise SamplingError("n = 0: nothing to sample; ask for at least 1 decision")
        groups = [(np.arange(len(pop)), n, None)]

    alloc = np.zeros(len(pop), dtype=np.int64)
    for idx, n_g, key in groups:
        where = "" if key is None else f" for '{key}'"
        if n_g == 0:
            continue
        pop_g = pop[idx]
        if n_g > pop_g.sum():
            raise SamplingError(f"n = {n_g}{where} is larger than the population ({int(pop_g.sum())} "
                                "decisions); lower n or widen the filters")
        lower = np.minimum(min_per_stratum, pop_g)
        if lower.sum() > n_g:
            raise SamplingError(f"n = {n_g}{where} cannot give min_per_stratum = {min_per_stratum} to each of "
                                f"{len(idx)} strata (needs {int(lower.sum())}); raise n or lower min_per_stratum")
        alloc[idx] = _capped_allocation(w[idx], lower, pop_g, n_g)
    return st, p, alloc


def _margins(n: np.ndarray, pop: np.ndarray, p: np.ndarray, confidence: float) -> np.ndarray:
    """Wilson half-width with FPC, element-wise with a per-stratum expected rate."""
    lo, hi = proportion_confint(p * n, n, alpha=1 - confidence, method="wilson")
    half = (np.asarray(hi, float) - np.asarray(lo, float)) / 2
    fpc = np.sqrt(np.where(pop > 1, (pop - n) / np.maximum(pop - 1, 1), 0.0))
    return half * fpc


def allocate(decisions: pd.DataFrame, strata: Sequence[str], n, allocation: str = "proportional",
             min_per_stratum: int = 1, prior_error_rates=None, default_prior: float = 0.5,
             confidence: float = 0.95) -> pd.DataFrame:
    """How many decisions to draw from each stratum.

    Parameters
    ----------
    decisions : DataFrame
        The population, one row per decision; must hold the ``strata`` columns.
    strata : list of str
        Stratum columns, e.g. ``[VENDOR, SITE, POLICY]``. Strata are the value
        combinations present in ``decisions`` (missing values form their own
        level, shown as ``<NA>``); a combination with no rows cannot be sampled
        and is not listed.
    n : int or mapping
        Total sample size (>= 1), or a mapping from each value of ``strata[0]``
        to that group's sample size (allocation then happens within each group;
        every group must be named, 0 skips a group on purpose).
    allocation : {"proportional", "neyman", "equal"}, default "proportional"
        ``proportional``: n_h ~ N_h. ``neyman``: n_h ~ N_h S_h with
        S_h = sqrt(p_h (1 - p_h)) from the prior error rate p_h, which puts more
        audits where errors are more variable. ``equal``: the same n_h everywhere.
    min_per_stratum : int, default 1
        Floor per stratum (or the whole stratum if smaller). The default 1
        keeps every decision's inclusion probability above 0.
    prior_error_rates : DataFrame, Series, mapping or None
        Prior error rate per stratum: a DataFrame with the strata columns (or
        ``stratum``) and ``error_rate`` (or ``prior_error_rate``, or ``accuracy``),
        e.g. the output of :func:`estimate_prior_error_rates`; a Series indexed
        by stratum key ``"a|b|c"`` or by a MultiIndex of the strata; or a dict.
        Strata not listed get ``default_prior``.
    default_prior : float, default 0.5
        Prior error rate where none is given (0.5, the maximum variance, so a
        stratum without history is not under-sampled).
    confidence : float, default 0.95
        Confidence level of ``expected_margin``.

    Returns
    -------
    DataFrame
        One row per stratum, in sorted stratum order:

        ``stratum`` (key ``"a|b|c"``), one column per stratum column,
        ``population`` (N_h), ``prior_error_rate`` (p_h used),
        ``allocated`` (n_h), ``inclusion_prob`` (n_h / N_h) and
        ``expected_margin`` (Wilson half-width at p_h with FPC; NaN where n_h = 0).

    Raises
    ------
    SamplingError
        n = 0, n larger than the population, n too small for
        ``min_per_stratum``, unknown allocation, bad priors.

    Notes
    -----
    The real-valued allocation ``clip(lam * w_h, floor_h, N_h)`` with ``sum = n``
    is rounded by largest remainders [3]_, so it sums to n exactly and never
    exceeds a stratum (the surplus of a small stratum goes to the others in
    proportion to their weights). Proportional and Neyman allocation follow
    Cochran [1]_ Sect. 5.3 and 5.5; Neyman's rule is from [2]_. Tested for
    sum, caps, floors, equality and the Neyman ordering.

    References
    ----------
    .. [1] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, Ch. 5.
    .. [2] Neyman, J. (1934). On the two different aspects of the representative
       method. *JRSS* 97, 558-625.
    .. [3] Balinski, M. L. and Young, H. P. (1982). *Fair Representation*.
       Yale University Press (Hamilton's largest-remainder method).
    """
    confidence = _check_prob(confidence, "confidence")
    st, p, alloc = _allocate(decisions, strata, n, allocation, min_per_stratum, prior_error_rates,
                             default_prior)
    pop = st.pop
    margin = np.full(len(pop), np.nan)
    pos = alloc > 0
    if pos.any():
        margin[pos] = _margins(alloc[pos], pop[pos], p[pos], confidence)
    table = pd.DataFrame({S.STRATUM: pd.array(st.keys.astype(str), dtype="str"), **st.values,
                          POPULATION: pop, PRIOR_ERROR_RATE: p, ALLOCATED: alloc,
                          S.INCLUSION_PROB: alloc / pop, EXPECTED_MARGIN: margin})
    return table


# ---------------------------------------------------------- permanent random numbers
_GOLDEN64 = 0x9E3779B97F4A7C15
_HASH_CHUNK = 1 << 20


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea and Flood 2014), in place on a uint64 array."""
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _hash_words(block: np.ndarray, length: int, salt: int) -> np.ndarray:
    """Hash rows of a (rows, length) uint8 block: SplitMix64 over little-endian 8-byte words."""
    n_words = max(1, -(-length // 8))
    buf = np.zeros((len(block), n_words * 8), dtype=np.uint8)
    buf[:, :length] = block
    words = buf.view("<u8")
    h = np.full(len(block), (salt ^ (length * _GOLDEN64)) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
    for w in range(n_words):
        h ^= words[:, w]
        _splitmix64(h)
    return h


def _id_hash(ids: pd.Series, salt: int) -> np.ndarray:
    """Salted 64-bit hash of each id's UTF-8 text; the same for any dtype holding the same text.

    Ids are read as Arrow strings (numbers become their decimal text), and each
    id's bytes are folded 8 at a time through the SplitMix64 finaliser, seeded
    by the salt and the byte length. Vectorised per id length, in chunks.
    """
    arr = pa.array(ids)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type not in (pa.string(), pa.large_string()):
        arr = pc.cast(arr, pa.large_string())
    off_type = np.int64 if arr.type == pa.large_string() else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=off_type)[arr.offset:arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None \
        else np.zeros(0, dtype=np.uint8)
    lengths = np.diff(offsets)
    out = np.empty(len(arr), dtype=np.uint64)
    if len(arr) == 0:
        return out
    if lengths.min() == lengths.max():      # fixed width (typical ids): one contiguous block
        length = int(lengths[0])
        block = data[offsets[0]:offsets[-1]].reshape(len(arr), length)
        for c in range(0, len(arr), _HASH_CHUNK):
            out[c:c + _HASH_CHUNK] = _hash_words(block[c:c + _HASH_CHUNK], length, salt)
        return out
    starts = offsets[:-1]
    for length in np.flatnonzero(np.bincount(lengths)):
        rows = np.flatnonzero(lengths == length)
        length = int(length)
        for c in range(0, len(rows), _HASH_CHUNK):
            r = rows[c:c + _HASH_CHUNK]
            block = data[starts[r][:, None] + np.arange(length)]
            out[r] = _hash_words(block, length, salt)
    return out


def _prn_keys(decisions: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Permanent random number per row as a uint64, from the decision id and a salt from ``rng``.

    Divide by 2**64 for a uniform number in [0, 1) (see :func:`_unit`).
    """
    _require_columns(decisions, [S.DECISION_ID], "it keys the random draw")
    ids = decisions[S.DECISION_ID]
    if ids.isna().any():
        raise DataContractError([{"table": "decisions", "column": S.DECISION_ID,
                                  "rule": "must not be empty", "count": int(ids.isna().sum())}])
    salt = int(rng.integers(0, 2**63, dtype=np.int64))
    h = _id_hash(ids, salt)
    if len(h) > 1:
        srt = np.sort(h)
        if np.any(srt[1:] == srt[:-1]) and ids.duplicated().any():
            dup = ids[ids.duplicated()].unique()[:5].tolist()
            raise DataContractError([{"table": "decisions", "column": S.DECISION_ID,
                                      "rule": f"must be unique (duplicates: {dup})",
                                      "count": int(ids.duplicated().sum())}])
    return h


def _unit(keys: np.ndarray) -> np.ndarray:
    """uint64 keys to floats in [0, 1) (top 53 bits)."""
    return (keys >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def _argsort_keys(keys: np.ndarray) -> np.ndarray:
    """Indices that sort distinct uint64 keys, faster than ``np.argsort``.

    Packs the key's top bits with the row index into one uint64 and sorts
    values (SIMD sort) instead of indices; runs whose top bits tie are then
    ordered by the full key, so the result is exactly ``argsort(keys)``.
    """
    n = len(keys)
    bits = max(1, (n - 1).bit_length())
    if bits > 40:  # pragma: no cover - more than 2**40 rows
        return np.argsort(keys, kind="stable")
    shift = np.uint64(bits)
    packed = (keys >> shift) << shift
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    idx = (packed & np.uint64((1 << bits) - 1)).astype(np.int64)
    top = packed >> shift
    tie = np.flatnonzero(top[1:] == top[:-1])
    if tie.size:
        run_start = tie[np.concatenate([[True], np.diff(tie) > 1])]
        for s0 in run_start:
            s1 = s0 + 1
            while s1 < n and top[s1] == top[s0]:
                s1 += 1
            run = idx[s0:s1]
            idx[s0:s1] = run[np.lexsort((run, keys[run]))]
    return idx


def stratified_sample(decisions: pd.DataFrame, strata: Sequence[str], n, allocation: str = "proportional",
                      min_per_stratum: int = 1, prior_error_rates=None, default_prior: float = 0.5,
                      *, seed) -> pd.DataFrame:
    """Draw a stratified simple random sample of decisions without replacement.

    Parameters
    ----------
    decisions : DataFrame
        Population; needs ``decision_id`` (unique, non-empty) and the strata columns.
    strata, n, allocation, min_per_stratum, prior_error_rates, default_prior
        As in :func:`allocate`.
    seed : int or numpy.random.Generator
        Same data, parameters and seed give the same sample, whatever the row order.

    Returns
    -------
    DataFrame
        The selected rows (a copy, original index and column order, in input
        row order) plus ``stratum`` (key ``"a|b|c"``), ``inclusion_prob``
        (n_h / N_h) and ``weight`` (N_h / n_h).

    Raises
    ------
    SamplingError
        As :func:`allocate`: never returns fewer rows than asked.
    DataContractError
        Missing columns, empty or duplicated decision ids.

    Notes
    -----
    Within stratum h the n_h decisions with the smallest permanent random
    numbers are taken, which is simple random sampling without replacement
    [2]_, so every decision in h has inclusion probability n_h / N_h and the
    Horvitz-Thompson estimator [1]_ with ``weight`` is design-unbiased. Tested
    by simulation: over repeated draws with unequal inclusion probabilities
    the weighted accuracy is unbiased and the unweighted one is not.

    References
    ----------
    .. [1] Horvitz, D. G. and Thompson, D. J. (1952). *JASA* 47, 663-685.
    .. [2] Ohlsson, E. (1995). Coordination of samples using permanent random
       numbers. In Cox et al. (eds), *Business Survey Methods*, Wiley, 153-169.
    .. [3] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, Ch. 5.
    """
    rng = _rng(seed)
    st, _, alloc = _allocate(decisions, strata, n, allocation, min_per_stratum, prior_error_rates,
                             default_prior)
    keys = _prn_keys(decisions, rng)
    pop = st.pop
    n_strata = len(pop)
    code_dtype = np.int16 if n_strata < 2**15 else np.int64   # int16 sorts by radix: fast
    order = np.argsort(st.codes.astype(code_dtype), kind="stable")
    bounds = np.concatenate([[0], np.cumsum(pop)])
    chosen = []
    for h in np.flatnonzero(alloc):
        seg = order[bounds[h]:bounds[h + 1]]
        k = int(alloc[h])
        if k >= len(seg):
            chosen.append(seg)
        else:
            chosen.append(seg[np.argpartition(keys[seg], k - 1)[:k]])
    sel = np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)
    if len(sel) != int(alloc.sum()):  # pragma: no cover
        raise RuntimeError("drawn sample size differs from the allocation; this is a bug")
    out = decisions.iloc[sel].copy()
    h = st.codes[sel]
    out[S.STRATUM] = pd.array(st.keys[h].astype(str), dtype="str")
    out[S.INCLUSION_PROB] = alloc[h] / pop[h]
    out[S.WEIGHT] = pop[h] / alloc[h]
    return out


def estimate_prior_error_rates(decisions: pd.DataFrame, audits: pd.DataFrame, strata: Sequence[str],
                               strength: float = 20.0) -> pd.DataFrame:
    """Prior error rate per stratum from past audits, shrunk towards the overall rate.

    Parameters
    ----------
    decisions : DataFrame
        Decisions holding ``decision_id`` and the strata columns.
    audits : DataFrame
        Past audits (``decision_id``, ``is_error``; ``weight`` and
        ``is_golden`` used when present; golden audits are ignored).
    strata : list of str
    strength : float, default 20
        Pseudo-audits of the overall rate added to each stratum: a stratum
        with few audits stays close to the overall rate.

    Returns
    -------
    DataFrame
        ``stratum``, the strata columns, ``n`` (audits) and ``error_rate``
        = (n r_h + k r) / (n + k), with r_h the design-weighted (Hajek) error
        rate of the stratum and r the overall one. Empty when there are no audits.

    Notes
    -----
    Additive (beta-prior) shrinkage [1]_; only the relative sizes of
    sqrt(p (1 - p)) matter for Neyman allocation, so a rough prior is enough.

    References
    ----------
    .. [1] Gelman, A. et al. (2013). *Bayesian Data Analysis*, 3rd ed. CRC, Sect. 2.4-2.7.
    """
    strata = [strata] if isinstance(strata, str) else list(strata)
    strength = float(strength)
    if strength < 0:
        raise SamplingError(f"strength must be >= 0, got {strength}")
    cols = [S.STRATUM, *strata, S.N, S.ERROR_RATE]
    aud = audits
    if S.IS_GOLDEN in aud.columns:
        aud = aud[~aud[S.IS_GOLDEN].astype(bool)]
    _require_columns(decisions, [S.DECISION_ID, *strata], "prior error rates")
    m = aud[[c for c in (S.DECISION_ID, S.IS_ERROR, S.WEIGHT) if c in aud.columns]].merge(
        decisions[[S.DECISION_ID, *strata]], on=S.DECISION_ID, how="inner")
    if m.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c == S.ERROR_RATE else object) for c in cols})
    w = m[S.WEIGHT].astype(float) if S.WEIGHT in m.columns else pd.Series(1.0, index=m.index)
    e = m[S.IS_ERROR].astype(float)
    overall = float((w * e).sum() / w.sum())
    g = pd.DataFrame({"we": w * e, "w": w, "one": 1}).groupby(
        [m[c] for c in strata], dropna=False, observed=True, sort=True).sum()
    rate = g["we"] / g["w"]
    out = g.index.to_frame(index=False)
    out[S.N] = g["one"].to_numpy().astype(np.int64)
    out[S.ERROR_RATE] = ((out[S.N] * rate.to_numpy() + strength * overall) / (out[S.N] + strength)).to_numpy()
    out.insert(0, S.STRATUM, out[strata].astype(object).apply(lambda r: STRATUM_SEP.join(_key_strings(r)),
                                                               axis=1).astype("str"))
    return out[cols]


# =============================================================== risk-weighted
@dataclass(frozen=True)
class RiskWeights:
    """Multipliers of the selection size for risky decisions.

    A decision's size is ``base`` times the multiplier of every risk flag it
    has (flags combine multiplicatively); inclusion probabilities are
    proportional to size (see :func:`pps_inclusion_probabilities`). A
    multiplier of 1 switches a flag off.

    Attributes
    ----------
    low_confidence : float, default 3
        Model score within ``confidence_band`` of 0.5 (``|score - 0.5| < band``).
    confidence_band : float, default 0.15
    new_moderator : float, default 2
        Moderator tenure below ``new_moderator_days`` days.
    new_moderator_days : int, default 30
    critical_policy : float, default 3
        Policy is critical (``critical_policies``, default from the taxonomy).
    livestream : float, default 2
        Content type in ``livestream_types``.
    livestream_types : tuple of str, default ("livestream",)
    critical_policies : tuple of str or None
        None reads ``critical: true`` policies from ``params/taxonomy.yaml``.
    base : float, default 1
    """

    low_confidence: float = 3.0
    confidence_band: float = 0.15
    new_moderator: float = 2.0
    new_moderator_days: int = 30
    critical_policy: float = 3.0
    livestream: float = 2.0
    livestream_types: tuple[str, ...] = ("livestream",)
    critical_policies: tuple[str, ...] | None = None
    base: float = 1.0

    @classmethod
    def coerce(cls, risk) -> "RiskWeights":
        """Accept a RiskWeights, a mapping of overrides, or None (defaults)."""
        if risk is None:
            return cls()
        if isinstance(risk, cls):
            return risk
        if isinstance(risk, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(risk) - known)
            if unknown:
                raise SamplingError(f"unknown risk weight(s) {unknown}; known: {sorted(known)}")
            kw = dict(risk)
            for k in ("livestream_types", "critical_policies"):
                if kw.get(k) is not None:
                    kw[k] = tuple(kw[k])
            return cls(**kw)
        raise SamplingError(f"risk must be a RiskWeights, a dict or None, got {type(risk).__name__}")

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("livestream_types", "critical_policies"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d


_FLAGS = ("low_confidence", "new_moderator", "critical_policy", "livestream")
_FLAG_COLUMNS = {"low_confidence": S.MODEL_SCORE, "new_moderator": S.MODERATOR_TENURE_DAYS,
                 "critical_policy": S.POLICY, "livestream": S.CONTENT_TYPE}


def _risk_flags(decisions: pd.DataFrame, risk: RiskWeights) -> tuple[np.ndarray, np.ndarray]:
    """(size per row, flag bit code per row)."""
    for name in ("base", *_FLAGS):
        v = getattr(risk, name)
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise SamplingError(f"risk weight {name} must be a positive number, got {v!r}")
    size = np.full(len(decisions), float(risk.base))
    code = np.zeros(len(decisions), dtype=np.int8)
    for bit, name in enumerate(_FLAGS):
        mult = float(getattr(risk, name))
        col = _FLAG_COLUMNS[name]
        if col not in decisions.columns:
            if mult == 1.0:
                continue
            raise DataContractError([{"table": "decisions", "column": col,
                                      "rule": f"required column missing (risk flag '{name}'; "
                                              f"set RiskWeights({name}=1) to ignore it)", "count": len(decisions)}])
        s = decisions[col]
        if name == "low_confidence":
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            flag = np.abs(v - 0.5) < risk.confidence_band
        elif name == "new_moderator":
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            flag = v < risk.new_moderator_days
        elif name == "critical_policy":
            crit = risk.critical_policies
            if crit is None:
                crit = tuple(sorted(S.load_taxonomy().critical_policies))
            flag = s.isin(list(crit)).to_numpy(dtype=bool)
        else:
            flag = s.isin(list(risk.livestream_types)).to_numpy(dtype=bool)
        flag = np.asarray(flag, dtype=bool)
        if mult != 1.0:
            size[flag] *= mult
        code |= (flag.astype(np.int8) << bit)
    return size, code


def _flag_labels() -> np.ndarray:
    labels = []
    for c in range(2 ** len(_FLAGS)):
        on = [f for b, f in enumerate(_FLAGS) if c >> b & 1]
        labels.append("risk:" + ("+".join(on) if on else "base"))
    return np.array(labels, dtype=object)


def risk_profile(decisions: pd.DataFrame, risk=None) -> pd.DataFrame:
    """Risk flags and selection size of each decision.

    Parameters
    ----------
    decisions : DataFrame
    risk : RiskWeights, dict or None

    Returns
    -------
    DataFrame
        Same index as ``decisions``; columns ``low_confidence``,
        ``new_moderator``, ``critical_policy``, ``livestream`` (bool),
        ``size`` (float) and ``stratum`` (label such as
        ``"risk:low_confidence+livestream"`` or ``"risk:base"``).
    """
    risk = RiskWeights.coerce(risk)
    size, code = _risk_flags(decisions, risk)
    out = pd.DataFrame({f: (code >> b & 1).astype(bool) for b, f in enumerate(_FLAGS)}, index=decisions.index)
    out["size"] = size
    out[S.STRATUM] = _flag_labels()[code]
    return out


def pps_inclusion_probabilities(size, n: int) -> np.ndarray:
    """Inclusion probabilities proportional to size, capped at 1, summing to n.

    ``pi_i = min(1, c * x_i)``; units that would exceed 1 are taken with
    certainty and ``c`` is recomputed for the rest until no unit exceeds 1.

    Parameters
    ----------
    size : array-like of float
        Positive size measures.
    n : int
        Expected sample size, 1 <= n <= len(size).

    Returns
    -------
    ndarray
        pi_i in (0, 1], summing to n (up to float rounding).

    References
    ----------
    .. [1] Tille, Y. (2006). *Sampling Algorithms*. Springer, Sect. 2.10.
    .. [2] Sarndal, C.-E., Swensson, B. and Wretman, J. (1992). *Model Assisted
       Survey Sampling*. Springer, Sect. 3.6.
    """
    x = np.asarray(size, dtype=float)
    n = _check_int(n, "n", 0)
    if n == 0:
        raise SamplingError("n = 0: nothing to sample; ask for at least 1 decision")
    if len(x) == 0:
        raise SamplingError("cannot sample from an empty population (0 decisions)")
    if n > len(x):
        raise SamplingError(f"n = {n} is larger than the population ({len(x)} decisions); lower n")
    if np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise SamplingError("sizes must be finite and > 0")
    certain = np.zeros(len(x), dtype=bool)
    while True:
        rest = ~certain
        k = int(certain.sum())
        if k == n:  # cannot happen with positive sizes unless n == N
            break
        c = (n - k) / x[rest].sum()
        new = rest & (c * x >= 1.0)
        if not new.any():
            break
        certain |= new
    pi = np.where(certain, 1.0, c * x if k < n else 0.0)
    return pi


def risk_weighted_sample(decisions: pd.DataFrame, n: int, risk=None, method: str = "systematic",
                         *, seed) -> pd.DataFrame:
    """Oversample risky decisions with exactly known inclusion probabilities.

    Low model confidence, new moderators, critical policies and livestreams
    raise a decision's size (see :class:`RiskWeights`); inclusion
    probabilities are proportional to size, capped at 1 with the surplus
    redistributed (:func:`pps_inclusion_probabilities`).

    Parameters
    ----------
    decisions : DataFrame
        Needs ``decision_id`` and the columns of the active risk flags
        (``model_score``, ``moderator_tenure_days``, ``policy``, ``content_type``).
        Missing scores or tenures simply do not raise the size.
    n : int
        Sample size (expected sample size for ``method="poisson"``).
    risk : RiskWeights, dict or None
        Multipliers; None uses the defaults.
    method : {"systematic", "poisson"}, default "systematic"
        ``systematic``: randomised systematic pi-ps sampling (units in random
        order, one random start): the realised size is exactly n.
        ``poisson``: each decision is taken independently with probability
        pi_i: the realised size is random, with mean n and variance
        sum pi_i (1 - pi_i).
    seed : int or numpy.random.Generator

    Returns
    -------
    DataFrame
        Selected rows (copy, input order) plus ``stratum`` (the risk profile
        label, e.g. ``"risk:critical_policy+livestream"``: descriptive, not a
        design stratum), ``inclusion_prob`` (pi_i) and ``weight`` (1 / pi_i).

    Notes
    -----
    Both designs have first-order inclusion probabilities exactly pi_i, so
    Horvitz-Thompson estimates with ``weight`` are unbiased [1]_. Randomised
    systematic sampling [2]_ fixes n but has no unbiased variance estimator;
    the usual approximation treats it as Poisson or with-replacement
    sampling [3]_. Tested by simulation against the population truth and by
    comparing empirical selection frequencies with ``inclusion_prob``.

    References
    ----------
    .. [1] Horvitz, D. G. and Thompson, D. J. (1952). *JASA* 47, 663-685.
    .. [2] Hartley, H. O. and Rao, J. N. K. (1962). *Ann. Math. Statist.* 33, 350-374.
    .. [3] Sarndal, C.-E., Swensson, B. and Wretman, J. (1992). *Model Assisted
       Survey Sampling*. Springer, Sect. 3.5-3.6.
    """
    if method not in RISK_METHODS:
        raise SamplingError(f"method must be one of {RISK_METHODS}, got {method!r}")
    rng = _rng(seed)
    risk = RiskWeights.coerce(risk)
    n = _check_int(n, "n", 0)
    if n == 0:
        raise SamplingError("n = 0: nothing to sample; ask for at least 1 decision")
    if len(decisions) == 0:
        raise SamplingError("cannot sample from an empty population (0 decisions); "
                            "check the filters that produced it")
    if n > len(decisions):
        raise SamplingError(f"n = {n} is larger than the population ({len(decisions)} decisions); lower n")
    size, code = _risk_flags(decisions, risk)
    pi = pps_inclusion_probabilities(size, n)
    keys = _prn_keys(decisions, rng)
    if method == "poisson":
        take = _unit(keys) < pi
    else:
        take = pi >= 1.0
        rest = np.flatnonzero(~take)
        m = n - int(take.sum())
        if m > 0:
            order = rest[_argsort_keys(keys[rest])]             # random order from the PRNs
            cum = np.cumsum(pi[order])
            cum *= m / cum[-1]
            cum[-1] = m
            r = 1.0 - rng.random()                              # start in (0, 1]
            hits = np.floor(cum - r)
            prev = np.concatenate([[-1.0], hits[:-1]])
            take[order[hits > prev]] = True
        if int(take.sum()) != n:  # pragma: no cover
            raise RuntimeError("systematic sample size differs from n; this is a bug")
    sel = np.flatnonzero(take)
    out = decisions.iloc[sel].copy()
    out[S.STRATUM] = _flag_labels()[code[sel]]
    out[S.INCLUSION_PROB] = pi[sel]
    out[S.WEIGHT] = 1.0 / pi[sel]
    return out


# ================================================================= worklists
_GOLDEN_FIXED = {S.DECISION_ID, S.ITEM_ID, S.IS_GOLDEN, S.STRATUM, S.INCLUSION_PROB, S.WEIGHT,
                 S.AUDITOR_ID, S.SAMPLE_ID}


def inject_golden(worklist: pd.DataFrame, golden: pd.DataFrame, share: float = 0.05, *, seed) -> pd.DataFrame:
    """Mix known-answer (golden) items blind into the worklist(s).

    Parameters
    ----------
    worklist : DataFrame
        Sampled decisions; if it has ``auditor_id``, each auditor's list gets
        its own golden items and is shuffled separately.
    golden : DataFrame
        Golden items: ``item_id`` (required), ``gold_label`` and ``policy``;
        any other column the worklist also has (``content_id``,
        ``content_type``, ``market`` ...) is copied, so the item looks like a
        decision. Items whose id is already a ``decision_id`` of the worklist are not
        used (the auditor would see the case twice).
    share : float, default 0.05
        Target share of golden items in each final list, in [0, 1): an
        auditor with m sampled decisions gets round(m * share / (1 - share))
        distinct golden items (so 5 % of 190 -> 10 golden of 200).
    seed : int or numpy.random.Generator

    Returns
    -------
    DataFrame
        Worklist rows and golden rows, grouped by auditor (sorted) and shuffled
        within each, with a fresh 0..k-1 index. Adds ``is_golden``,
        ``item_id`` and ``gold_label``. Golden rows have ``decision_id`` =
        ``item_id`` (``content_id`` too unless given), the golden table's other
        shared columns, ``is_golden`` True,
        ``inclusion_prob`` 1, ``weight`` 1 and ``stratum`` ``"golden"``; other
        decision columns are empty.

    Raises
    ------
    SamplingError
        If a list needs more golden items than the golden set holds.
    """
    share = _check_prob(share, "share", lo_open=False)
    rng = _rng(seed)
    if share > 0:
        _require_columns(golden, [S.ITEM_ID], "golden items")
        if golden[S.ITEM_ID].isna().any() or golden[S.ITEM_ID].duplicated().any():
            raise SamplingError("golden item_id must be unique and non-empty")
    out = worklist.copy()
    if S.IS_GOLDEN not in out.columns:
        out[S.IS_GOLDEN] = False
    for c in (S.ITEM_ID, S.GOLD_LABEL):
        if c not in out.columns:
            out[c] = pd.Series(pd.NA, index=out.index, dtype="str")
    if share > 0:  # golden rows leave decision columns empty: keep integers and booleans nullable
        for c in out.columns:
            if pd.api.types.is_integer_dtype(out[c]) and not isinstance(out[c].dtype, pd.CategoricalDtype):
                out[c] = out[c].astype("Int64")
            elif pd.api.types.is_bool_dtype(out[c]) and c != S.IS_GOLDEN:
                out[c] = out[c].astype("boolean")
    has_auditor = S.AUDITOR_ID in out.columns
    if has_auditor:
        if out[S.AUDITOR_ID].isna().any():
            raise SamplingError("every worklist row needs an auditor_id (assign auditors first)")
        groups = [(a, out[out[S.AUDITOR_ID] == a]) for a in sorted(out[S.AUDITOR_ID].unique())]
    else:
        groups = [(None, out)]
    if share > 0 and S.DECISION_ID in out.columns:   # an item already in the sample would show twice
        golden = golden[~golden[S.ITEM_ID].astype(str).isin(out[S.DECISION_ID].astype(str))]
    pieces = []
    for auditor, rows in groups:
        k = int(math.floor(len(rows) * share / (1 - share) + 0.5)) if share > 0 else 0
        if k > len(golden):
            who = f" for auditor '{auditor}'" if auditor is not None else ""
            raise SamplingError(f"golden share {share:g} needs {k} distinct golden items{who} "
                                f"but the golden set holds {len(golden)}; add golden items or lower the share")
        parts = [rows]
        if k:
            g = golden.iloc[rng.choice(len(golden), size=k, replace=False)]
            gr = pd.DataFrame({
                S.DECISION_ID: g[S.ITEM_ID].astype(str).to_numpy(),
                S.CONTENT_ID: g[S.ITEM_ID].astype(str).to_numpy(),
                S.ITEM_ID: g[S.ITEM_ID].astype(str).to_numpy(),
                S.IS_GOLDEN: True,
                S.STRATUM: GOLDEN_STRATUM,
                S.INCLUSION_PROB: 1.0,
                S.WEIGHT: 1.0,
            })
            for c in g.columns:   # describe the item like a decision where the golden table can
                if (c in out.columns and c not in _GOLDEN_FIXED) or c == S.GOLD_LABEL:
                    v = g[c].to_numpy()
                    gr[c] = np.where(pd.isna(v), gr[c].to_numpy(), v) if c == S.CONTENT_ID else v
            if auditor is not None:
                gr[S.AUDITOR_ID] = auditor
            parts.append(gr)
        both = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
            else rows.reset_index(drop=True)
        pieces.append(both.iloc[rng.permutation(len(both))])
    res = pd.concat(pieces, ignore_index=True) if pieces else out.reset_index(drop=True)
    res[S.IS_GOLDEN] = res[S.IS_GOLDEN].fillna(False).astype(bool)
    return res[list(out.columns) + [c for c in res.columns if c not in out.columns]]


def _feasible_assignment(pairs, m, n_aud, lower, upper):
    """Integer x over eligible (class, auditor) pairs: class totals m, loads in [lower, upper]."""
    n_pairs = len(pairs)
    rows_c = pairs[:, 0]
    rows_a = pairs[:, 1]
    a_class = sparse.csr_matrix((np.ones(n_pairs), (rows_c, np.arange(n_pairs))), shape=(len(m), n_pairs))
    a_load = sparse.csr_matrix((np.ones(n_pairs), (rows_a, np.arange(n_pairs))), shape=(n_aud, n_pairs))
    res = milp(c=np.zeros(n_pairs), integrality=np.ones(n_pairs),
               bounds=Bounds(0, np.inf),
               constraints=[LinearConstraint(a_class, m, m), LinearConstraint(a_load, lower, upper)])
    if res.status != 0 or res.x is None:
        return None
    return np.round(res.x).astype(np.int64)


def assign_auditors(sample: pd.DataFrame, auditors: Sequence[str], auditor_sites=None, *, seed) -> pd.DataFrame:
    """Hand out sampled decisions to auditors in balanced worklists.

    Constraints: an auditor never reviews a decision made by themselves
    (``auditor_id == moderator_id``) nor, when ``auditor_sites`` is given, a
    decision from their own site.

    Parameters
    ----------
    sample : DataFrame
        Rows to assign; uses ``moderator_id`` when present and ``site`` when
        ``auditor_sites`` is given. Rows with an empty site or moderator (e.g.
        golden items, machine decisions) carry no constraint.
    auditors : sequence of str
        Auditor ids (distinct).
    auditor_sites : mapping or Series, optional
        Auditor id -> site. Must cover every auditor when given.
    seed : int or numpy.random.Generator

    Returns
    -------
    DataFrame
        ``sample`` (copy, same row order and index) with an ``auditor_id`` column.

    Raises
    ------
    SamplingError
        No auditors, duplicated auditors, a site missing for an auditor, or a
        decision no auditor may review (the message names the site/moderator).

    Notes
    -----
    Decisions fall into a few classes by (site, moderator-is-an-auditor); the
    number each auditor gets from each class is an integer transportation
    problem solved with HiGHS through :func:`scipy.optimize.milp` [1]_: first
    the smallest feasible largest worklist U, then, with U fixed, the largest
    feasible smallest worklist L (an auditor who may review only r < L of the
    decisions gets all r). Without binding constraints the counts differ by
    at most 1. Which decisions of a class go to whom is random (``seed``).

    References
    ----------
    .. [1] Huangfu, Q. and Hall, J. A. J. (2018). Parallelizing the dual revised
       simplex method. *Math. Prog. Comp.* 10, 119-142.
    """
    rng = _rng(seed)
    auditors = [str(a) for a in auditors]
    if not auditors:
        raise SamplingError("no auditors to assign the sample to")
    if len(set(auditors)) != len(auditors):
        dup = sorted({a for a in auditors if auditors.count(a) > 1})
        raise SamplingError(f"auditors listed twice: {dup}")
    out = sample.copy()
    if len(out) == 0:
        out[S.AUDITOR_ID] = pd.Series(dtype="str")
        return out
    n_aud = len(auditors)
    perm = rng.permutation(n_aud)                 # who gets the extra rows is random
    aud = [auditors[i] for i in perm]
    aud_index = {a: i for i, a in enumerate(aud)}

    if S.MODERATOR_ID in out.columns:
        mod = out[S.MODERATOR_ID].astype(object).map(lambda v: aud_index.get(str(v), -1) if pd.notna(v) else -1)
        mod = mod.to_numpy(dtype=np.int64)
    else:
        mod = np.full(len(out), -1, dtype=np.int64)
    if auditor_sites is not None:
        site_of = {str(k): v for k, v in dict(auditor_sites).items()}
        missing = [a for a in auditors if a not in site_of or pd.isna(site_of[a])]
        if missing:
            raise SamplingError(f"auditor_sites gives no site for auditor(s) {missing[:10]}; "
                                "give every auditor a site, or pass auditor_sites=None")
        _require_columns(out, [S.SITE], "auditor site constraint")
        site_codes, site_uniques = pd.factorize(out[S.SITE], use_na_sentinel=True)
        aud_site = np.array([str(site_of[a]) for a in aud], dtype=object)
    else:
        site_codes, site_uniques = np.full(len(out), -1), pd.Index([])
        aud_site = None
    cls_frame = pd.DataFrame({"s": site_codes, "m": mod})
    cls_codes, cls_uniques = pd.factorize(pd.MultiIndex.from_frame(cls_frame))
    cls = cls_uniques.to_frame(index=False).to_numpy()
    m = np.bincount(cls_codes, minlength=len(cls)).astype(float)

    elig = np.ones((len(cls), n_aud), dtype=bool)
    for c, (s, mo) in enumerate(cls):
        if s >= 0 and aud_site is not None:
            elig[c] &= aud_site != str(site_uniques[s])
        if mo >= 0:
            elig[c, mo] = False
    empty = np.flatnonzero(~elig.any(axis=1))
    if len(empty):
        msgs = []
        for c in empty:
            s, mo = cls[c]
            what = []
            if s >= 0:
                what.append(f"site '{site_uniques[s]}'")
            if mo >= 0:
                what.append(f"moderator '{aud[mo]}'")
            msgs.append(f"{int(m[c])} decision(s) from {' and '.join(what)}")
        raise SamplingError("no eligible auditor for " + "; ".join(msgs) + ": every auditor is based at that site "
                            "or made the decision; add auditors from other sites")

    pairs = np.argwhere(elig)
    total = int(m.sum())
    reach = (elig * m[:, None]).sum(axis=0)          # most rows each auditor could get
    lo_u, hi_u = math.ceil(total / n_aud), total
    best = None
    while lo_u < hi_u:                               # smallest feasible largest worklist
        mid = (lo_u + hi_u) // 2
        x = _feasible_assignment(pairs, m, n_aud, np.zeros(n_aud), np.full(n_aud, mid))
        if x is None:
            lo_u = mid + 1
        else:
            hi_u, best = mid, x
    u_max = lo_u
    if best is None:
        best = _feasible_assignment(pairs, m, n_aud, np.zeros(n_aud), np.full(n_aud, u_max))
    lo_l, hi_l = 0, min(u_max, total // n_aud)
    while lo_l < hi_l:                               # largest feasible smallest worklist
        mid = (lo_l + hi_l + 1) // 2
        x = _feasible_assignment(pairs, m, n_aud, np.minimum(mid, reach), np.full(n_aud, u_max))
        if x is None:
            hi_l = mid - 1
        else:
            lo_l, best = mid, x
    counts = np.zeros((len(cls), n_aud), dtype=np.int64)
    counts[pairs[:, 0], pairs[:, 1]] = best

    assigned = np.empty(len(out), dtype=object)
    for c in range(len(cls)):
        rows = rng.permutation(np.flatnonzero(cls_codes == c))
        cuts = np.cumsum(counts[c])
        start = 0
        for a in range(n_aud):
            assigned[rows[start:cuts[a]]] = aud[a]
            start = cuts[a]
    out[S.AUDITOR_ID] = pd.array(assigned, dtype="str")
    return out


# ===================================================================== plans
@dataclass(frozen=True)
class SamplePlan:
    """Everything needed to reproduce and check a sample draw.

    Attributes
    ----------
    sample_id : str
        Deterministic id from method, parameters, seed and data fingerprint.
    method : {"stratified", "risk_weighted"}
    params : dict
        JSON-safe keyword arguments of :func:`stratified_sample` or
        :func:`risk_weighted_sample` (without ``seed``).
    seed : int
    fingerprint : str
        :func:`decisions_fingerprint` of the population drawn from.
    fingerprint_columns : tuple of str
    counts : dict
        ``population``, ``drawn``, ``strata`` and ``by_stratum`` (rows drawn per stratum).
    created_at : str
        UTC time, ISO 8601.
    metadata : dict
        Free context (week, unit, margin, ...); not used to draw.
    """

    sample_id: str
    method: str
    params: dict
    seed: int
    fingerprint: str
    fingerprint_columns: tuple[str, ...]
    counts: dict
    created_at: str
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fingerprint_columns"] = list(self.fingerprint_columns)
        return {"format": PLAN_FORMAT, **d}

    @classmethod
    def from_dict(cls, d: Mapping) -> "SamplePlan":
        d = dict(d)
        fmt = d.pop("format", None)
        if fmt != PLAN_FORMAT:
            raise InputFileError(f"not a modqa sample plan (format {fmt!r}, expected {PLAN_FORMAT})")
        names = {f.name for f in fields(cls)}
        missing = sorted(n for n in names - set(d) if n != "metadata")
        if missing:
            raise InputFileError(f"sample plan is missing key(s) {missing}")
        d = {k: v for k, v in d.items() if k in names}
        d["fingerprint_columns"] = tuple(d["fingerprint_columns"])
        return cls(**d)


def decisions_fingerprint(decisions: pd.DataFrame, columns: Sequence[str] = ()) -> str:
    """Order-independent SHA-256 fingerprint of decision ids and the columns a draw uses.

    Parameters
    ----------
    decisions : DataFrame
    columns : sequence of str
        Columns besides ``decision_id`` (e.g. the strata).

    Returns
    -------
    str
        16 hex characters. Row order does not matter (row hashes are sorted),
        matching the order-independence of the draw; any change of an id or a
        listed value, or of the number of rows, changes it.
    """
    cols = list(dict.fromkeys([S.DECISION_ID, *columns]))
    _require_columns(decisions, cols, "fingerprint")
    h = pd.util.hash_pandas_object(decisions[cols], index=False).to_numpy()
    sha = hashlib.sha256()
    sha.update("\x1f".join(cols).encode())
    sha.update(str(len(h)).encode())
    sha.update(np.sort(h).tobytes())
    return sha.hexdigest()[:16]


def _jsonable(v):
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _plan_params(method: str, params: dict) -> tuple[dict, list[str]]:
    """JSON-safe parameters and the data columns the draw depends on."""
    p = dict(params)
    if method == "stratified":
        allowed = {"strata", "n", "allocation", "min_per_stratum", "prior_error_rates", "default_prior"}
        unknown = sorted(set(p) - allowed)
        if unknown:
            raise SamplingError(f"unknown parameter(s) for a stratified plan: {unknown}")
        if "strata" not in p or "n" not in p:
            raise SamplingError("a stratified plan needs strata= and n=")
        strata = [p["strata"]] if isinstance(p["strata"], str) else list(p["strata"])
        p["strata"] = strata
        if isinstance(p["n"], Mapping):
            p["n"] = {str(k): int(v) for k, v in p["n"].items()}
        if p.get("prior_error_rates") is not None:
            p["prior_error_rates"] = _prior_map(p["prior_error_rates"], strata)
        cols = strata
    elif method == "risk_weighted":
        allowed = {"n", "risk", "method"}
        unknown = sorted(set(p) - allowed)
        if unknown:
            raise SamplingError(f"unknown parameter(s) for a risk_weighted plan: {unknown}")
        if "n" not in p:
            raise SamplingError("a risk_weighted plan needs n=")
        risk = RiskWeights.coerce(p.get("risk"))
        if risk.critical_policies is None:  # freeze the taxonomy in the plan
            risk = RiskWeights.coerce({**risk.to_dict(),
                                       "critical_policies": sorted(S.load_taxonomy().critical_policies)})
        p["risk"] = risk.to_dict()
        cols = [_FLAG_COLUMNS[f] for f in _FLAGS if getattr(risk, f) != 1.0]
    else:
        raise SamplingError(f"method must be 'stratified' or 'risk_weighted', got {method!r}")
    return _jsonable(p), cols


def _draw(method: str, decisions: pd.DataFrame, params: dict, seed: int) -> pd.DataFrame:
    if method == "stratified":
        return stratified_sample(decisions, seed=seed, **params)
    return risk_weighted_sample(decisions, seed=seed, **params)


def make_plan(decisions: pd.DataFrame, method: str = "stratified", *, seed: int, sample_id: str | None = None,
              metadata: Mapping | None = None, return_sample: bool = False, **params):
    """Draw a sample and record how, so it can be saved and redrawn.

    Parameters
    ----------
    decisions : DataFrame
        The population (already filtered, e.g. to one week).
    method : {"stratified", "risk_weighted"}, default "stratified"
    seed : int
        Must be an int (a Generator cannot be written to JSON).
    sample_id : str, optional
        Default: ``"S"`` + 10 hex characters derived from method, params, seed
        and fingerprint (same inputs, same id).
    metadata : mapping, optional
        JSON-safe context stored in the plan.
    return_sample : bool, default False
        Also return the drawn sample (with a ``sample_id`` column).
    **params
        Keyword arguments of :func:`stratified_sample` or :func:`risk_weighted_sample`.

    Returns
    -------
    SamplePlan, or (SamplePlan, DataFrame) when ``return_sample``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SamplingError(f"a plan needs an integer seed so it can be redrawn, got {seed!r}")
    seed = int(seed)
    p, cols = _plan_params(method, params)
    sample = _draw(method, decisions, p, seed)
    fp = decisions_fingerprint(decisions, cols)
    if sample_id is None:
        blob = json.dumps({"m": method, "p": p, "s": seed, "f": fp}, sort_keys=True, default=str)
        sample_id = "S" + hashlib.sha256(blob.encode()).hexdigest()[:10]
    by_stratum = sample[S.STRATUM].value_counts().sort_index()
    counts = {"population": int(len(decisions)), "drawn": int(len(sample)),
              "strata": int(len(by_stratum)),
              "by_stratum": {str(k): int(v) for k, v in by_stratum.items()}}
    plan = SamplePlan(sample_id=str(sample_id), method=method, params=p, seed=seed, fingerprint=fp,
                      fingerprint_columns=tuple(dict.fromkeys([S.DECISION_ID, *cols])), counts=counts,
                      created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      metadata=_jsonable(dict(metadata or {})))
    if return_sample:
        sample[S.SAMPLE_ID] = plan.sample_id
        return plan, sample
    return plan


def save_plan(plan: SamplePlan, path: str | os.PathLike) -> Path:
    """Write a plan as indented JSON, atomically; return the path."""
    from .io import write_json_atomic

    return write_json_atomic(plan.to_dict(), path)


def load_plan(path: str | os.PathLike) -> SamplePlan:
    """Read a plan written by :func:`save_plan`.

    Raises
    ------
    InputFileError
        Missing file, invalid JSON or not a sample plan.
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"{p}: cannot read sample plan ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(raw, dict):
        raise InputFileError(f"{p}: not a modqa sample plan")
    try:
        return SamplePlan.from_dict(raw)
    except InputFileError as exc:
        raise InputFileError(f"{p}: {exc}") from None


def redraw(plan: SamplePlan, decisions: pd.DataFrame) -> pd.DataFrame:
    """Redraw a plan's sample, after checking the data is the same.

    Parameters
    ----------
    plan : SamplePlan
    decisions : DataFrame
        The same population the plan was drawn from (any row order).

    Returns
    -------
    DataFrame
        The sample, identical to the original draw, with ``sample_id``.

    Raises
    ------
    FingerprintMismatchError
        The decisions differ (ids or the columns the draw used).
    """
    fp = decisions_fingerprint(decisions, plan.fingerprint_columns)
    if fp != plan.fingerprint:
        raise FingerprintMismatchError(
            f"decisions differ from those sample plan {plan.sample_id} was drawn from "
            f"(fingerprint {fp} != {plan.fingerprint}; {len(decisions)} rows now, "
            f"{plan.counts.get('population')} then); redraw from the same data or make a new plan")
    sample = _draw(plan.method, decisions, plan.params, plan.seed)
    if len(sample) != plan.counts.get("drawn", len(sample)):  # pragma: no cover
        raise SamplingError(f"redraw gave {len(sample)} rows, the plan recorded {plan.counts['drawn']}")
    sample[S.SAMPLE_ID] = plan.sample_id
    return sample


# ============================================================== weekly sample
# column names of the per-unit table of a weekly sample
UNIT = "unit"
DRAWN = "drawn"
MARGIN = "margin"
_ALL_UNITS = (None, "", "ALL")


@dataclass(frozen=True, eq=False)
class WeeklySample:
    """One ISO week's QA sample and the tables behind it (see :func:`draw_weekly_sample`).

    Attributes
    ----------
    week : str
        Monday of the ISO week (UTC), ``"YYYY-MM-DD"``.
    by : str
        The column units are sized by (``vendor``, ``site``, ``market`` or ``queue``).
    unit : str or None
        The one value of ``by`` the sample is restricted to, or None for all.
    population : DataFrame
        The decisions of the week (and unit) the sample was drawn from.
    allocation : DataFrame
        :func:`allocate` table, one row per stratum ``by x policy``: ``stratum``,
        ``by``, ``policy``, ``population``, ``prior_error_rate``, ``allocated``,
        ``inclusion_prob``, ``expected_margin``.
    units : DataFrame
        One row per unit of ``by``: ``unit``, ``population`` (decisions that
        week), ``drawn`` (decisions sampled) and ``margin`` (achieved design
        margin: z * SE of the unit's stratified estimate at the expected rate, with FPC).
    overall_margin : float
        The same design margin for all units together.
    worklist : DataFrame
        Sampled decisions with ``auditor_id`` and ``sample_id``, plus the golden
        items mixed in (``is_golden``): the answer key written to ``sample.csv``.
    plan : SamplePlan
        The reproducible record of the draw; ``metadata`` holds the options,
        auditors, units and worklist sizes.
    """

    week: str
    by: str
    unit: str | None
    population: pd.DataFrame
    allocation: pd.DataFrame
    units: pd.DataFrame
    overall_margin: float
    worklist: pd.DataFrame
    plan: SamplePlan

    @property
    def auditors(self) -> list[str]:
        """Every auditor the sample could be assigned to (sorted)."""
        return list(self.plan.metadata.get("auditors", []))

    def worklist_sizes(self) -> pd.DataFrame:
        """Rows per auditor: ``auditor_id``, ``decisions``, ``golden_items``, ``total`` (sorted by auditor)."""
        w = self.worklist
        golden = w[S.IS_GOLDEN].astype(bool)
        t = pd.DataFrame({S.AUDITOR_ID: w[S.AUDITOR_ID].astype(str), "decisions": (~golden).astype(int),
                          "golden_items": golden.astype(int)})
        t = t.groupby(S.AUDITOR_ID, sort=True).sum().reset_index()
        t["total"] = t["decisions"] + t["golden_items"]
        return t


def _opt(name: str, cli: bool) -> str:
    """How the user spelled an option: ``--golden-share`` on the command line, ``golden_share`` in Python."""
    return "--" + name.replace("_", "-") if cli else name


def _check_weekly_options(by, allocation, margin, confidence, golden_share, expected_rate, cli: bool) -> None:
    if by not in BY_COLUMNS:
        raise ConfigError(f"{_opt('by', cli)} must be one of {list(BY_COLUMNS)}, got {by!r}")
    if allocation not in ALLOCATIONS:
        raise ConfigError(f"{_opt('allocation', cli)} must be one of {list(ALLOCATIONS)}, got {allocation!r}")
    for name, v, lo, hi in (("margin", margin, 0, 0.5), ("confidence", confidence, 0, 1),
                            ("expected_rate", expected_rate, 0, 1)):
        if isinstance(v, bool) or not (isinstance(v, (int, float)) and lo < v < hi):
            raise ConfigError(f"{_opt(name, cli)} must lie strictly between {lo} and {hi}, got {v!r}")
    if isinstance(golden_share, bool) or not (isinstance(golden_share, (int, float)) and 0 <= golden_share < 1):
        raise ConfigError(f"{_opt('golden_share', cli)} must lie in [0, 1), got {golden_share!r}")


def _resolve_week(wk: pd.Series, week: str, cli: bool) -> pd.Timestamp:
    """The Monday asked for ("latest" or a date), checked against the weeks in the data."""
    weeks = sorted(pd.Series(wk.unique()).dropna())
    first, last = weeks[0].date().isoformat(), weeks[-1].date().isoformat()
    span = f"the data covers weeks {first} to {last}"
    flag = _opt("week", cli)
    if str(week).strip().lower() == "latest":
        return weeks[-1]
    try:
        target = pd.Timestamp(datetime.strptime(str(week).strip(), "%Y-%m-%d"))
    except ValueError:
        raise ConfigError(f"{flag} {week!r} is not a date (YYYY-MM-DD) or 'latest'; {span}") from None
    if target.day_of_week != 0:
        monday = (target - pd.Timedelta(days=target.day_of_week)).date().isoformat()
        raise ConfigError(f"{flag} {week} is a {target.day_name()}; ISO weeks start on Monday "
                          f"(use {monday}); {span}")
    if target not in set(weeks):
        raise ConfigError(f"{flag} {week}: no decisions that week; {span}")
    return target


def _unit_keys(values: pd.Series) -> pd.Series:
    """Unit names as strings, missing values as ``<NA>`` (the keys of :func:`allocate`)."""
    return values.astype(object).where(values.notna(), NA_KEY).astype(str)


def _design_margin(alloc_table: pd.DataFrame, confidence: float, expected_rate: float = 0.5) -> float:
    """z * SE of a stratified proportion at P_h = ``expected_rate`` in every stratum.

    ``V = sum W_h^2 (N_h - n_h) / (N_h - 1) * P_h Q_h / n_h`` (Cochran 1977, Ch. 5,
    stratified sampling for proportions); with proportional allocation this is
    the simple-random-sampling margin that :func:`sample_size` was solved for.
    """
    t = alloc_table[alloc_table[ALLOCATED] > 0]
    if t.empty:
        return float("nan")
    N = t[POPULATION].to_numpy(float)
    nh = t[ALLOCATED].to_numpy(float)
    W = N / alloc_table[POPULATION].sum()
    fpc = np.where(N > 1, (N - nh) / np.maximum(N - 1, 1), 0.0)
    var = np.sum(W ** 2 * fpc * expected_rate * (1 - expected_rate) / nh)
    return float(norm.ppf(1 - (1 - confidence) / 2) * math.sqrt(var))


def draw_weekly_sample(decisions: pd.DataFrame, audits: pd.DataFrame, golden: pd.DataFrame | None, week: str,
                       by: str, margin: float, confidence: float, allocation: str, golden_share: float, seed: int,
                       expected_rate: float = 0.5, unit: str | None = None) -> WeeklySample:
    """Draw one ISO week's QA sample, sized per unit, with auditors and golden items; no file I/O.

    Steps: keep the ISO week (Monday, UTC) asked for, and the one ``unit`` if
    given; size each unit of ``by`` with :func:`sample_size` (Cochran with
    FPC, at ``expected_rate``); draw a stratified sample with strata
    ``by x policy`` (:func:`make_plan`; Neyman priors from audits of earlier
    weeks); assign auditors (every auditor in ``audits``; never their own
    decisions); mix in golden items. :func:`write_sample_files` writes the result.

    Parameters
    ----------
    decisions : DataFrame
        Processed decisions (all weeks: earlier weeks give the Neyman priors).
    audits : DataFrame
        Processed audits: their auditors get the worklists; their errors give Neyman priors.
    golden : DataFrame or None
        Golden items (``item_id``, ``gold_label``, ``policy``); may be None when
        ``golden_share`` is 0.
    week : str
        ``"YYYY-MM-DD"`` (a Monday present in the data) or ``"latest"``.
    by : {"vendor", "site", "market", "queue"}
    margin : float
        Target half-width for each unit's error rate (or accuracy), in (0, 0.5).
    confidence : float
        Confidence level, in (0, 1).
    allocation : {"proportional", "neyman", "equal"}
        How each unit's sample is split over its policies (:func:`allocate`).
    golden_share : float
        Share of golden items in each worklist, in [0, 1).
    seed : int
    expected_rate : float, default 0.5
        Error rate assumed when sizing, in (0, 1). 0.5 is the conservative
        worst case (largest p(1 - p)); a QA team at about 95 % accuracy may
        size with 0.05, which needs about a fifth of the audits for the same
        margin. It is also the prior error rate of strata without audit
        history (Neyman allocation) and the rate the margins are reported at.
    unit : str, optional
        Restrict the sample to this value of ``by``; None, "" or "ALL" keep all.
        The decisions drawn for a unit are the same as that unit's part of the
        all-unit sample (the draw uses permanent random numbers and allocates
        within each unit); auditor assignment and golden items differ.

    Returns
    -------
    WeeklySample
        ``week``, ``by``, ``unit``, ``population``, ``allocation``, ``units``,
        ``overall_margin``, ``worklist`` and ``plan``.

    Raises
    ------
    ConfigError
        Bad week (names the weeks in the data), ``by``, ``unit``, margin,
        confidence, expected rate, allocation or golden share.
    SamplingError
        No auditors, no golden items while a share is asked, impossible plans.

    Notes
    -----
    Each unit's n is Cochran's ``n0 = z^2 p (1 - p) / e^2`` with the
    finite-population correction (:func:`sample_size`), at least one per
    policy stratum and never more than the unit's decisions. The margin
    reported per unit is z * SE of its stratified estimator at P_h =
    ``expected_rate`` with FPC (Cochran 1977, Ch. 5) [1]_; with proportional
    allocation it is close to ``margin`` by construction.

    References
    ----------
    .. [1] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, Ch. 4 and 5.
    """
    return _draw_weekly_sample(decisions, audits, golden, week=week, by=by, margin=margin, confidence=confidence,
                               allocation=allocation, golden_share=golden_share, seed=seed,
                               expected_rate=expected_rate, unit=unit, cli=False)


def _draw_weekly_sample(decisions, audits, golden, *, week, by, margin, confidence, allocation, golden_share,
                        seed, expected_rate, unit, cli: bool) -> WeeklySample:
    from . import io

    _check_weekly_options(by, allocation, margin, confidence, golden_share, expected_rate, cli)
    if golden_share > 0 and golden is None:
        flag = _opt("golden_share", cli)
        raise SamplingError(f"{flag} {golden_share:g} asks for golden items but there is no "
                            f"golden table in the processed data; ingest one or use {flag} 0")
    if decisions.empty:
        raise SamplingError("the processed decisions table is empty")
    _require_columns(decisions, [S.DECISION_ID, S.DECIDED_AT, S.SITE, S.MODERATOR_TENURE_DAYS, S.POLICY, by],
                     "weekly sample")

    wk = io.add_derived_columns(decisions[[S.DECISION_ID, S.DECIDED_AT, S.SITE, S.MODERATOR_TENURE_DAYS]],
                                site_timezones={})[S.WEEK]
    target = _resolve_week(wk, week, cli)
    week_str = target.date().isoformat()
    in_week = (wk == target).to_numpy()
    dw = decisions.loc[in_week]
    units = _unit_keys(dw[by])
    unit = None if unit in _ALL_UNITS else str(unit)
    if unit is not None:
        keep = (units == unit).to_numpy()
        if not keep.any():
            present = sorted(units.unique())
            raise ConfigError(f"{_opt('unit', cli)} {unit!r}: no decisions of that {by} in week {week_str}; "
                              f"{by} values that week: {present[:20]}" + (" ..." if len(present) > 20 else ""))
        dw, units = dw.loc[keep], units[keep]

    # size each unit to the margin
    pop_u = units.value_counts().sort_index()
    policies_per_unit = dw[S.POLICY].groupby(units.to_numpy()).nunique(dropna=False)
    n_map = {}
    for u, N_u in pop_u.items():
        n_u = sample_size(int(N_u), margin, confidence, expected_rate)
        n_map[u] = int(min(N_u, max(n_u, int(policies_per_unit[u]))))   # one per stratum, never above N
    strata = [by, S.POLICY]

    priors = None
    if allocation == "neyman":   # from all earlier weeks and units, so a unit's draw matches the all-unit draw
        past = decisions.loc[(wk < target).to_numpy()]
        priors = estimate_prior_error_rates(past, audits, strata)
        if priors.empty:
            priors = None

    # default_prior is recorded only when it is not the default, so sample ids of 0.5 plans stay as they were
    prior_kw = {} if expected_rate == 0.5 else {"default_prior": expected_rate}
    plan, sample = make_plan(dw, "stratified", seed=seed, strata=strata, n=n_map, allocation=allocation,
                             prior_error_rates=priors, return_sample=True, **prior_kw,
                             metadata={"week": week_str, "by": by, "unit": unit, "margin": margin,
                                       "confidence": confidence, "expected_rate": expected_rate,
                                       "golden_share": golden_share})
    s_assign, s_golden = (np.random.default_rng(s) for s in np.random.SeedSequence(plan.seed).spawn(2))
    auditors = sorted(audits[S.AUDITOR_ID].dropna().astype(str).unique()) if S.AUDITOR_ID in audits else []
    if not auditors:
        raise SamplingError("no auditor ids in past audits: cannot assign worklists")
    assigned = assign_auditors(sample, auditors, seed=s_assign)
    if golden is not None and len(golden):   # golden items that are past decisions look like decisions
        look = [c for c in (S.CONTENT_ID, S.CONTENT_TYPE, S.QUEUE, S.MARKET, S.LANGUAGE)
                if c in decisions.columns and c not in golden.columns]
        if look:
            golden = golden.merge(decisions[[S.DECISION_ID, *look]].rename(columns={S.DECISION_ID: S.ITEM_ID}),
                                  on=S.ITEM_ID, how="left", validate="one_to_one")
    worklist = inject_golden(assigned, golden if golden is not None else pd.DataFrame({S.ITEM_ID: []}),
                             share=golden_share, seed=s_golden)
    worklist[S.SAMPLE_ID] = plan.sample_id

    alloc_tab = allocate(dw, strata, n_map, allocation, prior_error_rates=priors, default_prior=expected_rate,
                         confidence=confidence)
    alloc_units = _unit_keys(alloc_tab[by])
    unit_tab = pd.DataFrame({
        UNIT: pd.array(pop_u.index.astype(str), dtype="str"),
        POPULATION: pop_u.to_numpy(dtype=np.int64),
        DRAWN: [int(alloc_tab.loc[(alloc_units == u).to_numpy(), ALLOCATED].sum()) for u in pop_u.index],
        MARGIN: [_design_margin(alloc_tab[(alloc_units == u).to_numpy()], confidence, expected_rate)
                 for u in pop_u.index],
    })
    overall = _design_margin(alloc_tab, confidence, expected_rate)
    per_auditor = worklist[S.AUDITOR_ID].value_counts()
    metadata = dict(plan.metadata, auditors=auditors, golden_items=int(worklist[S.IS_GOLDEN].sum()),
                    units={r[UNIT]: {"population": int(r[POPULATION]), "drawn": int(r[DRAWN]),
                                     "margin": round(float(r[MARGIN]), 6)} for _, r in unit_tab.iterrows()},
                    overall_margin=round(overall, 6),
                    worklist_sizes={str(k): int(v) for k, v in per_auditor.sort_index().items()})
    plan = SamplePlan(**{**asdict(plan), "metadata": _jsonable(metadata)})
    return WeeklySample(week=week_str, by=by, unit=unit, population=dw, allocation=alloc_tab, units=unit_tab,
                        overall_margin=overall, worklist=worklist, plan=plan)


def _safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(s)).strip("._") or "auditor"


def sample_folder(sample: WeeklySample, out) -> Path:
    """Where :func:`write_sample_files` puts a sample: ``<out>/samples/<week>/`` (``.../<by>_<unit>/`` for one unit)."""
    folder = Path(out) / "samples" / sample.week
    return folder if sample.unit is None else folder / f"{sample.by}_{_safe_name(sample.unit)}"


def write_sample_files(sample: WeeklySample, out) -> list[Path]:
    """Write a weekly sample's worklists, answer key and plan, atomically.

    Parameters
    ----------
    sample : WeeklySample
        From :func:`draw_weekly_sample`.
    out : path-like
        Outputs folder; files go to :func:`sample_folder`: ``<out>/samples/<week>/``,
        or ``<out>/samples/<week>/<by>_<unit>/`` for a sample restricted to one unit.

    Returns
    -------
    list of Path
        The files written: one ``worklist_<auditor>.csv`` per auditor with work
        (sorted by auditor), then ``sample.csv`` and ``plan.json``.

    Notes
    -----
    ``worklist_<auditor>.csv`` is blind: ``sample_id``, ``decision_id``,
    ``content_id``, ``policy``, shuffled, golden items indistinguishable.
    ``sample.csv`` is the answer key (every row with auditor, stratum,
    inclusion_prob, weight, is_golden, gold_label); ``plan.json`` is
    :func:`save_plan`. Every file is written atomically (temporary file, then
    rename); worklists of a previous run in the same folder for auditors with
    no work now are removed.
    """
    from . import io

    folder = sample_folder(sample, out)
    worklist = sample.worklist
    written: list[Path] = []
    names = set()
    for a in sample.auditors:
        rows = worklist[worklist[S.AUDITOR_ID] == a]
        if rows.empty:
            continue
        name = f"worklist_{_safe_name(a)}.csv"
        if name in names:  # two ids that differ only in characters unsafe in file names
            name = f"worklist_{_safe_name(a)}_{hashlib.sha256(a.encode()).hexdigest()[:6]}.csv"
        written.append(io.write_csv_atomic(rows[list(WORKLIST_COLUMNS)], folder / name))
        names.add(name)
    for old in folder.glob("worklist_*.csv"):
        if old.name not in names:
            old.unlink()
    written.append(io.write_csv_atomic(worklist, folder / "sample.csv"))
    written.append(save_plan(sample.plan, folder / "plan.json"))
    return written


# ======================================================================= CLI
def run_sample_command(week: str, by: str, margin: float, confidence: float, allocation: str,
                       golden_share: float, seed: int, processed, out, expected_rate: float = 0.5) -> str:
    """The ``modqa sample`` command: draw the week's QA sample and write auditor worklists.

    Loads the processed decisions, audits (and golden items), draws with
    :func:`draw_weekly_sample` and writes with :func:`write_sample_files`.

    Parameters
    ----------
    week : str
        ``"YYYY-MM-DD"`` (a Monday present in the data) or ``"latest"``.
    by : {"vendor", "site", "market", "queue"}
    margin, confidence : float
        Target half-width and level for each unit's accuracy.
    allocation : {"proportional", "neyman", "equal"}
    golden_share : float
        Share of golden items in each worklist, in [0, 1).
    seed : int
    processed, out : path-like
        Processed-data folder and outputs folder.
    expected_rate : float, default 0.5
        Error rate assumed when sizing (0.5: conservative worst case).

    Returns
    -------
    str
        Human summary: units, population, n drawn, margin per unit, files.

    Notes
    -----
    Writes ``<out>/samples/<week>/`` as :func:`write_sample_files` describes.
    The margin shown is z * SE of the unit's stratified estimator at
    p = ``expected_rate`` with FPC.

    Raises
    ------
    ConfigError
        Bad week (names the available range), ``by``, margin, confidence, expected rate.
    SamplingError
        No auditors, no golden items while a share is asked, impossible plans.
    """
    from . import io

    _check_weekly_options(by, allocation, margin, confidence, golden_share, expected_rate, cli=True)
    tables = io.load_processed(processed, tables=["decisions", "audits"])
    golden = None
    if golden_share > 0:
        try:
            golden = io.load_processed(processed, tables=["golden"])["golden"]
        except InputFileError:
            golden = None   # draw_weekly_sample says what to do
    sample = _draw_weekly_sample(tables["decisions"], tables["audits"], golden, week=week, by=by, margin=margin,
                                 confidence=confidence, allocation=allocation, golden_share=golden_share,
                                 seed=seed, expected_rate=expected_rate, unit=None, cli=True)
    written = write_sample_files(sample, out)

    plan, units = sample.plan, sample.units
    n_golden = int(sample.worklist[S.IS_GOLDEN].sum())
    n_drawn = len(sample.worklist) - n_golden
    n_lists = sum(p.name.startswith("worklist_") for p in written)
    rate = "worst case p = 0.5" if expected_rate == 0.5 else f"assumed error rate p = {expected_rate:g}"
    width = max([len(by)] + [len(u) for u in units[UNIT]])
    lines = [f"sample {plan.sample_id}: week {sample.week}, by {by}, {allocation} allocation, seed {seed}",
             f"  {by:<{width}}  {'population':>10}  {'drawn':>6}  margin"]
    for u, N, n, mg in units[[UNIT, POPULATION, DRAWN, MARGIN]].itertuples(index=False):
        lines.append(f"  {u:<{width}}  {N:>10,}  {n:>6,}  +/-{100 * mg:.1f} pts")
    lines.append(f"  {n_drawn:,} decisions + {n_golden:,} golden items in {n_lists} worklists "
                 f"(margin: {confidence:.0%} half-width of each unit's accuracy, {rate})")
    lines.append(f"  written to {sample_folder(sample, out)}")
    return "\n".join(lines)
