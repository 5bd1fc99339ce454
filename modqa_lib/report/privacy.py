"""Who may see whose names: pseudonyms for moderators, anonymous peers for vendors.

Vendors see only their own numbers (DOMAIN.md, step 7). This module gives the
notebooks two tools and the batch one guard:

* :func:`pseudonymise` turns moderator ids into stable keyed pseudonyms
  (``"M-3f9a2c1b"``): the same moderator maps to the same pseudonym every week,
  but nobody without the key can map a pseudonym back or forward.
* :func:`anonymise_peers` renames every vendor except the focus vendor to
  ``"Peer A"``, ``"Peer B"``, ..., renames their sites and drops their
  moderator ids.
* :func:`assert_no_foreign_names` is the last check the batch runs on every
  vendor-facing HTML report: a report that names another vendor, one of its
  sites or one of its moderators is not published.

The key
-------
The HMAC key comes from, in order: the ``key`` argument, the environment
variable ``MODQA_PSEUDONYM_KEY``, or a per-install secret file
``<processed>/.pseudonym_key`` that is created (mode 0600, 32 random bytes as
hex) on first use. The key is never printed, logged, returned or written into a
report. Pseudonyms are stable only as long as the key is: an install that wipes
``data/processed/`` entirely gets new pseudonyms, so set
``MODQA_PSEUDONYM_KEY`` (from a secrets store) where pseudonyms must stay
comparable over months or across machines.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from modqa_lib.config import PROCESSED_DIR
from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, ModqaError

__all__ = [
    "KEY_ENV",
    "KEY_FILE_NAME",
    "PrivacyLeakError",
    "anonymise_peers",
    "assert_no_foreign_names",
    "find_foreign_names",
    "peer_labels",
    "pseudonym_key",
    "pseudonymise",
]

KEY_ENV = "MODQA_PSEUDONYM_KEY"
KEY_FILE_NAME = ".pseudonym_key"
#: a configured secret location of the key file (wins over the processed folder)
KEY_FILE_ENV = "MODQA_PSEUDONYM_KEY_FILE"
#: vendor values that are not a competitor and keep their name in every report
NON_PEER_VENDORS: tuple[str, ...] = ("Platform",)


class PrivacyLeakError(ModqaError, AssertionError):
    """A vendor-facing text names another vendor, one of its sites or moderators.

    Attributes
    ----------
    found : dict
        ``{"vendors": [...], "sites": [...], "moderator_ids": [...]}`` that were found.
    """

    def __init__(self, found: dict[str, list[str]], focus_vendor: str):
        self.found = found
        self.focus_vendor = focus_vendor
        parts = [
            f"{k.replace('_', ' ')} {', '.join(repr(v) for v in vals[:5])}"
            + (f" (+{len(vals) - 5} more)" if len(vals) > 5 else "")
            for k, vals in found.items()
            if vals
        ]
        super().__init__(
            f"report for {focus_vendor!r} names other vendors' data: "
            + "; ".join(parts)
            + " (use anonymise_peers() before display)"
        )


# ----------------------------------------------------------------------- the key
def pseudonym_key(key: str | bytes | None = None, processed_dir: str | os.PathLike | None = None) -> bytes:
    """Return the HMAC key for pseudonyms (never print or store the result).

    Parameters
    ----------
    key : str or bytes, optional
        Explicit key; wins over everything else.
    processed_dir : path-like, optional
        Folder of the per-install secret file; default ``data/processed``.

    Returns
    -------
    bytes

    Notes
    -----
    Order: ``key``, ``$MODQA_PSEUDONYM_KEY``, the file ``$MODQA_PSEUDONYM_KEY_FILE``,
    ``<processed_dir>/.pseudonym_key`` (pass the processed folder the report read:
    :func:`modqa_lib.report.tables.vendor_audits` does, from its scope)
    (created with 32 random bytes, mode 0600, if absent; creation is race-safe
    between processes: ``O_EXCL``, and a loser reads the winner's key).
    """
    if key is not None:
        k = key.encode() if isinstance(key, str) else bytes(key)
        if not k:
            raise ConfigError("pseudonym key is empty")
        return k
    env = os.environ.get(KEY_ENV, "")
    if env.strip():
        return env.strip().encode()
    key_file = os.environ.get(KEY_FILE_ENV, "").strip()
    path = Path(key_file) if key_file else Path(processed_dir or PROCESSED_DIR) / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    text = path.read_text(encoding="ascii").strip()
    if not text:
        raise ConfigError(
            f"{path}: pseudonym key file is empty; delete it to create a new key "
            f"(pseudonyms will change) or set {KEY_ENV}"
        )
    return text.encode()


# -------------------------------------------------------------------- pseudonyms
def _one(value, k: bytes, prefix: str, length: int):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    digest = hmac.new(k, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:length]}" if prefix else digest[:length]


def pseudonymise(
    ids,
    key: str | bytes | None = None,
    prefix: str = "M",
    length: int = 8,
    processed_dir: str | os.PathLike | None = None,
):
    """Replace ids by stable keyed pseudonyms (HMAC-SHA256, truncated hex).

    Parameters
    ----------
    ids : str, iterable of str, or pandas Series
        Moderator (or auditor) ids. Missing values (None/NaN, e.g. machine
        decisions without a moderator) stay missing.
    key : str or bytes, optional
        See :func:`pseudonym_key`.
    prefix : str, default "M"
        Pseudonym prefix (``"M-3f9a2c1b"``); ``""`` for bare hex.
    length : int, default 8
        Hex characters kept (4..64). 8 hex = 32 bits: two of 1,000 moderators
        collide with probability about 1e-4; collisions among the ids given are
        detected and raise.
    processed_dir : path-like, optional
        Where the per-install key file lives (default ``data/processed``).

    Returns
    -------
    str, list or Series
        Same shape as ``ids`` (a Series keeps its index and name).

    Raises
    ------
    ConfigError
        Bad ``length``, or two different ids got the same pseudonym.

    Examples
    --------
    >>> pseudonymise(["mod-1", "mod-2", "mod-1"], key="k")
    ['M-82b9a951', 'M-d0184098', 'M-82b9a951']
    """
    if not 4 <= int(length) <= 64:
        raise ConfigError(f"pseudonym length must be 4..64 hex characters, got {length}")
    k = pseudonym_key(key, processed_dir)
    if isinstance(ids, str):
        return _one(ids, k, prefix, length)
    is_series = isinstance(ids, pd.Series)
    values = list(ids)
    uniq = {v for v in values if v is not None and (isinstance(v, str) or not pd.isna(v))}
    mapping = {v: _one(v, k, prefix, length) for v in uniq}
    if len(set(mapping.values())) < len(mapping):
        raise ConfigError(f"pseudonym collision among {len(mapping)} ids at length {length}; use a larger length")
    out = [mapping.get(v) if v in mapping else None for v in values]
    if is_series:
        return pd.Series(out, index=ids.index, name=ids.name, dtype="object")
    return out


# ------------------------------------------------------------------------- peers
def _letters(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (spreadsheet columns)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def peer_labels(
    vendors: Iterable[str],
    focus_vendor: str,
    order: str = "keyed",
    key: str | bytes | None = None,
    processed_dir: str | os.PathLike | None = None,
) -> dict[str, str]:
    """Map every vendor except ``focus_vendor`` (and "Platform") to ``"Peer A"``, ...

    Parameters
    ----------
    vendors : iterable of str
    focus_vendor : str
    order : {"keyed", "name"}, default "keyed"
        ``"keyed"``: peers are ordered by HMAC(key, focus vendor + peer name): a
        fixed, secret shuffle, stable week to week and different for each focus
        vendor, so vendors comparing their reports cannot line the letters up
        and nobody can infer "Peer A" from the alphabet. ``"name"``: sorted by
        name (reproducible without a key, but guessable when vendors know each
        other's names). Never ordered by performance.

    Returns
    -------
    dict
        vendor name to peer label.
    """
    peers = sorted({str(v) for v in vendors if pd.notna(v)} - {focus_vendor, *NON_PEER_VENDORS})
    if order == "keyed":
        k = pseudonym_key(key, processed_dir)
        peers.sort(key=lambda v: hmac.new(k, f"{focus_vendor}\x00{v}".encode(), hashlib.sha256).digest())
    elif order != "name":
        raise ConfigError(f"order must be 'keyed' or 'name', got {order!r}")
    return {v: f"Peer {_letters(i)}" for i, v in enumerate(peers)}


def anonymise_peers(
    df: pd.DataFrame,
    focus_vendor: str,
    column: str = S.VENDOR,
    site_column: str | None = S.SITE,
    moderator_column: str | None = S.MODERATOR_ID,
    order: str = "keyed",
    key: str | bytes | None = None,
    processed_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Copy of ``df`` in which only ``focus_vendor`` keeps its name.

    Parameters
    ----------
    df : DataFrame
        Any frame with a vendor column (a decisions/audits frame or a scoring result).
    focus_vendor : str
        The vendor the report is for.
    column : str, default ``schema.VENDOR``
    site_column : str or None, default ``schema.SITE``
        If present in ``df``: other vendors' sites become ``"Peer A site 1"``, ...
        (numbered by site name within the peer).
    moderator_column : str or None, default ``schema.MODERATOR_ID``
        If present in ``df``: other vendors' moderator ids are set to missing
        (dropped, not pseudonymised: a vendor has no use for them).
    order : {"keyed", "name"}, default "keyed"
        Peer letter order, see :func:`peer_labels`.

    Returns
    -------
    DataFrame
        Same shape; the input is not modified. "Platform" (machine decisions)
        keeps its name and its "model" site.
    """
    if column not in df.columns:
        raise ConfigError(
            f"anonymise_peers: column {column!r} not in frame (columns: {', '.join(map(str, df.columns))})"
        )
    out = df.copy()
    vendor = out[column].astype("object")
    labels = peer_labels(vendor.dropna().unique(), focus_vendor, order=order, key=key, processed_dir=processed_dir)
    foreign = vendor.isin(list(labels))
    if site_column and site_column in out.columns:
        site = out[site_column].astype("object")
        site_map: dict[tuple[str, str], str] = {}
        pairs = out.loc[foreign, [column, site_column]].dropna().drop_duplicates()
        for v, grp in pairs.groupby(column, sort=True):
            for i, s in enumerate(sorted(grp[site_column].astype(str).unique()), start=1):
                site_map[(v, s)] = f"{labels[v]} site {i}"
        new_site = [site_map.get((v, str(s)), s) if f else s for v, s, f in zip(vendor, site, foreign)]
        out[site_column] = pd.Series(new_site, index=out.index, dtype="object")
    if moderator_column and moderator_column in out.columns:
        mod = out[moderator_column].astype("object").copy()
        mod[foreign.to_numpy()] = None
        out[moderator_column] = mod
    out[column] = vendor.map(lambda v: labels.get(v, v))
    return out


# --------------------------------------------------------------------- the guard
_DATA_URI = re.compile(r"data:[a-z]+/[\w.+-]+;base64,[A-Za-z0-9+/=\s]+", re.I)


def _visible_strings(text: str) -> str:
    """Text and attribute values of an HTML document (no CSS, no data URIs); text as is."""
    if not re.search(r"<(html|body|div|p|table|span|pre)\b", text, re.I):
        return html.unescape(_DATA_URI.sub(" ", text))
    from modqa_lib.report.html_scan import scan_html

    tokens = scan_html(text, text=True)
    chunks = [" ".join(tokens.text)]
    for _name, attrs in tokens.tags:
        chunks.extend(v for _a, v in attrs if not v.lower().startswith("data:"))
    return html.unescape(_DATA_URI.sub(" ", "\n".join(chunks)))


def _pattern(names: Iterable[str], ignore_case: bool) -> re.Pattern | None:
    names = sorted({str(n) for n in names if n is not None and str(n).strip()}, key=len, reverse=True)
    if not names:
        return None
    alts = [r"\s+".join(map(re.escape, n.split())) for n in names]
    return re.compile(r"(?<![\w])(" + "|".join(alts) + r")(?![\w])", re.I if ignore_case else 0)


def _foreign(values, focus_vendor: str) -> list[str]:
    if isinstance(values, Mapping):
        return [k for k, v in values.items() if v != focus_vendor and v not in NON_PEER_VENDORS]
    return [v for v in (values or ())]


def find_foreign_names(
    text_or_html: str,
    focus_vendor: str,
    all_vendors: Iterable[str],
    all_sites: Iterable[str] | Mapping[str, str] = (),
    all_moderator_ids: Iterable[str] | Mapping[str, str] = (),
) -> dict[str, list[str]]:
    """Foreign names found in a text or HTML document (see :func:`assert_no_foreign_names`).

    Returns
    -------
    dict
        ``{"vendors": [...], "sites": [...], "moderator_ids": [...]}``, each sorted.
    """
    text = _visible_strings(text_or_html)
    vendors = [v for v in all_vendors if v != focus_vendor and v not in NON_PEER_VENDORS]
    found: dict[str, list[str]] = {}
    for kind, names, icase in (
        ("vendors", vendors, True),
        ("sites", _foreign(all_sites, focus_vendor), True),
        ("moderator_ids", _foreign(all_moderator_ids, focus_vendor), False),
    ):
        pat = _pattern(names, icase)
        hits = set()
        if pat is not None:
            lookup = {str(n).lower() if icase else str(n): str(n) for n in names}
            for m in pat.finditer(text):
                hit = " ".join(m.group(1).split())
                hits.add(lookup.get(hit.lower() if icase else hit, hit))
        found[kind] = sorted(hits)
    return found


def assert_no_foreign_names(
    text_or_html: str,
    focus_vendor: str,
    all_vendors: Iterable[str],
    all_sites: Iterable[str] | Mapping[str, str] = (),
    all_moderator_ids: Iterable[str] | Mapping[str, str] = (),
) -> None:
    """Raise if a vendor-facing text names another vendor, its sites or its moderators.

    Parameters
    ----------
    text_or_html : str
        Plain text or an HTML document. For HTML, visible text and attribute
        values are searched (HTML entities decoded); ``<style>`` blocks and
        ``data:`` URIs (embedded images) are not. Text drawn inside images
        (chart titles, tick labels) cannot be checked here: build charts from
        :func:`anonymise_peers` output.
    focus_vendor : str
        The vendor the report is for; its own name, sites and ids are allowed.
    all_vendors : iterable of str
        Every vendor; all but ``focus_vendor`` and "Platform" are foreign.
    all_sites : iterable of str or mapping site -> vendor
        A mapping lets the focus vendor's own sites through; a plain iterable
        is taken as the list of foreign sites.
    all_moderator_ids : iterable of str or mapping moderator id -> vendor
        Same rule as ``all_sites``. Ids are matched case-sensitively as whole
        tokens; vendor and site names case-insensitively, any run of
        whitespace matching a space.

    Raises
    ------
    PrivacyLeakError
        Naming what was found (the error goes to the internal batch manifest,
        never into the report).
    """
    found = find_foreign_names(text_or_html, focus_vendor, all_vendors, all_sites, all_moderator_ids)
    if any(found.values()):
        raise PrivacyLeakError(found, focus_vendor)
