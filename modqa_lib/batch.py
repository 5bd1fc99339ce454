"""Run a report notebook once per vendor, site or market with papermill, export each to HTML.

Run families
------------
=============  ==============================  =====================  =====================
``by``         notebook (from params YAML)     unit parameter(s)      units from decisions
=============  ==============================  =====================  =====================
vendor         10_vendor_scorecard.ipynb       ``vendor``             vendors but "Platform"
site           10_vendor_scorecard.ipynb       ``site``, ``vendor``   sites but "model"
market         11_market_report.ipynb          ``market``             markets
consolidated   00_consolidated_report.ipynb    (none)                 one unit "consolidated"
=============  ==============================  =====================  =====================

The notebook, the parameters shared by all units and per-unit overrides live in
``params/vendors.yaml`` (vendor and site, the latter under ``by_site:``),
``params/markets.yaml`` and ``params/consolidated.yaml``. Every parameter key
must be a parameter of the notebook (checked with ``papermill.inspect_notebook``
before anything runs). ``units:`` may be a list (run exactly these units) or a
mapping unit -> parameter overrides.

Outputs
-------
``outputs/<run-id>/<unit-slug>/<notebook-stem>.ipynb`` (executed, kept even when
it failed: the traceback is in it), ``.../<notebook-stem>.html`` (only for units
that succeeded and, for vendor-facing families, passed the privacy check),
``outputs/<run-id>/manifest.json`` (rewritten atomically after every unit) and
``outputs/<run-id>/index.html`` (links to every report with its headline figures).
Files get their final names only when complete (temporary ``.partial`` files,
then ``os.replace``), so a batch killed mid-run leaves a valid manifest with the
finished units ``ok`` and the others ``pending``, and ``--resume`` reruns
exactly those.

Run ids default to ``<UTC timestamp>-<family>`` (``20261125T120000Z-vendor``), so
``make run``'s two batches (``--by vendor`` then ``--by market``) get separate
folders. Families may also share one ``--run-id``: the manifest keys units by
``<family>/<unit>`` and the index lists each family; running a family again
under a run id that already has it needs ``--resume`` (two batches must not
write the same run id at the same time).

Headline figures
----------------
A report notebook's last cell calls :func:`record_headline` with a small dict
(``{"accuracy": 0.953, "n_audits": 1210}``). The helper displays it under the
private mimetype ``application/vnd.modqa.headline+json``; :func:`run_unit` reads
it back from the executed notebook, stores it in
``nb.metadata["modqa"]["headline"]`` and in the manifest, and the export drops
the output. This was chosen over a sidecar file named by an environment
variable because it needs no shared file system or per-kernel environment (a
Dask worker only has to return the executed notebook) and cannot race between
parallel kernels.

Parallelism
-----------
:func:`run_unit` is the one function mapped over the units; it takes and
returns plain, picklable dataclasses, so a Dask cluster can map the same
function. Locally, a ``ThreadPoolExecutor`` runs ``workers`` units at once (each
papermill run starts its own kernel process). The kernel's working directory
(the notebook's folder) is given to nbclient directly rather than through
papermill's ``cwd=``, which ``os.chdir``\\ s the whole process and is not
thread-safe.
"""
from __future__ import annotations

import glob
import html
import json
import math
import os
import re
import sys
import threading
import time
import unicodedata
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import schema as S
from .config import NOTEBOOKS_DIR, OUTPUTS_DIR, PARAMS_DIR, PROCESSED_DIR, PROJ_ROOT
from .errors import BatchError, ConfigError, ModqaError
from .locks import folder_lock
from .io import (data_fingerprint, load_processed, load_yaml, processed_fingerprint, write_json_atomic,
                 write_text_atomic)

__all__ = ["HEADLINE_MIME", "FAMILIES", "UnitSpec", "UnitResult", "BatchResult", "record_headline",
           "read_headline", "run_unit", "run_batch", "plan_batch", "load_family_config",
           "unit_slug", "parse_period", "processed_fingerprint", "write_index"]

HEADLINE_MIME = "application/vnd.modqa.headline+json"
STATUSES = ("ok", "failed", "timeout", "pending")
_TIMEOUT_ENAME = "UnitTimeout"

