"""Units of a batch (specs and results) and the per-unit run (papermill + export)."""

from __future__ import annotations

import glob
import math
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modqa_lib.errors import BatchError, ModqaError
from modqa_lib.report.notebook_headline import read_headline
from modqa_lib.run.batch._common import _TIMEOUT_ENAME, STATUSES, _display_path, _iso, _one_line, _rel, _utcnow
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
def _export_meta(spec: UnitSpec, headline: Any) -> dict:
    """Header fields of the HTML export: the spec's, with the weeks covered and the headline sentence."""
    from modqa_lib.report.layout import headline_sentence

    meta = {**spec.meta, "unit": spec.unit}
    if isinstance(headline, Mapping):
        if headline.get("period"):
            meta["period"] = str(headline["period"])  # the weeks the report covers, not "last:12"
        meta["headline"] = headline_sentence(headline)
        meta["n_audits"] = headline.get("n")
    return meta


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
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    started = _utcnow()
    t0 = time.monotonic()
    deadline = t0 + float(spec.timeout)
    run_dir = Path(spec.run_dir)
    unit_dir = run_dir / spec.slug
    stem = Path(spec.notebook).stem
    nb_out, html_out = unit_dir / f"{stem}.ipynb", unit_dir / f"{stem}.html"
    tag = uuid.uuid4().hex[:8]
    tmp_nb, tmp_html = unit_dir / f".{stem}.{tag}.partial.ipynb", unit_dir / f".{stem}.{tag}.partial.html"
    status, error, warnings, html_bytes, headline = "ok", None, [], None, None
    withheld = False
    outputs: dict[str, str] = {}
    cwd = spec.cwd or str(Path(spec.notebook).parent)

    def cell_budget(cell) -> int:  # every cell gets what is left of the unit's budget
        return max(1, math.ceil(deadline - time.monotonic()))

    timed_out: dict[str, Any] = {}

    def on_cell_error(cell=None, cell_index=None, execute_reply=None, **_):
        if ((execute_reply or {}).get("content") or {}).get("ename") == _TIMEOUT_ENAME:
            timed_out.setdefault("cell", cell_index)

    timings: dict[str, float] = {}
    kernel_ok = False
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        # a rerun never leaves an older attempt's files behind, nor the temporary files of an
        # attempt that was killed (run_batch never runs one unit twice at the same time)
        for stale in (html_out, nb_out, *unit_dir.glob(f".{glob.escape(stem)}.*.partial.*")):
            stale.unlink(missing_ok=True)
        notebook = _notebook_to_run(spec, unit_dir / f".{stem}.{tag}.partial.stub.ipynb", warnings)
        engine_kwargs = _warm_kernel_kwargs(kernel, spec, cwd, deadline, timings)
        t_nb = time.monotonic()
        nb_done = pm.execute_notebook(
            notebook,
            str(tmp_nb),
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
            status, error = "failed", "execution stopped before the last cell without an error output"
    except PapermillExecutionError as exc:
        kernel_ok = True  # a cell raised: the kernel itself is fine
        status = "failed"
        error = f"{exc.ename}: {_one_line(exc.evalue, 240)} (cell {exc.cell_index}, In [{exc.exec_count}])"
    except TimeoutError as exc:  # nbclient CellTimeoutError: the kernel did not answer the interrupt
        status, error = "timeout", f"{_one_line(exc, 200)}"
    except Exception as exc:  # kernel death, kernel start failure, missing notebook, ...
        name = type(exc).__name__
        status = "timeout" if time.monotonic() >= deadline else "failed"
        error = (
            f"{name}: the kernel died (a crash, os._exit or out of memory); the executed notebook "
            "shows the last cell that ran"
            if name == "DeadKernelError"
            else f"{name}: {_one_line(exc, 240)}"
        )
    if kernel is not None and (timed_out or not kernel_ok):
        kernel.discard()  # dead, stuck or interrupted: the next unit gets a fresh kernel
    if timed_out:
        status = "timeout"
        error = (
            f"timed out after {spec.timeout:g}s (unit budget, kernel start included) "
            f"in cell {timed_out['cell']}; the executed notebook shows where it stopped"
        )

    # keep the executed notebook whatever happened, with the headline in its metadata
    if tmp_nb.exists():
        try:
            nb = nbformat.read(str(tmp_nb), as_version=4)
            headline = read_headline(nb)
            nb.metadata["modqa"] = {
                "family": spec.family,
                "unit": spec.unit,
                "status": status,
                "run_id": spec.meta.get("run_id"),
                "headline": headline,
                "error": error,
            }
            problem, withheld = _check_executed(nb, spec, run_dir, cwd, status == "ok")
            if problem:
                status, error = "failed", problem
                nb.metadata["modqa"].update(status=status, error=error)
            nbformat.write(nb, str(tmp_nb))
        except Exception as exc:  # a half-written notebook is still worth keeping
            warnings.append(f"could not annotate executed notebook: {type(exc).__name__}: {_one_line(exc, 120)}")
        if withheld:  # publishes neither file; a private copy outside the published run folder
            _withhold(tmp_nb, run_dir, spec.slug, nb_out.name)
            warnings.append("executed notebook withheld by the privacy gate (private copy kept outside the run folder)")
        else:
            os.replace(tmp_nb, nb_out)
            outputs["notebook"] = _rel(nb_out, run_dir)

    if status == "ok":
        t_exp = time.monotonic()
        try:
            from modqa_lib.report.export import export_html

            meta = _export_meta(spec, headline)
            exp = export_html(nb_out, tmp_html, spec.title, meta=meta, roots=[(str(run_dir), "")])
            warnings.extend(exp.warnings)
            html_bytes = exp.size_bytes
            if spec.privacy:
                from modqa_lib.report.privacy import assert_no_foreign_names

                p = spec.privacy
                assert_no_foreign_names(
                    tmp_html.read_text(encoding="utf-8"),
                    p["focus_vendor"],
                    p.get("vendors", ()),
                    p.get("sites", {}),
                    p.get("moderator_ids", {}),
                )
            os.replace(tmp_html, html_out)
            outputs["html"] = _rel(html_out, run_dir)
        except ModqaError as exc:
            if type(exc).__name__ == "PrivacyLeakError":  # withheld: the notebook goes private too
                _withhold(nb_out, run_dir, spec.slug, nb_out.name)
                outputs.pop("notebook", None)
            status = "failed"
            kind = "privacy check failed" if type(exc).__name__ == "PrivacyLeakError" else "export failed"
            error = f"{kind}: {_one_line(exc, 400)}"
        except Exception as exc:
            status, error = "failed", f"export failed: {type(exc).__name__}: {_one_line(exc, 240)}"
        finally:
            tmp_html.unlink(missing_ok=True)
            timings["export"] = round(time.monotonic() - t_exp, 3)
    tmp_nb.unlink(missing_ok=True)
    (unit_dir / f".{stem}.{tag}.partial.stub.ipynb").unlink(missing_ok=True)
    finished = _utcnow()
    return UnitResult(
        family=spec.family,
        unit=spec.unit,
        slug=spec.slug,
        status=status,
        started=_iso(started),
        finished=_iso(finished),
        duration_s=round(time.monotonic() - t0, 2),
        parameters=dict(spec.parameters),
        notebook=_display_path(spec.notebook),
        data_fingerprint=spec.meta.get("data_fingerprint"),
        outputs=outputs,
        error=error,
        headline=headline,
        warnings=warnings,
        html_bytes=html_bytes,
        timings=timings,
    )


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


_FIGURE_REPR = re.compile(r"^<Figure size \d+(\.\d+)?x\d+(\.\d+)? with \d+ Axes>$")


def _unrendered_charts(nb) -> int:
    """Outputs that are a matplotlib Figure's text repr without an image (a chart that did not render)."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            txt = data.get("text/plain")
            txt = "".join(txt) if isinstance(txt, list) else (txt or "")
            if _FIGURE_REPR.match(txt.strip()) and not any(k.startswith("image/") for k in data):
                n += 1
            elif out.get("output_type") == "stream":
                text = "".join(out.get("text", "")) if isinstance(out.get("text"), list) else str(out.get("text", ""))
                n += sum(bool(_FIGURE_REPR.match(line.strip())) for line in text.splitlines())
    return n


def _notebook_text(nb) -> str:
    """What an executed notebook shows from the data: text outputs, errors and the headline (no images)."""
    import json

    parts = [json.dumps((nb.metadata.get("modqa") or {}).get("headline") or {}, ensure_ascii=False)]
    for cell in nb.cells:  # sources are the trusted notebook and its parameters: outputs are what the data says
        for out in cell.get("outputs", []):
            t = out.get("text")
            parts.append("".join(t) if isinstance(t, list) else str(t or ""))
            parts.append(str(out.get("evalue", "")))
            parts.extend(str(x) for x in out.get("traceback", []))
            for mime, v in (out.get("data") or {}).items():
                if mime.startswith("image/"):
                    continue
                parts.append("".join(v) if isinstance(v, list) else (v if isinstance(v, str) else json.dumps(v)))
    return "\n".join(parts)


def private_dir(run_dir: str | os.PathLike) -> Path:
    """Where withheld executed notebooks go: ``<outputs>/.private/<run_id>/``, outside the published run folder."""
    run_dir = Path(run_dir)
    return run_dir.parent / ".private" / run_dir.name


def _withhold(path: Path, run_dir: Path, slug: str, name: str) -> None:
    """Move a file a unit must not publish to :func:`private_dir` (owner-only permissions)."""
    private = private_dir(run_dir) / slug
    private.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.replace(path, private / name)
    os.chmod(private / name, 0o600)


def _check_executed(nb, spec: UnitSpec, run_dir: Path, cwd: str, ok: bool) -> tuple[str | None, bool]:
    """Check and clean an executed notebook before it is published (modifies ``nb``).

    Machine paths are scrubbed from every cell and output; a run that was ``ok``
    but whose charts did not render fails; with ``spec.privacy`` the notebook
    passes the same foreign-name gate as the HTML or is withheld.

    Returns
    -------
    problem : str or None
        Why the unit fails, if it does.
    withheld : bool
        The notebook names another vendor, site or moderator: it must not be published.
    """
    from modqa_lib.report.export import default_roots, scrub_notebook_paths

    problem = None
    broken = _unrendered_charts(nb)
    if broken and ok:
        problem = (
            f"{broken} chart(s) did not render (the kernel printed a Figure object instead of an image; "
            "is a non-inline matplotlib backend forced?)"
        )
    scrub_notebook_paths(nb, [(str(run_dir), ""), (str(Path(cwd)), "")] + default_roots())
    for cell in nb.cells:  # the notebook's default parameters may name another unit (the injected cell has ours)
        if "parameters" in (cell.get("metadata") or {}).get("tags", []) and cell.get("cell_type") == "code":
            cell["source"] = "# default parameters replaced by the injected-parameters cell below"
    pm_meta = nb.metadata.get("papermill") or {}
    for k in ("input_path", "output_path"):  # absolute paths of this machine
        if pm_meta.get(k):
            pm_meta[k] = Path(str(pm_meta[k])).name
    if spec.privacy:  # the executed notebook is published too: same gate as the HTML
        from modqa_lib.report.privacy import assert_no_foreign_names

        p = spec.privacy
        try:
            assert_no_foreign_names(
                _notebook_text(nb),
                p["focus_vendor"],
                p.get("vendors", ()),
                p.get("sites", {}),
                p.get("moderator_ids", {}),
            )
        except ModqaError as exc:
            return f"privacy check failed (executed notebook): {_one_line(exc, 400)}", True
    return problem, False


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
