"""Benchmark: stratified and risk-weighted sampling on 10 million decisions.

Builds the decision rows in memory (numpy/pyarrow-generated columns: ids,
vendor, site, policy, content type, model score, tenure; about 200
vendor x site x policy strata), then times, best of 3,

* ``stratified_sample(decisions, [VENDOR, SITE, POLICY], n=50_000)`` (proportional),
* ``risk_weighted_sample(decisions, n=50_000)`` (systematic and Poisson).

Prints its figures (best wall-clock seconds, the CPU seconds of the process
for the same call, which is the fairer figure on a shared machine, and rows
per wall-clock second); writes nothing.

Usage::

    python bench/bench_sampling.py [--rows 10000000] [--n 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

from modqa_lib.contract import schema as S
from modqa_lib.stats.sampling import allocate, risk_weighted_sample, stratified_sample

STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


def _str_column(arrow_array) -> pd.Series:
    return pd.Series(ArrowStringArray(arrow_array, dtype=STR))


def _pick(values, codes) -> pd.Series:
    return _str_column(pc.take(pa.array(values), pa.array(codes)))


def build_decisions(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` synthetic decisions with 6 vendors x 3 sites x 11 policies (198 strata)."""
    rng = np.random.default_rng(seed)
    vendors = [f"Vendor {c}" for c in "ABCDEF"]
    sites = ["Manila", "Kuala Lumpur", "Lisbon"]
    policies = sorted(S.load_taxonomy().policies)
    ids = pc.binary_join_element_wise("d", pc.cast(pa.array(np.arange(rows)), pa.string()), "")
    return pd.DataFrame(
        {
            S.DECISION_ID: _str_column(ids),
            S.VENDOR: _pick(vendors, rng.choice(len(vendors), rows, p=[0.3, 0.25, 0.2, 0.12, 0.08, 0.05])),
            S.SITE: _pick(sites, rng.integers(0, len(sites), rows)),
            S.POLICY: _pick(policies, rng.integers(0, len(policies), rows)),
            S.CONTENT_TYPE: _pick(["video", "livestream", "comment"], rng.choice(3, rows, p=[0.5, 0.2, 0.3])),
            S.MODEL_SCORE: rng.random(rows),
            S.MODERATOR_TENURE_DAYS: rng.integers(0, 1000, rows),
        }
    )


def best_of(repeat: int, fn):
    """Best wall-clock and best CPU seconds over ``repeat`` runs, and the last result."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best, best_cpu, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)

    t = time.perf_counter()
    dec = build_decisions(a.rows)
    build_s = time.perf_counter() - t
    strata = [S.VENDOR, S.SITE, S.POLICY]
    n_strata = len(allocate(dec.head(200_000), strata, 1000, min_per_stratum=0))
    mem = dec.memory_usage(deep=True).sum() / 2**30
    print(f"built {len(dec):,} decision rows ({mem:.2f} GiB, {n_strata} strata) in {build_s:.1f} s")
    print(f"{'function':<34} {'rows':>12} {'strata':>7} {'n drawn':>8} {'best s':>7} {'cpu s':>7} {'rows/s':>12}")

    cases = [
        ("stratified_sample proportional", lambda seed: stratified_sample(dec, strata, a.n, seed=seed)),
        ("risk_weighted_sample systematic", lambda seed: risk_weighted_sample(dec, a.n, seed=seed)),
        ("risk_weighted_sample poisson", lambda seed: risk_weighted_sample(dec, a.n, method="poisson", seed=seed)),
    ]
    for name, fn in cases:
        seeds = iter(range(1, a.repeat + 1))
        secs, cpu, sample = best_of(a.repeat, lambda: fn(next(seeds)))  # noqa: B023
        k = sample[S.STRATUM].nunique()
        print(f"{name:<34} {len(dec):>12,} {k:>7} {len(sample):>8,} {secs:>7.2f} {cpu:>7.2f} {len(dec) / secs:>12,.0f}")


if __name__ == "__main__":
    main()
