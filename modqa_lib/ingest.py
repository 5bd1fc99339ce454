"""Ingest: raw tables in, validated typed parquet out, all or nothing.

``modqa ingest`` reads every table in ``data/raw`` (CSV or parquet), validates
them together (:func:`modqa_lib.validation.validate_tables`), writes each as
typed parquet into a fresh staging folder inside ``data/processed``, and only
when every table has validated and been written moves the files into place
(``os.replace``, one file at a time) and writes ``manifest.json`` last. A
failed ingest leaves the previous processed data exactly as it was, and raw
files are only ever read.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from . import io as mio
from . import schema as S
from .errors import ConfigError, InputFileError
from .validation import validate_tables

__all__ = ["ingest", "IngestReport", "TableReport", "MANIFEST_NAME", "file_sha256"]

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class TableReport:
    """One ingested table."""

    table: str
    rows: int
    source_file: str
    source_sha256: str
    parquet_file: str


@dataclass
class IngestReport:
    """What one ingest did.

    Attributes
    ----------
    tables : list of TableReport
        In contract table order.
    raw_dir, processed_dir, manifest_path : Path
    data_fingerprint : str
        :func:`modqa_lib.io.data_fingerprint` of the raw source files.
    ingested_at : str
        ISO 8601 UTC time of the ingest.
    seconds : float
        Wall time of the ingest.
    removed : list of str
        Parquet files of tables no longer present in raw that were removed.
    ignored : list of str
        CSV/parquet files in the raw folder that are not contract tables (a
        misspelt table name shows up here).
    """

    tables: list[TableReport]
    raw_dir: Path
    processed_dir: Path
    manifest_path: Path
    data_fingerprint: str
    ingested_at: str
    seconds: float
    removed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A short human table: table, rows, source file."""
        w = max([len("table")] + [len(t.table) for t in self.tables])
        lines = [f"ingested {len(self.tables)} table(s) from {self.raw_dir} into {self.processed_dir} "
                 f"in {self.seconds:.1f} s (data fingerprint {self.data_fingerprint})",
                 f"  {'table':<{w}}  {'rows':>9}  source file"]
        lines += [f"  {t.table:<{w}}  {t.rows:>9,}  {t.source_file}" for t in self.tables]
        if self.removed:
            lines.append(f"  removed stale: {', '.join(self.removed)} (no longer in raw)")
        if self.ignored:
            lines.append(f"  ignored (not a modqa table name): {', '.join(self.ignored)}")
        return "\n".join(lines)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ingest(raw_dir: str | os.PathLike, processed_dir: str | os.PathLike) -> IngestReport:
    """Validate the raw tables and write them as typed parquet, atomically.

    Parameters
    ----------
    raw_dir : path-like
        Folder with ``<table>.csv`` or ``<table>.parquet`` files (read only).
    processed_dir : path-like
        Folder to write ``<table>.parquet`` and ``manifest.json`` into (created).

    Returns
    -------
    IngestReport

    Raises
    ------
    InputFileError
        Raw folder missing, a required table missing, a table given twice, or a
        file that cannot be read (empty, not UTF-8, wrong delimiter, bad parquet);
        every unreadable file is listed.
    DataContractError
        Every data contract problem across all tables, at once.
    ConfigError
        ``processed_dir`` is the raw folder.

    Notes
    -----
    Files are swapped in one by one with ``os.replace`` after all are staged;
    ``manifest.json`` is written last and records each parquet's SHA-256, so a
    crash in the middle of the swap is detectable. Tables not in this ingest are
    removed from ``processed_dir`` so that data from two ingests is never mixed.
    """
    start = time.perf_counter()
    raw, out = Path(raw_dir), Path(processed_dir)
    if out.resolve() == raw.resolve():
        raise ConfigError(f"{out}: processed folder must not be the raw folder (raw files are never written)")
    found = mio.find_raw_tables(raw)
    ignored = sorted(p.name for p in raw.iterdir()
                     if p.suffix in mio.RAW_SUFFIXES and p not in found.values() and not p.name.startswith("."))

    hashes, frames, unreadable = {}, {}, []
    for name, path in found.items():
        hashes[name] = file_sha256(path)
        try:
            frames[name] = mio.read_raw_table(path, name)
        except InputFileError as exc:
            unreadable.append(str(exc))
    if unreadable:
        raise InputFileError("\n".join(unreadable) if len(unreadable) == 1
                             else f"{len(unreadable)} unreadable file(s):\n  " + "\n  ".join(unreadable))

    typed = validate_tables(frames, {name: p.name for name, p in found.items()})

    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        for name, df in typed.items():
            df.to_parquet(staging / f"{name}.parquet", index=False)
        staged = {name: file_sha256(staging / f"{name}.parquet") for name in typed}
        ingested_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        fingerprint = mio.data_fingerprint(list(found.values()))
        reports = [TableReport(name, len(df), found[name].name, hashes[name], f"{name}.parquet")
                   for name, df in typed.items()]
        manifest = {
            "modqa_version": __version__,
            "ingested_at": ingested_at,
            "raw_dir": str(raw.resolve()),
            "data_fingerprint": fingerprint,
            "tables": {r.table: {"rows": r.rows, "source_file": r.source_file,
                                 "source_sha256": r.source_sha256, "parquet_file": r.parquet_file,
                                 "parquet_sha256": staged[r.table],
                                 "columns": list(typed[r.table].columns)} for r in reports},
        }
        # everything validated and written: swap in, then drop tables this ingest does not have
        for name in typed:
            os.replace(staging / f"{name}.parquet", out / f"{name}.parquet")
        removed = []
        for name in S.TABLE_NAMES:
            stale = out / f"{name}.parquet"
            if name not in typed and stale.exists():
                stale.unlink()
                removed.append(stale.name)
        manifest_path = mio.write_json_atomic(manifest, out / MANIFEST_NAME)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return IngestReport(tables=reports, raw_dir=raw, processed_dir=out, manifest_path=manifest_path,
                        data_fingerprint=fingerprint, ingested_at=ingested_at,
                        seconds=time.perf_counter() - start, removed=removed, ignored=ignored)
