"""Executed notebook to a self-contained, script-free HTML report; safe display helpers.

Reports leave the building: vendors and leadership open them from mail or a
file share, often offline. So an export

* shows outputs only (no code, no prompts), with charts inlined as base64;
* loads nothing from the network and runs no JavaScript: nbconvert's ``lab``
  template is extended so that it emits no require.js, MathJax, Mermaid or
  widget script, a ``Content-Security-Policy`` meta tag forbids scripts and
  remote loads in the browser, ``application/javascript`` and widget outputs
  are dropped, a ``text/html``/``text/markdown`` output carrying executable
  markup (``<script>``, ``on*=`` handlers, ``javascript:`` URLs, frames) falls
  back to its ``text/plain`` form, and a last pass over the finished document
  removes anything executable that still got through (and says so in
  :attr:`ExportResult.warnings`);
* drops ``stderr`` streams (warnings leak paths and library internals);
* replaces absolute paths of the building machine by project-relative ones
  (``/work/main/data/processed/x.parquet`` -> ``data/processed/x.parquet``;
  home -> ``~``; other ``/tmp``, ``/home``, ``/root``, ``/work`` paths -> ``…/<name>``);
* opens with a header: title, period, data fingerprint, run id, generation time (UTC);
* is written atomically; a size over 3 MB is reported as a warning.

LaTeX: no MathJax is shipped, so ``$\\alpha$`` in markdown shows as its source.

Escaping user text in notebooks
-------------------------------
Moderated content, queue names and free-text comments are user-generated.
``DataFrame`` display (``DataFrame._repr_html_``/``to_html``) escapes cell
values by default, but a pandas ``Styler`` does **not**: ``df.style`` puts
values and index labels into the HTML verbatim, and ``IPython.display.Markdown``/
``HTML`` render what they are given. Use :func:`safe_table`,
:func:`safe_markdown`, :func:`safe_html` and :func:`safe_text` for anything a
user may have typed.
"""

from __future__ import annotations

import copy as _copy
import html
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from numbers import Number
from pathlib import Path
from typing import Any

import nbformat

from modqa_lib.config import PROJ_ROOT
from modqa_lib.data.io import write_text_atomic
from modqa_lib.report.html_safety import find_executable_markup, harden_html
from modqa_lib.report.layout import structure_report

__all__ = [
    "MAX_HTML_BYTES",
    "PHONE_MIME",
    "ExportResult",
    "chart_caption",
    "default_roots",
    "export_html",
    "find_executable_markup",
    "harden_html",
    "make_readable",
    "markdown_escape",
    "safe_html",
    "safe_markdown",
    "safe_table",
    "safe_text",
    "sanitize_notebook",
    "scrub_notebook_paths",
    "scrub_paths",
]

MAX_HTML_BYTES = 3_000_000
#: mimetype of a chart's phone-sized PNG beside its ``image/png`` (written by :class:`modqa_lib.report.plots.ChartFigure`);
#: the export serves it through ``<picture>`` below 640 px
PHONE_MIME = "image/vnd.modqa.phone+png"
#: mimetypes of modqa's own machine-readable outputs (e.g. the headline figures):
#: metadata for the batch, never rendered.
PRIVATE_MIME_PREFIX = "application/vnd.modqa."
_DROP_MIMES = (
    "application/javascript",
    "text/javascript",
    "application/x-javascript",
    "application/vnd.jupyter.widget-view+json",
    "application/vnd.jupyter.widget-state+json",
)

# Scripts are off; styles are inline; images are data: URIs; nothing remote.
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
)

