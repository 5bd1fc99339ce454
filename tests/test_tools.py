"""tools/strip_notebook_outputs.py, the pre-commit hook that keeps notebooks output-free."""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = runpy.run_path(str(ROOT / "tools" / "strip_notebook_outputs.py"))


@pytest.fixture
def executed(tmp_path):
    """A committed notebook copied, then given an output and an execution count."""
    src = ROOT / "notebooks" / "02_sampling_plan.ipynb"
    path = tmp_path / src.name
    nb = json.loads(src.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}]
    cell["execution_count"] = 7
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return src, path


def test_check_reports_outputs_and_changes_nothing(executed, capsys):
    _, path = executed
    before = path.read_bytes()
    assert TOOL["main"](["--check", str(path)]) == 1
    assert path.read_bytes() == before
    assert "has outputs" in capsys.readouterr().out


def test_strip_restores_the_committed_bytes_then_passes(executed):
    src, path = executed
    assert TOOL["main"]([str(path)]) == 1  # changed a file: pre-commit stops the commit
    assert path.read_bytes() == src.read_bytes()  # same formatting as Jupyter writes
    assert TOOL["main"]([str(path)]) == 0


def test_committed_notebooks_pass_the_hook(tmp_path):
    copies = [shutil.copy(p, tmp_path) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    assert copies
    assert TOOL["main"](["--check", *map(str, copies)]) == 0
