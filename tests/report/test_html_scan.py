"""Tests of modqa_lib.report.html_scan and the checks built on it (executable markup, privacy gate)."""

from __future__ import annotations

import pytest

from modqa_lib.report import export as E
from modqa_lib.report import privacy as P
from modqa_lib.report.html_scan import scan_html


def test_tags_and_attributes_in_order_with_references_decoded():
    t = scan_html('<div class="a b"><IMG SRC="x&amp;y" alt><br/></div>')
    assert t.tags == [("div", [("class", "a b")]), ("img", [("src", "x&y"), ("alt", "")]), ("br", [])]


def test_text_outside_style_only_when_asked():
    doc = "<html><style>.vendor-c { color: red }</style><p>Vendor <b>B</b> &amp; peers</p></html>"
    assert scan_html(doc).text == []
    text = " ".join(scan_html(doc, text=True).text)
    assert "vendor-c" not in text and " ".join(text.split()) == "Vendor B & peers"


@pytest.mark.parametrize(
    "markup, finding",
    [
        ("<script>alert(1)</script>", "<script>"),
        ('<img src="x" onerror="alert(1)">', "onerror= on <img>"),
        ('<a href=" java\tscript:alert(1)">x</a>', "URL in <a href>"),
        ('<iframe src="https://evil.example/"></iframe>', "remote src= on <iframe>"),
        ('<link rel="stylesheet" href="//evil.example/x.css">', "external <link href="),
        ('<meta http-equiv="Refresh" content="0;url=https://evil.example">', "<meta http-equiv=refresh>"),
        ('<div style="background:url(javascript:alert(1))">x</div>', "style url()/expression on <div>"),
        # a browser uses the first of two equal attributes; BeautifulSoup kept the last and let this through
        ('<a href="javascript:alert(1)" href="https://ok.example/">x</a>', "URL in <a href>"),
        ("<svg><a xlink:href='javascript:alert(1)'>x</a></svg>", "URL in <a xlink:href>"),
    ],
)
def test_executable_markup_is_found(markup, finding):
    assert any(finding in f for f in E.find_executable_markup(markup)), E.find_executable_markup(markup)


def test_inert_markup_passes():
    doc = '<table class="dataframe"><tr><td style="color: red">0.91</td></tr></table><img src="data:image/png;base64,AAAA">'
    assert E.find_executable_markup(doc) == []


def test_privacy_gate_reads_text_and_every_attribute_but_not_css_or_images():
    vendors = ["Vendor A", "Vendor B"]
    assert P.find_foreign_names("<div><p>Only Vendor A here</p></div>", "Vendor A", vendors)["vendors"] == []
    leak = '<div><span title="Vendor B">x</span></div>'
    assert P.find_foreign_names(leak, "Vendor A", vendors)["vendors"] == ["Vendor B"]
    split = "<div>Vendor <b>B</b></div>"  # a name split across elements is still a name
    assert P.find_foreign_names(split, "Vendor A", vendors)["vendors"] == ["Vendor B"]
    css = "<div><style>/* Vendor B */</style><img src='data:image/png;base64,VmVuZG9yIEI='></div>"
    assert P.find_foreign_names(css, "Vendor A", vendors)["vendors"] == []
