"""modqa readiness through the CLI: exit codes, the printed checklist and the escaped HTML for the launch meeting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_once

MODQA = Path(sys.executable).parent / "modqa"


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    def build(folder):
        from modqa_lib.data.ingest import ingest
        from modqa_lib.data.synthetic import write_demo_data

        write_demo_data(folder / "raw", n_decisions=40_000)
        ingest(folder / "raw", folder / "processed")

    return shared_once(tmp_path_factory, "readiness_demo", build) / "processed"


def _run(*args):
    return subprocess.run([str(MODQA), "readiness", *args], capture_output=True, text=True)


def test_not_ready_queue_exits_1_and_writes_the_checklist(processed, tmp_path):
    r = _run("--queue", "DE-live-shopping", "--processed", str(processed), "--out", str(tmp_path))
    assert r.returncode == 1, r.stderr
    assert "[FAIL] training" in r.stdout and "NOT READY" in r.stdout
    page = (tmp_path / "readiness" / "DE-live-shopping.html").read_text()
    assert "Not ready to go live" in page and "<script" not in page and 'name="viewport"' in page


def test_ready_queue_exits_0(processed, tmp_path):
    r = _run(
        "--queue", "PH-live-shopping", "--vendor", "Vendor A", "--processed", str(processed), "--out", str(tmp_path)
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "READY" in r.stdout and "[FAIL]" not in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--queue", "NO-SUCH"], "not configured for go-live"),
        (["--queue", "PH-live-shopping", "--vendor", "Vendor C"], "is run by 'Vendor A'"),
    ],
)
def test_wrong_input_is_one_line_exit_2(processed, tmp_path, args, message):
    r = _run(*args, "--processed", str(processed), "--out", str(tmp_path))
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_html_escapes_queue_and_evidence():
    import pandas as pd

    from modqa_lib.run.readiness import render_html

    page = render_html(
        "<b>Q</b>", pd.DataFrame({"check": ["c"], "status": ["fail"], "evidence": ["<img src=x>"]}), "now"
    )
    assert "<b>Q</b>" not in page and "&lt;img src=x&gt;" in page
