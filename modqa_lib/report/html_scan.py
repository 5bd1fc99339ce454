"""One pass over an HTML document's tokens: its start tags with their attributes, and its text.

The export's executable-markup check and the privacy gate only need the start
tags (name and every attribute) and the text of a document, not a tree. Both
read them here with the standard library's tokenizer, ``html.parser`` [1]_ —
the tokenizer BeautifulSoup's ``"html.parser"`` builder runs underneath, so
tags, attributes and text are split the same way — without building the tree,
which costs about twice the tokenizing. Every occurrence of a repeated
attribute is reported (BeautifulSoup keeps only the last, a browser uses the
first), and text inside ``<script>`` and ``<template>`` counts as text: the
checks see at least what they saw before.

References
----------
.. [1] Python docs, "html.parser — Simple HTML and XHTML parser",
   https://docs.python.org/3/library/html.parser.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["HtmlTokens", "scan_html"]


@dataclass
class HtmlTokens:
    """What :func:`scan_html` read.

    Attributes
    ----------
    tags : list of (str, list of (str, str))
        Every start tag (self-closing ones too) in document order: its lower-case
        name and its attributes as (lower-case name, value) pairs, character
        references decoded, a value-less attribute as ``""``.
    text : list of str
        Text outside ``<style>`` elements, character references decoded (only
        when ``text=True``).
    """

    tags: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


class _Scanner(HTMLParser):
    def __init__(self, want_text: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.out = HtmlTokens()
        self._want_text = want_text
        self._style = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.tags.append((tag, [(k, "" if v is None else v) for k, v in attrs]))
        if tag == "style":
            self._style += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.tags.append((tag, [(k, "" if v is None else v) for k, v in attrs]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style" and self._style:
            self._style -= 1

    def handle_data(self, data: str) -> None:
        if self._want_text and not self._style:
            self.out.text.append(data)


def scan_html(markup: str, text: bool = False) -> HtmlTokens:
    """Tokenize ``markup`` once: its start tags and attributes, and (with ``text``) its text outside ``<style>``.

    Parameters
    ----------
    markup : str
        An HTML document or fragment.
    text : bool, default False
        Also collect the text.

    Returns
    -------
    HtmlTokens
    """
    scanner = _Scanner(text)
    scanner.feed(markup)
    scanner.close()
    return scanner.out
