"""Ingest: raw tables in, validated typed parquet out, all or nothing.

``modqa ingest`` reads every table in ``data/raw`` (CSV or parquet), validates
them together (:func:`modqa_lib.contract.validation.validate_tables`), writes each as
typed parquet plus ``manifest.json`` into a fresh staging folder inside
``data/processed``, and only when every table has validated and been written
publishes the whole set with one atomic rename. Raw files are only ever read.

Layout of the processed folder::

    data/processed/
        decisions.parquet -> .current/decisions.parquet   (one fixed link per table)
        manifest.json     -> .current/manifest.json
        .current          -> .versions/<version>          (the one pointer that moves)
        .previous         -> .versions/<version>          (kept for readers still on it)
        .versions/<version>/{<table>.parquet, manifest.json}
        .ingest.lock                                      (only while an ingest runs)

Readers open ``data/processed/<table>.parquet`` as before. Publishing a new
ingest is a single ``os.replace`` of the ``.current`` link, so a crash or
``kill -9`` at any moment leaves either the previous data or the new data
visible, never a mix of tables from two ingests. A failed or killed ingest
leaves the previous data byte for byte as it was; its leftovers (``.staging-*``
and unpublished versions) are removed by the next ingest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from modqa_lib import __version__
from modqa_lib.contract import schema as S
from modqa_lib.data import duck
from modqa_lib.data import io as mio
from modqa_lib.data.hashing import file_sha256, path_sha256, raw_digests
from modqa_lib.data.ingest_sql import SqlFallback, configure_partitioned_write, partition_sql, stage_decisions
from modqa_lib.data.locks import folder_lock
from modqa_lib.data.stream import BATCH_ROWS, STREAMED, ArrowFallback, iter_raw_batches, validate_streaming
from modqa_lib.errors import ConfigError, DataContractError, InputFileError

__all__ = [
    "LOCK_NAME",
    "MANIFEST_NAME",
    "PARTITION_ROWS",
    "IngestReport",
    "TableReport",
    "file_sha256",
    "ingest",
    "read_sample_plans",
]

MANIFEST_NAME = "manifest.json"
#: held (fcntl.flock) for the whole ingest; removed when the ingest ends
LOCK_NAME = ".ingest.lock"
#: symlink to the published version folder
CURRENT_NAME = ".current"
VERSIONS_NAME = ".versions"
#: symlink to the version published before the current one (kept for readers still on it)
PREVIOUS_NAME = ".previous"
#: every temporary name an ingest creates in the processed folder starts with this
STAGING_PREFIX = ".staging-"
#: decisions tables with at least this many rows are published as a hive-partitioned dataset
PARTITION_ROWS = 1_000_000
#: DuckDB memory cap while partitioning (it spills to disk beyond it)
DUCKDB_MEMORY = "1GB"


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
        :func:`modqa_lib.data.io.data_fingerprint` of the raw source files.
    ingested_at : str
        ISO 8601 UTC time of the ingest.
    seconds : float
        Wall time of the ingest.
    removed : list of str
        Parquet files of tables no longer present in raw that were removed.
    ignored : list of str
        CSV/parquet files in the raw folder that are not contract tables (a
        misspelt table name shows up here).
    stale_cleaned : int
        Leftovers of interrupted ingests (staging folders, unpublished
        versions) removed before this one started.
    warnings : list of str
        Data accepted with a warning (one line each, as in a contract problem):
        e.g. a design weight far outside its stratum's, names stripped of blanks.
        Also recorded in ``manifest.json`` under ``warnings``.
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
    stale_cleaned: int = 0
    warnings: list[str] = field(default_factory=list)
    #: how the decisions were validated: ``"sql"`` (the DuckDB fast path) or ``"stream"`` (pandas batches)
    validated_by: str = "stream"

    def summary(self) -> str:
        """A short human table: table, rows, source file."""
        w = max([len("table")] + [len(t.table) for t in self.tables])
        lines = [
            f"ingested {len(self.tables)} table(s) from {self.raw_dir} into {self.processed_dir} "
            f"in {self.seconds:.1f} s (data fingerprint {self.data_fingerprint})",
            f"  {'table':<{w}}  {'rows':>9}  source file",
        ]
        lines += [f"  {t.table:<{w}}  {t.rows:>9,}  {t.source_file}" for t in self.tables]
        if self.removed:
            lines.append(f"  removed stale: {', '.join(self.removed)} (no longer in raw)")
        if self.ignored:
            lines.append(f"  ignored (not a modqa table name): {', '.join(self.ignored)}")
        if self.stale_cleaned:
            lines.append(f"  cleaned up {self.stale_cleaned} leftover(s) of an interrupted ingest")
        lines += [f"  WARNING {w}" for w in self.warnings]
        return "\n".join(lines)


def ingest(
    raw_dir: str | os.PathLike,
    processed_dir: str | os.PathLike,
    *,
    batch_rows: int | None = None,
    partition_rows: int | None = None,
    fast: bool = True,
) -> IngestReport:
    """Validate the raw tables and write them as typed parquet, atomically.

    Parameters
    ----------
    raw_dir : path-like
        Folder with ``<table>.csv`` or ``<table>.parquet`` files (read only).
    processed_dir : path-like
        Folder to write ``<table>.parquet`` and ``manifest.json`` into (created).
    batch_rows : int, optional
        Rows per batch of the streamed decisions table; default
        :data:`modqa_lib.data.stream.BATCH_ROWS`. Peak memory grows with this, not with the file.
    partition_rows : int, optional
        Decisions tables with at least this many rows are published as a
        hive-partitioned dataset ``decisions/week=<Monday>/vendor=<vendor>/part-*.parquet``
        instead of ``decisions.parquet``; default :data:`PARTITION_ROWS`.
    fast : bool, default True
        Try the DuckDB fast path (:mod:`modqa_lib.data.ingest_sql`) for a decisions CSV that
        will be partitioned: one SQL pass parses, types and partitions it, SQL twins of the
        per-table rules check it. On any problem it falls back to the streaming validator, so
        data and messages are the same either way; ``False`` always streams.

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
    ConcurrentRunError
        Another ingest into ``processed_dir`` is running (the message gives its pid).

    Notes
    -----
    The whole ingest holds an exclusive, non-blocking ``fcntl.flock`` on
    ``processed_dir/.ingest.lock``; the operating system releases it if the
    process dies. Tables and manifest are staged in a new version folder and
    published by one atomic switch of the ``.current`` link (see the module
    docstring), so ``processed_dir`` always shows exactly one ingest's tables,
    whose SHA-256 ``manifest.json`` records. Tables not in this ingest
    disappear with the switch. A failed ingest into a folder that did not
    exist leaves no folder behind.
    """
    start = time.perf_counter()
    raw, out = Path(raw_dir), Path(processed_dir)
    if out.resolve() == raw.resolve():
        raise ConfigError(f"{out}: processed folder must not be the raw folder (raw files are never written)")
    with _ingest_lock(out):
        cleaned = _remove_stale(out)
        warnings: list[str] = []
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
        try:
            min_rows = PARTITION_ROWS if partition_rows is None else partition_rows
            found, digests, typed, ignored, streamed, how = _read_and_validate(
                raw, staging, batch_rows or BATCH_ROWS, warnings, min_rows if fast else None
            )
            if streamed[0] >= min_rows and not (staging / STREAMED).is_dir():
                _partition_decisions(staging)
            reports, manifest = _stage(staging, raw, found, digests, typed, streamed, warnings)
            removed = _commit(out, staging, [r.parquet_file for r in reports])
        finally:
            if staging.exists():  # renamed into .versions by a commit; left here by a failure
                shutil.rmtree(staging, ignore_errors=True)
    return IngestReport(
        tables=reports,
        raw_dir=raw,
        processed_dir=out,
        manifest_path=out / MANIFEST_NAME,
        data_fingerprint=manifest["data_fingerprint"],
        ingested_at=manifest["ingested_at"],
        seconds=time.perf_counter() - start,
        removed=removed,
        ignored=ignored,
        stale_cleaned=cleaned,
        warnings=warnings,
        validated_by=how,
    )


# ------------------------------------------------------------------- reading
@dataclass
class _Digests:
    """SHA-256 digests an ingest records, computed in threads beside the validation."""

    raw: Future  # (per-file digests, data fingerprint) of the raw files: hashing.raw_digests
    staged: Future | None = None  # hashing.path_sha256 of the staged decisions folder (fast path)


def _read_and_validate(
    raw: Path, staging: Path, batch_rows: int, warnings: list[str] | None = None, fast_rows: int | None = None
) -> tuple[dict[str, Path], _Digests, dict[str, pd.DataFrame], list[str], tuple[int, list[str]], str]:
    """Find, hash, read and validate the raw tables; stage the decisions in ``staging``.

    With ``fast_rows`` set, a decisions CSV of (about) that many rows or more is tried
    on the DuckDB fast path first (:func:`modqa_lib.data.ingest_sql.stage_decisions`,
    written straight to ``staging/decisions/``); otherwise, or when it falls back, the
    decisions are streamed into ``staging/decisions.parquet``.

    Returns
    -------
    found : dict
        Table name to raw file.
    digests : _Digests
        SHA-256 of the raw files (and of the staged decisions, on the fast path), done by the time this returns.
    typed : dict
        Table name to validated, typed DataFrame.
    ignored : list of str
        Raw files that are not contract tables.
    streamed : (int, list of str)
        Rows and columns of the decisions written to ``staging``.
    validated_by : {"sql", "stream"}
    """
    found = mio.find_raw_tables(raw)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="modqa-sha") as pool:
        # every raw file is hashed once, in a thread beside the reading (hashlib releases the GIL)
        digests = _Digests(pool.submit(raw_digests, list(found.values())))
        try:
            out = _validate_found(raw, staging, batch_rows, warnings, fast_rows, found, pool, digests)
        finally:
            for fut in (digests.raw, digests.staged):
                if fut is not None:
                    fut.exception()  # wait for it; a failed hash is raised by .result() when it is used
    return (found, digests, *out)


def _validate_found(
    raw: Path,
    staging: Path,
    batch_rows: int,
    warnings: list[str] | None,
    fast_rows: int | None,
    found: dict[str, Path],
    pool: ThreadPoolExecutor,
    digests: _Digests,
) -> tuple[dict[str, pd.DataFrame], list[str], tuple[int, list[str]], str]:
    """:func:`_read_and_validate` after the raw files are found (their hashing already started)."""
    ignored = sorted(
        p.name
        for p in raw.iterdir()
        if p.suffix in mio.RAW_SUFFIXES and p not in found.values() and not p.name.startswith(".")
    )
    dec = found[STREAMED]
    unreadable: dict[str, str] = {}
    try:  # the decisions are read in batches (or by DuckDB) below; the up-front checks here
        mio.read_raw_table_header_checks(dec, STREAMED)
        mio.check_csv_complete(dec)
    except InputFileError as exc:
        unreadable[STREAMED] = str(exc)
    inputs = _SmallInputs(raw, found, unreadable)
    files = {name: p.name for name, p in found.items()}
    warned: list[dict] = []
    how = "stream"
    if not unreadable and fast_rows is not None and dec.suffix == ".csv" and _estimated_rows(dec) >= fast_rows // 2:
        try:

            def hash_staged(folder: Path) -> None:  # beside the SQL checks of the staged data
                digests.staged = pool.submit(path_sha256, folder)

            # the other tables are read once DuckDB has started on the decisions (beside it)
            typed, rows, columns, warned = stage_decisions(
                dec, inputs, staging, files, min_rows=fast_rows, on_staged=hash_staged
            )
            how = "sql"
        except SqlFallback:
            warned = []
            if digests.staged is not None:  # hashed what was removed: wait, then forget it
                digests.staged.exception()
                digests.staged = None
    frames, plans = inputs()
    if how == "stream":
        typed, rows, columns = _stream(frames, dec, staging, files, plans, batch_rows, warned)
    if warnings is not None:
        warnings += [DataContractError(warned).args[0].splitlines()[k + 1].strip() for k in range(len(warned))]
        for name, path in found.items():  # a cut inside the last field keeps the field count: say so
            n_rows = rows if name == STREAMED else len(frames[name])
            if path.suffix == ".csv" and n_rows and not _ends_with_newline(path):
                warnings.append(
                    f"{path.name}: no line break after the last row (data row {n_rows:,}): "
                    "if the file was cut short, that row's last field may be incomplete"
                )
    return typed, ignored, (rows, columns), how


class _SmallInputs:
    """Reads the raw tables other than the decisions, and the sample plans, once, when first called.

    Raises the :class:`InputFileError` listing every unreadable file (the decisions' own
    up-front problems included, in the order the tables were found), as a whole-table read did.
    """

    def __init__(self, raw: Path, found: dict[str, Path], unreadable: dict[str, str]) -> None:
        self.raw, self.found, self.unreadable = raw, found, unreadable
        self.value: tuple[dict[str, pd.DataFrame], pd.DataFrame | None] | None = None

    def __call__(self) -> tuple[dict[str, pd.DataFrame], pd.DataFrame | None]:
        if self.value is None:
            frames = {}
            for name, path in self.found.items():
                if name != STREAMED:
                    try:
                        frames[name] = mio.read_raw_table(path, name)
                    except InputFileError as exc:
                        self.unreadable[name] = str(exc)
            bad = [self.unreadable[n] for n in self.found if n in self.unreadable]
            if bad:
                raise InputFileError(
                    "\n".join(bad) if len(bad) == 1 else f"{len(bad)} unreadable file(s):\n  " + "\n  ".join(bad)
                )
            self.value = (frames, read_sample_plans(self.raw))
        return self.value


def _stream(
    frames: dict[str, pd.DataFrame],
    dec: Path,
    staging: Path,
    files: dict[str, str],
    plans: pd.DataFrame | None,
    batch_rows: int,
    warned: list[dict],
) -> tuple[dict[str, pd.DataFrame], int, list[str]]:
    """The streaming validator: pyarrow's CSV reader, or pandas' for anything pyarrow might read differently."""
    try:
        batches = iter_raw_batches(dec, STREAMED, batch_rows, engine="arrow")
        return validate_streaming(
            frames, batches, staging / f"{STREAMED}.parquet", files, sample_plan=plans, warnings=warned
        )
    except ArrowFallback:
        warned.clear()
        batches = iter_raw_batches(dec, STREAMED, batch_rows)
        return validate_streaming(
            frames, batches, staging / f"{STREAMED}.parquet", files, sample_plan=plans, warnings=warned
        )


def _estimated_rows(path: Path, probe: int = 1 << 20) -> int:
    """Data rows of a CSV, estimated from the line lengths of its first megabyte (exact for a smaller file)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(probe)
    lines = head.count(b"\n")
    if size <= probe or lines < 2:
        return max(lines - (0 if head.endswith(b"\n") else -1) - 1, 0)
    return int(size / len(head) * lines)


