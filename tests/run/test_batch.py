"""Tests for modqa_lib.run.batch: papermill runs per unit, manifest, index, resume, timeout.

The report notebooks under notebooks/ are not used: the fixture notebooks in
tests/fixtures/notebooks/ stand in for them (report_fixture raises for the unit
named by its ``fail_for`` parameter and prints ``leak`` verbatim; sleepy_fixture
sleeps). Every papermill run starts a kernel (2-3 s), so the expensive batch
runs happen once per module and the tests read their results.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from conftest import shared_once

from modqa_lib.contract import schema as S
from modqa_lib.errors import BatchError, ConfigError
from modqa_lib.report import notebook_headline
from modqa_lib.run import batch as B
from modqa_lib.run.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
REPORT_NB = FIXTURES / "report_fixture.ipynb"
SLEEPY_NB = FIXTURES / "sleepy_fixture.ipynb"
UNIT_TIMEOUT = 180  # generous: a loaded CI machine can take long to start kernels


def write_decisions(
    folder: Path, vendors=("Vendor A", "Vendor B", "Vendor C", "Vendor D"), fingerprint: str | None = "feedc0ffee123456"
) -> Path:
    sites = {
        "Vendor A": ["Manila", "Cebu"],
        "Vendor B": ["Kuala Lumpur", "Penang"],
        "Vendor C": ["Lisbon"],
        "Vendor D": ["Pune"],
        "Platform": ["model"],
    }
    rows = []
    for v in list(vendors) + ["Platform"]:
        for i, site in enumerate(sites[v]):
            for j in range(3):
                rows.append(
                    {
                        S.VENDOR: v,
                        S.SITE: site,
                        S.MARKET: ["BR", "MY", "PH"][j],
                        S.MODERATOR_ID: None if v == "Platform" else f"{v[-1].lower()}mod{i}{j}",
                    }
                )
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(folder / "decisions.parquet", index=False)
    if fingerprint:
        (folder / "manifest.json").write_text(json.dumps({"data_fingerprint": fingerprint}))
    return folder


def write_params(folder: Path, notebook: Path = REPORT_NB, name: str = "vendors.yaml", **extra) -> Path:
    cfg = {
        "notebook": str(notebook),
        "title": "Fixture scorecard: {unit}",
        "parameters": {"site": "ALL", "period": "last:12", "alpha": 0.05, "processed_dir": ""},
    }
    cfg.update(extra)
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


# ------------------------------------------------------------- one batch run


def _first_run_build(root: Path) -> None:
    processed = write_decisions(root / "processed")
    params = write_params(
        root / "params",
        parameters={"site": "ALL", "period": "last:12", "alpha": 0.05, "processed_dir": "", "fail_for": "Vendor B"},
        units={"Vendor C": {"leak": "compare with Vendor B in Kuala Lumpur"}},
    )
    t0 = time.monotonic()
    result = B.run_batch(
        "vendor",
        workers=2,
        run_id="r1-vendor",
        timeout=UNIT_TIMEOUT,
        outputs=root / "outputs",
        processed=processed,
        params=params,
        progress=False,
    )
    (root / "result.json").write_text(
        json.dumps({"elapsed": time.monotonic() - t0, "ran": result.ran, "summary": result.summary()})
    )


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """4 vendors, 2 workers: A ok, B raises, C leaks a peer's name, D ok (run once per session)."""
    root = shared_once(tmp_path_factory, "batch-first-run", _first_run_build)
    run_dir = root / "outputs" / "r1-vendor"
    saved = json.loads((root / "result.json").read_text())
    man = json.loads((run_dir / "manifest.json").read_text())
    units = [B.UnitResult.from_dict(u) for u in man["units"].values()]
    units.sort(key=lambda u: u.unit)
    result = B.BatchResult(run_id="r1-vendor", run_dir=run_dir, family="vendor", units=units, ran=saved["ran"])
    assert result.summary() == saved["summary"]
    return {
        "root": root,
        "processed": root / "processed",
        "result": result,
        "run_dir": run_dir,
        "elapsed": saved["elapsed"],
    }


@pytest.mark.slow
def test_units_from_data_exclude_platform(first_run):
    assert [u.unit for u in first_run["result"].units] == ["Vendor A", "Vendor B", "Vendor C", "Vendor D"]


