"""Benchmark: the weekly QA sample (``draw_weekly_sample`` / ``modqa sample``), in memory vs from the parquet log.

* ``memory``: the week's decisions loaded into pandas (``duck.read_decisions``, what
  ``load_processed`` gives), then ``draw_weekly_sample(DataFrame, ...)``;
* ``log``: ``draw_weekly_sample(<partitioned folder>, ...)``: weeks and unit sizes by
  GROUP BY, streamed fingerprint, streamed PRN draw, chosen rows read back by id;

week 2026-03-02, by vendor, margin 0.01 (about 9,600 decisions per vendor, 48k in all), proportional
allocation, golden share 0, seed 2026, on a one-week log (the week is the whole log:
the worst case). Each run in a child process: wall time of the draw (load excluded
for ``memory``), the child's own peak RSS (VmHWM), the sample id and a hash of the
drawn ids. Prints the time per row, the ratio of the log path at its largest size to
the in-memory path at its largest, the growth exponent, and whether both paths gave
the same sample where they share a size.

Usage::

    PYTHONPATH=. python bench/weekly.py [--memory 2000000] [--log 1000000 10000000] [--dir D] [--keep]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import sys, time, hashlib
sys.path.insert(0, {bench!r})
import pandas as pd, _biglog
from modqa_lib.stats.sampling import draw_weekly_sample
src = {src!r}
audits = pd.DataFrame({{"decision_id": ["none"], "auditor_id": ["qa1"], "is_error": [False], "is_golden": [False]}})
audits = pd.concat([audits.assign(auditor_id=f"qa{{i}}") for i in range(20)], ignore_index=True)
if {memory!r}:
    from modqa_lib.data import duck
    src = duck.read_decisions(src)
    _biglog.report("load", 0.0)
t = time.perf_counter()
ws = draw_weekly_sample(src, audits, None, week="2026-03-02", by="vendor", margin=0.01, confidence=0.95,
                        allocation="proportional", golden_share=0.0, seed=2026)
el = time.perf_counter() - t
ids = ws.worklist["decision_id"].astype(str)
print("SAMPLE", ws.plan.sample_id, hashlib.sha256("".join(sorted(ids)).encode()).hexdigest()[:16], len(ids))
_biglog.report("draw", el)
"""


def _write_log(folder: Path, n: int) -> float:
    sys.path.insert(0, str(HERE))
    import _biglog

    return _biglog.write_partitioned_log(folder, n)


def _child(src: Path, memory: bool) -> tuple[float, float, str]:
    sys.path.insert(0, str(HERE))
    import _biglog

    return _biglog.run_draw_child(CHILD.format(bench=str(HERE), src=str(src), memory=memory))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", type=int, nargs="*", default=[2_000_000])
    ap.add_argument("--log", type=int, nargs="*", default=[1_000_000, 10_000_000])
    ap.add_argument("--dir", default="/tmp/modqa-bench-weekly")
    ap.add_argument("--keep", action="store_true", help="keep one log per size below --dir and reuse it")
    a = ap.parse_args()
    base = Path(a.dir)
    res: dict[tuple[str, int], tuple[float, float, str]] = {}
    print(f"{'path':>6}  {'decisions':>11}  {'draw s':>7}  {'ns/row':>7}  {'RSS MB':>7}  sample id, ids hash, n")
    try:
        for n in sorted(set(a.memory) | set(a.log)):
            folder = base / f"n{n}"
            if not (a.keep and (folder / "decisions").is_dir()):
                shutil.rmtree(folder, ignore_errors=True)
                gen = _write_log(folder, n)
                print(f"        (log of {n:,} decisions written in {gen:.1f} s)", flush=True)
            for path, sizes in (("memory", a.memory), ("log", a.log)):
                if n in sizes:
                    s, mb, sample = _child(folder, path == "memory")
                    res[(path, n)] = (s, mb, sample)
                    print(f"{path:>6}  {n:>11,}  {s:>7.1f}  {1e9 * s / n:>7.1f}  {mb:>7,.0f}  {sample}", flush=True)
            if not a.keep:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    for n in sorted(set(a.memory) & set(a.log)):
        same = res[("memory", n)][2] == res[("log", n)][2]
        print(f"same weekly sample (sample id and ids) from DataFrame and log at {n:,}: {same}")
    if a.memory and a.log:
        nm, nl = max(a.memory), max(a.log)
        per_m, per_l = res[("memory", nm)][0] / nm, res[("log", nl)][0] / nl
        print(f"time per row, log at {nl:,} / memory at {nm:,}: {per_l / per_m:.2f}x")
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
