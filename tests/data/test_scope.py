"""The one period parser (data.scope.parse_period) and how a period becomes weeks of the data."""

import pandas as pd
import pytest

from modqa_lib.data.scope import PERIOD_FORMS, Period, parse_period
from modqa_lib.errors import ConfigError

WEEKS = pd.Series(pd.date_range("2026-01-05", periods=10, freq="7D"))  # Mondays 2026-01-05 .. 2026-03-09


@pytest.mark.parametrize(
    ("text", "kind", "weeks"),
    [("all", "all", None), ("ALL", "all", None), (" All ", "all", None), ("last:4", "last", 4), ("Last:4", "last", 4)],
)
def test_all_and_last_in_any_case(text, kind, weeks):
    p = parse_period(text)
    assert (p.kind, p.weeks) == (kind, weeks)


def test_range_reads_dates_in_any_case():
    p = parse_period("2026-01-07:2026-02-01")
    assert p == Period("range", start=pd.Timestamp("2026-01-07"), end=pd.Timestamp("2026-02-01"), text=p.text)


def test_bounds_on_the_data():
    assert parse_period("ALL").bounds(WEEKS) == (pd.Timestamp("2026-01-05"), pd.Timestamp("2026-03-09"))
    assert parse_period("Last:4").bounds(WEEKS) == (pd.Timestamp("2026-02-16"), pd.Timestamp("2026-03-09"))
    assert parse_period("last:40").bounds(WEEKS)[0] == pd.Timestamp("2026-01-05")  # cut to the data
    # weeks whose Monday falls in the range: 2026-01-07 is in the week of 2026-01-05
    assert parse_period("2026-01-07:2026-02-01").bounds(WEEKS) == (
        pd.Timestamp("2026-01-05"),
        pd.Timestamp("2026-01-26"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"^period is empty: use 'last:N' \(the N most recent weeks, N >= 1\), 'all' or 'YYYY-MM-DD:YYYY-MM-DD'$"),
        ("   ", "^period is empty: use "),
        (None, "^period is empty: use "),
        ("last:0", r"^period 'last:0': N in 'last:N' must be a whole number of weeks >= 1, got '0'$"),
        ("last:-1", r"^period 'last:-1': N in 'last:N' must be a whole number of weeks >= 1, got '-1'$"),
        ("Last:x", r"^period 'Last:x': N in 'last:N' must be a whole number of weeks >= 1, got 'x'$"),
        ("last:", r"^period 'last:': N in 'last:N' must be a whole number of weeks >= 1, got ''$"),
        ("2026-03-01:2026-01-01", r"^period '2026-03-01:2026-01-01': start 2026-03-01 is after end 2026-01-01$"),
        ("2026-02-30:2026-03-01", r"^period '2026-02-30:2026-03-01': 2026-02-30 is not a date \(day is out of range"),
        ("2026-13-01:2026-12-31", r"^period '2026-13-01:2026-12-31': 2026-13-01 is not a date \(month must be in"),
        ("fortnight", r"^period 'fortnight' not understood: use 'last:N' \(the N most recent weeks, N >= 1\), 'all'"),
        ("last", "^period 'last' not understood: use "),
        ("12", "^period '12' not understood: use "),
        ("2026-01-01", "^period '2026-01-01' not understood: use "),
    ],
)
def test_every_error_says_what_is_wrong(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_period(text)


def test_errors_that_need_the_data():
    with pytest.raises(
        ConfigError, match=r"period '2027-01-01:2027-02-01' is outside the data \(2026-01-05 to 2026-03-09\)"
    ):
        parse_period("2027-01-01:2027-02-01").bounds(WEEKS)
    with pytest.raises(ConfigError, match="no audited decisions in the data: nothing to report"):
        parse_period("all").bounds(WEEKS.iloc[0:0])


def test_the_forms_are_named_once():
    assert "'all'" in PERIOD_FORMS and "last:N" in PERIOD_FORMS


def test_load_scope_accepts_all_in_any_case(demo60k):
    from modqa_lib.data.scope import load_scope

    a = load_scope(tables=demo60k.tables, period="ALL")
    b = load_scope(tables=demo60k.tables, period="all")
    assert (a.start, a.end, len(a.audits)) == (b.start, b.end, len(b.audits))
    c = load_scope(tables=demo60k.tables, period="Last:4")
    assert (c.end - c.start).days == 21


def test_scope_carries_the_targets_as_data(demo60k):
    from modqa_lib.data import io
    from modqa_lib.data.scope import load_scope

    assert load_scope(tables=demo60k.tables).targets == io.load_targets()  # params/targets.yaml, read here
    mine = {"accuracy": {"default": 0.9}, "critical_error_rate_max": 0.01}
    assert load_scope(tables=demo60k.tables, targets=mine).targets == mine


def test_a_snapshot_is_read_once_per_process_and_again_when_a_file_changes(tmp_path, monkeypatch):
    import os

    from modqa_lib.data import scope as sc

    reads = []

    def fake_load(where):
        reads.append(where)
        return {"audits": pd.DataFrame({"x": [1, 2, 3]})}

    monkeypatch.setattr(sc, "load_report_tables", fake_load)
    monkeypatch.setattr(sc, "audited_decisions", lambda tables: tables["audits"].assign(y=1))
    monkeypatch.setattr(sc, "_LAST_SNAPSHOT", {})
    (tmp_path / "audits.parquet").write_bytes(b"v1")
    t1, e1 = sc._snapshot_tables(tmp_path)
    t1["audits"].loc[0, "x"] = 99  # a report changing its copy...
    e1.loc[0, "y"] = 99
    t2, e2 = sc._snapshot_tables(tmp_path)
    assert len(reads) == 1  # ...read once
    assert t2["audits"]["x"].tolist() == [1, 2, 3] and e2["y"].tolist() == [1, 1, 1]  # ...and the next sees none of it
    (tmp_path / "audits.parquet").write_bytes(b"v2, longer")
    sc._snapshot_tables(tmp_path)
    assert len(reads) == 2  # a changed file is read again
    st = os.stat(tmp_path / "audits.parquet")
    os.utime(tmp_path / "audits.parquet", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    sc._snapshot_tables(tmp_path)
    assert len(reads) == 3  # so is one only touched
