"""Strata and the allocation of a sample across them (proportional, Neyman, equal)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import require_columns
from modqa_lib.errors import SamplingError
from modqa_lib.stats.sampling._common import (
    ALLOCATED,
    ALLOCATIONS,
    EXPECTED_MARGIN,
    NA_KEY,
    POPULATION,
    PRIOR_ERROR_RATE,
    STRATUM_SEP,
    _check_int,
    _check_prob,
)
from modqa_lib.stats.sampling.log import is_log_source, stratum_counts


# ==================================================================== strata
@dataclass
class _Strata:
    codes: np.ndarray  # per row: stratum index 0..H-1
    keys: np.ndarray  # per stratum: key "a|b|c" (object array)
    values: dict  # per stratum column: its value per stratum
    pop: np.ndarray  # per stratum: N_h
    group: np.ndarray  # per stratum: index of its value of strata[0]
    group_keys: list[str]  # string value of strata[0] per group index


def _key_strings(uniques) -> list[str]:
    return [NA_KEY if pd.isna(v) else str(v) for v in uniques]


def _factorize_sorted(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(s, sort=True, use_na_sentinel=False)``, via Arrow for Arrow-backed strings."""
    dt = s.dtype
    arrow_str = (isinstance(dt, pd.StringDtype) and dt.storage == "pyarrow") or (
        isinstance(dt, pd.ArrowDtype) and pa.types.is_string(dt.pyarrow_dtype)
    )
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
    rank[-1] = len(order)  # missing values: one level, sorted last
    idx = enc.indices.fill_null(len(order)).to_numpy(zero_copy_only=False)
    codes = rank[idx]
    levels = list(values[order]) + ([None] if enc.indices.null_count else [])
    return codes, pd.Index(pd.array(levels, dtype=dt)) if levels else pd.Index([], dtype=dt)  # type: ignore[arg-type]  # dt: a string dtype


def _code_strata(df: pd.DataFrame, strata: Sequence[str]) -> _Strata:
    if hasattr(df, "_modqa_strata"):  # stratum counts of a log on disk (sampling.log.StratumCounts)
        return df._modqa_strata([strata] if isinstance(strata, str) else strata)  # type: ignore[operator]
    if isinstance(strata, str):
        strata = [strata]
    strata = list(strata)
    if not strata or len(set(strata)) != len(strata):
        raise SamplingError(f"strata must be a non-empty list of distinct column names, got {strata!r}")
    require_columns(df, strata, "the sample plan", table="decisions", hint="a stratum column")
    col_codes, col_uniques = [], []
    for c in strata:
        codes, uniques = _factorize_sorted(df[c])
        col_codes.append(codes)
        col_uniques.append(uniques)
    sizes = [max(len(u), 1) for u in col_uniques]
    n_rows = len(df)
    inv: np.ndarray
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
    values = {
        c: u.take(p).to_numpy() if len(u) else np.array([], dtype=object) for c, u, p in zip(strata, col_uniques, parts)
    }
    key_parts = [
        np.asarray(_key_strings(u), dtype=object)[p] if len(u) else np.array([], dtype=object)
        for u, p in zip(col_uniques, parts)
    ]
    keys = key_parts[0].astype(object)
    for kp in key_parts[1:]:
        keys = keys + STRATUM_SEP + kp
    return _Strata(
        codes=np.asarray(inv, dtype=np.int64),
        keys=np.asarray(keys, dtype=object),
        values=values,
        pop=np.asarray(pop, dtype=np.int64),
        group=np.asarray(parts[0], dtype=np.int64),
        group_keys=_key_strings(col_uniques[0]),
    )


def _prior_map(prior_error_rates, strata: Sequence[str]) -> dict[str, float]:
    """Normalise the accepted forms of prior error rates to {stratum key: rate}."""
    if prior_error_rates is None:
        return {}
    keys: pd.Series | list[str]
    if isinstance(prior_error_rates, pd.DataFrame):
        df = prior_error_rates
        if S.ERROR_RATE in df.columns:
            rate = df[S.ERROR_RATE]
        elif PRIOR_ERROR_RATE in df.columns:
            rate = df[PRIOR_ERROR_RATE]
        elif S.ACCURACY in df.columns:
            rate = 1 - df[S.ACCURACY]
        else:
            raise SamplingError(
                "prior_error_rates DataFrame needs an 'error_rate', 'prior_error_rate' or 'accuracy' column"
            )
        if all(c in df.columns for c in strata):
            keys = df[list(strata)].astype(object).apply(lambda r: STRATUM_SEP.join(_key_strings(r)), axis=1)
        elif S.STRATUM in df.columns:
            keys = df[S.STRATUM].astype(str)
        else:
            raise SamplingError(
                f"prior_error_rates DataFrame needs the strata columns {list(strata)} or a '{S.STRATUM}' column"
            )
        out = dict(zip(keys.tolist(), rate.astype(float).tolist()))
    elif isinstance(prior_error_rates, pd.Series):
        idx = prior_error_rates.index
        if isinstance(idx, pd.MultiIndex):
            keys = [STRATUM_SEP.join(_key_strings(t)) for t in idx]
        else:
            keys = _key_strings(idx)
        out = dict(zip(keys, prior_error_rates.astype(float).tolist()))
    elif isinstance(prior_error_rates, Mapping):
        out = {
            str(k) if not isinstance(k, tuple) else STRATUM_SEP.join(_key_strings(k)): float(v)
            for k, v in prior_error_rates.items()
        }
    else:
        raise SamplingError(
            "prior_error_rates must be a DataFrame, Series or mapping keyed by stratum, "
            f"got {type(prior_error_rates).__name__}"
        )
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

    i, j = 0, len(bp) - 1  # total(bp[-1]) = sum(upper) > n >= total(bp[0]) = sum(lower)
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


