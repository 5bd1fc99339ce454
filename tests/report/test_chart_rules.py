"""Rules every chart the reports draw keeps (issue 16), checked on every chart function.

- legends never cover data: each legend lies outside every plotting area and no
  plotted point (line vertex, scatter point, bar corner) falls inside it;
- tick labels never repeat ("92% 92% 93%");
- legend entries, legend titles and axis labels are words, not identifiers;
- each chart's alt text is non-empty, distinct and names its title;
- the phone variant is drawn 360 px wide with no text smaller than 0.9 × 14 px body text.

The charts are built from tables shaped like the reports' own, with what used to
break each rule planted (an out-of-control week where the legend sat, rates a
fraction of a percent apart, ``false_negative`` categories).
"""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.collections
import matplotlib.lines
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.report import ops_plots, plots

BODY_PX = 14.0  # body text of an export (JupyterLab's --jp-content-font-size1)


def _weeks(k: int = 10):
    return pd.date_range("2026-09-07", periods=k, freq="7D")


def _forest():
    t = pd.DataFrame(
        {
            S.SITE: ["Penang", "Manila", "Kraków", "Austin"],
            S.N: [1640, 1590, 1200, 800],
            S.ACCURACY: [0.921, 0.924, 0.927, 0.929],
            S.CI_LOW: [0.918, 0.921, 0.924, 0.926],
            S.CI_HIGH: [0.924, 0.927, 0.93, 0.932],
            "status": ["missed", "at risk", "met", "met"],
        }
    )
    return plots.forest(t, S.SITE, target=0.925, title="Accuracy by site")


def _forest_target_column():
    t = pd.DataFrame(
        {
            S.POLICY: ["hate_speech", "spam", "nudity"],
            S.N: [300, 900, 450],
            S.ACCURACY: [0.9, 0.96, 0.93],
            S.CI_LOW: [0.86, 0.947, 0.9],
            S.CI_HIGH: [0.93, 0.97, 0.95],
            "target": [0.95, 0.97, 0.95],
            "status": ["missed", "at risk", "missed"],
        }
    )
    return plots.forest(t, S.POLICY, target="target", title="Accuracy by policy (| = target)")


def _control():
    w = _weeks()
    rate = [0.09, 0.04, 0.035, 0.03, 0.04, 0.035, 0.04, 0.03, 0.035, 0.04]  # first week high: under the old legend
    chart = pd.DataFrame(
        {
            S.WEEK: w,
            S.ERROR_RATE: rate,
            "center": 0.04,
            "lcl": 0.01,
            "ucl": 0.07,
            "out_of_control": [r > 0.07 for r in rate],
        }
    )
    events = pd.DataFrame({"at": pd.to_datetime(["2026-10-05"], utc=True), "label": ["policy v2"]})
    return plots.control_chart(chart, events=events, title="Weekly error rate")


def _control_faceted():
    w = _weeks(6)
    base = pd.DataFrame(
        {S.WEEK: w, S.ERROR_RATE: 0.05, "center": 0.05, "lcl": 0.02, "ucl": 0.08, "out_of_control": False}
    )
    chart = pd.concat([base.assign(policy="spam"), base.assign(policy="hate_speech")])
    return plots.control_chart(chart, group=S.POLICY, title="Weekly SLA breach rate", rate_name="SLA breach rate")


def _heatmap():
    rows = [(p, s) for p in ("hate_speech", "spam", "nudity", "violence") for s in ("Penang", "Manila", "Austin")]
    rng = np.random.default_rng(1)
    acc = rng.uniform(0.9, 0.99, len(rows))
    t = pd.DataFrame(rows, columns=[S.POLICY, S.SITE]).assign(
        **{
            S.N: rng.integers(5, 400, len(rows)),
            S.ACCURACY: acc,
            S.CI_LOW: acc - 0.03,
            S.CI_HIGH: np.minimum(acc + 0.02, 1),
        }
    )
    return plots.heatmap(t, index=S.POLICY, columns=S.SITE, min_n=20, center=0.95, title="Accuracy by policy and site")


def _shares():
    mix = pd.DataFrame(
        {
            S.SITE: ["P"] * 3 + ["K"] * 3,
            S.ERROR_TYPE: ["false_negative", "false_positive", "wrong_policy"] * 2,
            "share": [0.3, 0.5, 0.2, 0.3, 0.3, 0.4],
        }
    )
    return plots.stacked_shares(mix, group=S.SITE, category=S.ERROR_TYPE, title="Error-type mix by site")


def _pareto():
    t = pd.DataFrame({S.ROOT_CAUSE: ["fatigue", "policy_ambiguity", "tooling"], "count": [40, 25, 5]})
    t = t.assign(cum_share=t["count"].cumsum() / t["count"].sum())
    return plots.pareto_chart(t, names={"fatigue": "Fatigue / attention"}, title="Errors by root cause")


