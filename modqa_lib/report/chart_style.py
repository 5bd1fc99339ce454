"""The look of every chart and the rules it keeps: legends, ticks, labels, alt text, a phone variant.

:mod:`modqa_lib.report.plots` and :mod:`modqa_lib.report.ops_plots` draw with
these pieces, so every chart a report shows keeps the same rules [1]_:

- legends sit outside the plotting area (below it, :func:`legend_below`), so they
  never cover data;
- percent tick labels get as many decimals as their spacing needs
  (:class:`PercentTicks`), dates read "07 Sep" (:class:`DateTicks`): no label repeats;
- legend entries, legend titles and axis labels are words
  (:func:`modqa_lib.report.display.chart_label`: "false negative", not ``false_negative``);
- each figure is a :class:`ChartFigure` carrying its own alt text and, when
  displayed, a phone-sized variant drawn 4 inches wide with no text under 11 pt,
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
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import matplotlib
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.text
import matplotlib.ticker
import seaborn as sns
from matplotlib.figure import Figure

from modqa_lib.report.display import chart_label
from modqa_lib.report.export import PHONE_MIME

__all__ = [
    "PHONE_MIME",
    "PHONE_WIDTH_IN",
    "STATUS_COLORS",
    "ChartFigure",
    "DateTicks",
    "PercentTicks",
    "date_axis",
    "is_phone",
    "legend_below",
    "min_font_px",
    "new_figure",
    "percent_axis",
    "phone_mode",
    "redrawable",
    "set_style",
    "set_title",
    "small_font",
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
    """Draw the charts created inside at phone size (4 in wide, text of at least 11 pt); rcParams restored after.

    Yields
    ------
    None
        Inside the block, :func:`is_phone` is True.
    """
    token = _PHONE.set(True)
    try:
        with plt.rc_context():
            yield
    finally:
        _PHONE.reset(token)


def is_phone() -> bool:
    """Whether the charts being drawn are phone variants.

    Returns
    -------
    bool
        True inside :func:`phone_mode`.
    """
    return _PHONE.get()


def small_font() -> float:
    """Size of annotations and legends.

    Returns
    -------
    float
        Points: 8 on the desktop chart, 11 on the phone variant.
    """
    return _PHONE_MIN_PT if _PHONE.get() else 8.0


def set_style() -> None:
    """One consistent, print-friendly look for every chart (data labels drawn as plain text).

    Sets the seaborn theme and matplotlib's ``rcParams`` (resolution, bold titles,
    constrained layout so that legends outside the axes get their room); every
    chart function calls it first. In a notebook with the inline backend, charts
    are shown with :func:`modqa_lib.report.inline_png.tight_png` (one draw). Inside :func:`phone_mode` every text is at
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
    from modqa_lib.report.inline_png import install

    install(ChartFigure)  # in a notebook: each chart's image drawn once, not twice
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
                png = _palette_png_of(fig)
                width = int(round(fig.get_figwidth() * _DPI))
                return png, min_font_px(fig), width
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


def _palette_png_of(fig: Figure) -> bytes:
    """:func:`_palette_png` of ``fig.savefig(format="png", dpi=_DPI)``, without encoding and decoding that PNG.

    The figure is drawn once into a raw RGBA buffer (the pixels the PNG would
    hold: matplotlib writes its canvas buffer to the PNG unchanged), which goes
    straight to the palette step: the same bytes, for less work per chart.
    """
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=_DPI)
    renderer = getattr(fig.canvas, "renderer", None)
    raw = buf.getvalue()
    if renderer is None or int(renderer.width) * int(renderer.height) * 4 != len(raw):  # pragma: no cover
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=_DPI)
        return _palette_png(buf.getvalue())
    return _palette_image(
        Image.frombuffer("RGBA", (int(renderer.width), int(renderer.height)), raw, "raw", "RGBA", 0, 1)
    )


def _palette_png(png: bytes) -> bytes:
    """The PNG with a 256-colour palette: a third of the bytes, the same chart (keeps exports small)."""
    from PIL import Image

    return _palette_image(Image.open(io.BytesIO(png)))


def _palette_image(image: Any) -> bytes:
    """PNG bytes of a PIL image reduced to a 256-colour palette.

    Fast octree quantization without PNG ``optimize``: on the report's charts a
    tenth of the time of median cut with ``optimize``, and a smaller file (a
    chart has few colours; each pixel moves by about 1 of 255 on average, at
    most 14, against 34 for median cut).
    """
    from PIL import Image

    image = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    image.save(out, format="PNG")
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
    """Decorate a chart function so that its figure can redraw itself at phone size.

    Parameters
    ----------
    func : callable
        A chart function returning a :class:`ChartFigure` (made by :func:`new_figure`).

    Returns
    -------
    callable
        The function; its figures get ``redraw`` (the same call, for :meth:`ChartFigure.phone_png`).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        fig = func(*args, **kwargs)
        if isinstance(fig, ChartFigure) and not _PHONE.get():
            fig.redraw = functools.partial(func, *args, **kwargs)
        return fig

    return wrapper  # type: ignore[return-value]


def new_figure(width: float, height: float, nrows: int = 1, **kw: Any) -> tuple[ChartFigure, Any]:
    """A new chart figure and its axes; phone size inside :func:`phone_mode`.

    Parameters
    ----------
    width, height : float
        Desktop size in inches; on a phone the width is :data:`PHONE_WIDTH_IN`
        and the height grows a little (legends stack).
    nrows : int, default 1
        Rows of axes (one column).
    **kw
        Passed to :func:`matplotlib.pyplot.subplots` (``squeeze``, ``sharex``...).

    Returns
    -------
    fig : ChartFigure
    axes : Axes or array of Axes
    """
    if _PHONE.get():
        height, width = height * max(1.0, PHONE_WIDTH_IN / width) ** 0.5 + 0.6, PHONE_WIDTH_IN
    fig, axes = plt.subplots(nrows, 1, figsize=(width, height), FigureClass=ChartFigure, **kw)
    return fig, axes


def set_title(ax, title: str) -> None:
    """Set a chart title; inside :func:`phone_mode` wrapped and centred on the figure.

    Long tick labels push the axes right, and a title centred on them would run
    off the 360 px image.

    Parameters
    ----------
    ax : Axes
    title : str

    Returns
    -------
    None
    """
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


def percent_axis(ax, axis: str = "x") -> None:
    """Percent ticks (:class:`PercentTicks`) on one axis.

    Parameters
    ----------
    ax : Axes
    axis : {"x", "y"}, default "x"

    Returns
    -------
    None
    """
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentTicks())


def date_axis(ax) -> None:
    """Dates on the x axis as "07 Sep", at most 8 ticks (4, slanted, on a phone), never two equal labels.

    Parameters
    ----------
    ax : Axes

    Returns
    -------
    None
    """
    phone = _PHONE.get()
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=2 if phone else 3, maxticks=4 if phone else 8))
    ax.xaxis.set_major_formatter(DateTicks())
    if phone:
        ax.tick_params(axis="x", rotation=30)
        for lab in ax.get_xticklabels():
            lab.set_horizontalalignment("right")
