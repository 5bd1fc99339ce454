"""Running a batch: locking, parallel units, resume, manifest updates."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from modqa_lib.config import OUTPUTS_DIR
from modqa_lib.data.io import write_json_atomic
from modqa_lib.data.locks import folder_lock
from modqa_lib.errors import ConfigError
from modqa_lib.run.batch._common import _RUN_ID, FAMILIES, LOCK_NAME, _display_path, _iso, _one_line, _utcnow
from modqa_lib.run.batch.kernels import WarmKernel
from modqa_lib.run.batch.manifest import _read_manifest, write_index
from modqa_lib.run.batch.plan import plan_batch
from modqa_lib.run.batch.units import BatchResult, ExecutedUnit, UnitResult, UnitSpec, execute_unit


# ------------------------------------------------------------------ run_batch
def run_batch(
    by: str,
    only: Iterable[str] | None = None,
    workers: int | None = None,
    period: str | None = None,
    run_id: str | None = None,
    resume: bool = False,
    timeout: float = 900,
    outputs: str | os.PathLike | None = None,
    processed: str | os.PathLike | None = None,
    *,
    units: Iterable[str] | None = None,
    params: str | os.PathLike | Mapping | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    progress: bool = True,
    kernel_name: str = "python3",
    scheduler: str | None = None,
    units_per_kernel: int = 50,
) -> BatchResult:
    """Run a family's report notebook for every unit, in parallel; write manifest and index.

    Parameters
    ----------
    by : {"vendor", "site", "market", "consolidated"}
    only : iterable of str, optional
        Run only these units (unknown names raise, listing the valid ones).
    workers : int, optional
        Parallel kernels; default ``os.cpu_count()``.
    period : str, optional
        Notebook parameter ``period``: ``"last:N"``, ``"all"`` or ``"YYYY-MM-DD:YYYY-MM-DD"``;
        default the YAML's (on resume: the run's).
    run_id : str, optional
        Default ``<UTC YYYYmmddTHHMMSSZ>-<by>``.
    resume : bool, default False
        Rerun only the units of ``run_id`` that are not ok or whose outputs are missing.
    timeout : float, default 900
        Seconds per unit (kernel start and all cells).
    outputs, processed : path-like, optional
        Default ``outputs/`` and ``data/processed/``.
    units : iterable of str, optional
        Force the unit list (instead of the YAML's list or the data).
    params : path-like or mapping, optional
        The family's params YAML (default ``params/<family>.yaml``).
    notebooks_dir : path-like, optional
        Where relative ``notebook:`` names resolve (default ``notebooks/``).
    progress : bool, default True
        tqdm progress bar on stderr.
    kernel_name : str, default "python3"
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://HOST:PORT``): the units
        run on its workers instead of local threads (``workers`` is then
        ignored). Workers need the package, read access to the processed data
        and write access to the run folder; the manifest and index are written
        here as for a local batch. A unit whose worker dies fails with that
        reason once the scheduler's retries (``allowed-failures``) are spent; a
        retry is recorded in the unit's warnings.
    units_per_kernel : int, default 50
        Each worker thread (local, or on the Dask workers) keeps one warm
        kernel for up to this many units in turn (namespace wiped between units; modules stay imported), which
        saves kernel start-up and imports per unit; 1 starts a fresh kernel for
        every unit. A kernel that dies or times out is replaced at once.

    Returns
    -------
    BatchResult
        ``ok`` is False if any unit failed or timed out (the CLI exits 1).

    Raises
    ------
    ConfigError
        Bad family, YAML, parameter names, period, ``only``, run id, or
        ``resume`` without a manifest / re-running a family a run already has.
    ConcurrentRunError
        Another batch is writing the same run (the message gives its pid).
    """
    if resume and not run_id:
        raise ConfigError("--resume needs the --run-id of the run to resume")
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if n_workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if by not in FAMILIES:
        raise ConfigError(f"--by {by!r}: choose one of {', '.join(FAMILIES)}")
    outputs_p = Path(outputs or OUTPUTS_DIR)
    if run_id is None:
        run_id = f"{_utcnow().strftime('%Y%m%dT%H%M%SZ')}-{by}"
    if not _RUN_ID.match(str(run_id)):
        raise ConfigError(f"--run-id {run_id!r}: use letters, digits, '.', '_' and '-' only")
    run_dir = outputs_p / str(run_id)
    created = not run_dir.exists()
    ok = False
    try:
        # one writer per run: a second batch on the same run id would interleave manifest updates
        with folder_lock(
            run_dir, LOCK_NAME, "another batch writing this run", "wait for it to finish, or choose another --run-id"
        ):
            result = _run_batch_locked(
                by,
                only,
                n_workers,
                period,
                str(run_id),
                resume,
                timeout,
                outputs_p,
                processed,
                units,
                params,
                notebooks_dir,
                progress,
                kernel_name,
                scheduler,
                units_per_kernel,
            )
        ok = True
        return result
    finally:
        if created and not ok:  # a run that failed before writing anything leaves no folder
            try:
                run_dir.rmdir()
            except OSError:
                pass


def _run_batch_locked(
    by,
    only,
    n_workers,
    period,
    run_id,
    resume,
    timeout,
    outputs_p,
    processed,
    units,
    params,
    notebooks_dir,
    progress,
    kernel_name,
    scheduler=None,
    units_per_kernel=50,
) -> BatchResult:
    """:func:`run_batch` once the run's lock is held: plan, register, execute, collect."""
    manifest = _read_manifest(outputs_p / run_id)
    period, units = _check_resume(manifest, by, run_id, resume, period, units, outputs_p, only)
    specs, info = plan_batch(
        by,
        only=only,
        period=period,
        run_id=run_id,
        timeout=timeout,
        outputs=outputs_p,
        processed=processed,
        units=units,
        params=params,
        notebooks_dir=notebooks_dir,
        kernel_name=kernel_name,
    )
    run_dir: Path = info["run_dir"]
    warnings = list(info["warnings"])
    now = _iso(_utcnow())
    manifest = manifest or {"run_id": info["run_id"], "created": now, "units": {}, "families": {}}
    manifest.setdefault("families", {})
    todo = _units_to_run(manifest, specs, by, resume, run_dir)
    if resume and manifest["families"][by].get("data_fingerprint") != info["data_fingerprint"] and todo:
        warnings.append(
            "processed data changed since this run started: kept and rerun units were computed from different data"
        )
    _register(manifest, by, todo, info, resume, now)

    from modqa_lib.report.export import make_readable

    def save() -> None:
        manifest["updated"] = _iso(_utcnow())
        make_readable(write_json_atomic(manifest, run_dir / "manifest.json"))
        make_readable(write_index(run_dir, manifest))

    run_dir.mkdir(parents=True, exist_ok=True)
    save()
    _execute(todo, manifest, by, n_workers, scheduler, progress, save, units_per_kernel)
    manifest["families"][by]["last_finished"] = _iso(_utcnow())
    save()
    return _family_result(manifest, by, specs, todo, info, warnings, restrict=bool(only) or units is not None)


def _key(by: str, unit: str) -> str:
    return f"{by}/{unit}"


def _check_resume(manifest, by, run_id, resume, period, units, outputs_p, only):
    """Check ``resume`` against the run's manifest; return the period and units to plan with."""
    if resume:
        if manifest is None:
            raise ConfigError(f"--resume: no manifest in {_display_path(outputs_p / str(run_id))}")
        fam_info = manifest.get("families", {}).get(by)
        if fam_info is None:
            raise ConfigError(
                f"--resume: run {run_id} has no {by} units "
                f"(it has: {', '.join(manifest.get('families', {})) or 'none'})"
            )
        if period is None:
            period = fam_info.get("period")
        elif period != fam_info.get("period"):
            raise ConfigError(
                f"--resume: run {run_id} was made with period {fam_info.get('period')!r}, "
                f"not {period!r}; resume with the same period or start a new run"
            )
        if units is None and not only:
            units = [u["unit"] for u in manifest["units"].values() if u.get("family") == by]
    elif manifest is not None and by in manifest.get("families", {}):
        raise ConfigError(
            f"run {run_id} already has {by} units: use --resume to rerun failed ones, or another --run-id"
        )
    return period, units


def _units_to_run(manifest: dict, specs: list[UnitSpec], by: str, resume: bool, run_dir: Path) -> list[UnitSpec]:
    """Fix the slugs (no clash with other families, reruns write where the first attempt did); drop kept units."""
    # slugs must not collide with another family's folders in a shared run
    taken = {e.get("slug"): k for k, e in manifest["units"].items() if e.get("family") != by}
    for s in specs:
        if s.slug in taken:
            s.slug = f"{by}-{s.slug}"
    todo: list[UnitSpec] = []
    for s in specs:
        prev = manifest["units"].get(_key(by, s.unit))
        if prev and prev.get("slug"):
            s.slug = prev["slug"]  # a rerun writes where the first attempt did
        outs = (prev.get("outputs") or {}) if prev else {}
        if (
            resume
            and prev
            and prev.get("status") == "ok"
            and all((run_dir / rel).exists() for rel in outs.values())
            and {"notebook", "html"} <= set(outs)
        ):
            continue
        todo.append(s)
    return todo


def _register(manifest: dict, by: str, todo: list[UnitSpec], info: dict, resume: bool, now: str) -> None:
    """Write the family's entry and a "pending" entry per unit to run into ``manifest``."""
    fam_entry = manifest["families"].setdefault(by, {})
    fam_entry.update(
        {
            "notebook": info["notebook"],
            "params": info["params_source"],
            "period": info["period"],
            "data_fingerprint": fam_entry.get("data_fingerprint", info["data_fingerprint"])
            if resume
            else info["data_fingerprint"],
            "last_started": now,
        }
    )
    for s in todo:
        manifest["units"][_key(by, s.unit)] = UnitResult(
            family=by,
            unit=s.unit,
            slug=s.slug,
            status="pending",
            parameters=s.parameters,
            notebook=info["notebook"],
            data_fingerprint=info["data_fingerprint"],
        ).to_dict()


def _run_units_locally(
    todo: list[UnitSpec], n_workers: int, units_per_kernel: int = 50
) -> Iterator[tuple[UnitSpec, UnitResult]]:
    """Run the units in a thread pool of ``n_workers``; yield as they finish.

    Each thread drives one kernel at a time; with ``units_per_kernel > 1`` it keeps
    a :class:`~modqa_lib.run.batch.kernels.WarmKernel` for up to that many units
    in turn (1: a fresh kernel per unit). A worker thread only executes
    notebooks (:func:`~modqa_lib.run.batch.units.execute_unit`); their export
    and checks (:func:`~modqa_lib.run.batch.publish.publish_unit`) run in a
    separate publishing thread, so a kernel starts its next unit instead of
    waiting for the export of its last one.
    """
    from modqa_lib.run.batch.publish import publish_unit

    local = threading.local()
    kernels: list[WarmKernel] = []
    kernels_lock = threading.Lock()

    def work(s: UnitSpec) -> ExecutedUnit:
        if units_per_kernel <= 1:
            return execute_unit(s)
        k = getattr(local, "kernel", None)
        if k is None:
            k = local.kernel = WarmKernel(units_per_kernel)
            with kernels_lock:
                kernels.append(k)
        return execute_unit(s, kernel=k)

    pool = ThreadPoolExecutor(max_workers=min(n_workers, len(todo)), thread_name_prefix="modqa-unit")
    publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modqa-publish")
    try:
        spec_of: dict[Future, UnitSpec] = {pool.submit(work, s): s for s in todo}
        executing = set(spec_of)
        pending = set(spec_of)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                s = spec_of.pop(fut)
                try:
                    if fut in executing:  # a notebook ran: publish it beside the next one
                        executing.discard(fut)
                        pub = publisher.submit(publish_unit, fut.result())
                        spec_of[pub] = s
                        pending.add(pub)
                        continue
                    res = fut.result()
                except BaseException as exc:  # execute_unit and publish_unit catch everything; belt and braces
                    res = UnitResult(
                        family=s.family,
                        unit=s.unit,
                        slug=s.slug,
                        status="failed",
                        parameters=s.parameters,
                        notebook=_display_path(s.notebook),
                        error=f"{type(exc).__name__}: {_one_line(exc)}",
                    )
                yield s, res
    except (KeyboardInterrupt, GeneratorExit):
        pool.shutdown(wait=False, cancel_futures=True)
        publisher.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        publisher.shutdown(wait=True)
        for k in kernels:  # each kernel is idle now; shut it down from this thread
            k.discard()


def _execute(todo, manifest, by, n_workers, scheduler, progress, save, units_per_kernel=50) -> None:
    """Run ``todo`` locally or on the Dask cluster; record each result in the manifest as it arrives."""
    if not todo:
        return
    from tqdm.auto import tqdm

    if scheduler:
        from modqa_lib.run.batch.cluster import run_units_on_cluster

        results = run_units_on_cluster(todo, scheduler, units_per_kernel=units_per_kernel)
    else:
        results = _run_units_locally(todo, n_workers, units_per_kernel)
    bar = tqdm(total=len(todo), desc=f"{by} reports", unit="report", file=sys.stderr, disable=not progress, leave=True)
    try:
        for s, res in results:
            manifest["units"][_key(by, s.unit)] = res.to_dict()
            save()
            bar.set_postfix_str(f"{s.unit}: {res.status}", refresh=False)
            bar.update(1)
    finally:
        bar.close()


def _family_result(manifest, by, specs, todo, info, warnings, restrict: bool) -> BatchResult:
    """The :class:`BatchResult` of the family: its units in plan order (only the planned ones if restricted)."""
    order = {s.unit: i for i, s in enumerate(specs)}
    fam_units = [UnitResult.from_dict(e) for e in manifest["units"].values() if e.get("family") == by]
    fam_units.sort(key=lambda u: (order.get(u.unit, len(order)), u.unit))
    if restrict:
        fam_units = [u for u in fam_units if u.unit in order]
    return BatchResult(
        run_id=info["run_id"],
        run_dir=info["run_dir"],
        family=by,
        units=fam_units,
        ran=[s.unit for s in todo],
        warnings=warnings,
    )
