"""Tests of the ``modqa`` command line: user errors give one clear message on
stderr, exit code 2 and no traceback; good input prints the ingest table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from valid_tables import make_valid_tables, write_raw

from modqa_lib.contract import schema as S
from modqa_lib.run.cli import main

MODQA = Path(sys.executable).parent / "modqa"


def run_modqa(*args: str) -> subprocess.CompletedProcess:
    if not MODQA.exists():
        pytest.skip(f"{MODQA} not installed (pip install -e .)")
    return subprocess.run(
        [str(MODQA), *args], capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"}
    )


@pytest.fixture
def bad_raw(tmp_path) -> Path:
    t = make_valid_tables()
    t["decisions"].loc[2, S.LABEL] = "hate"
    t["audits"].loc[4, S.INCLUSION_PROB] = "0"
    t["audits"] = t["audits"].rename(columns={S.AUDITOR_ID: "auditorid"})
    return write_raw(t, tmp_path / "raw")


def test_subprocess_ingest_bad_data_exits_2_with_clear_message(bad_raw, tmp_path):
    r = run_modqa("ingest", "--raw", str(bad_raw), "--processed", str(tmp_path / "p"))
    assert r.returncode == 2
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("modqa ingest: error: 4 data contract problem(s):")
    for part in [
        "decisions.csv: column 'label': value not in taxonomy 'labels'",
        "found 'hate' [1 row(s); data rows 3]",
        "audits.csv: column 'auditorid': unknown column, not in the contract of 'audits'; did you mean 'auditor_id'?",
        "audits.csv: column 'auditor_id': missing column",
        "audits.csv: column 'inclusion_prob': must be in (0, 1]; found '0' [1 row(s); data rows 5]",
    ]:
        assert part in r.stderr, part
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir())


def test_subprocess_ingest_then_summary(tmp_path, capsys):
    raw = write_raw(make_valid_tables(), tmp_path / "raw")
    r = run_modqa("ingest", "--raw", str(raw), "--processed", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.splitlines()[2].split() == ["decisions", "40", "decisions.csv"]
    assert main(["summary", "--processed", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "audited accuracy (sampled audits, unweighted): 73.7% (95% Wilson CI " in out and "; n = 19)" in out


@pytest.mark.parametrize(
    "breakage, expected",
    [
        ("empty", "golden.csv: file is empty"),
        ("latin1", "actions.csv: not UTF-8 encoded"),
        ("semicolon", "audits.csv: header has no commas (it looks ';'-delimited)"),
        ("missing", "required table(s) missing: decisions.csv or decisions.parquet"),
        ("twice", "table 'golden' given twice (golden.csv, golden.parquet)"),
    ],
)
def test_main_unreadable_inputs(tmp_path, capsys, breakage, expected):
    t = make_valid_tables()
    raw = write_raw(t, tmp_path / "raw")
    if breakage == "empty":
        (raw / "golden.csv").write_bytes(b"")
    elif breakage == "latin1":
        (raw / "actions.csv").write_bytes((raw / "actions.csv").read_text().replace("slurs", "calão").encode("latin-1"))
    elif breakage == "semicolon":
        t["audits"].to_csv(raw / "audits.csv", sep=";", index=False)
    elif breakage == "missing":
        (raw / "decisions.csv").unlink()
    elif breakage == "twice":
        t["golden"].to_parquet(raw / "golden.parquet")
    rc = main(["ingest", "--raw", str(raw), "--processed", str(tmp_path / "p")])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.startswith("modqa ingest: error: ") and expected in err, err
    assert "Traceback" not in err


def test_main_contract_error_names_file_column_rule_rows(tmp_path, capsys):
    t = make_valid_tables()
    t["audits"].loc[[1, 5], S.ROOT_CAUSE] = [None, "tired"]
    t["decisions"].loc[7, S.DECIDED_AT] = "2026-03-09 10:00:00"
    raw = write_raw(t, tmp_path / "raw")
    rc = main(["ingest", "--raw", str(raw), "--processed", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "decisions.csv: column 'decided_at': timestamp has no time zone" in err
    assert "[1 row(s); data rows 8]" in err
    assert "audits.csv: column 'root_cause': value not in taxonomy 'root_causes'" in err
    assert "audits.csv: column 'root_cause': required when is_error is true" in err


def test_main_raw_folder_missing_and_summary_before_ingest(tmp_path, capsys):
    assert main(["ingest", "--raw", str(tmp_path / "nowhere"), "--processed", str(tmp_path / "p")]) == 2
    assert "raw data folder not found" in capsys.readouterr().err
    assert main(["summary", "--processed", str(tmp_path / "p")]) == 2
    assert "run 'modqa ingest' first" in capsys.readouterr().err
