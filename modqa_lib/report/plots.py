"""Seaborn charts for the report notebooks.

Each function takes a tidy result table from scoring/RCA/drift and returns a
matplotlib ``Figure``; none computes statistics. Every rate is drawn with its
confidence interval, and every axis says what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns

from modqa_lib.contract import schema as S

__all__ = [
    "STATUS_COLORS",
    "control_chart",
    "forest",
    "heatmap",
    "pareto_chart",
    "set_style",
    "stacked_shares",
    "threshold_chart",
]

STATUS_COLORS = {"met": "#2b8a3e", "at risk": "#e67700", "missed": "#c92a2a", None: "#495057"}


#: labels come from data (vendor, site, queue, policy names): a '$' in one must be drawn as a '$',
#: not parsed as mathtext (which fails the whole report on an unbalanced '$'). Applied when this
#: module is imported and again by :func:`set_style` (seaborn's set_theme resets rcParams).
matplotlib.rcParams["text.parse_math"] = False


def set_style() -> None:
    """One consistent, print-friendly look for every chart (data labels drawn as plain text).

    Sets the seaborn theme and matplotlib's ``rcParams`` (resolution, bold titles,
    automatic layout); every chart function calls it first.

    Returns
    -------
    None
    """
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95)
    plt.rcParams.update(
        {
            "text.parse_math": False,
            "figure.dpi": 90,
            "savefig.dpi": 90,
            "axes.titleweight": "bold",
            "axes.titlesize": 11,
            "figure.autolayout": True,
        }
    )


def _pct(ax, axis="x"):
    fmt = matplotlib.ticker.PercentFormatter(xmax=1, decimals=0)
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def forest(
    table: pd.DataFrame,
    label: str | Sequence[str],
    value: str = S.ACCURACY,
    target: float | str | None = None,
    title: str = "",
    xlabel: str = "Accuracy (95% CI)",
    status: str | None = "status",
    max_rows: int = 30,
) -> plt.Figure:
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
    matplotlib.figure.Figure
        One row per group, its n in the label.
    """
    set_style()
    t = table.head(max_rows).copy()
    cols = [label] if isinstance(label, str) else list(label)
    names = t[cols].astype(str).agg(" · ".join, axis=1) + "  (n=" + t[S.N].map("{:,}".format) + ")"
    y = np.arange(len(t))[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(t) + 1.3))
    colors = [
        STATUS_COLORS.get(s, STATUS_COLORS[None]) for s in (t[status] if status and status in t else [None] * len(t))
    ]
    ax.hlines(y, t[S.CI_LOW], t[S.CI_HIGH], color=colors, lw=2.2)
    ax.scatter(t[value], y, color=colors, zorder=3, s=26)
    if isinstance(target, (int, float)):
        ax.axvline(target, color="#868e96", ls="--", lw=1)
        ax.text(target, -0.9, f" target {target:.0%}", color="#495057", fontsize=8, va="bottom")
        ax.set_ylim(-1, len(t) - 0.5)
    elif isinstance(target, str) and target in t:
        ax.scatter(t[target], y, marker="|", s=160, color="#495057", zorder=4, label="target")
        ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.set_yticks(y, names)
    ax.set_xlabel(xlabel)
    _pct(ax)
    ax.set_title(title)
    return fig


