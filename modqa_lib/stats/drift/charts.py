"""Control charts of the per-period error rate: p chart, EWMA and tabular CUSUM."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, EstimationError
from modqa_lib.stats.drift._common import (
    LIMITS,
    NO_SIGNAL,
    _as_list,
    _baseline_mask,
    _counts,
    _direction,
    _group_ids,
)
from modqa_lib.stats.drift.limits import _limits

__all__ = [
    "cusum",
    "cusum_chart",
    "ewma",
    "ewma_chart",
    "p_chart",
]


# ------------------------------------------------------------------- p chart
def p_chart(
    audits: pd.DataFrame,
    period: str = S.WEEK,
    by=None,
    outcome: str = S.IS_ERROR,
    sigma: float = 3.0,
    baseline=None,
    limits: str = "exact",
) -> pd.DataFrame:
    """Shewhart p chart of the error rate per period, with limits for varying n.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (e.g. :func:`modqa_lib.data.io.audited_decisions`): one row
        per audit with ``period``, ``outcome`` and the ``by`` columns.
    period : str, default WEEK
        Column holding the period (the Monday ``week`` Timestamp by default).
    by : str or list of str, optional
        Grouping columns (e.g. ``[POLICY]``); one chart per group.
    outcome : str, default IS_ERROR
        Boolean (or 0/1) column counted as a nonconforming unit.
    sigma : float, default 3
        Width of the limits in standard errors (Shewhart's 3-sigma limits); with
        ``limits="exact"`` the limits leave the same tail probability Φ(−sigma)
        (0.00135 for 3) on each side.
    baseline : {None, "first_half", "all"}, int or list of periods, optional
        Periods from which the center line p̄ is estimated (Phase I). ``None`` or
        ``"first_half"``: the first ``max(1, T // 2)`` of the T distinct periods
        in the data (so a shift in the second half is judged against the first
        half, not absorbed into the center); ``"all"``: every period
        (Montgomery's trial limits); an int k: the first k periods; a list:
        exactly those periods. The same calendar window is used for every group.
    limits : {"exact", "normal"}, default "exact"
        ``"exact"``: binomial probability limits (:func:`exact_count_limits`), right
        for any expected count; ``"normal"``: the textbook p̄ ∓ sigma·sd limits, too
        tight when a period expects only a few errors.

    Returns
    -------
    DataFrame
        One row per group and period, sorted: the ``by`` columns, ``period``,
        ``n``, ``errors``, ``error_rate``, ``center`` (p̄ of the group's
        baseline), ``sd`` (√(p̄(1−p̄)/n_i)), ``lcl``, ``ucl`` (exact: the binomial
        limit counts divided by n_i; normal: p̄ ∓ sigma·sd, clipped to [0, 1]), ``z`` ((p_i − p̄)/sd, standardised rate; when p̄ is
        0 or 1, p̄ is moved half an event inside (0, 1) for ``z`` only),
        ``in_baseline`` (bool), ``out_of_control`` (bool: p_i > ucl or
        p_i < lcl) and ``direction`` ("up": error rate above the UCL, worse;
        "down": below the LCL, better; "none").

    Raises
    ------
    DataContractError
        A needed column is missing, or ``outcome`` is not boolean.
    EstimationError
        No audits.
    ConfigError
        ``baseline`` names no period of the data.

    Notes
    -----
    Limits follow Montgomery [1]_ (Sect. 7.2.2, variable sample size): the
    center line is the pooled baseline fraction p̄ = Σerrors/Σn and the normal
    limits of period i are p̄ ± 3√(p̄(1−p̄)/n_i), a negative LCL being set to 0.
    With a few expected errors a period (n_i·p̄ of 1–5, common for one policy in
    one week) the count is skewed: the normal UCL leaves 2–4 times its nominal
    0.00135 and the LCL is 0, so the default is exact binomial probability
    limits (Montgomery [1]_, Sect. 7.2.1; Ryan & Schwertman [2]_) with the same
    nominal tail probability per side. In a simulation with 1–5 expected errors
    a week (``tests/stats/test_drift.py``) the share of in-control monitored
    weeks out of control is 1.4% with normal limits and 0.2% with exact ones
    (nominal 0.27%; exact limits of a discrete count leave at most the nominal tail).
    A group with no audits in the baseline window has NaN limits and is never
    out of control. Validated in ``tests/test_drift.py`` against a published
    constant-n worked example and a hand-computed variable-n textbook data set
    (``tests/results/drift_p_chart.csv``).

    The binomial limits assume the audited units of a period are independent
    with a common error probability; a mix of vendors or sites whose shares
    move from week to week adds extra-binomial variation and more signals.

    References
    ----------
    .. [1] Montgomery, D. C. (2009). *Introduction to Statistical Quality
       Control*, 6th ed., Wiley. Chapter 7, "Control charts for attributes".
    .. [2] Ryan, T. P., Schwertman, N. C. (1997). Optimal limits for attributes
       control charts. *Journal of Quality Technology* 29(1), 86–98.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"week": [1] * 4 + [2] * 4, "is_error": [1, 0, 0, 0, 1, 1, 0, 0]})
    >>> p_chart(a, baseline=1)[["error_rate", "center", "direction"]].to_numpy().tolist()
    [[0.25, 0.25, 'none'], [0.5, 0.25, 'none']]
    """
    by = _as_list(by)
    if not sigma > 0:
        raise ConfigError(f"p_chart(): sigma must be positive, not {sigma}")
    if limits not in LIMITS:
        raise ConfigError(f"p_chart(): limits must be one of {LIMITS}, not {limits!r}")
    cnt = _counts(audits, period, by, outcome, "p_chart")
    in_base, _ = _baseline_mask(cnt, period, baseline, "p_chart")
    out = _limits(cnt, _group_ids(cnt, by), in_base, sigma, limits)
    rate = out[S.ERROR_RATE].to_numpy()
    up = rate > out["ucl"].to_numpy()
    down = rate < out["lcl"].to_numpy()
    out["out_of_control"] = up | down
    out["direction"] = _direction(up, down)
    return out.reset_index(drop=True)


# ------------------------------------------------------ EWMA and CUSUM cores
def ewma(
    x,
    lam: float = 0.2,
    L: float = 3.0,
    target: float = 0.0,
    sigma: float = 1.0,
    start: float | None = None,
    asymptotic: bool = False,
) -> pd.DataFrame:
    """EWMA control chart of a series (the recurrence and its limits).

    Parameters
    ----------
    x : array-like of float
        Observations in time order (individual values or subgroup means).
    lam : float, default 0.2
        Weight λ in (0, 1] of the newest observation.
    L : float, default 3
        Width of the limits in standard deviations of the EWMA statistic.
    target : float, default 0
        In-control mean μ0 (center line).
    sigma : float, default 1
        In-control standard deviation of one observation.
    start : float, optional
        z_0; defaults to ``target``.
    asymptotic : bool, default False
        Use the steady-state limits μ0 ± Lσ√(λ/(2−λ)) instead of the exact
        time-varying ones.

    Returns
    -------
    DataFrame
        One row per observation: ``x``, ``ewma`` (z_i), ``lcl``, ``ucl``,
        ``out_of_control`` (bool) and ``direction`` ("up", "down", "none").

    Notes
    -----
    z_i = λ x_i + (1 − λ) z_{i−1}, z_0 = μ0; limits
    μ0 ± Lσ√(λ/(2−λ)·[1 − (1−λ)^{2i}]) (Montgomery [1]_, Sect. 9.2; Roberts
    [2]_). Validated against Montgomery's Example 9.2 data and the NIST/SEMATECH
    e-Handbook [3]_ example (``tests/results/drift_ewma_*.csv``), recomputed
    by hand with the recurrence.

    References
    ----------
    .. [1] Montgomery, D. C. (2009). *Introduction to Statistical Quality
       Control*, 6th ed., Wiley. Sect. 9.2.
    .. [2] Roberts, S. W. (1959). Control chart tests based on geometric moving
       averages. *Technometrics* 1(3), 239–250.
    .. [3] NIST/SEMATECH e-Handbook of Statistical Methods, Sect. 6.3.2.4,
       "EWMA control charts".
    """
    x = np.asarray(x, dtype=float)
    if not 0 < lam <= 1:
        raise ConfigError(f"ewma(): lam must lie in (0, 1], not {lam}")
    if not (L > 0 and sigma > 0):
        raise ConfigError(f"ewma(): L and sigma must be positive (L={L}, sigma={sigma})")
    if np.isnan(x).any():
        raise EstimationError("ewma(): the series has missing values; drop or fill them first")
    z = np.empty_like(x)
    prev = target if start is None else float(start)
    for i, xi in enumerate(x):
        prev = lam * xi + (1.0 - lam) * prev
        z[i] = prev
    steps = np.arange(1, len(x) + 1)
    factor = lam / (2.0 - lam) * (1.0 if asymptotic else 1.0 - (1.0 - lam) ** (2 * steps))
    half = L * sigma * np.sqrt(factor) * np.ones_like(z)
    lcl, ucl = target - half, target + half
    up, down = z > ucl, z < lcl
    return pd.DataFrame(
        {"x": x, "ewma": z, "lcl": lcl, "ucl": ucl, "out_of_control": up | down, "direction": _direction(up, down)}
    )


def cusum(x, k: float = 0.5, h: float = 4.0, target: float = 0.0, sigma: float = 1.0) -> pd.DataFrame:
    """Two-sided tabular CUSUM of a series.

    Parameters
    ----------
    x : array-like of float
        Observations in time order.
    k : float, default 0.5
        Reference value in units of sigma (K = kσ; 0.5 is tuned to a 1σ shift).
    h : float, default 4
        Decision interval in units of sigma (H = hσ; 4 or 5 are usual).
    target : float, default 0
        In-control mean μ0.
    sigma : float, default 1
        In-control standard deviation of one observation.

    Returns
    -------
    DataFrame
        One row per observation: ``x``, ``c_plus``, ``c_minus`` (the upper and
        lower cumulative sums), ``n_plus``, ``n_minus`` (consecutive periods
        each has been non-zero: counting back gives the estimated start of the
        shift), ``h`` (H), ``out_of_control`` (bool) and ``direction``.

    Notes
    -----
    C⁺_i = max(0, x_i − (μ0 + K) + C⁺_{i−1}),
    C⁻_i = max(0, (μ0 − K) − x_i + C⁻_{i−1}), C⁺_0 = C⁻_0 = 0; a signal when
    either exceeds H (Montgomery [1]_, Sect. 9.1.2; Page [2]_). The sums are not restarted after a signal. Validated
    against Montgomery's Example 9.1 (``tests/results/drift_cusum_montgomery.csv``).

    References
    ----------
    .. [1] Montgomery, D. C. (2009). *Introduction to Statistical Quality
       Control*, 6th ed., Wiley. Sect. 9.1.
    .. [2] Page, E. S. (1954). Continuous inspection schemes. *Biometrika*
       41(1/2), 100–115.
    """
    x = np.asarray(x, dtype=float)
    if not (k >= 0 and h > 0 and sigma > 0):
        raise ConfigError(f"cusum(): need k >= 0, h > 0 and sigma > 0 (k={k}, h={h}, sigma={sigma})")
    if np.isnan(x).any():
        raise EstimationError("cusum(): the series has missing values; drop or fill them first")
    K, H = k * sigma, h * sigma
    cp, cm = np.empty_like(x), np.empty_like(x)
    np_, nm = np.zeros(len(x), dtype=np.int64), np.zeros(len(x), dtype=np.int64)
    a = b = 0.0
    ra = rb = 0
    for i, xi in enumerate(x):
        a = max(0.0, xi - (target + K) + a)
        b = max(0.0, (target - K) - xi + b)
        ra = ra + 1 if a > 0 else 0
        rb = rb + 1 if b > 0 else 0
        cp[i], cm[i], np_[i], nm[i] = a, b, ra, rb
    up, down = cp > H, cm > H
    return pd.DataFrame(
        {
            "x": x,
            "c_plus": cp,
            "c_minus": cm,
            "n_plus": np_,
            "n_minus": nm,
            "h": H,
            "out_of_control": up | down,
            "direction": _direction(up, down),
        }
    )


def _standardised(audits, period, by, outcome, baseline, func) -> tuple[pd.DataFrame, np.ndarray]:
    cnt = _counts(audits, period, by, outcome, func)
    in_base, _ = _baseline_mask(cnt, period, baseline, func)
    gid = _group_ids(cnt, by)
    out = _limits(cnt, gid, in_base, 3.0)
    return out.drop(columns=["sd", "lcl", "ucl"]), gid


def _chart_per_group(std: pd.DataFrame, gid: np.ndarray, chart, empty: dict) -> pd.DataFrame:
    """Run ``chart`` on each group's standardised rates; a group without baseline data gets ``empty``."""
    parts = []
    for g in np.unique(gid):
        sub = std.loc[gid == g]
        z = sub["z"].to_numpy()
        if np.isnan(z).any():  # group without baseline data: nothing to chart against
            res = pd.DataFrame(empty, index=sub.index)
        else:
            res = chart(z).drop(columns="x").set_index(sub.index)
        parts.append(res)
    return pd.concat([std, pd.concat(parts).loc[std.index]], axis=1).reset_index(drop=True)


def ewma_chart(
    audits: pd.DataFrame,
    period: str = S.WEEK,
    by=None,
    outcome: str = S.IS_ERROR,
    lam: float = 0.2,
    L: float = 3.0,
    baseline=None,
) -> pd.DataFrame:
    """EWMA chart of the standardised per-period error rate, for small sustained shifts.

    Parameters
    ----------
    audits, period, by, outcome, baseline
        As in :func:`p_chart`.
    lam : float, default 0.2
        EWMA weight λ; small values (0.05–0.25) suit small sustained shifts.
    L : float, default 3
        Limit width; with λ around 0.1–0.25, L near 3 gives an in-control
        average run length of roughly 500 periods (Lucas & Saccucci [2]_).

    Returns
    -------
    DataFrame
        One row per group and period: the ``by`` columns, ``period``, ``n``,
        ``errors``, ``error_rate``, ``center``, ``z`` (standardised rate),
        ``in_baseline``, ``ewma`` (EWMA of ``z``), ``lcl``, ``ucl`` (time-varying
        limits on the ``z`` scale), ``out_of_control`` and ``direction``.

    Notes
    -----
    Each period's rate is standardised against the group's baseline rate,
    z_i = (p_i − p̄)/√(p̄(1−p̄)/n_i), so that periods with different audit
    counts are comparable and z is N(0, 1) in control; the EWMA of z with
    target 0 and σ = 1 is then charted (the standardised EWMA for attributes
    with varying n of Montgomery [1]_, Sect. 9.2, and Lucas & Saccucci [2]_).
    Periods of a group without audits are skipped. The recurrence is tested
    in :func:`ewma`.

    References
    ----------
    .. [1] Montgomery, D. C. (2009). *Introduction to Statistical Quality
       Control*, 6th ed., Wiley. Sect. 9.2.
    .. [2] Lucas, J. M., Saccucci, M. S. (1990). Exponentially weighted moving
       average control schemes: properties and enhancements. *Technometrics*
       32(1), 1–12.
    """
    by = _as_list(by)
    std, gid = _standardised(audits, period, by, outcome, baseline, "ewma_chart")
    empty = {"ewma": np.nan, "lcl": np.nan, "ucl": np.nan, "out_of_control": False, "direction": NO_SIGNAL}
    return _chart_per_group(std, gid, lambda z: ewma(z, lam=lam, L=L), empty)


def cusum_chart(
    audits: pd.DataFrame,
    period: str = S.WEEK,
    by=None,
    outcome: str = S.IS_ERROR,
    k: float = 0.5,
    h: float = 4.0,
    baseline=None,
) -> pd.DataFrame:
    """Tabular CUSUM of the standardised per-period error rate.

    Parameters
    ----------
    audits, period, by, outcome, baseline
        As in :func:`p_chart`.
    k : float, default 0.5
        Reference value (standard errors); tuned to a 1-standard-error shift.
    h : float, default 4
        Decision interval (standard errors); with k = 0.5, h = 4 false alarms
        come sooner than with h = 5 (in-control ARL in the low hundreds rather
        than several hundred; Montgomery [1]_, Sect. 9.1).

    Returns
    -------
    DataFrame
        One row per group and period: the ``by`` columns, ``period``, ``n``,
        ``errors``, ``error_rate``, ``center``, ``z``, ``in_baseline``,
        ``c_plus``, ``c_minus``, ``n_plus``, ``n_minus``, ``h``,
        ``out_of_control`` and ``direction``.

    Notes
    -----
    The standardised rates z_i of :func:`ewma_chart` are accumulated with
    :func:`cusum` (target 0, σ = 1), the standardised CUSUM of Montgomery [1]_
    (Sect. 9.1).

    References
    ----------
    .. [1] Montgomery, D. C. (2009). *Introduction to Statistical Quality
       Control*, 6th ed., Wiley. Sect. 9.1.
    """
    by = _as_list(by)
    std, gid = _standardised(audits, period, by, outcome, baseline, "cusum_chart")
    empty = {
        "c_plus": np.nan,
        "c_minus": np.nan,
        "n_plus": 0,
        "n_minus": 0,
        "h": h,
        "out_of_control": False,
        "direction": NO_SIGNAL,
    }
    return _chart_per_group(std, gid, lambda z: cusum(z, k=k, h=h), empty)
