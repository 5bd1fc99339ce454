"""Agreement coefficients: percent agreement, Cohen's kappa, Fleiss' kappa, Krippendorff's alpha,
Gwet's AC1 and Brennan-Prediger (defined in :mod:`modqa_lib.stats.agreement.kappa`)."""

from __future__ import annotations

from modqa_lib.stats.agreement.kappa import (
    BRENNAN_PREDIGER,
    GWET_AC1,
    _alpha_point,  # noqa: F401  (tests and the other agreement modules read these)
    _coincidence,  # noqa: F401
    _delta,  # noqa: F401
    _fleiss_core,  # noqa: F401
    _per_item_agreement,  # noqa: F401
    _prepare_krippendorff,  # noqa: F401
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
    "BRENNAN_PREDIGER",
    "GWET_AC1",
    "brennan_prediger",
    "brennan_prediger_from_counts",
    "cohens_kappa",
    "fleiss_kappa",
    "gwet_ac1",
    "gwet_ac1_from_counts",
    "kappa_paradox",
    "krippendorff_alpha",
    "krippendorff_alpha_from_counts",
    "percent_agreement",
    "percent_agreement_from_counts",
    "to_count_table",
]
