"""Per-table rules: the pandera schema of a table, names, dates, row rules, appeals; :func:`validate_table`."""

from __future__ import annotations

import difflib
from typing import cast

import numpy as np
import pandas as pd
import pandera.pandas as pa

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation.values import (
    _DT_RULES,
    EXCLUSIVE_MIN,
    FREE_TEXT,
    MAX_VALUES,
    WEIGHT_RTOL,
    WHOLE_TABLE,
    _found,
    _isin,
    _isna,
    _parse_column,
    _problem,
    _problem_order,
    _range_rule,
    _rows_of,
    _target_dtype,
    _vocab_rule,
)
from modqa_lib.errors import DataContractError

__all__ = [
    "CASE_FOLDED",
    "DEFAULT_EARLIEST_DATE",
    "DEFAULT_FUTURE_TOLERANCE_HOURS",
    "ID_COLUMNS",
    "NULL_PLACEHOLDERS",
    "build_pandera_schema",
    "contract_dtypes",
    "date_bounds",
    "validate_table",
]


# ------------------------------------------------------------------ pandera schema
def build_pandera_schema(
    table: str,
    taxonomy: S.Taxonomy | None = None,
    columns: list[str] | None = None,
    final: bool = True,
    unique: bool = True,
) -> pa.DataFrameSchema:
    """The pandera schema of one contract table, built from :data:`schema.TABLES`.

    Parameters
    ----------
    table : str
        A key of :data:`schema.TABLES`.
    taxonomy : Taxonomy, optional
        Vocabularies for ``isin`` checks; default :func:`schema.load_taxonomy`.
    columns : list of str, optional
        Restrict to these contract columns (those present in the data).
    final : bool, default True
        Expect the dtypes of a validated table (``int64``/``bool`` for
        non-nullable int/bool columns); ``False`` expects the nullable
        ``Int64``/``boolean`` used while parsing.
    unique : bool, default True
        Check the contract's unique columns; ``False`` leaves that to the
        caller (the streamed decisions log checks ``decision_id`` across all
        batches at once, so a per-batch check would be wasted work).

    Returns
    -------
    pandera.DataFrameSchema
        Checks types (after :func:`validate_table`'s parsing), nullability,
        uniqueness, vocabulary membership and bounds. Each check's ``error`` is
        the plain-words rule used in problem reports.
    """
    tax = taxonomy or S.load_taxonomy()
    spec = S.TABLES[table]
    cols = {}
    for col in spec.columns:
        if columns is not None and col.name not in columns:
            continue
        checks = []
        if col.vocab:
            checks.append(pa.Check.isin(list(tax.vocab(col.vocab)), error=_vocab_rule(col, tax)))
        rule = _range_rule(col)
        if rule:
            if col.min is not None and col.max is not None:
                checks.append(
                    pa.Check.in_range(col.min, col.max, include_min=col.name not in EXCLUSIVE_MIN, error=rule)
                )
            elif col.min is not None:
                checks.append((pa.Check.gt if col.name in EXCLUSIVE_MIN else pa.Check.ge)(col.min, error=rule))
            else:
                checks.append(pa.Check.le(col.max, error=rule))
        cols[col.name] = pa.Column(
            _target_dtype(col, final),
            nullable=col.nullable,
            unique=col.unique and unique,
            checks=checks,
            coerce=False,
        )
    return pa.DataFrameSchema(cols, strict=False, ordered=False, name=table)


