"""Headline figures a notebook records in its executed copy (``record_headline``), and reading them back.

Every report notebook ends with ``record_headline(report.headline_figures(...))``; the batch
runner reads them back (:func:`read_headline`) for ``manifest.json`` and ``index.html``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from modqa_lib.errors import ConfigError

__all__ = ["HEADLINE_MIME", "read_headline", "record_headline"]

HEADLINE_MIME = "application/vnd.modqa.headline+json"


# ------------------------------------------------------------------ headline
def _jsonable(obj):
    """Plain-JSON copy of ``obj`` (numpy scalars, NaN -> None, dates -> ISO)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def record_headline(figures: Mapping[str, Any]) -> None:
    """Record a report's headline figures for the batch manifest and index.

    Call it once, in the notebook's last cell, with a small flat dict of
    numbers or short strings. Called more than once, later keys win.

    Parameters
    ----------
    figures : mapping
        E.g. ``{"accuracy": 0.953, "ci_low": 0.94, "n_audits": 1210, "at_risk": 2}``.
        numpy scalars are converted, NaN/inf become null, dates ISO strings.

    Returns
    -------
    None
        (so that a last-line call shows nothing in the report).

    Notes
    -----
    Displays an output with only the mimetype ``application/vnd.modqa.headline+json``;
    JupyterLab shows nothing for it and the HTML export drops it;
    :func:`run_unit` copies it to ``nb.metadata["modqa"]["headline"]`` and the
    manifest. Outside IPython it does nothing.
    """
    if not isinstance(figures, Mapping):
        raise ConfigError(f"record_headline expects a dict of figures, got {type(figures).__name__}")
    clean = _jsonable(dict(figures))
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover
        return None
    if get_ipython() is not None:
        display({HEADLINE_MIME: clean}, raw=True)
    return None


def read_headline(nb) -> dict | None:
    """Headline figures recorded in an executed notebook (NotebookNode or path), or None."""
    import nbformat

    if not hasattr(nb, "cells"):
        nb = nbformat.read(os.fspath(nb), as_version=4)
    found: dict | None = None
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = (out.get("data") or {}).get(HEADLINE_MIME)
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except ValueError:
                    continue
            if isinstance(data, Mapping):
                found = {**(found or {}), **dict(data)}
    if found is None:
        stored = (nb.metadata.get("modqa") or {}).get("headline")
        return dict(stored) if isinstance(stored, Mapping) else None
    return found
