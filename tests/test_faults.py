"""Fault injection: kill -9 in the middle of ingests and batches, concurrent ingests, a kernel killed mid-unit.

The real code runs in a subprocess and is killed with SIGKILL at a known point.
The point is reached by a file handshake (the subprocess writes a marker file
and waits to be killed), never by sleeping and hoping. Afterwards nothing may
be lost: the processed data is the previous ingest's byte for byte or the new
ingest's complete (checked against manifest.json's SHA-256s), never a mix; no
half-written file carries a final name; the next run succeeds and cleans up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import yaml
from valid_tables import make_valid_tables, write_raw

from modqa_lib.contract import schema as S
from modqa_lib.data import io as mio
from modqa_lib.data.ingest import LOCK_NAME, MANIFEST_NAME, ingest
from modqa_lib.errors import ConcurrentRunError
from modqa_lib.run import batch as B

pytestmark = pytest.mark.slow  # kills processes and runs kernels: minutes, not seconds

PROJ = Path(__file__).resolve().parents[1]
FAULTS = Path(__file__).parent / "fixtures" / "faults"
MODQA = Path(sys.executable).parent / "modqa"
VISIBLE = [f"{t}.parquet" for t in S.TABLE_NAMES] + [MANIFEST_NAME]
HANDSHAKE_TIMEOUT = 60  # seconds for a subprocess to reach its marker (a loaded machine is slow)
UNIT_TIMEOUT = 180

_spec = importlib.util.spec_from_file_location("ingest_until", FAULTS / "ingest_until.py")
ingest_until = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ingest_until)


# ------------------------------------------------------------------ helpers
def wait_until(
    condition: Callable[[], bool],
    what: str,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
    timeout: float = HANDSHAKE_TIMEOUT,
) -> None:
    """Poll ``condition`` until true; fail early if ``proc`` exits, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: process exited with {proc.returncode} first:\n{log.read_text() if log else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout}s")
        time.sleep(0.05)


def same_change(a: str, b: str) -> bool:
    """Two change descriptions alike but for random names (staging folders, temporary files, versions)."""

    def shape(desc: str) -> str:
        return re.sub(r"\.staging-[^ ]+|\d{8}T\d{12}Z-[^ ]+|\.manifest\.json\.[^ ]+", "*", desc)

    return shape(a) == shape(b)


def sigkill(proc: subprocess.Popen) -> None:
    """kill -9 ``proc`` and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def visible(out: Path) -> dict[str, str]:
    """SHA-256 of what readers of ``out`` see: every ``<table>.parquet`` and ``manifest.json``."""
    return {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in VISIBLE if (out / n).exists()}


def leftovers(out: Path) -> list[str]:
    """Staging folders and unpublished versions an interrupted ingest left in ``out``."""
    kept = {os.readlink(out / n) for n in (".current", ".previous") if (out / n).is_symlink()}
    versions = sorted(out.glob(".versions/*"))
    return [p.name for p in sorted(out.glob(".staging-*"))] + [
        p.name for p in versions if f".versions/{p.name}" not in kept
    ]


def assert_complete(out: Path, fingerprint: str, tables: set[str]) -> None:
    """``out`` shows exactly ``tables`` of the ingest with ``fingerprint``, each matching the manifest hash."""
    view = visible(out)
    man = json.loads((out / MANIFEST_NAME).read_text())
    assert man["data_fingerprint"] == fingerprint, "manifest of another ingest"
    assert set(view) == {f"{t}.parquet" for t in tables} | {MANIFEST_NAME}, sorted(view)
    for t in tables:
        assert view[f"{t}.parquet"] == man["tables"][t]["parquet_sha256"], f"{t}.parquet is not this ingest's"


def _copy(src: Path, dst: Path) -> Path:
    """Copy a processed folder as it is (links stay links)."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


class FrozenIngest:
    """``ingest_until.py`` in a subprocess, frozen just before its ``change``-th file-system change."""

    def __init__(self, raw: Path, out: Path, change: int, tmp: Path):
        self.marker, self.log_path = tmp / f"{out.name}.{change}.marker", tmp / f"{out.name}.{change}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(FAULTS / "ingest_until.py"), str(raw), str(out), str(change), str(self.marker)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=PROJ,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        self.info: dict = {}

    def wait_frozen(self) -> dict:
        wait_until(self.marker.exists, f"ingest frozen before change {self.marker}", self.proc, self.log_path)
        self.info = json.loads(self.marker.read_text())
        assert self.info["pid"] == self.proc.pid
        return self.info

    def kill(self) -> None:
        try:
            sigkill(self.proc)
        finally:
            self.log.close()


