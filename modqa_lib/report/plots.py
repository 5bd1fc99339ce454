"""Seaborn charts for the report notebooks.

Each function takes a tidy result table from scoring/RCA/drift and returns a
:class:`ChartFigure` (a matplotlib ``Figure``); none computes statistics. Every
rate is drawn with its confidence interval and its n, and every axis says what
it shows. The rules every chart keeps [1]_:

- legends sit outside the plotting area (below it), so they never cover data;
- percent tick labels get as many decimals as their spacing needs, never
  repeating ("92% 92% 93%");
- legend entries, legend titles and axis labels are words
  (:func:`modqa_lib.report.display.chart_label`: "false negative", not ``false_negative``);
- each figure carries its own alt text (what it shows and its key reading) and,
  when displayed, a phone-sized variant drawn 4 inches wide with text at least
  as large as body text on a 390 px screen; :func:`modqa_lib.report.export.export_html`
  serves it through ``<picture>`` below 640 px.

References
----------
.. [1] W3C WAI, "Complex Images" and "Images Tutorial" (alt text of charts),
   https://www.w3.org/WAI/tutorials/images/complex/; WCAG 2.2, 1.4.4 "Resize Text"
   and 1.4.10 "Reflow".
"""

from __future__ import annotations

import base64
import contextvars
import functools
import io
import math
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import matplotlib
import matplotlib.dates as mdates
import matplotlib.lines
import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.text
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from modqa_lib.contract import schema as S
from modqa_lib.report.display import chart_label
from modqa_lib.report.export import PHONE_MIME
from modqa_lib.report.format import confidence_label, percent, rate_text

__all__ = [
    "PHONE_MIME",
    "PHONE_WIDTH_IN",
    "STATUS_COLORS",
    "ChartFigure",
    "DateTicks",
    "PercentTicks",
    "control_chart",
    "date_axis",
    "forest",
    "heatmap",
    "legend_below",
    "min_font_px",
    "new_figure",
    "pareto_chart",
    "phone_mode",
    "redrawable",
    "set_style",
    "set_title",
    "small_font",
    "stacked_shares",
    "threshold_chart",
]

STATUS_COLORS = {"met": "#2b8a3e", "at risk": "#e67700", "missed": "#c92a2a", None: "#495057"}

#: width of the phone variant: 4 in at 90 dpi is 360 px, the content width of a 390 px screen
PHONE_WIDTH_IN = 4.0
_DPI = 90
#: smallest text of the phone variant (points): 11 pt at 90 dpi is 13.75 px, body text is 14 px
_PHONE_MIN_PT = 11.0

#: labels come from data (vendor, site, queue, policy names): a '$' in one must be drawn as a '$',
#: not parsed as mathtext (which fails the whole report on an unbalanced '$'). Applied when this
#: module is imported and again by :func:`set_style` (seaborn's set_theme resets rcParams).
matplotlib.rcParams["text.parse_math"] = False

_PHONE: contextvars.ContextVar[bool] = contextvars.ContextVar("modqa_phone_chart", default=False)


@contextmanager
def phone_mode() -> Iterator[None]:
    """Draw the charts created inside at phone size (4 in wide, text of at least 11 pt); rcParams restored after."""
    token = _PHONE.set(True)
    try:
        with plt.rc_context():
            yield
    finally:
        _PHONE.reset(token)


def small_font() -> float:
    """Size (points) of annotations and legends: 8 pt on the desktop chart, 11 pt on the phone variant."""
    return _PHONE_MIN_PT if _PHONE.get() else 8.0


def set_style() -> None:
    """One consistent, print-friendly look for every chart (data labels drawn as plain text).

    Sets the seaborn theme and matplotlib's ``rcParams`` (resolution, bold titles,
    constrained layout so that legends outside the axes get their room); every
    chart function calls it first. Inside :func:`phone_mode` every text is at
    least 11 pt.

    Returns
    -------
    None
    """
    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95)
    plt.rcParams.update(
        {
            "text.parse_math": False,
            "figure.dpi": _DPI,
            "savefig.dpi": _DPI,
            "axes.titleweight": "bold",
            "axes.titlesize": 11,
            "figure.autolayout": False,
            "figure.constrained_layout.use": True,
        }
    )
    if _PHONE.get():
        big = _PHONE_MIN_PT
        plt.rcParams.update(
            {
                "font.size": big,
                "axes.titlesize": big + 1.5,
                "axes.labelsize": big,
                "xtick.labelsize": big,
                "ytick.labelsize": big,
                "legend.fontsize": big,
                "legend.title_fontsize": big,
                "figure.titlesize": big + 1.5,
            }
        )