def _threshold():
    thr = np.linspace(0.1, 0.9, 9)
    c = pd.DataFrame({"threshold": thr, "precision": 0.6 + 0.4 * thr, "recall": 1 - thr})
    c = c.assign(
        precision_ci_low=c["precision"] - 0.05,
        precision_ci_high=np.minimum(c["precision"] + 0.03, 1),
        recall_ci_low=np.maximum(c["recall"] - 0.04, 0),
        recall_ci_high=c["recall"] + 0.04,
    )
    return plots.threshold_chart(c, title="Precision and recall across thresholds")


def _threshold_grouped():
    thr = np.linspace(0.1, 0.9, 5)
    c = pd.concat(
        [
            pd.DataFrame({"threshold": thr, "precision": 0.6 + 0.3 * thr, "recall": 1 - thr, "content_type": ct})
            for ct in ("live_stream", "image")
        ]
    )
    return plots.threshold_chart(c, group="content_type", title="Precision and recall by content type")


def _speed():
    sq = pd.DataFrame(
        {
            S.SITE: ["Penang", "Manila", "Austin"],
            "median_s": [30.0, 45.0, 52.0],
            "median_ci_low": [29.0, 44.0, 50.0],
            "median_ci_high": [31.0, 46.0, 54.0],
            "accuracy": [0.921, 0.924, 0.926],
            "ci_low": [0.918, 0.921, 0.923],
            "ci_high": [0.924, 0.927, 0.929],
            "flag": [True, False, False],
        }
    )
    return ops_plots.speed_quality_chart(
        sq, S.SITE, aht_target=60, accuracy_target=0.925, title="Speed against quality"
    )


def _sla():
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    rows = [(d, h) for d in days for h in range(0, 24, 4)]
    rng = np.random.default_rng(2)
    peaks = pd.DataFrame(rows, columns=["day", "hour"]).assign(share=rng.uniform(0.75, 0.99, len(rows)))
    peaks["flag"] = peaks["share"] < 0.78
    return ops_plots.sla_heatmap(peaks)


def _handle_time():
    w = _weeks(8)
    weekly = pd.concat(
        [
            pd.DataFrame(
                {
                    "site": s,
                    "week": w,
                    "median_s": m + np.arange(8),
                    "median_ci_low": m - 1.0,
                    "median_ci_high": m + 9.0,
                }
            )
            for s, m in (("Penang", 40.0), ("Manila", 55.0))
        ]
    )
    return ops_plots.handle_time_trend(weekly, "site", ceiling=60, title="Weekly median handle time")


CHARTS = {
    "forest": _forest,
    "forest_target_column": _forest_target_column,
    "control": _control,
    "control_faceted": _control_faceted,
    "heatmap": _heatmap,
    "stacked_shares": _shares,
    "pareto": _pareto,
    "threshold": _threshold,
    "threshold_grouped": _threshold_grouped,
    "speed_quality": _speed,
    "sla_heatmap": _sla,
    "handle_time": _handle_time,
}


@pytest.fixture(params=sorted(CHARTS), ids=sorted(CHARTS))
def drawn(request):
    """Each chart, desktop and phone variant, drawn (tick labels and legend positions exist after a draw)."""
    fig = CHARTS[request.param]()
    with plots.phone_mode():
        phone = fig.redraw()
    for f in (fig, phone):
        f.canvas.draw()
    yield request.param, fig, phone
    plt.close(fig)
    plt.close(phone)


def _data_points(ax) -> np.ndarray:
    """Display coordinates of everything plotted as data on ``ax``."""
    pts = []
    for line in ax.get_lines():
        xy = line.get_xydata()
        if len(xy) > 1 and (np.ptp(xy[:, 0]) == 0 or np.ptp(xy[:, 1]) == 0) and line.get_linestyle() in ("--", ":"):
            continue  # reference lines (target, ceiling, events) are not data points
        pts.append(line.get_transform().transform(xy))
    for coll in ax.collections:
        if isinstance(coll, matplotlib.collections.PathCollection):  # scatter
            offs = coll.get_offsets()
            if len(offs):
                pts.append(coll.get_offset_transform().transform(offs))
        elif isinstance(coll, matplotlib.collections.LineCollection):  # interval bars
            for seg in coll.get_segments():
                pts.append(coll.get_transform().transform(seg))
    for patch in ax.patches:
        if isinstance(patch, matplotlib.patches.Rectangle) and patch.get_width() and patch.get_height():
            box = patch.get_window_extent()
            pts.append(np.array([[box.x0, box.y0], [box.x1, box.y1], [box.x0, box.y1], [box.x1, box.y0]]))
    pts = [p for p in pts if len(p)]
    return np.vstack(pts) if pts else np.empty((0, 2))


def _legends(fig):
    return list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]


def test_legends_never_cover_data(drawn):
    name, *figs = drawn
    for fig in figs:
        plot_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        for leg in _legends(fig):
            box = leg.get_window_extent()
            for ax in plot_axes:
                assert not box.overlaps(ax.get_window_extent()), f"{name}: legend overlaps a plotting area"
                pts = _data_points(ax)
                inside = (pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1)
                assert not inside.any(), f"{name}: {int(inside.sum())} data point(s) under the legend"


