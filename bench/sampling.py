"""Benchmark: the weekly stratified draw from a DataFrame (in memory) vs straight from a parquet log.

* ``memory``: ``stratified_sample(DataFrame, [vendor, site, policy], 50_000, allocation="neyman")``
  on the log loaded into pandas (the path of today), default 10M decisions;
* ``log``: the same call given the hive-partitioned parquet folder (GROUP BY counts,
  streamed PRN draw, chosen rows read back by id), default 1M, 10M and 100M decisions;

each in a child process (wall time of the draw, the child's peak RSS; imports are
warmed by a draw from a tiny DataFrame first, so neither path is timed importing
statsmodels). Prints the time per row and the ratio of the log path at its largest
size to the in-memory path (goal: <= 1.5x per row, peak RSS < 4 GB at 100M), the
growth exponent of the log path over its sizes, and checks that both paths drew the
same sample at the sizes they share. With ``--repeat k`` every measurement runs k
times, round after round (memory and log side by side in each round), and the
ranges are printed; ``--stages`` adds, per log size, the time of the counts, the
streamed draw and the read-back of the chosen rows.

Usage::

    PYTHONPATH=. python bench/sampling.py [--memory 10000000] [--log 1000000 10000000 100000000] [--repeat 3]

Writes only below ``--dir`` (deleted at the end, unless ``--keep``: then one log per size is
kept there and reused by the next run).
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
N_SAMPLE = 50_000

CHILD = """
import sys, time, hashlib
sys.path.insert(0, {bench!r})
import pandas as pd, _biglog
from modqa_lib.stats.sampling import stratified_sample
src = {src!r}
_warm = pd.DataFrame({{"decision_id": [f"w{{i}}" for i in range(2000)], "vendor": ["a", "b"] * 1000,
                      "site": ["x"] * 2000, "policy": ["p", "q", "r", "s"] * 500}})
stratified_sample(_warm, ["vendor", "site", "policy"], 100, allocation="neyman", seed=1)  # imports, not timed
if {memory!r}:
    from modqa_lib.data import duck
    src = duck.read_decisions(src)  # the whole log in pandas, as load_processed gives it
    _biglog.report("load", 0.0)