@pytest.mark.slow
def test_one_failure_does_not_stop_the_others(first_run):
    res = first_run["result"]
    status = {u.unit: u.status for u in res.units}
    assert status == {"Vendor A": "ok", "Vendor B": "failed", "Vendor C": "failed", "Vendor D": "ok"}
    assert res.ok is False
    with pytest.raises(BatchError, match="Vendor B"):
        res.raise_for_status()


@pytest.mark.slow
def test_failure_reason_is_one_line_with_exception_and_cell(first_run):
    b = next(u for u in first_run["result"].units if u.unit == "Vendor B")
    assert b.error.startswith("ValueError: planted failure for Vendor B")
    assert "cell" in b.error and "\n" not in b.error


@pytest.mark.slow
def test_failed_notebook_is_kept_with_its_error(first_run):
    run_dir = first_run["run_dir"]
    b = next(u for u in first_run["result"].units if u.unit == "Vendor B")
    assert b.outputs == {"notebook": "vendor-b/report_fixture.ipynb"}  # no html for a failed unit
    nb = nbformat.read(run_dir / b.outputs["notebook"], as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "ValueError"
    assert nb.metadata["modqa"]["status"] == "failed"
    assert not (run_dir / "vendor-b" / "report_fixture.html").exists()
    assert not list(run_dir.rglob(".*partial*")), "temporary files left behind"


@pytest.mark.slow
def test_privacy_leak_fails_the_unit_and_publishes_nothing(first_run):
    c = next(u for u in first_run["result"].units if u.unit == "Vendor C")
    assert c.error.startswith("privacy check failed")
    assert "Vendor B" in c.error and "Kuala Lumpur" in c.error
    assert not (first_run["run_dir"] / "vendor-c" / "report_fixture.html").exists()
    # the executed notebook names Vendor B too: published neither, a private copy outside the run folder
    assert not (first_run["run_dir"] / "vendor-c" / "report_fixture.ipynb").exists()
    assert "notebook" not in c.outputs
    private = first_run["run_dir"].parent / ".private" / "r1-vendor" / "vendor-c" / "report_fixture.ipynb"
    assert private.exists() and (private.stat().st_mode & 0o077) == 0


@pytest.mark.slow
def test_ok_units_have_notebook_html_and_headline(first_run):
    run_dir = first_run["run_dir"]
    a = next(u for u in first_run["result"].units if u.unit == "Vendor A")
    assert a.outputs == {"notebook": "vendor-a/report_fixture.ipynb", "html": "vendor-a/report_fixture.html"}
    assert all((run_dir / p).exists() for p in a.outputs.values())
    assert a.headline == {"accuracy": 0.9537, "n_audits": 1229, "unit": "Vendor A"}
    nb = nbformat.read(run_dir / a.outputs["notebook"], as_version=4)
    assert nb.metadata["modqa"]["headline"] == a.headline
    assert 0 < a.html_bytes < 3_000_000
    # the vendor parameter reached the notebook
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "'vendor': 'Vendor A'" in text and "'period': 'last:12'" in text


@pytest.mark.slow
def test_manifest_records_every_unit(first_run):
    man = json.loads((first_run["run_dir"] / "manifest.json").read_text())
    assert man["run_id"] == "r1-vendor"
    assert set(man["units"]) == {f"vendor/Vendor {x}" for x in "ABCD"}
    assert man["families"]["vendor"]["period"] == "last:12"
    for _key, u in man["units"].items():
        assert u["status"] in ("ok", "failed")
        assert u["data_fingerprint"] == "feedc0ffee123456"  # from processed/manifest.json
        assert u["notebook"].endswith("tests/fixtures/notebooks/report_fixture.ipynb")
        assert not Path(u["notebook"]).is_absolute()
        assert u["parameters"]["vendor"] == u["unit"] and u["parameters"]["period"] == "last:12"
        assert u["duration_s"] > 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", u["started"])
        assert u["finished"] >= u["started"]
        for rel in u["outputs"].values():
            assert not Path(rel).is_absolute() and (first_run["run_dir"] / rel).exists()
    assert man["units"]["vendor/Vendor C"]["parameters"]["leak"].startswith("compare")


@pytest.mark.slow
def test_index_links_every_report_escaped(first_run):
    page = (first_run["run_dir"] / "index.html").read_text()
    for slug in ("vendor-a", "vendor-d"):
        assert f'href="{slug}/report_fixture.html"' in page
    assert 'href="vendor-b/report_fixture.ipynb"' in page  # failed: link the executed notebook
    assert "planted failure for Vendor B" in page
    assert "0.9537" in page and "n audits" in page
    assert "<script" not in page.lower()


@pytest.mark.slow
def test_summary_is_a_plain_table(first_run):
    text = first_run["result"].summary()
    lines = text.splitlines()
    assert lines[0].startswith("run r1-vendor (vendor): 4 unit(s): 2 ok, 2 failed")
    assert lines[1].split() == ["unit", "status", "duration", "error"]
    row_b = next(line for line in lines if line.startswith("Vendor B"))
    assert "failed" in row_b and "ValueError: planted failure" in row_b
    assert text.rstrip().endswith("index.html")


@pytest.mark.slow
def test_batch_runs_in_parallel_and_fast(first_run):
    durations = sum(u.duration_s for u in first_run["result"].units)
    # with 2 workers, wall time is well below the sum of the unit times
    assert first_run["elapsed"] < durations * 0.9, (first_run["elapsed"], durations)


@pytest.mark.slow
def test_resume_reruns_only_failed_units_via_cli(first_run, tmp_path, monkeypatch, capsys):
    import shutil

    # resume a private copy (copy2 keeps mtimes); fix the planted failures in the params first
    outputs = tmp_path / "outputs"
    shutil.copytree(first_run["run_dir"], outputs / "r1-vendor")
    run_dir = outputs / "r1-vendor"
    before = {p.relative_to(run_dir).as_posix(): p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
    params_dir = tmp_path / "params"
    write_params(params_dir)
    monkeypatch.setattr(B.plan, "PARAMS_DIR", params_dir)
    code = main(
        [
            "batch",
            "--by",
            "vendor",
            "--run-id",
            "r1-vendor",
            "--resume",
            "--workers",
            "2",
            "--timeout",
            str(UNIT_TIMEOUT),
            "--out",
            str(outputs),
            "--processed",
            str(first_run["processed"]),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    man = json.loads((run_dir / "manifest.json").read_text())
    assert {u["status"] for u in man["units"].values()} == {"ok"}
    # the ok units were not touched
    for slug in ("vendor-a", "vendor-d"):
        for name in ("report_fixture.ipynb", "report_fixture.html"):
            rel = f"{slug}/{name}"
            assert (run_dir / rel).stat().st_mtime_ns == before[rel], rel
    # the failed ones were rerun and now have reports
    for slug in ("vendor-b", "vendor-c"):
        assert (run_dir / slug / "report_fixture.html").exists()
        # vendor-c's first notebook was withheld by the privacy gate: it had none to compare with
        assert (run_dir / slug / "report_fixture.ipynb").stat().st_mtime_ns > before.get(
            f"{slug}/report_fixture.ipynb", 0
        )
    rows = {line.split()[0] + " " + line.split()[1]: line for line in out.splitlines() if line.startswith("Vendor")}
    assert "ok (kept)" in rows["Vendor A"] and "ok (kept)" not in rows["Vendor B"]
    assert 'href="vendor-b/report_fixture.html"' in (run_dir / "index.html").read_text()
    # nothing left to do: a second resume runs nothing and is ok
    again = B.run_batch(
        "vendor",
        run_id="r1-vendor",
        resume=True,
        outputs=outputs,
        processed=first_run["processed"],
        params=params_dir / "vendors.yaml",
        progress=False,
    )
    assert again.ok and again.ran == []


# ------------------------------------------------------------------ timeout
@pytest.mark.slow
def test_timeout_sets_status_timeout(tmp_path):
    processed = write_decisions(tmp_path / "processed", vendors=("Vendor A",))
    params = write_params(tmp_path / "params", notebook=SLEEPY_NB, parameters={"period": "last:12", "seconds": 120.0})
    t0 = time.monotonic()
    res = B.run_batch(
        "vendor", workers=1, timeout=10, outputs=tmp_path / "out", processed=processed, params=params, progress=False
    )
    assert time.monotonic() - t0 < 60
    (u,) = res.units
    assert u.status == "timeout", u.error
    assert "timed out after 10s" in u.error
    assert res.ok is False and "timeout" in res.summary()
    nb = nbformat.read(res.run_dir / u.outputs["notebook"], as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "sleeping" in text and "never reached" not in text
    assert re.fullmatch(r"\d{8}T\d{6}Z-vendor", res.run_id)


# ------------------------------------------------- planning (no kernel needed)
@pytest.fixture()
def small(tmp_path):
    return {
        "processed": write_decisions(tmp_path / "processed"),
        "tmp": tmp_path,
        "params": write_params(tmp_path / "params"),
    }


def test_plan_units_parameters_and_slugs(small):
    specs, info = B.plan_batch(
        "site",
        processed=small["processed"],
        outputs=small["tmp"] / "o",
        params={
            "notebook": str(REPORT_NB),
            "parameters": {"period": "last:4"},
            "by_site": {"exclude_units": ["model"]},
        },
    )
    by = {s.unit: s for s in specs}
    assert set(by) == {"Manila", "Cebu", "Kuala Lumpur", "Penang", "Lisbon", "Pune"}
    kl = by["Kuala Lumpur"]
    assert kl.slug == "kuala-lumpur"
    assert kl.parameters["site"] == "Kuala Lumpur" and kl.parameters["vendor"] == "Vendor B"
    assert kl.parameters["period"] == "last:4"
    assert kl.parameters["processed_dir"] == str(small["processed"].resolve())
    assert kl.privacy["focus_vendor"] == "Vendor B"
    assert kl.privacy["sites"]["Manila"] == "Vendor A"
    assert info["data_fingerprint"] == "feedc0ffee123456"


def test_plan_market_and_consolidated(small):
    specs, _ = B.plan_batch(
        "market",
        processed=small["processed"],
        params={"notebook": str(REPORT_NB), "parameters": {"period": "last:12"}, "units": {"BR": {"alpha": 0.01}}},
    )
    assert [s.unit for s in specs] == ["BR", "MY", "PH"]
    assert specs[0].parameters == {
        "period": "last:12",
        "market": "BR",
        "alpha": 0.01,
        "processed_dir": str(small["processed"].resolve()),
    }
    assert all(s.privacy is None for s in specs)
    specs, _ = B.plan_batch(
        "consolidated",
        processed=small["processed"],
        params={"notebook": str(REPORT_NB), "parameters": {"period": "2026-01-05:2026-03-29"}},
    )
    assert [(s.unit, s.slug) for s in specs] == [("consolidated", "consolidated")]


def test_fingerprint_falls_back_to_parquet_files(tmp_path):
    p = tmp_path / "m"
    p.mkdir()
    (p / "manifest.json").write_text(json.dumps({"fingerprint": "abc"}))  # older key also read
    assert B.processed_fingerprint(p) == "abc"
    processed = write_decisions(tmp_path / "p", fingerprint=None)
    fp = B.processed_fingerprint(processed)
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert B.processed_fingerprint(tmp_path / "empty") is None


def test_unknown_parameter_key_is_a_config_error(small):
    with pytest.raises(
        ConfigError,
        match=r"parameter\(s\) colour, windw are not parameters of "
        r"report_fixture.ipynb \(it declares: vendor, site",
    ):
        B.plan_batch(
            "vendor",
            processed=small["processed"],
            params={"notebook": str(REPORT_NB), "parameters": {"windw": 3, "colour": "red"}},
        )


def test_parameter_hidden_by_an_equals_sign_in_its_comment(small, tmp_path):
    nb = nbformat.read(REPORT_NB, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = 'vendor: str = "A"  # vendor\nalpha: float = 0.05  # level (0.05 = 5%)\n'
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    with pytest.raises(ConfigError, match="alpha is in the parameters cell, but papermill skips"):
        B.plan_batch(
            "vendor", processed=small["processed"], params={"notebook": str(bad), "parameters": {"alpha": 0.1}}
        )


def test_only_filters_and_unknown_unit_lists_valid_ones(small):
    specs, _ = B.plan_batch("vendor", only=["Vendor B"], processed=small["processed"], params=small["params"])
    assert [s.unit for s in specs] == ["Vendor B"]
    with pytest.raises(
        ConfigError,
        match=r"unknown vendor unit\(s\) 'Vendor Z'; valid: Vendor A, Vendor B, "
        r"Vendor C, Vendor D",
    ):
        B.plan_batch("vendor", only=["Vendor Z"], processed=small["processed"], params=small["params"])


@pytest.mark.parametrize("period", ["last:0", "last", "12", "2026-03-01:2026-01-01", "2026-02-30:2026-03-01"])
def test_bad_period_is_a_config_error(small, period):
    with pytest.raises(ConfigError, match="period"):
        B.plan_batch("vendor", period=period, processed=small["processed"], params=small["params"])


@pytest.mark.parametrize("period", ["ALL", "all", "Last:4", "LAST:12", "2026-01-05:2026-03-01"])
def test_batch_accepts_every_period_a_notebook_accepts(small, period):
    """``modqa batch --period ALL`` works: batch and notebooks share data.scope.parse_period."""
    from modqa_lib.data import scope

    scope.parse_period(period)  # the notebooks' parser accepts it ...
    specs, info = B.plan_batch("vendor", period=period, processed=small["processed"], params=small["params"])
    assert specs and info["period"] == period  # ... and so does the batch, passing it on unchanged
    assert not hasattr(B, "parse_period")  # one parser: data.scope.parse_period


def test_config_errors_for_bad_invocations(small):
    kw = {"processed": small["processed"], "outputs": small["tmp"] / "o", "params": small["params"]}
    with pytest.raises(ConfigError, match="--by 'queue'"):
        B.run_batch("queue", **kw)
    with pytest.raises(ConfigError, match="--resume needs the --run-id"):
        B.run_batch("vendor", resume=True, **kw)
    with pytest.raises(ConfigError, match="no manifest"):
        B.run_batch("vendor", resume=True, run_id="nope", **kw)
    with pytest.raises(ConfigError, match="--run-id"):
        B.run_batch("vendor", run_id="../escape", **kw)
    with pytest.raises(ConfigError, match="notebook .* not found"):
        B.plan_batch("vendor", processed=small["processed"], params={"notebook": "missing.ipynb"})
    with pytest.raises(ConfigError, match="run 'modqa ingest' first"):
        B.plan_batch("vendor", processed=small["tmp"] / "nothing", params=small["params"])
    with pytest.raises(ConfigError, match="workers"):
        B.run_batch("vendor", workers=0, run_id="w0", **kw)


def test_second_run_of_a_family_under_one_run_id_needs_resume(small):
    run_dir = small["tmp"] / "o" / "shared"
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(
        json.dumps(
            {
                "run_id": "shared",
                "families": {"market": {"period": "last:12"}},
                "units": {"market/BR": {"family": "market", "unit": "BR", "slug": "br", "status": "ok"}},
            }
        )
    )
    with pytest.raises(ConfigError, match="already has market units"):
        B.run_batch(
            "market",
            run_id="shared",
            processed=small["processed"],
            outputs=small["tmp"] / "o",
            params={"notebook": str(REPORT_NB)},
        )
    with pytest.raises(ConfigError, match="was made with period 'last:12', not 'last:4'"):
        B.run_batch(
            "market",
            run_id="shared",
            resume=True,
            period="last:4",
            processed=small["processed"],
            outputs=small["tmp"] / "o",
            params={"notebook": str(REPORT_NB)},
        )


def test_real_params_files_name_the_report_notebooks():
    assert B.load_family_config("vendor")["notebook"] == "10_vendor_scorecard.ipynb"
    assert B.load_family_config("site")["notebook"] == "10_vendor_scorecard.ipynb"
    assert B.load_family_config("site")["exclude_units"] == ["model"]
    assert B.load_family_config("vendor")["exclude_units"] == ["Platform"]
    assert B.load_family_config("market")["notebook"] == "11_market_report.ipynb"
    assert B.load_family_config("consolidated")["notebook"] == "00_consolidated_report.ipynb"
    for fam in B.FAMILIES:
        p = B.load_family_config(fam)["parameters"]
        assert p["period"] == "last:12" and p["alpha"] == 0.05 and p["processed_dir"] == ""


# ---------------------------------------------------------------- helpers
@pytest.mark.parametrize(
    "unit, slug",
    [
        ("Vendor B", "vendor-b"),
        ("Kuala Lumpur", "kuala-lumpur"),
        ("São Paulo", "sao-paulo"),
        ("BR", "br"),
        ("../../etc", "etc"),
    ],
)
def test_unit_slug(unit, slug):
    assert B.unit_slug(unit) == slug


def test_unit_slug_never_empty():
    assert re.fullmatch(r"unit-[0-9a-f]{8}", B.unit_slug("東京"))


def test_headline_outside_ipython_and_reading_it_back():
    assert B.record_headline({"a": 1}) is None
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "x",
                outputs=[
                    nbformat.v4.new_output("display_data", data={B.HEADLINE_MIME: {"a": 1, "b": 2}}),
                    nbformat.v4.new_output("display_data", data={B.HEADLINE_MIME: {"b": 3}}),
                ],
            )
        ]
    )
    assert B.read_headline(nb) == {"a": 1, "b": 3}
    with pytest.raises(ConfigError, match="dict of figures"):
        B.record_headline([1, 2])


def test_jsonable_headline_values():
    import numpy as np

    assert notebook_headline._jsonable(
        {"x": np.float64(0.5), "n": np.int64(3), "nan": float("nan"), "d": pd.Timestamp("2026-01-05").date()}
    ) == {"x": 0.5, "n": 3, "nan": None, "d": "2026-01-05"}


def test_index_escapes_unit_names_and_errors(tmp_path):
    evil = "<script>alert(1)</script>"
    B.write_index(
        tmp_path,
        {
            "run_id": "r<1>",
            "units": {
                "vendor/x": {
                    "family": "vendor",
                    "unit": evil,
                    "status": "failed",
                    "error": f"ValueError: {evil}",
                    "outputs": {"notebook": 'a b/"x".ipynb'},
                    "headline": {evil: evil},
                }
            },
        },
    )
    page = (tmp_path / "index.html").read_text()
    assert "<script" not in page
    assert html.escape(evil) in page
    assert 'href="a%20b/%22x%22.ipynb"' in page


def test_unit_result_round_trip():
    u = B.UnitResult(family="vendor", unit="A", slug="a", status="ok", headline={"x": 1})
    assert B.UnitResult.from_dict({**u.to_dict(), "unknown_key": 1}) == u


# ------------------------------------------- run_unit's other failure paths
def _tiny_notebook(path: Path, source: str) -> Path:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell('vendor: str = "Vendor A"  # vendor', metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(source),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _spec(tmp_path: Path, notebook: Path, **kw) -> B.UnitSpec:
    return B.UnitSpec(
        family="vendor",
        unit="Vendor A",
        slug="vendor-a",
        notebook=str(notebook),
        parameters={"vendor": "Vendor A"},
        run_dir=str(tmp_path / "run"),
        title="t",
        timeout=UNIT_TIMEOUT,
        meta={"run_id": "x"},
        **kw,
    )


def test_kernel_death_is_a_failed_unit(tmp_path):
    nb = _tiny_notebook(tmp_path / "die.ipynb", "import os\nprint('about to die', flush=True)\nos._exit(1)")
    res = B.run_unit(_spec(tmp_path, nb))
    assert res.status == "failed"
    assert "DeadKernelError" in res.error or "died" in res.error.lower(), res.error
    assert "html" not in res.outputs


def test_export_failure_is_a_failed_unit(tmp_path, monkeypatch):
    import modqa_lib.report.export as E

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(E, "export_html", broken)
    nb = _tiny_notebook(tmp_path / "ok.ipynb", "print(vendor)")
    res = B.run_unit(_spec(tmp_path, nb))
    assert res.status == "failed" and res.error == "export failed: OSError: disk full"
    assert res.outputs == {"notebook": "vendor-a/ok.ipynb"}
    assert not list((tmp_path / "run" / "vendor-a").glob("*.html"))
    assert not list((tmp_path / "run" / "vendor-a").glob(".*"))


def test_missing_notebook_is_a_failed_unit_not_an_exception(tmp_path):
    res = B.run_unit(_spec(tmp_path, tmp_path / "nope.ipynb"))
    assert res.status == "failed" and "nope.ipynb" in res.error and res.outputs == {}
