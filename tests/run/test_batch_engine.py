"""Tests for modqa_lib.run.batch.engine: the executed notebook is written once, and is the same notebook.

The reference is papermill's default engine (which saves before and after
every cell): same cells, outputs and metadata once the times are masked; the
engine writes no notebook while cells run; a kernel that dies still leaves the
cells that ran on disk.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm
import pytest

from modqa_lib.run.batch.engine import ENGINE_NAME, register_engine

pytestmark = pytest.mark.slow

_TIMES = ("start_time", "end_time", "duration")


def _nb(path: Path, *sources: str) -> str:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell('vendor: str = "Vendor A"  # vendor', metadata={"tags": ["parameters"]})]
        + [nbformat.v4.new_markdown_cell("A line.")]
        + [nbformat.v4.new_code_cell(s) for s in sources]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return str(path)


def _masked(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(str(path), as_version=4)
    for meta in [nb.metadata.papermill] + [c.metadata.get("papermill", {}) for c in nb.cells]:
        for k in _TIMES:
            meta.pop(k, None)
    for c in nb.cells:
        c.metadata.pop("execution", None)
        c.pop("id", None)  # papermill gives the cells it adds (parameters, error markers) random ids
    nb.metadata.papermill.pop("output_path", None)
    return nb


def _run(src: str, out: Path, **kw) -> nbformat.NotebookNode:
    return pm.execute_notebook(
        src, str(out), parameters={"vendor": "Vendor B"}, kernel_name="python3", progress_bar=False, **kw
    )


@pytest.mark.parametrize("fails", [False, True])
def test_same_notebook_as_papermills_default_engine_written_once(tmp_path, monkeypatch, fails):
    cells = ["print(vendor)", "from IPython.display import HTML\nHTML('<b>x</b>')", "x = 1\nx"]
    if fails:
        cells.insert(2, "raise ValueError('planted')")
    src = _nb(tmp_path / "in.ipynb", *cells)
    raised = []
    for engine, name in ((None, "default.ipynb"), (register_engine(), "final.ipynb")):
        try:
            _run(src, tmp_path / name, engine_name=engine)
        except pm.PapermillExecutionError as exc:
            raised.append(exc.ename)
    assert raised == (["ValueError", "ValueError"] if fails else [])
    assert _masked(tmp_path / "default.ipynb") == _masked(tmp_path / "final.ipynb")

    per_cell, final = [], []
    monkeypatch.setattr("papermill.engines.write_ipynb", lambda nb, path: per_cell.append(path))
    real = pm.execute.write_ipynb
    monkeypatch.setattr("papermill.execute.write_ipynb", lambda nb, path: final.append(path) or real(nb, path))
    if not fails:
        _run(src, tmp_path / "default2.ipynb")
        assert len(per_cell) >= 2 * 5  # the default engine: before and after every cell
        per_cell.clear()
        final.clear()
        _run(src, tmp_path / "final2.ipynb", engine_name=ENGINE_NAME)
        assert per_cell == [] and final == [str(tmp_path / "final2.ipynb")]


def test_a_dead_kernel_still_leaves_the_cells_that_ran(tmp_path):
    src = _nb(tmp_path / "in.ipynb", "print('before')", "import os\nos._exit(1)", "print('never')")
    with pytest.raises(Exception) as info:
        _run(src, tmp_path / "out.ipynb", engine_name=register_engine())
    assert "DeadKernel" in type(info.value).__name__
    nb = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "before" in text and "never" not in text
    assert nb.metadata.papermill["end_time"] is not None