class ChartFigure(Figure):
    """A ``Figure`` that knows what it shows: alt text, and how to draw itself at phone size.

    Displayed in a notebook (IPython's ``_repr_mimebundle_``), it adds to the
    ``image/png`` that matplotlib's inline backend renders:

    - ``alt`` in the image's output metadata (the export writes it as ``<img alt>``)
      and as the output's ``text/plain``;
    - a phone-sized PNG under :data:`PHONE_MIME`, with the smallest text size of
      that image (``min_font_px``) and its width (``width_px``) in its metadata.

    Attributes
    ----------
    alt : str
        What the chart shows and its key reading, for screen readers.
    redraw : callable or None
        Draws the same chart again (called inside :func:`phone_mode`).
    labels : sequence of str
        The rates the chart writes as text (heatmap cells), recorded in the output
        metadata as ``modqa_labels`` so that tests can check each carries its interval and n.
    phone_variant : bool, default True
        Draw the phone variant when displayed (False for views that are never
        exported, such as the explorer's: it would double the drawing time).
    """

    alt: str = ""
    redraw: Callable[[], Figure] | None = None
    labels: Sequence[str] = ()
    phone_variant: bool = True

    def phone_png(self) -> tuple[bytes, float, int]:
        """The phone variant: PNG bytes, its smallest text in px and its width in px."""
        if self.redraw is None:
            raise ValueError("this chart cannot draw a phone variant (no redraw)")
        with phone_mode():
            fig = self.redraw()
            try:
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=_DPI)
                width = int(round(fig.get_figwidth() * _DPI))
                return _palette_png(buf.getvalue()), min_font_px(fig), width
            finally:
                plt.close(fig)

    def _repr_mimebundle_(self, include=None, exclude=None):
        data: dict[str, Any] = {}
        md: dict[str, Any] = {}
        if self.alt:
            data["text/plain"] = self.alt
            md["image/png"] = {"alt": self.alt}
        if self.labels:
            md.setdefault("image/png", {})["modqa_labels"] = list(self.labels)
        if self.redraw is not None and self.phone_variant:
            png, font_px, width = self.phone_png()
            data[PHONE_MIME] = base64.b64encode(png).decode("ascii")
            md[PHONE_MIME] = {"min_font_px": round(font_px, 2), "width_px": width}
        return data, md


#: matplotlib generates ``set`` for every Artist subclass with a docstring in its own Sphinx roles; say it plainly
ChartFigure.set.__doc__ = "Set several properties at once (see ``matplotlib.artist.Artist.set``)."


