"""Charts of the operations section: speed against quality, SLA share by day and hour.

Like :mod:`modqa_lib.report.plots`, each function draws a tidy table from
:mod:`modqa_lib.stats.operations` and computes nothing; labels from data are
drawn as plain text (a ``$`` in a site name is not read as mathtext), legends
sit below the plotting area, percent ticks never repeat, and each figure carries
its alt text and a phone-sized variant.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from modqa_lib.report.chart_style import (
    STATUS_COLORS,
    PercentTicks,
    date_axis,
    legend_below,
    new_figure,
    redrawable,
    set_style,
    set_title,
    small_font,
)
from modqa_lib.report.display import chart_label
from modqa_lib.report.format import percent, rate_text

__all__ = ["handle_time_trend", "sla_heatmap", "speed_quality_chart"]


def _subject(kind: str, title: str, what: str) -> str:
    return (f"{kind} “{title}”" if title else kind) + f": {what}"


@redrawable
def speed_quality_chart(
    table: pd.DataFrame,
    unit: str,
    aht_target: float | None = None,
    accuracy_target: float | None = None,
    title: str = "Speed against quality",
) -> Figure:
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
    ChartFigure
        Flagged units (fast and inaccurate) in red, the others grey.
    """
    set_style()
    fig, ax = new_figure(7.5, 5.0)
    t = table.dropna(subset=["accuracy"]).reset_index(drop=True)
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
            str(getattr(r, unit)),
            (r.median_s, r.accuracy),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=max(9.0, small_font()),
        )
    if aht_target is not None and np.isfinite(aht_target):
        ax.axvline(aht_target, ls="--", color="#868e96", lw=1, label=f"handle-time ceiling {aht_target:g} s")
    if accuracy_target is not None:
        ax.axhline(accuracy_target, ls=":", color="#868e96", lw=1, label=f"accuracy target {percent(accuracy_target)}")
    ax.yaxis.set_major_formatter(PercentTicks())
    ax.set_xlabel("Median handle time, seconds (95% CI)")
    ax.set_ylabel("Accuracy (95% CI, design-weighted)")
    set_title(ax, title)
    legend_below(fig, ax)
    flagged = [str(u) for u in t.loc[t["flag"].astype(bool), unit]]
    what = f"median handle time against design-weighted accuracy for {len(t)} {chart_label(unit)}(s), both with 95% CIs"
    reading = (
        "flagged fast and less accurate: " + ", ".join(flagged) if flagged else "none flagged fast and less accurate"
    )
    if not t.empty:
        lo = t["accuracy"].idxmin()
        row = t.loc[lo]
        acc = (
            rate_text(row["accuracy"], row["ci_low"], row["ci_high"], row["n"])
            if "n" in t
            else percent(row["accuracy"])
        )
        reading += f"; lowest accuracy {row[unit]} {acc}"
    fig.alt = _subject("Scatter chart", title, what) + "; " + reading + "."
    return fig


@redrawable
def sla_heatmap(peaks: pd.DataFrame, title: str = "Share within SLA by day and hour") -> Figure:
    """Share of items within SLA per day of week and hour block; flagged blocks outlined.

    Parameters
    ----------
    peaks : DataFrame
        :func:`modqa_lib.stats.operations.sla_peaks` output.
    title : str

    Returns
    -------
    ChartFigure
    """
    set_style()
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    grid = peaks.pivot(index="day", columns="hour", values="share").reindex(days)
    fig, ax = new_figure(8, 3.8)
    im = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="RdYlGn", vmin=0.7, vmax=1.0)
    ax.set_yticks(range(len(days)), days)
    ax.set_xticks(range(grid.shape[1]), [f"{int(h):02d}h" for h in grid.columns])
    for r in peaks[peaks["flag"]].itertuples(index=False):
        y, x = days.index(r.day), list(grid.columns).index(r.hour)
        ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, ec="black", lw=2))
    cb = fig.colorbar(im, ax=ax, location="bottom", shrink=0.6, label="share within SLA")
    cb.ax.xaxis.set_major_formatter(PercentTicks())
    ax.set_xlabel("hour block (start)")
    set_title(ax, title)
    what = "share of items actioned within their SLA for each day of the week and hour block"
    if peaks.empty:
        fig.alt = _subject("Heatmap", title, what) + "."
        return fig
    peaks = peaks.reset_index(drop=True)
    lo = peaks["share"].idxmin()
    reading = f"lowest {peaks.loc[lo, 'day']} {int(peaks.loc[lo, 'hour']):02d}h {percent(peaks.loc[lo, 'share'])}"
    reading += f"; {int(peaks['flag'].sum())} block(s) flagged (outlined)"
    fig.alt = _subject("Heatmap", title, what) + "; " + reading + "."
    return fig


@redrawable
def handle_time_trend(weekly: pd.DataFrame, group: str, ceiling: float | None = None, title: str = "") -> Figure:
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
    ChartFigure
    """
    set_style()
    fig, ax = new_figure(8, 3.8)
    for g, d in weekly.groupby(group, sort=True):
        d = d.sort_values("week")
        x = pd.to_datetime(d["week"])
        (line,) = ax.plot(x, d["median_s"], marker="o", ms=3, label=str(g))
        ax.fill_between(x, d["median_ci_low"], d["median_ci_high"], color=line.get_color(), alpha=0.2)
    if ceiling is not None and np.isfinite(ceiling):
        ax.axhline(ceiling, ls="--", color="#868e96", lw=1, label=f"ceiling {ceiling:g} s")
    ax.set_ylabel("Median handle time, s (95% CI)")
    set_title(ax, title)
    date_axis(ax)
    legend_below(fig, ax)
    what = f"weekly median handle time per {chart_label(group)} ({weekly[group].nunique()}) with 95% bands"
    if weekly.empty:
        fig.alt = _subject("Line chart", title, what) + "."
        return fig
    weeks = pd.to_datetime(weekly["week"])
    what += f", weeks {weeks.min():%Y-%m-%d} to {weeks.max():%Y-%m-%d}"
    last = weekly[pd.to_datetime(weekly["week"]) == weeks.max()]
    top = last.sort_values("median_s").iloc[-1]
    reading = f"highest in the last week {top[group]} {top['median_s']:.0f} s"
    if ceiling is not None and np.isfinite(ceiling):
        over = sorted({str(g) for g in weekly.loc[weekly["median_s"] > ceiling, group]})
        reading += f"; ceiling {ceiling:g} s, " + (f"exceeded by {', '.join(over)}" if over else "never exceeded")
    fig.alt = _subject("Line chart", title, what) + "; " + reading + "."
    return fig
