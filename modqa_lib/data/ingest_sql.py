"""The fast ingest path: a decisions CSV parsed, typed, checked, partitioned by DuckDB in SQL.

:func:`stage_decisions` writes the decisions CSV in **one** DuckDB pass
(``COPY (SELECT <typed columns> FROM read_csv(...) WHERE <row rules>) TO ...
(FORMAT parquet, PARTITION_BY (week, vendor))``) straight into the staging
version folder, on every core, checking each row with the SQL twins of the
per-table rules as it streams (:mod:`modqa_lib.contract.sql_rules`); pandas
checks the small tables meanwhile. Then it checks what needs whole columns
on the staged parquet (the distinct names, for blanks, vocabulary and case
variants; the sorted hashes of the unique ids for equal neighbours) and runs the cross-table rules of
:mod:`modqa_lib.contract.validation` on the audited decisions only (read back
by a semi-join), as the streaming path does. Row order within a partition is
not kept (DuckDB writes in parallel): readers order by ``decision_id``.

It only ever accepts: whenever the SQL finds any problem, or meets anything it
cannot decide (a CSV DuckDB reads differently or not at all, a header that is
not exactly contract columns, a cell outside the accepted forms, a warning it
would have to word), it removes what it staged and raises :class:`SqlFallback`;
the caller then runs the streaming validator (:mod:`modqa_lib.data.stream`),
which gives every error and warning message as before. So the published data
and every message are those of the streaming path; only the time (and the row order
within a partition) differs.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from modqa_lib.contract import schema as S
from modqa_lib.contract import sql_rules as Q
from modqa_lib.contract.validation import date_bounds
from modqa_lib.contract.validation.cross_table import DECISION_COLUMNS_READ
from modqa_lib.data import duck
from modqa_lib.data.duck import WEEK_PARTITION
from modqa_lib.data.stream import (
    STREAMED,
    check_small_tables,
    cross_table_problems,
    file_names,
    finish_tables,
    sort_problems,
)

__all__ = [
    "DUCKDB_MEMORY",
    "DUP_BATCH_ROWS",
    "DUP_PASS_BYTES",
    "PARTITION_FLUSH_ROWS",
    "SqlFallback",
    "configure_partitioned_write",
    "copy_sql",
    "duplicate_count",
    "partition_sql",
    "stage_decisions",
]

#: DuckDB memory cap of the fast path (it spills to disk beyond it)
DUCKDB_MEMORY = "1GB"
#: bytes of 64-bit id hashes one pass of the duplicate-id check holds (:func:`duplicate_count`)
DUP_PASS_BYTES = 512 << 20
#: rows per record batch the duplicate-id check fetches
DUP_BATCH_ROWS = 1 << 20
#: rows an open partition buffers per thread before DuckDB writes them (:func:`configure_partitioned_write`)
PARTITION_FLUSH_ROWS = 50_000


class SqlFallback(Exception):
    """The SQL path found a problem or something it cannot decide: validate with the streaming path instead."""


def _lit(p: str | os.PathLike) -> str:
    return Q.quote(str(p))


def partition_sql(select: str, dst: str | os.PathLike) -> str:
    """``COPY`` of ``select`` into the hive dataset ``dst/week=<Monday>/vendor=<vendor>/part-*.parquet``.

    The one statement both ingest paths publish the decisions with, so their layouts are the same.
    """
    return (
        f"COPY (SELECT *, {duck.week_start_sql(S.DECIDED_AT)} AS {WEEK_PARTITION} FROM ({select})) "
        f"TO {_lit(dst)} (FORMAT parquet, PARTITION_BY ({WEEK_PARTITION}, {S.VENDOR}), FILENAME_PATTERN 'part-{{i}}')"
    )


def configure_partitioned_write(con) -> None:
    """Settings of a DuckDB connection that writes the partitioned decisions (both ingest paths use them).

    Each open partition buffers :data:`PARTITION_FLUSH_ROWS` rows per thread before
    it writes them. DuckDB's default (524,288 rows) overflows the 1 GB memory cap
    with a handful of partitions and spills to disk: at 10M decisions the
    ``COPY`` took 22 s against 12 s with 50,000 (peak RSS 1.2 GB against 0.8 GB).
    Row groups stay about 100,000 rows.
    """
    con.execute(f"SET partitioned_write_flush_threshold = {PARTITION_FLUSH_ROWS}")


def copy_sql(
    csv_path: str | os.PathLike, header: list[str], dst: str | os.PathLike, rules: list[Q.SqlRule] | None = None
) -> str:
    """The one-pass ``COPY``: the CSV as text (only empty cells missing), typed, into the partitioned dataset.

    With ``rules``, every row is checked as it streams (:func:`~modqa_lib.contract.sql_rules.guarded_select`):
    the first row breaking one stops the ``COPY`` with an error naming the rule.

    Every dialect option is given (``comment`` and ``skip`` too), so DuckDB's sniffer [1]_ is
    left on only for what it finds besides: the line ending. With ``auto_detect = false`` the
    same ``COPY`` took 0.4 s (0.6 CPU-seconds) more per 10M decisions (DuckDB 2.0.1, four
    alternating runs). A file with mixed line endings fails either way (and falls back).

    References
    ----------
    .. [1] DuckDB documentation, "CSV Auto Detection": options the user sets are not sniffed.
       https://duckdb.org/docs/data/csv/auto_detection
    """
    cols = ", ".join(f"{Q.quote(c)}: 'VARCHAR'" for c in header)
    src = (
        f"read_csv({_lit(csv_path)}, header = true, columns = {{{cols}}}, delim = ',', comment = '', skip = 0, "
        "quote = '\"', escape = '\"', strict_mode = true, null_padding = false, allow_quoted_nulls = true, "
        "encoding = 'utf-8')"
    )
    typed = f"SELECT {', '.join(Q.typed_select(STREAMED, header))} FROM {src}"
    return partition_sql(Q.guarded_select(typed, rules or []), dst)


def _header(csv_path: Path) -> list[str]:
    """The CSV's header if it is exactly distinct contract columns with every required one; else fall back."""
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh))
    except (StopIteration, UnicodeDecodeError, csv.Error, OSError):
        raise SqlFallback("header unreadable") from None
    spec = S.TABLES[STREAMED]
    names = spec.column_names
    if len(set(header)) != len(header) or any(h not in names for h in header):
        raise SqlFallback("header is not distinct contract columns")
    if any(c.required and c.name not in header for c in spec.columns):
        raise SqlFallback("a required column is missing")
    return header


