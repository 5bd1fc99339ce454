"""Report scopes: load the processed data once and cut it to what one report covers.

A notebook asks for a :class:`Scope` (a vendor, a site, a market, or everything,
over a period) and gets the audit-level frame plus the side tables already
filtered, with the period bounds, the data fingerprint for the report header and
the KPI targets (``scope.targets``) to pass to the statistics. :func:`parse_period`
is the one reader of period strings, for notebooks and ``modqa batch`` alike.
Notebooks reach this module as ``views`` (``from modqa_lib import views``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from modqa_lib.config import PROCESSED_DIR
from modqa_lib.contract import schema as S
from modqa_lib.data.io import (
    audited_decisions,
    data_fingerprint,
    load_report_tables,
    load_targets,
    processed_fingerprint,
    processed_snapshot,
)
from modqa_lib.errors import ConfigError

__all__ = ["ALL", "PERIOD_FORMS", "Period", "Scope", "load_scope", "parse_period"]

ALL = "ALL"


@dataclass
class Scope:
    """What one report covers.

    Attributes
    ----------
    audits : DataFrame
        Non-golden audits joined to decisions (see :func:`modqa_lib.data.io.audited_decisions`),
        restricted to the unit and period.
    all_audits : DataFrame
        The same for every unit in the period (for peer comparison; anonymise before showing).
    golden_audits : DataFrame
        Golden audits in the period (auditor accuracy), joined to ``golden``.
    tables : dict
        The processed tables as loaded (decisions, audits, calibration, golden, actions, policy_changes).
    start, end : Timestamp
        First and last ISO week (Monday) covered.
    label : str
        Human name of the unit, e.g. "Vendor B · Penang" or "Market ID".
    fingerprint : str
        Data fingerprint of the processed tables.
    processed_dir : Path or None
        The processed folder read (where the pseudonym key lives); None when tables were given.
    filters : dict
        The unit filters applied (column -> value).
    targets : dict
        KPI targets (``params/targets.yaml`` via :func:`modqa_lib.data.io.load_targets`), passed as
        data to the statistics: ``accuracy_table(..., targets=scope.targets)``.
    """

    audits: pd.DataFrame
    all_audits: pd.DataFrame
    golden_audits: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    start: pd.Timestamp
    end: pd.Timestamp
    label: str
    fingerprint: str
    filters: dict[str, str] = field(default_factory=dict)
    processed_dir: Path | None = None  # the processed folder the data came from (None: tables given directly)
    targets: dict = field(default_factory=dict)

    @property
    def period_label(self) -> str:
        """e.g. "weeks of 2026-08-31 to 2026-11-16 (12 weeks)"."""
        weeks = int((self.end - self.start).days // 7) + 1
        return f"weeks of {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d} ({weeks} weeks)"

    def table(self, name: str) -> pd.DataFrame:
        """A side table (empty frame with the contract's columns when it was not supplied)."""
        if name in self.tables:
            return self.tables[name]
        return pd.DataFrame(columns=S.TABLES[name].column_names)


#: the accepted forms, as every period error message lists them
PERIOD_FORMS = "'last:N' (the N most recent weeks, N >= 1), 'all' or 'YYYY-MM-DD:YYYY-MM-DD'"


@dataclass(frozen=True)
class Period:
    """A parsed period: what :func:`parse_period` read from a period string.

    Attributes
    ----------
    kind : {"all", "last", "range"}
    weeks : int or None
        N of ``last:N``.
    start, end : Timestamp or None
        The dates of ``YYYY-MM-DD:YYYY-MM-DD`` (inclusive).
    text : str
        The string as given (for messages).
    """

    kind: str
    weeks: int | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    text: str = ""

    def bounds(self, weeks: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last ISO week (Monday) of the data that the period covers.

        Parameters
        ----------
        weeks : Series
            The WEEK column of the data (Mondays).

        Returns
        -------
        tuple of Timestamp
            ``(first week, last week)``: all weeks; the N most recent weeks in the
            data; or the weeks whose Monday falls in the range, cut to the data.

        Raises
        ------
        ConfigError
            The data has no weeks, or a range lies outside the data.
        """
        if weeks.empty:
            raise ConfigError("no audited decisions in the data: nothing to report")
        lo, hi = pd.Timestamp(weeks.min()), pd.Timestamp(weeks.max())
        if self.kind == "all":
            return lo, hi
        if self.kind == "last":
            assert self.weeks is not None  # set for "last:N"
            return max(lo, hi - pd.Timedelta(weeks=self.weeks - 1)), hi
        assert self.start is not None and self.end is not None  # set for a date range
        a, b = self.start - pd.Timedelta(days=self.start.weekday()), self.end
        if b < lo or a > hi:
            raise ConfigError(f"period '{self.text}' is outside the data ({lo:%Y-%m-%d} to {hi:%Y-%m-%d})")
        return max(a, lo), min(b - pd.Timedelta(days=b.weekday()), hi)


def parse_period(period: str) -> Period:
    """Read a period string; the one parser the notebooks (via :func:`load_scope`) and ``modqa batch`` use.

    Parameters
    ----------
    period : str
        Case-insensitive, surrounding spaces ignored: ``"all"`` (every week in
        the data), ``"last:N"`` (the N most recent weeks in the data, N >= 1) or
        ``"YYYY-MM-DD:YYYY-MM-DD"`` (the weeks whose Monday falls in the range,
        inclusive). ``"ALL"`` and ``"Last:4"`` are accepted.

    Returns
    -------
    Period
        ``kind`` ``"all"``, ``"last"`` (with ``weeks``) or ``"range"`` (with
        ``start`` and ``end``); :meth:`Period.bounds` turns it into weeks of the data.

    Raises
    ------
    ConfigError
        Empty, ``last:`` with N not a whole number >= 1, a date that does not
        exist, a start after the end, or anything else; the message lists the
        accepted forms.

    Examples
    --------
    >>> parse_period("Last:4").weeks, parse_period("ALL").kind
    (4, 'all')
    """
    text = "" if period is None else str(period)
    p = text.strip().lower()
    if not p:
        raise ConfigError(f"period is empty: use {PERIOD_FORMS}")
    if p == "all":
        return Period("all", text=text)
    if p.startswith("last:"):
        n = p[len("last:") :].strip()
        if not re.fullmatch(r"[0-9]+", n) or int(n) < 1:
            raise ConfigError(f"period '{text}': N in 'last:N' must be a whole number of weeks >= 1, got '{n}'")
        return Period("last", weeks=int(n), text=text)
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*:\s*(\d{4}-\d{2}-\d{2})", p)
    if m:
        dates = []
        for d in m.groups():
            try:
                dates.append(pd.Timestamp(date.fromisoformat(d)))
            except ValueError as exc:
                raise ConfigError(f"period '{text}': {d} is not a date ({exc})") from None
        start, end = dates
        if start > end:
            raise ConfigError(f"period '{text}': start {start:%Y-%m-%d} is after end {end:%Y-%m-%d}")
        return Period("range", start=start, end=end, text=text)
    raise ConfigError(f"period '{text}' not understood: use {PERIOD_FORMS}")


#: the tables of the last snapshot read in this process, keyed by its folder and its files' stats
_LAST_SNAPSHOT: dict[tuple, tuple[dict[str, pd.DataFrame], pd.DataFrame]] = {}


def _files_key(where: Path) -> tuple:
    """The folder and every file below it with its size, modification time and inode: changes when any file does."""
    out = []
    for root, dirs, files in os.walk(where):
        dirs.sort()
        for name in sorted(files):
            st = os.stat(os.path.join(root, name))
            out.append((os.path.relpath(os.path.join(root, name), where), st.st_size, st.st_mtime_ns, st.st_ino))
    return (str(where), tuple(out))


def _snapshot_tables(where: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """:func:`load_report_tables` and :func:`audited_decisions` of a snapshot, read once per process.

    A warm batch kernel runs many reports on the same snapshot; each gets its
    own copies (no report can change what the next one reads), and any change
    to a file of the snapshot (size, time or inode) reads it again.
    """
    key = _files_key(where)
    hit = _LAST_SNAPSHOT.get(key)
    if hit is None:
        tables = load_report_tables(where)
        hit = (tables, audited_decisions(tables))
        _LAST_SNAPSHOT.clear()
        _LAST_SNAPSHOT[key] = hit
    tables, every = hit
    return {name: df.copy() for name, df in tables.items()}, every.copy()


def _norm(v: str | None) -> str | None:
    return None if v in (None, "", ALL, "all") else str(v)


def load_scope(
    processed_dir: str | os.PathLike | None = None,
    *,
    vendor: str | None = None,
    site: str | None = None,
    market: str | None = None,
    policy: str | None = None,
    period: str = "last:12",
    tables: dict[str, pd.DataFrame] | None = None,
    targets: Mapping | None = None,
) -> Scope:
    """Load processed data and cut it to one report's unit and period.

    Parameters
    ----------
    processed_dir : path-like, optional
        Defaults to ``data/processed`` (or ``$MODQA_PROCESSED_DIR``); "" means default.
    vendor, site, market, policy : str, optional
        Unit filters; None, "" or "ALL" mean no filter.
    period : str
        ``"all"``, ``"last:N"`` or ``"YYYY-MM-DD:YYYY-MM-DD"``, any case; see :func:`parse_period`.
    tables : dict, optional
        Already-loaded tables (tests, widgets); skips reading files.
    targets : mapping, optional
        KPI targets; default ``params/targets.yaml`` read by :func:`modqa_lib.data.io.load_targets`
        (the statistics never read it themselves).

    Raises
    ------
    ConfigError
        The unit does not exist in the data (the message lists the ones that do).
    """
    fingerprint = None
    folder = None
    if tables is None:
        folder = Path(processed_dir) if processed_dir else Path(PROCESSED_DIR)
        where = processed_snapshot(folder)
        tables, every = _snapshot_tables(where)  # a partitioned log: only the audited decisions are read
        fingerprint = processed_fingerprint(where)  # the same one the batch manifest and HTML header show
    else:
        every = audited_decisions(tables)
    start, end = parse_period(period).bounds(every[S.WEEK])
    in_period = every[(every[S.WEEK] >= start) & (every[S.WEEK] <= end)]
    given = {S.VENDOR: _norm(vendor), S.SITE: _norm(site), S.MARKET: _norm(market), S.POLICY: _norm(policy)}
    filters = {k: v for k, v in given.items() if v is not None}
    mask = pd.Series(True, index=in_period.index)
    for col, val in filters.items():
        known = sorted(every[col].dropna().unique())
        if val not in known:
            dec = tables.get("decisions")
            if dec is not None and col in dec.columns and (dec[col] == val).any():
                raise ConfigError(
                    f"{col} '{val}' has {int((dec[col] == val).sum()):,} decision(s) but no audits yet: "
                    "nothing to score until its decisions are audited"
                )
            raise ConfigError(f"{col} '{val}' not found in the data; known: {', '.join(map(str, known))}")
        mask &= in_period[col] == val
    golden = tables["audits"][tables["audits"][S.IS_GOLDEN].astype(bool)]
    if "golden" in tables:
        golden = golden.merge(
            tables["golden"], left_on=S.DECISION_ID, right_on=S.ITEM_ID, how="inner", suffixes=("", "_golden")
        )
    golden_time = pd.to_datetime(golden[S.AUDITED_AT], utc=True).dt.tz_localize(None)
    golden = golden[(golden_time >= start) & (golden_time < end + pd.Timedelta(days=7))]
    label = " · ".join(filters.values()) if filters else "All vendors and markets"
    if list(filters) == [S.MARKET]:
        label = f"Market {filters[S.MARKET]}"
    return Scope(
        audits=in_period[mask].reset_index(drop=True),
        all_audits=in_period.reset_index(drop=True),
        golden_audits=golden.reset_index(drop=True),
        tables=tables,
        start=start,
        end=end,
        label=label,
        fingerprint=fingerprint or data_fingerprint(tables),
        filters=filters,
        processed_dir=folder,
        targets=dict(load_targets() if targets is None else targets),
    )
