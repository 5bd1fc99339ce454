"""Tests of modqa_lib.report.inline_png: one draw gives the image matplotlib's two-pass tight path gives."""

from __future__ import annotations

import functools
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from modqa_lib.report import chart_style, inline_png


def _chart(text_outside: bool = False):
    chart_style.set_style()
    fig, ax = chart_style.new_figure(7.5, 3.2)
    x = np.arange(12)
    ax.plot(x, 0.9 + 0.05 * np.sin(x), marker="o", label="accuracy")
    ax.set_title("Weekly accuracy at Kuala Lumpur (n = 1,234)")
    ax.set_xlabel("week")
    chart_style.legend_below(fig, ax)
    if text_outside:
        fig.text(1.05, 0.5, "beyond the right edge")
    return fig


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


def _two_pass(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=fig.dpi,
        bbox_inches="tight",
        facecolor=fig.get_facecolor(),
        edgecolor=fig.get_edgecolor(),
    )
    return buf.getvalue()


def test_one_draw_matches_the_tight_two_pass_image():
    fig = _chart()
    try:
        one, two = _pixels(inline_png.tight_png(fig)), _pixels(_two_pass(fig))
    finally:
        plt.close(fig)
    assert one.shape == two.shape  # same size in pixels as matplotlib's tight canvas
    # the same picture up to anti-aliasing of a sub-pixel offset: a pixel's worth of shift is far worse
    diff = np.abs(one - two).mean()
    shifted = np.abs(one[:, 3:] - two[:, :-3]).mean()
    assert diff < 2.0 < shifted
    assert (one[0, :, :3] == 255).all() and (one[-1, :, :3] == 255).all()  # the padding is background


def test_artist_outside_the_figure_falls_back_to_the_two_pass_path():
    fig = _chart(text_outside=True)
    try:
        assert inline_png.tight_png(fig) is None
    finally:
        plt.close(fig)


def test_a_canvas_that_is_not_agg_is_left_to_matplotlib():
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    fig = _chart()
    FigureCanvasSVG(fig)
    try:
        assert inline_png.tight_png(fig) is None
    finally:
        plt.close(fig)


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib_inline.backend_inline import set_matplotlib_formats  # noqa: F401 - the inline backend exists

    ip = InteractiveShell.instance()
    png = ip.display_formatter.formatters["image/png"]
    saved = dict(png.type_printers)
    yield ip
    png.type_printers.clear()
    png.type_printers.update(saved)


def _register_inline(ip, **kw):
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    png = ip.display_formatter.formatters["image/png"]
    png.for_type(Figure, functools.partial(print_figure, fmt="png", base64=True, **kw))
    return png


def test_install_takes_over_only_the_default_inline_png(shell):
    png = _register_inline(shell, bbox_inches="tight")
    assert inline_png.install(chart_style.ChartFigure)
    fig = _chart()
    try:
        shown = png(fig)
        import base64

        assert _pixels(base64.b64decode(shown)).shape == _pixels(_two_pass(fig)).shape
        assert png.lookup(fig).func is inline_png._inline_png
    finally:
        plt.close(fig)


def test_install_leaves_a_customised_inline_png_alone(shell):
    _register_inline(shell, bbox_inches=None)  # a user who turned the tight box off
    assert not inline_png.install(chart_style.ChartFigure)


def test_empty_figure_shows_nothing(shell):
    _register_inline(shell, bbox_inches="tight")
    inline_png.install(chart_style.ChartFigure)
    fig = plt.figure(FigureClass=chart_style.ChartFigure)
    try:
        assert shell.display_formatter.formatters["image/png"](fig) is None
    finally:
        plt.close(fig)


def test_a_canvas_replaced_while_drawing_still_gives_the_image():
    """Closing a figure gives it a bare canvas; if that happens during the draw, the drawn pixels still count."""
    from matplotlib.backend_bases import FigureCanvasBase

    fig = _chart()
    fig.canvas.mpl_connect("draw_event", lambda event: FigureCanvasBase(fig))
    try:
        png = inline_png.tight_png(fig)
        assert png is not None and _pixels(png).shape[0] > 100
    finally:
        plt.close(fig)


def test_any_failure_of_the_shortcut_falls_back_to_matplotlib(shell, monkeypatch):
    png = _register_inline(shell, bbox_inches="tight")
    inline_png.install(chart_style.ChartFigure)

    def broken(fig, pad_inches=None):
        raise AttributeError("'FigureCanvasBase' object has no attribute 'get_renderer'")

    monkeypatch.setattr(inline_png, "tight_png", broken)
    fig = _chart()
    try:
        import base64

        assert _pixels(base64.b64decode(png(fig))).shape == _pixels(_two_pass(fig)).shape
    finally:
        plt.close(fig)
