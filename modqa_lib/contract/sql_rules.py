"""The per-table rules of :mod:`modqa_lib.contract.validation` as SQL, for DuckDB over a large log.

The fast ingest path (:mod:`modqa_lib.data.ingest_sql`) parses a CSV table with
DuckDB and checks it with aggregate queries instead of pandas batches. This
module writes that SQL, generated from the same contract (:data:`schema.TABLES`,
the taxonomy, and the rule tables of :mod:`modqa_lib.contract.validation`:
:data:`~modqa_lib.contract.validation.ID_COLUMNS`,
:data:`~modqa_lib.contract.validation.NULL_PLACEHOLDERS`,
:data:`~modqa_lib.contract.validation.CASE_FOLDED`,
:data:`~modqa_lib.contract.validation.FREE_TEXT`, the bounds of
:func:`~modqa_lib.contract.validation.date_bounds`), so the two cannot drift apart.

The SQL only **detects**: it is conservative, never words a message. A cell is
accepted only in a form whose parsed value is provably the one pandas gives
(plain decimals, ISO 8601 timestamps with an explicit offset and at most six
fractional digits; patterns in RE2 syntax [1]_); anything else is typed to a sentinel that a rule counts.
When any rule counts a row, the caller discards the SQL output and runs the
pandas validator, which gives every message exactly as before.

Notes
-----
Rule kinds (one :class:`SqlRule` per column and kind that applies):

``required``
    non-nullable column with a missing cell (validation: "empty value").
``parse``
    int/float/datetime cell outside the accepted forms (validation: "not an
    integer", "not a number", "unparseable timestamp", "timestamp has no time zone").
``blank``
    text cell with leading/trailing white space, or only white space (validation:
    "leading/trailing blanks stripped", blank read as missing).
``placeholder``
    id cell that stands for a missing value (validation: "placeholder ... used as an id").
``vocab``
    value not in its taxonomy vocabulary (pandera ``isin``).
``range``
    value outside the column's bounds (pandera ``in_range``/``ge``/``le``/``gt``).
``future``, ``floor``
    timestamp outside :func:`~modqa_lib.contract.validation.date_bounds`.
``unique``
    value given more than once (sorted hashes, not a row condition: see :func:`unique_hashes_sql`).
``casefold``
    names differing only in case (checked on the distinct values: see :func:`distinct_values_sql`).

References
----------
.. [1] DuckDB documentation, "CSV Import" and "Regular Expressions" (RE2 syntax),
   https://duckdb.org/docs/data/csv/overview and https://duckdb.org/docs/sql/functions/regular_expressions
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation import CASE_FOLDED, EXCLUSIVE_MIN, FREE_TEXT, ID_COLUMNS, NULL_PLACEHOLDERS

__all__ = [
    "ACCEPTED_PATTERNS",
    "FEW_VALUED_IDS",
    "GUARD_ERROR",
    "RULE_KINDS",
    "SENTINELS",
    "SQL_TYPES",
    "SqlRule",
    "broken_rule",
    "casefold_clashes",
    "distinct_values_sql",
    "guarded_select",
    "id_value_rules",
    "id_values_sql",
    "quote",
    "table_rules",
    "typed_select",
    "unique_columns",
    "unique_hashes_sql",
    "value_columns",
    "value_rule_kinds",
]

#: DuckDB type of each contract dtype
SQL_TYPES = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "datetime": "TIMESTAMPTZ"}

#: the only text forms cast in SQL (RE2, full match); pandas parses each of them to the same value.
#: Numbers are read as text and matched here, not typed by DuckDB's CSV reader: DuckDB 2.0 reads
#: ``1_000`` as 1000 and ``+-1`` as -1 (pandas: not a number), which no check of the typed value can see.
ACCEPTED_PATTERNS = {
    "int": r"-?[0-9]{1,15}",  # below 2**53, as validation requires
    "float": r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)",
    "datetime": (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
        r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
    ),
}

#: typed value a cell gets when it is not in an accepted form (or the cast fails); counted by the ``parse`` rule
SENTINELS = {
    "int": "(-9223372036854775807 - 1)::BIGINT",
    "float": "'NaN'::DOUBLE",
    "datetime": "TIMESTAMPTZ '0001-01-01 00:00:00+00'",
}

#: white space ``str.strip`` removes (Python ``str.isspace``), at either end of a cell (RE2)
_EDGE_SPACE = r"[\t\n\v\f\r\x1c-\x1f \x85\pZ]"
_BLANK_PAT = f"^{_EDGE_SPACE}|{_EDGE_SPACE}$"

#: every kind of rule this module generates (see the module notes)
RULE_KINDS = ("required", "parse", "blank", "placeholder", "vocab", "range", "future", "floor", "unique", "casefold")


@dataclass(frozen=True)
class SqlRule:
    """One per-table rule as an SQL condition on the typed column (true where a row breaks it)."""

    column: str
    kind: str
    condition: str


def quote(value: str) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def typed_select(table: str, present: list[str]) -> list[str]:
    """SELECT expressions typing the raw text columns ``present`` to their contract types, in contract order.

    Contract columns absent from ``present`` (optional ones) come out as typed NULLs.
    A cell outside :data:`ACCEPTED_PATTERNS`, or whose cast fails, gets its :data:`SENTINELS` value.
    """
    out = []
    for col in S.TABLES[table].columns:
        c, typ = _ident(col.name), SQL_TYPES[col.dtype]
        if col.name not in present:
            out.append(f"CAST(NULL AS {typ}) AS {c}")
        elif col.dtype == "str":
            out.append(f"{c} AS {c}")
        elif col.dtype in ACCEPTED_PATTERNS:
            pat, bad = quote(ACCEPTED_PATTERNS[col.dtype]), SENTINELS[col.dtype]
            out.append(
                f"CASE WHEN {c} IS NULL THEN NULL WHEN regexp_full_match({c}, {pat}) "
                f"THEN coalesce(TRY_CAST({c} AS {typ}), {bad}) ELSE {bad} END AS {c}"
            )
        else:  # bool: no SQL form is accepted (the table falls back to pandas)
            out.append(f"CASE WHEN {c} IS NULL THEN NULL ELSE CAST(NULL AS {typ}) END AS {c}")
    return out


#: id columns of few distinct values (moderators, not decisions or content): their per-row rules
#: (blanks, placeholders) run on the distinct values (:func:`id_value_rules`). On the staged parquet
#: that costs 0.07 CPU-seconds for 10M decisions of 4,000 moderators, in the ``COPY`` 0.5.
FEW_VALUED_IDS = (S.MODERATOR_ID,)


def _column_rules(col: S.Column, taxonomy: S.Taxonomy, bounds) -> list[SqlRule]:
    """Every rule of one column (before any of them is moved to the distinct values)."""
    rules = []
    c = _ident(col.name)
    if not col.nullable:
        rules.append(SqlRule(col.name, "required", f"{c} IS NULL"))
    if col.dtype == "float":  # -0: pandas gives 0.0 or -0.0 depending on the other cells of the batch
        rules.append(SqlRule(col.name, "parse", f"({c} IS NOT DISTINCT FROM {SENTINELS['float']} OR signbit({c}))"))
    elif col.dtype in SENTINELS:
        rules.append(SqlRule(col.name, "parse", f"{c} IS NOT DISTINCT FROM {SENTINELS[col.dtype]}"))
    elif col.dtype == "bool":
        rules.append(SqlRule(col.name, "parse", f"{c} IS NOT NULL"))
    if col.dtype == "str" and col.name not in FREE_TEXT:
        rules.append(SqlRule(col.name, "blank", _blank_condition(c)))
    if col.dtype == "str" and col.name in ID_COLUMNS:
        ph = ", ".join(quote(p) for p in sorted(NULL_PLACEHOLDERS))
        longest = max(len(p) for p in NULL_PLACEHOLDERS)
        rules.append(SqlRule(col.name, "placeholder", f"(strlen({c}) <= {longest} AND lower({c}) IN ({ph}))"))
    if col.vocab:
        allowed = ", ".join(quote(v) for v in taxonomy.vocab(col.vocab))
        rules.append(SqlRule(col.name, "vocab", f"{c} NOT IN ({allowed})"))
    if col.min is not None or col.max is not None:
        parts = []
        if col.min is not None:
            parts.append(f"{c} {'<=' if col.name in EXCLUSIVE_MIN else '<'} {col.min!r}")
        if col.max is not None:
            parts.append(f"{c} > {col.max!r}")
        rules.append(SqlRule(col.name, "range", "(" + " OR ".join(parts) + ")"))
    if col.dtype == "datetime" and bounds is not None:
        floor, ceiling = bounds
        rules.append(SqlRule(col.name, "future", f"{c} > TIMESTAMPTZ {quote(ceiling.isoformat())}"))
        rules.append(SqlRule(col.name, "floor", f"{c} < TIMESTAMPTZ {quote(floor.isoformat())}"))
    return rules


def _on_values(table: str, rule: SqlRule) -> str | None:
    """Where a rule runs instead of on every row: ``"values"`` (:func:`value_rule_kinds`), ``"ids"`` (:func:`id_value_rules`)."""
    if rule.column in value_columns(table) and rule.kind in ("required", "blank", "vocab"):
        return "values"
    if rule.column in FEW_VALUED_IDS and rule.kind in ("blank", "placeholder"):
        return "ids"
    return None


def table_rules(
    table: str, taxonomy: S.Taxonomy, bounds: tuple[pd.Timestamp, pd.Timestamp] | None = None
) -> list[SqlRule]:
    """Every per-row rule of ``table`` as an SQL condition on the typed columns of :func:`typed_select`.

    Parameters
    ----------
    table : str
        A key of :data:`schema.TABLES`.
    taxonomy : Taxonomy
    bounds : (Timestamp, Timestamp), optional
        Plausible timestamp range (:func:`~modqa_lib.contract.validation.date_bounds`);
        without it the ``future``/``floor`` rules are left out.

    Returns
    -------
    list of SqlRule
        In contract column order. ``unique`` is a whole-column rule (:func:`unique_hashes_sql`);
        missing cells, blanks, vocabulary and case variants of :func:`value_columns` are checked on their
        distinct values (:func:`value_rule_kinds`), and so are blanks and placeholders of
        :data:`FEW_VALUED_IDS` (:func:`id_value_rules`).
    """
    return [
        r
        for col in S.TABLES[table].columns
        for r in _column_rules(col, taxonomy, bounds)
        if _on_values(table, r) is None
    ]


def id_value_rules(table: str, taxonomy: S.Taxonomy) -> list[SqlRule]:
    """The rules of :data:`FEW_VALUED_IDS` columns that run on their distinct values (:func:`id_values_sql`)."""
    return [
        r
        for col in S.TABLES[table].columns
        if col.name in FEW_VALUED_IDS
        for r in _column_rules(col, taxonomy, None)
        if _on_values(table, r) == "ids"
    ]


def id_values_sql(table: str, source: str, taxonomy: S.Taxonomy) -> str | None:
    """One row: for each of :func:`id_value_rules`, whether a distinct value of its column breaks it.

    Each column's distinct values come from their own ``SELECT DISTINCT`` (few, so cheap),
    and the rule's row condition runs on them. None when the table has no such rule.
    """
    rules = id_value_rules(table, taxonomy)
    if not rules:
        return None
    parts = []
    for col in dict.fromkeys(r.column for r in rules):
        checks = ", ".join(
            f"coalesce(bool_or({r.condition}), false) AS {_ident(r.column + ':' + r.kind)}"
            for r in rules
            if r.column == col
        )
        parts.append(f"(SELECT {checks} FROM (SELECT DISTINCT {_ident(col)} FROM {source}))")
    return "SELECT * FROM " + ", ".join(parts)


def _blank_condition(c: str) -> str:
    """True where a text cell is empty or has white space at either end (as ``str.strip`` sees it).

    Byte comparisons for the first and the last character (an ASCII control or space
    sorts below ``'!'``; every non-ASCII character's first byte is above it), and the
    full Unicode pattern only on cells with non-ASCII characters. An ASCII control
    character at either end also counts (the streaming path then words what it finds).

    Costs per 10M cells on 2 cores (DuckDB 2.0): ``reverse(c) < '!'`` 0.12 s against
    0.17-0.19 s for ``right(c, 1) < '!'`` and 0.32 s for ``regexp_matches(c, '[\\x00-\\x20]$')``
    (``reverse`` keeps a trailing ASCII character first: controls and ``\\r\\n`` are grapheme
    clusters of their own). The Unicode pattern sits in a ``CASE``, not an ``AND``: on a column
    with missing cells DuckDB evaluated the ``AND``'s right side on whole vectors (0.36 s against
    0.17 s for 10M moderator ids, 17% missing).
    """
    return (
        f"({c} < '!' OR reverse({c}) < '!' OR "
        f"CASE WHEN strlen({c}) <> length({c}) THEN regexp_matches({c}, {quote(_BLANK_PAT)}) ELSE false END)"
    )


def value_columns(table: str) -> list[str]:
    """Text columns of few distinct values (a vocabulary, or a case-folded name): their rules run on the values.

    Blanks, vocabulary and case variants of these columns are checked by
    :func:`value_rule_kinds` on their distinct values (:func:`distinct_values_sql`),
    exactly as Python sees them, instead of on every row.
    """
    return [
        c.name
        for c in S.TABLES[table].columns
        if c.dtype == "str"
        and c.name not in FREE_TEXT
        and c.name not in ID_COLUMNS
        and (c.vocab or c.name in CASE_FOLDED)
    ]


def value_rule_kinds(table: str, column: str, values: list, taxonomy: S.Taxonomy) -> list[str]:
    """The rule kinds (``required``, ``blank``, ``vocab``, ``casefold``) the distinct ``values`` (None: missing) of a value column break."""
    col = S.TABLES[table].column(column)
    vals = [str(v) for v in values if v is not None]
    out = []
    if not col.nullable and len(vals) < len(values):
        out.append("required")
    if any(v != v.strip() or not v for v in vals):
        out.append("blank")
    if col.vocab and any(v not in set(taxonomy.vocab(col.vocab)) for v in vals):
        out.append("vocab")
    if column in CASE_FOLDED and casefold_clashes(vals):
        out.append("casefold")
    return out


def unique_columns(table: str) -> list[str]:
    """The table's columns whose values must be unique (the ``unique`` rule)."""
    return [c.name for c in S.TABLES[table].columns if c.unique]


