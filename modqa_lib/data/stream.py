"""Streaming validation of the decisions log: batches in, the same problems out.

A weekly decisions log of 10^8 rows does not fit in pandas. :func:`validate_streaming`
checks it batch by batch with the per-table code of
:mod:`modqa_lib.contract.validation` (so every per-table rule there keeps applying),
writes each clean typed batch to one parquet file as it goes, and merges the
problems of all batches into the messages a whole-table check gives: same file,
column and rule, the first rows by **global** data-row number, the total count,
every problem at once. The rules that need the whole table are run after the
stream:

- ``decision_id`` unique: a DuckDB ``GROUP BY`` over the staged ids (one narrow
  parquet file of id and row number written alongside the batches);
- cross-table rules (audit -> decision exists, ``is_error`` consistent with the
  labels, error type, audit after decision, action scopes): the audits are read
  first, so each batch keeps only the decisions some audit points at, plus the
  distinct (vendor, site, market) of the batch; the cross-table rules of
  :mod:`modqa_lib.contract.validation` then run on that small frame (a semi-join
  pushed into the stream) and give the same problems as on the whole log.

Peak memory is one batch plus the audited decisions, whatever the file size.

Notes
-----
Problems of one rule found in several batches are merged: rows and count are
global; the quoted example values are the first ones of each batch (up to
three each), so when a batch boundary falls inside a run of offending rows the
``found ...`` list can differ from a whole-table check in which examples it
quotes (never in rows or count).
"""

from __future__ import annotations

import ast
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modqa_lib.contract import schema as S
from modqa_lib.contract import validation as V
from modqa_lib.errors import DataContractError, InputFileError

__all__ = ["BATCH_ROWS", "ArrowFallback", "iter_raw_batches", "validate_streaming"]

#: rows per batch of the streamed decisions table (about 250 MB of pandas strings)
BATCH_ROWS = 500_000
#: the table that is streamed; the others are small and read whole
STREAMED = "decisions"


# --------------------------------------------------------------------- reading
class ArrowFallback(Exception):
    """The fast Arrow CSV reader met something only the pandas parser reads the same way; start again with it."""


def _arrow_csv_batches(p: Path, batch_rows: int) -> Iterator[pd.DataFrame]:
    """CSV batches by pyarrow's reader, as the pandas parser would give them, or :class:`ArrowFallback`.

    Every cell is text, only empty cells (quoted or not) are missing, quoted line
    breaks are kept. Anything the two parsers might read differently (a repeated
    or empty header name, a row with too few or too many fields, bytes that are
    not UTF-8, a parse error) raises :class:`ArrowFallback` instead.
    """
    import csv

    import pyarrow.csv as pacsv

    with open(p, encoding="utf-8-sig", newline="") as fh:
        try:
            header = next(csv.reader(fh))
        except (StopIteration, UnicodeDecodeError, csv.Error):
            raise ArrowFallback from None
    if not header or len(set(header)) != len(header) or any(not h for h in header):
        raise ArrowFallback
    try:
        reader = pacsv.open_csv(
            p,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        start, pending, got = 0, [], 0
        for rb in reader:
            pending.append(rb)
            got += rb.num_rows
            while got >= batch_rows:
                t = pa.Table.from_batches(pending)
                head, rest = t.slice(0, batch_rows), t.slice(batch_rows)
                yield _to_frame(head, start)
                start += batch_rows
                pending, got = rest.to_batches(), rest.num_rows
        if got or start == 0:
            t = pa.Table.from_batches(pending, schema=reader.schema)
            yield _to_frame(t, start)
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError):
        raise ArrowFallback from None


def _to_frame(t: pa.Table, start: int) -> pd.DataFrame:
    df = t.to_pandas(types_mapper=lambda _: pd.StringDtype(storage="pyarrow", na_value=np.nan))
    df.index = pd.RangeIndex(start, start + len(df))
    return df


