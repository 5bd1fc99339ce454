"""Benchmark: the weekly stratified draw from a DataFrame (in memory) vs straight from a parquet log.

* ``memory``: ``stratified_sample(DataFrame, [vendor, site, policy], 50_000, allocation="neyman")``
  on the log loaded into pandas (the path of today), default 10M decisions;
* ``log``: the same call given the hive-partitioned parquet folder (GROUP BY counts,
  streamed PRN draw, chosen rows read back by id), default 1M, 10M and 100M decisions;

each in a child process (wall time of the draw, the child's peak RSS). Prints the
time per row and the ratio of the log path at its largest size to the in-memory path
(goal: <= 1.5x per row, peak RSS < 4 GB at 100M), the growth exponent of the log path
over its sizes, and checks that both paths drew the same sample at the sizes they share.

Usage::

    PYTHONPATH=. python bench/sampling.py [--memory 10000000] [--log 1000000 10000000 100000000]

Writes only below ``--dir`` (deleted at the end, unless ``--keep``: then one log per size is
kept there and reused by the next run).
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
N_SAMPLE = 50_000

CHILD = """
import sys, time, hashlib
sys.path.insert(0, {bench!r})
import pandas as pd, _biglog
from modqa_lib.stats.sampling import stratified_sample
src = {src!r}
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


def _write_log(folder: Path, n: int) -> float:
    """A typed, hive-partitioned (week, vendor) decisions log of n rows, as ingest publishes it."""
    import duckdb

    sys.path.insert(0, str(HERE))
    import _biglog

    from modqa_lib.contract import schema as S

    sql = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "datetime": "TIMESTAMPTZ"}
    cols = ", ".join(
        f"CAST({c.name} AS {sql[c.dtype]}) AS {c.name}" for c in S.TABLES["decisions"].columns if c.required
    )
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET temp_directory = '/tmp/modqa-duckdb'")
    con.execute("SET memory_limit = '2GB'")
    con.execute("SET TimeZone = 'UTC'")
    folder.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT {cols}, CAST(date_trunc('week', CAST(decided_at AS TIMESTAMPTZ)) AS DATE) AS week "
        f"FROM ({_biglog.decisions_sql(n)})) TO '{folder / 'decisions'}' "
        "(FORMAT parquet, PARTITION_BY (week, vendor), FILENAME_PATTERN 'part-{i}')"
    )
    con.close()
    return time.perf_counter() - t


def _child(src: Path, memory: bool) -> tuple[float, float, str]:
    code = CHILD.format(bench=str(HERE), src=str(src), memory=memory, n=N_SAMPLE)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if r.returncode:
        raise RuntimeError(r.stderr[-3000:])
    res = [x.split() for x in r.stdout.splitlines() if x.startswith("RESULT draw")][0]
    sample = [x for x in r.stdout.splitlines() if x.startswith("SAMPLE")][0]
    return float(res[2]), float(res[3]), sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", type=int, nargs="*", default=[10_000_000])
    ap.add_argument("--log", type=int, nargs="*", default=[1_000_000, 10_000_000, 100_000_000])
    ap.add_argument("--dir", default="/tmp/modqa-bench-sampling")
    ap.add_argument(
        "--keep", action="store_true", help="keep the logs (one folder per size below --dir) and reuse those there"
    )
    a = ap.parse_args()
    base = Path(a.dir)
    res: dict[tuple[str, int], tuple[float, float, str]] = {}
    print(f"{'path':>6}  {'decisions':>11}  {'draw s':>7}  {'ns/row':>7}  {'RSS MB':>7}  sample")
    try:
        for n in sorted(set(a.memory) | set(a.log)):
            folder = base / f"n{n}" if a.keep else base
            if not (a.keep and (folder / "decisions").is_dir()):
                shutil.rmtree(folder, ignore_errors=True)
                gen = _write_log(folder, n)
                print(f"        (log of {n:,} decisions written in {gen:.1f} s)", flush=True)
            for path, sizes in (("memory", a.memory), ("log", a.log)):
                if n in sizes:
                    s, mb, sample = _child(folder, path == "memory")
                    res[(path, n)] = (s, mb, sample)
                    print(f"{path:>6}  {n:>11,}  {s:>7.1f}  {1e9 * s / n:>7.1f}  {mb:>7,.0f}  {sample}", flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    for n in set(a.memory) & set(a.log):
        same = res[("memory", n)][2] == res[("log", n)][2]
        print(f"same sample from DataFrame and log at {n:,}: {same}")
    if a.memory and a.log:
        nm, nl = max(a.memory), max(a.log)
        per_m, per_l = res[("memory", nm)][0] / nm, res[("log", nl)][0] / nl
        print(f"time per row, log at {nl:,} / memory at {nm:,}: {per_l / per_m:.2f}x (goal <= 1.5x)")
    logs = sorted(a.log)
    if len(logs) > 1:
        t0, t1 = res[("log", logs[0])][0], res[("log", logs[-1])][0]
        r0, r1 = res[("log", logs[0])][1], res[("log", logs[-1])][1]
        k = math.log(logs[-1] / logs[0])
        print(
            f"growth exponent log path {logs[0]:,} -> {logs[-1]:,}: time {math.log(t1 / t0) / k:.2f}, "
            f"peak RSS {math.log(r1 / r0) / k:.2f}"
        )


if __name__ == "__main__":
    main()
