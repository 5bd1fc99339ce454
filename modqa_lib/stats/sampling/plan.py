"""Reproducible sample plans: fingerprint, make, save, load and redraw."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import require_columns
from modqa_lib.errors import InputFileError, SamplingError
from modqa_lib.stats.sampling import _logread
from modqa_lib.stats.sampling._common import PLAN_FORMAT, FingerprintMismatchError
from modqa_lib.stats.sampling.allocation import _prior_map
from modqa_lib.stats.sampling.draw import stratified_sample
from modqa_lib.stats.sampling.log import _typed as _typed_log
from modqa_lib.stats.sampling.log import is_log_source, stratified_sample_log
from modqa_lib.stats.sampling.risk import _FLAG_COLUMNS, _FLAGS, RiskWeights, risk_weighted_sample


# ===================================================================== plans
@dataclass(frozen=True)
class SamplePlan:
    """Everything needed to reproduce and check a sample draw.

    Attributes
    ----------
    sample_id : str
        Deterministic id from method, parameters, seed and data fingerprint.
    method : {"stratified", "risk_weighted"}
    params : dict
        JSON-safe keyword arguments of :func:`stratified_sample` or
        :func:`risk_weighted_sample` (without ``seed``).
    seed : int
    fingerprint : str
        :func:`decisions_fingerprint` of the population drawn from.
    fingerprint_columns : tuple of str
    counts : dict
        ``population``, ``drawn``, ``strata`` and ``by_stratum`` (rows drawn per stratum).
    created_at : str
        UTC time, ISO 8601.
    metadata : dict
        Free context (week, unit, margin, ...); not used to draw.
    """

    sample_id: str
    method: str
    params: dict
    seed: int
    fingerprint: str
    fingerprint_columns: tuple[str, ...]
    counts: dict
    created_at: str
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fingerprint_columns"] = list(self.fingerprint_columns)
        return {"format": PLAN_FORMAT, **d}

    @classmethod
    def from_dict(cls, d: Mapping) -> SamplePlan:
        d = dict(d)
        fmt = d.pop("format", None)
        if fmt != PLAN_FORMAT:
            raise InputFileError(f"not a modqa sample plan (format {fmt!r}, expected {PLAN_FORMAT})")
        names = {f.name for f in fields(cls)}
        missing = sorted(n for n in names - set(d) if n != "metadata")
        if missing:
            raise InputFileError(f"sample plan is missing key(s) {missing}")
        d = {k: v for k, v in d.items() if k in names}
        d["fingerprint_columns"] = tuple(d["fingerprint_columns"])
        return cls(**d)


def decisions_fingerprint(decisions, columns: Sequence[str] = (), *, where: str | None = None) -> str:
    """Order-independent SHA-256 fingerprint of decision ids and the columns a draw uses.

    Parameters
    ----------
    decisions : DataFrame, path-like or duckdb.DuckDBPyRelation
        The population. A log source (processed folder, parquet file,
        hive-partitioned folder or DuckDB relation, see
        :func:`~modqa_lib.stats.sampling.log.is_log_source`) is streamed in Arrow
        record batches and never loaded whole; it gives the same fingerprint as
        the same rows in a DataFrame.
    columns : sequence of str
        Columns besides ``decision_id`` (e.g. the strata).
    where : str, optional
        SQL filter on a log source (e.g. one week); not allowed with a DataFrame.

    Returns
    -------
    str
        16 hex characters. Row order does not matter (row hashes are sorted),
        matching the order-independence of the draw; any change of an id or a
        listed value, or of the number of rows, changes it.

    Notes
    -----
    Each row is hashed with :func:`pandas.util.hash_pandas_object` (the listed
    columns, with their contract dtypes); the sorted row hashes are fed to
    SHA-256 after the column names and the row count. A log is hashed batch by
    batch into one uint64 array (8 bytes per row: 0.8 GB at 100M rows).
    """
    fp, _ = _fingerprint_rows(decisions, columns, where)
    return fp


def _fingerprint_rows(decisions, columns: Sequence[str], where: str | None) -> tuple[str, int]:
    """The fingerprint and the number of rows it covers."""
    cols = list(dict.fromkeys([S.DECISION_ID, *columns]))
    if is_log_source(decisions):
        h = _log_row_hashes(decisions, cols, where)
    else:
        if where is not None:
            raise SamplingError("where= filters a log on disk or a DuckDB relation; filter a DataFrame before")
        require_columns(decisions, cols, "decisions_fingerprint", table="decisions")
        h = pd.util.hash_pandas_object(decisions[cols], index=False).to_numpy()
        h = np.sort(h)
    sha = hashlib.sha256()
    sha.update("\x1f".join(cols).encode())
    sha.update(str(len(h)).encode())
    sha.update(h.tobytes())
    return sha.hexdigest()[:16], len(h)


def _log_row_hashes(source, cols: list[str], where: str | None) -> np.ndarray:
    """Sorted row hashes of a log source, as the DataFrame path computes them, one batch in memory."""
    have = _logread.columns(source)
    require_columns(pd.DataFrame(columns=list(have)), cols, "decisions_fingerprint", table="decisions")
    n = int(_logread.query(source, "count(*) AS n", where)["n"].iloc[0])
    h = np.empty(n, dtype=np.uint64)
    at = 0
    fast: bool | None = None  # decided on the first batch
    for batch in _logread.batches(source, cols, where):
        if batch.num_rows == 0:
            continue
        if at + batch.num_rows > n:  # pragma: no cover - the log grew while it was read
            raise SamplingError("the log changed while it was fingerprinted; run the draw again")
        if fast is None:  # the Arrow hashes must equal pandas' on real rows, else pandas hashes every batch
            head = batch.slice(0, 2_000)
            fast = all(_is_text(c) for c in batch.columns) and np.array_equal(
                _arrow_row_hashes(head), _pandas_row_hashes(head, cols)
            )
        rows = _arrow_row_hashes(batch) if fast else _pandas_row_hashes(batch, cols)
        h[at : at + batch.num_rows] = rows
        at += batch.num_rows
    if at != n:  # pragma: no cover
        raise SamplingError("the log changed while it was fingerprinted; run the draw again")
    h.sort()
    return h


_U8MAX = np.uint64(np.iinfo(np.uint64).max)


def _pandas_row_hashes(batch: pa.RecordBatch, cols: list[str]) -> np.ndarray:
    """Row hashes of a batch as the DataFrame path computes them (contract dtypes, hash_pandas_object)."""
    return pd.util.hash_pandas_object(_typed_log(batch.to_pandas())[cols], index=False).to_numpy()


def _is_text(col) -> bool:
    t = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _arrow_text_hashes(col: pa.Array, distinct_few: bool) -> np.ndarray:
    """:func:`pandas.util.hash_array` of a text column's values (missing -> 2**64 - 1), as pandas hashes text.

    Columns with few distinct values (strata) hash their dictionary once; ids are hashed directly.
    """
    if distinct_few:
        enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
        words = np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        per_value = pd.util.hash_array(words, categorize=False) if len(words) else np.zeros(1, dtype=np.uint64)
        idx = enc.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        out = per_value.take(idx) if len(words) else np.zeros(len(col), dtype=np.uint64)
    else:
        words = np.asarray(col.fill_null("").to_numpy(zero_copy_only=False), dtype=object)
        out = pd.util.hash_array(words, categorize=False)
    if col.null_count:
        out[np.asarray(col.is_null())] = _U8MAX
    return out


def _arrow_row_hashes(batch: pa.RecordBatch) -> np.ndarray:
    """``hash_pandas_object(frame, index=False)`` of an all-text batch, from Arrow (about 3x faster).

    Column hashes are combined as pandas combines them (CPython's tuple hash,
    ``pandas.core.util.hashing.combine_hash_arrays``); the first batch of every
    fingerprint is checked against pandas itself, so a pandas that hashes
    differently falls back to it instead of giving another fingerprint.
    """
    arrays = [_arrow_text_hashes(c, distinct_few=i > 0) for i, c in enumerate(batch.columns)]
    mult = np.uint64(1000003)
    out = np.zeros(batch.num_rows, dtype=np.uint64) + np.uint64(0x345678)
    k = len(arrays)
    for i, a in enumerate(arrays):
        out ^= a
        out *= mult
        mult += np.uint64(82520 + 2 * (k - i))
    out += np.uint64(97531)
    return out


def _jsonable(v):
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _plan_params(method: str, params: dict) -> tuple[dict, list[str]]:
    """JSON-safe parameters and the data columns the draw depends on."""
    p = dict(params)
    if method == "stratified":
        allowed = {"strata", "n", "allocation", "min_per_stratum", "prior_error_rates", "default_prior"}
        unknown = sorted(set(p) - allowed)
        if unknown:
            raise SamplingError(f"unknown parameter(s) for a stratified plan: {unknown}")
        if "strata" not in p or "n" not in p:
            raise SamplingError("a stratified plan needs strata= and n=")
        strata = [p["strata"]] if isinstance(p["strata"], str) else list(p["strata"])
        p["strata"] = strata
        if isinstance(p["n"], Mapping):
            p["n"] = {str(k): int(v) for k, v in p["n"].items()}
        if p.get("prior_error_rates") is not None:
            p["prior_error_rates"] = _prior_map(p["prior_error_rates"], strata)
        cols = strata
    elif method == "risk_weighted":
        allowed = {"n", "risk", "method"}
        unknown = sorted(set(p) - allowed)
        if unknown:
            raise SamplingError(f"unknown parameter(s) for a risk_weighted plan: {unknown}")
        if "n" not in p:
            raise SamplingError("a risk_weighted plan needs n=")
        risk = RiskWeights.coerce(p.get("risk"))
        if risk.critical_policies is None:  # freeze the taxonomy in the plan
            risk = RiskWeights.coerce(
                {**risk.to_dict(), "critical_policies": sorted(S.load_taxonomy().critical_policies)}
            )
        p["risk"] = risk.to_dict()
        cols = [_FLAG_COLUMNS[f] for f in _FLAGS if getattr(risk, f) != 1.0]
    else:
        raise SamplingError(f"method must be 'stratified' or 'risk_weighted', got {method!r}")
    return _jsonable(p), cols


def _draw(method: str, decisions, params: dict, seed: int, where: str | None = None) -> pd.DataFrame:
    if is_log_source(decisions):
        if method == "stratified":
            return stratified_sample_log(decisions, seed=seed, where=where, **params)
        return risk_weighted_sample(decisions, seed=seed, **params)  # raises: names the log path
    if where is not None:
        raise SamplingError("where= filters a log on disk or a DuckDB relation; filter a DataFrame before")
    if method == "stratified":
        return stratified_sample(decisions, seed=seed, **params)
    return risk_weighted_sample(decisions, seed=seed, **params)


def make_plan(
    decisions,
    method: str = "stratified",
    *,
    seed: int,
    sample_id: str | None = None,
    metadata: Mapping | None = None,
    return_sample: bool = False,
    where: str | None = None,
    **params,
):
    """Draw a sample and record how, so it can be saved and redrawn.

    Parameters
    ----------
    decisions : DataFrame, path-like or duckdb.DuckDBPyRelation
        The population (already filtered, e.g. to one week). A log source
        (processed folder, parquet file or folder, DuckDB relation) is drawn from
        and fingerprinted without loading it (stratified plans only), with the
        same sample, fingerprint and sample id as the same rows in a DataFrame.
    method : {"stratified", "risk_weighted"}, default "stratified"
    seed : int
        Must be an int (a Generator cannot be written to JSON).
    sample_id : str, optional
        Default: ``"S"`` + 10 hex characters derived from method, params, seed
        and fingerprint (same inputs, same id).
    metadata : mapping, optional
        JSON-safe context stored in the plan.
    return_sample : bool, default False
        Also return the drawn sample (with a ``sample_id`` column).
    where : str, optional
        SQL filter selecting the population of a log source (e.g. one week).
        Not recorded in the plan: like filtering a DataFrame, it chooses the data.
    **params
        Keyword arguments of :func:`stratified_sample` or :func:`risk_weighted_sample`.

    Returns
    -------
    SamplePlan, or (SamplePlan, DataFrame) when ``return_sample``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SamplingError(f"a plan needs an integer seed so it can be redrawn, got {seed!r}")
    seed = int(seed)
    p, cols = _plan_params(method, params)
    sample = _draw(method, decisions, p, seed, where)
    fp, n_rows = _fingerprint_rows(decisions, cols, where)
    if sample_id is None:
        blob = json.dumps({"m": method, "p": p, "s": seed, "f": fp}, sort_keys=True, default=str)
        sample_id = "S" + hashlib.sha256(blob.encode()).hexdigest()[:10]
    by_stratum = sample[S.STRATUM].value_counts().sort_index()
    counts = {
        "population": n_rows,
        "drawn": len(sample),
        "strata": len(by_stratum),
        "by_stratum": {str(k): int(v) for k, v in by_stratum.items()},
    }
    plan = SamplePlan(
        sample_id=str(sample_id),
        method=method,
        params=p,
        seed=seed,
        fingerprint=fp,
        fingerprint_columns=tuple(dict.fromkeys([S.DECISION_ID, *cols])),
        counts=counts,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        metadata=_jsonable(dict(metadata or {})),
    )
    if return_sample:
        sample[S.SAMPLE_ID] = plan.sample_id
        return plan, sample
    return plan


