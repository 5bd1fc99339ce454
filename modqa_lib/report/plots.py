"""Seaborn charts for the report notebooks.

Each function takes a tidy result table from scoring/RCA/drift and returns a
:class:`modqa_lib.report.chart_style.ChartFigure` (a matplotlib ``Figure``); none
computes statistics. Every rate is drawn with its confidence interval and its n,
every axis says what it shows, and each chart keeps the rules of
:mod:`modqa_lib.report.chart_style` (legends below the data, ticks that never
repeat, labels in words, its own alt text, a phone-sized variant).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.lines
import matplotlib.patches
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from modqa_lib.contract import schema as S
from modqa_lib.report.chart_style import (
    PHONE_MIME,
    STATUS_COLORS,
    ChartFigure,
    PercentTicks,
    date_axis,
    is_phone,
    legend_below,
    new_figure,
    percent_axis,
    phone_mode,
    redrawable,
    set_style,
    set_title,
    small_font,
)
from modqa_lib.report.display import chart_label
from modqa_lib.report.format import confidence_label, percent, rate_text

__all__ = [
    "PHONE_MIME",
    "STATUS_COLORS",
    "ChartFigure",
    "PercentTicks",
    "control_chart",
    "forest",
    "heatmap",
    "pareto_chart",
    "phone_mode",
    "set_style",
    "stacked_shares",
    "threshold_chart",
]


def _pct_text(v: float) -> str:
    """A target as a percentage with the decimals it has: 0.95 -> "95%", 0.925 -> "92.5%"."""
    for d in range(3):
        if abs(100 * v - round(100 * v, d)) < 1e-9:
            break
    return percent(v, d)


def _rate(row: pd.Series, value: str) -> str:
    """A rate of one table row as a reader sees it: "92.1% (95% CI 91.8%–92.4%; n = 1,640)"."""
    return rate_text(row[value], row.get(S.CI_LOW), row.get(S.CI_HIGH), row.get(S.N, float("nan")))


def _n(v: Any) -> str:
    return f"{int(round(float(v))):,}" if pd.notna(v) else "?"


def _subject(kind: str, title: str, what: str) -> str:
    head = f"{kind} “{title}”" if title else kind
    return f"{head}: {what}"


@redrawable
def forest(
    table: pd.DataFrame,
    label: str | Sequence[str],
    value: str = S.ACCURACY,
    target: float | str | None = None,
    title: str = "",
    xlabel: str = "Accuracy (95% CI)",
    status: str | None = "status",
    max_rows: int = 30,
) -> Figure:
    """Point estimates with CI bars per group, optionally against a target line.

    Parameters
    ----------
    table : DataFrame
        Needs ``value``, ``ci_low``, ``ci_high``, ``n`` and the label column(s).
    label : str or list of str
        Column(s) naming each row (joined with " · ").
    value : str, default "accuracy"
        Column holding the point estimates (proportions).
    target : float or column name, optional
        Vertical target line (a number) or per-row target markers (a column).
    title : str, default ""
        Chart title.
    xlabel : str, default "Accuracy (95% CI)"
        Label of the x axis (percent scale).
    status : str, optional
        Column with met / at risk / missed used for colour.
    max_rows : int, default 30
        Draw at most the first ``max_rows`` rows of ``table``.

    Returns
    -------
    ChartFigure
        One row per group, its n in the label; alt text names the lowest and
        highest group and how many miss the target.
    """
    set_style()
    t = table.head(max_rows).reset_index(drop=True)
    cols = [label] if isinstance(label, str) else list(label)
    groups = t[cols].astype(str).agg(" · ".join, axis=1)
    phone = is_phone()
    names = groups + ("\n" if phone else "  ") + "(n=" + t[S.N].map(_n) + ")"  # a phone has no width to spare
    y = np.arange(len(t))[::-1]
    fig, ax = new_figure(7.5, (0.5 if phone else 0.32) * len(t) + 1.6)
    colors = [
        STATUS_COLORS.get(s, STATUS_COLORS[None]) for s in (t[status] if status and status in t else [None] * len(t))
    ]
    ax.hlines(y, t[S.CI_LOW], t[S.CI_HIGH], color=colors, lw=2.2)
    ax.scatter(t[value], y, color=colors, zorder=3, s=26)
    handles, labels = [], []
    if isinstance(target, (int, float)):
        handles.append(ax.axvline(target, color="#868e96", ls="--", lw=1))
        labels.append(f"target {_pct_text(target)}")
    elif isinstance(target, str) and target in t:
        handles.append(ax.scatter(t[target], y, marker="|", s=160, color="#495057", zorder=4))
        labels.append("target")
    if status and status in t:
        for s in ("met", "at risk", "missed"):
            if (t[status] == s).any():
                handles.append(matplotlib.lines.Line2D([], [], color=STATUS_COLORS[s], marker="o", lw=2.2))
                labels.append(s)
    ax.set_ylim(-0.7, len(t) - 0.3)
    ax.set_yticks(y, names)
    ax.set_xlabel(chart_label(xlabel), loc="right" if phone else "center")  # right: never past the image edge
    percent_axis(ax)
    set_title(ax, title)
    legend_below(fig, ax, handles, labels)
    fig.alt = _forest_alt(t, groups, value, target, title, xlabel, status)
    return fig


def _forest_alt(t, groups, value, target, title, xlabel, status) -> str:
    what = f"{chart_label(xlabel)} of {len(t)} group(s), each with its interval and n"
    if t.empty or t[value].isna().all():
        return _subject("Interval chart", title, what + "; no estimate to show") + "."
    lo, hi = t[value].idxmin(), t[value].idxmax()
    reading = f"lowest {groups[lo]} {_rate(t.loc[lo], value)}, highest {groups[hi]} {_rate(t.loc[hi], value)}"
    if isinstance(target, (int, float)):
        below = int((t[S.CI_HIGH] < target).sum())
        reading += f"; target {_pct_text(target)}, {below} group(s) with the whole interval below it"
    if status and status in t:
        counts = t[status].value_counts()
        reading += "; " + ", ".join(f"{int(counts[s])} {s}" for s in ("met", "at risk", "missed") if s in counts)
    return _subject("Interval chart", title, what) + "; " + reading + "."


@redrawable
def control_chart(
    chart: pd.DataFrame,
    period: str = S.WEEK,
    title: str = "",
    events: pd.DataFrame | None = None,
    group: str | None = None,
    rate_name: str = "error rate",
) -> Figure:
    """p-chart: per-period error rate with its control limits and flagged points.

    Parameters
    ----------
    chart : DataFrame
        From :func:`modqa_lib.stats.drift.p_chart`: ``period, error_rate, center, lcl, ucl, out_of_control``.
    period : str, default "week"
        Column holding the period (x axis).
    title : str, default ""
        Chart title (the group is appended when faceting).
    events : DataFrame, optional
        Vertical markers, columns ``at`` (timestamp) and ``label`` (e.g. policy changes).
    group : str, optional
        Column to facet by (one small chart per group).
    rate_name : str, default "error rate"
        What the rate is (y axis, legend and alt text), e.g. "SLA breach rate".

    Returns
    -------
    ChartFigure
        One axis per group, sharing the time axis; the legend below the charts;
        alt text names the periods above or below the limits.
    """
    set_style()
    groups = [(None, chart)] if group is None else list(chart.groupby(group, sort=False))
    fig, axes = new_figure(8, 2.6 * len(groups) + 0.5, nrows=len(groups), squeeze=False, sharex=True)
    for ax, (g, d) in zip(axes[:, 0], groups):
        d = d.sort_values(period)
        x = pd.to_datetime(d[period])
        ax.fill_between(x, d["lcl"], d["ucl"], step="mid", color="#dee2e6", alpha=0.7, label="control limits")
        ax.plot(x, d["center"], color="#868e96", lw=1, ls="--", label="centre line")
        ax.plot(x, d[S.ERROR_RATE], marker="o", color="#1c7ed6", lw=1.5, ms=4, label=rate_name)
        ooc = d[d["out_of_control"].astype(bool)]
        ax.scatter(
            pd.to_datetime(ooc[period]), ooc[S.ERROR_RATE], color="#c92a2a", zorder=4, s=40, label="out of control"
        )
        if events is not None:
            for i, (_, e) in enumerate(events.iterrows()):
                at = pd.to_datetime(e["at"])
                ax.axvline(
                    at.tz_localize(None) if at.tzinfo else at,
                    color="#7048e8",
                    ls=":",
                    lw=1.2,
                    label="policy change" if i == 0 else "_nolegend_",
                )
        ax.set_ylabel(chart_label(rate_name))
        percent_axis(ax, "y")
        date_axis(ax)
        set_title(ax, f"{title}{' · ' + str(g) if g is not None else ''}")
    legend_below(fig, axes[0, 0])
    fig.alt = _control_alt(chart, period, title, group, rate_name)
    return fig


def _control_alt(chart: pd.DataFrame, period: str, title: str, group: str | None, rate_name: str) -> str:
    if chart.empty:
        return _subject("Control chart", title, f"weekly {rate_name}; no data") + "."
    dates = pd.to_datetime(chart[period])
    what = (
        f"{rate_name} per {chart_label(period)} with its centre line and control limits, "
        f"{chart[period].nunique()} {chart_label(period)}s from {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}"
    )
    if group is not None:
        what += f", one panel per {chart_label(group)}"
    ooc = chart[chart["out_of_control"].astype(bool)].sort_values(period)
    if ooc.empty:
        reading = "no period outside the control limits"
    else:
        parts = []
        for r in ooc.head(4).itertuples(index=False):
            d = pd.to_datetime(getattr(r, period))
            rate = getattr(r, S.ERROR_RATE)
            side, limit = ("above the upper", r.ucl) if rate > r.ucl else ("below the lower", r.lcl)
            who = f"{getattr(r, group)}, " if group is not None else ""
            n = f"; n = {_n(getattr(r, S.N))}" if S.N in chart else ""
            dec = 1 if percent(rate, 1) != percent(limit, 1) else 2
            parts.append(
                f"{who}{chart_label(period)} of {d:%Y-%m-%d} {side} limit "
                f"({percent(rate, dec)} against {percent(limit, dec)}{n})"
            )
        reading = "; ".join(parts) + (f"; {len(ooc) - 4} more" if len(ooc) > 4 else "")
    return _subject("Control chart", title, what) + "; " + reading + "."


def _cell_text(row: pd.Series, value: str, min_n: int, phone: bool) -> str:
    n = row[S.N]
    if pd.isna(n) or n < min_n or pd.isna(row[value]):
        return f"n={_n(n)}"
    lo, hi = row[S.CI_LOW], row[S.CI_HIGH]
    if pd.isna(lo) or pd.isna(hi):
        ci = "no CI"
    elif phone:  # whole percentages, rounded outwards: the interval never looks narrower than it is
        ci = f"{math.floor(100 * lo + 1e-9):.0f}–{math.ceil(100 * hi - 1e-9):.0f}"
    else:
        ci = f"{100 * lo:.1f}–{100 * hi:.1f}"
    return f"{percent(row[value])}\n{ci}\nn={_n(n)}"


@redrawable
def heatmap(
    table: pd.DataFrame,
    index: str,
    columns: str,
    value: str = S.ACCURACY,
    min_n: int = 20,
    title: str = "",
    fmt: str = ".1%",
    center: float | None = None,
    alpha: float = 0.05,
) -> Figure:
    """A group × group heatmap of a rate; each cell shows the rate, its interval and n.

    Cells with fewer than ``min_n`` audits are hatched and show only their n:
    "too few audits", not missing data.

    Parameters
    ----------
    table : DataFrame
        Tidy table with one row per (``index``, ``columns``) cell, the ``value``,
        ``ci_low``, ``ci_high`` and ``n`` columns (e.g.
        :func:`modqa_lib.stats.scoring.accuracy_table` by two columns).
    index : str
        Column whose values are the rows.
    columns : str
        Column whose values are the columns.
    value : str, default "accuracy"
        Column holding the rate to show.
    min_n : int, default 20
        Cells with fewer audits are hatched and show only n (the title says so).
    title : str, default ""
        Chart title.
    fmt : str, default ".1%"
        Kept for compatibility; the rate is written by :func:`modqa_lib.report.format.percent`.
    center : float, optional
        Value at the centre of the colour map (e.g. the target).
    alpha : float, default 0.05
        1 - confidence level of the intervals (for the title: "95% CI").

    Returns
    -------
    ChartFigure
        Cell text: rate, interval (percent) and n on three lines.

    Raises
    ------
    ValueError
        When ``table`` lacks the interval or n columns: a rate is never shown without them.
    """
    missing = [c for c in (value, S.CI_LOW, S.CI_HIGH, S.N) if c not in table]
    if missing:
        raise ValueError(f"heatmap needs the columns {missing}: every rate is shown with its interval and n")
    set_style()
    phone = is_phone()
    t = table.reset_index(drop=True)
    small = t[S.N].isna() | (t[S.N] < min_n)
    t["_text"] = [_cell_text(r, value, min_n, phone) for _, r in t.iterrows()]
    t["_shown"] = t[value].where(~small)
    grid = t.pivot_table(index=index, columns=columns, values="_shown", aggfunc="first", dropna=False)
    rows = sorted(t[index].dropna().unique(), key=str)
    cols = sorted(t[columns].dropna().unique(), key=str)
    grid = grid.reindex(index=rows, columns=cols)
    text = t.pivot_table(index=index, columns=columns, values="_text", aggfunc="first").reindex(
        index=rows, columns=cols
    )
    fig, ax = new_figure(1.25 * len(cols) + 3, 0.62 * len(rows) + 2.0)
    sns.heatmap(
        grid.astype(float),
        annot=text.fillna("").to_numpy(),
        fmt="",
        cmap="RdYlGn",
        center=center,
        ax=ax,
        cbar=False,
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": small_font() if phone else 9.0, "linespacing": 1.1},
    )
    hatched = 0
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            cell = t[(t[index] == r) & (t[columns] == c)]
            if not cell.empty and bool(small[cell.index].all()):
                ax.add_patch(matplotlib.patches.Rectangle((j, i), 1, 1, fill=False, hatch="///", ec="#ced4da", lw=0))
                ax.text(
                    j + 0.5, i + 0.5, text.loc[r, c], ha="center", va="center", fontsize=small_font() if phone else 9.0
                )
                hatched += 1
    level = confidence_label(alpha)
    note = f"cell: rate, {level}, n" + (f"; hatched: fewer than {min_n} audits" if hatched else "")
    set_title(ax, f"{title}\n({note})" if title else f"({note})")
    ax.set_xlabel(chart_label(columns))
    ax.set_ylabel(chart_label(index))
    ax.tick_params(axis="x", rotation=30 if phone or len(cols) > 6 else 0)
    ax.tick_params(axis="y", rotation=0)
    fig.alt = _heatmap_alt(t, small, index, columns, value, min_n, title, level)
    fig.labels = [str(x) for x in t["_text"]]
    return fig


def _heatmap_alt(t, small, index, columns, value, min_n, title, level) -> str:
    what = (
        f"{chart_label(value)} with its {level} and n for each {chart_label(index)} "
        f"({t[index].nunique()}) × {chart_label(columns)} ({t[columns].nunique()})"
    )
    shown = t[~small & t[value].notna()]
    if shown.empty:
        reading = f"every cell has fewer than {min_n} audits"
    else:
        lo, hi = shown[value].idxmin(), shown[value].idxmax()
        reading = (
            f"lowest {t.loc[lo, index]} × {t.loc[lo, columns]} {_rate(t.loc[lo], value)}, "
            f"highest {t.loc[hi, index]} × {t.loc[hi, columns]} {_rate(t.loc[hi], value)}"
        )
    if small.any():
        reading += f"; {int(small.sum())} cell(s) hatched, fewer than {min_n} audits"
    return _subject("Heatmap", title, what) + "; " + reading + "."


@redrawable
def stacked_shares(table: pd.DataFrame, group: str, category: str, value: str = "share", title: str = "") -> Figure:
    """Horizontal 100% stacked bars: the mix of ``category`` within each ``group``.

    Parameters
    ----------
    table : DataFrame
        Tidy table with the ``group``, ``category`` and ``value`` columns
        (e.g. :func:`modqa_lib.stats.scoring.error_mix`).
    group : str
        Column naming each bar.
    category : str
        Column naming each segment.
    value : str, default "share"
        Column holding each segment's share of its group (summing to 1 per group).
    title : str, default ""
        Chart title.

    Returns
    -------
    ChartFigure
        One bar per group; the legend (categories in words) below the bars.
    """
    set_style()
    grid = table.pivot_table(index=group, columns=category, values=value, aggfunc="sum").fillna(0)
    fig, ax = new_figure(7.5, 0.38 * len(grid) + 1.8)
    grid.plot(kind="barh", stacked=True, ax=ax, colormap="Set2", width=0.75, legend=False)
    ax.set_xlim(0, 1)
    percent_axis(ax)
    ax.set_xlabel("share of errors")
    ax.set_ylabel(chart_label(group))
    set_title(ax, title)
    legend_below(fig, ax, title=category)
    fig.alt = _shares_alt(grid, group, category, title)
    return fig


def _shares_alt(grid: pd.DataFrame, group: str, category: str, title: str) -> str:
    what = f"share of each {chart_label(category)} within each of {len(grid)} {chart_label(group)}(s)"
    if grid.empty:
        return _subject("Stacked bar chart", title, what) + "."
    parts = [f"{g}: mostly {chart_label(row.idxmax())} ({percent(row.max(), 0)})" for g, row in grid.head(6).iterrows()]
    return _subject("Stacked bar chart", title, what) + "; " + "; ".join(parts) + "."


@redrawable
def pareto_chart(
    table: pd.DataFrame, cause: str = S.ROOT_CAUSE, title: str = "", names: dict[str, str] | None = None
) -> Figure:
    """Pareto chart: error counts per cause (bars) and cumulative share (line).

    Parameters
    ----------
    table : DataFrame
        From :func:`modqa_lib.stats.rca.pareto` (one group): the ``cause``,
        ``count`` and ``cum_share`` columns.
    cause : str, default "root_cause"
        Column naming the causes.
    title : str, default ""
        Chart title.
    names : dict, optional
        Display names of the causes (e.g. the taxonomy's root-cause names).

    Returns
    -------
    ChartFigure
        Bars by count, descending, with the cumulative share on a second axis.
    """
    set_style()
    t = table.sort_values("count", ascending=False)
    labels = [names.get(c, c) if names else c for c in t[cause]]
    labels = [chart_label(c) for c in labels]
    fig, ax = new_figure(7.5, 3.6)
    bars = ax.bar(labels, t["count"], color="#4dabf7")
    ax.set_ylabel("errors")
    ax.set_xlabel(chart_label(cause))
    ax.tick_params(axis="x", rotation=30 if not is_phone() else 60)
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    ax2 = ax.twinx()
    (line,) = ax2.plot(labels, t["cum_share"], color="#e8590c", marker="o", ms=4)
    ax2.set_ylim(0, 1.05)
    percent_axis(ax2, "y")
    ax2.set_ylabel("cumulative share")
    ax2.grid(False)
    set_title(ax, title)
    legend_below(fig, ax, [bars, line], ["errors (count)", "cumulative share of errors"])
    fig.alt = _pareto_alt(t, labels, title, cause)
    return fig


def _pareto_alt(t: pd.DataFrame, labels: list[str], title: str, cause: str) -> str:
    what = f"errors per {chart_label(cause)} ({len(t)}), largest first, with the cumulative share"
    if t.empty:
        return _subject("Pareto chart", title, what) + "; no errors."
    k = int((t["cum_share"].to_numpy() < 0.8).sum()) + 1
    reading = f"largest {labels[0]} ({_n(t['count'].iloc[0])} errors, {percent(t['cum_share'].iloc[0], 0)})"
    reading += f"; the first {min(k, len(t))} cause(s) make up 80% of errors"
    return _subject("Pareto chart", title, what) + "; " + reading + "."


@redrawable
def threshold_chart(
    curve: pd.DataFrame,
    threshold: str = "threshold",
    group: str | None = None,
    deployed: float | None = 0.5,
    title: str = "",
) -> Figure:
    """Precision and recall across model-score thresholds (one line style per metric).

    When ``curve`` has ``precision_ci_low/high`` and ``recall_ci_low/high``
    (:func:`modqa_lib.stats.model_eval.threshold_curve` with ``ci=True``) and no
    ``group``, each line gets its confidence band.

    Parameters
    ----------
    curve : DataFrame
        From :func:`modqa_lib.stats.model_eval.threshold_curve`: ``threshold``,
        ``precision``, ``recall`` (and their intervals).
    threshold : str, default "threshold"
        Column holding the thresholds (x axis).
    group : str, optional
        Column to draw one line per value of (colour); no bands then.
    deployed : float, optional, default 0.5
        The threshold in production, drawn as a dashed line (None: no line).
    title : str, default ""
        Chart title.

    Returns
    -------
    ChartFigure
    """
    set_style()
    metrics = [m for m in ("precision", "recall") if m in curve]
    styles = {"precision": "-", "recall": "--"}
    fig, ax = new_figure(7.5, 3.8)
    palette = sns.color_palette(n_colors=max(1, curve[group].nunique() if group else len(metrics)))
    parts = list(curve.groupby(group, sort=True)) if group else [(None, curve)]
    for gi, (g, d) in enumerate(parts):
        d = d.sort_values(threshold)
        for mi, m in enumerate(metrics):
            colour = palette[gi] if group else palette[mi]
            name = f"{g} · {m}" if group else m
            ax.plot(d[threshold], d[m], ls=styles[m], color=colour, lw=1.6, label=chart_label(name))
            lo, hi = f"{m}_ci_low", f"{m}_ci_high"
            if group is None and {lo, hi} <= set(d.columns):
                ax.fill_between(d[threshold], d[lo], d[hi], color=colour, alpha=0.18, lw=0, label=f"{m} 95% CI")
    if deployed is not None:
        ax.axvline(deployed, color="#868e96", ls=":", lw=1.2, label=f"deployed threshold {deployed:g}")
    ax.set_ylim(0, 1.02)
    percent_axis(ax, "y")
    ax.set_xlabel("model score threshold")
    ax.set_ylabel("precision, recall")
    set_title(ax, title)
    legend_below(fig, ax)
    fig.alt = _threshold_alt(curve, threshold, group, deployed, metrics, title)
    return fig


def _threshold_alt(curve, threshold, group, deployed, metrics, title) -> str:
    what = f"{' and '.join(metrics)} against the model score threshold"
    if group:
        what += f", one line per {chart_label(group)}"
    if curve.empty or deployed is None or group:
        return _subject("Line chart", title, what) + "."
    row = curve.iloc[(curve[threshold] - deployed).abs().argsort()[:1]].iloc[0]
    reading = f"at the deployed threshold {deployed:g}: " + ", ".join(f"{m} {percent(row[m])}" for m in metrics)
    return _subject("Line chart", title, what) + "; " + reading + "."