def iter_raw_batches(
    path: str | os.PathLike, table: str, batch_rows: int = BATCH_ROWS, engine: str = "pandas"
) -> Iterator[pd.DataFrame]:
    """Yield a raw table in batches, untyped, as :func:`modqa_lib.data.io.read_raw_table` reads it whole.

    CSV is parsed by the same pandas parser with the same options (strings,
    only blank cells missing, UTF-8 with or without BOM), so headers, blanks,
    quoting and parse errors behave exactly as in the whole-file read; parquet
    is read by row groups. Each batch keeps the global row index (0-based).
    ``engine="arrow"`` reads CSV with pyarrow's (much faster) reader and raises
    :class:`ArrowFallback` on anything it might read differently, so the caller
    starts again with ``engine="pandas"``.

    Raises
    ------
    InputFileError
        The same messages as :func:`~modqa_lib.data.io.read_raw_table`.
    """
    from modqa_lib.data import io as mio

    p = Path(path)
    if p.suffix == ".parquet":
        try:
            pf = pq.ParquetFile(p)
            start = 0
            got = False
            for rb in pf.iter_batches(batch_size=batch_rows):
                got = True
                df = pa.Table.from_batches([rb]).replace_schema_metadata(pf.schema_arrow.metadata).to_pandas()
                df.index = pd.RangeIndex(start, start + len(df))
                start += len(df)
                yield df
            if not got:
                yield pf.schema_arrow.empty_table().to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise InputFileError(f"{p}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
        return
    # the whole-file checks (exists, empty, suffix, UTF-8 head, delimiter) on a tiny read
    mio.read_raw_table_header_checks(p, table)
    if engine == "arrow":
        yield from _arrow_csv_batches(p, batch_rows)
        return
    try:
        reader = pd.read_csv(
            p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig", chunksize=batch_rows
        )
        got = False
        with reader:
            for chunk in reader:
                got = True
                yield chunk
        if not got:  # header only
            yield pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{p}: not UTF-8 encoded ({exc.reason} at byte {exc.start}); re-save as UTF-8") from None
    except pd.errors.ParserError as exc:
        raise InputFileError(f"{p}: malformed CSV ({str(exc).strip()})") from None
    except pd.errors.EmptyDataError:
        raise InputFileError(f"{p}: file is empty (expected a header row and data)") from None


# ------------------------------------------------------------------- merging
def _base_rule(rule: str) -> str:
    """A rule without its quoted examples (``; found ...``), the key problems are merged on."""
    return rule.split("; found ", 1)[0]


_RANKS = (  # the order _check_table finds rules in, within one column
    (("missing column", "unknown column", "column given more than once", "table has no data rows"), 0),
    ((V._DT_RULES[1],), 1),
    ((V._DT_RULES[2],), 2),
    (("not an integer", "not a number", "not a boolean", "wrong type"), 1),
    (("empty value",), 3),
    (("value not in taxonomy", "must be in ", "must be >", "must be <"), 4),
    (("duplicate key", "duplicate value"), 5),
)


def _rank(rule: str) -> int:
    """Where a rule comes within its column in a whole-table check (later rules: 6, in the order found)."""
    for prefixes, rank in _RANKS:
        if rule.startswith(prefixes):
            return rank
    return 6


class _Merger:
    """Merge per-batch problems of one table into whole-table problems (global rows, total count)."""

    def __init__(self) -> None:
        self.order: list[tuple] = []
        self.acc: dict[tuple, dict] = {}

    def add(self, problems: list[dict], offset: int) -> None:
        for p in problems:
            key = (p["table"], p["column"], _base_rule(p["rule"]))
            rows = [r + offset for r in p["rows"]]
            if key not in self.acc:
                self.order.append(key)
                self.acc[key] = {**p, "rows": rows, "_values": list(p["values"]), "_rules": [p["rule"]]}
                continue
            a = self.acc[key]
            a["rows"] = (a["rows"] + rows)[: V.MAX_ROWS]
            a["count"] += p["count"]
            a["_values"] += list(p["values"])
            a["_rules"].append(p["rule"])

    def problems(self) -> list[dict]:
        out = []
        for key in sorted(self.order, key=lambda k: _rank(k[2])):  # stable: first found first
            a = dict(self.acc[key])
            vals, rules = a.pop("_values"), a.pop("_rules")
            if len(rules) > 1 and any("; found " in r for r in rules):
                a["rule"] = key[2] + _merge_found(rules)
            a["values"] = [str(v) for v in vals[: V.MAX_VALUES]]
            out.append(a)
        return out


def _merge_found(rules: list[str]) -> str:
    """One ``; found ...`` suffix from the suffixes of several batches' rules (distinct, first three)."""
    shown: list[str] = []
    more = False
    for r in rules:
        if "; found " not in r:
            continue
        tail = r.split("; found ", 1)[1]
        more |= tail.endswith(", ...")
        try:
            items = ast.literal_eval("[" + tail.removesuffix(", ...") + "]")
        except (SyntaxError, ValueError):  # pragma: no cover - _found always quotes with repr
            items = [tail]
        shown += [repr(x) for x in items]
    shown = list(dict.fromkeys(shown))
    more |= len(shown) > V.MAX_VALUES
    return f"; found {', '.join(shown[: V.MAX_VALUES])}{', ...' if more else ''}" if shown else ""


# ------------------------------------------------------------------- the stream
def _duplicate_ids_problem(ids_file: Path, file: str | None) -> dict | None:
    """``decision_id`` unique over the whole log: DuckDB over the staged (row, id) file."""
    from modqa_lib.data import duck

    con = duck.connect()
    try:
        con.execute("SET preserve_insertion_order = false")
        src = f"read_parquet('{_sql_path(ids_file)}')"
        con.execute(
            f"CREATE TEMP TABLE dup AS SELECT id FROM {src} WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1"
        )
        if con.execute("SELECT count(*) FROM dup").fetchone()[0] == 0:  # type: ignore[index]
            return None
        n = con.execute(f"SELECT count(*) FROM {src} SEMI JOIN dup USING (id)").fetchone()[0]  # type: ignore[index]
        first = con.execute(f"SELECT r, id FROM {src} SEMI JOIN dup USING (id) ORDER BY r LIMIT 50").fetchall()
    finally:
        con.close()
    key = S.TABLES[STREAMED].key == S.DECISION_ID
    values = [v for _, v in first]
    rule = (
        "duplicate key (each value must appear once)" if key else "duplicate value (each value must appear once)"
    ) + V._found(values)
    return V._problem(STREAMED, file, S.DECISION_ID, rule, [r + 1 for r, _ in first], count=n, values=values)


def _is_uniqueness(p: dict) -> bool:
    """The per-batch ``decision_id`` uniqueness problem (replaced by the whole-log check)."""
    return p["column"] == S.DECISION_ID and p["rule"].startswith("duplicate ")


def _errors(problems) -> bool:
    """True when any problem is an error (not a warning)."""
    return any(p.get("level") != "warning" for p in problems)


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")


def file_names(files: Mapping[str, str] | None) -> dict[str, str]:
    """Table name to file name (paths reduced to their names), as problems quote them."""
    return {k: (str(getattr(v, "name", v)) if v is not None else k) for k, v in (files or {}).items()}


def check_small_tables(
    frames: Mapping[str, pd.DataFrame], files: Mapping[str, str], tax: S.Taxonomy
) -> tuple[dict[str, pd.DataFrame], list[dict], dict[str, dict[str, np.ndarray]], list]:
    """The per-table rules on every table but the decisions, read whole.

    Returns
    -------
    typed : dict of str to DataFrame
        Best-effort typed tables (nullable int/bool until :func:`finish_tables`).
    problems : list of dict
        Their problems, warnings included, in contract table order.
    bad : dict
        Per table, per column, the mask of cells that broke a rule.
    audited : list
        Distinct decision ids other tables point at (the cross-table rules need these decisions).
    """
    problems: list[dict] = []
    typed: dict[str, pd.DataFrame] = {}
    bad: dict[str, dict[str, np.ndarray]] = {}
    for name in S.TABLE_NAMES:
        if name in frames and name != STREAMED:
            typed[name], p, bad[name] = V._check_table(frames[name], name, files.get(name), tax)
            problems += p
    audited: list = []
    for name in ("audits", "vendor_qa", "appeals"):
        if name in typed and S.DECISION_ID in typed[name].columns:
            audited += list(typed[name][S.DECISION_ID].dropna().astype(object))
    audited = list(pd.unique(pd.Series(audited, dtype=object))) if audited else []
    return typed, problems, bad, audited


def cross_table_problems(
    typed: Mapping[str, pd.DataFrame],
    bad: Mapping[str, Mapping[str, np.ndarray]],
    files: Mapping[str, str],
    tax: S.Taxonomy,
    sample_plan: pd.DataFrame | None,
    columns: list[str],
    keep: list[pd.DataFrame],
    scopes: list[pd.DataFrame],
) -> list[dict]:
    """The cross-table rules, run on the audited decisions plus one row per distinct scope.

    ``keep`` holds typed audited decisions with a bool column ``_ok`` (their label and
    decision time passed the per-table rules); ``scopes`` the distinct vendor/site/market.
    The rules of :mod:`modqa_lib.contract.validation` give on this small frame the
    problems they give on the whole log.
    """
    if not columns:
        return []
    parts = keep + [s.assign(_ok=False) for s in scopes]
    small = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*columns, "_ok"])
    small = small.reindex(columns=[*columns, "_ok"])
    ok = small.pop("_ok").to_numpy(dtype=bool)
    typed_x = dict(typed)
    typed_x[STREAMED] = small.reset_index(drop=True)
    bad_x = dict(bad)
    bad_x[STREAMED] = {S.LABEL: ~ok, S.DECIDED_AT: ~ok}
    return V._cross_table_problems(typed_x, files, bad_x, tax, sample_plan) + V.qaqa_cross_table_problems(
        typed_x, files, bad_x, tax
    )


