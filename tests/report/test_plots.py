"""Tests of modqa_lib.report.plots: each chart draws what its table says, and renders.

The PNGs are kept in ``tests/artifacts/plots/`` for a look.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.collections

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.report import plots

ARTIFACTS = Path(__file__).parents[1] / "artifacts" / "plots"


def _render(fig, name: str) -> bytes:
    """PNG bytes of ``fig`` (also saved as an artifact); closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.png").write_bytes(buf.getvalue())
    plt.close(fig)
    data = buf.getvalue()
    assert data.startswith(b"\x89PNG") and len(data) > 2_000
    return data


def _acc_table():
    return pd.DataFrame(
        {
            S.SITE: ["Penang", "Penang", "Manila"],
            S.SHIFT: ["night", "day", "day"],
            S.N: [164, 159, 1200],
            S.ACCURACY: [0.878, 0.94, 0.965],
            S.CI_LOW: [0.82, 0.89, 0.953],
            S.CI_HIGH: [0.92, 0.97, 0.975],
            "status": ["missed", "at risk", "met"],
        }
    )


def test_forest_draws_each_interval_with_its_n_and_the_target():
    t = _acc_table()
    fig = plots.forest(t, [S.SITE, S.SHIFT], target=0.95, title="acc")
    ax = fig.axes[0]
    (bars,) = [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]
    segs = sorted(bars.get_segments(), key=lambda s: s[0][0])
    assert [(s[0][0], s[1][0]) for s in segs] == [(0.82, 0.92), (0.89, 0.97), (0.953, 0.975)]
    labels = [lab.get_text() for lab in ax.get_yticklabels()]
    assert labels == ["Penang · night  (n=164)", "Penang · day  (n=159)", "Manila · day  (n=1,200)"]  # top down
    assert any(line.get_xdata()[0] == 0.95 for line in ax.get_lines())  # target line
    colours = {tuple(np.round(c, 3)) for c in bars.get_colors()}
    assert len(colours) == 3  # met / at risk / missed in different colours
    _render(fig, "forest")
    many = pd.concat([t] * 20, ignore_index=True)
    assert len(plots.forest(many, S.SITE, max_rows=30).axes[0].get_yticklabels()) == 30
    plt.close("all")


def test_control_chart_marks_out_of_control_points_and_events():
    weeks = pd.date_range("2026-09-07", periods=8, freq="7D")
    chart = pd.DataFrame(
        {
            S.WEEK: weeks,
            S.ERROR_RATE: [0.03, 0.04, 0.035, 0.03, 0.12, 0.11, 0.04, 0.03],
            "center": 0.04,
            "lcl": 0.0,
            "ucl": 0.09,
            "out_of_control": [False] * 4 + [True, True] + [False] * 2,
        }
    )
    events = pd.DataFrame({"at": pd.to_datetime(["2026-10-05"], utc=True), "label": ["policy v2"]})
    fig = plots.control_chart(chart, events=events, title="weekly")
    ax = fig.axes[0]
    red = [c for c in ax.collections if c.get_label() == "out of control"]
    assert len(red) == 1 and len(red[0].get_offsets()) == 2
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(vlines) == 1
    _render(fig, "control_chart")
    faceted = plots.control_chart(pd.concat([chart.assign(policy="a"), chart.assign(policy="b")]), group="policy")
    assert len(faceted.axes) == 2
    plt.close("all")


def _heat_table():
    return pd.DataFrame(
        {
            S.POLICY: ["a", "a", "b", "b"],
            S.SITE: ["X", "Y", "X", "Y"],
            S.N: [100, 5, 60, 80],
            S.ACCURACY: [0.95, 0.5, 0.9, 0.97],
            S.CI_LOW: [0.887, 0.15, 0.8, 0.9],
            S.CI_HIGH: [0.98, 0.85, 0.95, 0.99],
        }
    )


def test_heatmap_cells_carry_rate_interval_and_n_and_hatch_small_cells():
    fig = plots.heatmap(_heat_table(), index=S.POLICY, columns=S.SITE, min_n=20, title="h")
    ax = fig.axes[0]
    texts = sorted(tx.get_text() for tx in ax.texts)
    assert texts == ["90.0%\n80.0–95.0\nn=60", "95.0%\n88.7–98.0\nn=100", "97.0%\n90.0–99.0\nn=80", "n=5"]
    assert "fewer than 20 audits" in ax.get_title() and "95% CI" in ax.get_title()
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_xy() == (1, 0)  # policy a × site Y
    _render(fig, "heatmap")


def test_heatmap_phone_cells_round_the_interval_outwards():
    with plots.phone_mode():
        fig = plots.heatmap(_heat_table(), index=S.POLICY, columns=S.SITE, min_n=20)
    assert "95.0%\n88–98\nn=100" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)


