"""Validate raw tables against the data contract (see :mod:`modqa_lib.contract.validation.table`)."""

from __future__ import annotations

from modqa_lib.contract.validation.table import (
    _DT_RULES,  # noqa: F401  (modqa_lib.data.stream reads these helpers as V._name)
    CASE_FOLDED,  # noqa: F401
    DATETIME_DTYPE,  # noqa: F401
    DEFAULT_EARLIEST_DATE,  # noqa: F401
    DEFAULT_FUTURE_TOLERANCE_HOURS,  # noqa: F401
    EXCLUSIVE_MIN,  # noqa: F401
    FALSE_STRINGS,
    FREE_TEXT,  # noqa: F401
    ID_COLUMNS,  # noqa: F401
    MAX_ROWS,  # noqa: F401
    MAX_VALUES,  # noqa: F401
    NULL_PLACEHOLDERS,  # noqa: F401
    TRUE_STRINGS,
    WEIGHT_RTOL,
    WHOLE_TABLE,  # noqa: F401
    _check_table,  # noqa: F401
    _cross_table_problems,  # noqa: F401
    _finish,  # noqa: F401
    _found,  # noqa: F401
    _isin,  # noqa: F401
    _problem,  # noqa: F401
    _problem_order,  # noqa: F401
    build_pandera_schema,
    contract_dtypes,  # noqa: F401
    cross_rules_on_small_tables,  # noqa: F401
    date_bounds,
    found_values,  # noqa: F401
    isin_text,  # noqa: F401
    problem,  # noqa: F401
    qaqa_cross_table_problems,
    rows_of,  # noqa: F401
    validate_table,
    validate_tables,
)

__all__ = [
    "FALSE_STRINGS",
    "TRUE_STRINGS",
    "WEIGHT_RTOL",
    "build_pandera_schema",
    "date_bounds",
    "qaqa_cross_table_problems",
    "validate_table",
    "validate_tables",
]
