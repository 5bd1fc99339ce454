"""The second half of a unit's run: check, export and publish its executed notebook (no kernel needed).

:func:`publish_unit` takes what :func:`~modqa_lib.run.batch.units.execute_unit`
left in the unit folder: it writes the headline and status into the executed
notebook, scrubs machine paths, applies the privacy gate to the notebook and
(when the run was ok) to its HTML export, and moves both into place. A local
batch runs it beside the worker's next notebook, so a kernel never waits for an
export.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modqa_lib.errors import ModqaError
from modqa_lib.report.notebook_headline import read_headline
from modqa_lib.run.batch._common import _display_path, _iso, _one_line, _rel, _utcnow
from modqa_lib.run.batch.units import ExecutedUnit, UnitResult, UnitSpec

__all__ = ["private_dir", "publish_unit"]


def publish_unit(ex: ExecutedUnit) -> UnitResult:
    """Check, export and publish an executed unit; never raises.

    The executed notebook is kept whatever happened, with the headline, status
    and error in ``metadata.modqa`` (a notebook that names another vendor goes
    to :func:`private_dir` instead). An ok run is exported to HTML and, for a
    vendor-facing report, passes the privacy gate before the HTML is moved into
    place; a leak fails the unit and publishes nothing.

    Parameters
    ----------
    ex : ExecutedUnit
        From :func:`~modqa_lib.run.batch.units.execute_unit`.

    Returns
    -------
    UnitResult
    """
    import nbformat

    spec, run_dir = ex.spec, Path(ex.spec.run_dir)
    nb_out, html_out = ex.unit_dir / f"{ex.stem}.ipynb", ex.unit_dir / f"{ex.stem}.html"
    tmp_nb, tmp_html = ex.partial("ipynb"), ex.partial("html")
    status, error, warnings, timings = ex.status, ex.error, list(ex.warnings), dict(ex.timings)
    html_bytes, headline, withheld = None, None, False
    outputs: dict[str, str] = {}
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
            problem, withheld = _check_executed(nb, spec, run_dir, ex.cwd, status == "ok")
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
    ex.partial("stub.ipynb").unlink(missing_ok=True)
    return UnitResult(
        family=spec.family,
        unit=spec.unit,
        slug=spec.slug,
        status=status,
        started=ex.started,
        finished=_iso(_utcnow()),
        duration_s=round(time.monotonic() - ex.t0, 2),
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