def _partition_decisions(staging: Path) -> None:
    """Rewrite ``staging/decisions.parquet`` as the hive dataset ``staging/decisions/week=…/vendor=…/``.

    DuckDB streams the file into one folder per (ISO week Monday, UTC; vendor)
    (:func:`modqa_lib.data.ingest_sql.partition_sql`, the statement the fast path
    writes with); the single file is then removed. Row order within a partition is
    not specified (readers order by ``decision_id``: :func:`modqa_lib.data.duck.read_decisions`).
    """
    src, dst = staging / f"{STREAMED}.parquet", staging / STREAMED
    con = duck.connect(DUCKDB_MEMORY)
    try:
        configure_partitioned_write(con)
        con.execute(partition_sql(f"SELECT * FROM read_parquet('{str(src).replace(chr(39), chr(39) * 2)}')", dst))
    finally:
        con.close()
    src.unlink()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return True
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


#: sample plans ingest checks the audits' inclusion probabilities against: ``<raw>/samples/**/sample.csv``
#: (copy the ``outputs/samples/<week>/`` folders written by ``modqa sample`` there)
SAMPLE_PLANS_DIR = "samples"


def read_sample_plans(raw_dir: str | os.PathLike) -> pd.DataFrame | None:
    """Every ``sample.csv`` under ``<raw_dir>/samples/`` stacked (strings), or None if there is none.

    Raises
    ------
    InputFileError
        A sample plan that cannot be read or lacks ``sample_id``/``decision_id``/``inclusion_prob``.
    """
    files = sorted((Path(raw_dir) / SAMPLE_PLANS_DIR).rglob("sample.csv"))
    if not files:
        return None
    frames = []
    for f in files:
        try:
            df = pd.read_csv(f, dtype=str, keep_default_na=False, na_values=[""])
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{f}: sample plan cannot be read ({exc})") from None
        need = [S.SAMPLE_ID, S.DECISION_ID, S.INCLUSION_PROB]
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise InputFileError(f"{f}: sample plan lacks column(s) {', '.join(missing)}")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _stage(
    staging: Path,
    raw: Path,
    found: dict[str, Path],
    digests: _Digests,
    typed: dict[str, pd.DataFrame],
    streamed: tuple[int, list[str]],
    warnings: list[str] | None = None,
) -> tuple[list[TableReport], dict]:
    """Write every table and ``manifest.json`` into ``staging``; return the table reports and manifest.

    The decisions are already in ``staging`` (a file or a partitioned folder).
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes 0700; the folder becomes a published version
    for name, df in typed.items():
        df.to_parquet(staging / f"{name}.parquet", index=False)
    dec_file = STREAMED if (staging / STREAMED).is_dir() else f"{STREAMED}.parquet"
    raw_sha, fingerprint = digests.raw.result()
    source_sha = {name: raw_sha[path] for name, path in found.items()}
    rows = {name: len(df) for name, df in typed.items()} | {STREAMED: streamed[0]}
    cols = {name: list(df.columns) for name, df in typed.items()} | {STREAMED: streamed[1]}
    reports = [
        TableReport(
            name, rows[name], found[name].name, source_sha[name], dec_file if name == STREAMED else f"{name}.parquet"
        )
        for name in S.TABLE_NAMES
        if name in rows
    ]
    manifest = {
        "modqa_version": __version__,
        "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "raw_dir": str(raw.resolve()),
        "data_fingerprint": fingerprint,
        "tables": {
            r.table: {
                "rows": r.rows,
                "source_file": r.source_file,
                "source_sha256": r.source_sha256,
                "parquet_file": r.parquet_file,
                "parquet_sha256": (
                    digests.staged.result()
                    if r.table == STREAMED and digests.staged is not None
                    else path_sha256(staging / r.parquet_file)
                ),
                "columns": cols[r.table],
            }
            for r in reports
        },
        "warnings": list(warnings or []),
    }
    mio.write_json_atomic(manifest, staging / MANIFEST_NAME)
    return reports, manifest


# ------------------------------------------------------------------ publishing
def _symlink_atomic(target: str, link: Path) -> None:
    """Make ``link`` a symlink to ``target`` (relative), replacing what is there in one step."""
    tmp = link.parent / f"{STAGING_PREFIX}link-{uuid.uuid4().hex[:8]}"
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _current_version(out: Path) -> Path | None:
    """The published version folder, or None before the first ingest."""
    cur = out / CURRENT_NAME
    if not cur.is_symlink():
        return None
    return out / VERSIONS_NAME / Path(os.readlink(cur)).name


def _publish(out: Path, staging: Path) -> Path:
    """Move ``staging`` into ``.versions`` and point ``.current`` at it (the commit point)."""
    versions = out / VERSIONS_NAME
    versions.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    version = versions / f"{stamp}-{staging.name.removeprefix(STAGING_PREFIX)}"
    os.rename(staging, version)
    _symlink_atomic(f"{VERSIONS_NAME}/{version.name}", out / CURRENT_NAME)
    return version


def _adopt_plain_files(out: Path) -> None:
    """Put plain ``<table>.parquet``/``manifest.json`` files (older modqa layout) under ``.current``.

    Each file is hard-linked (or copied) into the current version, then replaced
    by its link, so what readers see never changes and a crash at any step is
    safe to repeat.
    """
    names = [f"{t}.parquet" for t in S.TABLE_NAMES] + [MANIFEST_NAME]
    plain = [n for n in names if (out / n).is_file() and not (out / n).is_symlink()]
    if not plain:
        return
    version = _current_version(out)
    if version is None or not version.is_dir():
        version = _publish(out, Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out)))
    for n in plain:
        tmp = version / f"{STAGING_PREFIX}{n}"
        tmp.unlink(missing_ok=True)
        try:
            os.link(out / n, tmp)
        except OSError:  # a file system without hard links
            shutil.copy2(out / n, tmp)
        os.replace(tmp, version / n)
        _symlink_atomic(f"{CURRENT_NAME}/{n}", out / n)


def _commit(out: Path, staging: Path, entries: list[str]) -> list[str]:
    """Publish the staged ``entries`` (``<table>.parquet`` files, or the ``decisions`` folder).

    Returns the parquet files of tables that went away.

    Links for new tables are made before the switch (they dangle, so readers
    do not see them yet); links of dropped tables are removed after it, and
    every version but the new one and the one before it (a reader that
    resolved ``.current`` just before the switch may still be reading it).
    """
    _adopt_plain_files(out)
    previous = _current_version(out)
    dropped = [n for n in [f"{t}.parquet" for t in S.TABLE_NAMES] + [STREAMED] if n not in entries]
    gone = {f"{t}.parquet" for t in S.TABLE_NAMES if f"{t}.parquet" not in entries and t not in entries}
    removed = [n for n in dropped if n in gone and (out / n).exists()]
    for n in entries + [MANIFEST_NAME]:
        link, want = out / n, f"{CURRENT_NAME}/{n}"
        if not (link.is_symlink() and os.readlink(link) == want):
            _symlink_atomic(want, link)
    if previous is not None:  # recorded before the switch, so a kill in between keeps it
        _symlink_atomic(f"{VERSIONS_NAME}/{previous.name}", out / PREVIOUS_NAME)
    _publish(out, staging)
    for n in dropped:
        if (out / n).is_symlink():
            (out / n).unlink()
    keep = _kept_versions(out)  # a reader that resolved the previous version may still read it
    for old in _versions(out):
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return removed


def _versions(out: Path) -> list[Path]:
    """Version folders, oldest first (their names start with a UTC timestamp)."""
    v = out / VERSIONS_NAME
    return (
        sorted((p for p in v.iterdir() if p.is_dir() and not p.is_symlink()), key=lambda p: p.name)
        if v.is_dir()
        else []
    )


def _kept_versions(out: Path) -> set[str]:
    """Names of the versions an ingest keeps: the published one and the one before it."""
    kept = set()
    for link in (out / CURRENT_NAME, out / PREVIOUS_NAME):
        if link.is_symlink():
            kept.add(Path(os.readlink(link)).name)
    return kept


def _remove_stale(out: Path) -> int:
    """Remove what interrupted ingests left (staging folders, unpublished versions); return how many.

    Only called while holding the ingest lock, so no live ingest owns them.
    """
    if not out.is_dir():
        return 0
    stale = sorted(out.glob(f"{STAGING_PREFIX}*"))
    keep = _kept_versions(out)
    if (out / VERSIONS_NAME).is_dir():
        stale += [v for v in sorted((out / VERSIONS_NAME).iterdir()) if v.name not in keep]
    for p in stale:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return len(stale)


# ----------------------------------------------------------------------- lock
@contextmanager
def _ingest_lock(out: Path) -> Iterator[None]:
    """Hold the ingest lock of ``out`` (:func:`modqa_lib.data.locks.folder_lock`) for the ``with`` block.

    A folder this call had to create is removed again if the block fails and
    left it empty, so a failed first ingest leaves nothing behind.

    Raises
    ------
    ConcurrentRunError
        Another ingest into ``out`` is running (the message names its pid).
    """
    created = not out.exists()
    ok = False
    try:
        with folder_lock(
            out, LOCK_NAME, "another ingest into this folder", "wait for it to finish, then run 'modqa ingest' again"
        ):
            yield
            ok = True
    finally:
        if created and not ok:
            try:
                out.rmdir()
            except OSError:
                pass
