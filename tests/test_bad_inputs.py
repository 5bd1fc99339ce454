"""The bad-input corpus (issue 12): every case in tests/bad_inputs/ through the modqa CLI.

Each folder holds the raw files (``raw/``) and/or a params set (``params/``) and
``expected.txt`` (see ``tests/bad_inputs/make_cases.py``, which generates them).
A CLEAR case must exit non-zero with a message holding every ``expect:`` fragment
(file, column or key, rule and rows); a WARNED case must be accepted (exit 0)
with the fragments in the ingest summary's WARNING lines.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from valid_tables import make_valid_tables, write_raw

from modqa_lib.run.cli import main

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.txt").exists())


def _expected(case: str) -> dict:
    out: dict = {"expect": []}
    for line in (CORPUS / case / "expected.txt").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(": ")
        if key == "expect":
            out["expect"].append(value)
        else:
            out[key] = value
    return out


def test_corpus_has_at_least_60_cases():
    assert len(CASES) >= 60
    kinds = {_expected(c)["outcome"] for c in CASES}
    assert kinds == {"CLEAR", "WARNED"}


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """Valid processed data for batch and sample cases."""
    from modqa_lib.data.ingest import ingest

    root = tmp_path_factory.mktemp("valid")
    ingest(write_raw(make_valid_tables(), root / "raw"), root / "processed")
    return root / "processed"


def _use_params(monkeypatch, folder: Path) -> None:
    import modqa_lib.config
    import modqa_lib.data.io
    import modqa_lib.run.batch.plan
    from modqa_lib.contract.schema import load_taxonomy

    for mod in (modqa_lib.config, modqa_lib.data.io, modqa_lib.run.batch.plan):
        monkeypatch.setattr(mod, "PARAMS_DIR", folder)
    load_taxonomy.cache_clear()


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case, tmp_path, monkeypatch, capsys, processed):
    exp = _expected(case)
    folder = CORPUS / case
    if (folder / "params").is_dir():
        _use_params(monkeypatch, folder / "params")
    cmd = exp["command"]
    if cmd == "ingest":
        argv = ["ingest", "--raw", str(folder / "raw"), "--processed", str(tmp_path / "processed")]
    elif cmd == "batch":
        argv = ["batch", "--by", "vendor", "--processed", str(processed), "--out", str(tmp_path / "out")]
        argv += ["--workers", "1"]
    else:
        argv = ["sample", "--processed", str(processed), "--out", str(tmp_path / "out")]
        if "--week" not in exp.get("args", ""):
            argv += ["--week", "latest"]
    argv += shlex.split(exp.get("args", ""))
    try:
        code = main(argv)
    except SystemExit as e:  # argparse rejects the option value
        code = e.code
    out = capsys.readouterr()
    text = out.out + out.err
    if exp["outcome"] == "CLEAR":
        assert code != 0, f"{case}: accepted, expected a clear error\n{text}"
        assert "Traceback" not in text
        missing = [f for f in exp["expect"] if f not in out.err]
        assert not missing, f"{case}: message lacks {missing}:\n{out.err}"
        # one line names everything: file/column or key, rule (and rows where given)
        assert any(all(f in line for f in exp["expect"]) for line in out.err.splitlines()) or len(exp["expect"]) == 1, (
            f"{case}: fragments not on one line:\n{out.err}"
        )
    else:
        assert code == 0, f"{case}: rejected, expected a warning\n{text}"
        warned = [line for line in out.out.splitlines() if "WARNING" in line]
        assert any(all(f in line for f in exp["expect"]) for line in warned), f"{case}: no warning line:\n{out.out}"
