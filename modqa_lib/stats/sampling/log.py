"""Stratified sampling straight from a decisions log on disk (parquet, via DuckDB).

:func:`~modqa_lib.stats.sampling.stratified_sample` and
:func:`~modqa_lib.stats.sampling.allocate` take the population as a DataFrame
or, for logs too large for pandas, as a path: a processed folder (as
``modqa ingest`` writes it), a parquet file, or a hive-partitioned parquet
folder. Then

1. stratum sizes N_h come from one ``GROUP BY`` over the strata columns, with
   DuckDB's ``hash()`` of each stratum's values;
2. the allocation is the in-memory one, on those counts (same code);
3. the draw streams ``decision_id`` and that stratum hash (one integer per row:
   DuckDB codes the strata, so whatever their type no value is decoded or
   compared in Python) in Arrow record batches, computes each id's permanent
   random number with the same salted hash as the in-memory path
   (:func:`modqa_lib.stats.sampling.draw._id_hash`), and keeps per stratum the
   n_h smallest keys seen so far: candidates are gathered over batches and cut
   down to the n_h smallest every 500k or so, and the running threshold per full
   stratum then drops almost every row of later batches at once;
4. the chosen rows are read back with their ids pushed into the scan (a join
   on the ids: every column of every row is decoded, which is most of the time
   at 100M rows; no row group can be skipped, as a 50k sample touches them all).

So the same seed gives the same sample from a DataFrame or from the log, with
the exact inclusion probabilities n_h / N_h, in memory of one batch plus the
sample.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modqa_lib.contract import schema as S
from modqa_lib.errors import DataContractError, SamplingError
from modqa_lib.stats.sampling._common import NA_KEY, _rng

__all__ = ["BATCH_ROWS", "StratumCounts", "is_log_source", "stratum_counts"]

#: rows per Arrow record batch of the streamed draw
BATCH_ROWS = 2_000_000
_MAX = np.iinfo(np.uint64).max


def is_log_source(x) -> bool:
    """True for a population not in pandas: a path (processed folder, parquet file, dataset folder) or a DuckDB relation."""
    return isinstance(x, (str, os.PathLike, duckdb.DuckDBPyRelation))


def _is_relation(x) -> bool:
    return isinstance(x, duckdb.DuckDBPyRelation)


def _relation_sql(rel: duckdb.DuckDBPyRelation, select: str, where: str | None, group: str | None = None):
    """``SELECT select FROM rel [WHERE where] [GROUP BY group]`` run on the relation's own connection."""
    sql = (
        f"SELECT {select} FROM _modqa_src"
        + (f" WHERE {where}" if where else "")
        + (f" GROUP BY {group}" if group else "")
    )
    return rel.query("_modqa_src", sql)


def _scan(source: str | os.PathLike) -> str:
    """SQL ``FROM`` expression of a decisions source path."""
    from modqa_lib.data import duck

    p = Path(source)
    q = "'" + str(p).replace("'", "''") + "'"
    if p.suffix == ".parquet":
        return f"read_parquet({q})"
    processed = any((p / x).exists() for x in (".current", "decisions.parquet", "decisions"))
    if p.is_dir() and not processed:
        if not any(p.glob("*=*")) and not any(p.glob("*.parquet")):
            raise SamplingError(f"{p}: no parquet files (give a processed folder, a parquet file or a dataset folder)")
        glob = "'" + str(p / "**" / "*.parquet").replace("'", "''") + "'"
        raw = f"read_parquet({glob}, hive_partitioning = true)"
        con = duck.connect()
        try:
            have = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {raw}").fetchall()]
        finally:
            con.close()
        # contract columns first, in contract order; the week partition key is not a decision column
        contract = S.TABLES["decisions"].column_names
        cols = [c for c in contract if c in have] + [c for c in have if c not in contract and c != duck.WEEK_PARTITION]
        return f"(SELECT {', '.join(cols)} FROM {raw})"
    return duck.decisions_scan(p)


