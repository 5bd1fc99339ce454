"""Rules across tables: audits vs decisions, calibration vs golden, action scopes, appeals, the QA-of-QA tables."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation.values import (
    DATETIME_DTYPE,
    MAX_VALUES,
    _found,
    _isin,
    _isna,
    _problem,
    _rows_of,
)

__all__ = [
    "DECISION_COLUMNS_READ",
    "cross_rules_on_small_tables",
    "qaqa_cross_table_problems",
]

#: the decisions columns the cross-table rules read (the fast ingest path reads only these of the
#: audited decisions; its tests compare it with the streaming path on every ingest case of the corpus)
DECISION_COLUMNS_READ = (S.DECISION_ID, S.LABEL, S.DECIDED_AT, S.VENDOR, S.SITE, S.MARKET)


# ------------------------------------------------------------------ cross-table
def _ok_mask(t, bad, table: str, *cols: str) -> np.ndarray:
    """Mask of rows of ``table`` whose ``cols`` passed the per-table checks."""
    m = np.ones(len(t[table]), dtype=bool)
    for c in cols:
        if c in bad.get(table, {}):
            m &= ~bad[table][c]
    return m


def _has(df, *cols) -> bool:
    return df is not None and all(c in df.columns for c in cols)


def _unknown_decision_problems(dec: pd.DataFrame, aud: pd.DataFrame, f_aud) -> list[dict]:
    """Audits that point at a decision_id not in decisions."""
    ids = aud[S.DECISION_ID]
    m = ids.notna().to_numpy(dtype=bool) & ~_isin(ids, dec[S.DECISION_ID])
    if not m.any():
        return []
    return [
        _problem(
            "audits",
            f_aud,
            S.DECISION_ID,
            "audit points at unknown decision_id (not in decisions)" + _found(ids[m].head(10)),
            _rows_of(m),
            values=list(ids[m].head(MAX_VALUES)),
        )
    ]


def _is_error_problems(aud: pd.DataFrame, lab: pd.Series, f_aud, aud_ok: np.ndarray) -> tuple[list[dict], pd.Series]:
    """is_error must equal (decision label != qa_label) on non-golden audits; also returns the mask of
    audits whose labels, is_error and golden flag are all known (used by the error-type rule)."""
    qa = aud[S.QA_LABEL].astype("str")
    err = aud[S.IS_ERROR].astype("boolean")
    golden = aud[S.IS_GOLDEN].astype("boolean").fillna(True)
    known = lab.notna() & qa.notna() & err.notna() & ~golden
    expect = lab != qa
    m = (known & (expect != err)).fillna(False).to_numpy(dtype=bool) & aud_ok
    if not m.any():
        return [], known
    i = np.flatnonzero(m)[:2]
    ex = "; ".join(
        f"data row {k + 1}: label '{lab.iloc[k]}', qa_label '{qa.iloc[k]}', is_error {str(bool(err.iloc[k])).lower()}"
        for k in i
    )
    return [
        _problem(
            "audits",
            f_aud,
            S.IS_ERROR,
            f"is_error must equal (decision label != qa_label) for non-golden audits; e.g. {ex}",
            _rows_of(m),
        )
    ], known


def _error_type_problems(
    aud: pd.DataFrame, lab: pd.Series, known: pd.Series, f_aud, aud_ok: np.ndarray, tax: S.Taxonomy
) -> list[dict]:
    """error_type must match the labels (false_positive, false_negative, wrong_policy)."""
    kinds = ("false_positive", "false_negative", "wrong_policy")
    if not _has(aud, S.ERROR_TYPE) or not set(kinds) <= set(tax.error_types):
        return []
    qa = aud[S.QA_LABEL].astype("str")
    err = aud[S.IS_ERROR].astype("boolean")
    nv = tax.no_violation
    lab_nv, qa_nv = (lab == nv).fillna(False).to_numpy(bool), (qa == nv).fillna(False).to_numpy(bool)
    differ = (lab != qa).fillna(False).to_numpy(bool)
    expected = np.select([~lab_nv & qa_nv, lab_nv & ~qa_nv, ~lab_nv & ~qa_nv & differ], kinds, "")
    et = aud[S.ERROR_TYPE]
    m = (
        (known & err).fillna(False).to_numpy(bool)
        & et.notna().to_numpy(bool)
        & (expected != "")
        & (et.astype(object).to_numpy() != expected)
        & aud_ok
    )
    if not m.any():
        return []
    i = np.flatnonzero(m)[:2]
    ex = "; ".join(
        f"data row {k + 1}: label '{lab.iloc[k]}', qa_label '{qa.iloc[k]}', "
        f"error_type '{et.iloc[k]}' (expected '{expected[k]}')"
        for k in i
    )
    return [
        _problem(
            "audits",
            f_aud,
            S.ERROR_TYPE,
            f"error_type does not match the labels (decision actioned, QA says "
            f"{nv} = false_positive; decision {nv}, QA says a policy = "
            f"false_negative; two different policies = wrong_policy); e.g. {ex}",
            _rows_of(m),
        )
    ]


def _audit_date_problems(aud: pd.DataFrame, lookup: pd.DataFrame, f_aud) -> list[dict]:
    """An audit must not be dated before its decision."""
    ids = aud[S.DECISION_ID]
    # reindexed as a datetime column (its .to_numpy() would box every value as an object)
    decided = lookup[S.DECIDED_AT].reindex(ids.to_numpy()).astype(DATETIME_DTYPE).set_axis(aud.index)
    m = (aud[S.AUDITED_AT] < decided).fillna(False).to_numpy(dtype=bool)
    if not m.any():
        return []
    return [
        _problem(
            "audits", f_aud, S.AUDITED_AT, "audit is dated before its decision (audited_at < decided_at)", _rows_of(m)
        )
    ]


def _audit_problems(t, files, bad, tax) -> list[dict]:
    """Audits against their decisions: the decision exists, is_error and error_type match, dates in order."""
    dec, aud = t.get("decisions"), t.get("audits")
    if not (_has(dec, S.DECISION_ID) and _has(aud, S.DECISION_ID)):
        return []
    f_aud = files.get("audits")
    out = _unknown_decision_problems(dec, aud, f_aud)
    # join audits to their decision (first occurrence of duplicated decision ids)
    ok_dec = _ok_mask(t, bad, "decisions", S.LABEL, S.DECIDED_AT)
    lookup = dec[ok_dec].drop_duplicates(S.DECISION_ID).set_index(S.DECISION_ID)
    if _has(dec, S.LABEL) and _has(aud, S.QA_LABEL, S.IS_ERROR, S.IS_GOLDEN):
        ids = aud[S.DECISION_ID]
        lab = pd.Series(lookup[S.LABEL].reindex(ids.to_numpy()).to_numpy(), index=aud.index, dtype="str")
        flags = (S.QA_LABEL, S.IS_ERROR, S.IS_GOLDEN)
        p, known = _is_error_problems(aud, lab, f_aud, _ok_mask(t, bad, "audits", *flags))
        out += p
        out += _error_type_problems(aud, lab, known, f_aud, _ok_mask(t, bad, "audits", *flags, S.ERROR_TYPE), tax)
    if _has(dec, S.DECIDED_AT) and _has(aud, S.AUDITED_AT):
        out += _audit_date_problems(aud, lookup, f_aud)
    return out


def _calibration_problems(t, files) -> list[dict]:
    """Calibration items must exist in golden."""
    cal, gold = t.get("calibration"), t.get("golden")
    if not (_has(cal, S.ITEM_ID) and _has(gold, S.ITEM_ID)):
        return []
    items = cal[S.ITEM_ID]
    m = items.notna().to_numpy(dtype=bool) & ~_isin(items, gold[S.ITEM_ID])
    if not m.any():
        return []
    return [
        _problem(
            "calibration",
            files.get("calibration"),
            S.ITEM_ID,
            "calibration item not in golden" + _found(items[m].head(10)),
            _rows_of(m),
            values=list(items[m].head(MAX_VALUES)),
        )
    ]


def _action_scope_problems(t, files) -> list[dict]:
    """Action scopes (vendor, market, site of that vendor) must exist in decisions."""
    act, dec = t.get("actions"), t.get("decisions")
    if act is None or dec is None:
        return []
    out: list[dict] = []
    f_act = files.get("actions")
    for c in (S.VENDOR, S.MARKET):
        if _has(act, c) and _has(dec, c):
            v = act[c]
            m = v.notna().to_numpy(dtype=bool) & ~_isin(v, dec[c])
            if m.any():
                out.append(
                    _problem(
                        "actions",
                        f_act,
                        c,
                        f"action scope {c} not found in decisions" + _found(v[m]),
                        _rows_of(m),
                        values=list(v[m].head(MAX_VALUES)),
                    )
                )
    if _has(act, S.SITE, S.VENDOR) and _has(dec, S.SITE, S.VENDOR):
        pairs = set(zip(dec[S.VENDOR].astype(object), dec[S.SITE].astype(object)))
        sites = set(dec[S.SITE].dropna())
        bad_rows = []
        for k, (v, s) in enumerate(zip(act[S.VENDOR].astype(object), act[S.SITE].astype(object))):
            if _isna(s):
                continue
            if s not in sites or (not _isna(v) and (v, s) not in pairs):
                bad_rows.append(k)
        if bad_rows:
            vals = act[S.SITE].iloc[bad_rows]
            out.append(
                _problem(
                    "actions",
                    f_act,
                    S.SITE,
                    "action scope site not found in decisions (for that vendor)" + _found(vals),
                    np.asarray(bad_rows) + 1,
                    values=list(vals.head(MAX_VALUES)),
                )
            )
    return out


def _cross_table_problems(
    t: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    bad: Mapping[str, Mapping[str, np.ndarray]],
    tax: S.Taxonomy,
    sample_plan: pd.DataFrame | None = None,
) -> list[dict]:
    """Rules across tables; cells that already broke a per-table rule are skipped.

    Each step is one named function; :mod:`modqa_lib.data.stream` runs the same
    steps on the audited decisions of a log too big to load.
    """
    return (
        cross_rules_on_small_tables(t, files, sample_plan)
        + _audit_problems(t, files, bad, tax)
        + _calibration_problems(t, files)
        + _action_scope_problems(t, files)
        + _appeal_problems(t, files)
    )


def cross_rules_on_small_tables(
    t: Mapping[str, pd.DataFrame], files: Mapping[str, str], sample_plan: pd.DataFrame | None = None
) -> list[dict]:
    """The rules of :mod:`modqa_lib.contract.cross_checks` (weights vs the sample plan, golden audits, dates)."""
    from modqa_lib.contract.cross_checks import cross_problems

    return cross_problems(t, files, sample_plan)


def _appeal_problems(t: Mapping[str, pd.DataFrame], files: Mapping[str, str]) -> list[dict]:
    """Every appeal points at a known decision."""
    app, dec = t.get("appeals"), t.get("decisions")
    if app is None or dec is None or S.DECISION_ID not in app.columns or S.DECISION_ID not in dec.columns:
        return []
    ids = app[S.DECISION_ID]
    m = ids.notna().to_numpy(dtype=bool) & ~_isin(ids, dec[S.DECISION_ID])
    if not m.any():
        return []
    return [
        _problem(
            "appeals",
            files.get("appeals"),
            S.DECISION_ID,
            "appeal points at unknown decision_id (not in decisions)" + _found(ids[m].head(10)),
            _rows_of(m),
            values=list(ids[m].head(MAX_VALUES)),
        )
    ]


def qaqa_cross_table_problems(
    t: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    bad: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    taxonomy: S.Taxonomy | None = None,
) -> list[dict]:
    """Cross-table rules of the QA-of-QA tables (``disputes``, ``vendor_qa``).

    Parameters
    ----------
    t : mapping of table name to DataFrame
        Typed tables (after the per-table parsing); absent tables skip their rules.
    files : mapping of table name to file name
        Used in messages.
    bad : mapping, optional
        Per table and column, a mask of cells that already broke a per-table rule (skipped here).
    taxonomy : Taxonomy, optional
        Unused today; kept for the signature of the other cross-table checks.

    Returns
    -------
    list of dict
        Problem dicts (see the module docstring): a dispute points at an unknown
        ``audit_id``; a dispute is raised before its audit; a vendor-QA row points
        at an unknown ``decision_id``; a vendor-QA ``is_error`` differs from
        (decision label != vendor_qa_label); a vendor audit is dated before its decision.
    """
    bad = bad or {}
    out: list[dict] = []

    def ok(table: str, *cols: str) -> np.ndarray:
        m = np.ones(len(t[table]), dtype=bool)
        for c in cols:
            if c in bad.get(table, {}):
                m &= ~np.asarray(bad[table][c], dtype=bool)
        return m

    def has(name, *cols):
        df = t.get(name)
        return df is not None and all(c in df.columns for c in cols)

    if has("disputes", S.AUDIT_ID) and has("audits", S.AUDIT_ID):
        dis, aud = t["disputes"], t["audits"]
        ids = dis[S.AUDIT_ID]
        known = _isin(ids, aud[S.AUDIT_ID])
        m = ids.notna().to_numpy(dtype=bool) & ~known
        if m.any():
            out.append(
                _problem(
                    "disputes",
                    files.get("disputes"),
                    S.AUDIT_ID,
                    "dispute points at unknown audit_id (not in audits)" + _found(ids[m].head(10)),
                    _rows_of(m),
                    values=list(ids[m].head(MAX_VALUES)),
                )
            )
        if has("disputes", S.RAISED_AT) and has("audits", S.AUDITED_AT):
            look = aud[ok("audits", S.AUDITED_AT)].drop_duplicates(S.AUDIT_ID).set_index(S.AUDIT_ID)[S.AUDITED_AT]
            when = pd.Series(look.reindex(ids.to_numpy()).to_numpy(), index=dis.index, dtype=DATETIME_DTYPE)
            m = (dis[S.RAISED_AT] < when).fillna(False).to_numpy(dtype=bool) & ok("disputes", S.RAISED_AT)
            if m.any():
                out.append(
                    _problem(
                        "disputes",
                        files.get("disputes"),
                        S.RAISED_AT,
                        "dispute raised before the audit it disputes (raised_at < audited_at)",
                        _rows_of(m),
                    )
                )

    if has("vendor_qa", S.DECISION_ID) and has("decisions", S.DECISION_ID):
        vqa, dec = t["vendor_qa"], t["decisions"]
        f = files.get("vendor_qa")
        ids = vqa[S.DECISION_ID]
        m = ids.notna().to_numpy(dtype=bool) & ~_isin(ids, dec[S.DECISION_ID])
        if m.any():
            out.append(
                _problem(
                    "vendor_qa",
                    f,
                    S.DECISION_ID,
                    "vendor audit points at unknown decision_id (not in decisions)" + _found(ids[m].head(10)),
                    _rows_of(m),
                    values=list(ids[m].head(MAX_VALUES)),
                )
            )
        lookup = dec[ok("decisions", S.LABEL, S.DECIDED_AT)].drop_duplicates(S.DECISION_ID).set_index(S.DECISION_ID)
        if has("vendor_qa", S.VENDOR_QA_LABEL, S.IS_ERROR) and S.LABEL in lookup.columns:
            lab = pd.Series(lookup[S.LABEL].reindex(ids.to_numpy()).to_numpy(), index=vqa.index, dtype="str")
            qa = vqa[S.VENDOR_QA_LABEL].astype("str")
            err = vqa[S.IS_ERROR].astype("boolean")
            known_vqa = lab.notna() & qa.notna() & err.notna()
            m = (known_vqa & ((lab != qa) != err)).fillna(False).to_numpy(dtype=bool) & ok(
                "vendor_qa", S.VENDOR_QA_LABEL, S.IS_ERROR
            )
            if m.any():
                i = np.flatnonzero(m)[:2]
                ex = "; ".join(
                    f"data row {k + 1}: label '{lab.iloc[k]}', vendor_qa_label '{qa.iloc[k]}', "
                    f"is_error {str(bool(err.iloc[k])).lower()}"
                    for k in i
                )
                out.append(
                    _problem(
                        "vendor_qa",
                        f,
                        S.IS_ERROR,
                        f"is_error must equal (decision label != vendor_qa_label); e.g. {ex}",
                        _rows_of(m),
                    )
                )
        if has("vendor_qa", S.AUDITED_AT) and S.DECIDED_AT in lookup.columns:
            decided = pd.Series(
                lookup[S.DECIDED_AT].reindex(ids.to_numpy()).to_numpy(), index=vqa.index, dtype=DATETIME_DTYPE
            )
            m = (vqa[S.AUDITED_AT] < decided).fillna(False).to_numpy(dtype=bool) & ok("vendor_qa", S.AUDITED_AT)
            if m.any():
                out.append(
                    _problem(
                        "vendor_qa",
                        f,
                        S.AUDITED_AT,
                        "vendor audit is dated before its decision (audited_at < decided_at)",
                        _rows_of(m),
                    )
                )
    return out
