"""Tests of the QA-of-QA tables' rules (``disputes``, ``vendor_qa``) in modqa_lib.contract.validation.

Each test breaks one rule in the small valid data set of ``tests/valid_tables.py``
and checks the problem names the file, column, rule and data rows; one test
breaks several rules at once and checks they are all reported together.
"""

from __future__ import annotations

import pytest
from valid_tables import make_valid_tables

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation import qaqa_cross_table_problems, validate_tables
from modqa_lib.errors import DataContractError

FILES = {t: f"{t}.csv" for t in S.TABLE_NAMES}


def problems_of(tables) -> list[dict]:
    with pytest.raises(DataContractError) as ei:
        validate_tables(tables, FILES)
    return ei.value.problems


def only(problems, table, column, rule_part) -> dict:
    hits = [p for p in problems if p["table"] == table and p["column"] == column and rule_part in p["rule"]]
    assert len(hits) == 1, f"expected one problem on {table}.{column} with {rule_part!r}, got {problems}"
    return hits[0]


@pytest.fixture
def t():
    return make_valid_tables()


def test_valid_qaqa_tables_pass_typed_and_optional(t):
    out = validate_tables(t, FILES)
    assert str(out["disputes"][S.RAISED_AT].dtype) == "datetime64[us, UTC]"
    assert out["disputes"][S.RAISED_AT].iloc[0].hour == 0  # +08:00 converted to UTC
    assert out["vendor_qa"][S.IS_ERROR].dtype == bool
    assert out["vendor_qa"][S.IS_ERROR].tolist() == [False, False, True]
    # both tables are optional
    del t["disputes"], t["vendor_qa"]
    assert set(validate_tables(t, FILES)) == set(t) and not {"disputes", "vendor_qa"} & set(t)


def test_dispute_unknown_audit_and_vendor_qa_unknown_decision(t):
    t["disputes"].loc[1, S.AUDIT_ID] = "a99999"
    t["vendor_qa"].loc[2, S.DECISION_ID] = "d99999"
    ps = problems_of(t)
    p = only(ps, "disputes", S.AUDIT_ID, "unknown audit_id")
    assert p["rows"] == [2] and p["file"] == "disputes.csv" and "'a99999'" in p["rule"]
    p = only(ps, "vendor_qa", S.DECISION_ID, "unknown decision_id")
    assert p["rows"] == [3] and "'d99999'" in p["rule"]


def test_dispute_status_rules_all_at_once(t):
    d = t["disputes"]
    d.loc[0, S.CORRECTED_LABEL] = None  # overturned without a corrected label
    d.loc[1, S.RESOLVED_AT] = None  # upheld without resolved_at
    d.loc[2, S.RESOLUTION_REASON] = "grader_error"  # open with a resolution reason
    d.loc[2, S.STATUS] = "open"
    d.loc[1, S.REASON] = "bad_mood"  # not in the taxonomy
    ps = problems_of(t)
    assert only(ps, "disputes", S.CORRECTED_LABEL, "required when status is 'overturned'")["rows"] == [1]
    assert only(ps, "disputes", S.RESOLVED_AT, "required once a dispute is resolved")["rows"] == [2]
    p = only(ps, "disputes", S.RESOLUTION_REASON, "must be empty while the dispute is open")
    assert p["rows"] == [3] and "'grader_error'" in p["rule"]
    p = only(ps, "disputes", S.REASON, "not in taxonomy 'dispute_reasons'")
    assert p["rows"] == [2] and "policy_interpretation" in p["rule"]
    msg = str(DataContractError(ps))
    assert "disputes.csv: column 'corrected_label'" in msg


def test_dispute_dates(t):
    t["disputes"].loc[0, S.RESOLVED_AT] = "2026-03-28T00:00:00Z"  # before raised_at
    t["disputes"].loc[1, S.RAISED_AT] = "2026-03-01T00:00:00Z"  # before its audit
    ps = problems_of(t)
    assert only(ps, "disputes", S.RESOLVED_AT, "resolved before it was raised")["rows"] == [1]
    assert only(ps, "disputes", S.RAISED_AT, "raised before the audit")["rows"] == [2]


def test_upheld_dispute_must_not_carry_corrected_label(t):
    t["disputes"].loc[1, S.CORRECTED_LABEL] = "spam_scam"
    p = only(problems_of(t), "disputes", S.CORRECTED_LABEL, "must be empty when the dispute is upheld")
    assert p["rows"] == [2] and "'spam_scam'" in p["rule"]


def test_vendor_qa_is_error_must_match_labels_and_dates(t):
    t["vendor_qa"].loc[0, S.IS_ERROR] = "true"
    t["vendor_qa"].loc[1, S.AUDITED_AT] = "2026-03-01T00:00:00Z"
    t["vendor_qa"].loc[2, S.VENDOR_QA_LABEL] = "not_a_label"
    ps = problems_of(t)
    p = only(ps, "vendor_qa", S.IS_ERROR, "is_error must equal (decision label != vendor_qa_label)")
    assert p["rows"] == [1]
    assert only(ps, "vendor_qa", S.AUDITED_AT, "dated before its decision")["rows"] == [2]
    assert only(ps, "vendor_qa", S.VENDOR_QA_LABEL, "not in taxonomy 'labels'")["rows"] == [3]
    # the bad label is not reported again as an is_error mismatch
    assert not [p for p in ps if p["column"] == S.IS_ERROR and 3 in p["rows"]]


def test_duplicate_keys_and_missing_columns(t):
    t["vendor_qa"].loc[1, S.VENDOR_AUDIT_ID] = "va1"
    t["disputes"] = t["disputes"].drop(columns=[S.STATUS])
    ps = problems_of(t)
    assert only(ps, "vendor_qa", S.VENDOR_AUDIT_ID, "duplicate key")["rows"] == [1, 2]
    assert only(ps, "disputes", S.STATUS, "missing column")


def test_cross_table_function_is_callable_alone(t):
    typed = validate_tables(t, FILES)
    typed["disputes"].loc[0, S.AUDIT_ID] = "nope"
    ps = qaqa_cross_table_problems(typed, FILES)
    assert [p["column"] for p in ps] == [S.AUDIT_ID]