#: How each run family finds its units; what it runs comes from its params YAML.
FAMILIES: dict[str, dict[str, Any]] = {
    "vendor": {"params_file": "vendors.yaml", "section": None, "column": S.VENDOR,
               "unit_parameter": "vendor", "exclude": ("Platform",), "vendor_facing": True},
    "site": {"params_file": "vendors.yaml", "section": "by_site", "column": S.SITE,
             "unit_parameter": "site", "exclude": ("model",), "vendor_facing": True},
    "market": {"params_file": "markets.yaml", "section": None, "column": S.MARKET,
               "unit_parameter": "market", "exclude": (), "vendor_facing": False},
    "consolidated": {"params_file": "consolidated.yaml", "section": None, "column": None,
                     "unit_parameter": None, "exclude": (), "vendor_facing": False},
}
#: held (:func:`modqa_lib.locks.folder_lock`) in the run folder while a batch writes it
LOCK_NAME = ".batch.lock"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# ------------------------------------------------------------------ headline
def _jsonable(obj):
    """Plain-JSON copy of ``obj`` (numpy scalars, NaN -> None, dates -> ISO)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def record_headline(figures: Mapping[str, Any]) -> None:
    """Record a report's headline figures for the batch manifest and index.

    Call it once, in the notebook's last cell, with a small flat dict of
    numbers or short strings. Called more than once, later keys win.

    Parameters
    ----------
    figures : mapping
        E.g. ``{"accuracy": 0.953, "ci_low": 0.94, "n_audits": 1210, "at_risk": 2}``.
        numpy scalars are converted, NaN/inf become null, dates ISO strings.

    Returns
    -------
    None
        (so that a last-line call shows nothing in the report).

    Notes
    -----
    Displays an output with only the mimetype ``application/vnd.modqa.headline+json``;
    JupyterLab shows nothing for it and the HTML export drops it;
    :func:`run_unit` copies it to ``nb.metadata["modqa"]["headline"]`` and the
    manifest. Outside IPython it does nothing.
    """
    if not isinstance(figures, Mapping):
        raise ConfigError(f"record_headline expects a dict of figures, got {type(figures).__name__}")
    clean = _jsonable(dict(figures))
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover
        return None
    if get_ipython() is not None:
        display({HEADLINE_MIME: clean}, raw=True)
    return None


def read_headline(nb) -> dict | None:
    """Headline figures recorded in an executed notebook (NotebookNode or path), or None."""
    import nbformat

    if not hasattr(nb, "cells"):
        nb = nbformat.read(os.fspath(nb), as_version=4)
    found: dict | None = None
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = (out.get("data") or {}).get(HEADLINE_MIME)
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except ValueError:
                    continue
            if isinstance(data, Mapping):
                found = {**(found or {}), **dict(data)}
    if found is None:
        stored = (nb.metadata.get("modqa") or {}).get("headline")
        return dict(stored) if isinstance(stored, Mapping) else None
    return found


# ------------------------------------------------------------------- helpers
def unit_slug(unit: str) -> str:
    """Filesystem-safe folder name of a unit: ``"Vendor B"`` -> ``"vendor-b"``.

    Examples
    --------
    >>> unit_slug("Kuala Lumpur"), unit_slug("São Paulo / BR")
    ('kuala-lumpur', 'sao-paulo-br')
    """
    text = unicodedata.normalize("NFKD", str(unit)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    if not slug:
        import hashlib

        slug = "unit-" + hashlib.sha256(str(unit).encode()).hexdigest()[:8]
    return slug


def parse_period(period: str) -> tuple[str, Any]:
    """Validate a period string.

    Parameters
    ----------
    period : str
        ``"last:N"`` (the last N ISO weeks, N >= 1), ``"all"`` or
        ``"YYYY-MM-DD:YYYY-MM-DD"`` (inclusive).

    Returns
    -------
    tuple
        ``("last", N)``, ``("all", None)`` or ``("range", (start, end))`` with
        ``datetime.date`` values.

    Raises
    ------
    ConfigError
        With the accepted forms.
    """
    p = str(period).strip()
    if p == "all":
        return "all", None
    m = re.fullmatch(r"last:(\d+)", p)
    if m and int(m.group(1)) >= 1:
        return "last", int(m.group(1))
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}):(\d{4}-\d{2}-\d{2})", p)
    if m:
        try:
            start, end = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError as exc:
            raise ConfigError(f"period {period!r}: {exc}") from None
        if start > end:
            raise ConfigError(f"period {period!r}: start is after end")
        return "range", (start, end)
    raise ConfigError(f"period {period!r} not understood: use 'last:N' (N weeks, N >= 1), 'all' "
                      "or 'YYYY-MM-DD:YYYY-MM-DD'")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # pragma: no cover - other drive on Windows
        return Path(path).as_posix()


def _display_path(path: str | os.PathLike) -> str:
    p = Path(path).resolve()
    try:
        return p.relative_to(PROJ_ROOT.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def _one_line(text: Any, limit: int = 300) -> str:
    line = " ".join(str(text).strip().splitlines()[:1]) if str(text).strip() else ""
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


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

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "UnitResult":
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
        head = (f"run {self.run_id} ({self.family}): {len(self.units)} unit(s): "
                + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
        rows = [("unit", "status", "duration", "error")]
        for u in self.units:
            dur = f"{u.duration_s:.1f}s" if u.duration_s is not None else "-"
            status = u.status if u.unit in self.ran else f"{u.status} (kept)"
            rows.append((u.unit, status, dur, _one_line(u.error or "", 120)))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [head] + ["  ".join(r[i].ljust(widths[i]) if i < 3 else r[i] for i in range(4)).rstrip()
                          for r in rows]
        lines += [f"warning: {w}" for w in self.warnings]
        lines.append(f"index: {self.index_path}")
        return "\n".join(lines)

    def raise_for_status(self) -> "BatchResult":
        """Raise :class:`BatchError` naming the failed units, else return self."""
        if not self.ok:
            bad = ", ".join(f"{u.unit} ({u.status})" for u in self.failed) or "no units"
            raise BatchError(f"run {self.run_id}: {bad}; see {self.manifest_path}")
        return self


# ------------------------------------------------------------------ run_unit
def run_unit(spec: UnitSpec) -> UnitResult:
    """Execute one unit's notebook, export it, check it; never raises.

    Steps: papermill executes ``spec.notebook`` into a temporary file in the
    unit folder (kernel ``spec.kernel_name``, working directory the notebook's
    folder, no log or progress output) with a wall-clock budget of
    ``spec.timeout`` seconds shared by all cells; the executed notebook, with
    the headline figures in ``metadata.modqa`` and any error in place, is moved
    to ``<slug>/<stem>.ipynb``. If the run succeeded it is exported to HTML
    (:func:`modqa_lib.export.export_html`), and for vendor-facing reports
    checked with :func:`modqa_lib.privacy.assert_no_foreign_names` before the
    HTML is moved into place: a leak fails the unit and publishes nothing.
    Outputs of an earlier attempt at the unit, and temporary files left by an
    attempt that was killed, are removed first.

    Parameters
    ----------
    spec : UnitSpec

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
    outputs: dict[str, str] = {}
    cwd = spec.cwd or str(Path(spec.notebook).parent)

    def cell_budget(cell) -> int:  # every cell gets what is left of the unit's budget
        return max(1, math.ceil(deadline - time.monotonic()))

    timed_out: dict[str, Any] = {}

    def on_cell_error(cell=None, cell_index=None, execute_reply=None, **_):
        if ((execute_reply or {}).get("content") or {}).get("ename") == _TIMEOUT_ENAME:
            timed_out.setdefault("cell", cell_index)

    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        # a rerun never leaves an older attempt's files behind, nor the temporary files of an
        # attempt that was killed (run_batch never runs one unit twice at the same time)
        for stale in (html_out, nb_out, *unit_dir.glob(f".{glob.escape(stem)}.*.partial.*")):
            stale.unlink(missing_ok=True)
        nb_done = pm.execute_notebook(
            spec.notebook, str(tmp_nb), parameters=dict(spec.parameters),
            kernel_name=spec.kernel_name, progress_bar=False, log_output=False,
            start_timeout=int(max(1, min(spec.start_timeout, spec.timeout))),
            execution_timeout=int(max(1, math.ceil(spec.timeout))), timeout_func=cell_budget,
            interrupt_on_timeout=True, on_cell_error=on_cell_error,
            error_on_timeout={"ename": _TIMEOUT_ENAME, "evalue": f"unit exceeded {spec.timeout:g}s",
                              "traceback": []},
            resources={"metadata": {"path": cwd}},
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        if (nb_done.metadata.get("papermill") or {}).get("exception"):
            # a cell was stopped (e.g. the timeout interrupt was swallowed) without an error output
            status, error = "failed", "execution stopped before the last cell without an error output"
    except PapermillExecutionError as exc:
        status = "failed"
        error = f"{exc.ename}: {_one_line(exc.evalue, 240)} (cell {exc.cell_index}, In [{exc.exec_count}])"
    except TimeoutError as exc:  # nbclient CellTimeoutError: the kernel did not answer the interrupt
        status, error = "timeout", f"{_one_line(exc, 200)}"
    except Exception as exc:  # kernel death, kernel start failure, missing notebook, ...
        name = type(exc).__name__
        status = "timeout" if time.monotonic() >= deadline else "failed"
        error = (f"{name}: the kernel died (a crash, os._exit or out of memory); the executed notebook "
                 "shows the last cell that ran" if name == "DeadKernelError" else f"{name}: {_one_line(exc, 240)}")
    if timed_out:
        status = "timeout"
        error = (f"timed out after {spec.timeout:g}s (unit budget, kernel start included) "
                 f"in cell {timed_out['cell']}; the executed notebook shows where it stopped")

    # keep the executed notebook whatever happened, with the headline in its metadata
    if tmp_nb.exists():
        try:
            nb = nbformat.read(str(tmp_nb), as_version=4)
            headline = read_headline(nb)
            nb.metadata["modqa"] = {"family": spec.family, "unit": spec.unit, "status": status,
                                    "run_id": spec.meta.get("run_id"), "headline": headline,
                                    "error": error}
            nbformat.write(nb, str(tmp_nb))
        except Exception as exc:  # a half-written notebook is still worth keeping
            warnings.append(f"could not annotate executed notebook: {type(exc).__name__}: {_one_line(exc, 120)}")
        os.replace(tmp_nb, nb_out)
        outputs["notebook"] = _rel(nb_out, run_dir)

    if status == "ok":
        try:
            from .export import export_html

            meta = {**spec.meta, "unit": spec.unit}
            if isinstance(headline, Mapping) and headline.get("period"):
                meta["period"] = str(headline["period"])  # the weeks the report covers, not "last:12"
            exp = export_html(nb_out, tmp_html, spec.title, meta=meta,
                              roots=[(str(run_dir), "")])
            warnings.extend(exp.warnings)
            html_bytes = exp.size_bytes
            if spec.privacy:
                from .privacy import assert_no_foreign_names

                p = spec.privacy
                assert_no_foreign_names(tmp_html.read_text(encoding="utf-8"), p["focus_vendor"],
                                        p.get("vendors", ()), p.get("sites", {}), p.get("moderator_ids", {}))
            os.replace(tmp_html, html_out)
            outputs["html"] = _rel(html_out, run_dir)
        except ModqaError as exc:
            status = "failed"
            kind = "privacy check failed" if type(exc).__name__ == "PrivacyLeakError" else "export failed"
            error = f"{kind}: {_one_line(exc, 400)}"
        except Exception as exc:
            status, error = "failed", f"export failed: {type(exc).__name__}: {_one_line(exc, 240)}"
        finally:
            tmp_html.unlink(missing_ok=True)
    tmp_nb.unlink(missing_ok=True)
    finished = _utcnow()
    return UnitResult(family=spec.family, unit=spec.unit, slug=spec.slug, status=status,
                      started=_iso(started), finished=_iso(finished),
                      duration_s=round(time.monotonic() - t0, 2), parameters=dict(spec.parameters),
                      notebook=_display_path(spec.notebook),
                      data_fingerprint=spec.meta.get("data_fingerprint"), outputs=outputs,
                      error=error, headline=headline, warnings=warnings, html_bytes=html_bytes)


# ------------------------------------------------------------------ planning
def load_family_config(by: str, params: str | os.PathLike | Mapping | None = None) -> dict:
    """The params YAML of a run family, with the family's section merged in.

    Parameters
    ----------
    by : {"vendor", "site", "market", "consolidated"}
    params : path-like or mapping, optional
        Default ``params/<family file>``; a mapping is used as the file's content.

    Returns
    -------
    dict
        ``notebook``, ``title``, ``parameters`` (dict), ``units`` (list, dict or
        None), ``exclude_units`` (list), ``source`` (where it came from).
    """
    if by not in FAMILIES:
        raise ConfigError(f"--by {by!r}: choose one of {', '.join(FAMILIES)}")
    fam = FAMILIES[by]
    if isinstance(params, Mapping):
        raw, source = dict(params), "<dict>"
    else:
        p = Path(params) if params else PARAMS_DIR / fam["params_file"]
        raw, source = load_yaml(p), _display_path(p)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    cfg = {k: v for k, v in raw.items() if not str(k).startswith("by_")}
    if fam["section"] and isinstance(raw.get(fam["section"]), Mapping):
        section = dict(raw[fam["section"]])
        cfg["parameters"] = {**(cfg.get("parameters") or {}), **(section.pop("parameters", None) or {})}
        cfg.pop("units", None)
        cfg.pop("exclude_units", None)
        cfg.update(section)
    if not cfg.get("notebook"):
        raise ConfigError(f"{source}: 'notebook:' is missing")
    params_ = cfg.get("parameters") or {}
    if not isinstance(params_, Mapping):
        raise ConfigError(f"{source}: 'parameters:' must be a mapping of notebook parameter to value")
    units = cfg.get("units")
    if units is not None and not isinstance(units, (list, Mapping)):
        raise ConfigError(f"{source}: 'units:' must be a list of units or a mapping unit -> overrides")
    return {"notebook": str(cfg["notebook"]), "title": str(cfg.get("title") or "{unit}"),
            "parameters": dict(params_), "units": units,
            "exclude_units": list(cfg.get("exclude_units", fam["exclude"]) or []), "source": source}


def _data_context(processed: Path) -> "Any":
    try:
        return load_processed(processed, tables=["decisions"])["decisions"]
    except ModqaError:
        return None


def _privacy_context(decisions, focus_vendor: str) -> dict:
    cols = [c for c in (S.VENDOR, S.SITE, S.MODERATOR_ID) if c in decisions.columns]
    d = decisions[cols].dropna(subset=[S.VENDOR])
    vendors = sorted(d[S.VENDOR].astype(str).unique())

    def owner(col: str) -> dict[str, str]:
        if col not in d.columns:
            return {}
        pairs = d[[col, S.VENDOR]].dropna().astype(str)
        top = pairs.groupby([col, S.VENDOR]).size().reset_index(name="n") \
                   .sort_values([col, "n"], ascending=[True, False]).drop_duplicates(col)
        return dict(zip(top[col], top[S.VENDOR]))

    return {"focus_vendor": focus_vendor, "vendors": vendors, "sites": owner(S.SITE),
            "moderator_ids": owner(S.MODERATOR_ID)}


def _unparsed_hint(nb_path: Path, names: list[str]) -> str:
    """Explain papermill's rule when a name is in the parameters cell but was not parsed."""
    import nbformat

    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except Exception:
        return ""
    src = "\n".join(c.source for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    bad = [n for n in names for line in src.splitlines()
           if re.match(rf"\s*{re.escape(n)}\s*[:=]", line) and line.count("=") > 1]
    if not bad:
        return ""
    return (f". {', '.join(sorted(set(bad)))} is in the parameters cell, but papermill skips any line "
            "with more than one '=' (e.g. an '=' in the trailing comment): remove it")


def plan_batch(by: str, only: Iterable[str] | None = None, period: str | None = None,
               run_id: str | None = None, timeout: float = 900,
               outputs: str | os.PathLike | None = None, processed: str | os.PathLike | None = None,
               *, units: Iterable[str] | None = None, params: str | os.PathLike | Mapping | None = None,
               notebooks_dir: str | os.PathLike | None = None, kernel_name: str = "python3"
               ) -> tuple[list[UnitSpec], dict]:
    """Build the :class:`UnitSpec` list of a batch without running anything.

    Validates the family, the params YAML (parameter keys against the
    notebook's parameters), the period, ``only`` against the valid units.
    Parameters as in :func:`run_batch`.

    Returns
    -------
    specs : list of UnitSpec
    info : dict
        ``run_id``, ``run_dir``, ``notebook``, ``period``, ``data_fingerprint``,
        ``params_source``, ``warnings``.
    """
    import papermill as pm

    cfg = load_family_config(by, params)
    fam = FAMILIES[by]
    outputs = Path(outputs or OUTPUTS_DIR)
    processed = Path(processed or PROCESSED_DIR)
    warnings: list[str] = []

    nb_path = Path(cfg["notebook"])
    if not nb_path.is_absolute():
        nb_path = Path(notebooks_dir or NOTEBOOKS_DIR) / nb_path
    if not nb_path.exists():
        raise ConfigError(f"{cfg['source']}: notebook {_display_path(nb_path)} not found")
    try:
        declared = pm.inspect_notebook(str(nb_path))
    except Exception as exc:
        raise ConfigError(f"{_display_path(nb_path)}: cannot read its parameters "
                          f"({type(exc).__name__}: {_one_line(exc, 160)})") from None

    base = dict(cfg["parameters"])
    period = period if period is not None else base.get("period", "last:12")
    parse_period(period)
    if "period" in declared or "period" in base:
        base["period"] = period
    if "processed_dir" in declared and processed.resolve() != PROCESSED_DIR.resolve():
        base["processed_dir"] = str(processed.resolve())

    decisions = _data_context(processed) if (units is None or fam["vendor_facing"]) else None
    # --- the unit list
    col = fam["column"]
    overrides: dict[str, dict] = {}
    if isinstance(cfg["units"], Mapping):
        overrides = {str(k): dict(v or {}) for k, v in cfg["units"].items()}
    if col is None:
        all_units = ["consolidated"]
    elif units is not None:
        all_units = [str(u) for u in units]
    elif isinstance(cfg["units"], list):
        all_units = [str(u) for u in cfg["units"]]
    else:
        if decisions is None:
            raise ConfigError(f"no processed decisions in {_display_path(processed)} to find the "
                              f"{by} units: run 'modqa ingest' first (make run does it)")
        excl = set(cfg["exclude_units"])
        all_units = sorted({str(v) for v in decisions[col].dropna().unique()} - excl)
        missing = sorted(set(overrides) - set(all_units) - excl)
        if missing:
            warnings.append(f"{cfg['source']}: overrides for unit(s) not in the data ignored: "
                            + ", ".join(missing))
    if not all_units:
        raise ConfigError(f"no {by} units found in {_display_path(processed)}")
    if only:
        wanted = [str(u).strip() for u in only if str(u).strip()]
        unknown = [u for u in wanted if u not in all_units]
        if unknown:
            raise ConfigError(f"--only: unknown {by} unit(s) {', '.join(map(repr, unknown))}; "
                              f"valid: {', '.join(all_units)}")
        all_units = [u for u in all_units if u in wanted]

    # --- run id
    if run_id is None:
        run_id = f"{_utcnow().strftime('%Y%m%dT%H%M%SZ')}-{by}"
    if not _RUN_ID.match(str(run_id)):
        raise ConfigError(f"--run-id {run_id!r}: use letters, digits, '.', '_' and '-' only")
    run_dir = outputs / str(run_id)
    fingerprint = processed_fingerprint(processed)

    site_vendor: dict[str, str] = {}
    if by == "site":
        if decisions is not None and S.SITE in decisions.columns:
            site_vendor = _privacy_context(decisions, "")["sites"]  # site -> its (main) vendor
        elif (PARAMS_DIR / "sites.yaml").exists():  # sites.yaml also maps site -> vendor
            raw = load_yaml(PARAMS_DIR / "sites.yaml").get("sites") or {}
            site_vendor = {str(k): str(v.get("vendor")) for k, v in raw.items() if isinstance(v, Mapping)}

    base_privacy = _privacy_context(decisions, "") if (fam["vendor_facing"] and decisions is not None) else None
    specs: list[UnitSpec] = []
    slugs: set[str] = set()
    for u in all_units:
        p = dict(base)
        if fam["unit_parameter"]:
            p[fam["unit_parameter"]] = u
        if by == "site":
            if u not in site_vendor:
                raise ConfigError(f"site {u!r}: its vendor is unknown (not in the decisions or params/sites.yaml)")
            p["vendor"] = site_vendor[u]
        p.update(overrides.get(u, {}))
        if "period" in overrides.get(u, {}):
            parse_period(p["period"])
        unknown = sorted(set(p) - set(declared))
        if unknown:
            raise ConfigError(f"{cfg['source']}: parameter(s) {', '.join(unknown)} are not parameters of "
                              f"{nb_path.name} (it declares: {', '.join(declared) or 'none'}); "
                              "keys must match the notebook's parameters cell exactly"
                              + _unparsed_hint(nb_path, unknown))
        slug = unit_slug(u)
        if slug in slugs:
            import hashlib

            slug = f"{slug}-{hashlib.sha256(u.encode()).hexdigest()[:6]}"
        slugs.add(slug)
        privacy = None
        if fam["vendor_facing"]:
            if base_privacy is not None:
                privacy = {**base_privacy, "focus_vendor": p.get("vendor", u)}
            elif not any("privacy check" in w for w in warnings):
                warnings.append("privacy check reduced: no processed decisions to list other vendors' "
                                "sites and moderators")
        try:
            title = cfg["title"].format(unit=u, **p)
        except (KeyError, IndexError, ValueError):
            title = f"{cfg['title']} {u}"
        specs.append(UnitSpec(family=by, unit=u, slug=slug, notebook=str(nb_path.resolve()), parameters=p,
                              run_dir=str(run_dir), title=title, timeout=float(timeout),
                              meta={"period": p.get("period", period), "data_fingerprint": fingerprint,
                                    "run_id": str(run_id)},
                              privacy=privacy, kernel_name=kernel_name))
    info = {"run_id": str(run_id), "run_dir": run_dir, "notebook": _display_path(nb_path), "period": period,
            "data_fingerprint": fingerprint, "params_source": cfg["source"], "warnings": warnings}
    return specs, info


# ------------------------------------------------------------------ manifest
def _read_manifest(run_dir: Path) -> dict | None:
    p = run_dir / "manifest.json"
    if not p.exists():
        return None
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p}: unreadable manifest ({exc}); start a new run id") from None
    if not isinstance(m, dict) or not isinstance(m.get("units"), dict):
        raise ConfigError(f"{p}: not a modqa batch manifest")
    return m


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _headline_cell(head: Mapping[str, Any], esc) -> str:
    """Headline figures for the index: the accuracy as "95.0% (95% CI 94.1–95.9%; n = 2,647)", then the rest."""
    head = dict(head)
    parts = []
    acc, lo, hi, n = (head.get(k) for k in ("accuracy", "ci_low", "ci_high", "n"))
    if all(isinstance(v, (int, float)) for v in (acc, lo, hi, n)):
        parts.append(f"accuracy <b>{acc:.1%}</b> (95% CI {lo:.1%}–{hi:.1%}; n = {int(n):,})")
        for k in ("accuracy", "ci_low", "ci_high", "n", "unit", "period"):
            head.pop(k, None)
    crit, clo, chi = (head.get(k) for k in ("critical_rate", "critical_ci_low", "critical_ci_high"))
    if all(isinstance(v, (int, float)) for v in (crit, clo, chi)):
        parts.append(f"critical-error rate <b>{crit:.2%}</b> (95% CI {clo:.2%}–{chi:.2%})")
        for k in ("critical_rate", "critical_ci_low", "critical_ci_high"):
            head.pop(k, None)
    for k, v in head.items():
        shown = f"{v:.2%}" if isinstance(v, float) and ("rate" in k or "precision" in k or "recall" in k) else _fmt(v)
        parts.append(f"{esc(k.replace('_', ' '))} <b>{esc(shown)}</b>")
    return " · ".join(parts) or "—"


def write_index(run_dir: str | os.PathLike, manifest: Mapping[str, Any]) -> Path:
    """Write ``index.html`` of a run: every unit with status, headline and a relative link.

    Everything is escaped; the page has no script and loads nothing.
    """
    from .export import CSP, scrub_paths

    run_dir = Path(run_dir)
    esc = lambda v: html.escape("" if v is None else str(v), quote=True)  # noqa: E731
    sections = []
    units = list(manifest.get("units", {}).values())
    for fam in [f for f in FAMILIES if any(u.get("family") == f for u in units)]:
        finfo = manifest.get("families", {}).get(fam, {})
        rows = []
        for u in [u for u in units if u.get("family") == fam]:
            outs = u.get("outputs") or {}
            link = outs.get("html") if u.get("status") == "ok" else None
            target, label = (link, "report") if link else (outs.get("notebook"), "executed notebook")
            href = (f'<a href="{esc(urllib.parse.quote(target))}">{esc(label)}</a>' if target else "—")
            fig = _headline_cell(u.get("headline") or {}, esc)
            dur = f"{u['duration_s']:.1f}s" if isinstance(u.get("duration_s"), (int, float)) else "—"
            err = esc(scrub_paths(u.get("error") or ""))
            rows.append(f'<tr class="st-{esc(u.get("status"))}"><td>{esc(u.get("unit"))}</td>'
                        f'<td class="status">{esc(u.get("status"))}</td><td>{fig}</td><td>{dur}</td>'
                        f"<td>{href}</td><td class=\"err\">{err}</td></tr>")
        sections.append(
            f"<section><h2>{esc(fam)}</h2><p class=\"meta\">notebook "
            f"{esc(scrub_paths(str(finfo.get('notebook'))))} · "
            f"period {esc(finfo.get('period'))} · data {esc(finfo.get('data_fingerprint') or '—')}</p>"
            "<table><thead><tr><th>Unit</th><th>Status</th><th>Headline</th><th>Duration</th>"
            f"<th>Link</th><th>Error</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>")
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">
<title>modqa run {esc(manifest.get('run_id'))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
.status {{ font-weight: 600; }} .st-ok .status {{ color: #1a7f37; }}
.st-failed .status, .st-timeout .status, .st-pending .status {{ color: #b42318; }}
.err {{ font-family: monospace; font-size: 0.85em; color: #555; max-width: 40em; }}
.meta {{ color: #555; font-size: 0.9em; }}
</style></head>
<body><h1>modqa run {esc(manifest.get('run_id'))}</h1>
<p class="meta">updated {esc(manifest.get('updated'))} · internal page: it names every vendor</p>
{''.join(sections)}
</body></html>
"""
    return write_text_atomic(doc, run_dir / "index.html")


# ------------------------------------------------------------------ run_batch
def run_batch(by: str, only: Iterable[str] | None = None, workers: int | None = None,
              period: str | None = None, run_id: str | None = None, resume: bool = False,
              timeout: float = 900, outputs: str | os.PathLike | None = None,
              processed: str | os.PathLike | None = None, *, units: Iterable[str] | None = None,
              params: str | os.PathLike | Mapping | None = None,
              notebooks_dir: str | os.PathLike | None = None, progress: bool = True,
              kernel_name: str = "python3") -> BatchResult:
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
        with folder_lock(run_dir, LOCK_NAME, "another batch writing this run",
                         "wait for it to finish, or choose another --run-id"):
            result = _run_batch_locked(by, only, n_workers, period, str(run_id), resume, timeout, outputs_p,
                                       processed, units, params, notebooks_dir, progress, kernel_name)
        ok = True
        return result
    finally:
        if created and not ok:  # a run that failed before writing anything leaves no folder
            try:
                run_dir.rmdir()
            except OSError:
                pass


def _run_batch_locked(by, only, n_workers, period, run_id, resume, timeout, outputs_p, processed,
                      units, params, notebooks_dir, progress, kernel_name) -> BatchResult:
    """:func:`run_batch` once the run's lock is held."""
    manifest = _read_manifest(outputs_p / run_id)
    if resume:
        if manifest is None:
            raise ConfigError(f"--resume: no manifest in {_display_path(outputs_p / str(run_id))}")
        fam_info = manifest.get("families", {}).get(by)
        if fam_info is None:
            raise ConfigError(f"--resume: run {run_id} has no {by} units "
                              f"(it has: {', '.join(manifest.get('families', {})) or 'none'})")
        if period is None:
            period = fam_info.get("period")
        elif period != fam_info.get("period"):
            raise ConfigError(f"--resume: run {run_id} was made with period {fam_info.get('period')!r}, "
                              f"not {period!r}; resume with the same period or start a new run")
        if units is None and not only:
            units = [u["unit"] for u in manifest["units"].values() if u.get("family") == by]
    elif manifest is not None and by in manifest.get("families", {}):
        raise ConfigError(f"run {run_id} already has {by} units: use --resume to rerun failed ones, "
                          "or another --run-id")

    specs, info = plan_batch(by, only=only, period=period, run_id=run_id, timeout=timeout,
                             outputs=outputs_p, processed=processed, units=units, params=params,
                             notebooks_dir=notebooks_dir, kernel_name=kernel_name)
    run_dir: Path = info["run_dir"]
    warnings = list(info["warnings"])
    now = _iso(_utcnow())
    manifest = manifest or {"run_id": info["run_id"], "created": now, "units": {}, "families": {}}
    manifest.setdefault("families", {})
    key = lambda u: f"{by}/{u}"  # noqa: E731

    # slugs must not collide with another family's folders in a shared run
    taken = {e.get("slug"): k for k, e in manifest["units"].items() if e.get("family") != by}
    for s in specs:
        if s.slug in taken:
            s.slug = f"{by}-{s.slug}"

    todo: list[UnitSpec] = []
    for s in specs:
        prev = manifest["units"].get(key(s.unit))
        if prev and prev.get("slug"):
            s.slug = prev["slug"]  # a rerun writes where the first attempt did
        if resume and prev and prev.get("status") == "ok" and all(
                (run_dir / rel).exists() for rel in (prev.get("outputs") or {}).values()) \
                and {"notebook", "html"} <= set(prev.get("outputs") or {}):
            continue
        todo.append(s)
    if resume and manifest["families"][by].get("data_fingerprint") != info["data_fingerprint"] and todo:
        warnings.append("processed data changed since this run started: kept and rerun units "
                        "were computed from different data")

    fam_entry = manifest["families"].setdefault(by, {})
    fam_entry.update({"notebook": info["notebook"], "params": info["params_source"], "period": info["period"],
                      "data_fingerprint": fam_entry.get("data_fingerprint", info["data_fingerprint"])
                      if resume else info["data_fingerprint"], "last_started": now})
    for s in todo:
        manifest["units"][key(s.unit)] = UnitResult(
            family=by, unit=s.unit, slug=s.slug, status="pending", parameters=s.parameters,
            notebook=info["notebook"], data_fingerprint=info["data_fingerprint"]).to_dict()
    lock = threading.Lock()
    from .export import make_readable

    def save() -> None:
        manifest["updated"] = _iso(_utcnow())
        make_readable(write_json_atomic(manifest, run_dir / "manifest.json"))
        make_readable(write_index(run_dir, manifest))

    run_dir.mkdir(parents=True, exist_ok=True)
    save()
    if todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=f"{by} reports", unit="report", file=sys.stderr,
                   disable=not progress, leave=True)
        pool = ThreadPoolExecutor(max_workers=min(n_workers, len(todo)), thread_name_prefix="modqa-unit")
        try:
            futures = {pool.submit(run_unit, s): s for s in todo}
            for fut in as_completed(futures):
                s = futures[fut]
                try:
                    res = fut.result()
                except BaseException as exc:  # run_unit catches everything; belt and braces
                    res = UnitResult(family=by, unit=s.unit, slug=s.slug, status="failed",
                                     parameters=s.parameters, notebook=info["notebook"],
                                     error=f"{type(exc).__name__}: {_one_line(exc)}")
                with lock:
                    manifest["units"][key(s.unit)] = res.to_dict()
                    save()
                bar.set_postfix_str(f"{s.unit}: {res.status}", refresh=False)
                bar.update(1)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
            bar.close()
    manifest["families"][by]["last_finished"] = _iso(_utcnow())
    save()
    order = {s.unit: i for i, s in enumerate(specs)}
    fam_units = [UnitResult.from_dict(e) for e in manifest["units"].values() if e.get("family") == by]
    fam_units.sort(key=lambda u: (order.get(u.unit, len(order)), u.unit))
    if only or units is not None:
        fam_units = [u for u in fam_units if u.unit in order]
    return BatchResult(run_id=info["run_id"], run_dir=run_dir, family=by, units=fam_units,
                       ran=[s.unit for s in todo], warnings=warnings)