def _pandera_problems(
    df: pd.DataFrame,
    raw: pd.DataFrame,
    table: str,
    file,
    tax,
    bad: dict[str, np.ndarray],
    unique: bool = True,
) -> list[dict]:
    """Run the pandera schema lazily and turn its failure cases into problem dicts.

    ``bad`` maps column to a mask of cells already known bad (parse failures);
    those are not reported again, and cells failing here are added to it.
    Offending values are quoted as given in ``raw`` (e.g. ``'0'``, not ``0.0``).
    """
    schema = build_pandera_schema(table, tax, columns=list(df.columns), final=False, unique=unique)
    try:
        schema.validate(df, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
    spec = S.TABLES[table]
    out = []
    for (column, check), g in fc.groupby(["column", "check"], sort=False, dropna=False):
        pos = pd.to_numeric(g["index"], errors="coerce")
        if column in bad:  # already reported as a parse failure
            g = g[~pos.isin(np.flatnonzero(bad[column])).to_numpy()]
            pos = pos.loc[g.index]
            if g.empty:
                continue
        idx = np.unique(pos.dropna().astype("int64").to_numpy())
        rows = idx + 1
        check = str(check)
        values = list(raw[column].iloc[idx[:50]]) if column in raw.columns else []
        if check != "field_uniqueness":  # a duplicate id is still a usable id
            mask = bad.setdefault(column, np.zeros(len(df), dtype=bool))
            mask[idx] = True
        if check == "not_nullable":
            rule, values = "empty value (this column is required)", []
        elif check == "field_uniqueness":
            key = spec.key == column
            rule = (
                "duplicate key (each value must appear once)"
                if key
                else "duplicate value (each value must appear once)"
            ) + _found(values)
        elif check.startswith("dtype("):
            col = spec.column(column)
            rule = f"wrong type: expected {col.dtype}, got {df[column].dtype}"
            values = []
        else:
            rule = check + _found(values)
        out.append(_problem(table, file, column, rule, rows, values=[v for v in values if not _isna(v)]))
    return out


# ------------------------------------------------------------------ single table
def _check_table(
    df: pd.DataFrame, table: str, file: str | None, tax: S.Taxonomy, unique: bool = True
) -> tuple[pd.DataFrame, list[dict], dict[str, np.ndarray]]:
    """Parse and check one table.

    Returns the best-effort typed frame, its problems, and per column a mask of
    the cells that broke a rule (so cross-table rules can skip them instead of
    reporting knock-on problems). ``unique=False`` skips the uniqueness rules
    (for a batch of a streamed table whose caller checks them over all batches).
    """
    if table not in S.TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(S.TABLE_NAMES)}")
    spec = S.TABLES[table]
    df = df.reset_index(drop=True)
    n = len(df)
    problems: list[dict] = []
    names = spec.column_names

    cols = [str(c) for c in df.columns]
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    for c in dupes:
        problems.append(_problem(table, file, c, "column given more than once in the header", count=n))
    df.columns = cols
    df = df.loc[:, ~pd.Index(cols).duplicated()]
    optional = [c.name for c in spec.columns if not c.required and c.name not in df.columns]
    if optional:  # an optional column left out is read as all-missing
        df = df.assign(**{c: pd.Series([None] * n, index=df.index, dtype=object) for c in optional})
    missing = [c for c in names if c not in df.columns]
    extra = [c for c in df.columns if c not in names]
    for c in missing:
        if spec.column(c).nullable:  # optional column (README: required "no"): absent = every cell empty
            p = _problem(table, file, c, "optional column absent: taken as empty in every row", count=n)
            p["level"] = "warning"
            problems.append(p)
            continue
        problems.append(_problem(table, file, c, f"missing column (required in '{table}')", count=n))
    opt_absent = [c for c in missing if spec.column(c).nullable]
    if opt_absent:
        df = df.assign(**{c: pd.Series(pd.NA, index=df.index, dtype="str") for c in opt_absent})
    for c in extra:
        close = difflib.get_close_matches(c, [m for m in names if m not in df.columns] or names, n=1, cutoff=0.6)
        if c.startswith("Unnamed:"):
            hint = " (a column without a header: a saved row index? re-save without it)"
        elif close:
            hint = f"; did you mean '{close[0]}'?"
        else:
            hint = f" (allowed: {', '.join(names)})"
        problems.append(_problem(table, file, c, f"unknown column, not in the contract of '{table}'{hint}", count=n))
    if n == 0 and table in S.REQUIRED_TABLES:
        problems.append(_problem(table, file, WHOLE_TABLE, "table has no data rows (header only)", count=0))

    typed = {}
    bad_cells: dict[str, np.ndarray] = {}
    for col in spec.columns:
        if col.name not in df.columns:
            continue
        raw = df[col.name]
        parsed, bad, rule = _parse_column(raw, col)
        typed[col.name] = parsed
        bad = np.asarray(bad)
        if col.dtype == "datetime":
            for code, dt_rule in _DT_RULES.items():
                m = bad == code
                if m.any():
                    problems.append(
                        _problem(
                            table,
                            file,
                            col.name,
                            dt_rule + _found(raw[m].head(10)),
                            _rows_of(m),
                            values=list(raw[m].head(MAX_VALUES)),
                        )
                    )
            bad_cells[col.name] = bad > 0
        elif bad.any():
            bad_cells[col.name] = bad.astype(bool)
            problems.append(
                _problem(
                    table,
                    file,
                    col.name,
                    cast(str, rule) + _found(raw[bad.astype(bool)].head(10)),  # a rule comes with every failure
                    _rows_of(bad),
                    values=list(raw[bad.astype(bool)].head(MAX_VALUES)),
                )
            )
    out = pd.DataFrame(typed, index=pd.RangeIndex(n))
    # int/bool columns stay nullable (Int64/boolean) here; _finish casts them once all is well
    problems += _name_rules(out, table, file, bad_cells)  # strips blanks first: pandera sees the stripped names
    problems += _pandera_problems(out, df, table, file, tax, bad_cells, unique=unique)
    problems += _row_rules(out, table, file)
    problems += _qaqa_row_rules(out, table, file)
    problems += _date_rules(out, df, table, file, bad_cells)
    return out, problems, bad_cells


