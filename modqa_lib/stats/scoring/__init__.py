"""Scoring: accuracy, severity, error mix, moderators and auditors, with honest intervals.

Every function takes the audit-level frame built by
:func:`modqa_lib.data.io.audited_decisions` (one row per audit, decision columns
joined) and returns a new tidy DataFrame with one row per group and explicit
columns (``n``, ``errors``, ``accuracy``, ``ci_low``, ``ci_high`` ...). Inputs
are never modified.

Two estimators are available wherever ``weights`` is accepted:

* ``weights=None`` (default): the audited decisions are treated as a simple
  random sample of each group. ``accuracy`` is the share of audits without an
  error and the interval is a binomial interval on ``(n - errors, n)``.
* ``weights="weight"`` (the design weight ``1 / inclusion_prob``): ``accuracy``
  is the Hajek (weighted ratio) estimator of the population accuracy, its
  variance is the Taylor-linearised variance of a ratio in a stratified
  with-replacement design (strata = the ``stratum`` column), and the interval
  is a binomial interval on the Korn-Graubard effective sample size, so groups
  where every audit is correct (or wrong) still get a valid interval inside
  [0, 1]. Use weights whenever the sample over-weights risky slices, as the
  modqa sample plans do: otherwise estimates are biased towards those slices.

The building block is :func:`ratio_estimates`, which
:mod:`modqa_lib.stats.model_eval` reuses for precision, recall and override rates.

The package's modules: :mod:`~modqa_lib.stats.scoring.estimator` (interval
methods, design weights, :func:`proportion_ci`, :func:`ratio_estimates`),
:mod:`~modqa_lib.stats.scoring.targets` (KPI targets and their status) and
:mod:`~modqa_lib.stats.scoring.tables` (accuracy, severity, error mix, KPI status).
"""

from __future__ import annotations

from modqa_lib.contract.checks import bh_qvalues  # noqa: F401  (old import path: some modules import it from here)
from modqa_lib.stats.scoring.estimator import (
    CI_METHODS,
    DEFAULT_SEVERITY_WEIGHTS,
    STATUS_AT_RISK,
    STATUS_MET,
    STATUS_MISSED,
    bool_column,
    check_nonempty,
    design_weights,
    interval_method,
    proportion_ci,
    ratio_estimates,
)
from modqa_lib.stats.scoring.tables import accuracy_table, error_mix, kpi_status, severity_table
from modqa_lib.stats.scoring.targets import resolve_targets, target_status, targets_data

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
