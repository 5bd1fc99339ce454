"""Tests of modqa_lib.stats.sampling.log: sampling straight from a decisions log on disk.

Same seed, same sample whichever path (DataFrame, single parquet file, processed
folder, hive-partitioned dataset, any batch size), with the exact inclusion
probabilities; the allocation from GROUP BY counts equals the in-memory one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modqa_lib.contract import schema as S
from modqa_lib.data import io as mio
from modqa_lib.data.ingest import ingest
from modqa_lib.data.synthetic import write_demo_data
from modqa_lib.errors import DataContractError, SamplingError
from modqa_lib.stats.sampling import allocate, stratified_sample
from modqa_lib.stats.sampling.allocation import _allocate
from modqa_lib.stats.sampling.log import draw_from_log, stratum_counts

STRATA = [S.VENDOR, S.SITE, S.POLICY]
SIZES = {"Vendor A": 40, "Vendor B": 0, "Vendor C": 25, "Vendor D": 5, "Platform": 10}


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    base = tmp_path_factory.mktemp("slog")
    raw = write_demo_data(base / "raw", n_decisions=20_000)
    ingest(raw, base / "file")
    ingest(raw, base / "parts", partition_rows=0, batch_rows=7_000)
    dec = mio.load_processed(base / "file")["decisions"]
    return dec, base


def _key(df: pd.DataFrame) -> pd.DataFrame:
    cols = [S.DECISION_ID, S.STRATUM, S.INCLUSION_PROB, S.WEIGHT]
    return df[cols].sort_values(S.DECISION_ID, ignore_index=True)


@pytest.mark.parametrize("seed", [0, 7, 2026])
def test_same_seed_same_sample_from_every_source(logs, seed):
    dec, base = logs
    want = stratified_sample(dec, STRATA, 800, allocation="neyman", seed=seed)
    snap = mio.processed_snapshot(base / "parts")
    for src in (base / "file", base / "parts", str(base / "file" / "decisions.parquet"), snap / "decisions"):
        got = stratified_sample(src, STRATA, 800, allocation="neyman", seed=seed)
        pd.testing.assert_frame_equal(_key(got), _key(want))
        assert list(got.columns) == list(want.columns)
    # full rows come back with contract dtypes
    got = stratified_sample(base / "parts", STRATA, 800, allocation="neyman", seed=seed)
    pd.testing.assert_frame_equal(
        got.sort_values(S.DECISION_ID, ignore_index=True), want.sort_values(S.DECISION_ID, ignore_index=True)
    )


def test_other_seed_other_sample(logs):
    _, base = logs
    a = stratified_sample(base / "parts", STRATA, 500, seed=1)
    b = stratified_sample(base / "parts", STRATA, 500, seed=2)
    assert len(set(a[S.DECISION_ID]) & set(b[S.DECISION_ID])) < 100


@pytest.mark.parametrize("batch_rows", [333, 5_000, 10**7])
def test_batch_size_does_not_change_the_draw(logs, batch_rows):
    dec, base = logs
    want = stratified_sample(dec, [S.VENDOR], SIZES, seed=3)
    counts = stratum_counts(base / "parts", [S.VENDOR])
    st, _, alloc = _allocate(
        counts,
        [S.VENDOR],
        SIZES,
        "proportional",
        1,
        None,
        0.5,
    )
    got = draw_from_log(base / "parts", st, alloc, [S.VENDOR], np.random.default_rng(3), batch_rows=batch_rows)
    pd.testing.assert_frame_equal(_key(got), _key(want))


def test_allocation_from_counts_equals_in_memory(logs):
    dec, base = logs
    a = allocate(dec, STRATA, 1_000, allocation="neyman", prior_error_rates={"hate_speech": 0.1})
    b = allocate(base / "parts", STRATA, 1_000, allocation="neyman", prior_error_rates={"hate_speech": 0.1})
    pd.testing.assert_frame_equal(a, b)
    assert b["population"].sum() == 20_000 and b["allocated"].sum() == 1_000


def test_inclusion_probabilities_are_exact(logs):
    dec, base = logs
    got = stratified_sample(base / "parts", STRATA, 600, seed=11)
    pop = dec.assign(**{S.STRATUM: dec[S.VENDOR] + "|" + dec[S.SITE] + "|" + dec[S.POLICY]})[S.STRATUM].value_counts()
    drawn = got[S.STRATUM].value_counts()
    for h, p in got.groupby(S.STRATUM)[S.INCLUSION_PROB].unique().items():
        assert len(p) == 1 and p[0] == drawn[h] / pop[h]
    assert np.allclose(got[S.WEIGHT] * got[S.INCLUSION_PROB], 1)


def test_log_source_errors(logs, tmp_path):
    _, base = logs
    with pytest.raises(SamplingError, match="larger than the population"):
        stratified_sample(base / "parts", STRATA, 10**6, seed=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SamplingError, match="no parquet files"):
        stratified_sample(tmp_path / "empty", STRATA, 10, seed=1)


def test_duckdb_relation_gives_the_same_sample_and_allocation(logs):
    import duckdb

    dec, base = logs
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        rel = con.read_parquet(str(base / "file" / "decisions.parquet"))
        for seed in (0, 2026):
            want = stratified_sample(dec, STRATA, 700, allocation="neyman", seed=seed)
            got = stratified_sample(rel, STRATA, 700, allocation="neyman", seed=seed)
            pd.testing.assert_frame_equal(
                got.sort_values(S.DECISION_ID, ignore_index=True), want.sort_values(S.DECISION_ID, ignore_index=True)
            )
        # a relation with a filter: same as the DataFrame filtered alike
        sub = rel.filter(f"{S.VENDOR} <> 'Vendor B'")
        want = stratified_sample(dec[dec[S.VENDOR] != "Vendor B"], [S.VENDOR, S.POLICY], 300, seed=5)
        got = stratified_sample(sub, [S.VENDOR, S.POLICY], 300, seed=5)
        pd.testing.assert_frame_equal(_key(got), _key(want))
        pd.testing.assert_frame_equal(allocate(rel, STRATA, 500), allocate(dec, STRATA, 500))
        with pytest.raises(DataContractError, match="no_such_column"):
            stratified_sample(rel, ["no_such_column"], 10, seed=1)
    finally:
        con.close()


def test_strata_hashes_and_value_coding_draw_alike(logs, monkeypatch):
    """DuckDB's stratum hash (the fast path) and the strata values give the same draw, cut down often or once."""
    import modqa_lib.stats.sampling.log as slog

    dec, base = logs
    want = stratified_sample(dec, STRATA, 400, allocation="neyman", seed=9)
    counts = stratum_counts(base / "parts", STRATA)
    st, _, alloc = _allocate(counts, STRATA, 400, "neyman", 1, None, 0.5)
    assert counts.hash_lookup() is not None
    for compact in (slog._COMPACT_ROWS, 1):  # 1: candidates cut down after every batch past 4 n (thresholds in use)
        monkeypatch.setattr(slog, "_COMPACT_ROWS", compact)
        for hashes in (counts.hash_lookup(), None):
            got = draw_from_log(
                base / "parts", st, alloc, STRATA, np.random.default_rng(9), batch_rows=500, strata_hashes=hashes
            )
            pd.testing.assert_frame_equal(_key(got), _key(want))


