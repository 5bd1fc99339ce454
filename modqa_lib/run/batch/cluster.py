"""Running batch units on a Dask distributed cluster (``modqa batch --scheduler tcp://HOST:PORT``).

The units are the same :class:`~modqa_lib.run.batch.units.UnitSpec` objects the
local thread pool runs; each Dask task calls :func:`run_unit` on a worker, which
executes the notebook in a kernel on that worker, exports and privacy-checks the
HTML, and writes the unit's files into the shared run folder. The client (the
``modqa batch`` process) keeps the manifest and the index, exactly as for a
local batch.
"""

from __future__ import annotations

import atexit
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from modqa_lib.errors import ConfigError
from modqa_lib.run.batch._common import _display_path, _one_line
from modqa_lib.run.batch.kernels import WarmKernel
from modqa_lib.run.batch.units import UnitResult, UnitSpec, run_unit

__all__ = ["connect", "run_unit_attempt", "run_units_on_cluster"]

_ATTEMPT = ".modqa-attempt-{token}-{n}"
_KERNELS: dict[int, WarmKernel] = {}  # on a worker: one warm kernel per worker thread


def _discard_kernels() -> None:
    for k in list(_KERNELS.values()):
        k.discard()


def _worker_kernel(units_per_kernel: int) -> WarmKernel | None:
    """This worker thread's warm kernel (kept between tasks and batches), or None for a fresh kernel per unit."""
    if units_per_kernel <= 1:
        return None
    ident = threading.get_ident()
    k = _KERNELS.get(ident)
    if k is None:
        if not _KERNELS:
            atexit.register(_discard_kernels)  # a worker killed outright: the kernels exit with their parent
        k = _KERNELS[ident] = WarmKernel(units_per_kernel)
    k.max_units = max(1, int(units_per_kernel))
    return k


def connect(scheduler: str, timeout: float = 20):
    """A :class:`distributed.Client` on ``scheduler``, or a :class:`ConfigError` saying how to start one.

    Parameters
    ----------
    scheduler : str
        Address such as ``tcp://10.0.0.5:8786``.
    timeout : float, default 20
        Seconds to wait for the scheduler.
    """
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise ConfigError("--scheduler needs the 'distributed' package: pip install distributed") from None
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({type(exc).__name__}: "
            f"{_one_line(exc, 120)}); start one with 'dask scheduler' and workers with 'dask worker {scheduler}'"
        ) from None


def run_unit_attempt(spec: UnitSpec, token: str, units_per_kernel: int = 1) -> UnitResult:
    """Run one unit on a worker, counting attempts in the shared unit folder.

    When a worker dies mid-unit the scheduler may run the task again on another
    worker (up to its ``distributed.scheduler.allowed-failures``); the attempt
    files ``.modqa-attempt-<token>-<n>`` left in the unit folder by the lost
    attempts let the result say so, and :func:`run_units_on_cluster` records it
    in the manifest.

    Parameters
    ----------
    spec : UnitSpec
    token : str
        One value per submission of the batch.
    units_per_kernel : int, default 1
        Above 1, the worker thread keeps a warm kernel for up to this many units
        (see :class:`~modqa_lib.run.batch.kernels.WarmKernel`); it stays warm on
        the worker between batches.

    Returns
    -------
    UnitResult
        As from :func:`run_unit`, with a warning naming the attempt when earlier
        attempts were lost with their worker.
    """
    unit_dir = Path(spec.run_dir) / spec.slug
    unit_dir.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:  # O_EXCL: the first free number is this attempt's, even if two attempts raced
        try:
            os.close(os.open(unit_dir / _ATTEMPT.format(token=token, n=n), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            n += 1
    res = run_unit(spec, kernel=_worker_kernel(units_per_kernel))
    if n > 1:
        res.warnings.append(f"retried: attempt {n}, after {n - 1} earlier attempt(s) were lost with their Dask worker")
    _clear_attempts(unit_dir, token)
    return res


def _clear_attempts(unit_dir: Path, token: str) -> None:
    for f in unit_dir.glob(_ATTEMPT.format(token=token, n="*")):
        f.unlink(missing_ok=True)


def _lost_worker_result(spec: UnitSpec, exc: BaseException, token: str) -> UnitResult:
    """The failed result of a unit whose task did not return (its worker died, or the task was lost)."""
    unit_dir = Path(spec.run_dir) / spec.slug
    attempts = 0
    if unit_dir.exists():
        attempts = len(list(unit_dir.glob(_ATTEMPT.format(token=token, n="*"))))
        _clear_attempts(unit_dir, token)
    name = type(exc).__name__
    if name == "KilledWorker":
        why = f"worker lost mid-unit: the Dask worker running it died in each of {max(attempts, 1)} attempt(s)"
    else:
        why = f"the cluster did not return the unit ({name}: {_one_line(exc, 200)})"
    return UnitResult(
        family=spec.family,
        unit=spec.unit,
        slug=spec.slug,
        status="failed",
        parameters=dict(spec.parameters),
        notebook=_display_path(spec.notebook),
        data_fingerprint=spec.meta.get("data_fingerprint"),
        error=why,
    )


def run_units_on_cluster(
    specs: list[UnitSpec], scheduler: str, *, connect_timeout: float = 20, units_per_kernel: int = 1
) -> Iterator[tuple[UnitSpec, UnitResult]]:
    """Submit every unit to the cluster and yield ``(spec, result)`` as units finish.

    A unit whose worker is lost (after the scheduler's own retries) yields a
    "failed" result saying so; the other units go on.

    Parameters
    ----------
    specs : list of UnitSpec
    scheduler : str
        Scheduler address, e.g. ``tcp://HOST:8786``.
    connect_timeout : float, default 20
    units_per_kernel : int, default 1
        Warm kernels on the workers (see :func:`run_unit_attempt`).

    Yields
    ------
    tuple of (UnitSpec, UnitResult)
    """
    from distributed import as_completed

    client = connect(scheduler, timeout=connect_timeout)
    token = uuid.uuid4().hex[:10]
    futures: dict = {}
    try:
        futures = {
            client.submit(run_unit_attempt, s, token, units_per_kernel, pure=False, key=f"modqa-unit-{token}-{i}"): s
            for i, s in enumerate(specs)
        }
        for fut in as_completed(list(futures), loop=client.loop):
            s = futures.pop(fut)
            try:
                res = fut.result()
            except BaseException as exc:  # KilledWorker, lost futures, cancelled
                if isinstance(exc, KeyboardInterrupt):
                    raise
                res = _lost_worker_result(s, exc, token)
            # forget the result on the cluster: a held result lost with a later dead worker would be
            # recomputed, rerunning a finished unit over its published files
            fut.release()
            del fut
            yield s, res
    except KeyboardInterrupt:
        if futures:
            client.cancel(list(futures))
        raise
    finally:
        client.close()
