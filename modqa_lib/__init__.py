"""modqa: moderation-quality workbook library.

Sampling, scoring, calibration, RCA, drift and corrective-action effects for
Trust & Safety QA teams; notebooks in ``notebooks/`` call these functions.
"""
from __future__ import annotations

__version__ = "0.1.0"
