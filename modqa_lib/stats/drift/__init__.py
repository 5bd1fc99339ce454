"""Quality drift: control charts and change points on per-period error rates.

Questions this module answers: *did the error rate of a policy (vendor, site,
market, ...) move out of its usual range, when, in which direction, and did
that coincide with a policy change?*

The building blocks are the classical Shewhart **p chart** for the fraction
nonconforming with per-period limits for varying sample sizes, and two
charts for small sustained shifts, **EWMA** and tabular **CUSUM**, both run on
the per-period rates standardised against the baseline rate. A likelihood
ratio scan finds the single most likely **change point** of a binomial rate
series. :func:`drift_flags` combines the charts into one row per group and
labels each signal with the policy change it follows, if any.

Every function takes the audit-level frame of :func:`modqa_lib.data.io.audited_decisions`
(one row per audit, with ``week`` and a boolean ``is_error``) and returns a
tidy DataFrame; inputs are never modified.
"""

from __future__ import annotations

from modqa_lib.stats.drift._common import (
    CHARTS,
    DOWN,
    LIMITS,
    NO_SIGNAL,
    RATE_AFTER_CI_HIGH,
    RATE_AFTER_CI_LOW,
    RATE_BEFORE_CI_HIGH,
    RATE_BEFORE_CI_LOW,
    RATE_CHANGE,
    UP,
)
from modqa_lib.stats.drift.changepoints import change_points
from modqa_lib.stats.drift.charts import cusum, cusum_chart, ewma, ewma_chart, p_chart
from modqa_lib.stats.drift.flags import drift_flags
from modqa_lib.stats.drift.limits import exact_count_limits

__all__ = [
    "CHARTS",
    "DOWN",
    "LIMITS",
    "NO_SIGNAL",
    "RATE_AFTER_CI_HIGH",
    "RATE_AFTER_CI_LOW",
    "RATE_BEFORE_CI_HIGH",
    "RATE_BEFORE_CI_LOW",
    "RATE_CHANGE",
    "UP",
    "change_points",
    "cusum",
    "cusum_chart",
    "drift_flags",
    "ewma",
    "ewma_chart",
    "exact_count_limits",
    "p_chart",
]