def _allocate(
    decisions, strata, n, allocation, min_per_stratum, prior_error_rates, default_prior
) -> tuple[_Strata, np.ndarray, np.ndarray]:
    """(strata, prior rate per stratum, allocation per stratum)."""
    if allocation not in ALLOCATIONS:
        raise SamplingError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
    min_per_stratum = _check_int(min_per_stratum, "min_per_stratum", 0)
    default_prior = _check_prob(default_prior, "default_prior", lo_open=False, hi_open=False)
    strata = [strata] if isinstance(strata, str) else list(strata)
    st = _code_strata(decisions, strata)
    pop = st.pop
    if len(decisions) == 0:
        raise SamplingError(
            "cannot sample from an empty population (0 decisions); check the filters (week, unit) that produced it"
        )

    priors = _prior_map(prior_error_rates, strata)
    p = np.array([priors.get(k, default_prior) for k in st.keys], dtype=float)

    if allocation == "proportional":
        w = pop.astype(float)
    elif allocation == "neyman":
        w = pop * np.sqrt(p * (1 - p))
    else:
        w = np.ones(len(pop))

    # totals per group of strata[0] (one group when n is an int)
    groups: list[tuple[np.ndarray, int, str | None]]
    if isinstance(n, Mapping):
        want = {str(k): _check_int(v, f"n[{k!r}]", 0) for k, v in n.items()}
        unknown = sorted(set(want) - set(st.group_keys))
        if unknown:
            raise SamplingError(f"n names {strata[0]} value(s) not in the data: {unknown[:10]}")
        missing = sorted(set(st.group_keys) - set(want))
        if missing:
            raise SamplingError(
                f"n gives no sample size for {missing[:10]}; give every group a size (0 to skip a group on purpose)"
            )
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
            raise SamplingError(
                f"n = {n_g}{where} is larger than the population ({int(pop_g.sum())} "
                "decisions); lower n or widen the filters"
            )
        lower = np.minimum(min_per_stratum, pop_g)
        if lower.sum() > n_g:
            raise SamplingError(
                f"n = {n_g}{where} cannot give min_per_stratum = {min_per_stratum} to each of "
                f"{len(idx)} strata (needs {int(lower.sum())}); raise n or lower min_per_stratum"
            )
        alloc[idx] = _capped_allocation(w[idx], lower, pop_g, n_g)
    return st, p, alloc


def _margins(n: np.ndarray, pop: np.ndarray, p: np.ndarray, confidence: float) -> np.ndarray:
    """Wilson half-width with FPC, element-wise with a per-stratum expected rate."""
    lo, hi = proportion_confint(p * n, n, alpha=1 - confidence, method="wilson")
    half = (np.asarray(hi, float) - np.asarray(lo, float)) / 2
    fpc = np.sqrt(np.where(pop > 1, (pop - n) / np.maximum(pop - 1, 1), 0.0))
    return half * fpc


def allocate(
    decisions: pd.DataFrame,
    strata: Sequence[str],
    n,
    allocation: str = "proportional",
    min_per_stratum: int = 1,
    prior_error_rates=None,
    default_prior: float = 0.5,
    confidence: float = 0.95,
) -> pd.DataFrame:
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
    if is_log_source(decisions):  # a log on disk: N_h by GROUP BY
        decisions = stratum_counts(decisions, [strata] if isinstance(strata, str) else strata)  # type: ignore[assignment, arg-type]
    st, p, alloc = _allocate(decisions, strata, n, allocation, min_per_stratum, prior_error_rates, default_prior)
    pop = st.pop
    margin = np.full(len(pop), np.nan)
    pos = alloc > 0
    if pos.any():
        margin[pos] = _margins(alloc[pos], pop[pos], p[pos], confidence)
    table = pd.DataFrame(
        {
            S.STRATUM: pd.array(st.keys.astype(str), dtype="str"),
            **st.values,
            POPULATION: pop,
            PRIOR_ERROR_RATE: p,
            ALLOCATED: alloc,
            S.INCLUSION_PROB: alloc / pop,
            EXPECTED_MARGIN: margin,
        }
    )
    return table
