"""Every file a run publishes is as safe as the HTML; charts do not depend on the caller's MPLBACKEND (issue 12)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from test_batch import _spec, _tiny_notebook

from modqa_lib.config import PROJ_ROOT
from modqa_lib.run import batch as B

CHART = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2], [3, 4])\nplt.show()"


def test_charts_render_with_mplbackend_agg_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = _tiny_notebook(tmp_path / "chart.ipynb", CHART)
    res = B.run_unit(_spec(tmp_path, nb))
    assert res.status == "ok", res.error
    out = nbformat.read(tmp_path / "run" / res.outputs["notebook"], as_version=4)
    assert any("image/png" in (o.get("data") or {}) for c in out.cells for o in c.get("outputs", []))


def test_a_report_whose_charts_did_not_render_is_not_ok(tmp_path):
    src = "import matplotlib\nmatplotlib.use('Agg')\n" + CHART.replace("plt.show()", "fig")
    nb = _tiny_notebook(tmp_path / "nochart.ipynb", src)
    res = B.run_unit(_spec(tmp_path, nb))
    assert res.status == "failed" and "1 chart(s) did not render" in res.error
    assert "html" not in res.outputs


def test_executed_notebook_has_no_machine_paths(tmp_path):
    nb = _tiny_notebook(tmp_path / "paths.ipynb", f"print({str(PROJ_ROOT)!r} + '/data/processed')\nprint(vendor)")
    res = B.run_unit(_spec(tmp_path, nb))
    assert res.status == "ok", res.error
    text = (tmp_path / "run" / res.outputs["notebook"]).read_text()
    assert str(PROJ_ROOT) not in text and str(tmp_path) not in text
    assert "/data/processed" in text


@pytest.mark.parametrize("failing", [False, True])
def test_notebook_naming_another_vendor_is_withheld(tmp_path, failing):
    src = "print('peer: Vendor B in Kuala Lumpur')" + ("\nraise ValueError('boom')" if failing else "")
    nb = _tiny_notebook(tmp_path / "leak.ipynb", src)
    privacy = {"focus_vendor": "Vendor A", "vendors": ["Vendor A", "Vendor B"], "sites": {"Kuala Lumpur": "Vendor B"}}
    res = B.run_unit(_spec(tmp_path, nb, privacy=privacy))
    assert res.status == "failed" and "privacy check failed (executed notebook)" in res.error
    assert res.outputs == {}
    assert not list((tmp_path / "run").rglob("*.ipynb")) and not list((tmp_path / "run").rglob("*.html"))
    assert (tmp_path / ".private" / "run" / "vendor-a" / "leak.ipynb").exists()


def test_vendor_with_decisions_but_no_audits_gets_a_report_that_says_so(tmp_path):
    import sys

    sys.path.insert(0, str(PROJ_ROOT / "tests"))
    from valid_tables import make_valid_tables, write_raw

    from modqa_lib.data.ingest import ingest

    t = make_valid_tables(80)
    t["decisions"].loc[79, ["vendor", "site"]] = ["Vendor E", "Porto"]  # decision 79 is not audited
    processed = tmp_path / "processed"
    ingest(write_raw(t, tmp_path / "raw"), processed)
    nb = _tiny_notebook(tmp_path / "report.ipynb", "print(vendor)")
    specs, _ = B.plan_batch(
        "vendor", processed=processed, outputs=tmp_path / "out", only=["Vendor E"], params={"notebook": str(nb)}
    )
    (spec,) = specs
    assert spec.meta["no_audits"] == 1
    res = B.run_unit(spec)
    assert res.status == "ok", res.error
    page = (Path(spec.run_dir) / res.outputs["html"]).read_text()
    assert "No audits yet." in page and "Vendor E has 1 decision(s)" in page
    assert res.headline == {"n": 0, "status": "no audits", "unit": "Vendor E"}
    assert any("no audits yet" in w for w in res.warnings)
