"""Seeded demo data with planted truths (see :mod:`modqa_lib.data.synthetic.world`)."""

from __future__ import annotations

from modqa_lib.data.synthetic.world import (
    _LEAK_EXTRA,  # noqa: F401  (tests read it)
    DEFAULT_SEED,
    DEFAULT_START,
    MARKET_LANGUAGES,
    PLANTED,
    SHIFTS,
    SITE_TIMEZONES,
    VENDOR_SITES,
    DemoData,
    atomic_write,  # noqa: F401  (building block of synthetic_ops and synthetic_transparency)
    contract_frame,  # noqa: F401  (building block of synthetic_ops and synthetic_transparency)
    csv_bytes,  # noqa: F401  (building block of synthetic_ops and synthetic_transparency)
    default_audit_rate,
    generate,
    planted_truths,
    start_timestamp,  # noqa: F401  (building block of synthetic_ops and synthetic_transparency)
    write_demo_data,
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
