"""The notebook image of a chart in one draw instead of two.

matplotlib's inline backend shows a figure with ``savefig(bbox_inches="tight")``,
which lays the figure out and draws it twice: once without pixels to measure
the tight box, then again into a canvas of that size [1]_. A chart drawn with
constrained layout keeps every artist inside the figure, so the tight image is
the full drawing cropped to the tight box plus ``savefig.pad_inches`` of
background. :func:`tight_png` draws once and crops; :func:`install` makes
IPython use it for :class:`~modqa_lib.report.chart_style.ChartFigure` when the
inline backend's default PNG settings are in force (any other setting, e.g.
retina or no tight box, is left to matplotlib). A figure with text or artists
outside its own edges falls back to matplotlib's two-pass path.

References
----------
.. [1] matplotlib, ``FigureCanvasBase.print_figure`` (``bbox_inches="tight"``:
   a ``_draw_disabled`` layout pass, then the draw),
   https://matplotlib.org/stable/api/backend_bases_api.html#matplotlib.backend_bases.FigureCanvasBase.print_figure
"""

from __future__ import annotations

import base64
import functools
import io

import matplotlib
import numpy as np
from matplotlib.figure import Figure

__all__ = ["install", "tight_png"]


def tight_png(fig: Figure, pad_inches: float | None = None) -> bytes | None:
    """PNG of ``fig`` cropped to its tight box, drawn once; None when only the two-pass path can draw it.

    Parameters
    ----------
    fig : Figure
        A figure on an Agg canvas (the inline backend's).
    pad_inches : float, optional
        Background kept around the tight box; default ``rcParams["savefig.pad_inches"]``.

    Returns
    -------
    bytes or None
        The PNG at ``fig.dpi``; None if the figure's canvas is not Agg or some
        artist reaches outside the figure (then use ``savefig(bbox_inches="tight")``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas  # kept: closing a figure (even from a draw callback) gives it a bare canvas
    if not isinstance(canvas, FigureCanvasAgg):
        return None
    pad = float(matplotlib.rcParams["savefig.pad_inches"] if pad_inches is None else pad_inches)
    dpi = fig.dpi
    canvas.draw()  # the figure's own face and edge colours, as the inline backend passes them
    renderer = canvas.get_renderer()
    box = fig.get_tightbbox(renderer)
    full = np.asarray(renderer.buffer_rgba())
    w_in, h_in = fig.get_size_inches()
    eps = 1e-9
    if box is None or box.x0 < -eps or box.y0 < -eps or box.x1 > w_in + eps or box.y1 > h_in + eps:
        return None
    box = box.padded(pad)
    width, height = int(box.width * dpi), int(box.height * dpi)  # as RendererAgg sizes the tight canvas
    left = int(round(box.x0 * dpi))
    top = int(round((h_in - box.y1) * dpi))
    rgba = np.empty((height, width, 4), dtype=np.uint8)
    rgba[...] = np.round(np.asarray(matplotlib.colors.to_rgba(fig.get_facecolor())) * 255).astype(np.uint8)
    # the part of the drawing inside the canvas; the padding beyond the figure's edges stays background
    r0, c0 = max(0, top), max(0, left)
    r1, c1 = min(full.shape[0], top + height), min(full.shape[1], left + width)
    if r1 > r0 and c1 > c0:
        rgba[r0 - top : r1 - top, c0 - left : c1 - left] = full[r0:r1, c0:c1]
    out = io.BytesIO()
    matplotlib.image.imsave(out, rgba, format="png", dpi=dpi)
    return out.getvalue()


def _inline_png(fig: Figure, default) -> str | None:
    """The inline backend's ``image/png`` (base64 text) of a chart: :func:`tight_png`, else ``default``."""
    if not fig.axes and not fig.lines:  # as IPython: nothing to show for an empty figure
        return None
    try:
        png = tight_png(fig)
    except Exception:  # never lose a chart to the shortcut: matplotlib's own path draws it
        png = None
    if png is None:
        return default(fig)
    return base64.b64encode(png).decode("ascii")


def install(figure_class: type[Figure]) -> bool:
    """Show ``figure_class`` figures in this IPython kernel with :func:`tight_png`.

    Only when the inline backend's PNG formatter has its default settings
    (``png``, ``bbox_inches="tight"``); otherwise nothing changes.

    Parameters
    ----------
    figure_class : type
        A ``Figure`` subclass (:class:`~modqa_lib.report.chart_style.ChartFigure`).

    Returns
    -------
    bool
        Whether the one-draw path is now in use.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return False
    shell = get_ipython()
    formatter = getattr(getattr(shell, "display_formatter", None), "formatters", {}).get("image/png")
    if formatter is None:
        return False
    try:
        current = formatter.lookup_by_type(Figure)
    except KeyError:
        return False
    default_kw = {"fmt": "png", "base64": True, "bbox_inches": "tight"}
    if not (isinstance(current, functools.partial) and current.func is print_figure and current.keywords == default_kw):
        return False
    formatter.for_type(figure_class, functools.partial(_inline_png, default=current))
    return True
