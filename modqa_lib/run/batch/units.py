"""Units of a batch (specs and results) and the per-unit run (papermill + export)."""

from __future__ import annotations

import glob
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modqa_lib.errors import BatchError
from modqa_lib.run.batch._common import _TIMEOUT_ENAME, STATUSES, _iso, _one_line, _utcnow
from modqa_lib.run.batch.engine import register_engine
from modqa_lib.run.batch.kernels import WarmKernel, kernel_manager_class


# ---------------------------------------------------------------- dataclasses
@dataclass
class UnitSpec:
    """Everything :func:`run_unit` needs; plain data, picklable (Dask-ready).

    Attributes
    ----------
    family : {"vendor", "site", "market", "consolidated"}
    unit : str
        Unit name as in the data ("Vendor B", "Kuala Lumpur", "BR").
    slug : str
        Output folder name below ``run_dir``.
    notebook : str
        Absolute path of the input notebook.
    parameters : dict
        Papermill parameters.
    run_dir : str
        ``outputs/<run-id>``.
    title : str
        Report title.
    timeout : float
        Seconds for the whole notebook run (kernel start included).
    meta : dict
        ``period``, ``data_fingerprint``, ``run_id``: for the header and manifest.
    privacy : dict or None
        For vendor-facing reports: ``focus_vendor``, ``vendors`` (list),
        ``sites`` (site -> vendor), ``moderator_ids`` (id -> vendor).
    kernel_name : str
    cwd : str or None
        Kernel working directory; default the notebook's folder.
    start_timeout : float
        Seconds to wait for the kernel to start.
    env : dict
        Variables added to the kernel's environment (over :data:`REPORT_ENV`);
        given to the kernel's process at launch, ``os.environ`` is not changed.
    """

    family: str
    unit: str
    slug: str
    notebook: str
    parameters: dict
    run_dir: str
    title: str
    timeout: float = 900.0
    meta: dict = field(default_factory=dict)
    privacy: dict | None = None
    kernel_name: str = "python3"
    cwd: str | None = None
    start_timeout: float = 60.0
    env: dict = field(default_factory=dict)


