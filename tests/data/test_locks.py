"""Tests of modqa_lib.data.locks and the locks ingest and batch take."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from modqa_lib.data.locks import folder_lock, lock_holder
from modqa_lib.errors import ConcurrentRunError
from modqa_lib.run import batch


def test_second_holder_is_refused_with_the_pid_and_lock_file_is_removed(tmp_path):
    with folder_lock(tmp_path / "run", ".x.lock", "another thing", "wait") as path:
        assert lock_holder(tmp_path / "run", ".x.lock") == os.getpid()
        with pytest.raises(ConcurrentRunError, match=rf"run: another thing is running \(pid {os.getpid()}\); wait"):
            with folder_lock(tmp_path / "run", ".x.lock", "another thing", "wait"):
                pass
    assert not path.exists()
    with folder_lock(tmp_path / "run", ".x.lock", "again"):  # free again
        pass


def _holder_process(folder, marker):
    code = (
        "import sys, time; from modqa_lib.data.locks import folder_lock\n"
        f"with folder_lock({str(folder)!r}, '.x.lock', 'holder'):\n"
        f"    open({str(marker)!r}, 'w').close(); time.sleep(60)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code])


def _wait_for(path, proc, seconds=20):
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, "holder exited early"
        assert time.monotonic() - t0 < seconds, "holder never took the lock"
        time.sleep(0.05)


def test_lock_of_a_killed_holder_is_released_by_the_os(tmp_path):
    folder, marker = tmp_path / "run", tmp_path / "locked"
    proc = _holder_process(folder, marker)
    try:
        _wait_for(marker, proc)
        with pytest.raises(ConcurrentRunError, match=f"pid {proc.pid}"):
            with folder_lock(folder, ".x.lock", "holder"):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert (folder / ".x.lock").exists()  # left behind by kill -9 ...
    with folder_lock(folder, ".x.lock", "holder"):  # ... and simply taken over
        assert lock_holder(folder, ".x.lock") == os.getpid()


def test_batch_refuses_a_run_another_batch_is_writing(tmp_path):
    run_dir = tmp_path / "outputs" / "RUN1"
    with folder_lock(run_dir, batch.LOCK_NAME, "test"):
        with pytest.raises(ConcurrentRunError, match="another batch writing this run is running"):
            batch.run_batch(
                "vendor", run_id="RUN1", outputs=tmp_path / "outputs", processed=tmp_path / "nothing", progress=False
            )
    assert run_dir.exists()  # the holder's folder is not removed by the refused batch


def test_a_batch_refused_for_bad_input_leaves_no_run_folder(tmp_path):
    from modqa_lib.errors import ConfigError

    with pytest.raises(ConfigError):
        batch.run_batch(
            "vendor",
            run_id="RUN2",
            outputs=tmp_path / "outputs",
            period="bogus",
            processed=tmp_path / "nothing",
            progress=False,
        )
    assert not (tmp_path / "outputs" / "RUN2").exists()
    with pytest.raises(ConfigError, match="choose one of"):
        batch.run_batch("planet", outputs=tmp_path / "outputs", progress=False)
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())
