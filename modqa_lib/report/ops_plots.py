"""Charts of the operations section: speed against quality, SLA share by day and hour.

Like :mod:`modqa_lib.report.plots`, each function draws a tidy table from
:mod:`modqa_lib.stats.operations` and computes nothing; labels from data are
drawn as plain text (a ``$`` in a site name is not read as mathtext).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from modqa_lib.report.plots import STATUS_COLORS, set_style

__all__ = ["handle_time_trend", "sla_heatmap", "speed_quality_chart"]


def _plain(text: object) -> str:
    return str(text).replace("$", r"\$")


def speed_quality_chart(
    table: pd.DataFrame,
    unit: str,
    aht_target: float | None = None,
    accuracy_target: float | None = None,
    title: str = "Speed against quality",
) -> plt.Figure:
    """Median handle time (x) against accuracy (y) per unit, both with their 95% intervals.

    Parameters
    ----------
    table : DataFrame
        :func:`modqa_lib.stats.operations.speed_quality` output (``median_s``,
        ``median_ci_low/high``, ``accuracy``, ``ci_low/high``, ``flag``).
    unit : str
        The column naming the units (e.g. ``site``).
    aht_target : float, optional
        Ceiling on the median handle time (seconds): a dashed vertical line.
    accuracy_target : float, optional
        Accuracy target: a dashed horizontal line.
    title : str

    Returns
    -------
    Figure
        Flagged units (fast and inaccurate) in red, the others grey.
    """
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    t = table.dropna(subset=["accuracy"])
    for flag, colour, name in (
        (False, STATUS_COLORS[None], "not flagged"),
        (True, STATUS_COLORS["missed"], "fast and less accurate"),
    ):
        s = t[t["flag"] == flag]
        if s.empty:
            continue
        ax.errorbar(
            s["median_s"],
            s["accuracy"],
            xerr=[s["median_s"] - s["median_ci_low"], s["median_ci_high"] - s["median_s"]],
            yerr=[s["accuracy"] - s["ci_low"], s["ci_high"] - s["accuracy"]],
            fmt="o",
            color=colour,
            ecolor=colour,
            elinewidth=1,
            capsize=2,
            label=name,
        )
    for r in t.itertuples(index=False):
        ax.annotate(
            _plain(getattr(r, unit)), (r.median_s, r.accuracy), textcoords="offset points", xytext=(5, 5), fontsize=9
        )
    if aht_target is not None and np.isfinite(aht_target):
        ax.axvline(aht_target, ls="--", color="#868e96", lw=1, label=f"handle-time ceiling {aht_target:g} s")
    if accuracy_target is not None:
        ax.axhline(accuracy_target, ls=":", color="#868e96", lw=1, label=f"accuracy target {accuracy_target:.0%}")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1, decimals=1))
    ax.set_xlabel("Median handle time, seconds (95% CI)")
    ax.set_ylabel("Accuracy (95% CI, design-weighted)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig


def sla_heatmap(peaks: pd.DataFrame, title: str = "Share within SLA by day and hour") -> plt.Figure:
    """Share of items within SLA per day of week and hour block; flagged blocks outlined.

    Parameters
    ----------
    peaks : DataFrame
        :func:`modqa_lib.stats.operations.sla_peaks` output.
    title : str

    Returns
    -------
    Figure
    """
    set_style()
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    grid = peaks.pivot(index="day", columns="hour", values="share").reindex(days)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    im = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="RdYlGn", vmin=0.7, vmax=1.0)
    ax.set_yticks(range(len(days)), days)
    ax.set_xticks(range(grid.shape[1]), [f"{int(h):02d}h" for h in grid.columns])
    for r in peaks[peaks["flag"]].itertuples(index=False):
        y, x = days.index(r.day), list(grid.columns).index(r.hour)
        ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, ec="black", lw=2))
    cb = fig.colorbar(im, ax=ax)
    cb.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1, decimals=0))
    ax.set_xlabel("hour block (start)")
    ax.set_title(title)
    return fig


def handle_time_trend(weekly: pd.DataFrame, group: str, ceiling: float | None = None, title: str = "") -> plt.Figure:
    """Weekly median handle time per group with its 95% interval band.

    Parameters
    ----------
    weekly : DataFrame
        :func:`modqa_lib.stats.operations.handle_time_weekly` output.
    group : str
        Column naming the lines (e.g. ``site``).
    ceiling : float, optional
        Handle-time ceiling (seconds): a dashed line.
    title : str

    Returns
    -------
    Figure
    """
    set_style()
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for g, d in weekly.groupby(group, sort=True):
        d = d.sort_values("week")
        x = pd.to_datetime(d["week"])
        (line,) = ax.plot(x, d["median_s"], marker="o", ms=3, label=_plain(g))
        ax.fill_between(x, d["median_ci_low"], d["median_ci_high"], color=line.get_color(), alpha=0.2)
    if ceiling is not None and np.isfinite(ceiling):
        ax.axhline(ceiling, ls="--", color="#868e96", lw=1, label=f"ceiling {ceiling:g} s")
    ax.set_ylabel("Median handle time, s (95% CI)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.autofmt_xdate()
    return fig