_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}
<meta http-equiv="Content-Security-Policy" content="{{ resources.modqa_csp }}">
<meta name="generator" content="modqa">
{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
.modqa-header { font-family: var(--jp-ui-font-family, sans-serif); border-bottom: 2px solid #444;
  margin: 0 0 1.2em 0; padding: 0.6em 0 0.8em 0; }
.modqa-header h1 { margin: 0 0 0.3em 0; font-size: 1.6em; }
.modqa-header dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; margin: 0;
  font-size: 0.9em; color: #333; }
.modqa-header dt { font-weight: 600; }
.modqa-header dd { margin: 0; font-family: var(--jp-code-font-family, monospace); }
body.jp-Notebook { padding: 0 2em; max-width: 1200px; margin: 0 auto; }
</style>
{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.modqa_header }}
{%- endblock body_header -%}
{%- block data_javascript scoped -%}{%- endblock -%}
{%- block data_widget_view scoped -%}{%- endblock data_widget_view -%}
{#- the lab template's image block, with the chart's alt text and, below 640 px, its phone-sized variant -#}
{% block data_png scoped %}
{%- set phone=output.data.get(resources.modqa_phone_mime) -%}
{%- set alt=output | get_metadata('alt', 'image/png') -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
{%- if phone %}
<picture class="modqa-chart">
<source media="(max-width: 640px)" srcset="data:image/png;base64,{{ phone | escape_html }}">
{%- endif %}
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- if alt is not none %}
alt="{{ alt | escape_html }}"
{%- endif %}
{%- if phone %}
data-phone-font-px="{{ output | get_metadata('min_font_px', resources.modqa_phone_mime) | escape_html }}"
{%- endif %}
{%- set width=output | get_metadata('width', 'image/png') -%}
{%- if width is not none %}
width={{ width | escape_html }}
{%- endif %}
{%- set height=output | get_metadata('height', 'image/png') -%}
{%- if height is not none %}
height={{ height | escape_html }}
{%- endif %}
>
{%- if phone %}
</picture>
{%- endif %}
</div>
{%- endblock data_png %}
{%- block footer -%}
</html>
{%- endblock footer -%}
"""
_TEMPLATE_NAME = "modqa_report.html.j2"


@dataclass
class ExportResult:
    """What :func:`export_html` wrote.

    Attributes
    ----------
    path : Path
    size_bytes : int
    warnings : list of str
        Size over the limit, executable markup removed in the last pass,
        absolute paths that could not be made relative.
    removed : dict
        Counts of what the sanitizer dropped (``stderr``, ``javascript``,
        ``unsafe_html``, ``widgets``, ``private``).
    """

    path: Path
    size_bytes: int
    warnings: list[str] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True if the export raised no warning."""
        return not self.warnings


# ------------------------------------------------------------------ safe helpers
def safe_text(s: Any) -> str:
    """HTML-escape any value for use inside HTML (``None`` -> ``""``).

    Examples
    --------
    >>> safe_text('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return "" if s is None else html.escape(str(s), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")


def markdown_escape(s: Any) -> str:
    """Escape a value for Markdown: neutralise markdown syntax and HTML.

    Markdown punctuation (links ``[x](javascript:…)``, emphasis, headings,
    tables, autolinks) is backslash-escaped and ``& < > " '`` become HTML
    entities, so the value renders as the literal text it is.
    """
    if s is None:
        return ""
    text = _MD_SPECIAL.sub(r"\\\1", str(s))
    return html.escape(text, quote=True).replace("\n", " ").replace("\r", " ")


def _escape_values(values: Mapping[str, Any], esc) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        # numbers cannot carry markup and must keep their format specs ({acc:.1%})
        out[k] = v if isinstance(v, Number) and not isinstance(v, bool) else esc(v)
    return out


def safe_markdown(template: str, **values: Any):
    """``IPython.display.Markdown`` of a trusted template with escaped user values.

    Parameters
    ----------
    template : str
        Trusted ``str.format`` template, e.g. ``"**Queue:** {queue} ({acc:.1%})"``.
    **values
        Strings (and any non-numbers) go through :func:`markdown_escape`;
        numbers are formatted as given.

    Returns
    -------
    IPython.display.Markdown
    """
    from IPython.display import Markdown

    return Markdown(template.format(**_escape_values(values, markdown_escape)))


def safe_html(template: str, **values: Any):
    """``IPython.display.HTML`` of a trusted template with HTML-escaped user values."""
    from IPython.display import HTML

    return HTML(template.format(**_escape_values(values, safe_text)))


def safe_table(
    df,
    precision: int | None = None,
    formatter=None,
    na_rep: str | None = None,
    caption: str | None = None,
    hide_index: bool = False,
):
    """A pandas ``Styler`` that HTML-escapes values, index and column labels.

    pandas ``Styler`` does not escape by default (``DataFrame.to_html`` does);
    calling ``.format(...)`` again on the result resets escaping for the cells
    it touches, so pass ``precision``/``formatter``/``na_rep`` here instead.
    Further styling (``.background_gradient``, ``.highlight_max``, ...) is safe.

    Parameters
    ----------
    df : DataFrame
    precision : int, optional
    formatter : str, callable or dict, optional
        As ``Styler.format(formatter=...)``; its result is escaped too.
    na_rep : str, optional
    caption : str, optional
        Escaped before use.
    hide_index : bool, default False

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    sty = df.style.format(formatter=formatter, precision=precision, na_rep=na_rep, escape="html")
    sty = sty.format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    if caption is not None:
        sty = sty.set_caption(safe_text(caption))
    if hide_index:
        sty = sty.hide(axis="index")
    return sty


# ------------------------------------------------------------------- sanitizers
_OBJECT_REPR = re.compile(r"^<[\w.]+ (object|at 0x[0-9a-f]+)( at 0x[0-9a-f]+)?>$")


def _unsafe_rich(data: Mapping[str, Any], mime: str) -> list[str]:
    value = data.get(mime)
    if value is None:
        return []
    text = "".join(value) if isinstance(value, list) else str(value)
    if mime == "text/markdown":
        from nbconvert.filters.markdown_mistune import markdown2html_mistune

        text = markdown2html_mistune(text)
    return find_executable_markup(text)


def chart_caption(markdown: str, limit: int = 300) -> str:
    """Plain text of a markdown cell, for the alt text of the chart below it.

    Headings, emphasis, code marks and link targets are dropped; the text is
    cut at a sentence end (or a word) within ``limit`` characters.
    """
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # links and images: their text
    text = re.sub(r"<[^>]+>", " ", text)  # stray tags
    text = re.sub(
        r"^\s{0,3}#+\s*(.*?)\s*$",  # headings end a sentence
        lambda m: m.group(1) + ("" if m.group(1)[-1:] in ".?!:" else "."),
        text,
        flags=re.M,
    )
    text = re.sub(r"[*_`>|]+", "", text)
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("? "))
    return cut[: end + 1] if end > limit // 3 else cut.rsplit(" ", 1)[0] + "…"


