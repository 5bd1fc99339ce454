"""Shared test helpers and fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def shared_once(tmp_path_factory, name: str, build) -> Path:
    """Run ``build(folder)`` once per test session, also under pytest-xdist; return the folder.

    Workers share the session's base temp folder; an flock makes the first
    worker build and the others wait and reuse (tests must not modify it).
    """
    import fcntl

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / name
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / "DONE").exists():
                if folder.exists():
                    shutil.rmtree(folder)
                folder.mkdir(parents=True)
                build(folder)
                (folder / "DONE").write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


@pytest.fixture(scope="session")
def demo60k():
    """The default-seed demo data at 60,000 decisions (the size planted-truth tests use)."""
    from modqa_lib.data import synthetic

    return synthetic.generate(n_decisions=60_000)


@pytest.fixture(scope="session")
def audited60k(demo60k):
    """Non-golden audits of :func:`demo60k` joined to their decisions (read-only: do not modify)."""
    from modqa_lib.data import io

    return io.audited_decisions(demo60k.tables)
