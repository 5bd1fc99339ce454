"""Vocabularies, placeholder ids, blanks and case in names (issue 12, values no vocabulary checked)."""

from __future__ import annotations

import pytest
from valid_tables import make_valid_tables

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation import validate_tables
from modqa_lib.errors import DataContractError


def _problems(t) -> list[dict]:
    with pytest.raises(DataContractError) as e:
        validate_tables(t)
    return e.value.problems


@pytest.mark.parametrize(("table", "column"), [("calibration", S.LABEL), ("golden", S.GOLD_LABEL)])
def test_labels_from_the_taxonomy(table, column):
    t = make_valid_tables()
    t[table].loc[1, column] = "hate_speach"
    (p,) = [p for p in _problems(t) if p["table"] == table]
    assert p["column"] == column and "not in taxonomy 'labels'" in p["rule"] and p["rows"] == [2]


@pytest.mark.parametrize("placeholder", ["NULL", "N/A", "None", "nan", " null "])
def test_placeholder_strings_are_not_ids(placeholder):
    t = make_valid_tables()
    t["decisions"].loc[3, S.CONTENT_ID] = placeholder
    ps = [p for p in _problems(t) if p["column"] == S.CONTENT_ID]
    assert len(ps) == 1 and "placeholder for a missing value used as an id" in ps[0]["rule"] and ps[0]["rows"] == [4]


def test_trailing_blank_in_vendor_is_stripped_and_said():
    """'Vendor A ' must not become another vendor."""
    t = make_valid_tables()
    t["decisions"].loc[0, S.VENDOR] = "Vendor A "
    warned: list = []
    out = validate_tables(t, warnings=warned)
    assert set(out["decisions"][S.VENDOR]) == {"Vendor A", "Vendor B", "Vendor C", "Platform"}
    (w,) = warned
    assert w["column"] == S.VENDOR and "stripped" in w["rule"] and "'Vendor A '" in w["rule"] and w["rows"] == [1]


def test_case_only_variants_are_an_error():
    t = make_valid_tables()
    t["decisions"].loc[0, S.VENDOR] = "vendor a"
    (p,) = [p for p in _problems(t) if p["column"] == S.VENDOR]
    assert "differ only in upper/lower case" in p["rule"] and "'Vendor A' / 'vendor a'" in p["rule"]
    assert p["rows"][0] == 1
