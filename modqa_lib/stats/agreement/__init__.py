"""Agreement between raters: do vendor QA, internal QA and policy apply the SOP alike?

Answers step 4 of the QA loop (calibration): raters label the same items, and
these functions say how far they agree beyond chance, who is off the gold
answer, which items split the room, and whether a rater group leans one way.

Two input shapes are used throughout:

long format
    one row per (item, rater) vote with columns ``item_id``, ``rater_id`` and
    ``label`` (the ``calibration`` table of :mod:`modqa_lib.contract.schema`);
count table
    items x categories, each cell the number of raters who chose that
    category for that item (what crowd platforms publish, e.g. Davidson et
    al. 2017). Build it from long format with :func:`to_count_table`.

Every statistic returns a one-row DataFrame (tidy out); the calibration
reports return one row per rater, item, group or session.
"""

from __future__ import annotations

from modqa_lib.stats.agreement._common import (
    ALPHA,
    CORRECT,
    ESTIMATE,
    FLEISS_KAPPA,
    KAPPA,
    KRIPPENDORFF_ALPHA,
    N_BOOT,
    N_ITEMS,
    N_RATERS,
    N_RATINGS,
    NOTE,
    PERCENT_AGREEMENT,
    SHARE,
    STATISTIC,
)
from modqa_lib.stats.agreement.bootstrap import agreement_ci
from modqa_lib.stats.agreement.calibration import (
    CalibrationReport,
    calibration_report,
    group_accuracy,
    group_bias,
    item_disagreement,
    rater_accuracy,
    session_agreement,
)
from modqa_lib.stats.agreement.coefficients import (
    brennan_prediger,
    brennan_prediger_from_counts,
    cohens_kappa,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac1_from_counts,
    kappa_paradox,
    krippendorff_alpha,
    krippendorff_alpha_from_counts,
    percent_agreement,
    percent_agreement_from_counts,
    to_count_table,
)

__all__ = [
    "ALPHA",
    "CORRECT",
    "ESTIMATE",
    "FLEISS_KAPPA",
    "KAPPA",
    "KRIPPENDORFF_ALPHA",
    "NOTE",
    "N_BOOT",
    "N_ITEMS",
    "N_RATERS",
    "N_RATINGS",
    "PERCENT_AGREEMENT",
    "SHARE",
    "STATISTIC",
    "CalibrationReport",
    "agreement_ci",
    "brennan_prediger",
    "brennan_prediger_from_counts",
    "calibration_report",
    "cohens_kappa",
    "fleiss_kappa",
    "group_accuracy",
    "group_bias",
    "gwet_ac1",
    "gwet_ac1_from_counts",
    "item_disagreement",
    "kappa_paradox",
    "krippendorff_alpha",
    "krippendorff_alpha_from_counts",
    "percent_agreement",
    "percent_agreement_from_counts",
    "rater_accuracy",
    "session_agreement",
    "to_count_table",
]
