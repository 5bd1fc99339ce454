"""Raw tables: finding them in ``data/raw``, reading them as strings, and checking a file is whole.

Raw tables are read, never written. :mod:`modqa_lib.data.io` re-exports every name
here, so ``modqa_lib.data.io.read_raw_table`` and the others keep working.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.errors import InputFileError

__all__ = [
    "RAW_SUFFIXES",
    "check_csv_complete",
    "find_raw_tables",
    "read_raw_table",
    "read_raw_table_header_checks",
]

RAW_SUFFIXES = (".csv", ".parquet")


# --------------------------------------------------------------------------- raw
def find_raw_tables(raw_dir: str | os.PathLike) -> dict[str, Path]:
    """Map table name to its raw file in ``raw_dir``.

    A table may be given as ``<table>.csv`` or ``<table>.parquet`` (not both).

    Parameters
    ----------
    raw_dir : path-like
        The raw data folder (``data/raw``).

    Returns
    -------
    dict of str to Path
        Each contract table found, in contract order, to its file.

    Raises
    ------
    InputFileError
        If the folder is missing, a table is given twice, or a required table is absent.
    """
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise InputFileError(f"{raw}: raw data folder not found (run 'modqa demo-data' or put your tables there)")
    found: dict[str, Path] = {}
    for name in S.TABLE_NAMES:
        hits = [raw / f"{name}{suf}" for suf in RAW_SUFFIXES if (raw / f"{name}{suf}").exists()]
        if len(hits) > 1:
            raise InputFileError(f"{raw}: table '{name}' given twice ({', '.join(h.name for h in hits)}); keep one")
        if hits:
            found[name] = hits[0]
    missing = [t for t in S.REQUIRED_TABLES if t not in found]
    if missing:
        raise InputFileError(
            f"{raw}: required table(s) missing: " + ", ".join(f"{m}.csv or {m}.parquet" for m in missing)
        )
    return found


def read_raw_table(path: str | os.PathLike, table: str | None = None) -> pd.DataFrame:
    """Read one raw table as strings (CSV) or as stored (parquet), untyped.

    Typing and validation happen in :mod:`modqa_lib.contract.validation`; this function
    only refuses files it cannot read at all, with a message naming the file.

    Parameters
    ----------
    path : path-like
        ``.csv`` (UTF-8, comma-delimited, header row) or ``.parquet``.
    table : str, optional
        Table name, used to check the header looks like the contract's.

    Returns
    -------
    DataFrame
        The file's columns as read: every CSV column as strings (an empty field
        is missing), parquet columns with their stored types.

    Raises
    ------
    InputFileError
        Empty file, not UTF-8, wrong delimiter, unreadable parquet.
    """
    p = Path(path)
    if p.suffix == ".parquet":
        read_raw_table_header_checks(p, table)
        try:
            return pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises several types
            raise InputFileError(f"{p}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
    read_raw_table_header_checks(p, table)
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(_bad_byte_message(p)) from None
    except pd.errors.ParserError as exc:
        raise InputFileError(f"{p}: malformed CSV ({str(exc).strip()})") from None
    except pd.errors.EmptyDataError:
        raise InputFileError(f"{p}: file is empty (expected a header row and data)") from None
    _check_not_cut(p, len(df.columns), len(df))
    return df


def read_raw_table_header_checks(path: str | os.PathLike, table: str | None = None) -> None:
    """The checks :func:`read_raw_table` makes before parsing (exists, not empty, type, UTF-8 head, delimiter).

    Shared with the streaming reader (:func:`modqa_lib.data.stream.iter_raw_batches`) so both
    refuse the same files with the same message.

    Parameters
    ----------
    path : path-like
        A raw table (``.csv`` or ``.parquet``).
    table : str, optional
        Its contract table, to check the header looks comma-delimited.

    Returns
    -------
    None

    Raises
    ------
    InputFileError
        Missing or empty file, unsupported type, not UTF-8, not comma-delimited, duplicated header.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: file not found")
    if p.stat().st_size == 0:
        raise InputFileError(f"{p}: file is empty (expected a header row and data)")
    if p.suffix == ".parquet":
        return
    if p.suffix != ".csv":
        raise InputFileError(f"{p}: unsupported file type '{p.suffix}' (use .csv or .parquet)")
    with open(p, "rb") as fh:
        head = fh.read(65536)
    what = _sniff_binary(head)
    if what:
        raise InputFileError(f"{p}: this is {what}, not a CSV text file (the name ends .csv)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multibyte char may be cut at the 64 KiB boundary: only complain if the error is not at the end
        if exc.start < len(head) - 4:
            raise InputFileError(_bad_byte_message(p)) from None
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff")
    if "," not in first and table is not None and len(S.TABLES[table].columns) > 1:
        delim = next((d for d in (";", "\t", "|") if d in first), None)
        hint = f" (it looks '{'TAB' if delim == chr(9) else delim}'-delimited)" if delim else ""
        raise InputFileError(f"{p}: header has no commas{hint}; modqa reads comma-delimited CSV")
    header = next(csv.reader([first.rstrip("\r")]), [])
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        where = "; ".join(
            f"'{d}' in columns {', '.join(str(i + 1) for i, h in enumerate(header) if h == d)}" for d in dupes
        )
        raise InputFileError(f"{p}: duplicated header: {where}; keep one column of each name")


#: magic bytes of files that are not CSV text, and what to call them
_MAGIC = (
    (b"PAR1", "a parquet file: rename it to .parquet"),
    (b"PK\x03\x04", "a zip archive or an Excel/OpenDocument spreadsheet (.xlsx): export it as 'CSV UTF-8'"),
    (b"\xd0\xcf\x11\xe0", "an old Excel spreadsheet (.xls): export it as 'CSV UTF-8'"),
    (b"\x1f\x8b", "a gzip-compressed file: decompress it first"),
    (b"%PDF", "a PDF document"),
)


def _sniff_binary(head: bytes) -> str | None:
    """What a file is when its first bytes say it is not text, else None."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text: re-save it as UTF-8"
    return None


def _bad_byte_message(p: Path) -> str:
    """Where the first byte that is not UTF-8 is: line (1-based, header = line 1), byte in the line and in the file."""
    data = p.read_bytes()
    try:
        data.decode("utf-8")
        return f"{p}: not UTF-8 encoded; re-save the file as UTF-8"
    except UnicodeDecodeError as exc:
        pos = exc.start
    line = data.count(b"\n", 0, pos) + 1
    col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    return (
        f"{p}: not UTF-8 encoded: byte 0x{data[pos]:02x} at line {line}, byte {col} of the line "
        f"(offset {pos} in the file); re-save the file as UTF-8"
    )


def _check_not_cut(p: Path, n_header: int, n_rows: int) -> None:
    """Refuse a CSV whose last row is shorter than the header and has no final line break (cut short)."""
    size = p.stat().st_size
    with open(p, "rb") as fh:
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    if tail.endswith(b"\n") or n_rows == 0:
        return
    last = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    fields = next(csv.reader([last]), [])
    if len(fields) < n_header or last.count('"') % 2:
        raise InputFileError(
            f"{p}: last row (data row {n_rows}) has {len(fields)} of {n_header} fields and no final line break: "
            "the file looks cut short (incomplete copy or download?); copy it again"
        )


def check_csv_complete(path: str | os.PathLike) -> None:
    """Refuse a CSV cut short (last row shorter than the header, no final line break), without reading it whole.

    The check :func:`read_raw_table` makes after parsing, for a table read in batches
    (the decisions log): the header and the file's tail are read, and the rows are
    counted only when the tail looks cut.

    Parameters
    ----------
    path : path-like
        A raw table; anything but ``.csv`` is accepted as is.

    Returns
    -------
    None

    Raises
    ------
    InputFileError
        The last row has fewer fields than the header and no line break follows it.
    """
    p = Path(path)
    if p.suffix != ".csv" or not p.exists() or p.stat().st_size == 0:
        return
    with open(p, "rb") as fh:
        first = fh.readline().decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
        fh.seek(max(0, p.stat().st_size - 1))
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        n_lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    _check_not_cut(p, len(next(csv.reader([first]), [])), n_lines)
