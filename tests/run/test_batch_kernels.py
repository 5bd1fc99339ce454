"""Tests for modqa_lib.run.batch.kernels: one warm kernel per worker, reused across units.

Tiny notebooks run one after the other in one WarmKernel: a unit must not see
the previous unit's variables (the namespace is wiped; ``In [n]`` restarts),
modules stay imported (the saving), and a kernel that dies or times out is
replaced so the next unit runs in a fresh one.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from modqa_lib.run import batch as B
from modqa_lib.run.batch.kernels import WarmKernel

pytestmark = pytest.mark.slow


def _nb(path: Path, source: str) -> str:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell('vendor: str = "Vendor A"  # vendor', metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(source),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return str(path)


def _spec(tmp_path: Path, nb: str, slug: str, timeout: float = 120) -> B.UnitSpec:
    return B.UnitSpec(
        family="vendor",
        unit=slug,
        slug=slug,
        notebook=nb,
        parameters={"vendor": slug},
        run_dir=str(tmp_path / "run"),
        title="t",
        timeout=timeout,
        meta={"run_id": "x"},
    )


def _outputs(tmp_path: Path, slug: str, stem: str) -> str:
    nb = nbformat.read(str(tmp_path / "run" / slug / f"{stem}.ipynb"), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


@pytest.fixture()
def kernel():
    k = WarmKernel(max_units=10)
    yield k
    k.discard()


def test_reused_kernel_has_a_clean_namespace_and_keeps_modules(tmp_path, kernel):
    first = _nb(tmp_path / "first.ipynb", "import os, sys\nsecret = 'vendor-a-data'\nsys._modqa_probe = os.getpid()")
    second = _nb(
        tmp_path / "second.ipynb",
        "import sys\nprint('secret' in dir(), 'os' in dir(), 'os' in sys.modules, sys._modqa_probe)\n"
        "print(get_ipython().execution_count)",
    )
    a = B.run_unit(_spec(tmp_path, first, "a"), kernel=kernel)
    b = B.run_unit(_spec(tmp_path, second, "b"), kernel=kernel)
    assert a.ok and b.ok, (a.error, b.error)
    assert kernel.starts == 1 and kernel.units == 2
    assert a.timings["kernel_start"] > 0 and b.timings["kernel_start"] == 0
    out = _outputs(tmp_path, "b", "second").split()
    # no variable of unit a survives; the module stays loaded in the same process
    assert out[:3] == ["False", "False", "True"] and out[3].isdigit()
    nb = nbformat.read(str(tmp_path / "run" / "b" / "second.ipynb"), as_version=4)
    assert [c.execution_count for c in nb.cells if c.cell_type == "code"] == [1, 2, 3]


def test_dead_kernel_is_replaced_for_the_next_unit(tmp_path, kernel):
    die = _nb(tmp_path / "die.ipynb", "import os\nos._exit(1)")
    ok = _nb(tmp_path / "ok.ipynb", "print('alive')")
    a = B.run_unit(_spec(tmp_path, die, "a"), kernel=kernel)
    b = B.run_unit(_spec(tmp_path, ok, "b"), kernel=kernel)
    assert a.status == "failed" and ("DeadKernelError" in a.error or "died" in a.error)
    assert b.ok and kernel.starts == 2 and b.timings["kernel_start"] > 0
    assert "alive" in _outputs(tmp_path, "b", "ok")


def test_timed_out_kernel_is_replaced_for_the_next_unit(tmp_path, kernel):
    slow = _nb(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    ok = _nb(tmp_path / "ok.ipynb", "print('fresh')")
    a = B.run_unit(_spec(tmp_path, slow, "a", timeout=8), kernel=kernel)
    b = B.run_unit(_spec(tmp_path, ok, "b"), kernel=kernel)
    assert a.status == "timeout"
    assert b.ok and kernel.starts == 2


def test_cell_error_keeps_the_kernel(tmp_path, kernel):
    bad = _nb(tmp_path / "bad.ipynb", "raise ValueError('planted')")
    ok = _nb(tmp_path / "ok.ipynb", "print('same kernel')")
    a = B.run_unit(_spec(tmp_path, bad, "a"), kernel=kernel)
    b = B.run_unit(_spec(tmp_path, ok, "b"), kernel=kernel)
    assert a.status == "failed" and "ValueError: planted" in a.error
    assert b.ok and kernel.starts == 1


def test_kernel_is_replaced_after_max_units(tmp_path):
    k = WarmKernel(max_units=2)
    try:
        nb = _nb(tmp_path / "ok.ipynb", "print(1)")
        res = [B.run_unit(_spec(tmp_path, nb, f"u{i}"), kernel=k) for i in range(3)]
        assert all(r.ok for r in res)
        assert k.starts == 2 and [r.timings["kernel_start"] > 0 for r in res] == [True, False, True]
    finally:
        k.discard()


def test_a_reset_frees_what_the_last_unit_left_and_freezes_only_survivors(tmp_path, kernel):
    """A figure the last unit left open is closed and collected, not frozen with the survivors (gc.freeze)."""
    first = _nb(
        tmp_path / "first.ipynb",
        "import sys, weakref\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2])\nsys._modqa_fig = weakref.ref(fig)",
    )
    second = _nb(
        tmp_path / "second.ipynb", "import gc, sys\nprint(sys._modqa_fig() is None, gc.get_freeze_count() > 0)"
    )
    a = B.run_unit(_spec(tmp_path, first, "a"), kernel=kernel)
    b = B.run_unit(_spec(tmp_path, second, "b"), kernel=kernel)
    assert a.ok and b.ok, (a.error, b.error)
    assert _outputs(tmp_path, "b", "second").split() == ["True", "True"]


def test_batch_with_one_worker_reuses_one_kernel(tmp_path, monkeypatch):
    """run_batch(units_per_kernel=...) executes the units with one WarmKernel per worker thread."""
    from modqa_lib.run.batch import runner

    seen = []
    real = runner.execute_unit

    def spy(spec, kernel=None):
        seen.append(id(kernel) if kernel is not None else None)
        return real(spec, kernel=kernel)

    monkeypatch.setattr(runner, "execute_unit", spy)
    nb = _nb(tmp_path / "ok.ipynb", "print(vendor)")
    specs = [_spec(tmp_path, nb, f"u{i}") for i in range(3)]
    results = list(runner._run_units_locally(specs, 1, units_per_kernel=50))
    assert all(r.ok for _, r in results)
    assert len(set(seen)) == 1 and None not in seen
    seen.clear()
    results = list(runner._run_units_locally(specs[:2], 1, units_per_kernel=1))
    assert seen == [None, None]  # 1: a fresh kernel per unit (execute_unit's own)


_ENV_PROBE = "import os\nprint(os.environ.get('MODQA_TEST_PROBE'), os.environ.get('MPLBACKEND'))"


@pytest.mark.parametrize("warm", [False, True], ids=["fresh-kernel", "warm-kernel"])
def test_concurrent_units_each_see_their_own_environment(tmp_path, monkeypatch, warm):
    import threading

    monkeypatch.setenv("MPLBACKEND", "Agg")  # the caller's setting: kernels get the inline backend all the same
    monkeypatch.delenv("MODQA_TEST_PROBE", raising=False)
    nb = _nb(tmp_path / "probe.ipynb", _ENV_PROBE)
    specs = [_spec(tmp_path, nb, name) for name in ("a", "b")]
    for s in specs:
        s.env = {"MODQA_TEST_PROBE": f"unit-{s.slug}"}
    kernels = [WarmKernel() if warm else None for _ in specs]
    seen: set = set()  # what the process environment said while the kernels started and ran
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.add((os.environ.get("MODQA_TEST_PROBE"), os.environ.get("MPLBACKEND")))
            stop.wait(0.0005)

    barrier = threading.Barrier(len(specs))
    results: dict = {}

    def run(spec, kernel):
        barrier.wait()  # both kernels start at the same time
        results[spec.slug] = B.run_unit(spec, kernel=kernel)

    watcher = threading.Thread(target=watch)
    threads = [threading.Thread(target=run, args=(s, k)) for s, k in zip(specs, kernels)]
    watcher.start()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
    finally:
        stop.set()
        watcher.join()
        for k in kernels:
            if k is not None:
                k.discard()
    assert set(results) == {"a", "b"}
    for slug, res in results.items():
        assert res.ok, res.error
        assert _outputs(tmp_path, slug, "probe").split() == [
            f"unit-{slug}",
            "module://matplotlib_inline.backend_inline",
        ]
    assert seen == {(None, "Agg")}  # os.environ was never changed by the batch
    assert os.environ.get("MPLBACKEND") == "Agg" and "MODQA_TEST_PROBE" not in os.environ


def test_warm_kernel_is_replaced_when_the_environment_changes(tmp_path, kernel):
    nb = _nb(tmp_path / "probe.ipynb", _ENV_PROBE)
    first, second = _spec(tmp_path, nb, "a"), _spec(tmp_path, nb, "b")
    first.env, second.env = {"MODQA_TEST_PROBE": "one"}, {"MODQA_TEST_PROBE": "two"}
    a = B.run_unit(first, kernel=kernel)
    b = B.run_unit(second, kernel=kernel)
    assert a.ok and b.ok, (a.error, b.error)
    assert kernel.starts == 2  # a kernel's environment is fixed at its start: a different one needs a new kernel
    assert _outputs(tmp_path, "a", "probe").split()[0] == "one"
    assert _outputs(tmp_path, "b", "probe").split()[0] == "two"


def test_a_kernel_that_dies_at_start_is_started_once_more(tmp_path, monkeypatch):
    """A kernel start can fail for reasons outside the unit (a port taken between choosing and binding it)."""
    from modqa_lib.run.batch import kernels

    real = kernels._tracking_manager
    calls = []

    def flaky(kernel_name, env=None):
        km = real(kernel_name, env)
        calls.append(km)
        if len(calls) == 1:

            async def dies(**kw):
                raise RuntimeError("Kernel died before replying to kernel_info")

            km.start_kernel = dies
        return km

    monkeypatch.setattr(kernels, "_tracking_manager", flaky)
    k = WarmKernel(max_units=5)
    try:
        res = B.run_unit(_spec(tmp_path, _nb(tmp_path / "ok.ipynb", "print(vendor)"), "a"), kernel=k)
        assert res.ok, res.error
        assert len(calls) == 2 and k.starts == 1
    finally:
        k.discard()