#: strings that stand for a missing value: never accepted as an id (compared stripped, case-insensitive)
NULL_PLACEHOLDERS = frozenset({"null", "none", "nan", "n/a", "na", "#n/a", "nil", "undefined", "-", "?"})
#: id columns (a placeholder there would join unrelated rows as one id)
ID_COLUMNS = frozenset(
    {
        S.DECISION_ID,
        S.CONTENT_ID,
        S.MODERATOR_ID,
        S.AUDIT_ID,
        S.AUDITOR_ID,
        S.SAMPLE_ID,
        S.SESSION_ID,
        S.ITEM_ID,
        S.RATER_ID,
        S.ACTION_ID,
    }
)
#: name columns where two spellings differing only in case would make two groups of one real unit
CASE_FOLDED = (S.VENDOR, S.SITE, S.MARKET, S.QUEUE, S.LANGUAGE)


def _name_rules(df: pd.DataFrame, table: str, file, bad: dict[str, np.ndarray]) -> list[dict]:
    """Names and ids: blanks stripped (with a warning), placeholders as ids, case-only variants.

    Modifies ``df`` in place (it is the frame being built by :func:`_check_table`):
    leading/trailing blanks are stripped from every non-free-text text column, so
    ``'Vendor A '`` is ``'Vendor A'``, not a sixth vendor.
    """
    out: list[dict] = []
    for col in S.TABLES[table].columns:
        c = col.name
        if col.dtype != "str" or c in FREE_TEXT or c not in df.columns:
            continue
        v = df[c]
        stripped = v.str.strip()
        m = v.notna().to_numpy(dtype=bool) & (stripped != v).fillna(False).to_numpy(dtype=bool)
        if m.any():
            p = _problem(
                table,
                file,
                c,
                "leading/trailing blanks stripped (the value is used without them)" + _found(v[m].head(10)),
                _rows_of(m),
                values=list(v[m].head(MAX_VALUES)),
            )
            p["level"] = "warning"
            out.append(p)
            df[c] = stripped
            v = stripped
        if c in ID_COLUMNS:
            m = v.str.lower().isin(NULL_PLACEHOLDERS).fillna(False).to_numpy(dtype=bool)
            if m.any():
                bad.setdefault(c, np.zeros(len(df), dtype=bool))[m] = True
                out.append(
                    _problem(
                        table,
                        file,
                        c,
                        "placeholder for a missing value used as an id (leave the cell empty if it is unknown)"
                        + _found(v[m].head(10)),
                        _rows_of(m),
                        values=list(v[m].head(MAX_VALUES)),
                    )
                )
        if c in CASE_FOLDED:
            uniq = pd.Series(pd.unique(v.dropna().astype(object)), dtype=object)
            folded = uniq.str.casefold()
            clash = uniq[folded.duplicated(keep=False)]
            if len(clash):
                m = _isin(v, clash)
                groups = clash.groupby(clash.str.casefold()).apply(lambda g: " / ".join(repr(x) for x in sorted(g)))
                out.append(
                    _problem(
                        table,
                        file,
                        c,
                        "names that differ only in upper/lower case would be reported as different units "
                        f"(use one spelling): {'; '.join(groups.head(MAX_VALUES))}",
                        _rows_of(m),
                    )
                )
    return out