def _chart_alt(out: Any, caption: str, subject: str | None, seen: dict[str, int]) -> None:
    meta = out.setdefault("metadata", {}).setdefault("image/png", {})
    alt = str(meta.get("alt") or (f"Chart: {caption}" if caption else "Chart"))
    if subject and subject.lower() not in alt.lower():
        alt = f"{alt.rstrip()} — {subject}"
    seen[alt] = seen.get(alt, 0) + 1
    meta["alt"] = alt if seen[alt] == 1 else f"{alt} (chart {seen[alt]})"


def sanitize_notebook(
    nb: nbformat.NotebookNode, subject: str | None = None, *, copy: bool = True
) -> tuple[nbformat.NotebookNode, dict[str, int]]:
    """Copy of an executed notebook fit for export (see the module docstring).

    Drops ``stderr`` streams, JavaScript and widget outputs, modqa's private
    mimetypes, and ``text/html``/``text/markdown`` representations that carry
    executable markup (the output keeps its ``text/plain`` form); removes
    widget state and papermill's path metadata. Every chart gets alt text: its
    own (what it shows and its key reading, set by :mod:`modqa_lib.report.plots`),
    else "Chart: " and the explanatory line above it; the report's ``subject``
    is appended where the text does not name it, and a repeated text is numbered,
    so that each image's alt is distinct and names its subject.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook (not modified unless ``copy=False``).
    subject : str, optional
        What the report is about (e.g. "Vendor scorecard: Vendor B").
    copy : bool, default True
        Work on a deep copy; False changes ``nb`` in place (and returns it),
        for a notebook nobody else holds (a deep copy costs about 0.1 s per report).

    Returns
    -------
    nb : NotebookNode
    removed : dict
        Counts per kind of removal.
    """
    if copy:
        nb = _copy.deepcopy(nb)
    removed = {"stderr": 0, "javascript": 0, "widgets": 0, "unsafe_html": 0, "private": 0}
    nb.metadata.pop("widgets", None)
    pm = nb.metadata.get("papermill")
    if isinstance(pm, dict):
        for k in ("input_path", "output_path"):
            pm.pop(k, None)
    caption = ""
    alts: dict[str, int] = {}
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            caption = chart_caption("".join(cell.get("source", ""))) or caption
            continue
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                removed["stderr"] += 1
                continue
            data = out.get("data")
            if data is not None:
                if any(m.startswith(PRIVATE_MIME_PREFIX) for m in data):
                    removed["private"] += 1
                    continue  # machine-readable figures for the batch, not for readers
                for mime in list(data):
                    if mime in _DROP_MIMES:
                        del data[mime]
                        removed["widgets" if "widget" in mime else "javascript"] += 1
                        if _OBJECT_REPR.match("".join(data.get("text/plain", "")).strip()):
                            data.pop("text/plain")  # "<IPython...Javascript object>" says nothing
                for mime in ("text/html", "text/markdown", "image/svg+xml"):
                    findings = _unsafe_rich(data, mime) if mime in data else []
                    if findings:
                        del data[mime]
                        removed["unsafe_html"] += 1
                        plain = "".join(data.get("text/plain", ""))
                        if not plain.strip() or _OBJECT_REPR.match(plain.strip()):
                            data["text/plain"] = (
                                f"[output not shown: it contained executable markup "
                                f"({', '.join(sorted(set(findings))[:3])})]"
                            )
                if not data:
                    continue
                if "image/png" in data:  # a chart says what it shows to screen readers
                    _chart_alt(out, caption, subject, alts)
            kept.append(out)
        cell["outputs"] = kept
    return nb, removed


