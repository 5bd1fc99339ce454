"""Timestamps outside the plausible range are rejected (issue 12, dates)."""

from __future__ import annotations

import pandas as pd
import pytest
from valid_tables import make_valid_tables

from modqa_lib.contract import schema as S
from modqa_lib.contract import validation as V
from modqa_lib.contract.validation import date_bounds, validate_tables
from modqa_lib.errors import DataContractError


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2031-01-05T10:00:00Z", "timestamp in the future"),
        ("2300-01-05T10:00:00Z", "timestamp in the future"),  # used to crash sampling with an out-of-bounds traceback
        ("1999-12-31T10:00:00+08:00", "timestamp before the earliest plausible date 2015-01-01"),
    ],
)
def test_implausible_decided_at_is_rejected(value, fragment):
    t = make_valid_tables()
    t["decisions"].loc[6, S.DECIDED_AT] = value
    with pytest.raises(DataContractError) as e:
        validate_tables(t)
    (p,) = [p for p in e.value.problems if p["column"] == S.DECIDED_AT]
    assert fragment in p["rule"] and p["rows"] == [7] and value in p["rule"]
    assert "decisions: column 'decided_at'" in str(e.value)


def test_future_tolerance_and_floor_come_from_params(tmp_path, monkeypatch):
    (tmp_path / "ingest.yaml").write_text("earliest_date: '2026-03-05'\nfuture_tolerance_hours: 1\n")
    monkeypatch.setattr("modqa_lib.config.PARAMS_DIR", tmp_path)
    floor, ceiling = date_bounds(now=pd.Timestamp("2026-03-01T00:00:00Z"))
    assert floor == pd.Timestamp("2026-03-05T00:00:00Z") and ceiling == pd.Timestamp("2026-03-01T01:00:00Z")
    t = make_valid_tables()  # decisions from 2026-03-02: some now fall before the floor
    with pytest.raises(DataContractError, match="earliest plausible date 2026-03-05"):
        validate_tables(t)


def test_audit_before_its_decision_is_an_error():
    t = make_valid_tables()
    t["audits"].loc[2, S.AUDITED_AT] = "2026-03-01T00:00:00Z"
    with pytest.raises(DataContractError) as e:
        validate_tables(t)
    assert any(p["column"] == S.AUDITED_AT and "dated before its decision" in p["rule"] for p in e.value.problems)


def test_dates_now_in_range_pass():
    assert V.validate_tables(make_valid_tables())  # 2026-03 dates: inside [2015-01-01, now + 24 h]
