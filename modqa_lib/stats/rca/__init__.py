"""Root-cause analysis: which slices drive errors, why, and what changed.

Every function takes the audit-level frame built by
:func:`modqa_lib.data.io.audited_decisions` (one row per audit, with the decision
columns and the derived ``week``, ``hour``, ``shift`` and ``tenure_band``) and
returns a tidy DataFrame with one row per slice, cause, driver or group. Inputs
are never modified.

Functions
---------
pareto
    Root causes among errors, ranked, with Wilson CIs on their shares.
drilldown
    Every value (and, at depth 2, every pair of values) of the dimensions you
    pass, tested against the rest, ranked by excess errors.
error_drivers
    Logistic regression: each dimension's levels controlling for the others.
decompose_change
    Change in error rate (or accuracy) between two periods split per group into
    mix and rate effects (Kitagawa).
top_findings
    Flagged, non-redundant drilldown slices with their dominant root cause.
"""

from __future__ import annotations

from modqa_lib.stats.rca._common import (
    CAUSE_CI_HIGH,
    CAUSE_CI_LOW,
    CAUSE_N,
    CAUSE_SHARE,
    COUNT,
    CUM_SHARE,
    DEPTH,
    DIMENSION,
    ERRORS_AFTER,
    ERRORS_BEFORE,
    EXCESS_ERRORS,
    EXPLAINED_BY,
    FISHER_MIN_EXPECTED,
    FLAG,
    GROUP,
    IS_REFERENCE,
    IS_TOTAL,
    LEVEL,
    LIFT,
    MARGINAL_EXCESS,
    MISSING_LABEL,
    MIX_EFFECT,
    N_AFTER,
    N_BEFORE,
    N_EFF,
    NOTE,
    ODDS_RATIO,
    OTHER_LABEL,
    PAIR_SEP,
    RANK,
    RATE_AFTER,
    RATE_BEFORE,
    RATE_EFFECT,
    REST_N,
    REST_RATE,
    SHARE,
    SHARE_AFTER,
    SHARE_BEFORE,
    SHARE_OF_CHANGE,
    TEST,
    TOTAL_EFFECT,
    TOTAL_LABEL,
    VALUE,
    outcome_array,
    two_proportion_ztest,
)
from modqa_lib.stats.rca.decompose import decompose_change, period_mask
from modqa_lib.stats.rca.drilldown import drilldown
from modqa_lib.stats.rca.drivers import error_drivers, slices_from_drilldown
from modqa_lib.stats.rca.findings import top_findings
from modqa_lib.stats.rca.pareto import pareto

__all__ = [
    "CAUSE_CI_HIGH",
    "CAUSE_CI_LOW",
    "CAUSE_N",
    "CAUSE_SHARE",
    "COUNT",
    "CUM_SHARE",
    "DEPTH",
    "DIMENSION",
    "ERRORS_AFTER",
    "ERRORS_BEFORE",
    "EXCESS_ERRORS",
    "EXPLAINED_BY",
    "FISHER_MIN_EXPECTED",
    "FLAG",
    "GROUP",
    "IS_REFERENCE",
    "IS_TOTAL",
    "LEVEL",
    "LIFT",
    "MARGINAL_EXCESS",
    "MISSING_LABEL",
    "MIX_EFFECT",
    "NOTE",
    "N_AFTER",
    "N_BEFORE",
    "N_EFF",
    "ODDS_RATIO",
    "OTHER_LABEL",
    "PAIR_SEP",
    "RANK",
    "RATE_AFTER",
    "RATE_BEFORE",
    "RATE_EFFECT",
    "REST_N",
    "REST_RATE",
    "SHARE",
    "SHARE_AFTER",
    "SHARE_BEFORE",
    "SHARE_OF_CHANGE",
    "TEST",
    "TOTAL_EFFECT",
    "TOTAL_LABEL",
    "VALUE",
    "decompose_change",
    "drilldown",
    "error_drivers",
    "outcome_array",
    "pareto",
    "period_mask",
    "slices_from_drilldown",
    "top_findings",
    "two_proportion_ztest",
]