def _visible_tick_labels(axis) -> list[str]:
    lo, hi = sorted(axis.get_view_interval())
    out = []
    for tick in axis.get_major_ticks():
        loc = tick.get_loc()
        if loc is None or not (lo - 1e-9 <= loc <= hi + 1e-9):
            continue
        for lab in (tick.label1, tick.label2):
            if lab.get_visible() and lab.get_text():
                out.append(lab.get_text())
    return out


def test_tick_labels_never_repeat(drawn):
    name, *figs = drawn
    for fig in figs:
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                labels = _visible_tick_labels(axis)
                assert len(labels) == len(set(labels)), f"{name}: repeated tick labels {labels}"


def test_tick_labels_never_overlap(drawn):
    name, *figs = drawn
    for fig in figs:
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                lo, hi = sorted(axis.get_view_interval())
                boxes = [
                    t.label1.get_window_extent()
                    for t in axis.get_major_ticks()
                    if t.get_loc() is not None
                    and lo - 1e-9 <= t.get_loc() <= hi + 1e-9
                    and t.label1.get_visible()
                    and t.label1.get_text()
                ]
                for a, b in itertools.pairwise(boxes):
                    assert not a.overlaps(b), f"{name}: tick labels overlap on {'xy'[axis is ax.yaxis]}"


def test_percent_ticks_choose_decimals_from_their_spacing():
    f = plots.PercentTicks()
    assert f.format_ticks([0.92, 0.925, 0.93]) == ["92.0%", "92.5%", "93.0%"]
    assert f.format_ticks([0.9, 0.95, 1.0]) == ["90%", "95%", "100%"]
    assert f.format_ticks([-0.0, 0.001, 0.002]) == ["0.0%", "0.1%", "0.2%"]


def test_legend_and_axis_labels_are_words(drawn):
    name, *figs = drawn
    for fig in figs:
        texts = [t.get_text() for leg in _legends(fig) for t in leg.get_texts()]
        texts += [leg.get_title().get_text() for leg in _legends(fig)]
        texts += [lab for ax in fig.axes for lab in (ax.get_xlabel(), ax.get_ylabel())]
        assert [t for t in texts if "_" in t] == [], f"{name}: identifiers in legend or axis labels"
    assert _legends(figs[0]) or name.startswith(("heatmap", "sla")), f"{name}: no legend"


def test_alt_text_is_distinct_and_names_what_each_chart_shows():
    alts = {}
    for name, build in CHARTS.items():
        fig = build()
        alts[name] = fig.alt
        title = fig.axes[0].get_title().split("\n")[0].split(" · ")[0]
        assert fig.alt and (title or "Heatmap") in fig.alt, (name, fig.alt)
        plt.close(fig)
    assert len(set(alts.values())) == len(alts)
    assert "week of 2026-09-07 above the upper limit" in alts["control"]
    assert "lowest Penang 92.1% (95% CI 91.8%–92.4%; n = 1,640)" in alts["forest"]
    assert "flagged fast and less accurate: Penang" in alts["speed_quality"]
    assert "mostly false positive" in alts["stacked_shares"]  # categories in words


def test_no_text_is_cut_off_at_the_figure_edge(drawn):
    name, *figs = drawn
    for fig in figs:
        width, height = fig.bbox.width, fig.bbox.height
        texts = [leg for leg in _legends(fig)] + [ax.title for ax in fig.axes if ax.get_title()]
        texts += [fig._suptitle] if fig._suptitle is not None else []
        for t in texts:
            box = t.get_window_extent()
            assert box.x0 >= -1 and box.x1 <= width + 1 and box.y0 >= -1 and box.y1 <= height + 1, (name, box)


def test_phone_variant_text_is_at_least_body_size_at_390px(drawn):
    name, fig, _ = drawn
    png, font_px, width = fig.phone_png()
    assert png.startswith(b"\x89PNG")
    assert width <= 360  # shown at its natural size in the 360 px content column of a 390 px screen
    assert font_px >= 0.9 * BODY_PX, f"{name}: smallest phone text {font_px:.1f} px"


def test_a_displayed_chart_carries_alt_text_and_its_phone_variant():
    fig = _control()
    data, md = fig._repr_mimebundle_()
    assert data["text/plain"] == fig.alt and md["image/png"]["alt"] == fig.alt
    assert md[plots.PHONE_MIME]["min_font_px"] >= 0.9 * BODY_PX and data[plots.PHONE_MIME]
    plt.close("all")
    assert plt.get_fignums() == []  # the phone variant leaves no open figure behind


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_phone_png_from_the_raw_buffer_is_the_png_round_trip_byte_for_byte(name):
    # #10: the phone variant goes from the canvas buffer to the palette PNG without an
    # intermediate PNG; the bytes must be those of the savefig(png) -> palette path it replaces
    import io

    from modqa_lib.report import chart_style

    fig = CHARTS[name]()
    with plots.phone_mode():  # each path on a fresh figure, as phone_png draws one
        phones = [fig.redraw(), fig.redraw()]
    try:
        buf = io.BytesIO()
        phones[0].savefig(buf, format="png", dpi=chart_style._DPI)
        assert chart_style._palette_png_of(phones[1]) == chart_style._palette_png(buf.getvalue())
    finally:
        for f in (fig, *phones):
            plt.close(f)
