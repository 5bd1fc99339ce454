"""Drawing QA samples: how many, from where, and who audits what.

Answers the planning questions of the weekly QA loop:

* how many decisions to audit for a given margin of error
  (:func:`sample_size`, :func:`achieved_margin`, :func:`sample_size_two_periods`) [1]_;
* how to split them over strata and draw them
  (:func:`allocate`, :func:`stratified_sample`) [1]_, or how to oversample risky
  decisions with known inclusion probabilities (:func:`risk_weighted_sample`) [3]_ [4]_ [5]_;
* how to mix in golden items and hand out balanced worklists
  (:func:`inject_golden`, :func:`assign_auditors`);
* how to record a draw so it can be reproduced and checked later
  (:class:`SamplePlan`, :func:`make_plan`, :func:`save_plan`, :func:`load_plan`,
  :func:`redraw`);
* the whole weekly loop, one ISO week sized per vendor/site/market/queue
  (:func:`draw_weekly_sample`, pure, for notebooks), its files
  (:func:`write_sample_files`) and the ``modqa sample`` command
  (:func:`run_sample_command`, both together).

Every sampled row carries ``stratum``, ``inclusion_prob`` and ``weight``
(= 1 / inclusion_prob), the design information that scoring needs to turn
audits into unbiased (Horvitz-Thompson [2]_ / Hajek) accuracy estimates.

Randomness
----------
Draws use *permanent random numbers* (PRN): each decision gets a pseudo-random
key in [0, 1) from a salted 64-bit hash of the text of its ``decision_id``
(the id's UTF-8 bytes folded 8 at a time through the SplitMix64 finaliser
[7]_; the salt comes from ``seed``). Taking the ``n_h`` smallest keys of a
stratum is simple random sampling without replacement [6]_, and because the
keys depend only on the ids and the seed, **the sample does not depend on the
row order or on the dtype** of the input: re-ingesting the same data in
another order gives the same sample. Ids must be unique and non-empty.

References
----------
.. [1] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley. Ch. 4
   (sample size for proportions, finite-population correction) and Ch. 5
   (stratified sampling, proportional and optimum/Neyman allocation).
.. [2] Horvitz, D. G. and Thompson, D. J. (1952). A generalization of sampling
   without replacement from a finite universe. *JASA* 47, 663-685.
.. [3] Sarndal, C.-E., Swensson, B. and Wretman, J. (1992). *Model Assisted
   Survey Sampling*. Springer. Ch. 3 (Poisson and systematic pi-ps sampling).
.. [4] Hartley, H. O. and Rao, J. N. K. (1962). Sampling with unequal
   probabilities and without replacement. *Ann. Math. Statist.* 33, 350-374.
.. [5] Tille, Y. (2006). *Sampling Algorithms*. Springer (inclusion
   probabilities proportional to size, capped at 1).
.. [6] Ohlsson, E. (1995). Coordination of samples using permanent random
   numbers. In Cox et al. (eds), *Business Survey Methods*, Wiley, 153-169.
.. [7] Steele, G. L., Lea, D. and Flood, C. H. (2014). Fast splittable
   pseudorandom number generators. *OOPSLA 2014*, 453-472.
"""

from __future__ import annotations

from modqa_lib.stats.sampling._common import (
    ALLOCATED,
    ALLOCATIONS,
    BY_COLUMNS,
    EXPECTED_MARGIN,
    GOLDEN_STRATUM,
    MARGIN_METHODS,
    POPULATION,
    PRIOR_ERROR_RATE,
    RISK_METHODS,
    STRATUM_SEP,
    WORKLIST_COLUMNS,
    FingerprintMismatchError,
)
from modqa_lib.stats.sampling.allocation import allocate
from modqa_lib.stats.sampling.draw import estimate_prior_error_rates, stratified_sample
from modqa_lib.stats.sampling.nonactioned import (
    ARM,
    SCORE_BAND,
    draw_by_plan,
    nonactioned_sample,
    score_band_sample,
    score_bands,
)
from modqa_lib.stats.sampling.plan import SamplePlan, decisions_fingerprint, load_plan, make_plan, redraw, save_plan
from modqa_lib.stats.sampling.risk import RiskWeights, pps_inclusion_probabilities, risk_profile, risk_weighted_sample
from modqa_lib.stats.sampling.sizes import achieved_margin, sample_size, sample_size_two_periods
from modqa_lib.stats.sampling.weekly import (
    DRAWN,
    MARGIN,
    UNIT,
    WeeklySample,
    draw_weekly_sample,
    run_sample_command,
    sample_folder,
    write_sample_files,
)
from modqa_lib.stats.sampling.worklists import assign_auditors, inject_golden

__all__ = [
    "ALLOCATED",
    "ALLOCATIONS",
    "BY_COLUMNS",
    "DRAWN",
    "EXPECTED_MARGIN",
    "GOLDEN_STRATUM",
    "MARGIN",
    "MARGIN_METHODS",
    "POPULATION",
    "PRIOR_ERROR_RATE",
    "RISK_METHODS",
    "STRATUM_SEP",
    "UNIT",
    "WORKLIST_COLUMNS",
    "FingerprintMismatchError",
    "RiskWeights",
    "SamplePlan",
    "WeeklySample",
    "achieved_margin",
    "allocate",
    "assign_auditors",
    "decisions_fingerprint",
    "draw_weekly_sample",
    "estimate_prior_error_rates",
    "inject_golden",
    "load_plan",
    "make_plan",
    "pps_inclusion_probabilities",
    "redraw",
    "risk_profile",
    "risk_weighted_sample",
    "run_sample_command",
    "sample_folder",
    "sample_size",
    "sample_size_two_periods",
    "save_plan",
    "stratified_sample",
    "write_sample_files",
]
# transparency: score-band-stratified draws (nonactioned.py)
__all__ += ["ARM", "SCORE_BAND", "draw_by_plan", "nonactioned_sample", "score_band_sample", "score_bands"]