def save_plan(plan: SamplePlan, path: str | os.PathLike) -> Path:
    """Write a plan as indented JSON, atomically; return the path."""
    from modqa_lib.data.io import write_json_atomic

    return write_json_atomic(plan.to_dict(), path)


def load_plan(path: str | os.PathLike) -> SamplePlan:
    """Read a plan written by :func:`save_plan`.

    Raises
    ------
    InputFileError
        Missing file, invalid JSON or not a sample plan.
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"{p}: cannot read sample plan ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(raw, dict):
        raise InputFileError(f"{p}: not a modqa sample plan")
    try:
        return SamplePlan.from_dict(raw)
    except InputFileError as exc:
        raise InputFileError(f"{p}: {exc}") from None


def redraw(plan: SamplePlan, decisions, *, where: str | None = None) -> pd.DataFrame:
    """Redraw a plan's sample, after checking the data is the same.

    Parameters
    ----------
    plan : SamplePlan
    decisions : DataFrame, path-like or duckdb.DuckDBPyRelation
        The same population the plan was drawn from (any row order), or a log
        source holding it (with ``where`` selecting it).
    where : str, optional
        SQL filter on a log source, as given to :func:`make_plan`.

    Returns
    -------
    DataFrame
        The sample, identical to the original draw, with ``sample_id``.

    Raises
    ------
    FingerprintMismatchError
        The decisions differ (ids or the columns the draw used).
    """
    fp, n_rows = _fingerprint_rows(decisions, plan.fingerprint_columns, where)
    if fp != plan.fingerprint:
        raise FingerprintMismatchError(
            f"decisions differ from those sample plan {plan.sample_id} was drawn from "
            f"(fingerprint {fp} != {plan.fingerprint}; {n_rows} rows now, "
            f"{plan.counts.get('population')} then); redraw from the same data or make a new plan"
        )
    sample = _draw(plan.method, decisions, plan.params, plan.seed, where)
    if len(sample) != plan.counts.get("drawn", len(sample)):  # pragma: no cover
        raise SamplingError(f"redraw gave {len(sample)} rows, the plan recorded {plan.counts['drawn']}")
    sample[S.SAMPLE_ID] = plan.sample_id
    return sample
