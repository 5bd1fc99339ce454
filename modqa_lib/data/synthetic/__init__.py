"""Seeded demo data with planted truths.

:func:`generate` simulates twelve weeks of moderation at four BPO vendors (eight
sites), a machine classifier and human-in-the-loop (HITL) review, then draws a
QA audit sample, golden (known-answer) audits, calibration sessions, corrective
actions and policy changes. Every table satisfies :data:`modqa_lib.contract.schema.TABLES`.

A handful of problems are **planted** (:data:`PLANTED`): a fatigued night shift,
an ambiguous policy, a model blind spot, a policy-change drift, one corrective
action that worked and one that did not, a vendor whose low raw accuracy is
explained by its policy mix, a biased calibration group and a weak auditor with low
specificity (QA-07) who audits part of Lisbon's work, which looks worse as audited than
it is (routine and golden audits carry the same auditor error: the routine ``qa_label`` is
the auditor's, the truth stays in truth.json), a leaked golden item, a policy with no gold
(and, in the QA-of-QA tables drawn afterwards from their own stream, a site whose
vendor-reported QA is inflated and an auditor overturned in disputes far more
often). The
tests of scoring, RCA, drift, effects, model metrics and calibration assert that
those modules find exactly these. Everything else is noise around flat
baselines: human error does not depend on tenure, market, language, moderator
or (outside Penang) shift.

The generator is vectorised (numpy) and deterministic: the same seed and
arguments give identical tables and, through :func:`write_demo_data`, identical
file bytes. Each part of the simulation draws from its own random stream
(``numpy.random.SeedSequence(seed).spawn``), so changing one part does not
reshuffle the others.

The package's modules, in the order the generator runs them: :mod:`~modqa_lib.data.synthetic.world`
(the constants and the planted truths), :mod:`~modqa_lib.data.synthetic.simulate` (decisions, audits,
golden audits, calibration), :mod:`~modqa_lib.data.synthetic.tables` (the contract tables and realised
truths), :mod:`~modqa_lib.data.synthetic.qaqa` (vendor QA, disputes and the auditor-error truths) and
:mod:`~modqa_lib.data.synthetic.demo` (:func:`generate`, :func:`write_demo_data`).
"""

from __future__ import annotations

from modqa_lib.data.synthetic.demo import (
    DemoData,
    atomic_write,  # noqa: F401  (building block of synthetic_ops and synthetic_transparency)
    contract_frame,  # noqa: F401
    csv_bytes,  # noqa: F401
    default_audit_rate,
    generate,
    start_timestamp,  # noqa: F401
    write_demo_data,
)
from modqa_lib.data.synthetic.world import (
    _LEAK_EXTRA,  # noqa: F401  (tests read it)
    DEFAULT_SEED,
    DEFAULT_START,
    MARKET_LANGUAGES,
    PLANTED,
    SHIFTS,
    SITE_TIMEZONES,
    VENDOR_SITES,
    planted_truths,
)

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_START",
    "MARKET_LANGUAGES",
    "PLANTED",
    "SHIFTS",
    "SITE_TIMEZONES",
    "VENDOR_SITES",
    "DemoData",
    "default_audit_rate",
    "generate",
    "planted_truths",
    "write_demo_data",
]