def unique_hashes_sql(column: str, source: str, parts: int = 1, part: int = 0) -> str:
    """The 64-bit hashes of ``column``'s values (missing ones left out), or of one of ``parts`` disjoint shares.

    Sorted, two equal neighbours are a duplicate value or, with probability about
    ``n**2 / 2**65`` (3e-4 at 10^8 rows), two values with the same hash: either way the caller
    falls back to the exact check. The number of equal neighbours is ``count(c) - count(DISTINCT
    hash(c))``. Share ``part`` holds the values whose hash is ``part`` modulo ``parts``, so
    equal values always fall in the same share and each share can be checked alone.
    """
    c = _ident(column)
    where = f"{c} IS NOT NULL" + (f" AND hash({c}) % {int(parts)} = {int(part)}" if parts > 1 else "")
    return f"SELECT hash({c}) AS h FROM {source} WHERE {where}"


#: prefix of the error a broken row rule raises inside a query (:func:`guarded_select`)
GUARD_ERROR = "modqa-rule "


def guarded_select(select: str, rules: list[SqlRule]) -> str:
    """``select`` with every row rule checked as it streams: the first row breaking one stops the query.

    A ``CASE`` in the ``WHERE`` clause raises DuckDB's ``error()`` [2]_ with
    :data:`GUARD_ERROR` followed by ``<column>: <kind>`` of every rule the first
    breaking row breaks; rows breaking none pass unchanged. So one ``COPY`` both writes and checks the data (checking in a
    second scan of the written parquet cost about 3 s per 10M rows; in the
    ``COPY`` about 1 s). The ``CASE`` has one ``WHEN``, the rules joined by ``OR``: one
    ``WHEN`` per rule cost 1.01 s per 10M typed rows in memory, the ``OR`` 0.88 s.

    References
    ----------
    .. [2] DuckDB documentation, "Utility Functions": ``error(message)`` throws the given error.
       https://duckdb.org/docs/sql/functions/utility
    """
    if not rules:
        return select
    which = ", ".join(f"CASE WHEN {r.condition} THEN {quote(r.column + ': ' + r.kind)} END" for r in rules)
    fail = f"error({quote(GUARD_ERROR)} || concat_ws(', ', {which}))"  # only evaluated for a breaking row
    broken = " OR ".join(f"({r.condition})" for r in rules)
    return f"SELECT * FROM ({select}) WHERE CASE WHEN {broken} THEN {fail} ELSE true END"


def broken_rule(message: str) -> str | None:
    """``<column>: <kind>, ...`` from the error :func:`guarded_select` raised, or None for any other error."""
    if GUARD_ERROR not in message:
        return None
    return message.split(GUARD_ERROR, 1)[1].splitlines()[0].strip()


def distinct_values_sql(table: str, source: str, extra: tuple[str, ...] = ()) -> str | None:
    """The distinct values of each of :func:`value_columns`, one list column each (None if there is none).

    ``extra`` select expressions (e.g. the distinct scope rows) are computed in the same scan, after them.
    """
    cols = value_columns(table)
    if not cols:
        return None
    lists = [f"list(DISTINCT {_ident(c)}) AS {_ident(c)}" for c in cols]
    return "SELECT " + ", ".join([*lists, *extra]) + f" FROM {source}"


def casefold_clashes(values: list) -> bool:
    """True when two of ``values`` differ only in upper/lower case (``str.casefold``, as validation compares)."""
    vals = [v for v in values if v is not None]
    return len({str(v).casefold() for v in vals}) != len(set(vals))
