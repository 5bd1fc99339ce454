"""Benchmark rca.drilldown and rca.error_drivers on synthetic audit frames.

Run: ``.venv/bin/python bench/bench_rca.py`` (prints one line per case; not a test).

Frames are built with numpy: 10 categorical dimensions with realistic
cardinalities (vendor 5, site 9, market 6, queue 36, policy 11, content type 6,
shift 3, hour 24, tenure band 4, language 6) as pandas string columns, the dtype
``io.audited_decisions`` returns, and a 5% error rate with two planted slices.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.stats import rca

DIMS = {
    S.VENDOR: 5,
    S.SITE: 9,
    S.MARKET: 6,
    S.QUEUE: 36,
    S.POLICY: 11,
    S.CONTENT_TYPE: 6,
    S.SHIFT: 3,
    S.HOUR: 24,
    S.TENURE_BAND: 4,
    S.LANGUAGE: 6,
}


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    codes = {}
    for d, k in DIMS.items():
        codes[d] = rng.integers(0, k, n)
        if d == S.HOUR:
            cols[d] = codes[d]
        else:
            labels = np.array([f"{d}_{i}" for i in range(k)], dtype=object)
            cols[d] = pd.array(labels[codes[d]], dtype="str")
    p = 0.05 + 0.08 * ((codes[S.SITE] == 3) & (codes[S.SHIFT] == 2)) + 0.10 * (codes[S.POLICY] == 8)
    cols[S.IS_ERROR] = rng.random(n) < p
    causes = np.array(["misread_context", "policy_knowledge_gap", "fatigue_attention", "tooling_ui"], dtype=object)
    cols[S.ROOT_CAUSE] = pd.array(np.where(cols[S.IS_ERROR], causes[rng.integers(0, 4, n)], None), dtype="str")
    return pd.DataFrame(cols)


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--glm-rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    t = time.perf_counter()
    df = make_frame(args.rows)
    print(f"build frame        rows={len(df):>9,} dims={len(DIMS):>2}  seconds={time.perf_counter() - t:6.2f}")
    dims = list(DIMS)
    sec, dd = best_of(lambda: rca.drilldown(df, dims, depth=1), args.repeat)
    print(
        f"drilldown depth=1  rows={len(df):>9,} dims={len(dims):>2}  seconds={sec:6.2f}  "
        f"(best of {args.repeat}; {len(dd)} slices, {int(dd[rca.FLAG].sum())} flagged)"
    )
    d3 = [S.SITE, S.SHIFT, S.POLICY]
    sec, dd = best_of(lambda: rca.drilldown(df, d3, depth=2), args.repeat)
    print(
        f"drilldown depth=2  rows={len(df):>9,} dims={len(d3):>2}  seconds={sec:6.2f}  "
        f"(best of {args.repeat}; {len(dd)} slices; top: {dd.iloc[0][rca.VALUE]})"
    )
    sec, dd = best_of(lambda: rca.drilldown(df, dims, depth=2), 1)
    print(f"drilldown depth=2  rows={len(df):>9,} dims={len(dims):>2}  seconds={sec:6.2f}  (once; {len(dd)} slices)")
    g = df.iloc[: args.glm_rows]
    sec, ed = best_of(lambda: rca.error_drivers(g, d3), args.repeat)
    print(
        f"error_drivers      rows={len(g):>9,} dims={len(d3):>2}  seconds={sec:6.2f}  "
        f"(best of {args.repeat}; {len(ed)} levels)"
    )
    # design weights as a risk-weighted QA sample has them: a handful of distinct values
    # (one per stratum / risk tier), and the worst case, every weight different
    rng = np.random.default_rng(1)
    for label, w in (
        ("8 weight values", rng.choice([1.0, 2.5, 4.0, 6.0, 9.0, 12.0, 20.0, 40.0], len(g))),
        ("all distinct", rng.uniform(1.0, 40.0, len(g))),
    ):
        gw = g.assign(weight=w)
        sec, ed = best_of(lambda: rca.error_drivers(gw, d3, weights="weight"), args.repeat)  # noqa: B023
        print(
            f"error_drivers (w)  rows={len(g):>9,} dims={len(d3):>2}  seconds={sec:6.2f}  "
            f"(best of {args.repeat}; weighted, sandwich SEs, {label})"
        )
    sec, tf = best_of(lambda: rca.top_findings(df, d3, depth=2), 1)
    print(
        f"top_findings       rows={len(df):>9,} dims={len(d3):>2}  seconds={sec:6.2f}  "
        f"(once; {len(tf)} findings: {', '.join(tf[rca.VALUE].head(3))})"
    )


if __name__ == "__main__":
    main()