def test_non_text_strata_give_the_same_sample(logs, tmp_path):
    """Integer, boolean and missing stratum values: the log path draws what the DataFrame path draws."""
    dec, _ = logs
    df = dec.assign(
        shift=(np.arange(len(dec)) % 3).astype("int64"),
        night=pd.array(np.where(np.arange(len(dec)) % 5 == 0, None, np.arange(len(dec)) % 2 == 0), dtype="boolean"),
    )
    path = tmp_path / "decisions.parquet"
    df.to_parquet(path, index=False)
    back = pd.read_parquet(path)
    for strata in ([S.VENDOR, "shift"], ["night", S.POLICY], ["shift", "night"]):
        want = stratified_sample(back, strata, 300, seed=4)
        got = stratified_sample(path, strata, 300, seed=4)
        pd.testing.assert_frame_equal(_key(got), _key(want))


def test_keep_smallest_matches_a_sort_per_stratum():
    """The cut-down keeps the alloc[h] smallest keys of each stratum; full strata get their largest kept key."""
    import pyarrow as pa

    from modqa_lib.stats.sampling.log import _MAX, _keep_smallest

    rng = np.random.default_rng(0)
    key = rng.integers(0, 2**63, 5_000, dtype=np.uint64)
    code = rng.integers(0, 6, 5_000)
    code[code == 5] = 4  # stratum 5 empty
    alloc = np.array([10, 0, 3, 900, 2_000, 4])
    ids = pa.array([f"d{i}" for i in range(len(key))], type=pa.large_string())
    k, c, i, thr = _keep_smallest(key, code, ids, alloc)
    for h in range(6):
        want = np.sort(key[code == h])[: alloc[h]]
        assert np.array_equal(np.sort(k[c == h]), want)
        full = (code == h).sum() >= alloc[h] and alloc[h] > 0
        assert thr[h] == (want.max() if full else _MAX)
    assert [int(s[1:]) for s in i.to_pylist()] == [int(np.flatnonzero(key == x)[0]) for x in k]


def test_hash_coder_with_and_without_a_bit_window():
    """Strata found by a table on some hash bits, or (no window tells them apart) by a binary search."""
    import pyarrow as pa

    from modqa_lib.stats.sampling.log import _HashCoder

    for hashes in (np.array([5, 2**40 + 7, 2**63 + 1], dtype=np.uint64), np.array([0, 2**62, 2**63], dtype=np.uint64)):
        index = np.array([2, 0, 1])
        coder = _HashCoder((hashes, index))
        assert (coder.shift is None) == (hashes[1] == 2**62)
        rows = np.array([2, 0, 1, 1, 2])
        batch = pa.record_batch([pa.array(["a"] * 5), pa.array(hashes[rows])], names=["decision_id", "h"])
        assert np.array_equal(coder.codes(batch), index[rows])
        bad = pa.record_batch([pa.array(["a"]), pa.array(np.array([3], dtype=np.uint64))], names=["decision_id", "h"])
        with pytest.raises(SamplingError, match="log changed"):
            coder.codes(bad)