def test_heatmap_refuses_a_rate_without_its_interval():
    with pytest.raises(ValueError, match="interval and n"):
        plots.heatmap(_heat_table().drop(columns=[S.CI_LOW]), index=S.POLICY, columns=S.SITE)


def test_stacked_shares_legend_sits_beside_the_bars():
    mix = pd.DataFrame(
        {
            S.SITE: ["P", "P", "P", "K", "K", "K"],
            S.ERROR_TYPE: ["false_negative", "false_positive", "wrong_policy"] * 2,
            "share": [0.3, 0.5, 0.2, 0.3, 0.3, 0.4],
        }
    )
    fig = plots.stacked_shares(mix, group=S.SITE, category=S.ERROR_TYPE, title="mix")
    ax = fig.axes[0]
    fig.canvas.draw()
    (legend,) = fig.legends
    assert not legend.get_window_extent().overlaps(ax.get_window_extent())  # outside the plotting area
    assert [t.get_text() for t in legend.get_texts()] == ["false negative", "false positive", "wrong policy"]
    assert legend.get_title().get_text() == "error type"
    widths = {}
    for p in ax.patches:
        widths.setdefault(round(p.get_y(), 3), []).append(p.get_width())
    assert all(sum(w) == pytest.approx(1.0) for w in widths.values())
    _render(fig, "stacked_shares")


def test_pareto_bars_descend_and_cumulative_share_reaches_one():
    t = pd.DataFrame({S.ROOT_CAUSE: ["b", "a", "c"], "count": [5, 20, 2]})
    t = t.sort_values("count", ascending=False).assign(cum_share=lambda d: d["count"].cumsum() / d["count"].sum())
    fig = plots.pareto_chart(t, names={"a": "Fatigue / attention"})
    ax, ax2 = fig.axes
    assert [p.get_height() for p in ax.patches] == [20, 5, 2]
    assert [tk.get_text() for tk in ax.get_xticklabels()] == ["Fatigue / attention", "b", "c"]
    assert ax2.get_lines()[0].get_ydata()[-1] == pytest.approx(1.0)
    _render(fig, "pareto")


def test_threshold_chart_draws_precision_and_recall():
    thr = np.linspace(0.1, 0.9, 9)
    curve = pd.DataFrame({"threshold": thr, "precision": 0.6 + 0.4 * thr, "recall": 1 - thr})
    fig = plots.threshold_chart(curve, deployed=0.5)
    ax = fig.axes[0]
    assert len([ln for ln in ax.get_lines() if len(ln.get_xdata()) == 9]) == 2
    _render(fig, "threshold")


def test_threshold_chart_shades_the_intervals_when_the_curve_has_them():
    thr = np.linspace(0.1, 0.9, 9)
    curve = pd.DataFrame({"threshold": thr, "precision": 0.6 + 0.4 * thr, "recall": 1 - thr})
    curve = curve.assign(
        precision_ci_low=curve["precision"] - 0.05,
        precision_ci_high=curve["precision"] + 0.03,
        recall_ci_low=curve["recall"] - 0.04,
        recall_ci_high=curve["recall"] + 0.04,
    )
    fig = plots.threshold_chart(curve)
    bands = [c for c in fig.axes[0].collections if c.get_label().endswith("95% CI")]
    assert sorted(b.get_label() for b in bands) == ["precision 95% CI", "recall 95% CI"]
    _render(fig, "threshold_ci")
    plain = plots.threshold_chart(curve[["threshold", "precision", "recall"]])
    assert not [c for c in plain.axes[0].collections if c.get_label().endswith("95% CI")]
    plt.close("all")


def test_operations_charts_draw_intervals_and_plain_text_labels():
    import numpy as np
    import pandas as pd

    from modqa_lib.report import ops_plots

    sq = pd.DataFrame(
        {
            "site": ["A$1", "B"],
            "median_s": [30.0, 45.0],
            "median_ci_low": [29.0, 44.0],
            "median_ci_high": [31.0, 46.0],
            "accuracy": [0.9, 0.95],
            "ci_low": [0.88, 0.94],
            "ci_high": [0.92, 0.96],
            "flag": [True, False],
        }
    )
    fig = ops_plots.speed_quality_chart(sq, "site", aht_target=60, accuracy_target=0.95)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["A$1", "B"]  # a $ in a name is drawn as a $, not mathtext
    fig.canvas.draw()
    assert any("fast and less accurate" in t.get_text() for t in fig.legends[0].get_texts())
    weekly = pd.DataFrame(
        {
            "site": ["A"] * 3,
            "week": pd.date_range("2026-09-07", periods=3, freq="7D"),
            "median_s": [40.0, 41.0, 42.0],
            "median_ci_low": [39.0, 40.0, 41.0],
            "median_ci_high": [41.0, 42.0, 43.0],
        }
    )
    fig2 = ops_plots.handle_time_trend(weekly, "site", ceiling=75)
    assert np.allclose(fig2.axes[0].lines[0].get_ydata(), [40, 41, 42])