# ------------------------------------------------------------------------ paths
_GENERIC_ABS = re.compile(
    r"(?<![\w.~\-/:])(?:file://)?"
    r"(/(?:home/[^/\s\"'<>]+|Users/[^/\s\"'<>]+|root|tmp|work|var/folders|private/var|mnt|srv|opt)"
    r"(?:/[^\s\"'<>()\[\]{},;|`]*)?)(?=$|[\s\"'<>()\[\]{},;|`])"
)


def default_roots() -> list[tuple[str, str]]:
    roots = [(str(PROJ_ROOT.resolve()), ""), (str(PROJ_ROOT), "")]
    try:
        roots.append((str(Path.home()), "~/"))
    except RuntimeError:  # pragma: no cover - no home
        pass
    return roots


def scrub_paths(text: str, roots: Iterable[tuple[str, str]] | None = None) -> str:
    """Make absolute paths of this machine relative.

    Parameters
    ----------
    text : str
    roots : iterable of (root, replacement), optional
        Tried longest root first: ``root/`` is replaced by ``replacement``
        (``""`` makes paths relative to that root). Default: the project root
        (-> relative) and the home folder (-> ``~/``).
        Then any remaining path under ``/home/<user>``, ``/Users/<user>``,
        ``/root``, ``/tmp``, ``/work``, ``/var/folders``, ``/mnt``, ``/srv``,
        ``/opt`` becomes ``…/<last part>``. URLs are left alone.
    """
    pairs = sorted(
        {
            (str(r).rstrip("/"), rep)
            for r, rep in (roots if roots is not None else default_roots())
            if r and str(r).rstrip("/")
        },
        key=lambda p: len(p[0]),
        reverse=True,
    )
    for root, rep in pairs:
        pat = re.compile(r"(?<![\w.~\-/:])(?:file://)?" + re.escape(root) + r"(/|(?=$|[^\w.\-/]))")
        text = pat.sub(lambda m: rep if m.group(1) == "/" else (rep.rstrip("/") or "."), text)  # noqa: B023

    def _tail(m: re.Match) -> str:
        parts = [p for p in m.group(1).split("/") if p]
        return "…/" + parts[-1] if len(parts) > 1 else "…"

    return _GENERIC_ABS.sub(_tail, text)


