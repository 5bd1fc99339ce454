"""Benchmark: generate, validate and ingest a large demo data set.

Times, on N decisions (default 2,000,000, about 150k audits):

* ``synthetic.generate`` (the demo generator),
* ``validation.validate_tables`` on the all-string frames a CSV read gives,
* the whole ``ingest`` (read CSV, validate, write typed parquet atomically),
* ``io.audited_decisions`` (the join + derived columns every report starts from).

Prints its figures; writes only to a temporary folder it deletes.

Usage::

    python bench/bench_ingest.py [--decisions 2000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from modqa_lib.data import io
from modqa_lib.data.ingest import ingest
from modqa_lib.data.synthetic import generate, write_demo_data


def _t(label: str, fn, rows: int):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{label:<38} {rows:>12,} rows  {wall:8.2f} s wall  {cpu:8.2f} s CPU  {rows / wall:12,.0f} rows/s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decisions", type=int, default=2_000_000)
    a = ap.parse_args()
    demo = _t("generate", lambda: generate(n_decisions=a.decisions), a.decisions)
    n_audits = len(demo.tables["audits"])
    with tempfile.TemporaryDirectory() as tmp:
        raw, processed = Path(tmp) / "raw", Path(tmp) / "processed"
        _t("write demo CSV", lambda: write_demo_data(raw, n_decisions=a.decisions), a.decisions)
        _t("ingest (read CSV + validate + parquet)", lambda: ingest(raw, processed), a.decisions + n_audits)
        tables = io.load_processed(processed)
        _t("audited_decisions (join + derived)", lambda: io.audited_decisions(tables), n_audits)


if __name__ == "__main__":
    main()
