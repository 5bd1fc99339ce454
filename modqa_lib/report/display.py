"""Reader-facing cells: one interval column, q-values in words, ticks for booleans.

Tidy frames keep identifier-safe columns (``ci_low``, ``ci_high``,
``q_value``); this module turns a frame that is about to be shown into what a
quality manager reads: each ``<x>ci_low``/``<x>ci_high`` pair becomes one
"95% CI" column ("93.9–95.8%"), p- and q-values read "< 0.001", booleans show
a tick or nothing. :func:`modqa_lib.report.tables.show` applies it to every
table of every report, so the display is one layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

__all__ = ["chart_label", "ci_label", "format_p", "merge_alias_slices", "merge_intervals", "tick"]

CI_LOW, CI_HIGH = "ci_low", "ci_high"


def ci_label(alpha: float = 0.05, prefix: str = "") -> str:
    """Header of an interval column: "95% CI", or "median 95% CI" for ``median_ci_low``/``median_ci_high``."""
    from modqa_lib.report.format import confidence_label

    words = prefix.replace("_", " ").strip()
    return f"{words} {confidence_label(alpha)}".strip()


def chart_label(value: object) -> str:
    """A legend entry, legend title or axis label in words: ``false_negative`` -> "false negative".

    Charts draw category values and column names; like table headers they are
    shown in words, never as identifiers. Missing values read "(missing)".

    Examples
    --------
    >>> chart_label("false_negative"), chart_label("error_type"), chart_label(None)
    ('false negative', 'error type', '(missing)')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(missing)"
    return " ".join(str(value).replace("_", " ").split())


def format_p(v) -> str:
    """A p- or q-value as a reader sees it: "< 0.001", "0.043", blank when missing."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v):
        return ""
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def tick(v) -> str:
    """✓ for True, blank for False or missing."""
    return "✓" if (v is not None and not pd.isna(v) and bool(v)) else ""


def _interval(lo, hi, fmt: Callable[[float], str], pct: bool) -> str:
    if pd.isna(lo) and pd.isna(hi):
        return ""
    if pct:
        a, b = fmt(lo).rstrip("%"), fmt(hi)
        return f"{a}–{b}"
    return f"{fmt(lo)}–{fmt(hi)}"


_RATE_WORDS = ("accuracy", "rate", "share", "precision", "recall", "fpr", "fnr", "npv", "agreement", "prop")


def _interval_is_pct(frame: pd.DataFrame, prefix: str, col: str, pct: set) -> bool:
    """An interval is shown as percentages when its estimate is (judged by its sibling columns, else its name)."""
    if not prefix:
        return col in pct
    siblings = [c for c in frame.columns if str(c).startswith(prefix) and not str(c).endswith((CI_LOW, CI_HIGH))]
    if siblings:
        return any(c in pct for c in siblings)
    return any(w in prefix.lower() for w in _RATE_WORDS)


def merge_intervals(
    frame: pd.DataFrame, pct_cols: Iterable[str], fmt_pct: Callable, fmt_num: Callable, alpha: float = 0.05
) -> tuple[pd.DataFrame, set[str]]:
    """Replace each ``<x>ci_low``/``<x>ci_high`` pair by one text column "<x> 95% CI" at the low column's place.

    Parameters
    ----------
    frame : DataFrame
        The columns about to be shown (not modified).
    pct_cols : iterable of str
        Columns shown as percentages (an interval of a percentage is shown as one).
    fmt_pct, fmt_num : callable
        Formatters of one percentage and of one number.
    alpha : float, default 0.05
        1 - confidence level, for the header.

    Returns
    -------
    frame : DataFrame
        The frame with merged interval columns (text).
    merged : set of str
        Names of the new text columns (they need no further formatting).
    """
    pct = set(pct_cols)
    out = frame.copy()
    merged: set[str] = set()
    for col in list(frame.columns):
        c = str(col)
        if not c.endswith(CI_LOW):
            continue
        prefix = c[: -len(CI_LOW)]
        hi = prefix + CI_HIGH
        if hi not in frame.columns:
            continue
        is_pct = _interval_is_pct(frame, prefix, col, pct)
        fmt = fmt_pct if is_pct else fmt_num
        text = [_interval(lo, h, fmt, is_pct) for lo, h in zip(frame[col], frame[hi])]
        name = ci_label(alpha, prefix)
        pos = list(out.columns).index(col)
        out = out.drop(columns=[col, hi])
        out.insert(pos, name, text)
        merged.add(name)
    return out, merged


def merge_alias_slices(table: pd.DataFrame, audits: pd.DataFrame, sep: str = " × ") -> pd.DataFrame:
    """Merge drill-down rows that select exactly the same audits into one row naming all their aliases.

    The machine channel, for instance, is at once site ``model``, vendor
    ``Platform`` and tenure band ``(missing)``: three rows of the same slice. The
    first (most excess errors) is kept; its ``dimension`` and ``value`` list every
    alias, joined by " ≡ ".

    Parameters
    ----------
    table : DataFrame
        Drill-down rows with ``dimension`` and ``value`` (pairs joined by ``sep``).
    audits : DataFrame
        The audits the drill-down ran on.
    sep : str, default " × "
        Separator of pair slices.

    Returns
    -------
    DataFrame
        ``table`` without the duplicate slices (order kept).
    """
    if table.empty or not {"dimension", "value"} <= set(table.columns):
        return table
    keys: list[int] = []
    for dim, val in zip(table["dimension"].astype(str), table["value"].astype(str)):
        mask = np.ones(len(audits), dtype=bool)
        for d, v in zip(dim.split(sep), val.split(sep)):
            if d not in audits:
                mask[:] = False
                break
            col = audits[d]
            mask &= (col.isna() if v == "(missing)" else col.astype(str) == v).to_numpy()
        keys.append(hash(np.flatnonzero(mask).tobytes()))
    out = table.copy()
    out["_key"] = keys
    first = out.groupby("_key", sort=False).head(1).index
    for _key, grp in out.groupby("_key", sort=False):
        if len(grp) > 1:
            i = grp.index[0]
            out.loc[i, "dimension"] = " ≡ ".join(grp["dimension"].astype(str))
            out.loc[i, "value"] = " ≡ ".join(grp["value"].astype(str))
    return out.loc[first].drop(columns="_key")