def scrub_notebook_paths(nb: nbformat.NotebookNode, roots) -> None:
    for cell in nb.cells:
        if isinstance(cell.get("source"), str):
            cell["source"] = scrub_paths(cell["source"], roots)
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = scrub_paths("".join(out["text"]) if isinstance(out["text"], list) else out["text"], roots)
            if out.get("output_type") == "error":
                out["evalue"] = scrub_paths(str(out.get("evalue", "")), roots)
                out["traceback"] = [scrub_paths(t, roots) for t in out.get("traceback", [])]
            data = out.get("data") or {}
            for mime in list(data):
                if mime.startswith("text/") or mime in ("image/svg+xml", "application/json"):
                    v = data[mime]
                    if isinstance(v, (str, list)):
                        data[mime] = scrub_paths("".join(v) if isinstance(v, list) else v, roots)


_DATA_URI = re.compile(r"data:[\w.+/-]+;base64,[A-Za-z0-9+/=]+")


def _outside_data_uris(document: str, fn) -> str:
    """Apply ``fn`` to the document except inside base64 data URIs."""
    pieces, last = [], 0
    for m in _DATA_URI.finditer(document):
        pieces.append(fn(document[last : m.start()]))
        pieces.append(m.group(0))
        last = m.end()
    pieces.append(fn(document[last:]))
    return "".join(pieces)


# ------------------------------------------------------------------------ export
#: output metadata of the notebook's own "what this report covers" line (see report.tables.header)
HEADER_ROLE = "modqa_role"


