"""Project paths, built once.

Every module and notebook takes its paths from here; nothing hard-codes a path.
``MODQA_ROOT`` overrides the project root (tests point it at a temp folder).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "NOTEBOOKS_DIR",
    "OUTPUTS_DIR",
    "PARAMS_DIR",
    "PROCESSED_DIR",
    "PROJ_ROOT",
    "RAW_DIR",
    "SHARED_REAL_DIR",
    "project_paths",
]


def project_paths(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Return the standard project folders below ``root``.

    Parameters
    ----------
    root : path-like, optional
        Project root. Defaults to ``$MODQA_ROOT`` or the folder holding ``modqa_lib``.

    Returns
    -------
    dict
        Keys ``root``, ``raw``, ``processed``, ``outputs``, ``params``, ``notebooks``.
    """
    base = Path(root or os.environ.get("MODQA_ROOT") or Path(__file__).resolve().parents[1])
    return {
        "root": base,
        "raw": base / "data" / "raw",
        "processed": base / "data" / "processed",
        "outputs": base / "outputs",
        "params": base / "params",
        "notebooks": base / "notebooks",
    }


_P = project_paths()
PROJ_ROOT: Path = _P["root"]
RAW_DIR: Path = Path(os.environ.get("MODQA_RAW_DIR") or _P["raw"])
# MODQA_PROCESSED_DIR points notebooks and commands at another processed data set
# (nbval in `make test` uses a small one) without touching any parameter.
PROCESSED_DIR: Path = Path(os.environ.get("MODQA_PROCESSED_DIR") or _P["processed"])
OUTPUTS_DIR: Path = Path(os.environ.get("MODQA_OUTPUTS_DIR") or _P["outputs"])
PARAMS_DIR: Path = _P["params"]
NOTEBOOKS_DIR: Path = _P["notebooks"]
# Read-only real data shipped beside the checkout (../shared/real), if present.
SHARED_REAL_DIR: Path = Path(os.environ.get("MODQA_SHARED_REAL", PROJ_ROOT.parent / "shared" / "real"))
