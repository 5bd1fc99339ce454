"""The optional appeals table: contract rules and their messages."""

from __future__ import annotations

import pytest

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation import validate_tables
from modqa_lib.errors import DataContractError
from tests.valid_tables import make_valid_tables

FILES = {t: f"{t}.csv" for t in S.TABLE_NAMES}


def _problems(tables) -> str:
    with pytest.raises(DataContractError) as exc:
        validate_tables(tables, FILES)
    return str(exc.value)


def test_appeals_optional_and_valid():
    t = make_valid_tables()
    assert "appeals" in validate_tables(t, FILES)
    del t["appeals"]
    assert "appeals" not in validate_tables(t, FILES)


def test_appeal_outcome_vocabulary():
    t = make_valid_tables()
    t["appeals"].loc[0, S.OUTCOME] = "overturned"
    assert "outcome must be one of reversed, upheld" in _problems(t)


def test_appeal_decided_before_appealed_and_pairing():
    t = make_valid_tables()
    t["appeals"].loc[0, S.DECIDED_AT] = "2026-09-01T00:00:00+00:00"
    t["appeals"].loc[2, S.OUTCOME] = "upheld"
    msg = _problems(t)
    assert "appeal decided before it was made" in msg
    assert "decided_at and outcome must both be given or both empty" in msg


def test_appeal_unknown_decision():
    t = make_valid_tables()
    t["appeals"].loc[1, S.DECISION_ID] = "nope"
    assert "appeal points at unknown decision_id" in _problems(t)