def _check_staged(con, source: str, tax: S.Taxonomy, columns: list[str]) -> pd.DataFrame:
    """The rules on whole columns, on the staged decisions: value lists (missing cells, blanks, vocabulary,
    case variants) and the distinct values of the few-valued ids (blanks, placeholders).

    Returns the distinct vendor/site/market rows (the scopes the cross-table rules check), or falls back.
    """
    scope_cols = [c for c in (S.VENDOR, S.SITE, S.MARKET) if c in columns]
    value_cols = Q.value_columns(STREAMED)
    scope = "{" + ", ".join(f"'{c}': \"{c}\"" for c in scope_cols) + "}"
    sql = Q.distinct_values_sql(STREAMED, source, extra=(f"list(DISTINCT {scope})",))
    if sql is None:  # pragma: no cover - the decisions contract has vocabulary and name columns
        raise SqlFallback("no value columns to check")
    got = con.execute(sql).fetchall()[0]
    broken = [
        f"{c}: {k}"
        for c, v in zip(value_cols, got[:-1], strict=True)
        for k in Q.value_rule_kinds(STREAMED, c, list(v or []), tax)
    ]
    ids = Q.id_values_sql(STREAMED, source, tax)
    if ids is not None:
        row = con.execute(ids).fetchall()[0]
        broken += [f"{r.column}: {r.kind}" for r, hit in zip(Q.id_value_rules(STREAMED, tax), row, strict=True) if hit]
    if broken:
        raise SqlFallback("rules broken: " + ", ".join(broken))
    return pd.DataFrame(list(got[-1] or []), columns=scope_cols).astype("str")


