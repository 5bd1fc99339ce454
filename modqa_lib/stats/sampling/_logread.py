"""Small reads of a decisions log on disk or in DuckDB, for the weekly sample and the plan fingerprint.

A *log source* is what :func:`modqa_lib.stats.sampling.log.is_log_source`
accepts: a processed folder, a parquet file, a hive-partitioned parquet folder
or a DuckDB relation. These helpers run aggregate queries on it, stream a few
columns in Arrow record batches, and read rows by id with the ids pushed into
the scan, so the log itself is never loaded into pandas.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modqa_lib.contract import schema as S
from modqa_lib.stats.sampling.log import BATCH_ROWS, _relation_sql, _scan

__all__: list[str] = []

Source = str | os.PathLike | duckdb.DuckDBPyRelation


def _sql(source: Source, select: str, where: str | None = None, tail: str = ""):
    """Run ``SELECT select FROM source [WHERE where] tail``; returns (connection or None, DuckDB result)."""
    from modqa_lib.data import duck

    if isinstance(source, duckdb.DuckDBPyRelation):
        rel = _relation_sql(source, select, where)
        return None, (rel.query("_modqa_q", f"SELECT * FROM _modqa_q {tail}") if tail else rel)
    con = duck.connect()
    try:
        sql = (
            f"SELECT {select} FROM {_scan(source)}"
            + (f" WHERE {where}" if where else "")
            + (f" {tail}" if tail else "")
        )
        return con, con.sql(sql)
    except BaseException:
        con.close()
        raise


def columns(source: Source) -> dict[str, str]:
    """Column name to DuckDB type name of a log source."""
    con, rel = _sql(source, "*", "false")
    try:
        return {c: str(t) for c, t in zip(rel.columns, rel.types)}
    finally:
        if con is not None:
            con.close()


def query(source: Source, select: str, where: str | None = None, tail: str = "") -> pd.DataFrame:
    """A small query result (aggregates, distinct values) as a DataFrame."""
    con, rel = _sql(source, select, where, tail)
    try:
        return rel.df()
    finally:
        if con is not None:
            con.close()


def batches(
    source: Source, cols: Sequence[str], where: str | None = None, batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Stream ``cols`` of the (filtered) log in Arrow record batches; one batch in memory at a time."""
    con, rel = _sql(source, ", ".join(cols), where)
    try:
        yield from rel.to_arrow_reader(batch_rows)
    finally:
        if con is not None:
            con.close()


def rows_by_id(source: Source, ids: Iterable, cols: Sequence[str], where: str | None = None) -> pd.DataFrame:
    """The rows of the log whose ``decision_id`` is in ``ids`` (only ``cols``), in log order.

    A path is read with the ids pushed into the scan (a semi-join DuckDB runs
    within its memory limit); a relation is streamed and filtered batch by batch.
    """
    from modqa_lib.data import duck

    want = pd.unique(np.asarray([str(i) for i in ids if i is not None and i == i], dtype=object))
    cols = list(dict.fromkeys([S.DECISION_ID, *cols]))
    if isinstance(source, duckdb.DuckDBPyRelation):
        value_set = pa.array(want.tolist(), type=pa.string())
        parts = [
            b.filter(pc.is_in(pc.cast(b.column(0), pa.string()), value_set=value_set))
            for b in batches(source, cols, where)
        ]
        tab = pa.Table.from_batches([p for p in parts if p.num_rows]) if any(p.num_rows for p in parts) else None
        if tab is None:
            return query(source, ", ".join(cols), "false")
        return tab.to_pandas()
    con = duck.connect()
    try:
        con.register("_modqa_ids", pd.DataFrame({S.DECISION_ID: pd.array(want, dtype="str")}))
        cond = f"{S.DECISION_ID} IN (SELECT {S.DECISION_ID} FROM _modqa_ids)"
        sql = f"SELECT {', '.join(cols)} FROM {_scan(source)} WHERE {cond}" + (f" AND ({where})" if where else "")
        return con.execute(sql).df()
    finally:
        con.close()
