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


def test_batch_unit_in_a_warm_kernel_renders_the_same_html_as_the_serial_papermill_loop(tmp_path):
    # #10: every speed-up keeps the report: a unit run by the batch (warm kernel, this engine) and the
    # same unit run by plain papermill export to the same HTML, byte for byte once Styler ids are masked
    import re
    from datetime import UTC, datetime

    from modqa_lib.report.export import export_html
    from modqa_lib.run import batch as B
    from modqa_lib.run.batch.kernels import WarmKernel

    fixture = Path(__file__).parents[1] / "fixtures" / "notebooks" / "report_fixture.ipynb"
    params = {"vendor": "Vendor B", "period": "last:8", "alpha": 0.1}
    kernel = WarmKernel(max_units=5)
    try:
        for slug in ("warm-up", "unit"):  # the second unit runs in a reused kernel
            res = B.run_unit(
                B.UnitSpec(
                    family="vendor",
                    unit=slug,
                    slug=slug,
                    notebook=str(fixture),
                    parameters=params,
                    run_dir=str(tmp_path / "run"),
                    title="t",
                    timeout=120,
                    meta={"run_id": "x"},
                ),
                kernel=kernel,
            )
            assert res.ok, res.error
        assert kernel.starts == 1
    finally:
        kernel.discard()
    serial = tmp_path / "serial.ipynb"
    pm.execute_notebook(
        str(fixture), str(serial), parameters=params, kernel_name="python3", progress_bar=False, cwd=str(fixture.parent)
    )
    pages = []
    for nb in (tmp_path / "run" / "unit" / "report_fixture.ipynb", serial):
        html = tmp_path / f"{nb.parent.name}.html"
        export_html(nb, html, "Vendor scorecard", meta={"period": "p"}, generated_at=datetime(2026, 1, 1, tzinfo=UTC))
        page = re.sub(r"T_[0-9a-f]{5}", "T_id", html.read_text(encoding="utf-8"))
        page = re.sub(r'(celltag_injected-parameters" id="cell-id=)[0-9a-f]+', r"\1id", page)  # papermill's random id
        # the batch publishes its notebook with paths relative to the notebook's folder
        pages.append(re.sub(r"working folder: \S+", "working folder: (cwd)", page))
    assert "Vendor B" in pages[0] and "<img" in pages[0]
    assert pages[0] == pages[1]
