"""End to end: demo data with hostile text -> ingest -> papermill batch of the real report
notebooks -> HTML. The reports must show the planted truths, escape user text and keep
other vendors' names and moderator ids out of a vendor's report."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.data import synthetic
from modqa_lib.data.ingest import ingest
from modqa_lib.report.export import find_executable_markup
from modqa_lib.run import batch

pytestmark = pytest.mark.slow

PAYLOADS = [
    '<script>alert("xss")</script>',
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(2)>',
    "[click](javascript:alert(3))",
]


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    raw = root / "raw"
    synthetic.write_demo_data(raw, n_decisions=80_000)
    # hostile free text in every text field that reaches a report
    for table, cols in {"policy_changes": [S.DESCRIPTION], "actions": [S.DESCRIPTION, S.OWNER]}.items():
        p = raw / f"{table}.csv"
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        for i, c in enumerate(cols):
            df[c] = [f"{v} {PAYLOADS[(i + j) % len(PAYLOADS)]}" for j, v in enumerate(df[c])]
        df.to_csv(p, index=False, lineterminator="\n")
    ingest(raw, root / "processed")
    return root


@pytest.fixture(scope="module")
def vendor_run(processed):
    return batch.run_batch(
        by="vendor",
        only=["Vendor B"],
        workers=1,
        processed=processed / "processed",
        outputs=processed / "outputs",
        progress=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def market_run(processed):
    return batch.run_batch(
        by="market",
        only=["ID"],
        workers=1,
        processed=processed / "processed",
        outputs=processed / "outputs",
        progress=False,
        timeout=600,
    )


def _html(run) -> str:
    (unit,) = run.units
    assert unit.status == "ok", unit.error
    return (run.run_dir / unit.outputs["html"]).read_text(encoding="utf-8")


def test_vendor_report_runs_and_records_headline(vendor_run):
    (unit,) = vendor_run.units
    assert unit.status == "ok", unit.error
    h = unit.headline
    assert h["n"] > 300 and 0 < h["ci_low"] < h["accuracy"] < h["ci_high"] < 1
    manifest = json.loads(vendor_run.manifest_path.read_text())
    assert manifest["units"], "manifest lists the unit"
    assert "Vendor B" in vendor_run.index_path.read_text()
    # the export header names the weeks covered, not the "last:12" parameter
    html = _html(vendor_run)
    assert h["period"].startswith("weeks of ") and h["period"] in html and "last:12" not in html


def test_vendor_report_shows_planted_fatigue_truth(vendor_run):
    html = _html(vendor_run)
    # the drill-down ranks Penang's night shift first by excess errors
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    drill = text[text.index("Where are the errors concentrated") :]
    first_row = drill[drill.index("share of its errors") + len("share of its errors") :][:80]
    assert "Penang × night" in first_row, first_row
    assert "Fatigue / attention" in html
    assert "Largest excess:" in text, "the generated summary names the largest slice"


def _without_images(html: str) -> str:
    """The HTML minus its embedded base64 images: random base64 text can spell "Cebu"."""
    stripped = re.sub(r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/=\s]+", "data:image", html)
    assert "base64," not in stripped, "an embedded payload the test does not strip"
    return stripped


def test_without_images_strips_only_the_payload():
    html = '<p>Cebu</p><img src="data:image/png;base64,QUJDebu+/Pune==">'
    assert _without_images(html) == '<p>Cebu</p><img src="data:image">'


def test_vendor_report_names_no_other_vendor_and_no_raw_moderator_ids(vendor_run):
    html = _without_images(_html(vendor_run))
    for other in ["Vendor A", "Vendor C", "Vendor D", "Manila", "Cebu", "Lisbon", "Porto", "Hyderabad", "Pune"]:
        assert not re.search(rf"\b{other}\b", html), other
    assert "Peer A" in html
    assert not re.search(r"\b[A-D]-[A-Z]{3}-\d{3}\b", html), "raw moderator id in a vendor report"
    assert not re.search(r"\bQA-\d{2}\b", html), "raw auditor id in a vendor report"


def test_reports_escape_hostile_text(vendor_run, market_run):
    for run in (vendor_run, market_run):
        html = _html(run)
        assert find_executable_markup(html) == []
        assert "<script" not in html.lower()
        assert not re.search(r"<[^>]+\son\w+\s*=", html, re.I)
        assert "javascript:alert" not in html.replace("javascript\\:", "")  # escaped markdown link is inert


def test_reports_are_self_contained_small_and_pathless(vendor_run, market_run, processed):
    for run in (vendor_run, market_run):
        html = _html(run)
        assert len(html.encode()) < 3_000_000
        assert "data:image/png;base64," in html
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html)
        assert str(processed) not in html and "/work/" not in html and "/root/" not in html


def test_market_report_shows_model_misses_on_livestream(market_run):
    html = _html(market_run)
    assert "Market report: ID" in html or "Market ID" in html
    assert "livestream" in html


_RATE = re.compile(r"accuracy|rate|share|precision|recall|fpr|fnr|agreement|kappa", re.I)
_CI = re.compile(r"ci_low|ci low|CI\)|\d+% CI", re.I)


def rate_tables_without_intervals(html: str) -> list[str]:
    """Header rows of tables that show a rate but no confidence interval."""
    from bs4 import BeautifulSoup

    bad = []
    for table in BeautifulSoup(html, "html.parser").find_all("table"):
        heads = [th.get_text(" ", strip=True) for th in table.find_all("th")]
        if any(_RATE.search(h) for h in heads) and not any(_CI.search(h) for h in heads):
            bad.append(" | ".join(heads))
    return bad


def test_rate_table_check_catches_a_bare_rate():
    assert rate_tables_without_intervals("<table><tr><th>vendor</th><th>accuracy</th></tr></table>")
    assert not rate_tables_without_intervals("<table><tr><th>accuracy</th><th>ci_low</th><th>ci_high</th></tr></table>")
    assert not rate_tables_without_intervals("<table><tr><th>accuracy after (95% CI)</th></tr></table>")


def test_every_rate_table_in_the_reports_carries_an_interval(vendor_run, market_run):
    for run in (vendor_run, market_run):
        assert rate_tables_without_intervals(_html(run)) == []


def chart_rates_without_intervals(nb) -> list[str]:
    """Rates a chart writes as text (the heatmap's cells) without their interval and n.

    Charts record the rates they write in their output metadata (``modqa_labels``,
    see :class:`modqa_lib.report.plots.ChartFigure`).
    """
    bad = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for label in ((out.get("metadata") or {}).get("image/png") or {}).get("modqa_labels", []):
                if "%" in label and not (re.search(r"\d–\d", label) and re.search(r"n=\d", label)):
                    bad.append(label)
    return bad


def _chart_labels(nb) -> list[str]:
    return [
        label
        for cell in nb.cells
        for out in cell.get("outputs", [])
        for label in ((out.get("metadata") or {}).get("image/png") or {}).get("modqa_labels", [])
    ]


def test_chart_rate_check_catches_a_bare_heatmap_cell():
    import nbformat

    def nb(label):
        out = nbformat.v4.new_output(
            "display_data", data={"image/png": ""}, metadata={"image/png": {"modqa_labels": [label]}}
        )
        n = nbformat.v4.new_notebook()
        n.cells = [nbformat.v4.new_code_cell("", outputs=[out])]
        return n

    assert chart_rates_without_intervals(nb("94.2%"))
    assert chart_rates_without_intervals(nb("94.2%\nn=120"))
    assert not chart_rates_without_intervals(nb("94.2%\n91.0–96.1\nn=120"))
    assert not chart_rates_without_intervals(nb("n=5"))  # too few audits: no rate shown


def test_every_rate_in_the_heatmaps_carries_its_interval_and_n(vendor_run, market_run):
    import nbformat

    for run in (vendor_run, market_run):
        (unit,) = run.units
        nb = nbformat.read(str(run.run_dir / unit.outputs["notebook"]), as_version=4)
        assert any("%" in label for label in _chart_labels(nb)), "the policy heatmap recorded no cells"
        assert chart_rates_without_intervals(nb) == []


def chart_alt_problems(html: str) -> list[str]:
    """Images of an export whose alt text is missing, repeated or does not name the report's subject."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    subject = soup.find("h1").get_text(" ", strip=True)
    problems, seen = [], set()
    for img in soup.find_all("img"):
        alt = (img.get("alt") or "").strip()
        if not alt:
            problems.append("an image without alt text")
            continue
        if alt in seen:
            problems.append(f"repeated alt: {alt[:80]}")
        seen.add(alt)
        if subject not in alt:
            problems.append(f"alt does not name {subject!r}: {alt[:80]}")
    return problems


def test_chart_alt_check_catches_missing_repeated_and_subjectless_alt():
    page = "<h1>Vendor B</h1><img alt='Heatmap of Vendor B'><img alt='Heatmap of Vendor B'><img alt='x'><img>"
    assert chart_alt_problems(page) == [
        "repeated alt: Heatmap of Vendor B",
        "alt does not name 'Vendor B': x",
        "an image without alt text",
    ]


def test_every_chart_has_its_own_alt_text_naming_what_it_shows(vendor_run, market_run):
    from bs4 import BeautifulSoup

    for run in (vendor_run, market_run):
        html = _html(run)
        assert chart_alt_problems(html) == []
        alts = [img["alt"] for img in BeautifulSoup(html, "html.parser").find_all("img")]
        assert len(alts) >= 5
        assert any(a.startswith("Heatmap “Accuracy by policy and") and "95% CI" in a for a in alts)
        assert any(a.startswith("Control chart “Weekly error rate") for a in alts)