@dataclass
class UnitResult:
    """Outcome of one unit, as stored in the manifest.

    Attributes
    ----------
    status : {"ok", "failed", "timeout", "pending"}
    outputs : dict
        ``notebook`` and (when ok) ``html``: paths relative to the run folder.
    error : str or None
        One line: exception name and message, with the failing cell.
    headline : dict or None
        Figures from :func:`record_headline`.
    warnings : list of str
        Export warnings (size, removed markup), skipped checks.
    html_bytes : int or None
    timings : dict
        Seconds per step: ``kernel_start`` (0 when a warm kernel was reused),
        ``kernel_reset``, ``notebook`` (all cells), ``export`` (HTML and privacy check).
    """

    family: str
    unit: str
    slug: str
    status: str
    started: str | None = None
    finished: str | None = None
    duration_s: float | None = None
    parameters: dict = field(default_factory=dict)
    notebook: str | None = None
    data_fingerprint: str | None = None
    outputs: dict = field(default_factory=dict)
    error: str | None = None
    headline: dict | None = None
    warnings: list = field(default_factory=list)
    html_bytes: int | None = None
    timings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UnitResult:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class BatchResult:
    """All units of one family in a run (those rerun now and those kept).

    Attributes
    ----------
    run_id : str
    run_dir : Path
    family : str
    units : list of UnitResult
        In unit order.
    ran : list of str
        Units executed by this call (all of them unless resuming).
    warnings : list of str
    """

    run_id: str
    run_dir: Path
    family: str
    units: list[UnitResult]
    ran: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if every unit is ok (and there was at least one)."""
        return bool(self.units) and all(u.ok for u in self.units)

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / "manifest.json"

    @property
    def index_path(self) -> Path:
        return self.run_dir / "index.html"

    @property
    def failed(self) -> list[UnitResult]:
        return [u for u in self.units if not u.ok]

    def summary(self) -> str:
        """A plain table: unit, status, duration, error; then where the index is."""
        counts = {s: sum(u.status == s for u in self.units) for s in STATUSES}
        head = f"run {self.run_id} ({self.family}): {len(self.units)} unit(s): " + ", ".join(
            f"{n} {s}" for s, n in counts.items() if n
        )
        rows = [("unit", "status", "duration", "error")]
        for u in self.units:
            dur = f"{u.duration_s:.1f}s" if u.duration_s is not None else "-"
            status = u.status if u.unit in self.ran else f"{u.status} (kept)"
            rows.append((u.unit, status, dur, _one_line(u.error or "", 120)))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [head] + ["  ".join(r[i].ljust(widths[i]) if i < 3 else r[i] for i in range(4)).rstrip() for r in rows]
        lines += [f"warning: {w}" for w in self.warnings]
        lines.append(f"index: {self.index_path}")
        return "\n".join(lines)

    def raise_for_status(self) -> BatchResult:
        """Raise :class:`BatchError` naming the failed units, else return self."""
        if not self.ok:
            bad = ", ".join(f"{u.unit} ({u.status})" for u in self.failed) or "no units"
            raise BatchError(f"run {self.run_id}: {bad}; see {self.manifest_path}")
        return self


# ------------------------------------------------------------------ run_unit
def _warm_kernel_kwargs(
    kernel: WarmKernel | None, spec: UnitSpec, cwd: str, deadline: float, timings: dict
) -> dict[str, Any]:
    """papermill's engine arguments for a warm kernel (none without one); records its start and reset times."""
    if kernel is None:
        return {}
    if not Path(spec.notebook).exists():  # as papermill would say, before starting a kernel
        raise FileNotFoundError(f"No such file or directory: '{spec.notebook}'")
    km, (t_start, t_reset) = kernel.acquire(
        spec.kernel_name, cwd, max(1.0, min(spec.start_timeout, deadline - time.monotonic())), env=kernel_env(spec)
    )
    timings.update(kernel_start=round(t_start, 3), kernel_reset=round(t_reset, 3))
    return {"km": km}


def run_unit(spec: UnitSpec, kernel: WarmKernel | None = None) -> UnitResult:
    """Execute one unit's notebook, export it, check it; never raises.

    Steps: papermill executes ``spec.notebook`` into a temporary file in the
    unit folder (kernel ``spec.kernel_name``, working directory the notebook's
    folder, no log or progress output) with a wall-clock budget of
    ``spec.timeout`` seconds shared by all cells; the executed notebook, with
    the headline figures in ``metadata.modqa`` and any error in place, is moved
    to ``<slug>/<stem>.ipynb``. If the run succeeded it is exported to HTML
    (:func:`modqa_lib.report.export.export_html`), and for vendor-facing reports
    checked with :func:`modqa_lib.report.privacy.assert_no_foreign_names` before the
    HTML is moved into place: a leak fails the unit and publishes nothing.
    Outputs of an earlier attempt at the unit, and temporary files left by an
    attempt that was killed, are removed first.

    The two halves are :func:`execute_unit` (needs the kernel) and
    :func:`~modqa_lib.run.batch.publish.publish_unit` (needs none): a local
    batch runs the second beside the worker's next notebook.

    Parameters
    ----------
    spec : UnitSpec
    kernel : WarmKernel, optional
        Run in this worker's warm kernel (namespace wiped first) instead of a
        fresh kernel; a kernel that died, timed out or failed outside a cell is
        discarded so the next unit gets a fresh one.

    Returns
    -------
    UnitResult
        ``status`` "ok", "failed" (any exception: cell error, kernel death,
        export or privacy failure) or "timeout"; ``error`` is one line naming
        the exception, its message and the cell.
    """
    from modqa_lib.run.batch.publish import publish_unit

    return publish_unit(execute_unit(spec, kernel))


