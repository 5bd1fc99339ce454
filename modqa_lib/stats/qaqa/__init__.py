"""QA of QA: disputes of QA verdicts, vendor-reported against platform QA, accuracy corrected
for auditor error, gold-set health and calibration packs.

Every score elsewhere in modqa takes the QA auditor's label as truth; these functions
check that assumption and show how much the scores move when it is relaxed.
"""

from __future__ import annotations

from modqa_lib.stats.qaqa.calibration_pack import PACK_COLUMNS, calibration_pack
from modqa_lib.stats.qaqa.corrected import (
    DawidSkeneResult,
    auditor_error_rates,
    corrected_error_rates,
    dawid_skene,
    rogan_gladen,
)
from modqa_lib.stats.qaqa.disputes import (
    accuracy_after_disputes,
    auditor_overturn_flags,
    dispute_rates,
    dispute_resolution_times,
    disputed_audits,
)
from modqa_lib.stats.qaqa.gold_health import gold_policy_coverage, gold_set_health
from modqa_lib.stats.qaqa.vendor_qa import (
    paired_accuracy_difference,
    paired_qa,
    vendor_reported_accuracy,
    vendor_vs_platform,
)

__all__ = [
    "PACK_COLUMNS",
    "DawidSkeneResult",
    "accuracy_after_disputes",
    "auditor_error_rates",
    "auditor_overturn_flags",
    "calibration_pack",
    "corrected_error_rates",
    "dawid_skene",
    "dispute_rates",
    "dispute_resolution_times",
    "disputed_audits",
    "gold_policy_coverage",
    "gold_set_health",
    "paired_accuracy_difference",
    "paired_qa",
    "rogan_gladen",
    "vendor_reported_accuracy",
    "vendor_vs_platform",
]
