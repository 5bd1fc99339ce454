"""Shared constants, the fingerprint error and small argument helpers of the sampling package."""

from __future__ import annotations

import math

import numpy as np

from modqa_lib.contract import schema as S
from modqa_lib.errors import SamplingError

# --- column names of the allocation table (sampling-specific result columns)
POPULATION = "population"
ALLOCATED = "allocated"
EXPECTED_MARGIN = "expected_margin"
PRIOR_ERROR_RATE = "prior_error_rate"

ALLOCATIONS = ("proportional", "neyman", "equal")
RISK_METHODS = ("systematic", "poisson")
MARGIN_METHODS = ("wilson", "normal", "agresti_coull", "beta", "jeffreys")
GOLDEN_STRATUM = "golden"
STRATUM_SEP = "|"
NA_KEY = "<NA>"
BY_COLUMNS = (S.VENDOR, S.SITE, S.MARKET, S.QUEUE)
PLAN_FORMAT = 1

# columns an auditor sees in a worklist CSV: nothing that tells golden items apart
WORKLIST_COLUMNS = (S.SAMPLE_ID, S.DECISION_ID, S.CONTENT_ID, S.POLICY)


class FingerprintMismatchError(SamplingError):
    """The decisions given to :func:`redraw` are not the ones the plan was drawn from."""


# =============================================================== small helpers
def _rng(seed) -> np.random.Generator:
    """A numpy Generator from an int seed or a Generator (never from None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SamplingError(
            f"seed must be an int or a numpy Generator, got {seed!r} (a fixed seed makes the sample reproducible)"
        )
    return np.random.default_rng(int(seed))


def _check_int(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SamplingError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_prob(value, name: str, lo_open=True, hi_open=True, lo=0.0, hi=1.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SamplingError(f"{name} must be a number, got {value!r}") from None
    ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok or math.isnan(v):
        rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise SamplingError(f"{name} must lie in {rng}, got {value!r}")
    return v


def _ceil(x: float) -> int:
    """Ceiling that forgives float noise (384.0000000001 -> 384)."""
    return int(math.ceil(x - 1e-9))