def finish_tables(typed: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Final dtypes of validated tables (non-nullable int/bool back to numpy)."""
    return {name: V._finish(df, name) for name, df in typed.items()}


def sort_problems(problems: list[dict]) -> list[dict]:
    """Problems in report order: contract table, then column (stable within a column)."""
    return sorted(problems, key=V._problem_order)


def validate_streaming(
    frames: Mapping[str, pd.DataFrame],
    decision_batches: Iterator[pd.DataFrame],
    out_file: str | os.PathLike,
    files: Mapping[str, str] | None = None,
    taxonomy: S.Taxonomy | None = None,
    sample_plan: pd.DataFrame | None = None,
    warnings: list[dict] | None = None,
) -> tuple[dict[str, pd.DataFrame], int, list[str]]:
    """Validate the small tables whole and the decisions log in batches, writing typed decisions to ``out_file``.

    Parameters
    ----------
    frames : mapping of table name to DataFrame
        Raw tables other than decisions (as :func:`modqa_lib.data.io.read_raw_table` gives).
    decision_batches : iterator of DataFrame
        Raw decisions in order (:func:`iter_raw_batches`).
    out_file : path-like
        Parquet file the typed decisions are written to, batch by batch (one row
        group each); removed again if any problem is found.
    files : mapping of table name to file name, optional
    taxonomy : Taxonomy, optional
    sample_plan : DataFrame, optional
        Sample plans found beside the raw data (weights are checked against them).
    warnings : list, optional
        Receives the problems that are warnings (``"level": "warning"``), as
        :func:`modqa_lib.contract.validation.validate_tables` reports them.

    Returns
    -------
    typed : dict of str to DataFrame
        The validated small tables, in contract order (decisions not included).
    rows : int
        Number of decisions written.
    columns : list of str
        Columns of the written decisions.

    Raises
    ------
    DataContractError
        Every problem across all tables, as :func:`modqa_lib.contract.validation.validate_tables`
        reports it.
    """
    tax = taxonomy or S.load_taxonomy()
    files = file_names(files)
    typed, problems, bad, audited = check_small_tables(frames, files, tax)

    out_file = Path(out_file)
    merger = _Merger()
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    keep: list[pd.DataFrame] = []  # audited decisions (typed, with ok flag)
    scopes: list[pd.DataFrame] = []  # distinct vendor/site/market per batch
    n = 0
    columns: list[str] = []
    with tempfile.TemporaryDirectory(prefix=".ids-", dir=out_file.parent) as tmp:
        ids_file = Path(tmp) / "ids.parquet"
        ids_writer: pq.ParquetWriter | None = None
        try:
            for raw in decision_batches:
                offset = n
                # uniqueness is a whole-table rule: checked over all batches below, not per batch
                b, p, bad_b = V._check_table(raw, STREAMED, files.get(STREAMED), tax, unique=False)
                n += len(b)
                merger.add([q for q in p if not _is_uniqueness(q)], offset)
                columns = list(b.columns)
                if S.DECISION_ID in b.columns:
                    ids = pa.table(
                        {
                            "r": pa.array(np.arange(offset, offset + len(b), dtype="int64")),
                            "id": pa.array(
                                b[S.DECISION_ID].astype(object).to_numpy(), type=pa.large_string(), from_pandas=True
                            ),
                        }
                    )
                    ids_writer = ids_writer or pq.ParquetWriter(ids_file, ids.schema)
                    ids_writer.write_table(ids)
                    hit = V._isin(b[S.DECISION_ID], audited) if audited else np.zeros(len(b), bool)
                    if hit.any():
                        ok = np.ones(len(b), dtype=bool)
                        for c in (S.LABEL, S.DECIDED_AT):
                            if c in bad_b:
                                ok &= ~bad_b[c]
                        sub = b[hit].copy()
                        sub["_ok"] = ok[hit]
                        keep.append(sub)
                scope_cols = [c for c in (S.VENDOR, S.SITE, S.MARKET) if c in b.columns]
                if scope_cols:
                    scopes.append(b[scope_cols].drop_duplicates())
                if not _errors(problems) and not _errors(merger.acc.values()):  # warnings alone: still written
                    t = pa.Table.from_pandas(V._finish(b, STREAMED), preserve_index=False)
                    if writer is None:
                        schema = t.schema
                        writer = pq.ParquetWriter(out_file, schema)
                    writer.write_table(t.cast(schema))
        finally:
            if ids_writer is not None:
                ids_writer.close()
            if writer is not None:
                writer.close()
        dup = _duplicate_ids_problem(ids_file, files.get(STREAMED)) if ids_writer is not None else None
    if dup is not None:
        merger.add([dup], 0)
    problems += merger.problems()

    problems += cross_table_problems(typed, bad, files, tax, sample_plan, columns, keep, scopes)
    problems.sort(key=V._problem_order)
    if warnings is not None:
        warnings += [p for p in problems if p.get("level") == "warning"]
    problems = [p for p in problems if p.get("level") != "warning"]
    if problems:
        out_file.unlink(missing_ok=True)
        raise DataContractError(problems)
    return finish_tables(typed), n, columns
