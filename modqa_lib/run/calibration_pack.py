"""``modqa calibration-pack``: a vendor's calibration-session worklist (CSV) and case-study booklet (HTML).

The worklist is :func:`modqa_lib.stats.qaqa.calibration_pack`; the booklet is
``notebooks/31_calibration_pack.ipynb`` executed with papermill and exported by
:func:`modqa_lib.report.export.export_html` (through :func:`modqa_lib.run.batch.run_unit`),
then checked to carry no moderator id and no other vendor's name before it is published.
"""

from __future__ import annotations

import os
from pathlib import Path

from modqa_lib.config import NOTEBOOKS_DIR, OUTPUTS_DIR
from modqa_lib.contract import schema as S
from modqa_lib.errors import BatchError

__all__ = ["write_calibration_pack"]

NOTEBOOK = "31_calibration_pack.ipynb"


def write_calibration_pack(
    vendor: str,
    policy: str | None = None,
    size: int = 30,
    seed: int = 0,
    period: str = "last:12",
    processed: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    html: bool = True,
    timeout: float = 600.0,
) -> dict[str, Path]:
    """Write ``worklist.csv`` and ``booklet.html`` for a vendor's next calibration session.

    Parameters
    ----------
    vendor : str
        Vendor as in the decisions table.
    policy : str, optional
        One policy; None or "ALL" for all.
    size : int, default 30
        Cases in the pack.
    seed : int, default 0
        Seed of the picks.
    period : str, default "last:12"
        Audits considered (see :func:`modqa_lib.data.scope.parse_period`).
    processed : path-like, optional
        Processed data folder (default ``data/processed``).
    out : path-like, optional
        Outputs folder (default ``outputs``); files go to
        ``<out>/calibration_pack/<vendor>[-<policy>]/``.
    html : bool, default True
        Also execute and export the booklet notebook.
    timeout : float, default 600
        Seconds for the notebook run.

    Returns
    -------
    dict
        ``{"worklist": Path, "booklet": Path}`` (no ``booklet`` when ``html`` is False).

    Raises
    ------
    ConfigError
        Unknown vendor or policy, bad size.
    EstimationError
        Nothing to put in the pack.
    BatchError
        The booklet notebook failed, or its HTML would show a moderator id or another vendor.
    """
    from modqa_lib.data.io import write_csv_atomic
    from modqa_lib.data.scope import load_scope
    from modqa_lib.errors import ConfigError
    from modqa_lib.report.qaqa_tables import calibration_pack_table
    from modqa_lib.run.batch import UnitSpec, run_unit, unit_slug

    pol = None if policy in (None, "", "ALL") else policy
    if pol is not None and pol not in S.load_taxonomy().policies:
        raise ConfigError(
            f"policy '{pol}' is not in params/taxonomy.yaml; known: {', '.join(S.load_taxonomy().policies)}"
        )
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 500:
        raise ConfigError(f"--size must be an integer from 1 to 500, got {size!r}")
    proc = str(processed) if processed else ""
    scope = load_scope(proc, vendor=vendor, period=period)
    pack = calibration_pack_table(scope, vendor, policy=pol or "", size=size, seed=seed)
    folder = Path(out or OUTPUTS_DIR) / "calibration_pack" / unit_slug(vendor + (f" {pol}" if pol else ""))
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"worklist": write_csv_atomic(pack, folder / "worklist.csv", index=False)}
    if not html:
        return paths
    dec = scope.tables["decisions"]
    sites = dict(zip(dec[S.SITE].astype(str), dec[S.VENDOR].astype(str)))
    # every moderator id counts as foreign: the booklet must show none, not even the vendor's own
    mods = {str(m): "" for m in dec[S.MODERATOR_ID].dropna().unique()}
    spec = UnitSpec(
        family="calibration_pack",
        unit=vendor,
        slug=folder.name,
        notebook=str(NOTEBOOKS_DIR / NOTEBOOK),
        parameters={
            "vendor": vendor,
            "policy": pol or "ALL",
            "size": size,
            "seed": seed,
            "period": period,
            "processed_dir": proc,
        },
        run_dir=str(folder.parent),
        title=f"Calibration pack: {vendor}" + (f" · {pol}" if pol else ""),
        timeout=float(timeout),
        meta={"data_fingerprint": scope.fingerprint, "period": scope.period_label},
        privacy={
            "focus_vendor": vendor,
            "vendors": sorted(dec[S.VENDOR].astype(str).unique()),
            "sites": sites,
            "moderator_ids": mods,
        },
    )
    res = run_unit(spec)
    if res.status != "ok":
        raise BatchError(f"calibration pack booklet failed: {res.error}")
    booklet = folder / "booklet.html"
    os.replace(folder / f"{Path(NOTEBOOK).stem}.html", booklet)
    paths["booklet"] = booklet
    return paths