def control_chart(
    chart: pd.DataFrame,
    period: str = S.WEEK,
    title: str = "",
    events: pd.DataFrame | None = None,
    group: str | None = None,
) -> plt.Figure:
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

    Returns
    -------
    matplotlib.figure.Figure
        One axis per group, sharing the time axis.
    """
    set_style()
    groups = [(None, chart)] if group is None else list(chart.groupby(group, sort=False))
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 2.6 * len(groups)), squeeze=False, sharex=True)
    for ax, (g, d) in zip(axes[:, 0], groups):
        d = d.sort_values(period)
        x = pd.to_datetime(d[period])
        ax.fill_between(x, d["lcl"], d["ucl"], step="mid", color="#dee2e6", alpha=0.7, label="control limits")
        ax.plot(x, d["center"], color="#868e96", lw=1, ls="--", label="centre line")
        ax.plot(x, d[S.ERROR_RATE], marker="o", color="#1c7ed6", lw=1.5, ms=4, label="error rate")
        ooc = d[d["out_of_control"].astype(bool)]
        ax.scatter(
            pd.to_datetime(ooc[period]), ooc[S.ERROR_RATE], color="#c92a2a", zorder=4, s=40, label="out of control"
        )
        if events is not None:
            for _, e in events.iterrows():
                ax.axvline(
                    pd.to_datetime(e["at"]).tz_localize(None)
                    if pd.to_datetime(e["at"]).tzinfo
                    else pd.to_datetime(e["at"]),
                    color="#7048e8",
                    ls=":",
                    lw=1.2,
                )
        ax.set_ylabel("error rate")
        _pct(ax, "y")
        ax.set_title(f"{title}{' · ' + str(g) if g is not None else ''}")
    axes[0, 0].legend(fontsize=7, loc="upper left", ncols=4, frameon=False)
    fig.autofmt_xdate()
    return fig


def heatmap(
    table: pd.DataFrame,
    index: str,
    columns: str,
    value: str = S.ACCURACY,
    min_n: int = 20,
    title: str = "",
    fmt: str = ".1%",
    center: float | None = None,
) -> plt.Figure:
    """A group × group heatmap of a rate; cells with fewer than ``min_n`` audits are left blank.

    Cell text shows the rate; blank cells are "too few audits", not missing data.

    Parameters
    ----------
    table : DataFrame
        Tidy table with one row per (``index``, ``columns``) cell, the ``value``
        column and ``n`` (e.g. :func:`modqa_lib.stats.scoring.accuracy_table` by two columns).
    index : str
        Column whose values are the rows.
    columns : str
        Column whose values are the columns.
    value : str, default "accuracy"
        Column holding the rate to show.
    min_n : int, default 20
        Cells with fewer audits are left blank (the title says so).
    title : str, default ""
        Chart title.
    fmt : str, default ".1%"
        Format of the cell text.
    center : float, optional
        Value at the centre of the colour map (e.g. the target).

    Returns
    -------
    matplotlib.figure.Figure
    """
    set_style()
    t = table.copy()
    t.loc[t[S.N] < min_n, value] = np.nan
    grid = t.pivot_table(index=index, columns=columns, values=value, aggfunc="first")
    fig, ax = plt.subplots(figsize=(1.0 * grid.shape[1] + 3, 0.42 * grid.shape[0] + 1.6))
    sns.heatmap(
        grid,
        annot=True,
        fmt=fmt,
        cmap="RdYlGn",
        center=center,
        ax=ax,
        cbar=False,
        linewidths=0.5,
        linecolor="white",
        annot_kws={"fontsize": 8},
    )
    ax.set_title(title + (f"\n(blank: fewer than {min_n} audits)" if t[value].isna().any() else ""))
    ax.set_xlabel(columns)
    ax.set_ylabel(index)
    return fig


def stacked_shares(table: pd.DataFrame, group: str, category: str, value: str = "share", title: str = "") -> plt.Figure:
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
    matplotlib.figure.Figure
        One bar per group; the legend sits beside the bars.
    """
    set_style()
    grid = table.pivot_table(index=group, columns=category, values=value, aggfunc="sum").fillna(0)
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(grid) + 1.4))
    grid.plot(kind="barh", stacked=True, ax=ax, colormap="Set2", width=0.75)
    ax.set_xlim(0, 1)
    _pct(ax)
    ax.set_xlabel("share of errors")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside, never over bars
    ax.set_title(title)
    return fig


def pareto_chart(
    table: pd.DataFrame, cause: str = S.ROOT_CAUSE, title: str = "", names: dict[str, str] | None = None
) -> plt.Figure:
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
    matplotlib.figure.Figure
        Bars by count, descending, with the cumulative share on a second axis.
    """
    set_style()
    t = table.sort_values("count", ascending=False)
    labels = [names.get(c, c) if names else c for c in t[cause]]
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    ax.bar(labels, t["count"], color="#4dabf7")
    ax.set_ylabel("errors")
    ax.tick_params(axis="x", rotation=30)
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    ax2 = ax.twinx()
    ax2.plot(labels, t["cum_share"], color="#e8590c", marker="o", ms=4)
    ax2.set_ylim(0, 1.05)
    _pct(ax2, "y")
    ax2.set_ylabel("cumulative share")
    ax2.grid(False)
    ax.set_title(title)
    return fig


def threshold_chart(
    curve: pd.DataFrame,
    threshold: str = "threshold",
    group: str | None = None,
    deployed: float | None = 0.5,
    title: str = "",
) -> plt.Figure:
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
    matplotlib.figure.Figure
    """
    set_style()
    long = curve.melt(
        id_vars=[threshold] + ([group] if group else []),
        value_vars=[c for c in ("precision", "recall") if c in curve],
        var_name="metric",
        value_name="value",
    )
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    sns.lineplot(long, x=threshold, y="value", hue=group, style="metric", ax=ax)
    if group is None:  # 95% bands where the curve carries its intervals (threshold_curve(ci=True))
        for m, _colour in zip(("precision", "recall"), sns.color_palette(n_colors=2)):
            lo, hi = f"{m}_ci_low", f"{m}_ci_high"
            if {m, lo, hi} <= set(curve.columns):
                c = curve.sort_values(threshold)
                ax.fill_between(c[threshold], c[lo], c[hi], color="#868e96", alpha=0.18, lw=0, label=f"{m} 95% CI")
    if deployed is not None:
        ax.axvline(deployed, color="#868e96", ls="--", lw=1)
        ax.text(deployed, 0.02, " deployed", fontsize=8, color="#495057")
    ax.set_ylim(0, 1.02)
    _pct(ax, "y")
    ax.set_xlabel("model score threshold")
    ax.set_ylabel("")
    ax.set_title(title)
    if ax.get_legend():
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), fontsize=8, frameon=False)
    return fig
