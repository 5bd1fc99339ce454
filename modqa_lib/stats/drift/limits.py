"""Control limits of the p chart: normal (3σ) and exact binomial probability limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError

__all__ = [
    "exact_count_limits",
]


def _limits(
    cnt: pd.DataFrame, gid: np.ndarray, in_base: np.ndarray, sigma: float, limits: str = "normal"
) -> pd.DataFrame:
    """Add center, sd, lcl, ucl, z to per-period counts (a copy).

    ``limits="normal"``: p̄ ∓ sigma·sd; ``"exact"``: the binomial (n_i, p̄) quantiles that leave
    at most Φ(−sigma) in each tail, divided by n_i (signal when the count falls outside them).
    """
    out = cnt.copy()
    n = out[S.N].to_numpy(dtype=float)
    e = out[S.ERRORS].to_numpy(dtype=float)
    ng = gid.max() + 1 if len(gid) else 0
    bn = np.bincount(gid, weights=n * in_base, minlength=ng)
    be = np.bincount(gid, weights=e * in_base, minlength=ng)
    with np.errstate(invalid="ignore", divide="ignore"):
        pbar_g = np.where(bn > 0, be / np.where(bn > 0, bn, 1), np.nan)
        # guard for the standardised statistic only: a baseline with no (or only)
        # errors has zero spread; shrink it half an event towards the interior.
        guard_g = np.clip(pbar_g, 0.5 / np.maximum(bn, 1), 1 - 0.5 / np.maximum(bn, 1))
    pbar = pbar_g[gid]
    guard = guard_g[gid]
    sd = np.sqrt(pbar * (1 - pbar) / n)
    sd_guard = np.sqrt(guard * (1 - guard) / n)
    rate = e / n
    out["center"] = pbar
    out["sd"] = sd
    if limits == "exact":
        lo_k, hi_k = exact_count_limits(n, pbar, sigma)
        out["lcl"] = lo_k / n
        out["ucl"] = hi_k / n
    else:
        out["lcl"] = np.clip(pbar - sigma * sd, 0.0, 1.0)
        out["ucl"] = np.clip(pbar + sigma * sd, 0.0, 1.0)
    out["z"] = (rate - pbar) / sd_guard
    out["in_baseline"] = in_base
    return out


def exact_count_limits(n, p, sigma: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial probability limits for the count of errors in a period.

    Parameters
    ----------
    n : array_like of int
        Audits in each period.
    p : array_like of float
        In-control error rate (the chart's center line p̄); NaN gives NaN limits.
    sigma : float, default 3
        The tail probability of each limit is that of a sigma-sigma normal limit,
        ``tail = Φ(−sigma)`` (0.00135 for 3).

    Returns
    -------
    (lower, upper) : tuple of ndarray
        Counts: ``lower = binom.ppf(tail, n, p)`` and ``upper = binom.isf(tail, n, p)``.
        A period is out of control when its count is < ``lower`` or > ``upper``, so
        P(count < lower) ≤ tail and P(count > upper) ≤ tail exactly, for any n·p.

    Notes
    -----
    Probability limits in the sense of Montgomery [1]_ (Sect. 7.2.1, "probability
    limits") and Ryan & Schwertman [2]_: with a few expected errors per period the
    count is skewed, the 3σ normal UCL leaves several times the nominal tail and the
    LCL is 0 (it can never signal). Tested against ``scipy.stats.binom`` by hand in
    ``tests/stats/test_drift.py``.

    References
    ----------
    .. [1] Montgomery, D. C. (2009). *Introduction to Statistical Quality
       Control*, 6th ed., Wiley. Sect. 7.2.1.
    .. [2] Ryan, T. P., Schwertman, N. C. (1997). Optimal limits for attributes
       control charts. *Journal of Quality Technology* 29(1), 86–98.

    Examples
    --------
    >>> lo, hi = exact_count_limits([40], [0.05])
    >>> int(lo[0]), int(hi[0])
    (0, 7)
    """
    n = np.asarray(n, dtype=float)
    p = np.asarray(p, dtype=float)
    if not sigma > 0:
        raise ConfigError(f"exact_count_limits(): sigma must be positive, not {sigma}")
    tail = float(stats.norm.sf(sigma))
    ok = np.isfinite(p) & (n > 0)
    lo = np.full(np.broadcast(n, p).shape, np.nan)
    hi = lo.copy()
    nn, pp = np.broadcast_arrays(n, p)
    lo[ok] = stats.binom.ppf(tail, nn[ok], pp[ok])
    hi[ok] = stats.binom.isf(tail, nn[ok], pp[ok])
    return lo, hi