t = time.perf_counter()
s = stratified_sample(src, ["vendor", "site", "policy"], {n}, allocation="neyman", seed=2026)
el = time.perf_counter() - t
print("SAMPLE", hashlib.sha256("".join(sorted(s["decision_id"])).encode()).hexdigest()[:16], len(s))
_biglog.report("draw", el)
"""


STAGES = """
import sys, time
import pyarrow as pa
from modqa_lib.contract import schema as S
from modqa_lib.data import duck
from modqa_lib.stats.sampling import log as L
from modqa_lib.stats.sampling.allocation import _allocate
from modqa_lib.stats.sampling._common import _rng
src, strata = {src!r}, ["vendor", "site", "policy"]
t0 = time.perf_counter()
counts = L.stratum_counts(src, strata)
st, _, alloc = _allocate(counts, strata, {n}, "neyman", 1, None, 0.5)
t1 = time.perf_counter()
con = duck.connect()
scan = L._scan(src)
rd = con.sql(f"SELECT decision_id, hash({{', '.join(strata)}}) FROM {{scan}}").to_arrow_reader(L.BATCH_ROWS)
c_id, c_code = L._stream_draw(rd, L._HashCoder(counts.hash_lookup()), alloc, _rng(2026))
t2 = time.perf_counter()
con.register("_chosen", pa.table({{S.DECISION_ID: c_id, "_h": c_code}}))
out = con.execute(f"SELECT d.*, c._h FROM {{scan}} d JOIN _chosen c USING ({{S.DECISION_ID}})").df()
t3 = time.perf_counter()
print("STAGES", t1 - t0, t2 - t1, t3 - t2)
"""


def _write_log(folder: Path, n: int) -> float:
    sys.path.insert(0, str(HERE))
    import _biglog

    return _biglog.write_partitioned_log(folder, n)


def _child(src: Path, memory: bool) -> tuple[float, float, str]:
    sys.path.insert(0, str(HERE))
    import _biglog

    return _biglog.run_draw_child(CHILD.format(bench=str(HERE), src=str(src), memory=memory, n=N_SAMPLE))


def _stages(src: Path) -> list[float]:
    """Seconds of the counts, the streamed draw and the read-back of the log path (one child)."""
    r = subprocess.run(
        [sys.executable, "-c", STAGES.format(src=str(src), n=N_SAMPLE)], capture_output=True, text=True, check=False
    )
    if r.returncode:
        raise RuntimeError(r.stderr[-3000:])
    return [float(x) for x in [y for y in r.stdout.splitlines() if y.startswith("STAGES")][0].split()[1:]]


def _span(xs: list[float], fmt: str = "{:.1f}") -> str:
    lo, hi = min(xs), max(xs)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", type=int, nargs="*", default=[10_000_000])
    ap.add_argument("--log", type=int, nargs="*", default=[1_000_000, 10_000_000, 100_000_000])
    ap.add_argument("--dir", default="/tmp/modqa-bench-sampling")
    ap.add_argument(
        "--keep", action="store_true", help="keep the logs (one folder per size below --dir) and reuse those there"
    )
    ap.add_argument("--repeat", type=int, default=1, help="rounds of measurements (ranges are printed)")
    ap.add_argument("--stages", action="store_true", help="also time counts / streamed draw / read-back per log size")
    a = ap.parse_args()
    base = Path(a.dir)
    res: dict[tuple[str, int], list[tuple[float, float, str]]] = {}
    sizes = sorted(set(a.memory) | set(a.log))
    folders = {n: base / f"n{n}" for n in sizes}  # all sizes on disk at once: the rounds alternate between them
    print(f"{'path':>6}  {'decisions':>11}  {'draw s':>7}  {'ns/row':>7}  {'RSS MB':>7}  sample")
    try:
        for n in sizes:
            if not (a.keep and (folders[n] / "decisions").is_dir()):
                shutil.rmtree(folders[n], ignore_errors=True)
                gen = _write_log(folders[n], n)
                print(f"        (log of {n:,} decisions written in {gen:.1f} s)", flush=True)
        for rnd in range(a.repeat):
            for n in sizes:
                for path, on in (("memory", a.memory), ("log", a.log)):
                    if n in on:
                        s, mb, sample = _child(folders[n], path == "memory")
                        res.setdefault((path, n), []).append((s, mb, sample))
                        print(
                            f"{path:>6}  {n:>11,}  {s:>7.1f}  {1e9 * s / n:>7.1f}  {mb:>7,.0f}  {sample}  round {rnd + 1}",
                            flush=True,
                        )
            if a.stages:
                for n in sorted(a.log):
                    c, d, r = _stages(folders[n])
                    print(
                        f"stages {n:>11,}: counts {c:.1f} s, streamed draw {d:.1f} s, read-back {r:.1f} s", flush=True
                    )
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    print("summary (ranges over rounds):")
    for (path, n), runs in sorted(res.items()):
        secs, mbs = [x[0] for x in runs], [x[1] for x in runs]
        print(
            f"{path:>6}  {n:>11,}  {_span(secs)} s  {_span([1e9 * x / n for x in secs], '{:,.0f}')} ns/row  "
            f"{_span(mbs, '{:,.0f}')} MB"
        )
    for n in set(a.memory) & set(a.log):
        same = {x[2] for x in res[("memory", n)]} == {x[2] for x in res[("log", n)]}
        print(f"same sample from DataFrame and log at {n:,}: {same}")
    if a.memory and a.log:
        nm, nl = max(a.memory), max(a.log)
        ratios = [(lg[0] / nl) / (mm[0] / nm) for mm, lg in zip(res[("memory", nm)], res[("log", nl)])]
        print(f"time per row, log at {nl:,} / memory at {nm:,} (same round): {_span(ratios, '{:.2f}')}x (goal <= 1.5x)")
    logs = sorted(a.log)
    if len(logs) > 1:
        k = math.log(logs[-1] / logs[0])
        t = [math.log(b[0] / a_[0]) / k for a_, b in zip(res[("log", logs[0])], res[("log", logs[-1])])]
        r = [math.log(b[1] / a_[1]) / k for a_, b in zip(res[("log", logs[0])], res[("log", logs[-1])])]
        print(
            f"growth exponent log path {logs[0]:,} -> {logs[-1]:,}: time {_span(t, '{:.2f}')}, "
            f"peak RSS {_span(r, '{:.2f}')}"
        )


if __name__ == "__main__":
    main()
