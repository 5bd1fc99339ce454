"""Page structure of an exported report: one heading, contents, landmarks, captions, tables that reflow on a phone.

:func:`structure_report` post-processes the HTML that nbconvert produced (after
:func:`modqa_lib.report.export.harden_html`), so every report gets the same
navigable structure without any notebook knowing about it:

- one ``<h1>`` (the export header's title; the notebook's own title heading is
  dropped, its introduction kept);
- a short table of contents (``<nav>`` with a ``<details>`` list of the
  ``<h2>`` sections, closed so the headline stays on a phone's first screen);
- a ``<main>`` landmark around the report body;
- a ``<caption>`` on every table, taken from the explanatory line above it [1]_;
- ``data-label`` on every cell, so that below 640 px each table row reflows into
  a card of "column: value" lines: estimate, interval and status stay visible
  without sideways scrolling;
- a visible cue ("scroll sideways") on anything that still needs scrolling.

References
----------
.. [1] W3C WAI, "Page Structure Tutorial" (landmarks, headings) and
   "Tables Tutorial: Caption & Summary", https://www.w3.org/WAI/tutorials/.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag

__all__ = ["REPORT_CSS", "headline_sentence", "structure_report"]

REPORT_CSS = """
main.modqa-main { display: block; }
nav.modqa-toc { font-family: var(--jp-ui-font-family, sans-serif); margin: 0 0 1em 0; font-size: 0.95em; }
nav.modqa-toc summary { cursor: pointer; font-weight: 600; }
nav.modqa-toc ol { margin: 0.4em 0 0 1.2em; padding: 0; }
.modqa-headline { font-size: 1.15em; font-weight: 600; margin: 0.5em 0 0 0; }
table caption { caption-side: top; text-align: left; font-weight: 600; padding: 0.3em 0; color: #333; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
.jp-RenderedHTMLCommon table { max-width: 100%; }
@media (max-width: 640px) {
  body.jp-Notebook { padding: 0 0.6em !important; }
  .modqa-header h1 { font-size: 1.3em; }
  .modqa-header dl { display: block; font-size: 0.85em; }
  .modqa-header dt, .modqa-header dd { display: inline; }
  .modqa-header dt::after { content: ": "; }
  .modqa-header dd::after { content: ""; display: block; }
  .jp-RenderedHTMLCommon table.modqa-reflow, table.modqa-reflow tbody, table.modqa-reflow tr,
  table.modqa-reflow td, table.modqa-reflow th[scope="row"] { display: block; width: auto; }
  table.modqa-reflow thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.modqa-reflow tr { border: 1px solid #ccc; border-radius: 4px; margin: 0 0 0.6em 0; padding: 0.2em 0.4em; }
  table.modqa-reflow td { display: flex; justify-content: space-between; gap: 1em; text-align: right;
    border: none; padding: 0.15em 0; }
  table.modqa-reflow td::before { content: attr(data-label); font-weight: 600; text-align: left; }
  .jp-OutputArea-output { overflow-x: auto; }
}
"""

_SENTENCE = re.compile(r"^(.{1,200}?[.?!])(\s|$)", re.S)


def _first_sentence(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    m = _SENTENCE.match(text)
    out = m.group(1) if m else text
    return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, k = base, 2
    while slug in used:
        slug, k = f"{base}-{k}", k + 1
    used.add(slug)
    return slug


def _is_cell(cls: str | None) -> bool:
    return cls == "jp-Cell"


def _caption_for(table: Tag) -> str | None:
    cell = table.find_parent(class_=_is_cell)
    node = cell.find_previous_sibling(class_=_is_cell) if cell else None
    while node is not None:
        classes = node.get("class") or []
        if "jp-MarkdownCell" in classes:
            heading = node.find(["h2", "h3", "h4"])
            if heading is not None:
                return _first_sentence(heading.get_text(" ", strip=True).rstrip("¶").strip())
            para = node.find("p")
            text = (para or node).get_text(" ", strip=True)
            return _first_sentence(text) if text else None
        if node.find("table") or node.find("img"):
            return None  # the line above belongs to an earlier table or chart
        node = node.find_previous_sibling(class_=_is_cell)
    return None


def _label_cells(table: Tag) -> None:
    head = table.find("thead")
    rows = head.find_all("tr") if head else []
    if not rows:
        return
    labels = [th.get_text(" ", strip=True) for th in rows[-1].find_all(["th", "td"])]
    body = table.find("tbody") or table
    for tr in body.find_all("tr", recursive=False) if body is not table else body.find_all("tr"):
        cells = tr.find_all(["td", "th"], recursive=False)
        if len(cells) != len(labels):
            continue
        for cell, label in zip(cells, labels):
            if cell.name == "td" and label:
                cell["data-label"] = label
    table["class"] = [*table.get("class", []), "modqa-reflow"]


def headline_sentence(figures) -> str | None:
    """The headline a reader should see first, from a report's recorded headline figures.

    Parameters
    ----------
    figures : mapping
        What the notebook recorded (:func:`modqa_lib.report.tables.headline_figures`):
        ``accuracy``, ``ci_low``, ``ci_high``, ``n``, optionally ``target``,
        ``status`` and ``alpha``.

    Returns
    -------
    str or None
        e.g. "Accuracy 94.2% (95% CI 93.5–94.9%; n = 7,472; design-weighted) · target 95% · at risk";
        None when the figures hold no accuracy.
    """
    try:
        acc, lo, hi, n = (float(figures[k]) for k in ("accuracy", "ci_low", "ci_high", "n"))
    except (KeyError, TypeError, ValueError):
        return None
    level = 1 - float(figures.get("alpha", 0.05) or 0.05)
    out = f"Accuracy {acc:.1%} ({level:.0%} CI {lo:.1%}–{hi:.1%}; n = {int(n):,}; design-weighted)"
    if figures.get("target") is not None:
        out += f" · target {float(figures['target']):.0%}"
    if figures.get("status"):
        out += f" · {figures['status']}"
    return out


def _caption_and_label_tables(soup: BeautifulSoup) -> None:
    seen: dict[str, int] = {}
    for table in soup.find_all("table"):
        if table.find("caption") is None:
            cap = _caption_for(table)
            if cap:
                seen[cap] = seen.get(cap, 0) + 1
                cap = cap if seen[cap] == 1 else f"{cap} (table {seen[cap]})"
                c = soup.new_tag("caption")
                c.append(NavigableString(cap))
                table.insert(0, c)
        _label_cells(table)


def _toc(soup: BeautifulSoup, entries: list[tuple[str, str]]) -> Tag:
    nav = soup.new_tag("nav", attrs={"class": "modqa-toc", "aria-label": "Contents"})
    det = soup.new_tag("details")
    summ = soup.new_tag("summary")
    summ.append(NavigableString(f"Contents ({len(entries)} sections)"))
    det.append(summ)
    ol = soup.new_tag("ol")
    for ident, text in entries:
        li = soup.new_tag("li")
        a = soup.new_tag("a", href=f"#{ident}")
        a.append(NavigableString(text))
        li.append(a)
        ol.append(li)
    det.append(ol)
    nav.append(det)
    return nav


def structure_report(document: str, header: bool = True, headline: str | None = None) -> str:
    """Give an exported report its navigable, phone-friendly structure.

    Parameters
    ----------
    document : str
        The exported HTML (nbconvert lab template plus modqa's header block).
    header : bool, default True
        Whether the page carries modqa's header block (then the notebook's own
        ``<h1>`` is dropped, so the page has exactly one).
    headline : str, optional
        The report's headline sentence (e.g. accuracy with its interval and n),
        shown in the header so it is on the first screen; escaped.

    Returns
    -------
    str
        The restructured HTML.
    """
    soup = BeautifulSoup(document, "html.parser")
    body = soup.body
    if body is None:
        return document
    head_block = soup.find("header", class_="modqa-header")
    h1s = [h for h in soup.find_all("h1") if not (head_block and head_block in h.parents)]
    if header and head_block is not None:
        for h in h1s:
            h.decompose()
    elif len(h1s) > 1:
        for h in h1s[1:]:
            h.name = "h2"
    if headline and head_block is not None:
        p = soup.new_tag("p", attrs={"class": "modqa-headline"})
        p.append(NavigableString(headline))
        head_block.append(p)

    used: set[str] = set()
    entries = []
    for h2 in soup.find_all("h2"):
        if head_block and head_block in h2.parents:
            continue
        text = h2.get_text(" ", strip=True).rstrip("¶").strip()
        if not text:
            continue
        h2["id"] = _slug(text, used)
        entries.append((h2["id"], text))

    _caption_and_label_tables(soup)

    main = body.find("main")
    if main is None:
        main = soup.new_tag("main")
        for child in list(body.children):
            if child is not head_block:
                main.append(child.extract())
        body.append(main)
    main["class"] = [*main.get("class", []), "modqa-main"]
    main["id"] = "report"
    if head_block is not None:
        main.insert_before(head_block.extract())
    if entries:
        main.insert_before(_toc(soup, entries))
    if soup.head is not None and soup.head.find("meta", attrs={"name": "viewport"}) is None:
        soup.head.insert(
            0, soup.new_tag("meta", attrs={"name": "viewport", "content": "width=device-width, initial-scale=1"})
        )
    if soup.head is not None:
        style = soup.new_tag("style", attrs={"type": "text/css"})
        style.append(NavigableString(REPORT_CSS))
        soup.head.append(style)
    return str(soup)