# ------------------------------------------------------------------ ingest
@pytest.fixture(scope="module")
def ingests(tmp_path_factory):
    """Old raw (no golden table) ingested into a template folder; new raw (44 decisions, no policy_changes)."""
    root = tmp_path_factory.mktemp("faults-ingest")
    t = make_valid_tables()
    old_raw = write_raw({k: v for k, v in t.items() if k != "golden"}, root / "raw_old")
    new_raw = write_raw({k: v for k, v in make_valid_tables(44).items() if k != "policy_changes"}, root / "raw_new")
    template = root / "processed"
    ingest(old_raw, template)
    legacy = root / "processed_plain"  # the layout older modqa versions wrote: plain files, no .current
    legacy.mkdir()
    for n in visible(template):
        shutil.copyfile(template / n, legacy / n)
    return {
        "old_raw": old_raw,
        "new_raw": new_raw,
        "template": template,
        "legacy": legacy,
        "old_view": visible(template),
        "new_fp": mio.data_fingerprint(sorted(new_raw.glob("*.csv"))),
        "new_tables": set(S.TABLE_NAMES) - {"policy_changes"},
    }


def _kill_at_each(ingests: dict, start: Path, points: list[int], changes: list[str], tmp: Path) -> list[str]:
    """Kill an ingest of the new raw data into a copy of ``start`` before each change in ``points``.

    For every point checks: the lock is held (a second ingest is refused naming
    the pid), after SIGKILL the folder shows the old data byte for byte or the
    complete new data, and the next ingest succeeds, cleans up every leftover
    and publishes the new data. Returns "old" or "new" per point.
    """
    outcomes = []
    for pair in (points[i : i + 2] for i in range(0, len(points), 2)):  # two at a time: 2 cores
        runs = []
        try:
            for n in pair:
                out = tmp / f"p{n}"
                shutil.copytree(start, out, symlinks=True)
                runs.append((n, out, FrozenIngest(ingests["new_raw"], out, n, tmp)))
            for n, out, run in runs:
                where = f"killed before change {n} ({changes[n - 1]})"
                assert same_change(run.wait_frozen()["desc"], changes[n - 1]), where
                with pytest.raises(
                    ConcurrentRunError,
                    match=rf"another ingest into this folder is running "
                    rf"\(pid {run.proc.pid}\)",
                ):
                    ingest(ingests["new_raw"], out)
                run.kill()
                if visible(out) == ingests["old_view"]:
                    outcomes.append("old")
                else:
                    assert_complete(out, ingests["new_fp"], ingests["new_tables"])
                    outcomes.append("new")
                # the dead process's lock file is still there; the OS released its flock
                assert (out / LOCK_NAME).read_text().strip() == str(run.proc.pid), where
                left = leftovers(out)
                rep = ingest(ingests["new_raw"], out)
                assert rep.stale_cleaned == len(left), (where, left)
                assert leftovers(out) == [] and not (out / LOCK_NAME).exists(), where
                assert_complete(out, ingests["new_fp"], ingests["new_tables"])
                assert set(mio.load_processed(out)) == ingests["new_tables"]
        finally:
            for _, _, run in runs:
                if run.proc.poll() is None:
                    run.kill()
    return outcomes


@pytest.mark.parametrize("phase", ["up to the switch", "after the switch"])
def test_ingest_killed_at_every_step_loses_nothing(ingests, tmp_path, phase):
    """kill -9 mid-staging and before every later change: the old data until .current switches, then the new."""
    changes = ingest_until.record_changes(ingests["new_raw"], _copy(ingests["template"], tmp_path / "dry-run"))
    last_write = max(i for i, c in enumerate(changes, 1) if c.startswith("to_parquet"))
    (switch,) = [i for i, c in enumerate(changes, 1) if c.endswith("-> .current")]
    assert changes[-1] == "unlink .ingest.lock"
    if phase == "up to the switch":  # one table staged, then every change up to and with the switch
        points, expected = [2] + list(range(last_write + 1, switch + 1)), "old"
    else:
        points, expected = list(range(switch + 1, len(changes) + 1)), "new"
    outcomes = _kill_at_each(ingests, ingests["template"], points, changes, tmp_path)
    assert outcomes == [expected] * len(points), [(changes[n - 1], o) for n, o in zip(points, outcomes)]


