"""The RCA explorer's callbacks, driven without a browser."""

from __future__ import annotations

import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.data import io
from modqa_lib.data.synthetic import generate
from modqa_lib.report.widgets import RcaExplorer, filter_audits


@pytest.fixture(scope="module")
def audits():
    demo = generate(n_decisions=30_000)
    return io.audited_decisions(demo.tables)


def test_default_view_covers_second_half_of_period(audits):
    ex = RcaExplorer(audits)
    weeks = sorted(audits[S.WEEK].unique())
    lo, hi = ex.controls["period"].value
    assert pd.Timestamp(hi) == weeks[-1] and pd.Timestamp(lo) == weeks[len(weeks) // 2]
    expected = ((audits[S.WEEK] >= lo) & (audits[S.WEEK] <= hi)).sum()
    assert ex.result.n == expected
    assert ex.result.accuracy[S.N].sum() == expected
    assert not ex.result.change.empty, "default compare period (first half) gives a change table"


def test_vendor_filter_updates_tables_and_site_options(audits):
    ex = RcaExplorer(audits)
    ex.controls[S.VENDOR].value = "Vendor B"
    assert set(ex.controls[S.SITE].options) == {"ALL", "Kuala Lumpur", "Penang"}
    lo, hi = ex.controls["period"].value
    expected = filter_audits(audits, {S.VENDOR: "Vendor B"}, (lo, hi))
    assert ex.result.n == len(expected)
    ex.controls["dim"].value = S.SHIFT
    assert set(ex.result.accuracy[S.SHIFT]) <= {"day", "evening", "night"}
    assert ex.result.accuracy[S.N].sum() == len(expected)


def test_penang_night_tops_the_drilldown_in_explorer(audits):
    ex = RcaExplorer(audits)
    ex.controls["period"].value = (ex.weeks[0], ex.weeks[-1])
    ex.controls["compare"].value = (ex.weeks[0], ex.weeks[0])  # overlaps: no change table
    ex.controls[S.VENDOR].value = "Vendor B"
    ex.controls["depth"].value = 2
    top = ex.result.drilldown.iloc[0]
    assert "Penang" in top["value"] or "night" in top["value"]
    assert "overlaps" in ex.result.message and ex.result.change.empty


def test_no_match_gives_a_message_not_an_error(audits):
    ex = RcaExplorer(audits)
    ex.controls[S.VENDOR].value = "Platform"
    ex.controls[S.POLICY].value = "child_safety"
    ex.controls[S.MARKET].value = "DE"
    ex.controls["period"].value = (ex.weeks[0], ex.weeks[0])
    if ex.result.n == 0:
        assert "No audited decisions" in ex.result.message
    ex.static_view()  # renders without raising


def test_change_decomposition_sums_to_total(audits):
    ex = RcaExplorer(audits)
    ch = ex.result.change
    assert {"mix_effect", "rate_effect", "total_effect", "is_total"} <= set(ch.columns)
    groups, total = ch[~ch["is_total"]], ch[ch["is_total"]].iloc[0]
    assert groups["mix_effect"].sum() + groups["rate_effect"].sum() == pytest.approx(total["total_effect"], abs=1e-12)
    assert total["rate_after"] - total["rate_before"] == pytest.approx(total["total_effect"], abs=1e-12)
