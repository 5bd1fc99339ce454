"""Report building: display tables for notebooks, summary text, plots, widgets, privacy, export.

``from modqa_lib import report`` gives this package; its attributes are the
notebook tables of :mod:`modqa_lib.report.tables`, the reader-text formatters of
:mod:`modqa_lib.report.format` and the generated paragraph of
:mod:`modqa_lib.report.summary` (``report.summary_text``), loaded on first use, so
importing :mod:`modqa_lib.report.export` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

#: modules whose public names are attributes of ``modqa_lib.report``, first match wins
_FACADE = ("tables", "format", "summary")


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return sorted({n for m in _FACADE for n in importlib.import_module(f"modqa_lib.report.{m}").__all__})
    for m in _FACADE:
        module = importlib.import_module(f"modqa_lib.report.{m}")
        if name in module.__all__:
            return getattr(module, name)
    raise AttributeError(f"module 'modqa_lib.report' has no attribute {name!r}")
