"""Result columns and input checks shared by the agreement package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from modqa_lib.contract.checks import require_columns
from modqa_lib.errors import DataContractError, EstimationError

# --- result columns of this module (not part of the raw-data contract) -----
KAPPA = "kappa"
ALPHA = "alpha"
PERCENT_AGREEMENT = "percent_agreement"
FLEISS_KAPPA = "fleiss_kappa"
KRIPPENDORFF_ALPHA = "krippendorff_alpha"
STATISTIC = "statistic"
ESTIMATE = "estimate"
N_ITEMS = "n_items"
N_RATERS = "n_raters"
N_RATINGS = "n_ratings"
N_BOOT = "n_boot"
CORRECT = "correct"
SHARE = "share"
NOTE = "note"

Level = Literal["nominal", "ordinal", "interval", "ratio"]
_LEVELS = ("nominal", "ordinal", "interval", "ratio")
_FLEISS_METHODS = ("fleiss", "randolph")
_STATISTICS = ("fleiss", "krippendorff", "percent")
_LAYOUTS = ("long", "counts", "matrix")


# =============================================================================
# input checks
# =============================================================================
def _keys(item: str | Sequence[str]) -> list[str]:
    return [item] if isinstance(item, str) else list(item)


def _check_choice(name: str, value: object, allowed: Sequence[str | None]) -> None:
    if value not in allowed:
        raise EstimationError(f"{name}={value!r} is not one of {set(allowed)}")


def _clean_long(
    data: pd.DataFrame, item: str | Sequence[str], rater: str, label: str, table: str = "ratings"
) -> pd.DataFrame:
    """Check a long frame and return it without missing labels (a copy)."""
    keys = _keys(item)
    require_columns(data, [*keys, rater, label], "the agreement statistics", table=table)
    if len(data) == 0:
        raise EstimationError(f"{table}: the frame is empty; there are no ratings to compare")
    df = data.loc[data[label].notna(), [*keys, rater, label]]
    if len(df) == 0:
        raise EstimationError(f"{table}: every '{label}' is missing; there are no ratings to compare")
    dup = df.duplicated([*keys, rater], keep=False).to_numpy()
    if dup.any():
        rows = (np.flatnonzero(dup) + 1)[:10].tolist()
        raise DataContractError(
            [
                {
                    "table": table,
                    "column": rater,
                    "rule": f"one label per rater per item (a rater voted twice on the same {'/'.join(keys)})",
                    "rows": rows,
                    "count": int(dup.sum()),
                }
            ]
        )
    raters = pd.unique(df[rater])
    if len(raters) < 2:
        raise EstimationError(
            f"{table}: only one rater ({raters[0]!r}) in the data; agreement needs at least two "
            "raters labelling the same items"
        )
    return df


def _as_counts(counts: pd.DataFrame | ArrayLike, what: str = "count table") -> tuple[np.ndarray, list]:
    """Validate an items x categories count table; return (float array, column labels)."""
    if isinstance(counts, pd.DataFrame):
        cols: list = list(counts.columns)
        try:
            arr = counts.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise EstimationError(f"{what}: every cell must be a number of raters") from None
    else:
        try:
            arr = np.asarray(counts, dtype=float)
        except (TypeError, ValueError):
            raise EstimationError(f"{what}: every cell must be a number of raters") from None
        cols = list(range(arr.shape[1])) if arr.ndim == 2 else []
    if arr.ndim != 2:
        raise EstimationError(f"{what}: expected a 2-D items x categories table, got {arr.ndim}-D")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise EstimationError(f"{what}: the table is empty (shape {arr.shape}); there are no ratings to compare")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise EstimationError(f"{what}: cells must be finite, non-negative numbers of raters")
    return arr, cols


def _pairable(C: np.ndarray) -> np.ndarray:
    """Rows of a count table with at least two ratings; error if there are none."""
    m = C.sum(1)
    keep = m >= 2
    if not keep.any():
        raise EstimationError(
            "no item was rated by two or more raters, so there is nothing to compare; "
            "agreement needs items labelled by at least two raters"
        )
    return C[keep]


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
