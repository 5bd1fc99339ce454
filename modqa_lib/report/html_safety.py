"""Executable markup in HTML: find it, and remove it from a finished export.

The export (:func:`modqa_lib.report.export.export_html`) and every rich output a
notebook shows go through :func:`find_executable_markup`; whatever it finds in a
finished document :func:`harden_html` removes [1]_. Tags and attributes are read with
:func:`modqa_lib.report.html_scan.scan_html` (every occurrence of a repeated
attribute is checked).

References
----------
.. [1] OWASP, "Cross Site Scripting Prevention Cheat Sheet",
   https://cheatsheetseries.owasp.org/cheatsheets/Cross_Site_Scripting_Prevention_Cheat_Sheet.html
"""

from __future__ import annotations

import html
import re

from modqa_lib.report.html_scan import scan_html

__all__ = ["find_executable_markup", "harden_html"]

_UNSAFE_TAGS = (
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "base",
    "form",
    "portal",
    "noscript",
)
_URL_ATTRS = (
    "href",
    "src",
    "xlink:href",
    "action",
    "formaction",
    "data",
    "poster",
    "background",
    "srcset",
    "ping",
    "lowsrc",
    "dynsrc",
)
_BAD_URL = re.compile(r"^(javascript|vbscript|data:text/html|data:application/(x-)?javascript)", re.I)
_REMOTE = re.compile(r"^\s*(https?:)?//", re.I)
_BAD_STYLE = re.compile(r"expression\s*\(|url\s*\(\s*['\"]?\s*(javascript|https?:|//)", re.I)


def _bad_url(value: str) -> bool:
    # browsers ignore control characters and whitespace inside the scheme
    compact = re.sub(r"[\x00-\x20]", "", html.unescape(value))
    return bool(_BAD_URL.match(compact))


def find_executable_markup(markup: str) -> list[str]:
    """List what in an HTML fragment or document could run code or load remote content.

    Returns
    -------
    list of str
        Human-readable findings, e.g. ``"<script>"``, ``"onerror= on <img>"``,
        ``"javascript: URL in <a href>"``, ``"external <link href=https://…>"``;
        empty if the markup is inert.
    """
    found: list[str] = []
    for name, attrs in scan_html(markup).tags:  # every occurrence of a repeated attribute is checked
        if name in _UNSAFE_TAGS:
            found.append(f"<{name}>")
        if name == "meta" and any(a == "http-equiv" and v.lower() == "refresh" for a, v in attrs):
            found.append("<meta http-equiv=refresh>")
        if name == "link":
            found.extend(f"external <link href={v}>" for a, v in attrs if a == "href" and _REMOTE.match(v))
        for a, value in attrs:
            if a.startswith("on"):
                found.append(f"{a}= on <{name}>")
            elif a in _URL_ATTRS:
                if _bad_url(value):
                    found.append(f"{value.strip()[:20]} URL in <{name} {a}>")
                elif name in ("img", "script", "iframe", "video", "audio", "source", "embed") and _REMOTE.match(value):
                    found.append(f"remote {a}= on <{name}>")
            elif a == "style" and _BAD_STYLE.search(value):
                found.append(f"style url()/expression on <{name}>")
    return found


def harden_html(document: str) -> tuple[str, list[str]]:
    """Remove executable markup from a finished HTML document.

    Returns
    -------
    html : str
        The document, byte-identical if nothing had to be removed.
    removed : list of str
        What was removed (see :func:`find_executable_markup`).
    """
    found = find_executable_markup(document)
    if not found:
        return document, []
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(document, "html.parser")
    for tag in soup.find_all(True):
        name = tag.name.lower()
        if (
            name in _UNSAFE_TAGS
            or (name == "meta" and str(tag.get("http-equiv", "")).lower() == "refresh")
            or (name == "link" and re.match(r"^\s*(https?:)?//", str(tag.get("href", "")), re.I))
        ):
            tag.decompose()
            continue
        for attr in list(tag.attrs):
            a = attr.lower()
            value = tag.attrs[attr]
            vals = value if isinstance(value, list) else [value]
            if (
                a.startswith("on")
                or (
                    a in _URL_ATTRS
                    and any(
                        _bad_url(str(v))
                        or (
                            name in ("img", "video", "audio", "source", "embed")
                            and re.match(r"^\s*(https?:)?//", str(v), re.I)
                        )
                        for v in vals
                    )
                )
                or (a == "style" and re.search(r"expression\s*\(|url\s*\(", str(value), re.I))
            ):
                del tag.attrs[attr]
    return str(soup), found
