"""Scoring (see :mod:`modqa_lib.stats.scoring.estimator`)."""

from __future__ import annotations

from modqa_lib.stats.scoring.estimator import (
    CI_METHODS,
    DEFAULT_SEVERITY_WEIGHTS,
    STATUS_AT_RISK,
    STATUS_MET,
    STATUS_MISSED,
    accuracy_table,
    bh_qvalues,  # noqa: F401  (old import path: some modules import it from here)
    bool_column,
    check_nonempty,
    design_weights,
    error_mix,
    interval_method,
    kpi_status,
    proportion_ci,
    ratio_estimates,
    resolve_targets,
    severity_table,
    target_status,
    targets_data,
)

__all__ = [
    "CI_METHODS",
    "DEFAULT_SEVERITY_WEIGHTS",
    "STATUS_AT_RISK",
    "STATUS_MET",
    "STATUS_MISSED",
    "accuracy_table",
    "bool_column",
    "check_nonempty",
    "design_weights",
    "error_mix",
    "interval_method",
    "kpi_status",
    "proportion_ci",
    "ratio_estimates",
    "resolve_targets",
    "severity_table",
    "target_status",
    "targets_data",
]


def __getattr__(name: str):
    """``scoring.moderator_table`` and ``scoring.golden_accuracy`` live in :mod:`modqa_lib.stats.moderators`."""
    if name in ("moderator_table", "golden_accuracy"):
        from modqa_lib.stats import moderators

        return getattr(moderators, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
