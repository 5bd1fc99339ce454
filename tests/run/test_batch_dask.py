"""Tests for modqa_lib.run.batch.cluster: batches on a Dask distributed cluster.

One LocalCluster (2 worker processes, 1 thread each) runs a 4-unit vendor batch
of tests/fixtures/notebooks/killer_fixture.ipynb once per session: Vendor A is
ok, Vendor B kills its worker on the first attempt (the scheduler reruns it on
another worker: ok, the retry recorded), Vendor C kills every worker that runs
it (failed: worker lost), Vendor D prints a peer's name (privacy gate: failed,
no HTML). Then the run is resumed on the same cluster with C and D fixed.
The scheduler allows one retry (``allowed-failures: 1``).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import shared_once

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError
from modqa_lib.run import batch as B
from modqa_lib.run.batch.cluster import connect
from modqa_lib.run.cli import main

pytestmark = pytest.mark.slow

KILLER_NB = Path(__file__).parents[1] / "fixtures" / "notebooks" / "killer_fixture.ipynb"
UNIT_TIMEOUT = 180
VENDORS = ("Vendor A", "Vendor B", "Vendor C", "Vendor D")
SITES = {"Vendor A": "Manila", "Vendor B": "Kuala Lumpur", "Vendor C": "Lisbon", "Vendor D": "Pune"}


def _write_processed(folder: Path) -> Path:
    rows = [
        {S.VENDOR: v, S.SITE: SITES[v], S.MARKET: m, S.MODERATOR_ID: f"{v[-1].lower()}mod{j}"}
        for v in VENDORS
        for j, m in enumerate(["BR", "MY"])
    ]
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "decisions.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps({"data_fingerprint": "d45cc1u57e7000"}))
    return folder


def _write_params(path: Path, markers: Path, units: dict) -> Path:
    cfg = {
        "notebook": str(KILLER_NB),
        "title": "Cluster fixture: {unit}",
        "parameters": {"period": "last:12", "processed_dir": "", "marker_dir": str(markers)},
        "units": units,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _build(root: Path) -> None:
    import os

    import dask
    from distributed import LocalCluster

    processed = _write_processed(root / "processed")
    markers = root / "markers"
    markers.mkdir()
    first = _write_params(
        root / "params" / "first.yaml",
        markers,
        {
            "Vendor A": {},
            "Vendor B": {"kill_times": 1},
            "Vendor C": {"kill_times": 99},
            "Vendor D": {"leak": "compare with Vendor B in Kuala Lumpur"},
        },
    )
    fixed = _write_params(root / "params" / "fixed.yaml", markers, {v: {} for v in VENDORS})
    os.environ["MODQA_TEST_KILL_WORKER"] = "1"  # inherited by the spawned workers and their kernels
    cfg = {"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}
    try:
        with (
            dask.config.set(cfg),
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        ):
            common = dict(
                run_id="c1-vendor", timeout=UNIT_TIMEOUT, outputs=root / "outputs", processed=processed, progress=False
            )
            first_res = B.run_batch("vendor", params=first, scheduler=cluster.scheduler_address, **common)
            man1 = json.loads((first_res.manifest_path).read_text())
            second = B.run_batch("vendor", params=fixed, scheduler=cluster.scheduler_address, resume=True, **common)
    finally:
        os.environ.pop("MODQA_TEST_KILL_WORKER", None)
    (root / "result.json").write_text(
        json.dumps(
            {
                "first": {"summary": first_res.summary(), "ran": first_res.ran, "manifest": man1},
                "second": {"summary": second.summary(), "ran": second.ran},
                "kills": sorted(p.name for p in markers.iterdir()),
            }
        )
    )


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    root = shared_once(tmp_path_factory, "batch-dask-run", _build)
    saved = json.loads((root / "result.json").read_text())
    run_dir = root / "outputs" / "c1-vendor"
    saved["run_dir"] = run_dir
    saved["final"] = json.loads((run_dir / "manifest.json").read_text())
    return saved


def _units(man: dict) -> dict:
    return {u["unit"]: u for u in man["units"].values()}


def test_the_planted_kills_happened(cluster_run):
    # B died once, C died on both attempts (allowed-failures 1: one retry), nothing else
    assert cluster_run["kills"] == ["Vendor B-0", "Vendor C-0", "Vendor C-1"]


def test_lost_worker_fails_only_its_unit_with_the_reason(cluster_run):
    u = _units(cluster_run["first"]["manifest"])
    assert u["Vendor C"]["status"] == "failed"
    assert u["Vendor C"]["error"].startswith("worker lost mid-unit")
    assert "2 attempt(s)" in u["Vendor C"]["error"]
    assert u["Vendor A"]["status"] == "ok"
    assert cluster_run["first"]["ran"] == list(VENDORS)


def test_retry_after_a_lost_worker_is_recorded(cluster_run):
    b = _units(cluster_run["first"]["manifest"])["Vendor B"]
    assert b["status"] == "ok"
    assert any("retried: attempt 2" in w for w in b["warnings"])
    a = _units(cluster_run["first"]["manifest"])["Vendor A"]
    assert not any("retried" in w for w in a["warnings"])
    assert b["headline"]["kills"] == 1


def test_privacy_gate_on_the_cluster(cluster_run):
    d = _units(cluster_run["first"]["manifest"])["Vendor D"]
    assert d["status"] == "failed" and d["error"].startswith("privacy check failed")
    assert "html" not in d["outputs"]


def test_outputs_and_index_as_with_local_workers(cluster_run):
    run_dir = cluster_run["run_dir"]
    u = _units(cluster_run["first"]["manifest"])
    assert u["Vendor A"]["outputs"] == {
        "notebook": "vendor-a/killer_fixture.ipynb",
        "html": "vendor-a/killer_fixture.html",
    }
    assert (run_dir / "vendor-a" / "killer_fixture.html").exists()
    page = (run_dir / "index.html").read_text()
    for slug in ("vendor-a", "vendor-b", "vendor-c", "vendor-d"):
        assert f'href="{slug}/killer_fixture.' in page
    leftovers = [p.name for p in run_dir.rglob(".*")]
    assert not [n for n in leftovers if "attempt" in n or "partial" in n]


def test_resume_on_the_cluster_reruns_only_the_failed(cluster_run):
    assert sorted(cluster_run["second"]["ran"]) == ["Vendor C", "Vendor D"]
    final = _units(cluster_run["final"])
    assert {u: e["status"] for u, e in final.items()} == dict.fromkeys(VENDORS, "ok")
    assert "(kept)" in cluster_run["second"]["summary"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_a_config_error():
    addr = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ConfigError, match=r"cannot reach a Dask scheduler there.*dask worker"):
        connect(addr, timeout=2)


def test_cli_passes_the_scheduler(monkeypatch, capsys):
    seen = {}

    def fake_run_batch(**kw):
        seen.update(kw)
        raise ConfigError("stop here")

    monkeypatch.setattr(B, "run_batch", fake_run_batch)
    assert main(["batch", "--by", "vendor", "--scheduler", "tcp://10.0.0.5:8786"]) == 2
    assert seen["scheduler"] == "tcp://10.0.0.5:8786"
    assert capsys.readouterr().err.strip() == "modqa batch: error: stop here"


def test_worker_thread_keeps_a_warm_kernel_between_tasks(tmp_path):
    from modqa_lib.run.batch import cluster

    spec = lambda u: B.UnitSpec(  # noqa: E731
        family="vendor",
        unit=u,
        slug=u.lower().replace(" ", "-"),
        notebook=str(KILLER_NB),
        parameters={"vendor": u},
        run_dir=str(tmp_path / "run"),
        title="t",
        timeout=UNIT_TIMEOUT,
        meta={"run_id": "x"},
    )
    try:
        a = cluster.run_unit_attempt(spec("Vendor A"), "tok", units_per_kernel=5)
        b = cluster.run_unit_attempt(spec("Vendor B"), "tok", units_per_kernel=5)
    finally:
        cluster._discard_kernels()
    assert a.ok and b.ok, (a.error, b.error)
    assert a.timings["kernel_start"] > 0 and b.timings["kernel_start"] == 0
    assert not list((tmp_path / "run").rglob(".modqa-attempt-*"))
