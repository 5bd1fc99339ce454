"""Validate raw tables against the data contract in :mod:`modqa_lib.contract.schema`.

Raw CSV is read as strings (:func:`modqa_lib.data.io.read_raw_table`); this module
parses each column to its contract type, checks it with a pandera schema built
from :data:`modqa_lib.contract.schema.TABLES` and the taxonomy, adds the checks pandera
cannot express cleanly (weights, error fields, cross-table references), and
reports **every** problem at once in one :class:`~modqa_lib.errors.DataContractError`.

Problems
--------
Each problem is a dict with ``table``, ``file`` (file name), ``column`` (``"*"``
for a whole-table problem), ``rule`` (plain words, quoting up to three offending
values as given), ``rows``, ``count`` and ``values`` (up to three offending
values). Problems are sorted by table and column in contract order.

Row numbers
-----------
Every problem dict carries ``rows``: the first five offending **data rows,
1-based, header not counted** (data row 1 is the first row under the header, so
it sits on file line 2 of a CSV without quoted line breaks; in a spreadsheet it
is row 2). Data rows are used rather than file lines because a quoted field may
span several lines. ``count`` is the number of offending rows.

Types after validation
----------------------
``str`` -> pandas ``str``; ``int`` -> ``Int64`` if nullable else ``int64``;
``float`` -> ``float64``; ``bool`` -> ``boolean`` if nullable else ``bool``;
``datetime`` -> ``datetime64[us, UTC]`` (offsets are converted to UTC; a
timestamp without an offset is an error, never silently taken as UTC).

The package's modules: :mod:`~modqa_lib.contract.validation.values` (the
contract's value rules, problem messages, parsing a column to its type),
:mod:`~modqa_lib.contract.validation.table` (the pandera schema and every
per-table rule, :func:`validate_table`) and
:mod:`~modqa_lib.contract.validation.cross_table` (the rules across tables,
QA-of-QA tables included); :func:`validate_tables` here runs them all.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation.cross_table import (
    _cross_table_problems,
    cross_rules_on_small_tables,  # noqa: F401
    qaqa_cross_table_problems,
)
from modqa_lib.contract.validation.table import (
    CASE_FOLDED,  # noqa: F401
    DEFAULT_EARLIEST_DATE,  # noqa: F401
    DEFAULT_FUTURE_TOLERANCE_HOURS,  # noqa: F401
    ID_COLUMNS,  # noqa: F401
    NULL_PLACEHOLDERS,  # noqa: F401
    _check_table,
    _finish,
    build_pandera_schema,
    contract_dtypes,  # noqa: F401
    date_bounds,
    validate_table,
)
from modqa_lib.contract.validation.values import (
    _DT_RULES,  # noqa: F401
    DATETIME_DTYPE,  # noqa: F401
    EXCLUSIVE_MIN,  # noqa: F401
    FALSE_STRINGS,
    FREE_TEXT,  # noqa: F401
    MAX_ROWS,  # noqa: F401
    MAX_VALUES,  # noqa: F401
    TRUE_STRINGS,
    WEIGHT_RTOL,
    WHOLE_TABLE,
    _found,  # noqa: F401
    _isin,  # noqa: F401
    _problem,
    _problem_order,
    found_values,  # noqa: F401
    isin_text,  # noqa: F401
    problem,  # noqa: F401
    rows_of,  # noqa: F401
)
from modqa_lib.errors import DataContractError

# Besides __all__, the imports above keep every name other modules read from here importable,
# the private helpers too (modqa_lib.data.stream reads them as V._name).
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


def validate_tables(
    frames: Mapping[str, pd.DataFrame],
    files: Mapping[str, str] | None = None,
    taxonomy: S.Taxonomy | None = None,
    sample_plan: pd.DataFrame | None = None,
    warnings: list | None = None,
) -> dict[str, pd.DataFrame]:
    """Validate a set of raw tables, within and across tables, reporting everything at once.

    Parameters
    ----------
    frames : mapping of table name to DataFrame
        Raw tables (strings from CSV or typed from parquet). Not modified.
    files : mapping of table name to file name, optional
        Used in messages (default: the table name).
    taxonomy : Taxonomy, optional
        Default :func:`schema.load_taxonomy`.
    sample_plan : DataFrame, optional
        Rows of the sample plans the audits came from (``sample.csv``); see
        :func:`modqa_lib.contract.cross_checks.weights_vs_sample_plan`.
    warnings : list, optional
        Problems that do not stop validation (``"level": "warning"``, e.g. a weight far
        outside its stratum's, names stripped of blanks) are appended here.

    Returns
    -------
    dict of str to DataFrame
        Typed, validated copies, in contract table order.

    Raises
    ------
    DataContractError
        One error listing every problem: per-table rules (see
        :func:`validate_table`), a missing required table, an unknown table, and
        the cross-table rules: audits point at existing decisions; is_error
        equals (decision label != qa_label) on non-golden audits, and their
        error_type matches the labels (false_positive: decision actioned, QA
        says no violation; false_negative: the reverse; wrong_policy: two
        different policies); an audit is
        not dated before its decision; calibration items exist in golden (when
        golden is given); action scopes (vendor, site of that vendor, market)
        exist in decisions; disputes and vendor QA rows point at existing audits
        and decisions (see :func:`qaqa_cross_table_problems`).
    """
    tax = taxonomy or S.load_taxonomy()
    files = {k: (str(getattr(v, "name", v)) if v is not None else k) for k, v in (files or {}).items()}
    problems: list[dict] = []
    typed: dict[str, pd.DataFrame] = {}
    bad: dict[str, dict[str, np.ndarray]] = {}
    for name in frames:
        if name not in S.TABLES:
            problems.append(
                _problem(
                    name, files.get(name), WHOLE_TABLE, f"unknown table (expected one of: {', '.join(S.TABLE_NAMES)})"
                )
            )
    for name in S.REQUIRED_TABLES:
        if name not in frames:
            problems.append(
                _problem(
                    name, files.get(name), WHOLE_TABLE, f"required table missing (give {name}.csv or {name}.parquet)"
                )
            )
    for name in S.TABLE_NAMES:
        if name in frames:
            typed[name], p, bad[name] = _check_table(frames[name], name, files.get(name), tax)
            problems += p
    problems += _cross_table_problems(typed, files, bad, tax, sample_plan)
    problems += qaqa_cross_table_problems(typed, files, bad, tax)
    problems.sort(key=_problem_order)
    if warnings is not None:
        warnings += [p for p in problems if p.get("level") == "warning"]
    problems = [p for p in problems if p.get("level") != "warning"]

    if problems:
        raise DataContractError(problems)
    return {name: _finish(df, name) for name, df in typed.items()}
