"""make lab: saving a tracked notebook in JupyterLab writes it without outputs; other notebooks are left alone."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager
from traitlets.config.loader import PyFileConfigLoader

from modqa_lib import config
from modqa_lib.run import lab

ROOT = Path(__file__).resolve().parents[2]


def _executed_notebook() -> dict:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)")
    cell.execution_count = 3
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return json.loads(nbformat.writes(nb))


@pytest.fixture()
def project(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "scratch").mkdir()
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    return tmp_path


def test_clear_outputs_strips_outputs_counts_and_widget_state():
    nb = lab.clear_outputs(_executed_notebook())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert "widgets" not in nb["metadata"]
    assert "".join(nb["cells"][0]["source"]) == "# t"  # markdown untouched


def test_only_notebooks_directly_in_the_tracked_folder_count(project):
    assert lab.is_tracked_notebook("notebooks/10_vendor_scorecard.ipynb", project)
    assert lab.is_tracked_notebook("/notebooks/a.ipynb", project)
    assert not lab.is_tracked_notebook("scratch/a.ipynb", project)
    assert not lab.is_tracked_notebook("notebooks/../scratch/a.ipynb", project)
    assert not lab.is_tracked_notebook("notebooks/data.csv", project)


def test_the_config_make_lab_uses_wires_the_hook_into_a_real_contents_manager(project):
    cfg = PyFileConfigLoader("jupyter_server_config.py", path=str(ROOT / ".jupyter")).load_config()
    cm = FileContentsManager(root_dir=str(project), config=cfg)
    assert cm.pre_save_hook is lab.strip_outputs_hook
    for where in ("notebooks/explore.ipynb", "scratch/explore.ipynb"):
        cm.save({"type": "notebook", "format": "json", "content": _executed_notebook()}, where)
    tracked = json.loads((project / "notebooks" / "explore.ipynb").read_text())
    scratch = json.loads((project / "scratch" / "explore.ipynb").read_text())
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in tracked["cells"] if "outputs" in c)
    assert any(c.get("outputs") for c in scratch["cells"]), "a notebook outside notebooks/ keeps its outputs"


def test_make_lab_runs_as_root_with_the_config():
    rule = (ROOT / "Makefile").read_text().split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "--allow-root" in rule and ".jupyter/jupyter_server_config.py" in rule
