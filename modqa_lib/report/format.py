"""The one place where numbers become reader text: rates with their interval and n.

Statistics return tidy frames with identifier-safe columns (``accuracy``,
``ci_low``, ``ci_high``, ``n``); every report surface (notebook tables, the
generated summary paragraph, ``modqa summary``, the batch index page) turns
them into text here, so a rate reads the same everywhere::

    93.1% (95% CI 91.5%–94.4%; n = 1,204)

The confidence level is always derived from ``alpha`` (``alpha=0.1`` writes
"90% CI"), never typed.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["confidence_label", "interval_text", "percent", "rate_text"]


def _finite(*values: Any) -> bool:
    try:
        return all(v is not None and math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


def confidence_label(alpha: float = 0.05) -> str:
    """The interval's name for a significance level: ``"95% CI"`` for 0.05, ``"97.5% CI"`` for 0.025.

    Parameters
    ----------
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    str

    Examples
    --------
    >>> confidence_label(0.05), confidence_label(0.1), confidence_label(0.025)
    ('95% CI', '90% CI', '97.5% CI')
    """
    return f"{round(100 * (1 - float(alpha)), 6):g}% CI"


def percent(value: float, decimals: int | None = None) -> str:
    """A proportion as a percentage: 1 decimal, or 2 below 1% (critical-error rates live there).

    Parameters
    ----------
    value : float
        A proportion (0.931 is 93.1%).
    decimals : int, optional
        Fixed number of decimals instead.

    Returns
    -------
    str
        ``""`` when missing.

    Examples
    --------
    >>> percent(0.931), percent(0.004), percent(0.0), percent(0.62, 0)
    ('93.1%', '0.40%', '0.0%', '62%')
    """
    if not _finite(value):
        return ""
    v = float(value)
    if decimals is None:
        decimals = 2 if abs(v) < 0.01 and v != 0 else 1
    return f"{100 * v:.{decimals}f}%"


def rate_text(
    estimate: float,
    ci_low: float,
    ci_high: float,
    n: float,
    alpha: float = 0.05,
    *,
    noun: str = "",
    method: str | None = None,
    decimals: int | None = None,
) -> str:
    """A rate as a reader should always see it: estimate, interval at the level ``alpha`` gives, and n.

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        A proportion and its interval (from the statistics layer; nothing is computed here).
    n : int
        Audits (or errors, items...) behind it; a float effective n is rounded.
    alpha : float, default 0.05
        1 - confidence level of the interval, written as "95% CI".
    noun : str, optional
        What n counts, written after it ("n = 1,204 audits").
    method : str, optional
        The interval's name, written before "CI" ("95% Wilson CI").
    decimals : int, optional
        Fixed decimals of the percentages (default: see :func:`percent`).

    Returns
    -------
    str
        ``"93.1% (95% CI 91.5%–94.4%; n = 1,204)"``; ``"no estimate (n = 0)"``
        when n is 0 or the estimate missing; ``"93.1% (no interval; n = 12)"``
        when only the interval is missing.

    Examples
    --------
    >>> rate_text(0.931, 0.915, 0.944, 1204)
    '93.1% (95% CI 91.5%–94.4%; n = 1,204)'
    >>> rate_text(0.931, 0.918, 0.942, 1204, alpha=0.1, noun="audits", method="Wilson")
    '93.1% (90% Wilson CI 91.8%–94.2%; n = 1,204 audits)'
    """
    m = int(round(float(n))) if _finite(n) else 0
    count = f"n = {m:,}" + (f" {noun}" if noun else "")
    if m == 0 or not _finite(estimate):
        return f"no estimate ({count})"
    est = percent(estimate, decimals)
    if not _finite(ci_low, ci_high):
        return f"{est} (no interval; {count})"
    level = confidence_label(alpha)
    if method:
        level = level.replace(" CI", f" {method} CI")
    return f"{est} ({level} {percent(ci_low, decimals)}–{percent(ci_high, decimals)}; {count})"


def interval_text(
    estimate: float,
    ci_low: float,
    ci_high: float,
    points: bool = False,
    decimals: int | None = None,
    alpha: float | None = None,
) -> str:
    """An estimate and its interval for a table cell whose header names the level and whose n has its own column.

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        A proportion (or a difference of proportions) and its interval.
    points : bool, default False
        Show a difference in percentage points with its sign.
    decimals : int, optional
        Show a plain number with this many decimals instead (kappa, alpha).
    alpha : float, optional
        Write the level inside the brackets too ("87.2% (95% CI 80.1%–92.3%)"),
        for text where no header names it.

    Returns
    -------
    str
        ``"87.2% (80.1%–92.3%)"``, ``"+21.6 pts (+14.5 to +28.6)"``,
        ``"0.549 (0.535 to 0.551)"``; ``"87.2% (no interval)"`` when the
        interval is missing and ``""`` when the estimate is.

    Examples
    --------
    >>> interval_text(0.872, 0.801, 0.923), interval_text(0.216, 0.145, 0.286, points=True)
    ('87.2% (80.1%–92.3%)', '+21.6 pts (+14.5 to +28.6)')
    >>> interval_text(-0.02, -0.035, -0.005, points=True, alpha=0.1)
    '-2.0 pts (90% CI -3.5 to -0.5)'
    """
    if not _finite(estimate):
        return ""
    level = f"{confidence_label(alpha)} " if alpha is not None else ""
    if decimals is not None:
        est, fmt, sep = f"{estimate:.{decimals}f}", (lambda v: f"{v:.{decimals}f}"), " to "
    elif points:
        est, fmt, sep = f"{estimate * 100:+.1f} pts", (lambda v: f"{v * 100:+.1f}"), " to "
    else:
        est, fmt, sep = percent(estimate), percent, "–"
    if not _finite(ci_low, ci_high):
        return f"{est} (no interval)"
    return f"{est} ({level}{fmt(ci_low)}{sep}{fmt(ci_high)})"