def _palette_png(png: bytes) -> bytes:
    """The PNG with a 256-colour palette: a third of the bytes, the same chart (keeps exports small)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def min_font_px(fig: Figure) -> float:
    """Smallest size (px at the figure's dpi) of any visible, non-empty text the figure draws.

    Parameters
    ----------
    fig : Figure
        A drawn figure (tick labels exist after a draw).

    Returns
    -------
    float
    """
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(matplotlib.text.Text)
        if t.get_visible() and t.get_text().strip() and _drawn(t)
    ]
    return min(sizes, default=0.0) * fig.dpi / 72.0


def _drawn(t: matplotlib.text.Text) -> bool:
    """False for tick labels outside the view (matplotlib keeps but never draws them)."""
    axes = t.axes
    if axes is None:
        return True
    for axis in (axes.xaxis, axes.yaxis):
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            if t is tick.label1 or t is tick.label2:
                lo, hi = sorted(axis.get_view_interval())
                loc = tick.get_loc()
                return loc is not None and lo - 1e-9 * (abs(lo) + 1) <= loc <= hi + 1e-9 * (abs(hi) + 1)
    return True


_F = TypeVar("_F", bound=Callable[..., Figure])


def redrawable(func: _F) -> _F:
    """Decorate a chart function: its figure becomes a :class:`ChartFigure` that can redraw itself at phone size."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        fig = func(*args, **kwargs)
        if isinstance(fig, ChartFigure) and not _PHONE.get():
            fig.redraw = functools.partial(func, *args, **kwargs)
        return fig

    return wrapper  # type: ignore[return-value]


def new_figure(width: float, height: float, nrows: int = 1, **kw: Any) -> tuple[ChartFigure, Any]:
    """A new chart figure and its axes; phone size inside :func:`phone_mode`."""
    if _PHONE.get():
        height, width = height * max(1.0, PHONE_WIDTH_IN / width) ** 0.5 + 0.6, PHONE_WIDTH_IN
    fig, axes = plt.subplots(nrows, 1, figsize=(width, height), FigureClass=ChartFigure, **kw)
    return fig, axes


def set_title(ax, title: str) -> None:
    """Set a chart title; inside :func:`phone_mode` wrapped and centred on the figure (long tick labels
    push the axes right, and a title centred on them would run off the 360 px image)."""
    if not _PHONE.get():
        ax.set_title(title)
        return
    title = "\n".join(textwrap.fill(line, 34) for line in title.split("\n"))
    fig = ax.get_figure()
    if len(fig.axes) == 1:
        fig.suptitle(title, fontweight="bold", fontsize=plt.rcParams["axes.titlesize"])
    else:
        ax.set_title(title)


def legend_below(
    fig: Figure, ax, handles: Sequence[Any] | None = None, labels: Sequence[str] | None = None, title: str | None = None
) -> None:
    """One legend for the figure, outside and below the plotting area, its entries in words.

    Parameters
    ----------
    fig : Figure
        Needs the constrained layout engine (set by :func:`set_style`).
    ax : Axes
        Where the handles come from when ``handles`` is None.
    handles, labels : sequence, optional
        The entries (default: the axes' labelled artists).
    title : str, optional
        Legend title (in words).

    Returns
    -------
    None
    """
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    words = [chart_label(lab) for lab in (labels or [])]
    longest = max((len(w) for w in words), default=0)
    if _PHONE.get():  # 360 px: two columns of up to ~16 characters at 11 pt
        per_row = 2 if longest <= 16 else 1
    else:
        per_row = 4 if longest <= 22 else 2
    fig.legend(
        handles,
        words,
        loc="outside lower center",
        ncols=max(1, min(len(words), per_row)),
        fontsize=small_font(),
        title=chart_label(title) if title else None,
        title_fontsize=small_font(),
        frameon=False,
    )


class PercentTicks(matplotlib.ticker.Formatter):
    """Proportions as percentages with as few decimals as keep every tick label distinct.

    ``PercentFormatter(decimals=0)`` writes ticks 0.92, 0.925, 0.93 as "92% 92% 93%";
    this formatter writes "92.0% 92.5% 93.0%".
    """

    def __init__(self, max_decimals: int = 4) -> None:
        self.max_decimals = max_decimals
        self.decimals = 0

    @staticmethod
    def _text(v: float, d: int) -> str:
        x = round(100.0 * float(v), d) + 0.0  # no "-0%"
        return f"{x:.{d}f}%"

    def format_ticks(self, values) -> list[str]:
        vals = [float(v) for v in values]
        for d in range(self.max_decimals + 1):
            labels = [self._text(v, d) for v in vals]
            if len(set(labels)) == len(labels) and all(abs(100 * v - round(100 * v, d)) < 1e-6 for v in vals):
                break
        self.decimals = d
        return labels

    def __call__(self, x, pos=None) -> str:
        return self._text(x, self.decimals)


class DateTicks(matplotlib.ticker.Formatter):
    """Dates as "07 Sep" (or "Sep 2026" over a span of more than 300 days): never two equal labels."""

    def __init__(self) -> None:
        self.fmt = "%d %b"

    def format_ticks(self, values) -> list[str]:
        vals = list(values)
        span = (max(vals) - min(vals)) if vals else 0
        self.fmt = "%d %b" if span <= 300 else "%b %Y"
        labels = [self(v) for v in vals]
        if len(set(labels)) < len(labels):
            self.fmt = "%d %b %Y"
            labels = [self(v) for v in vals]
        return labels

    def __call__(self, x, pos=None) -> str:
        return mdates.num2date(x).strftime(self.fmt)


def _pct(ax, axis="x") -> None:
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentTicks())


def date_axis(ax) -> None:
    """Dates on the x axis as "07 Sep", at most 8 ticks (4, slanted, on a phone), never two equal labels."""
    phone = _PHONE.get()
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=2 if phone else 3, maxticks=4 if phone else 8))
    ax.xaxis.set_major_formatter(DateTicks())
    if phone:
        ax.tick_params(axis="x", rotation=30)
        for lab in ax.get_xticklabels():
            lab.set_horizontalalignment("right")


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
    phone = _PHONE.get()
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
    _pct(ax)
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
        _pct(ax, "y")
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
    phone = _PHONE.get()
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
        annot_kws={"fontsize": small_font() - (0 if phone else 0.5), "linespacing": 1.1},
    )
    hatched = 0
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            cell = t[(t[index] == r) & (t[columns] == c)]
            if not cell.empty and bool(small[cell.index].all()):
                ax.add_patch(matplotlib.patches.Rectangle((j, i), 1, 1, fill=False, hatch="///", ec="#ced4da", lw=0))
                ax.text(j + 0.5, i + 0.5, text.loc[r, c], ha="center", va="center", fontsize=small_font())
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
    _pct(ax)
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
    ax.tick_params(axis="x", rotation=30 if not _PHONE.get() else 60)
    for lab in ax.get_xticklabels():
        lab.set_horizontalalignment("right")
    ax2 = ax.twinx()
    (line,) = ax2.plot(labels, t["cum_share"], color="#e8590c", marker="o", ms=4)
    ax2.set_ylim(0, 1.05)
    _pct(ax2, "y")
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
    _pct(ax, "y")
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
