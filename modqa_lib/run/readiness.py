"""``modqa readiness``: check a queue before go-live and write the checklist for the launch meeting.

Loads the processed data (roster, training, audits) and ``params/golive.yaml``,
runs :func:`modqa_lib.stats.readiness.readiness_checklist`, prints the
checklist and writes it as a small, self-contained HTML page (escaped text, no
scripts, mobile viewport) to ``outputs/readiness/<queue>.html``.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from modqa_lib.config import OUTPUTS_DIR
from modqa_lib.data import io
from modqa_lib.errors import ConfigError
from modqa_lib.stats.readiness import golive_config, readiness_checklist

__all__ = ["ReadinessResult", "render_html", "run_readiness"]


@dataclass(frozen=True)
class ReadinessResult:
    """The checklist, whether the queue is ready, and where the HTML went."""

    queue: str
    checklist: pd.DataFrame
    ready: bool
    html_path: Path

    def text(self) -> str:
        """The checklist as plain text, one line per check, then the verdict."""
        lines = [f"Go-live readiness: {self.queue}"]
        for r in self.checklist.itertuples(index=False):
            lines.append(f"  [{r.status.upper():4}] {r.check}: {r.evidence}")
        lines.append(f"  => {'READY' if self.ready else 'NOT READY'}; checklist: {self.html_path}")
        return "\n".join(lines)


def render_html(queue: str, checklist: pd.DataFrame, generated: str) -> str:
    """The checklist as a self-contained HTML page (every value escaped).

    Parameters
    ----------
    queue : str
    checklist : DataFrame
        ``check``, ``status``, ``evidence``.
    generated : str
        Timestamp text shown in the header.

    Returns
    -------
    str
    """
    ready = bool((checklist["status"] == "pass").all())
    rows = "\n".join(
        f'<tr class="{html.escape(r.status)}"><th scope="row">{html.escape(r.check)}</th>'
        f"<td>{'✓ pass' if r.status == 'pass' else '✗ fail'}</td><td>{html.escape(str(r.evidence))}</td></tr>"
        for r in checklist.itertuples(index=False)
    )
    q = html.escape(queue)
    verdict = "Ready to go live" if ready else "Not ready to go live"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Go-live readiness: {q}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1rem;max-width:60rem;line-height:1.4}}
table{{border-collapse:collapse;width:100%}}th,td{{border-bottom:1px solid #ccc;padding:.4rem;text-align:left;vertical-align:top}}
tr.fail td:nth-child(2){{color:#a00;font-weight:bold}}tr.pass td:nth-child(2){{color:#060}}
.verdict{{font-size:1.3rem;font-weight:bold}}
@media (max-width:600px){{table,tbody,tr,th,td{{display:block}}tr{{margin-bottom:.8rem}}}}
</style></head>
<body><main>
<h1>Go-live readiness: {q}</h1>
<p class="verdict">{verdict}</p>
<p>Generated {html.escape(generated)}. Quality is judged by the lower end of the 95% confidence interval.</p>
<table><caption>Checks before launch, with their evidence</caption>
<thead><tr><th scope="col">check</th><th scope="col">status</th><th scope="col">evidence</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</main></body></html>
"""


def run_readiness(
    queue: str,
    vendor: str | None = None,
    processed: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    golive: str | os.PathLike | None = None,
) -> ReadinessResult:
    """Check one queue's go-live readiness; write ``<out>/readiness/<queue>.html``.

    Parameters
    ----------
    queue : str
        A queue configured in ``params/golive.yaml``.
    vendor : str, optional
        When given, must be the queue's vendor (a guard against checking the wrong launch).
    processed : path-like, optional
        Processed data folder (default ``data/processed``); it must hold ``roster``
        and ``training``.
    out : path-like, optional
        Outputs folder (default ``outputs/``).
    golive : path-like, optional
        Go-live configuration (default ``params/golive.yaml``).

    Returns
    -------
    ReadinessResult

    Raises
    ------
    ConfigError
        Unknown queue, wrong vendor, bad configuration, or no roster/training data.
    """
    cfg = golive_config(io.load_yaml(golive or "golive"), queue)
    if vendor is not None and vendor != cfg["vendor"]:
        raise ConfigError(f"params/golive.yaml: queue {queue!r} is run by {cfg['vendor']!r}, not {vendor!r}")
    snap = io.processed_snapshot(processed)
    tables = io.load_processed(snap)
    for name in ("roster", "training"):
        if name not in tables:
            raise ConfigError(
                f"{name}: table missing from the processed data (give {name}.csv in data/raw and run modqa ingest)"
            )
    audits = io.audited_decisions(tables)
    vendors = sorted(tables["decisions"]["vendor"].astype(str).unique())
    checklist = readiness_checklist(
        queue, cfg, tables["roster"], tables["training"], audits, io.load_targets(), report_units={"vendors": vendors}
    )
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", queue).strip("-") or "queue"
    path = Path(out or OUTPUTS_DIR) / "readiness" / f"{slug}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    io.write_text_atomic(render_html(queue, checklist, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")), path)
    return ReadinessResult(queue, checklist, bool(checklist.attrs["ready"]), path)
