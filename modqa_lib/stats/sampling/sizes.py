"""Sample sizes: Cochran's n with finite-population correction, achieved margins, two-period sizes."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize

from modqa_lib.contract.checks import check_alpha
from modqa_lib.errors import SamplingError
from modqa_lib.stats.sampling._common import MARGIN_METHODS, _ceil, _check_int, _check_prob


# ======================================================================= sizes
def _cochran_n(population, margin, confidence, expected_rate) -> float:
    """Unrounded Cochran sample size with finite-population correction."""
    z = norm.ppf(1 - (1 - confidence) / 2)
    n0 = z * z * expected_rate * (1 - expected_rate) / (margin * margin)
    if population is None:
        return n0
    return n0 / (1 + (n0 - 1) / population)


def sample_size(population: int | None, margin: float, confidence: float = 0.95, expected_rate: float = 0.5) -> int:
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


def achieved_margin(n, population=None, confidence: float = 0.95, expected_rate: float = 0.5, method: str = "wilson"):
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


def sample_size_two_periods(
    p_before: float,
    drop: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> int:
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
    alpha = check_alpha(alpha, "sample_size_two_periods")
    power = _check_prob(power, "power")
    if not (isinstance(ratio, (int, float, np.number)) and ratio > 0):
        raise SamplingError(f"ratio must be a positive number, got {ratio!r}")
    if alternative not in ("two-sided", "larger"):
        raise SamplingError(f"alternative must be 'two-sided' or 'larger', got {alternative!r}")
    h = float(proportion_effectsize(p_before, p_before - drop))
    n1 = NormalIndPower().solve_power(
        effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=ratio, alternative=alternative
    )
    n1 = float(np.asarray(n1).ravel()[0])
    if not math.isfinite(n1) or n1 <= 0:
        raise SamplingError(
            f"no sample size found for p_before={p_before}, drop={drop} "
            f"(effect size h={h:.4g}); the drop is too small to detect"
        )
    return max(1, _ceil(n1))
