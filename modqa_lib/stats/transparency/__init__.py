"""Transparency figures (EU DSA): accuracy of automated moderation per system and language.

The DSA transparency-report templates (Implementing Regulation (EU) 2024/2835,
Annex I) ask for indicators of the accuracy of automated content moderation
(accuracy, precision, recall, with the false-positive and false-negative error
rates) per automated system and, for very large platforms, per official EU
language (DSA Art. 15(1)(e), Art. 42(2)(c)). This module estimates them from QA
audits drawn with known inclusion probabilities:

* :func:`prepare_transparency_frame` assigns each decision its automated system
  (``params/systems.yaml``), degree of automation, whether it was actioned and,
  for audited decisions, whether QA found it violating;
* :func:`automated_accuracy` gives accuracy, precision, recall, FPR, FNR and NPV
  per system x language, design-weighted (Hajek ratios with linearisation
  variance via :func:`modqa_lib.stats.scoring.ratio_estimates`), with ``n_audits``,
  ``population`` and a 95% CI, and a ``status`` that says when a figure is not
  estimable or rests on too small a sample;
* :func:`plan_transparency_audits` sizes next period's audits per reporting cell
  for target margins (Neyman allocation across score bands), and
  :func:`plan_summary` gives the cost and expected margins;
* :func:`decisions_by_automation` counts decisions by degree of automation.

Notation: an item is *actioned* when the system (for automated systems: the
model's proposal; for human moderation: the decision) found a violation, and
*violating* when the QA auditor did (``qa_label != no_violation``). Wrong-policy
decisions count as correct here: the regulator's indicators are about
actioning, not about the policy named.
"""

from __future__ import annotations

from modqa_lib.stats.transparency.appeals import appeal_decision_times, appeal_reversal_rates
from modqa_lib.stats.transparency.estimates import (
    AUTOMATION_LEVELS,
    ESTIMATE,
    HUMAN_SYSTEM,
    METRIC,
    METRICS,
    N_AUDITS,
    NOTE,
    STATUS,
    VIOLATING,
    automated_accuracy,
    decisions_by_automation,
    load_systems,
    prepare_transparency_frame,
)
from modqa_lib.stats.transparency.planner import plan_summary, plan_transparency_audits

__all__ = [
    "AUTOMATION_LEVELS",
    "ESTIMATE",
    "HUMAN_SYSTEM",
    "METRIC",
    "METRICS",
    "NOTE",
    "N_AUDITS",
    "STATUS",
    "VIOLATING",
    "appeal_decision_times",
    "appeal_reversal_rates",
    "automated_accuracy",
    "decisions_by_automation",
    "load_systems",
    "plan_summary",
    "plan_transparency_audits",
    "prepare_transparency_frame",
]
