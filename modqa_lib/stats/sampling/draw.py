"""The stratified draw by permanent random numbers, and prior error rates per stratum."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import require_columns
from modqa_lib.errors import DataContractError, SamplingError
from modqa_lib.stats.sampling._common import STRATUM_SEP, _rng
from modqa_lib.stats.sampling.allocation import _allocate, _key_strings
from modqa_lib.stats.sampling.log import is_log_source, stratified_sample_log

# ---------------------------------------------------------- permanent random numbers
_GOLDEN64 = 0x9E3779B97F4A7C15
_HASH_CHUNK = 1 << 20


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea and Flood 2014), in place on a uint64 array."""
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _hash_words(block: np.ndarray, length: int, salt: int) -> np.ndarray:
    """Hash rows of a (rows, length) uint8 block: SplitMix64 over little-endian 8-byte words."""
    n_words = max(1, -(-length // 8))
    buf = np.zeros((len(block), n_words * 8), dtype=np.uint8)
    buf[:, :length] = block
    words = buf.view("<u8")
    h = np.full(len(block), (salt ^ (length * _GOLDEN64)) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
    for w in range(n_words):
        h ^= words[:, w]
        _splitmix64(h)
    return h


def _id_hash(ids: pd.Series, salt: int) -> np.ndarray:
    """Salted 64-bit hash of each id's UTF-8 text; the same for any dtype holding the same text.

    Ids are read as Arrow strings (numbers become their decimal text), and each
    id's bytes are folded 8 at a time through the SplitMix64 finaliser, seeded
    by the salt and the byte length. Vectorised per id length, in chunks.
    """
    arr = pa.array(ids)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type not in (pa.string(), pa.large_string()):
        arr = pc.cast(arr, pa.large_string())
    off_type = np.int64 if arr.type == pa.large_string() else np.int32
    offsets: np.ndarray = np.frombuffer(arr.buffers()[1], dtype=off_type)[arr.offset : arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    data = (
        np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(0, dtype=np.uint8)
    )
    lengths = np.diff(offsets)
    out = np.empty(len(arr), dtype=np.uint64)
    if len(arr) == 0:
        return out
    if lengths.min() == lengths.max():  # fixed width (typical ids): one contiguous block
        length = int(lengths[0])
        block = data[offsets[0] : offsets[-1]].reshape(len(arr), length)
        for c in range(0, len(arr), _HASH_CHUNK):
            out[c : c + _HASH_CHUNK] = _hash_words(block[c : c + _HASH_CHUNK], length, salt)
        return out
    starts = offsets[:-1]
    for width in np.flatnonzero(np.bincount(lengths)):
        rows = np.flatnonzero(lengths == width)
        length = int(width)
        for c in range(0, len(rows), _HASH_CHUNK):
            r = rows[c : c + _HASH_CHUNK]
            block = data[starts[r][:, None] + np.arange(length)]
            out[r] = _hash_words(block, length, salt)
    return out


def _prn_keys(decisions: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Permanent random number per row as a uint64, from the decision id and a salt from ``rng``.

    Divide by 2**64 for a uniform number in [0, 1) (see :func:`_unit`).
    """
    require_columns(decisions, [S.DECISION_ID], "the sample draw", table="decisions", hint="it keys the random draw")
    ids = decisions[S.DECISION_ID]
    if ids.isna().any():
        raise DataContractError(
            [
                {
                    "table": "decisions",
                    "column": S.DECISION_ID,
                    "rule": "must not be empty",
                    "count": int(ids.isna().sum()),
                }
            ]
        )
    salt = int(rng.integers(0, 2**63, dtype=np.int64))
    h = _id_hash(ids, salt)
    if len(h) > 1:
        srt = np.sort(h)
        if np.any(srt[1:] == srt[:-1]) and ids.duplicated().any():
            dup = ids[ids.duplicated()].unique()[:5].tolist()
            raise DataContractError(
                [
                    {
                        "table": "decisions",
                        "column": S.DECISION_ID,
                        "rule": f"must be unique (duplicates: {dup})",
                        "count": int(ids.duplicated().sum()),
                    }
                ]
            )
    return h


def _unit(keys: np.ndarray) -> np.ndarray:
    """uint64 keys to floats in [0, 1) (top 53 bits)."""
    return (keys >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def _argsort_keys(keys: np.ndarray) -> np.ndarray:
    """Indices that sort distinct uint64 keys, faster than ``np.argsort``.

    Packs the key's top bits with the row index into one uint64 and sorts
    values (SIMD sort) instead of indices; runs whose top bits tie are then
    ordered by the full key, so the result is exactly ``argsort(keys)``.
    """
    n = len(keys)
    bits = max(1, (n - 1).bit_length())
    if bits > 40:  # pragma: no cover - more than 2**40 rows
        return np.argsort(keys, kind="stable")
    shift = np.uint64(bits)
    packed = (keys >> shift) << shift
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    idx = (packed & np.uint64((1 << bits) - 1)).astype(np.int64)
    top = packed >> shift
    tie = np.flatnonzero(top[1:] == top[:-1])
    if tie.size:
        run_start = tie[np.concatenate([[True], np.diff(tie) > 1])]
        for s0 in run_start:
            s1 = s0 + 1
            while s1 < n and top[s1] == top[s0]:
                s1 += 1
            run = idx[s0:s1]
            idx[s0:s1] = run[np.lexsort((run, keys[run]))]
    return idx


def stratified_sample(
    decisions: pd.DataFrame,
    strata: Sequence[str],
    n,
    allocation: str = "proportional",
    min_per_stratum: int = 1,
    prior_error_rates=None,
    default_prior: float = 0.5,
    *,
    seed,
) -> pd.DataFrame:
    """Draw a stratified simple random sample of decisions without replacement.

    Parameters
    ----------
    decisions : DataFrame, path-like or duckdb.DuckDBPyRelation
        Population; needs ``decision_id`` (unique, non-empty) and the strata columns.
        A path (processed folder, parquet file, hive-partitioned folder) or a DuckDB
        relation is sampled without loading it (:mod:`modqa_lib.stats.sampling.log`):
        the same seed gives the same sample, rows come back in the order of the log.
    strata, n, allocation, min_per_stratum, prior_error_rates, default_prior
        As in :func:`allocate`.
    seed : int or numpy.random.Generator
        Same data, parameters and seed give the same sample, whatever the row order.

    Returns
    -------
    DataFrame
        The selected rows (a copy, original index and column order, in input
        row order) plus ``stratum`` (key ``"a|b|c"``), ``inclusion_prob``
        (n_h / N_h) and ``weight`` (N_h / n_h).

    Raises
    ------
    SamplingError
        As :func:`allocate`: never returns fewer rows than asked.
    DataContractError
        Missing columns, empty or duplicated decision ids.

    Notes
    -----
    Within stratum h the n_h decisions with the smallest permanent random
    numbers are taken, which is simple random sampling without replacement
    [2]_, so every decision in h has inclusion probability n_h / N_h and the
    Horvitz-Thompson estimator [1]_ with ``weight`` is design-unbiased. Tested
    by simulation: over repeated draws with unequal inclusion probabilities
    the weighted accuracy is unbiased and the unweighted one is not.

    References
    ----------
    .. [1] Horvitz, D. G. and Thompson, D. J. (1952). *JASA* 47, 663-685.
    .. [2] Ohlsson, E. (1995). Coordination of samples using permanent random
       numbers. In Cox et al. (eds), *Business Survey Methods*, Wiley, 153-169.
    .. [3] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, Ch. 5.
    """
    if is_log_source(decisions):  # a log on disk: GROUP BY counts and a streamed draw (sampling.log)
        return stratified_sample_log(
            decisions,  # type: ignore[arg-type]  # a path or a relation here (is_log_source)
            strata,
            n,
            allocation,
            min_per_stratum,
            prior_error_rates,
            default_prior,
            seed=seed,
        )
    rng = _rng(seed)
    st, _, alloc = _allocate(decisions, strata, n, allocation, min_per_stratum, prior_error_rates, default_prior)
    keys = _prn_keys(decisions, rng)
    pop = st.pop
    n_strata = len(pop)
    code_dtype = np.int16 if n_strata < 2**15 else np.int64  # int16 sorts by radix: fast
    order = np.argsort(st.codes.astype(code_dtype), kind="stable")
    bounds = np.concatenate([[0], np.cumsum(pop)])
    chosen = []
    for h in np.flatnonzero(alloc):
        seg = order[bounds[h] : bounds[h + 1]]
        k = int(alloc[h])
        if k >= len(seg):
            chosen.append(seg)
        else:
            chosen.append(seg[np.argpartition(keys[seg], k - 1)[:k]])
    sel = np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)
    if len(sel) != int(alloc.sum()):  # pragma: no cover
        raise RuntimeError("drawn sample size differs from the allocation; this is a bug")
    out = decisions.iloc[sel].copy()
    h = st.codes[sel]  # type: ignore[assignment]  # the strata of the drawn rows
    out[S.STRATUM] = pd.array(st.keys[h].astype(str), dtype="str")
    out[S.INCLUSION_PROB] = alloc[h] / pop[h]
    out[S.WEIGHT] = pop[h] / alloc[h]
    return out


def estimate_prior_error_rates(
    decisions: pd.DataFrame, audits: pd.DataFrame, strata: Sequence[str], strength: float = 20.0
) -> pd.DataFrame:
    """Prior error rate per stratum from past audits, shrunk towards the overall rate.

    Parameters
    ----------
    decisions : DataFrame
        Decisions holding ``decision_id`` and the strata columns.
    audits : DataFrame
        Past audits (``decision_id``, ``is_error``; ``weight`` and
        ``is_golden`` used when present; golden audits are ignored).
    strata : list of str
    strength : float, default 20
        Pseudo-audits of the overall rate added to each stratum: a stratum
        with few audits stays close to the overall rate.

    Returns
    -------
    DataFrame
        ``stratum``, the strata columns, ``n`` (audits) and ``error_rate``
        = (n r_h + k r) / (n + k), with r_h the design-weighted (Hajek) error
        rate of the stratum and r the overall one. Empty when there are no audits.

    Notes
    -----
    Additive (beta-prior) shrinkage [1]_; only the relative sizes of
    sqrt(p (1 - p)) matter for Neyman allocation, so a rough prior is enough.

    References
    ----------
    .. [1] Gelman, A. et al. (2013). *Bayesian Data Analysis*, 3rd ed. CRC, Sect. 2.4-2.7.
    """
    strata = [strata] if isinstance(strata, str) else list(strata)
    strength = float(strength)
    if strength < 0:
        raise SamplingError(f"strength must be >= 0, got {strength}")
    cols = [S.STRATUM, *strata, S.N, S.ERROR_RATE]
    aud = audits
    if S.IS_GOLDEN in aud.columns:
        aud = aud[~aud[S.IS_GOLDEN].astype(bool)]
    require_columns(decisions, [S.DECISION_ID, *strata], "estimate_prior_error_rates", table="decisions")
    m = aud[[c for c in (S.DECISION_ID, S.IS_ERROR, S.WEIGHT) if c in aud.columns]].merge(
        decisions[[S.DECISION_ID, *strata]], on=S.DECISION_ID, how="inner"
    )
    if m.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c == S.ERROR_RATE else object) for c in cols})
    w = m[S.WEIGHT].astype(float) if S.WEIGHT in m.columns else pd.Series(1.0, index=m.index)
    e = m[S.IS_ERROR].astype(float)
    overall = float((w * e).sum() / w.sum())
    g = (
        pd.DataFrame({"we": w * e, "w": w, "one": 1})
        .groupby([m[c] for c in strata], dropna=False, observed=True, sort=True)
        .sum()
    )
    rate = g["we"] / g["w"]
    out = g.index.to_frame(index=False)
    out[S.N] = g["one"].to_numpy().astype(np.int64)
    out[S.ERROR_RATE] = ((out[S.N] * rate.to_numpy() + strength * overall) / (out[S.N] + strength)).to_numpy()
    out.insert(
        0,
        S.STRATUM,
        out[strata].astype(object).apply(lambda r: STRATUM_SEP.join(_key_strings(r)), axis=1).astype("str"),
    )
    return out[cols]
