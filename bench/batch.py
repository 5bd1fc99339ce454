"""Benchmark a batch of report units: the serial papermill + nbconvert loop vs ``modqa batch``.

Run (after ``make run`` or ``modqa demo-data && modqa ingest``)::

    .venv/bin/python bench/batch.py                      # 48 units, 2 workers (about 20-30 min)
    .venv/bin/python bench/batch.py --units 12           # a quicker look

The units are vendor scorecards (``notebooks/10_vendor_scorecard.ipynb``):
the 4 demo vendors x periods ``last:12/10/8/6`` x alpha 0.05/0.1/0.01 (48 distinct
reports; shorter periods are avoided: the scorecard's heatmap fails on an empty
vendor x period slice, e.g. Vendor B with ``last:1``).
The baseline is what a user would write: for each unit, ``papermill`` then
``jupyter nbconvert --to html --no-input``, one after the other. The batch is
:func:`modqa_lib.run.batch.run_batch` with ``--workers`` (default 2) and warm
kernels (``--units-per-kernel``; 1 gives the old fresh-kernel-per-unit path).
Prints both wall times, the ratio, and the mean per-unit split in seconds:
kernel start, setup cell (imports + data load; "cold" is the first unit of a
kernel, "warm" a unit in a reused kernel, so imports ~ cold - warm), compute
cells, plotting cells, export (nbconvert / in-process HTML + privacy check).
Not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean

import nbformat

from modqa_lib.config import NOTEBOOKS_DIR, PROCESSED_DIR
from modqa_lib.run.batch import run_batch

VENDORS = ["Vendor A", "Vendor B", "Vendor C", "Vendor D"]
NOTEBOOK = NOTEBOOKS_DIR / "10_vendor_scorecard.ipynb"


def make_units(n: int) -> list[tuple[str, dict]]:
    """``n`` distinct units: (name, parameters); vendors x periods x alpha, 48 before repeating."""
    combos = [(v, f"last:{w}", a) for a in (0.05, 0.1, 0.01) for w in (12, 10, 8, 6) for v in VENDORS]
    units = []
    for k in range(n):
        v, period, alpha = combos[k % len(combos)]
        units.append((f"{v} {period} a{alpha} #{k}", {"vendor": v, "period": period, "alpha": alpha}))
    return units


def cell_split(nb_path: Path) -> dict[str, float]:
    """Seconds in the setup cell (first code cell after the parameters), compute cells and plotting cells."""
    nb = nbformat.read(str(nb_path), as_version=4)
    out = {"setup": 0.0, "compute": 0.0, "plotting": 0.0, "cells": 0.0}
    seen_params = False
    setup_done = False
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        d = float((c.metadata.get("papermill") or {}).get("duration") or 0.0)
        tags = c.metadata.get("tags", [])
        out["cells"] += d
        if "parameters" in tags or "injected-parameters" in tags:
            seen_params = True
            continue
        if seen_params and not setup_done:
            out["setup"] += d
            setup_done = True
        elif "plots." in c.source or "chart" in c.source:
            out["plotting"] += d
        else:
            out["compute"] += d
    return out


def serial_loop(units, processed: Path, work: Path) -> tuple[float, list[dict]]:
    bin_dir = Path(sys.executable).parent
    rows = []
    t0 = time.monotonic()
    for name, p in units:
        out = work / "serial" / name.replace(" ", "_").replace(":", "-")
        out.mkdir(parents=True)
        nb_out = out / "report.ipynb"
        args = [
            str(bin_dir / "papermill"),
            str(NOTEBOOK),
            str(nb_out),
            "--cwd",
            str(NOTEBOOKS_DIR),
            "--no-progress-bar",
        ]
        for k, v in {**p, "processed_dir": str(processed)}.items():
            args += ["-p", k, str(v)]
        t1 = time.monotonic()
        subprocess.run(args, check=True, capture_output=True)
        t2 = time.monotonic()
        subprocess.run(
            [str(bin_dir / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb_out)],
            check=True,
            capture_output=True,
        )
        t3 = time.monotonic()
        split = cell_split(nb_out)
        rows.append({**split, "kernel_start": (t2 - t1) - split["cells"], "export": t3 - t2, "total": t3 - t1})
    return time.monotonic() - t0, rows


def batch_run(units, processed: Path, work: Path, workers: int, units_per_kernel: int) -> tuple[float, list[dict]]:
    params = {
        "notebook": str(NOTEBOOK),
        "title": "Vendor scorecard: {unit}",
        "parameters": {"site": "ALL", "period": "last:12", "alpha": 0.05, "processed_dir": ""},
        "units": {name: p for name, p in units},
    }
    t0 = time.monotonic()
    res = run_batch(
        "vendor",
        units=[n for n, _ in units],
        params=params,
        workers=workers,
        run_id="bench",
        outputs=work / "batch",
        processed=processed,
        progress=False,
        units_per_kernel=units_per_kernel,
    )
    wall = time.monotonic() - t0
    rows = []
    for u in res.units:
        t = u.timings or {}
        split = cell_split(res.run_dir / u.outputs["notebook"]) if u.outputs.get("notebook") else {}
        rows.append(
            {
                **split,
                "kernel_start": t.get("kernel_start", 0.0) + t.get("kernel_reset", 0.0),
                "cold": t.get("kernel_start", 0.0) > 0,
                "export": t.get("export", 0.0),
                "total": u.duration_s or 0.0,
                "status": u.status,
            }
        )
    bad = [u.unit for u in res.units if not u.ok]
    if bad:
        print(f"warning: {len(bad)} unit(s) not ok: {', '.join(bad[:5])}", file=sys.stderr)
    return wall, rows


def same_html(work: Path, k: int = 0) -> bool:
    """Unit ``k`` of both sides exported alike (same title, header, time) is the same HTML byte for byte.

    Masks what differs by construction: pandas Styler ids, papermill's random id of
    the injected-parameters cell.
    """
    import re
    from datetime import UTC, datetime

    from modqa_lib.report.export import export_html

    serial = next(p for p in (work / "serial").iterdir() if p.name.endswith(f"#{k}"))
    batch = next(p for p in (work / "batch" / "bench").iterdir() if p.is_dir() and p.name.endswith(f"-{k}"))
    pages = []
    for nb in (next(batch.glob("*.ipynb")), serial / "report.ipynb"):
        html = work / f"compare-{len(pages)}.html"
        export_html(nb, html, "unit", meta={"period": "p"}, generated_at=datetime(2026, 1, 1, tzinfo=UTC))
        page = re.sub(r"T_[0-9a-f]{5}", "T_id", html.read_text(encoding="utf-8"))
        pages.append(re.sub(r'(celltag_injected-parameters" id="cell-id=)[0-9a-f]+', r"\1id", page))
    return pages[0] == pages[1]


def show(label: str, rows: list[dict], data_load: float) -> None:
    """Mean seconds per unit; the setup cell split into imports and data load.

    ``data_load`` is the mean setup cell of units in a warm kernel (modules already
    imported: what is left is reading the processed data and the header); the
    imports are the rest of a setup cell (0 in a warm kernel).
    """
    if not rows:
        return
    cols = ["kernel_start", "imports", "data_load", "compute", "plotting", "export", "total"]
    split = [
        {**r, "data_load": min(r.get("setup", 0.0), data_load), "imports": max(0.0, r.get("setup", 0.0) - data_load)}
        for r in rows
    ]
    print(
        f"  {label:<22} n={len(rows):>3}  " + "  ".join(f"{c} {mean(r.get(c, 0.0) for r in split):5.2f}" for c in cols)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=48)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--units-per-kernel", type=int, default=50)
    ap.add_argument("--processed", type=Path, default=PROCESSED_DIR)
    ap.add_argument("--skip-serial", action="store_true", help="only the batch (no ratio)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the outputs (kept); default a temp folder")
    a = ap.parse_args()
    units = make_units(a.units)
    work = a.work or Path(tempfile.mkdtemp(prefix="modqa-bench-batch-"))
    try:
        print(f"{a.units} units, {os.cpu_count()} cores, workers {a.workers}, units per kernel {a.units_per_kernel}")
        print("load average (1, 5, 15 min) at the start: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
        b_wall, b_rows = batch_run(units, a.processed, work, a.workers, a.units_per_kernel)
        print(f"modqa batch --workers {a.workers}: {b_wall:7.1f} s")
        if not a.skip_serial:
            s_wall, s_rows = serial_loop(units, a.processed, work)
            print(f"serial papermill + nbconvert loop: {s_wall:7.1f} s")
            print(f"ratio serial / batch: {s_wall / b_wall:.2f}x (goal >= 6x at 48 units)")
            print(
                f"unit 0 HTML, batch vs serial (exported alike, ids masked): {'identical' if same_html(work) else 'DIFFERENT'}"
            )
        warm = [r for r in b_rows if not r["cold"]]
        data_load = mean(r.get("setup", 0.0) for r in warm) if warm else 0.0
        print("mean seconds per unit (data_load = setup cell in a warm kernel; imports = the rest of the setup cell):")
        if not a.skip_serial:
            show("serial loop", s_rows, data_load)
        show("batch, fresh kernel", [r for r in b_rows if r["cold"]], data_load)
        show("batch, warm kernel", warm, data_load)
        print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
