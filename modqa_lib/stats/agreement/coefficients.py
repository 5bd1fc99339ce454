"""Agreement coefficients: percent agreement, Cohen's kappa, Fleiss' kappa, Krippendorff's alpha,
Gwet's AC1 and Brennan-Prediger.

The coefficients live in :mod:`modqa_lib.stats.agreement.kappa` (percent agreement,
Cohen's and Fleiss' kappa, count tables), :mod:`modqa_lib.stats.agreement.krippendorff`
and :mod:`modqa_lib.stats.agreement.gwet` (Gwet's AC1, Brennan-Prediger, the kappa
paradox); this module keeps every name importable from its old path.
"""

from __future__ import annotations

from modqa_lib.stats.agreement.gwet import (
    BRENNAN_PREDIGER,
    GWET_AC1,
    brennan_prediger,
    brennan_prediger_from_counts,
    gwet_ac1,
    gwet_ac1_from_counts,
    kappa_paradox,
)
from modqa_lib.stats.agreement.kappa import (
    _fleiss_core,  # noqa: F401  (old import path of the agreement modules' helpers)
    _per_item_agreement,  # noqa: F401
    cohens_kappa,
    fleiss_kappa,
    percent_agreement,
    percent_agreement_from_counts,
    to_count_table,
)
from modqa_lib.stats.agreement.krippendorff import (
    _alpha_point,  # noqa: F401  (tests read it)
    _coincidence,  # noqa: F401  (tests read it)
    _delta,  # noqa: F401
    _prepare_krippendorff,  # noqa: F401
    krippendorff_alpha,
    krippendorff_alpha_from_counts,
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
