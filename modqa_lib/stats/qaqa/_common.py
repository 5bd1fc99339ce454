"""Result columns and input checks shared by the QA-of-QA statistics."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from modqa_lib.errors import EstimationError

# --- result columns (not part of the raw-data contract) ----------------------
N_ERRORS = "n_errors"
N_DISPUTES = "n_disputes"
DISPUTE_RATE = "dispute_rate"
N_RESOLVED = "n_resolved"
N_OVERTURNED = "n_overturned"
OVERTURN_RATE = "overturn_rate"
PEER_RATE = "peer_rate"
FLAG = "flag"
DIFFERENCE = "difference"
N_PAIRS = "n_pairs"
VENDOR_ACCURACY = "vendor_accuracy"
PLATFORM_ACCURACY = "platform_accuracy"
MESSAGE = "message"


def require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise an actionable EstimationError when ``frame`` is not a DataFrame or lacks columns."""
    if not isinstance(frame, pd.DataFrame):
        raise EstimationError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EstimationError(
            f"{what} lacks column(s) {missing}; load it with modqa_lib.data.io.load_processed() "
            f"(the {what} table is optional: give {what}.csv in data/raw and re-run ingest)"
        )


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float strictly between 0 and 1, else EstimationError."""
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise EstimationError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def as_list(by) -> list[str]:
    """None, one column name or a sequence of names, as a list."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)
