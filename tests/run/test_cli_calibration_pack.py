"""Tests of ``modqa calibration-pack``: worklist CSV and booklet HTML, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from modqa_lib.data.ingest import ingest
from modqa_lib.data.synthetic import write_demo_data
from modqa_lib.run.calibration_pack import write_calibration_pack
from modqa_lib.run.cli import main


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    root = tmp_path_factory.mktemp("cp")
    write_demo_data(root / "raw", n_decisions=20_000)
    ingest(root / "raw", root / "processed")
    return root


def test_worklist_without_html(processed):
    paths = write_calibration_pack(
        "Vendor C", size=12, processed=processed / "processed", out=processed / "out", html=False
    )
    w = pd.read_csv(paths["worklist"])
    assert len(w) == 12 and "moderator_id" not in w.columns and "auditor_id" not in w.columns
    assert paths["worklist"].parent.name == "vendor-c"


def test_cli_errors_exit_2(processed, capsys):
    rc = main(
        [
            "calibration-pack",
            "--vendor",
            "Vendor Z",
            "--processed",
            str(processed / "processed"),
            "--out",
            str(processed / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "vendor 'Vendor Z' not found" in err and "Traceback" not in err
    rc = main(
        [
            "calibration-pack",
            "--vendor",
            "Vendor C",
            "--policy",
            "nope",
            "--processed",
            str(processed / "processed"),
            "--out",
            str(processed / "out"),
        ]
    )
    assert rc == 2 and "policy 'nope' is not in params/taxonomy.yaml" in capsys.readouterr().err
    rc = main(
        [
            "calibration-pack",
            "--vendor",
            "Vendor C",
            "--size",
            "0",
            "--processed",
            str(processed / "processed"),
            "--out",
            str(processed / "out"),
        ]
    )
    assert rc == 2 and "--size" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_writes_worklist_and_booklet(processed, capsys):
    rc = main(
        [
            "calibration-pack",
            "--vendor",
            "Vendor C",
            "--policy",
            "hate_speech",
            "--size",
            "8",
            "--processed",
            str(processed / "processed"),
            "--out",
            str(processed / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "worklist:" in out and "booklet:" in out
    folder = processed / "out" / "calibration_pack" / "vendor-c-hate-speech"
    html = (folder / "booklet.html").read_text(encoding="utf-8")
    assert "Case 1" in html and "Vendor A" not in html and "<script" not in html.lower()
    assert len(pd.read_csv(folder / "worklist.csv")) == 8
