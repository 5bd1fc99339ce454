"""Benchmark: streaming ``modqa ingest`` of a large decisions log vs a bare DuckDB CSV -> parquet COPY.

For each size N (default 2M, 10M, 50M decisions; audits are a 1% sample):

* generates a contract-valid ``decisions.csv`` + ``audits.csv`` with DuckDB (``_biglog``);
* ``ingest``: :func:`modqa_lib.data.ingest.ingest` (streamed validation in batches,
  cross-table rules, decisions published hive-partitioned by week and vendor), in a
  child process: wall time and the child's peak RSS;
* ``copy``: the baseline, a bare DuckDB ``COPY (SELECT ... FROM read_csv(..., explicit
  types)) TO ... (FORMAT parquet)`` of the same two files, in a child process;
* prints both and the ratio ingest / copy (goal: <= 1.5x, peak RSS < 2 GB at any size).

Before the first timing the raw files are read once, so both sides find them in the page
cache (a 7.7 GB file left cold put about 10 s of disk reads on whichever side ran first).
With ``--repeat N`` the sides take turns to go first in each round (ingest, copy and, with
``--before``, the other checkout's ingest), and the medians and their ratio are printed, with
each pair's ratio: on a 2-core VM one run of any side varies by about 5%, and the "before"
side is timed as often, in the same rounds, so a change is judged against medians, not one run.

Usage::

    PYTHONPATH=. python bench/ingest.py [--sizes 2000000 10000000 50000000] [--dir /tmp/modqa-bench] [--stream]
        [--keep] [--before <other checkout>] [--repeat 3]

Writes only below ``--dir`` (deleted at the end unless ``--keep``).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD_INGEST = """
import sys, time
sys.path.insert(0, {bench!r})
import _biglog
from modqa_lib.data.ingest import ingest
t = time.perf_counter()
rep = ingest({raw!r}, {out!r}{extra})
_biglog.report("ingest", time.perf_counter() - t)
print("VIA", getattr(rep, "validated_by", "stream"))
import modqa_lib
print("FROM", modqa_lib.__file__)
"""

CHILD_COPY = """
import sys, time
sys.path.insert(0, {bench!r})
import duckdb, _biglog
from modqa_lib.contract import schema as S
SQL = {{"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "datetime": "TIMESTAMPTZ"}}
t = time.perf_counter()
con = duckdb.connect()
con.execute("SET temp_directory = '/tmp/modqa-duckdb'")
con.execute("SET memory_limit = '1GB'")
for table in ("decisions", "audits"):
    with open('{raw}/' + table + '.csv', encoding='utf-8-sig') as f:
        header = f.readline().strip().split(',')
    dt = {{c.name: c.dtype for c in S.TABLES[table].columns}}
    types = ", ".join(f"'{{c}}': '{{SQL[dt[c]]}}'" for c in header)  # the file's columns, in its order
    con.execute(
        f"COPY (SELECT * FROM read_csv('{raw}/{{table}}.csv', header = true, columns = {{{{{{types}}}}}})) "
        f"TO '{out}/{{table}}.parquet' (FORMAT parquet)"
    )
_biglog.report("copy", time.perf_counter() - t)
"""


def _child(code: str, pythonpath: str | None = None) -> tuple[float, float]:
    """Run ``code`` in a fresh Python (optionally another modqa checkout first on the path); return
    (seconds, peak RSS MB) it reported (and print which path validated, if it says)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    # run from the other checkout too: ``python -c`` puts the working directory first on
    # sys.path, ahead of PYTHONPATH, so run from this checkout it would import this one's modqa_lib
    cwd = pythonpath or None
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env, cwd=cwd)
    if r.returncode:
        raise RuntimeError(r.stderr[-3000:])
    via = [x for x in r.stdout.splitlines() if x.startswith("VIA ")]
    src = [x for x in r.stdout.splitlines() if x.startswith("FROM ")]
    if via:
        where = f" (modqa_lib of {Path(src[0].split(maxsplit=1)[1]).parent.parent})" if src else ""
        print(f"    validated by: {via[0].split()[1]}{where}", flush=True)
    line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))
    _, _, s, mb = line.split()
    return float(s), float(mb)


def _warm(folder: Path) -> None:
    """Read every raw file once (into the page cache), so no timed side pays the first read from disk."""
    for f in sorted(folder.iterdir()):
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass


def _timed(side: str, fmt: dict, base: Path, before: str | None = None) -> tuple[float, float]:
    """One timed run of ``side`` ("ingest", "copy", or "before": the ingest of the ``before`` checkout)
    in a child process; its output is removed again."""
    if side in ("ingest", "before"):
        out = _child(CHILD_INGEST.format(**fmt), before if side == "before" else None)
        shutil.rmtree(base / "p", ignore_errors=True)
        return out
    (base / "c").mkdir()
    out = _child(CHILD_COPY.format(**{**fmt, "out": str(base / "c")}))
    shutil.rmtree(base / "c", ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2_000_000, 10_000_000, 50_000_000])
    ap.add_argument("--dir", default="/tmp/modqa-bench-ingest")
    ap.add_argument(
        "--before", default=None, help="another modqa checkout (e.g. the commit before streaming) to time side by side"
    )
    ap.add_argument("--stream", action="store_true", help="also time the streaming path (fast=False) in the same run")
    ap.add_argument("--keep", action="store_true", help="keep and reuse the generated raw files under --dir/<size>")
    ap.add_argument("--repeat", type=int, default=1, help="time ingest and copy this many times each, alternating")
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import _biglog

    base = Path(a.dir).resolve()
    rows = []
    print(f"{'decisions':>11}  {'csv MB':>7}  {'ingest s':>8}  {'RSS MB':>6}  {'copy s':>7}  {'RSS MB':>6}  ratio")
    try:
        for n in a.sizes:
            raw = base / "raw" / str(n)
            for d in ("p", "c", "b", "s"):
                shutil.rmtree(base / d, ignore_errors=True)
            t = time.perf_counter()
            if not (a.keep and (raw / "audits.csv").exists()):
                shutil.rmtree(raw, ignore_errors=True)
                _biglog.write_raw(raw, n)
            gen = time.perf_counter() - t
            mb = (raw / "decisions.csv").stat().st_size / 2**20
            fmt = {"bench": str(HERE), "raw": str(raw), "out": str(base / "p"), "extra": ""}
            _warm(raw)
            sides = ["ingest", "copy"] + (["before"] if a.before else [])
            runs: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
            for rep in range(a.repeat):  # each side starts a round in turn
                for side in sides[rep % len(sides) :] + sides[: rep % len(sides)]:
                    runs[side].append(_timed(side, fmt, base, a.before))
            ingest_runs, copy_runs = runs["ingest"], runs["copy"]
            ti = statistics.median(t for t, _ in ingest_runs)
            tc = statistics.median(t for t, _ in copy_runs)
            ri = max(r for _, r in ingest_runs)
            rc = max(r for _, r in copy_runs)
            if a.repeat > 1:
                pairs = ", ".join(
                    f"{i:.1f}/{c:.1f} s {i / c:.2f}x" for (i, _), (c, _) in zip(ingest_runs, copy_runs, strict=True)
                )
                print(f"    runs (ingest/copy): {pairs}; medians below", flush=True)
            if a.stream:
                ts, rs = _child(CHILD_INGEST.format(**{**fmt, "out": str(base / "s"), "extra": ", fast=False"}))
                shutil.rmtree(base / "s", ignore_errors=True)
                print(f"    streaming path: ingest {ts:.1f} s, peak RSS {rs:,.0f} MB, {ts / tc:.2f}x copy")
            if a.before:
                tb = statistics.median(t for t, _ in runs["before"])
                rb = max(r for _, r in runs["before"])
                each = " / ".join(f"{t:.1f}" for t, _ in runs["before"])
                print(
                    f"    before ({a.before}): ingest {each} s, median {tb:.1f} s, peak RSS {rb:,.0f} MB, "
                    f"{tb / tc:.2f}x copy",
                    flush=True,
                )
            rows.append((n, ti, ri, tc, rc))
            print(
                f"{n:>11,}  {mb:>7,.0f}  {ti:>8.1f}  {ri:>6,.0f}  {tc:>7.1f}  {rc:>6,.0f}  {ti / tc:.2f}x"
                f"   (generated in {gen:.1f} s)",
                flush=True,
            )
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    if len(rows) > 1:
        (n0, t0, r0, *_), (n1, t1, r1, *_) = rows[0], rows[-1]
        print(
            f"growth exponent {n0:,} -> {n1:,}: time {math.log(t1 / t0) / math.log(n1 / n0):.2f}, "
            f"peak RSS {math.log(r1 / r0) / math.log(n1 / n0):.2f} (1 = linear, 0 = flat)"
        )


if __name__ == "__main__":
    main()
