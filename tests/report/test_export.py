"""Tests for modqa_lib.report.export: self-contained, script-free, path-free HTML; safe display helpers.

Two fixture notebooks are executed once per session with papermill (a kernel
each): report_fixture (table, seaborn chart, a stderr warning, printed paths,
headline) and xss_fixture (script payloads through every display path).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest
from bs4 import BeautifulSoup
from conftest import shared_once

from modqa_lib.config import PROJ_ROOT
from modqa_lib.report import export as E

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click me](javascript:alert(1))",
    '<a href="javascript:alert(1)">link</a>',
    "\"'><svg onload=alert(1)>",
]
DATA_URI = re.compile(r"data:[\w.+/-]+;base64,[A-Za-z0-9+/=]+")


def _execute(name: str, params: dict):
    def build(folder: Path) -> None:
        pm.execute_notebook(
            str(FIXTURES / name),
            str(folder / name),
            parameters=params,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            execution_timeout=180,
            resources={"metadata": {"path": str(FIXTURES)}},
        )

    return build


def without_data_uris(text: str) -> str:
    return DATA_URI.sub("DATA", text)


@pytest.fixture(scope="module")
def report_export(tmp_path_factory):
    folder = shared_once(
        tmp_path_factory,
        "export-report",
        _execute("report_fixture.ipynb", {"vendor": "Vendor A", "processed_dir": "/tmp/some/where/processed"}),
    )
    out = tmp_path_factory.mktemp("export") / "report.html"
    res = E.export_html(
        folder / "report_fixture.ipynb",
        out,
        "Vendor scorecard: Vendor A",
        meta={"period": "last:12", "data_fingerprint": "0123abcd4567ef89", "run_id": "r-test", "unit": "Vendor A"},
        generated_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    )
    return {"result": res, "html": out.read_text(encoding="utf-8"), "path": out, "nb": folder / "report_fixture.ipynb"}


@pytest.fixture(scope="module")
def xss_export(tmp_path_factory):
    folder = shared_once(tmp_path_factory, "export-xss", _execute("xss_fixture.ipynb", {}))
    out = tmp_path_factory.mktemp("export") / "xss.html"
    res = E.export_html(
        folder / "xss_fixture.ipynb",
        out,
        "<script>alert('title')</script>",
        meta={"period": "<b onmouseover=alert(2)>p</b>"},
    )
    return {"result": res, "html": out.read_text(encoding="utf-8"), "nb": folder / "xss_fixture.ipynb"}


# ----------------------------------------------------------------- report export
@pytest.mark.slow
def test_no_input_cells_or_prompts(report_export):
    page = report_export["html"]
    for code in ("sns.barplot", "record_headline", "import warnings", "fail_for"):
        assert code not in page, code
    soup = BeautifulSoup(page, "html.parser")
    assert not soup.select(".jp-InputArea-editor, .jp-InputPrompt, .jp-OutputPrompt")


@pytest.mark.slow
def test_images_are_embedded_base64(report_export):
    soup = BeautifulSoup(report_export["html"], "html.parser")
    imgs = soup.find_all("img")
    assert imgs and all(i["src"].startswith("data:image/png;base64,") for i in imgs)


@pytest.mark.slow
def test_self_contained_no_scripts_no_remote_loads(report_export):
    page = report_export["html"]
    soup = BeautifulSoup(page, "html.parser")
    assert soup.find_all("script") == []  # no require.js, MathJax, mermaid or widget script
    assert not [ln for ln in soup.find_all("link") if re.match(r"(https?:)?//", ln.get("href", ""))]
    assert not [t for t in soup.find_all(src=True) if not t["src"].startswith("data:")]
    css = "\n".join(s.get_text() for s in soup.find_all("style"))
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", css) and "@import" not in css
    assert "mathjax" not in page.lower() and "require.min.js" not in page
    csp = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})
    assert csp and "script-src 'none'" in csp["content"]
    assert E.find_executable_markup(page) == []


@pytest.mark.slow
def test_no_absolute_paths(report_export):
    text = without_data_uris(report_export["html"])
    for prefix in ("/work", "/root", "/home", "/tmp", str(PROJ_ROOT)):
        assert prefix not in text, prefix
    # the notebook printed its working folder and the processed folder; both became relative
    assert "working folder: tests/fixtures/notebooks" in text
    assert "processed data: …/processed" in text


@pytest.mark.slow
def test_stderr_and_headline_outputs_removed(report_export):
    page = report_export["html"]
    assert "noisy library warning" not in page
    assert "n_audits" not in page and "vnd.modqa" not in page
    assert report_export["result"].removed["stderr"] >= 1
    assert report_export["result"].removed["private"] == 1
    # the executed notebook still has them (only the export drops them)
    nb = nbformat.read(report_export["nb"], as_version=4)
    assert any(o.get("name") == "stderr" for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_header_block(report_export):
    soup = BeautifulSoup(report_export["html"], "html.parser")
    header = soup.find("header", class_="modqa-header")
    assert header is not None
    body_first = soup.body.find(True)
    assert body_first is header  # the banner opens the page; the report body is the <main> landmark after it
    assert soup.find("main") is not None and header not in soup.find("main").descendants
    text = header.get_text(" ")
    for part in (
        "Vendor scorecard: Vendor A",
        "last:12",
        "0123abcd4567ef89",
        "r-test",
        "2026-11-25 12:00:00Z",
        "Generated (UTC)",
    ):
        assert part in text, part
    assert soup.title.get_text() == "Vendor scorecard: Vendor A"


@pytest.mark.slow
def test_size_and_result(report_export):
    res = report_export["result"]
    assert res.size_bytes == report_export["path"].stat().st_size < E.MAX_HTML_BYTES
    assert res.warnings == [] and res.ok
    umask = os.umask(0)
    os.umask(umask)
    assert report_export["path"].stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.slow
def test_oversize_is_a_warning_not_an_error(report_export, tmp_path):
    res = E.export_html(report_export["nb"], tmp_path / "big.html", "t", max_bytes=10_000)
    assert (tmp_path / "big.html").exists()
    assert any("MB (limit" in w for w in res.warnings) and not res.ok


# ------------------------------------------------------------------ escaping
@pytest.mark.slow
def test_no_executable_markup_survives(xss_export):
    soup = BeautifulSoup(xss_export["html"], "html.parser")
    assert soup.find_all("script") == []
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            assert not attr.lower().startswith("on"), (tag.name, attr)
            vals = value if isinstance(value, list) else [value]
            assert not any(re.sub(r"\s", "", str(v)).lower().startswith("javascript:") for v in vals), tag
    assert not soup.find_all(["iframe", "object", "embed", "svg"])
    assert E.find_executable_markup(xss_export["html"]) == []
    assert "pwned" not in xss_export["html"]


@pytest.mark.slow
def test_safe_paths_show_payloads_as_text(xss_export):
    soup = BeautifulSoup(xss_export["html"], "html.parser")
    text = soup.find("main").get_text("\n")
    for p in PAYLOADS:
        # DataFrame (index + cell), safe_table (index + cell), safe_markdown, safe_html, safe_text list
        assert text.count(p) >= 7, (p, text.count(p))
    assert "Comment:" in text and "(25.0%)" in text  # number formats survive safe_markdown
    assert "<b onmouseover=alert(9)>extra</b>" in text  # the parameter payload too
    header = soup.find("header").get_text(" ")
    assert "<script>alert('title')</script>" in header and "<b onmouseover=alert(2)>p</b>" in header


@pytest.mark.slow
def test_unsafe_outputs_fall_back_to_plain_text_with_a_warning(xss_export):
    res = xss_export["result"]
    # exactly the four deliberate ones: raw HTML, raw Styler, raw Markdown, JavaScript
    assert res.removed["unsafe_html"] == 3 and res.removed["javascript"] == 1
    assert any("executable markup" in w for w in res.warnings)
    text = BeautifulSoup(xss_export["html"], "html.parser").find("main").get_text("\n")
    assert "output not shown: it contained executable markup" in text


@pytest.mark.slow
def test_chart_text_is_inert(xss_export):
    page = xss_export["html"]
    assert (
        "Text(0.5, 1.0, &#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27;)" in page
        or "Text(0.5, 1.0, '&lt;script&gt;alert(1)&lt;/script&gt;')" in page
    )
    assert BeautifulSoup(page, "html.parser").find_all("img")


# ------------------------------------------------------- helpers, no kernel
@pytest.mark.parametrize(
    "payload",
    PAYLOADS + ["a & b", "# heading", "*bold* _it_ `code` | x |", "<javascript:alert(1)>", "https://example.com/a_b"],
)
def test_markdown_escape_renders_as_literal_text(payload):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    rendered = markdown2html_mistune(f"Comment: {E.markdown_escape(payload)}")
    assert E.find_executable_markup(rendered) == []
    soup = BeautifulSoup(rendered, "html.parser")
    assert soup.get_text().strip() == f"Comment: {payload}"
    assert not soup.find_all("a")


def test_safe_text_and_safe_html():
    assert E.safe_text(None) == ""
    assert E.safe_text("<a href='x'>") == "&lt;a href=&#x27;x&#x27;&gt;"
    h = E.safe_html("<p title='{t}'>{t} {n:.2f}</p>", t="'><script>x</script>", n=0.5)
    assert "<script>" not in h.data and "0.50" in h.data
    assert BeautifulSoup(h.data, "html.parser").p["title"] == "'><script>x</script>"


def test_safe_markdown_keeps_number_formats():
    md = E.safe_markdown("**{v}**: {acc:.1%} of {n:,}", v="Vendor_A*", acc=0.9531, n=12345)
    assert md.data == "**Vendor\\_A\\***: 95.3% of 12,345"


def test_pandas_styler_does_not_escape_but_safe_table_does():
    df = pd.DataFrame({"<b>col</b>": ["<script>alert(1)</script>"]}, index=["<img src=x onerror=y>"])
    raw = df.style.to_html()
    assert "<script>alert(1)</script>" in raw  # pandas' documented default: no escaping
    safe = E.safe_table(df, caption="<i>cap</i>").to_html()
    assert E.find_executable_markup(safe) == []
    assert "&lt;script&gt;" in safe and "&lt;b&gt;col&lt;/b&gt;" in safe and "&lt;img" in safe
    assert "&lt;i&gt;cap&lt;/i&gt;" in safe
    assert E.find_executable_markup(df.to_html()) == []  # DataFrame.to_html escapes by default


def test_safe_table_formats_numbers():
    df = pd.DataFrame({"acc": [0.95123], "name": ["<x>"]})
    out = E.safe_table(df, precision=2, hide_index=True).to_html()
    assert "0.95" in out and "0.95123" not in out and "&lt;x&gt;" in out


HOME = str(Path.home())


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"{PROJ_ROOT}/data/processed/x.parquet", "data/processed/x.parquet"),
        (f"cwd={PROJ_ROOT}", "cwd=."),
        (f"'{PROJ_ROOT}/notebooks/a.ipynb'", "'notebooks/a.ipynb'"),
        (f"see {HOME}/projects/modqa/data.csv now", "see ~/projects/modqa/data.csv now"),
        ("see /home/nobody-else/p/data.csv now", "see …/data.csv now"),
        ("File /tmp/pytest-of-root/x/y.parquet", "File …/y.parquet"),
        ("/work/shared/real/davidson.csv", "…/davidson.csv"),
        ("file:///work/shared/a.html", "…/a.html"),
        ("/var/folders/ab/cd/T/x.png", "…/x.png"),
        ("https://example.com/home/tmp/x", "https://example.com/home/tmp/x"),
        ("ratio 3/tmp", "ratio 3/tmp"),
        ("/tmpfoo is not a path root", "/tmpfoo is not a path root"),
    ],
)
def test_scrub_paths(text, expected):
    assert E.scrub_paths(text) == expected


def test_scrub_paths_custom_roots():
    assert E.scrub_paths("/srv/runs/r1/vendor-a/x.html", roots=[("/srv/runs/r1", "")]) == "vendor-a/x.html"


def test_scrub_paths_leaves_base64_alone():
    doc = '<img src="data:image/png;base64,AAAA/tmp/workBBBB/root+/home/x=="> /tmp/a/b.txt'
    out = E._outside_data_uris(doc, E.scrub_paths)
    assert "AAAA/tmp/workBBBB/root+/home/x==" in out and out.endswith(" …/b.txt")


def test_harden_html_removes_what_got_through():
    doc = (
        '<html><body><p onclick="x()">hi</p><a href=" JaVa\tscript:alert(1)">l</a>'
        '<script src="https://cdn.example/x.js"></script><iframe src="//evil"></iframe>'
        '<link rel="stylesheet" href="https://cdn.example/x.css"><img src="data:image/png;base64,AA==">'
        "</body></html>"
    )
    out, found = E.harden_html(doc)
    assert len(found) >= 5
    assert E.find_executable_markup(out) == []
    assert "hi" in out and 'src="data:image/png;base64,AA=="' in out
    clean = "<html><body><p>ok</p></body></html>"
    assert E.harden_html(clean) == (clean, [])


def test_sanitize_notebook_counts_and_does_not_mutate():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "x",
                outputs=[
                    nbformat.v4.new_output("stream", name="stderr", text="/home/u/warn.py: Warning"),
                    nbformat.v4.new_output("stream", name="stdout", text="kept"),
                    nbformat.v4.new_output(
                        "display_data",
                        data={
                            "application/javascript": "alert(1)",
                            "text/plain": "<IPython.core.display.Javascript object>",
                        },
                    ),
                    nbformat.v4.new_output(
                        "display_data", data={"application/javascript": "alert(1)", "text/plain": "a useful fallback"}
                    ),
                    nbformat.v4.new_output("display_data", data={"application/vnd.modqa.headline+json": {"a": 1}}),
                    nbformat.v4.new_output(
                        "display_data", data={"text/html": "<b onclick=x()>t</b>", "text/plain": "t (plain)"}
                    ),
                ],
            )
        ]
    )
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    clean, removed = E.sanitize_notebook(nb)
    assert removed == {"stderr": 1, "javascript": 2, "widgets": 0, "unsafe_html": 1, "private": 1}
    outs = clean.cells[0].outputs
    assert [o.get("text") or o["data"].get("text/plain") for o in outs] == ["kept", "a useful fallback", "t (plain)"]
    assert "widgets" not in clean.metadata and len(nb.cells[0].outputs) == 6


# ------------------------------------------------------------------ alt text
_PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def _chart_notebook(caption_md: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    img = nbformat.v4.new_output("display_data", data={"image/png": _PNG_1PX, "text/plain": "<Figure>"})
    nb.cells = [nbformat.v4.new_markdown_cell(caption_md), nbformat.v4.new_code_cell("plot()", outputs=[img])]
    return nb


def test_chart_caption_plain_text():
    md = "## Trend and control chart\n\nWeekly error rate with **p-chart** limits; see [policy](http://x)."
    assert E.chart_caption(md) == "Trend and control chart. Weekly error rate with p-chart limits; see policy."
    long = "A sentence that is long enough. " * 20
    assert E.chart_caption(long, limit=100).endswith("enough.") and len(E.chart_caption(long, limit=100)) <= 100


def test_charts_get_their_caption_as_alt_text_escaped(tmp_path):
    nb = _chart_notebook("## Accuracy by site\n\nWhich sites meet the target? <img src=x onerror=alert(1)>")
    clean, _ = E.sanitize_notebook(nb)
    alt = clean.cells[1].outputs[0].metadata["image/png"]["alt"]
    assert alt.startswith("Chart: Accuracy by site. Which sites meet the target?")
    assert "metadata" not in nb.cells[1].outputs[0] or not nb.cells[1].outputs[0].metadata  # input untouched
    src = tmp_path / "chart.ipynb"
    nbformat.write(nb, str(src))
    E.export_html(src, tmp_path / "chart.html", "Charts")
    (img,) = [
        i
        for i in BeautifulSoup((tmp_path / "chart.html").read_text(), "html.parser").find_all("img")
        if i["src"].startswith("data:image/png")
    ]
    assert img["alt"].startswith("Chart: Accuracy by site. Which sites meet the target?")
    assert "No description" not in img["alt"]
    assert E.find_executable_markup((tmp_path / "chart.html").read_text()) == []


def _chart_output(alt: str, phone: bool = True):
    data = {"image/png": _PNG_1PX, "text/plain": alt}
    md = {"image/png": {"alt": alt}}
    if phone:
        data[E.PHONE_MIME] = _PNG_1PX
        md[E.PHONE_MIME] = {"min_font_px": 13.75, "width_px": 360}
    return nbformat.v4.new_output("display_data", data=data, metadata=md)


def test_charts_are_served_at_phone_size_below_640px(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("plot()", outputs=[_chart_output("Heatmap “Accuracy”: cells")])]
    src = tmp_path / "chart.ipynb"
    nbformat.write(nb, str(src))
    E.export_html(src, tmp_path / "chart.html", "Vendor scorecard: Vendor B")
    page = (tmp_path / "chart.html").read_text()
    soup = BeautifulSoup(page, "html.parser")
    (pic,) = soup.find_all("picture")
    source, img = pic.find("source"), pic.find("img")
    assert source["media"] == "(max-width: 640px)" and source["srcset"] == f"data:image/png;base64,{_PNG_1PX}"
    assert img["src"] == f"data:image/png;base64,{_PNG_1PX}" and img["data-phone-font-px"] == "13.75"
    assert img["alt"] == "Heatmap “Accuracy”: cells — Vendor scorecard: Vendor B"
    assert E.find_executable_markup(page) == []


def test_alt_texts_name_the_subject_once_and_never_repeat():
    nb = nbformat.v4.new_notebook()
    outs = [_chart_output("Chart of Vendor B", phone=False), _chart_output("Chart of Vendor B", phone=False)]
    nb.cells = [nbformat.v4.new_code_cell("plot()", outputs=outs)]
    clean, _ = E.sanitize_notebook(nb, subject="Vendor B")
    alts = [o.metadata["image/png"]["alt"] for o in clean.cells[0].outputs]
    assert alts == ["Chart of Vendor B", "Chart of Vendor B (chart 2)"]


# ------------------------------------------------------------------ speed (#10)
@pytest.mark.slow
def test_exporter_is_built_once_per_thread_and_reuse_changes_nothing(report_export, xss_export, tmp_path):
    import threading

    again = tmp_path / "again.html"
    E.export_html(
        report_export["nb"],
        again,
        "Vendor scorecard: Vendor A",
        meta={"period": "last:12", "data_fingerprint": "0123abcd4567ef89", "run_id": "r-test", "unit": "Vendor A"},
        generated_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    )
    assert again.read_text(encoding="utf-8") == report_export["html"]  # byte for byte after an xss export too
    assert E._exporter() is E._exporter()
    other: list = []
    t = threading.Thread(target=lambda: other.append(E._exporter()))
    t.start()
    t.join()
    assert other[0] is not E._exporter()


def test_sanitize_notebook_copies_unless_told_not_to():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="warning\n")]
    nb.cells.append(cell)
    out, removed = E.sanitize_notebook(nb)
    assert removed["stderr"] == 1 and out is not nb and len(nb.cells[0].outputs) == 1
    out, removed = E.sanitize_notebook(nb, copy=False)
    assert out is nb and nb.cells[0].outputs == []
