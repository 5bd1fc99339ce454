"""The one rate/CI formatter (report.format): every report surface writes a rate the same way."""

from __future__ import annotations

import html

import numpy as np
import pytest

import modqa_lib
from modqa_lib.report import format as fmt
from modqa_lib.report import tables
from modqa_lib.report.format import confidence_label, interval_text, percent, rate_text
from modqa_lib.run.batch.manifest import _headline_cell


def test_rate_text_shows_estimate_interval_and_n():
    assert rate_text(0.937, 0.922, 0.95, 1210) == "93.7% (95% CI 92.2%–95.0%; n = 1,210)"
    assert rate_text(np.nan, np.nan, np.nan, 0) == "no estimate (n = 0)"
    assert rate_text(0.9, np.nan, np.nan, 12) == "90.0% (no interval; n = 12)"
    assert rate_text(0.931, 0.915, 0.944, 1203.6, noun="audits") == "93.1% (95% CI 91.5%–94.4%; n = 1,204 audits)"
    assert rate_text(0.9, 0.826, 0.945, 100, method="Wilson") == "90.0% (95% Wilson CI 82.6%–94.5%; n = 100)"
    assert rate_text(0.62, 0.551, 0.70, 120, decimals=0, noun="errors") == "62% (95% CI 55%–70%; n = 120 errors)"
    assert rate_text(0.004, 0.001, 0.012, 900) == "0.40% (95% CI 0.10%–1.2%; n = 900)"  # the percent rule per number


@pytest.mark.parametrize(
    ("alpha", "label"), [(0.05, "95% CI"), (0.1, "90% CI"), (0.01, "99% CI"), (0.2, "80% CI"), (0.025, "97.5% CI")]
)
def test_the_level_comes_from_alpha(alpha, label):
    assert confidence_label(alpha) == label
    assert f"({label} " in rate_text(0.9, 0.85, 0.95, 100, alpha=alpha)
    assert interval_text(0.9, 0.85, 0.95, alpha=alpha) == f"90.0% ({label} 85.0%–95.0%)"


def test_interval_text_rates_and_differences():
    assert interval_text(0.872, 0.801, 0.923) == "87.2% (80.1%–92.3%)"
    assert interval_text(0.004, 0.001, 0.012) == "0.40% (0.10%–1.2%)"
    assert interval_text(0.216, 0.145, 0.286, points=True) == "+21.6 pts (+14.5 to +28.6)"
    assert interval_text(-0.045, -0.104, 0.015, points=True) == "-4.5 pts (-10.4 to +1.5)"
    assert interval_text(0.5495, 0.5346, 0.5510, decimals=3) == "0.549 (0.535 to 0.551)"
    assert interval_text(np.nan, np.nan, np.nan) == "" and interval_text(None, None, None) == ""
    # an estimate without an interval says so instead of hiding it
    assert interval_text(0.9, np.nan, np.nan) == "90.0% (no interval)"
    assert interval_text(-0.02, -0.035, -0.005, points=True, alpha=0.1) == "-2.0 pts (90% CI -3.5 to -0.5)"


def test_percent_rule():
    assert (percent(0.931), percent(0.004), percent(0.0), percent(np.nan), percent(0.62, 0)) == (
        "93.1%",
        "0.40%",
        "0.0%",
        "",
        "62%",
    )


def test_one_formatter_everywhere():
    assert modqa_lib.rate_text is rate_text and modqa_lib.interval_text is interval_text
    assert modqa_lib.report.rate_text is rate_text  # the notebooks' spelling
    assert tables.interval_text is interval_text
    from modqa_lib.report import text

    assert not hasattr(text, "format_rate") and not hasattr(tables, "rate_text")
    assert set(fmt.__all__) == {"confidence_label", "interval_text", "percent", "rate_text"}


def _cell(head, alpha=None):
    return _headline_cell(head, lambda v: html.escape(str(v)), alpha)


def test_batch_index_headline_uses_the_units_alpha():
    head = {"accuracy": 0.95, "ci_low": 0.941, "ci_high": 0.959, "n": 2647, "critical_rate": 0.004}
    head |= {"critical_ci_low": 0.003, "critical_ci_high": 0.005}
    # default: the notebooks' alpha 0.05
    assert _cell(head).startswith("accuracy <b>95.0%</b> (95% CI 94.1%–95.9%; n = 2,647) · critical-error rate ")
    assert "critical-error rate <b>0.40%</b> (95% CI 0.30%–0.50%)" in _cell(head)
    # the unit's alpha parameter, when the headline did not record one
    assert "(90% CI 94.1%–95.9%; n = 2,647)" in _cell(head, 0.1) and "95%" not in _cell(head, 0.1).replace("95.", "")
    # the alpha the headline recorded wins, and is not shown as a figure of its own
    cell = _cell({**head, "alpha": 0.01}, 0.1)
    assert "(99% CI 94.1%–95.9%; n = 2,647)" in cell and "(99% CI 0.30%–0.50%)" in cell and "alpha" not in cell


def test_headline_figures_record_alpha():
    row = {"n": 10, "accuracy": 0.9, "ci_low": 0.6, "ci_high": 0.98}
    assert tables.headline_figures(row, alpha=0.1, unit="A")["alpha"] == 0.1
    assert "alpha" not in tables.headline_figures(row, unit="A")
