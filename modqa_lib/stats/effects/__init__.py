"""Corrective actions: did they work?

Question this module answers: *after a retraining, SOP clarification,
calibration session, ... did accuracy in the action's scope improve, by more
than it did elsewhere?*

For each action of the ``actions`` table the units in scope are the audits
whose vendor, site, market and policy match the action's scope (a null scope
column matches anything). Three estimates are made:

* :func:`before_after` — accuracy before vs after ``started_at`` in scope, with
  Wilson intervals and a Newcombe interval for the difference;
* :func:`diff_in_diff` — the same change minus the change in comparable units
  without the action (a linear probability model with a ``treated × post``
  interaction), the primary estimate;
* :func:`interrupted_time_series` — segmented regression of the weekly
  accuracy in scope (level and slope change).

:func:`action_effects` puts them in one tracking table with a verdict.
All effects are on the **accuracy** scale (1 − error rate): positive = better.
"""

from __future__ import annotations

from modqa_lib.stats.effects._common import (
    ACCURACY_AFTER_CI_HIGH,
    ACCURACY_AFTER_CI_LOW,
    ACCURACY_BEFORE_CI_HIGH,
    ACCURACY_BEFORE_CI_LOW,
    COMPARISONS,
    INFERENCE,
    SCOPE_COLUMNS,
    VERDICTS,
    describe_scope,
    in_scope,
)
from modqa_lib.stats.effects.before_after import before_after
from modqa_lib.stats.effects.did import diff_in_diff
from modqa_lib.stats.effects.its import interrupted_time_series
from modqa_lib.stats.effects.verdicts import action_effects, verdict

__all__ = [
    "ACCURACY_AFTER_CI_HIGH",
    "ACCURACY_AFTER_CI_LOW",
    "ACCURACY_BEFORE_CI_HIGH",
    "ACCURACY_BEFORE_CI_LOW",
    "COMPARISONS",
    "INFERENCE",
    "SCOPE_COLUMNS",
    "VERDICTS",
    "action_effects",
    "before_after",
    "describe_scope",
    "diff_in_diff",
    "in_scope",
    "interrupted_time_series",
    "verdict",
]