@dataclass
class ExecutedUnit:
    """A unit whose notebook has run (or failed to): what :func:`~modqa_lib.run.batch.publish.publish_unit` needs.

    Plain data, picklable. ``tmp_nb`` is the executed notebook (if any was
    written), not yet checked or published.
    """

    spec: UnitSpec
    tag: str
    started: str
    t0: float
    status: str
    error: str | None
    warnings: list
    timings: dict
    cwd: str

    @property
    def unit_dir(self) -> Path:
        return Path(self.spec.run_dir) / self.spec.slug

    @property
    def stem(self) -> str:
        return Path(self.spec.notebook).stem

    def partial(self, kind: str) -> Path:
        """A temporary file of this attempt in the unit folder (``ipynb``, ``html``, ``stub.ipynb``)."""
        return self.unit_dir / f".{self.stem}.{self.tag}.partial.{kind}"


def execute_unit(spec: UnitSpec, kernel: WarmKernel | None = None) -> ExecutedUnit:
    """Run one unit's notebook with papermill (the first half of :func:`run_unit`); never raises.

    Parameters
    ----------
    spec : UnitSpec
    kernel : WarmKernel, optional
        As in :func:`run_unit`.

    Returns
    -------
    ExecutedUnit
        Status "ok", "failed" or "timeout" of the notebook run, with its error line.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    t0 = time.monotonic()
    deadline = t0 + float(spec.timeout)
    cwd = spec.cwd or str(Path(spec.notebook).parent)
    ex = ExecutedUnit(
        spec=spec,
        tag=uuid.uuid4().hex[:8],
        started=_iso(_utcnow()),
        t0=t0,
        status="ok",
        error=None,
        warnings=[],
        timings={},
        cwd=cwd,
    )
    stem, unit_dir = ex.stem, ex.unit_dir
    timings = ex.timings

    def cell_budget(cell) -> int:  # every cell gets what is left of the unit's budget
        return max(1, math.ceil(deadline - time.monotonic()))

    timed_out: dict[str, Any] = {}

    def on_cell_error(cell=None, cell_index=None, execute_reply=None, **_):
        if ((execute_reply or {}).get("content") or {}).get("ename") == _TIMEOUT_ENAME:
            timed_out.setdefault("cell", cell_index)

    kernel_ok = False
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        # a rerun never leaves an older attempt's files behind, nor the temporary files of an
        # attempt that was killed (run_batch never runs one unit twice at the same time)
        for stale in (
            unit_dir / f"{stem}.html",
            unit_dir / f"{stem}.ipynb",
            *unit_dir.glob(f".{glob.escape(stem)}.*.partial.*"),
        ):
            stale.unlink(missing_ok=True)
        notebook = _notebook_to_run(spec, ex.partial("stub.ipynb"), ex.warnings)
        engine_kwargs = _warm_kernel_kwargs(kernel, spec, cwd, deadline, timings)
        t_nb = time.monotonic()
        nb_done = pm.execute_notebook(
            notebook,
            str(ex.partial("ipynb")),
            parameters=dict(spec.parameters),
            kernel_name=spec.kernel_name,
            progress_bar=False,
            log_output=False,
            start_timeout=int(max(1, min(spec.start_timeout, spec.timeout))),
            execution_timeout=int(max(1, math.ceil(spec.timeout))),
            timeout_func=cell_budget,
            interrupt_on_timeout=True,
            on_cell_error=on_cell_error,
            error_on_timeout={
                "ename": _TIMEOUT_ENAME,
                "evalue": f"unit exceeded {spec.timeout:g}s",
                "traceback": [],
            },
            resources={"metadata": {"path": cwd}},
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            kernel_manager_class=kernel_manager_class(kernel_env(spec)),  # a fresh kernel's environment
            engine_name=register_engine(),  # the notebook is written once, not before and after every cell
            **engine_kwargs,
        )
        timings["notebook"] = round(time.monotonic() - t_nb, 3)
        kernel_ok = True
        if (nb_done.metadata.get("papermill") or {}).get("exception"):
            # a cell was stopped (e.g. the timeout interrupt was swallowed) without an error output
            ex.status, ex.error = "failed", "execution stopped before the last cell without an error output"
    except PapermillExecutionError as exc:
        kernel_ok = True  # a cell raised: the kernel itself is fine
        ex.status = "failed"
        ex.error = f"{exc.ename}: {_one_line(exc.evalue, 240)} (cell {exc.cell_index}, In [{exc.exec_count}])"
    except TimeoutError as exc:  # nbclient CellTimeoutError: the kernel did not answer the interrupt
        ex.status, ex.error = "timeout", f"{_one_line(exc, 200)}"
    except Exception as exc:  # kernel death, kernel start failure, missing notebook, ...
        name = type(exc).__name__
        ex.status = "timeout" if time.monotonic() >= deadline else "failed"
        ex.error = (
            f"{name}: the kernel died (a crash, os._exit or out of memory); the executed notebook "
            "shows the last cell that ran"
            if name == "DeadKernelError"
            else f"{name}: {_one_line(exc, 240)}"
        )
    if kernel is not None and (timed_out or not kernel_ok):
        kernel.discard()  # dead, stuck or interrupted: the next unit gets a fresh kernel
    if timed_out:
        ex.status = "timeout"
        ex.error = (
            f"timed out after {spec.timeout:g}s (unit budget, kernel start included) "
            f"in cell {timed_out['cell']}; the executed notebook shows where it stopped"
        )
    return ex


#: environment of the report kernels: charts render inline whatever the caller's MPLBACKEND says
REPORT_ENV = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def kernel_env(spec: UnitSpec) -> dict[str, str]:
    """Variables a unit's kernel gets on top of the process environment: :data:`REPORT_ENV`, then ``spec.env``.

    Handed to the kernel's process at launch (:func:`~modqa_lib.run.batch.kernels.kernel_manager_class`);
    ``os.environ`` is never changed, so concurrent units cannot see each other's settings.

    Parameters
    ----------
    spec : UnitSpec

    Returns
    -------
    dict of str to str

    References
    ----------
    .. [1] Python docs, "os.environ": changing it affects every thread of the process,
       https://docs.python.org/3/library/os.html#os.environ
    """
    return {**REPORT_ENV, **{str(k): str(v) for k, v in (spec.env or {}).items()}}


def _notebook_to_run(spec: UnitSpec, stub: Path, warnings: list[str]) -> str:
    """The unit's notebook, or for a unit with decisions but no audits yet a short one that says so."""
    if not spec.meta.get("no_audits"):
        return spec.notebook
    warnings.append(f"no audits yet: a short report says so ({spec.meta['no_audits']} decision(s))")
    return str(_no_audits_notebook(spec, stub))


def _no_audits_notebook(spec: UnitSpec, path: Path) -> Path:
    """Write the notebook of a unit that has decisions but no audits yet (run instead of the report)."""
    import nbformat

    n = int(spec.meta["no_audits"])
    params = "\n".join(f"{k} = {v!r}" for k, v in spec.parameters.items())
    code = (
        "from modqa_lib.report.export import safe_markdown\n"
        "from modqa_lib.run.batch import record_headline\n\n"
        f"record_headline({{'n': 0, 'status': 'no audits', 'unit': {spec.unit!r}}})\n"
        "safe_markdown(\n"
        "    '**No audits yet.** {unit} has {n} decision(s) in the processed data, none of them audited: '\n"
        "    'there is no accuracy to report until QA audits some of them.',\n"
        f"    unit={spec.unit!r},\n"
        f"    n='{n:,}',\n"
        ")"
    )
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_markdown_cell(f"# {spec.title.replace('<', '&lt;')}"),
            nbformat.v4.new_code_cell(code),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": spec.kernel_name or "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))
    return path