class StratumCounts:
    """Population sizes per stratum of a decisions log, for :func:`allocate`.

    Built by :func:`stratum_counts`; ``len()`` is the population size. The
    allocation code reads it through ``_modqa_strata`` as if it were the log.
    """

    def __init__(
        self,
        counts: pd.DataFrame,
        strata: Sequence[str],
        source: str | os.PathLike | duckdb.DuckDBPyRelation | None = None,
        hashes: np.ndarray | None = None,
    ):
        self.counts = counts
        self.strata = list(strata)
        self.source = source
        #: DuckDB's ``hash(strata...)`` of each row of ``counts`` (same query, same types as the draw's)
        self.hashes = hashes

    def __len__(self) -> int:
        return int(self.counts["n"].sum())

    @property
    def columns(self) -> pd.Index:
        return pd.Index(self.strata)

    def _modqa_strata(self, strata: Sequence[str]):
        """The allocation's stratum table (keys, values, N_h) from the counts."""
        from modqa_lib.stats.sampling.allocation import _code_strata

        if list(strata) != self.strata:
            raise SamplingError(f"counts were taken by {self.strata}, not by {list(strata)}")
        st = _code_strata(self.counts, self.strata)
        pop = np.zeros(len(st.keys), dtype=np.int64)
        np.add.at(pop, st.codes, self.counts["n"].to_numpy(dtype=np.int64))
        st.pop = pop
        st.codes = np.zeros(0, dtype=np.int64)  # no rows: the log stays on disk
        return st

    def hash_lookup(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(sorted DuckDB stratum hashes, allocation stratum index of each)``, or None.

        None when the counts carry no hashes or two strata share a hash (then the
        draw codes the strata from their values instead).
        """
        from modqa_lib.stats.sampling.allocation import _code_strata

        if self.hashes is None or len(np.unique(self.hashes)) != len(self.hashes):
            return None
        codes = _code_strata(self.counts, self.strata).codes  # per counts row, as _modqa_strata numbers them
        order = np.argsort(self.hashes)
        return self.hashes[order], np.asarray(codes, dtype=np.int64)[order]


def stratum_counts(
    source: str | os.PathLike | duckdb.DuckDBPyRelation, strata: Sequence[str], where: str | None = None
) -> StratumCounts:
    """N_h of every stratum of a decisions log, by one DuckDB ``GROUP BY``.

    Parameters
    ----------
    source : path-like or duckdb.DuckDBPyRelation
        Processed folder, parquet file, hive-partitioned parquet folder, or a
        DuckDB relation over decisions (queried on its own connection).
    strata : sequence of str
        Stratum columns.
    where : str, optional
        SQL filter (e.g. one week), applied to the counts and to the draw alike.

    Returns
    -------
    StratumCounts

    References
    ----------
    .. [1] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, Ch. 5.
    """
    from modqa_lib.data import duck

    strata = [strata] if isinstance(strata, str) else list(strata)
    if not strata or len(set(strata)) != len(strata):
        raise SamplingError(f"strata must be a non-empty list of distinct column names, got {strata!r}")
    cols = ", ".join(strata)
    select = f"{cols}, count(*) AS n, hash({cols}) AS {_HASH}"
    if _is_relation(source):
        _check_strata(list(source.columns), strata)  # type: ignore[union-attr]
        counts = _relation_sql(source, select, where, cols).df()  # type: ignore[arg-type]
    else:
        con = duck.connect()
        try:
            scan = _scan(source)  # type: ignore[arg-type]
            _check_strata([r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()], strata)
            sql = f"SELECT {select} FROM {scan}" + (f" WHERE {where}" if where else "") + f" GROUP BY {cols}"
            counts = con.execute(sql).df()
        finally:
            con.close()
    hashes = counts.pop(_HASH).to_numpy(dtype=np.uint64)
    for c in strata:
        if counts[c].dtype == object:
            counts[c] = counts[c].astype("str")
    return StratumCounts(counts.reset_index(drop=True), strata, source, hashes)


#: column name of DuckDB's hash of a row's strata values, in the counts and the draw queries
_HASH = "_modqa_stratum_hash"


def _check_strata(have: Sequence[str], strata: Sequence[str]) -> None:
    missing = [c for c in strata if c not in have]
    if missing:
        raise DataContractError(
            [{"table": "decisions", "column": c, "rule": "missing (stratum column)", "count": 0} for c in missing]
        )


class _StratumCoder:
    """Stratum index per row of a batch, from one ``index_in`` per stratum column (no key strings built).

    A row's stratum is the one whose values, spelt as the allocation spells them
    (text; missing -> ``<NA>``), equal the row's: the same match as on the joined key.
    """

    def __init__(self, st, strata: Sequence[str]):
        from modqa_lib.stats.sampling.allocation import _key_strings

        self.strata = list(strata)
        self.uniques, per_col = [], []
        for c in self.strata:
            spelt = np.asarray(_key_strings(st.values[c]), dtype=object)
            u, inv = np.unique(spelt.astype(str), return_inverse=True)
            self.uniques.append(pa.array(u.tolist(), type=pa.string()))
            per_col.append(inv.astype(np.int64))
        self.sizes = [len(u) for u in self.uniques]
        combined = np.zeros(len(st.keys), dtype=np.int64)
        for inv, size in zip(per_col, self.sizes):
            combined = combined * size + inv
        self.lookup = np.full(int(np.prod(self.sizes)) if self.sizes else 0, -1, dtype=np.int64)
        self.lookup[combined] = np.arange(len(st.keys))

    def codes(self, batch: pa.RecordBatch) -> np.ndarray:
        combined = np.zeros(batch.num_rows, dtype=np.int64)
        for c, u, size in zip(self.strata, self.uniques, self.sizes):
            col = batch.column(batch.schema.get_field_index(c))
            if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
                col = pc.cast(col, pa.string())
            idx = pc.index_in(pc.fill_null(col, NA_KEY), value_set=u)
            if idx.null_count:  # pragma: no cover - counts and draw read the same rows
                raise SamplingError("the log changed between counting and drawing; run the draw again")
            combined *= size
            combined += idx.to_numpy(zero_copy_only=False)
        out = self.lookup[combined]
        if (out < 0).any():  # pragma: no cover - a value combination the counts did not see
            raise SamplingError("the log changed between counting and drawing; run the draw again")
        return out


class _HashCoder:
    """Stratum index per row of a batch from DuckDB's ``hash(strata...)`` (second column), by a binary search.

    The counts query hashed every stratum with the same expression over the same
    columns, so no stratum value is decoded or compared in Python.
    """

    def __init__(self, lookup: tuple[np.ndarray, np.ndarray]):
        self.hashes, self.index = lookup
        # a slot per stratum from a few bits of its hash (a table lookup per row, no search);
        # if no bit window separates all strata, the slot is the hash's rank (binary search)
        self.shift: np.uint64 | None = None
        bits = max(1, int(len(self.hashes) - 1).bit_length() + 3)
        for shift in range(0, 64 - bits + 1, 4):
            slot = (self.hashes >> np.uint64(shift)) & np.uint64((1 << bits) - 1)
            if len(np.unique(slot)) == len(slot):
                self.shift, self.mask = np.uint64(shift), np.uint64((1 << bits) - 1)
                self.table = np.zeros(1 << bits, dtype=np.int64)
                self.table[slot.astype(np.int64)] = np.arange(len(slot))
                break

    def codes(self, batch: pa.RecordBatch) -> np.ndarray:
        h = batch.column(1).to_numpy(zero_copy_only=False)
        if self.shift is not None:
            pos = self.table[((h >> self.shift) & self.mask).astype(np.intp)]
        else:
            pos = np.minimum(np.searchsorted(self.hashes, h), len(self.hashes) - 1)
        if not np.array_equal(self.hashes[pos], h):  # a stratum the counts did not see
            raise SamplingError("the log changed between counting and drawing; run the draw again")
        return self.index[pos]


def draw_from_log(
    source: str | os.PathLike | duckdb.DuckDBPyRelation,
    st,
    alloc: np.ndarray,
    strata: Sequence[str],
    rng: np.random.Generator,
    where: str | None = None,
    batch_rows: int = BATCH_ROWS,
    *,
    strata_hashes: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The stratified PRN draw over a log on disk or a DuckDB relation; see the module docstring.

    ``strata_hashes`` (from :meth:`StratumCounts.hash_lookup` of the counts of the
    same source and filter) lets DuckDB code the strata: the draw then reads the id
    and one hash per row instead of the strata values. Returns the chosen decisions
    (all columns, in log order) plus ``stratum``, ``inclusion_prob`` and ``weight``.
    """
    from modqa_lib.data import duck

    strata = list(strata)
    coder: _HashCoder | _StratumCoder
    if strata_hashes is not None:
        coder = _HashCoder(strata_hashes)
        cols = f"{S.DECISION_ID}, hash({', '.join(strata)}) AS {_HASH}"
    else:
        coder = _StratumCoder(st, strata)
        cols = ", ".join([S.DECISION_ID, *strata])
    if _is_relation(source):
        rel: duckdb.DuckDBPyRelation = source  # type: ignore[assignment]
        c_id, c_code = _stream_draw(_relation_sql(rel, cols, where).to_arrow_reader(batch_rows), coder, alloc, rng)
        out = _read_back_stream(_relation_sql(rel, "*", where).to_arrow_reader(_READ_BACK_ROWS), c_id, c_code)
    else:
        con = duck.connect()
        try:
            scan = _scan(source)  # type: ignore[arg-type]
            sql = f"SELECT {cols} FROM {scan}" + (f" WHERE {where}" if where else "")
            c_id, c_code = _stream_draw(con.sql(sql).to_arrow_reader(batch_rows), coder, alloc, rng)
            # the chosen ids pushed into one more scan; DuckDB keeps it within duck.MEMORY_LIMIT
            con.register("_chosen", pa.table({S.DECISION_ID: c_id, "_h": c_code}))
            out = con.execute(
                f"SELECT d.*, c._h FROM {scan} d JOIN _chosen c USING ({S.DECISION_ID})"
                + (f" WHERE {where}" if where else "")
            ).df()
        finally:
            con.close()
    out = _typed(out)
    h = out.pop("_h").to_numpy(dtype=np.int64)
    out[S.STRATUM] = pd.array(st.keys[h].astype(str), dtype="str")
    out[S.INCLUSION_PROB] = alloc[h] / st.pop[h]
    out[S.WEIGHT] = st.pop[h] / alloc[h]
    return out


#: rows per Arrow batch when a relation's chosen rows are read back (all columns: keep batches small)
_READ_BACK_ROWS = 250_000


def _read_back_stream(reader, c_id: pa.Array, c_code: np.ndarray) -> pd.DataFrame:
    """The chosen rows of a streamed source, in source order, with their stratum code ``_h``; one batch in memory."""
    code_of = dict(zip(c_id.to_pylist(), c_code.tolist()))
    parts = []
    schema = reader.schema
    for batch in reader:
        ids = batch.column(schema.get_field_index(S.DECISION_ID))
        mask = pc.is_in(ids, value_set=c_id)
        if pc.any(mask).as_py():
            parts.append(batch.filter(mask))
    tab = pa.Table.from_batches(parts, schema=schema)
    out = tab.to_pandas()
    out["_h"] = np.asarray([code_of[i] for i in out[S.DECISION_ID]], dtype=np.int64)
    return out


def _stream_draw(reader, coder: _HashCoder | _StratumCoder, alloc: np.ndarray, rng: np.random.Generator):
    """Ids and stratum codes of the n_h smallest PRN keys per stratum, over streamed batches.

    ``reader`` yields batches of ``decision_id`` then what ``coder`` reads the strata from.
    """
    from modqa_lib.stats.sampling.draw import _id_hash

    salt = int(rng.integers(0, 2**63, dtype=np.int64))  # as _prn_keys: same seed, same keys
    thr = np.full(len(alloc), _MAX, dtype=np.uint64)
    c_key = np.zeros(0, dtype=np.uint64)
    c_code = np.zeros(0, dtype=np.int64)
    c_id = pa.array([], type=pa.large_string())
    # candidates of several batches are gathered, then cut down to the n_h smallest at once
    pend_key: list[np.ndarray] = []
    pend_code: list[np.ndarray] = []
    pend_id: list[pa.Array] = []
    pending, limit = 0, max(4 * int(alloc.sum()), _COMPACT_ROWS)
    for batch in reader:
        if batch.num_rows == 0:
            continue
        ids = batch.column(0)
        if ids.null_count:
            raise DataContractError(
                [{"table": "decisions", "column": S.DECISION_ID, "rule": "must not be empty", "count": ids.null_count}]
            )
        codes = coder.codes(batch)
        h = _id_hash(ids, salt)
        idx = np.flatnonzero((h <= thr[codes]) & (alloc[codes] > 0))
        if not len(idx):
            continue
        pend_key.append(h[idx])
        pend_code.append(codes[idx])
        pend_id.append(pc.cast(ids.take(pa.array(idx)), pa.large_string()))
        pending += len(idx)
        if pending >= limit:
            c_key, c_code, c_id, thr = _keep_smallest(
                np.concatenate([c_key, *pend_key]),
                np.concatenate([c_code, *pend_code]),
                pa.concat_arrays([c_id, *pend_id]),
                alloc,
            )
            pend_key, pend_code, pend_id, pending = [], [], [], 0
    if pending:
        c_key, c_code, c_id, thr = _keep_smallest(
            np.concatenate([c_key, *pend_key]),
            np.concatenate([c_code, *pend_code]),
            pa.concat_arrays([c_id, *pend_id]),
            alloc,
        )
    if len(c_key) != int(alloc.sum()):  # pragma: no cover
        raise RuntimeError("drawn sample size differs from the allocation; this is a bug")
    if len(np.unique(c_key)) != len(c_key):
        raise DataContractError([{"table": "decisions", "column": S.DECISION_ID, "rule": "must be unique", "count": 1}])
    return c_id, c_code


#: candidate rows gathered before they are cut down to the n_h smallest keys per stratum
_COMPACT_ROWS = 500_000


def _keep_smallest(key: np.ndarray, code: np.ndarray, ids: pa.Array, alloc: np.ndarray):
    """The ``alloc[h]`` smallest keys per stratum h, and the new threshold per stratum.

    The threshold is the largest kept key of a full stratum (no later row with a
    larger key can enter it) and the largest uint64 for the others.
    """
    if len(alloc) < 2**15:  # np.lexsort((key, code)), twice as fast: by key, then stably by stratum (int16: radix)
        by_key = np.argsort(key)
        order = by_key[np.argsort(code[by_key].astype(np.int16), kind="stable")]
    else:  # pragma: no cover - more than 32,767 strata
        order = np.lexsort((key, code))
    sc = code[order]
    start = np.searchsorted(sc, sc, side="left")
    sel = order[(np.arange(len(sc)) - start) < alloc[sc]]
    key, code, ids = key[sel], code[sel], ids.take(pa.array(sel))
    thr = np.full(len(alloc), _MAX, dtype=np.uint64)
    if len(code):
        last = np.flatnonzero(np.append(code[1:] != code[:-1], True))  # sel is sorted by (code, key)
        full = np.bincount(code, minlength=len(alloc))[code[last]] >= alloc[code[last]]
        thr[code[last][full]] = key[last][full]
    return key, code, ids, thr


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Contract dtypes for the contract columns present (other columns as DuckDB gives them)."""
    out = df.copy()
    for col in S.TABLES["decisions"].columns:
        if col.name in out.columns:
            out[col.name] = out[col.name].astype(_DTYPES[col.dtype][col.nullable])  # type: ignore[call-overload]
    return out


#: contract dtype -> pandas dtype (non-nullable, nullable), as validation gives them (without importing pandera)
_DTYPES = {
    "str": ("str", "str"),
    "float": ("float64", "float64"),
    "datetime": (pd.DatetimeTZDtype("us", "UTC"),) * 2,
    "int": ("int64", "Int64"),
    "bool": ("bool", "boolean"),
}


def stratified_sample_log(
    source: str | os.PathLike | duckdb.DuckDBPyRelation,
    strata: Sequence[str],
    n,
    allocation: str = "proportional",
    min_per_stratum: int = 1,
    prior_error_rates=None,
    default_prior: float = 0.5,
    *,
    seed,
    where: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> pd.DataFrame:
    """:func:`~modqa_lib.stats.sampling.stratified_sample` over a log on disk (same seed, same sample)."""
    from modqa_lib.stats.sampling.allocation import _allocate

    rng = _rng(seed)
    strata = [strata] if isinstance(strata, str) else list(strata)
    counts = stratum_counts(source, strata, where)
    st, _, alloc = _allocate(counts, strata, n, allocation, min_per_stratum, prior_error_rates, default_prior)
    return draw_from_log(
        source, st, alloc, strata, rng, where=where, batch_rows=batch_rows, strata_hashes=counts.hash_lookup()
    )
