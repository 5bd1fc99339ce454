"""Report building: display tables for notebooks, summary text, plots, widgets, privacy, export.

``from modqa_lib import report`` gives this package; its attributes are the
notebook tables of :mod:`modqa_lib.report.tables` (loaded on first use, so
importing :mod:`modqa_lib.report.export` stays light).
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    tables = importlib.import_module("modqa_lib.report.tables")
    if name == "__all__" or name in tables.__all__:
        return getattr(tables, name)
    raise AttributeError(f"module 'modqa_lib.report' has no attribute {name!r}")
