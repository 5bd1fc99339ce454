"""``modqa transparency``: run the transparency notebook and write the filing CSV.

The notebook runs as the one-unit batch family ``transparency``
(:data:`modqa_lib.run.batch.FAMILIES`, ``params/transparency.yaml``), so it gets the
same run folder, manifest, index and HTML export as the other reports; the tidy CSV
(:func:`modqa_lib.report.transparency_tables.transparency_csv`) is written next to it
as ``transparency.csv``.
"""

from __future__ import annotations

import os
from pathlib import Path

from modqa_lib.config import PROCESSED_DIR
from modqa_lib.data.io import load_processed, processed_snapshot, write_csv_atomic
from modqa_lib.errors import BatchError
from modqa_lib.report.transparency_tables import transparency_figures
from modqa_lib.run.batch import parse_period, run_batch

__all__ = ["CSV_NAME", "run_transparency"]

CSV_NAME = "transparency.csv"


def run_transparency(
    period: str = "all",
    processed: str | os.PathLike | None = None,
    outputs: str | os.PathLike | None = None,
    run_id: str | None = None,
    timeout: int = 900,
) -> str:
    """Run ``50_transparency_report.ipynb`` for ``period`` and write ``transparency.csv``.

    Returns
    -------
    str
        A summary naming the HTML report and the CSV.

    Raises
    ------
    ConfigError
        Bad period.
    BatchError
        The notebook failed (the batch summary says why).
    """
    parse_period(period)
    processed = Path(processed or PROCESSED_DIR)
    result = run_batch(
        by="transparency",
        period=period,
        run_id=run_id,
        timeout=timeout,
        outputs=outputs,
        processed=processed,
        workers=1,
    )
    if not result.ok:
        raise BatchError(f"transparency report failed: {result.summary()}")
    figs = transparency_figures(load_processed(processed_snapshot(processed)), period=period)
    csv = write_csv_atomic(figs["csv"], Path(result.run_dir) / CSV_NAME, index=False)
    return f"{result.summary()}\nfiling CSV: {csv}"