def test_ingest_killed_while_converting_plain_files_loses_nothing(ingests, tmp_path):
    """A folder written by an older modqa (plain files) is converted without a moment of mixed data."""
    changes = ingest_until.record_changes(ingests["new_raw"], _copy(ingests["legacy"], tmp_path / "dry-run"))
    visible_swaps = [
        i for i, c in enumerate(changes, 1) if c.startswith("replace .staging-link-") and not c.endswith("-> .current")
    ]
    flips = [i for i, c in enumerate(changes, 1) if c.endswith("-> .current")]
    assert len(flips) == 2  # an empty version to adopt the plain files into, then the new data
    # the first plain file hard-linked in and swapped for its link, the last one, the final switch
    points = [visible_swaps[0] - 2, visible_swaps[0], visible_swaps[-1], flips[-1], flips[-1] + 1]
    outcomes = _kill_at_each(ingests, ingests["legacy"], points, changes, tmp_path)
    assert outcomes == ["old", "old", "old", "old", "new"], list(zip(points, outcomes))


def test_concurrent_ingest_is_refused_by_the_cli_with_one_clear_line(ingests, tmp_path):
    if not MODQA.exists():
        pytest.skip(f"{MODQA} not installed (pip install -e .)")
    out = _copy(ingests["template"], tmp_path / "processed")
    cli = [str(MODQA), "ingest", "--raw", str(ingests["new_raw"]), "--processed", str(out)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    first = FrozenIngest(ingests["new_raw"], out, 1, tmp_path)  # validated, lock held, writing its first table
    try:
        first.wait_frozen()
        r = subprocess.run(cli, capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr == (
            f"modqa ingest: error: {out}: another ingest into this folder is running "
            f"(pid {first.proc.pid}); wait for it to finish, then run 'modqa ingest' again\n"
        )
        assert visible(out) == ingests["old_view"]
    finally:
        first.kill()
    r = subprocess.run(cli, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "  cleaned up 1 leftover(s) of an interrupted ingest"
    assert leftovers(out) == []
    assert_complete(out, ingests["new_fp"], ingests["new_tables"])


# ------------------------------------------------------------------- batch
def fault_notebook(path: Path) -> Path:
    """A two-cell report whose kernel can wait on a file (to be killed there) or kill itself."""
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Fault fixture"),
            nbformat.v4.new_code_cell(
                'market: str = "BR"  # market to report on\n'
                'block_for: str = ""  # unit whose kernel waits while hold_file exists\n'
                'hold_file: str = ""  # see block_for\n'
                'started_file: str = ""  # the waiting kernel writes its pid here\n'
                'die_for: str = ""  # unit whose kernel kills itself with SIGKILL',
                metadata={"tags": ["parameters"]},
            ),
            nbformat.v4.new_code_cell(
                "import os, signal, time\nfrom pathlib import Path\n\n"
                "if market == die_for:\n"
                "    print('killing my own kernel', flush=True)\n"
                "    os.kill(os.getpid(), signal.SIGKILL)\n"
                "if market == block_for and Path(hold_file).exists():\n"
                "    Path(started_file).write_text(str(os.getpid()))\n"
                "    give_up = time.monotonic() + 120\n"
                "    while Path(hold_file).exists() and time.monotonic() < give_up:\n"
                "        time.sleep(0.05)\n"
                "print(f'report for {market}')"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def market_params(root: Path, **parameters) -> Path:
    """``root/params/markets.yaml`` running the fault notebook for units BR then MY."""
    nb = fault_notebook(root / "fault.ipynb")
    p = root / "params" / "markets.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(
        yaml.safe_dump(
            {"notebook": str(nb), "title": "Fault fixture {unit}", "parameters": parameters, "units": ["BR", "MY"]}
        )
    )
    return p


def test_batch_killed_mid_run_keeps_finished_units_and_resume_runs_the_rest(tmp_path):
    if not MODQA.exists():
        pytest.skip(f"{MODQA} not installed (pip install -e .)")
    hold, started = tmp_path / "hold", tmp_path / "started"
    hold.write_text("wait")
    params = market_params(tmp_path, block_for="MY", hold_file=str(hold), started_file=str(started))
    outputs, processed = tmp_path / "outputs", tmp_path / "processed"
    run_dir, man_path = outputs / "r1", outputs / "r1" / "manifest.json"

    def status() -> dict:
        return (
            {u["unit"]: u["status"] for u in json.loads(man_path.read_text())["units"].values()}
            if man_path.exists()
            else {}
        )

    log_path = tmp_path / "batch.log"
    with open(log_path, "w") as log:  # the real CLI; MODQA_ROOT points it at params/markets.yaml above
        proc = subprocess.Popen(
            [
                str(MODQA),
                "batch",
                "--by",
                "market",
                "--workers",
                "1",
                "--run-id",
                "r1",
                "--timeout",
                str(UNIT_TIMEOUT),
                "--out",
                str(outputs),
                "--processed",
                str(processed),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MODQA_ROOT": str(tmp_path), "PYTHONWARNINGS": "ignore"},
        )
    kernel = None
    try:
        # BR finished and recorded, MY's kernel is inside its cell: kill the batch there
        wait_until(lambda: started.exists() and status().get("BR") == "ok", "BR ok and MY running", proc, log_path)
        kernel = int(started.read_text())
        sigkill(proc)
        assert status() == {"BR": "ok", "MY": "pending"}  # valid JSON, written atomically
        man = json.loads(man_path.read_text())
        br = man["units"]["market/BR"]
        assert all((run_dir / rel).exists() for rel in br["outputs"].values()) and len(br["outputs"]) == 2
        finals = (
            [p.name for p in (run_dir / "my").iterdir() if not p.name.startswith(".")]
            if (run_dir / "my").exists()
            else []
        )
        assert finals == [], "a half-written file of the killed unit has its final name"
        # the orphaned kernel notices its parent died and exits
        wait_until(lambda: not pid_alive(kernel), "MY's kernel exits after the batch was killed", timeout=30)
    finally:
        hold.unlink(missing_ok=True)  # releases MY's kernel if it is still there
        if proc.poll() is None:
            sigkill(proc)
        if kernel and pid_alive(kernel):
            os.kill(kernel, signal.SIGKILL)
    before = {p: p.stat().st_mtime_ns for p in (run_dir / "br").iterdir()}
    res = B.run_batch(
        "market",
        workers=1,
        run_id="r1",
        resume=True,
        timeout=UNIT_TIMEOUT,
        outputs=outputs,
        processed=processed,
        params=params,
        progress=False,
    )
    assert res.ran == ["MY"] and res.ok, res.summary()
    assert status() == {"BR": "ok", "MY": "ok"}
    assert {p: p.stat().st_mtime_ns for p in (run_dir / "br").iterdir()} == before  # BR untouched
    assert sorted(p.name for p in (run_dir / "my").iterdir()) == ["fault.html", "fault.ipynb"]  # no .partial
    assert not list(run_dir.rglob("*.partial*"))


def test_kernel_killed_mid_unit_fails_that_unit_only(tmp_path):
    """test_batch covers a kernel that exits (os._exit) in a one-unit run; here SIGKILL beside a good unit."""
    params = market_params(tmp_path, die_for="MY")
    res = B.run_batch(
        "market",
        workers=2,
        run_id="r1",
        timeout=UNIT_TIMEOUT,
        outputs=tmp_path / "outputs",
        processed=tmp_path / "processed",
        params=params,
        progress=False,
    )
    by = {u.unit: u for u in res.units}
    assert by["BR"].status == "ok" and set(by["BR"].outputs) == {"notebook", "html"}
    my = by["MY"]
    assert my.status == "failed" and my.error.startswith("DeadKernelError: the kernel died"), my.error
    assert "\n" not in my.error and "html" not in my.outputs
    assert not (res.run_dir / "my" / "fault.html").exists()
    assert not list(res.run_dir.rglob("*.partial*"))
    man = json.loads(res.manifest_path.read_text())
    assert {u["unit"]: u["status"] for u in man["units"].values()} == {"BR": "ok", "MY": "failed"}
    assert "DeadKernelError" in (res.run_dir / "index.html").read_text()