def _equal_neighbours(con, sql: str, expect: int) -> int:
    """Equal neighbours among the sorted hashes ``sql`` selects.

    The hashes stream into two preallocated arrays by their top bit (grown if needed), which
    are sorted in place in two threads (numpy releases the GIL), so equal hashes meet in one.
    """
    halves = [np.empty(max(expect // 2, 1024), dtype=np.uint64) for _ in range(2)]
    used = [0, 0]
    for batch in con.sql(sql).to_arrow_reader(DUP_BATCH_ROWS):
        h = batch.column(0).to_numpy(zero_copy_only=False)
        top = (h >> np.uint64(63)).astype(bool)
        for i, part in enumerate((h[~top], h[top])):
            if used[i] + len(part) > len(halves[i]):
                halves[i] = np.resize(halves[i], max(2 * len(halves[i]), used[i] + len(part)))
            halves[i][used[i] : used[i] + len(part)] = part
            used[i] += len(part)
    halves = [x[:k] for x, k in zip(halves, used, strict=True)]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="modqa-sort") as sorter:
        list(sorter.map(np.ndarray.sort, halves))
    return sum(int(np.count_nonzero(x[1:] == x[:-1])) for x in halves)


def duplicate_count(con, source: str, rows: int, pass_bytes: int = DUP_PASS_BYTES) -> int:
    """Values of the unique columns beyond one per 64-bit hash: the hashes sorted in numpy, in shares.

    Zero proves every value unique; a positive count is a duplicate or a hash collision
    (:func:`~modqa_lib.contract.sql_rules.unique_hashes_sql`), and the caller falls back to the
    exact check. Each pass holds at most about ``pass_bytes`` of 8-byte hashes (one share of
    them when ``rows`` needs more), so memory does not grow with the log; the shares are a power
    of two and disjoint, so equal values meet in one of them. Against DuckDB's ``count(c) -
    count(DISTINCT hash(c))`` (1 GB memory cap): 1.1 against 1.5-1.9 CPU-seconds at 10M ids, 5.6-6.4
    against 5.8-6.1 at 50M (one pass of 400 MB; in two passes of 200 MB, 8.0-8.6: each pass scans
    and hashes every id). In the 50M ingest the peak RSS fell from 1.5 GB to 1.2-1.3 GB.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    source : str
        A relation holding the staged decisions (a ``read_parquet`` call).
    rows : int
        Rows in ``source`` (for the number of shares and the array size).
    pass_bytes : int, default :data:`DUP_PASS_BYTES`

    Returns
    -------
    int
        Equal neighbours among the sorted hashes, summed over the unique columns and shares.
    """
    parts = 1
    while rows * 8 > parts * pass_bytes:
        parts *= 2
    found = 0
    for col in Q.unique_columns(STREAMED):
        for part in range(parts):
            sql = Q.unique_hashes_sql(col, source, parts, part)
            found += _equal_neighbours(con, sql, rows // parts + rows // (8 * parts))
    return found


def _typed_frame(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Decisions read back from the staged parquet in the dtypes the per-table check gives (nullable int)."""
    dtypes: dict[str, Any] = {
        "str": "str",
        "int": "Int64",
        "float": "float64",
        "datetime": pd.DatetimeTZDtype("us", "UTC"),
        "bool": "boolean",
    }
    out = {c: df[c].astype(dtypes[S.TABLES[STREAMED].column(c).dtype]) for c in columns}
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def _audited(con, source: str, audited: list, columns: list[str]) -> pd.DataFrame:
    """The staged decisions other tables point at (a semi-join pushed into the scan).

    Only the columns the cross-table rules read (:data:`~modqa_lib.contract.validation.cross_table.
    DECISION_COLUMNS_READ`; half the time of all columns at 50M decisions); the others are left out.
    """
    columns = [c for c in columns if c in DECISION_COLUMNS_READ]
    sel = ", ".join(f'"{c}"' for c in columns)
    if audited:
        con.register("_audited", pa.table({"id": pa.array([str(x) for x in audited], type=pa.string())}))
        # through Arrow, not .df(): 1.7 s against 2.0 s for 500k of 50M decisions
        sql = f"SELECT {sel} FROM {source} AS d SEMI JOIN _audited AS a ON d.{S.DECISION_ID} = a.id"
        keep = con.sql(sql).to_arrow_table().to_pandas()
    else:
        keep = con.execute(f"SELECT {sel} FROM {source} LIMIT 0").df()
    return _typed_frame(keep, columns).assign(_ok=True)


def _copy_problem(exc: BaseException) -> SqlFallback:
    """The fallback for an error of the staging ``COPY``: a broken row rule, or a CSV DuckDB reads differently."""
    rule = Q.broken_rule(str(exc))
    if rule is not None:
        return SqlFallback(f"rules broken: {rule}")
    return SqlFallback(f"DuckDB could not read or check the decisions ({type(exc).__name__})")


def stage_decisions(
    csv_path: str | os.PathLike,
    frames: Mapping[str, pd.DataFrame] | Callable[[], tuple[Mapping[str, pd.DataFrame], pd.DataFrame | None]],
    staging: str | os.PathLike,
    files: Mapping[str, str] | None = None,
    taxonomy: S.Taxonomy | None = None,
    sample_plan: pd.DataFrame | None = None,
    min_rows: int = 0,
    on_staged: Callable[[Path], None] | None = None,
) -> tuple[dict[str, pd.DataFrame], int, list[str], list[dict]]:
    """Validate every table and publish-stage the decisions CSV as ``staging/decisions/`` in SQL, or fall back.

    Parameters
    ----------
    csv_path : path-like
        The raw decisions CSV.
    frames : mapping of table name to DataFrame, or callable
        The other raw tables (as :func:`modqa_lib.data.io.read_raw_table` gives); or a
        function returning them and the sample plans, called once DuckDB has started on
        the decisions, so they are read beside it (then ``sample_plan`` is ignored).
    staging : path-like
        The staging version folder; the hive dataset ``decisions/`` is written into it.
    files : mapping of table name to file name, optional
    taxonomy : Taxonomy, optional
    sample_plan : DataFrame, optional
        Sample plans found beside the raw data (weights are checked against them).
    min_rows : int, default 0
        Fewer decisions than this fall back (the streaming path publishes them as one file).
    on_staged : callable, optional
        Called with the staged folder as soon as it is written, before it is checked (an ingest
        starts hashing it there, in a thread beside the checks).

    Returns
    -------
    typed : dict of str to DataFrame
        The validated small tables, in contract order (decisions not included).
    rows : int
        Number of decisions staged.
    columns : list of str
        Columns of the staged decisions (contract order).
    warnings : list of dict
        Problems that are warnings (only ones worded as the streaming path words them).

    Raises
    ------
    SqlFallback
        Any problem or anything undecided; nothing is left in ``staging``.
    """
    tax = taxonomy or S.load_taxonomy()
    files = file_names(files)
    csv_path, dst = Path(csv_path), Path(staging) / STREAMED
    header = _header(csv_path)
    columns = S.TABLES[STREAMED].column_names
    source = (
        f"read_parquet({_lit(dst / '**' / '*.parquet')}, hive_partitioning = true, "
        f"hive_types = {{'{WEEK_PARTITION}': DATE, '{S.VENDOR}': VARCHAR}})"
    )
    rules = Q.table_rules(STREAMED, tax, date_bounds())
    con = duck.connect(DUCKDB_MEMORY)
    configure_partitioned_write(con)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modqa-duckdb")
    try:
        # DuckDB parses, checks every row rule and writes (releasing the GIL) while pandas checks the small tables
        copy = pool.submit(lambda: con.execute(copy_sql(csv_path, header, dst, rules)).fetchall())
        try:
            if callable(frames):
                frames, sample_plan = frames()
            typed, problems, bad, audited = check_small_tables(frames, files, tax)
        except BaseException:
            con.interrupt()
            copy.exception()
            raise
        if any(p.get("level") != "warning" for p in problems):
            con.interrupt()
            copy.exception()
            raise SqlFallback("problems in the other tables")
        if copy.exception() is not None:
            raise _copy_problem(copy.exception()) from None  # type: ignore[arg-type]
        n = int(copy.result()[0][0])
        if n == 0 or n < min_rows:
            raise SqlFallback(f"{n:,} rows (the streaming path publishes fewer than {min_rows:,} as one file)")
        if on_staged is not None:
            on_staged(dst)
        try:
            # the duplicate-id check (fetch, then sort in numpy) on its own cursor, beside the value
            # lists, the audited rows and the cross-table rules in pandas; it holds at most
            # DUP_PASS_BYTES of hashes, and DuckDB only streams them (no hash table to spill)
            dups = pool.submit(duplicate_count, con.cursor(), source, n)
            scopes = _check_staged(con, source, tax, columns)
            keep = _audited(con, source, audited, columns)
            # a non-required column left out is read as all-missing, without a warning (as validation does)
            problems += cross_table_problems(typed, bad, files, tax, sample_plan, columns, [keep], [scopes])
            if dups.result():
                raise SqlFallback("duplicate ids (or two ids with the same 64-bit hash)")
        except duckdb.Error as exc:  # a CSV DuckDB reads differently or not at all: the streaming path words it
            raise SqlFallback(f"DuckDB could not read or check the decisions ({type(exc).__name__})") from None
        if any(p.get("level") != "warning" for p in problems):
            raise SqlFallback("cross-table problems")
    except BaseException:
        pool.shutdown(wait=True)
        shutil.rmtree(dst, ignore_errors=True)
        raise
    finally:
        pool.shutdown(wait=True)
        con.close()
    return finish_tables(typed), n, columns, sort_problems(problems)