#: defaults of params/ingest.yaml: plausible timestamps lie in [earliest_date, now + future_tolerance_hours]
DEFAULT_EARLIEST_DATE = "2015-01-01"
DEFAULT_FUTURE_TOLERANCE_HOURS = 24.0


def date_bounds(now: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The plausible range of every timestamp: ``(earliest_date, now + future_tolerance_hours)``.

    Read from ``params/ingest.yaml`` (keys ``earliest_date``, ``future_tolerance_hours``)
    when it exists; defaults :data:`DEFAULT_EARLIEST_DATE` and
    :data:`DEFAULT_FUTURE_TOLERANCE_HOURS`. ``now`` defaults to the current UTC time.
    """
    from modqa_lib.config import PARAMS_DIR

    cfg: dict = {}
    p = PARAMS_DIR / "ingest.yaml"
    if p.exists():
        from modqa_lib.contract.params_schema import load_params_file

        cfg = load_params_file(p)
    floor = pd.Timestamp(str(cfg.get("earliest_date", DEFAULT_EARLIEST_DATE)))
    floor = floor.tz_localize("UTC") if floor.tzinfo is None else floor.tz_convert("UTC")
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    tol = float(cfg.get("future_tolerance_hours", DEFAULT_FUTURE_TOLERANCE_HOURS))
    return floor, now + pd.Timedelta(hours=tol)


def _date_rules(df: pd.DataFrame, raw: pd.DataFrame, table: str, file, bad: dict[str, np.ndarray]) -> list[dict]:
    """Timestamps outside :func:`date_bounds` (a 2031 or 2300 decision moves every report window)."""
    out: list[dict] = []
    dt_cols = [c.name for c in S.TABLES[table].columns if c.dtype == "datetime" and c.name in df.columns]
    if not dt_cols:
        return out
    floor, ceiling = date_bounds()
    for c in dt_cols:
        v = df[c]
        for m, rule in (
            (
                (v > ceiling).fillna(False).to_numpy(dtype=bool),
                f"timestamp in the future (after the ingest time "
                f"{ceiling:%Y-%m-%d %H:%M} UTC incl. tolerance; params/ingest.yaml future_tolerance_hours)",
            ),
            (
                (v < floor).fillna(False).to_numpy(dtype=bool),
                f"timestamp before the earliest plausible date {floor:%Y-%m-%d} (params/ingest.yaml earliest_date)",
            ),
        ):
            if m.any():
                bad.setdefault(c, np.zeros(len(df), dtype=bool))[m] = True
                vals = raw[c][m] if c in raw.columns else v[m]
                out.append(
                    _problem(
                        table, file, c, rule + _found(vals.head(10)), _rows_of(m), values=list(vals.head(MAX_VALUES))
                    )
                )
    return out


def _row_rules(df: pd.DataFrame, table: str, file) -> list[dict]:
    """Within-table rules pandera cannot express cleanly."""
    out: list[dict] = []
    if table == "appeals":
        return _appeal_rules(df, table, file)
    if table != "audits":
        return out
    has = set(df.columns)
    if {S.WEIGHT, S.INCLUSION_PROB} <= has:
        w = df[S.WEIGHT].to_numpy(dtype="float64", na_value=np.nan)
        p = df[S.INCLUSION_PROB].to_numpy(dtype="float64", na_value=np.nan)
        ok = np.isfinite(w) & np.isfinite(p) & (p > 0) & (p <= 1)
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ok & (np.abs(w * p - 1) > WEIGHT_RTOL)
        if bad.any():
            i = np.flatnonzero(bad)[:MAX_VALUES]
            ex = "; ".join(f"data row {k + 1}: weight {w[k]:g}, 1/inclusion_prob {1 / p[k]:g}" for k in i)
            out.append(
                _problem(
                    table,
                    file,
                    S.WEIGHT,
                    f"weight must equal 1 / inclusion_prob (within {WEIGHT_RTOL:.1%}); e.g. {ex}",
                    _rows_of(bad),
                )
            )
    if S.IS_ERROR in has:
        err = df[S.IS_ERROR].astype("boolean")
        is_err = err.fillna(False).to_numpy(dtype=bool)
        not_err = (~err).fillna(False).to_numpy(dtype=bool)
        for c in (S.ERROR_TYPE, S.SEVERITY, S.ROOT_CAUSE):
            if c not in has:
                continue
            given = df[c].notna().to_numpy(dtype=bool)
            m = is_err & ~given
            if m.any():
                out.append(
                    _problem(
                        table,
                        file,
                        c,
                        "required when is_error is true (an error needs error_type, severity and root_cause)",
                        _rows_of(m),
                    )
                )
            m = not_err & given
            if m.any():
                out.append(
                    _problem(
                        table,
                        file,
                        c,
                        "must be empty when is_error is false" + _found(df[c][m]),
                        _rows_of(m),
                        values=list(df[c][m].head(MAX_VALUES)),
                    )
                )
    return out


def _appeal_rules(df: pd.DataFrame, table: str, file) -> list[dict]:
    """Appeals: outcome in {reversed, upheld}; outcome and decided_at together; decided after appealed."""
    out: list[dict] = []
    has = set(df.columns)
    if S.OUTCOME in has:
        o = df[S.OUTCOME]
        m = o.notna().to_numpy(dtype=bool) & ~_isin(o, S.APPEAL_OUTCOMES)
        if m.any():
            out.append(
                _problem(
                    table,
                    file,
                    S.OUTCOME,
                    f"outcome must be one of {', '.join(S.APPEAL_OUTCOMES)} (or empty while pending)" + _found(o[m]),
                    _rows_of(m),
                    values=list(o[m].head(MAX_VALUES)),
                )
            )
        if S.DECIDED_AT in has:
            m = o.notna().to_numpy(dtype=bool) != df[S.DECIDED_AT].notna().to_numpy(dtype=bool)
            if m.any():
                out.append(
                    _problem(
                        table,
                        file,
                        S.DECIDED_AT,
                        "decided_at and outcome must both be given or both empty",
                        _rows_of(m),
                    )
                )
    if {S.APPEALED_AT, S.DECIDED_AT} <= has:
        a = pd.to_datetime(df[S.APPEALED_AT], utc=True, errors="coerce")
        d = pd.to_datetime(df[S.DECIDED_AT], utc=True, errors="coerce")
        m = (a.notna() & d.notna() & (d < a)).to_numpy(dtype=bool)
        if m.any():
            out.append(_problem(table, file, S.DECIDED_AT, "appeal decided before it was made", _rows_of(m)))
    return out


def _finish(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Final dtypes of a table that passed (non-nullable int/bool back to numpy)."""
    out = df.copy()
    for col in S.TABLES[table].columns:
        if col.name in out.columns:
            out[col.name] = out[col.name].astype(_target_dtype(col))
    return out


def validate_table(
    df: pd.DataFrame, table: str, file: str | None = None, taxonomy: S.Taxonomy | None = None
) -> pd.DataFrame:
    """Parse and validate one raw table against the contract.

    Parameters
    ----------
    df : DataFrame
        As read by :func:`modqa_lib.data.io.read_raw_table` (strings from CSV, or
        typed from parquet). Not modified.
    table : str
        Contract table name (a key of :data:`schema.TABLES`).
    file : str, optional
        File name used in problem messages (default: the table name).
    taxonomy : Taxonomy, optional
        Default :func:`schema.load_taxonomy`.

    Returns
    -------
    DataFrame
        A typed copy with the contract's columns in contract order and a RangeIndex.

    Raises
    ------
    DataContractError
        Listing every problem in the table (within-table rules only; see
        :func:`validate_tables` for cross-table rules).
    """
    tax = taxonomy or S.load_taxonomy()
    out, problems, _ = _check_table(df, table, file, tax)
    if problems:
        problems.sort(key=_problem_order)
        raise DataContractError(problems)
    return _finish(out, table)


# ------------------------------------------------------------------ QA of QA tables
def _qaqa_row_rules(df: pd.DataFrame, table: str, file) -> list[dict]:
    """Within-table rules of ``disputes``: what an open, upheld or overturned dispute must carry."""
    out: list[dict] = []
    if table != "disputes" or S.STATUS not in df.columns:
        return out
    has = set(df.columns)
    status = df[S.STATUS].astype(object)
    given = status.notna().to_numpy(dtype=bool)
    is_open = given & (status == S.STATUS_OPEN).to_numpy(dtype=bool)
    resolved = given & ~is_open
    overturned = given & (status == S.STATUS_OVERTURNED).to_numpy(dtype=bool)
    upheld = given & (status == S.STATUS_UPHELD).to_numpy(dtype=bool)

    def rule(col: str, mask: np.ndarray, text: str, show: bool = False) -> None:
        if col in has and mask.any():
            vals = df[col][mask]
            out.append(
                _problem(
                    table,
                    file,
                    col,
                    text + (_found(vals.head(10)) if show else ""),
                    _rows_of(mask),
                    values=list(vals.head(MAX_VALUES)) if show else (),
                )
            )

    for c in (S.RESOLVED_AT, S.RESOLVED_BY, S.RESOLUTION_REASON):
        if c in has:
            filled = df[c].notna().to_numpy(dtype=bool)
            rule(c, resolved & ~filled, "required once a dispute is resolved (status is not 'open')")
            rule(c, is_open & filled, "must be empty while the dispute is open", show=True)
    if S.CORRECTED_LABEL in has:
        filled = df[S.CORRECTED_LABEL].notna().to_numpy(dtype=bool)
        rule(
            S.CORRECTED_LABEL,
            overturned & ~filled,
            "required when status is 'overturned' (the label that replaces QA's)",
        )
        rule(
            S.CORRECTED_LABEL,
            (upheld | is_open) & filled,
            "must be empty when the dispute is upheld or open",
            show=True,
        )
    if {S.RAISED_AT, S.RESOLVED_AT} <= has:
        m = (df[S.RESOLVED_AT] < df[S.RAISED_AT]).fillna(False).to_numpy(dtype=bool)
        rule(S.RESOLVED_AT, m, "dispute resolved before it was raised (resolved_at < raised_at)")
    return out


#: contract dtypes of a table that passed validation (non-nullable int/bool back to numpy)
contract_dtypes = _finish