def _drop_in_notebook_headers(nb: nbformat.NotebookNode) -> None:
    """Remove the notebook's own header line: the export header shows title, period and fingerprint once."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", []) if not _is_header_output(o)]


def _is_header_output(output: Any) -> bool:
    md = output.get("metadata") or {}
    nested = [v for v in md.values() if isinstance(v, Mapping)]
    return md.get(HEADER_ROLE) == "header" or any(v.get(HEADER_ROLE) == "header" for v in nested)


def _header_html(title: str, meta: Mapping[str, Any], generated_at: datetime) -> str:
    rows = [
        ("Period", meta.get("period")),
        ("Data fingerprint", meta.get("data_fingerprint")),
        ("Run", meta.get("run_id")),
        ("Unit", meta.get("unit")),
        ("Generated (UTC)", generated_at.strftime("%Y-%m-%d %H:%M:%SZ")),
    ]
    rows += [(str(k), v) for k, v in (meta.get("extra") or {}).items()]
    if meta.get("n_audits") not in (None, ""):
        rows.insert(1, ("Audited decisions", f"{int(meta['n_audits']):,}"))
    items = "".join(
        f"<dt>{safe_text(k)}</dt><dd>{safe_text(v if v not in (None, '') else '—')}</dd>"
        for k, v in rows
        if not (k in ("Run", "Unit") and v in (None, ""))
    )
    return f'<header class="modqa-header" id="modqa-header"><h1>{safe_text(title)}</h1><dl>{items}</dl></header>'


_EXPORTERS = threading.local()


def _exporter():
    """This thread's HTML exporter, built once (compiling its Jinja templates costs about 0.3 s per build).

    One per thread: batch workers export in threads of one process, and an
    exporter keeps per-call state while it converts a notebook.
    """
    exporter = getattr(_EXPORTERS, "exporter", None)
    if exporter is None:
        exporter = _EXPORTERS.exporter = _new_exporter()
    return exporter


def _new_exporter():
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        exclude_anchor_links=True,
        mathjax_url="",
        require_js_url="",
        jquery_url="",
        mermaid_js_url="",
        mermaid_layout_elk_js_url="",
        widget_renderer_url="",
        jupyter_widgets_base_url="",
    )
    exporter.template_file = _TEMPLATE_NAME
    # honour "remove-cell"/"remove-output" tags a notebook author may set
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter.register_preprocessor(
        TagRemovePreprocessor(
            remove_cell_tags={"remove-cell", "remove_cell"}, remove_all_outputs_tags={"remove-output", "remove_output"}
        ),
        enabled=True,
    )
    return exporter


def export_html(
    executed_nb_path: str | os.PathLike,
    html_path: str | os.PathLike,
    title: str,
    meta: Mapping[str, Any] | None = None,
    *,
    max_bytes: int = MAX_HTML_BYTES,
    roots: Iterable[tuple[str, str]] | None = None,
    generated_at: datetime | None = None,
    header: bool = True,
) -> ExportResult:
    """Export an executed notebook to a self-contained, script-free HTML report.

    Parameters
    ----------
    executed_nb_path : path-like
        The executed ``.ipynb`` (papermill output).
    html_path : path-like
        Where to write; written atomically (temp file + ``os.replace``).
    title : str
        Report title (``<title>`` and header; escaped).
    meta : mapping, optional
        Header fields: ``period``, ``data_fingerprint``, ``run_id``, ``unit``,
        and ``extra`` (a mapping of further label -> value). All escaped.
    max_bytes : int, default 3,000,000
        Larger exports are written but get a warning.
    roots : iterable of (root, replacement), optional
        Extra path roots for :func:`scrub_paths`, tried before the defaults.
    generated_at : datetime, optional
        Generation time (UTC) shown in the header; default now.
    header : bool, default True
        Open the page with the header block (title, period, data fingerprint,
        run, unit, generation time).

    Returns
    -------
    ExportResult
    """
    meta = dict(meta or {})
    generated_at = (generated_at or datetime.now(UTC)).astimezone(UTC)
    all_roots = list(roots or []) + default_roots()
    nb = nbformat.read(os.fspath(executed_nb_path), as_version=4)
    if header:
        _drop_in_notebook_headers(nb)
    nb, removed = sanitize_notebook(nb, subject=str(title), copy=False)  # nb was just read: no copy needed
    scrub_notebook_paths(nb, all_roots)
    nb.metadata["title"] = str(title)
    exporter = _exporter()
    body, _ = exporter.from_notebook_node(
        nb,
        resources={
            "modqa_header": _header_html(title, meta, generated_at) if header else "",
            "modqa_csp": CSP,
            "modqa_phone_mime": PHONE_MIME,
            "metadata": {"name": Path(html_path).stem},
        },
    )
    warnings: list[str] = []
    body, found = harden_html(body)
    body = structure_report(body, header=header, headline=meta.get("headline"))
    if found:
        warnings.append(f"removed executable markup from the export: {', '.join(sorted(set(found))[:8])}")
    body = _outside_data_uris(body, lambda s: scrub_paths(s, all_roots))
    leftover = set()
    _outside_data_uris(body, lambda s: leftover.update(m.group(1) for m in _GENERIC_ABS.finditer(s)) or s)
    if leftover:  # pragma: no cover - scrub_paths removes these; kept as a tripwire
        warnings.append(f"absolute paths remain: {sorted(leftover)[:3]}")
    data = body.encode("utf-8")
    if len(data) > max_bytes:
        warnings.append(
            f"HTML is {len(data) / 1e6:.1f} MB (limit {max_bytes / 1e6:.1f} MB): "
            "fewer or smaller charts, or lower the figure dpi"
        )
    if removed["unsafe_html"] or removed["javascript"]:
        warnings.append(
            f"{removed['unsafe_html'] + removed['javascript']} output(s) carried executable "
            "markup and are shown as plain text: display user text with safe_table/"
            "safe_markdown/safe_html"
        )
    write_text_atomic(body, html_path)
    make_readable(html_path)
    return ExportResult(Path(html_path), len(data), warnings, removed)


def make_readable(path: str | os.PathLike) -> None:
    """Give a published file the usual ``0666 & ~umask`` mode.

    The atomic writers create files through ``tempfile.mkstemp`` (mode 0600),
    which would leave reports readable by their owner only.
    """
    os.chmod(path, 0o666 & ~_UMASK)


def _read_umask() -> int:
    try:  # Linux: read it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # at import time, before any worker thread exists
    os.umask(mask)
    return mask


_UMASK = _read_umask()
