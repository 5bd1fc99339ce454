"""Report scopes: load the processed data once and cut it to what one report covers.

A notebook asks for a :class:`Scope` (a vendor, a site, a market, or everything,
over a period) and gets the audit-level frame plus the side tables already
filtered, with the period bounds and data fingerprint for the report header.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from modqa_lib.config import PROCESSED_DIR
from modqa_lib.contract import schema as S
from modqa_lib.data.io import (
    audited_decisions,
    data_fingerprint,
    load_report_tables,
    processed_fingerprint,
    processed_snapshot,
)
from modqa_lib.errors import ConfigError

__all__ = ["ALL", "Scope", "load_scope", "parse_period"]

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


def parse_period(period: str, weeks: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Turn a period string into (first week, last week).

    Parameters
    ----------
    period : str
        ``"last:N"`` (the N most recent weeks in the data), ``"all"``, or
        ``"YYYY-MM-DD:YYYY-MM-DD"`` (weeks whose Monday falls in the range).
    weeks : Series
        The WEEK column of the data.

    Raises
    ------
    ConfigError
        Unknown format, or a range outside the data.
    """
    if weeks.empty:
        raise ConfigError("no audited decisions in the data: nothing to report")
    lo, hi = pd.Timestamp(weeks.min()), pd.Timestamp(weeks.max())
    p = (period or "all").strip().lower()
    if p == "all":
        return lo, hi
    m = re.fullmatch(r"last:(\d+)", p)
    if m:
        n = int(m.group(1))
        if n < 1:
            raise ConfigError(f"period '{period}': N must be at least 1")
        return max(lo, hi - pd.Timedelta(weeks=n - 1)), hi
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}):(\d{4}-\d{2}-\d{2})", p)
    if m:
        a, b = pd.Timestamp(m.group(1)), pd.Timestamp(m.group(2))
        a = a - pd.Timedelta(days=a.weekday())
        if a > b:
            raise ConfigError(f"period '{period}': start is after end")
        if b < lo or a > hi:
            raise ConfigError(f"period '{period}' is outside the data ({lo:%Y-%m-%d} to {hi:%Y-%m-%d})")
        return max(a, lo), min(b - pd.Timedelta(days=b.weekday()), hi)
    raise ConfigError(f"period '{period}': use 'last:N', 'all' or 'YYYY-MM-DD:YYYY-MM-DD'")


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
) -> Scope:
    """Load processed data and cut it to one report's unit and period.

    Parameters
    ----------
    processed_dir : path-like, optional
        Defaults to ``data/processed`` (or ``$MODQA_PROCESSED_DIR``); "" means default.
    vendor, site, market, policy : str, optional
        Unit filters; None, "" or "ALL" mean no filter.
    period : str
        See :func:`parse_period`.
    tables : dict, optional
        Already-loaded tables (tests, widgets); skips reading files.

    Raises
    ------
    ConfigError
        The unit does not exist in the data (the message lists the ones that do).
    """
    fingerprint = None
    if tables is None:
        where = processed_snapshot(Path(processed_dir) if processed_dir else PROCESSED_DIR)
        tables = load_report_tables(where)  # a partitioned log: only the audited decisions are read
        fingerprint = processed_fingerprint(where)  # the same one the batch manifest and HTML header show
    every = audited_decisions(tables)
    start, end = parse_period(period, every[S.WEEK])
    in_period = every[(every[S.WEEK] >= start) & (every[S.WEEK] <= end)]
    filters = {S.VENDOR: _norm(vendor), S.SITE: _norm(site), S.MARKET: _norm(market), S.POLICY: _norm(policy)}
    filters = {k: v for k, v in filters.items() if v is not None}
    mask = pd.Series(True, index=in_period.index)
    for col, val in filters.items():
        known = sorted(every[col].dropna().unique())
        if val not in known:
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
    )
