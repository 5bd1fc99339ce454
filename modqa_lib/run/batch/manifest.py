"""The run manifest and the run's index.html."""

from __future__ import annotations

import html
import json
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modqa_lib.contract.checks import check_alpha
from modqa_lib.data.io import write_text_atomic
from modqa_lib.errors import ConfigError
from modqa_lib.report.format import interval_text, percent, rate_text
from modqa_lib.run.batch._common import FAMILIES


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


def _headline_cell(head: Mapping[str, Any], esc, alpha: float | None = None) -> str:
    """Headline figures for the index: the accuracy as "95.0% (95% CI 94.1%–95.9%; n = 2,647)", then the rest.

    The interval's level comes from the alpha the headline recorded (``report.headline_figures(alpha=)``),
    else the unit's ``alpha`` parameter, else 0.05 (the notebooks' default).
    """
    head = dict(head)
    recorded = head.pop("alpha", None)
    alpha = check_alpha(recorded if recorded is not None else alpha if alpha is not None else 0.05)
    parts = []
    acc, lo, hi, n = (head.get(k) for k in ("accuracy", "ci_low", "ci_high", "n"))
    if all(isinstance(v, (int, float)) for v in (acc, lo, hi, n)):
        est, rest = rate_text(acc, lo, hi, n, alpha).split(" ", 1)
        parts.append(f"accuracy <b>{esc(est)}</b> {esc(rest)}")
        for k in ("accuracy", "ci_low", "ci_high", "n", "unit", "period"):
            head.pop(k, None)
    crit, clo, chi = (head.get(k) for k in ("critical_rate", "critical_ci_low", "critical_ci_high"))
    if all(isinstance(v, (int, float)) for v in (crit, clo, chi)):
        est, rest = interval_text(crit, clo, chi, alpha=alpha).split(" ", 1)
        parts.append(f"critical-error rate <b>{esc(est)}</b> {esc(rest)}")
        for k in ("critical_rate", "critical_ci_low", "critical_ci_high"):
            head.pop(k, None)
    for k, v in head.items():
        is_share = isinstance(v, float) and (any(w in k for w in ("rate", "precision", "recall")) or k == "target")
        shown = percent(v) if is_share else _fmt(v)
        parts.append(f"{esc(k.replace('_', ' '))} <b>{esc(shown)}</b>")
    return " · ".join(parts) or "—"


#: how the index names each family's report in its link text ("Vendor B scorecard", not "report")
_REPORT_NOUN = {
    "vendor": "{unit} scorecard",
    "site": "{unit} site scorecard",
    "market": "Market {unit} report",
    "consolidated": "Consolidated report",
}


def write_index(run_dir: str | os.PathLike, manifest: Mapping[str, Any]) -> Path:
    """Write ``index.html`` of a run: every unit with status, headline and a relative link.

    Everything is escaped; the page has no script and loads nothing.
    """
    from modqa_lib.report.export import CSP, scrub_paths

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
            name = _REPORT_NOUN.get(fam, "{unit} report").format(unit=u.get("unit"))
            target, label = (link, name) if link else (outs.get("notebook"), f"{name}: executed notebook")
            href = f'<a href="{esc(urllib.parse.quote(target))}">{esc(label)}</a>' if target else "—"
            fig = _headline_cell(u.get("headline") or {}, esc, (u.get("parameters") or {}).get("alpha"))
            dur = f"{u['duration_s']:.1f}s" if isinstance(u.get("duration_s"), (int, float)) else "—"
            err = esc(scrub_paths(u.get("error") or ""))
            rows.append(
                f'<tr class="st-{esc(u.get("status"))}"><td data-label="Unit">{esc(u.get("unit"))}</td>'
                f'<td class="status" data-label="Status">{esc(u.get("status"))}</td><td data-label="Headline">{fig}</td>'
                f'<td data-label="Duration">{dur}</td><td data-label="Link">{href}</td>'
                f'<td class="err" data-label="Error">{err}</td></tr>'
            )
        sections.append(
            f'<section><h2>{esc(fam)}</h2><p class="meta">notebook '
            f"{esc(scrub_paths(str(finfo.get('notebook'))))} · "
            f"period {esc(finfo.get('period'))} · data {esc(finfo.get('data_fingerprint') or '—')}</p>"
            f"<table><caption>{esc(fam)} reports: status, headline figures and links</caption>"
            "<thead><tr><th>Unit</th><th>Status</th><th>Headline</th><th>Duration</th>"
            f"<th>Link</th><th>Error</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
        )
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">
<title>modqa run {esc(manifest.get("run_id"))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
.status {{ font-weight: 600; }} .st-ok .status {{ color: #1a7f37; }}
.st-failed .status, .st-timeout .status, .st-pending .status {{ color: #b42318; }}
.err {{ font-family: monospace; font-size: 0.85em; color: #555; max-width: 40em; }}
.meta {{ color: #555; font-size: 0.9em; }}
@media (max-width: 640px) {{
  table, tbody, tr, td {{ display: block; }} thead {{ position: absolute; clip: rect(0 0 0 0); width: 1px; height: 1px; overflow: hidden; }}
  tr {{ border: 1px solid #ccc; border-radius: 4px; margin-bottom: 0.6em; }} td {{ border: none; }}
  td::before {{ content: attr(data-label); font-weight: 600; display: block; color: #555; font-size: 0.85em; }}
  caption {{ display: block; text-align: left; font-weight: 600; }}
}}
</style></head>
<body><header><h1>modqa run {esc(manifest.get("run_id"))}</h1>
<p class="meta">updated {esc(manifest.get("updated"))} · internal page: it names every vendor</p></header>
<main>{"".join(sections)}</main>
</body></html>
"""
    return write_text_atomic(doc, run_dir / "index.html")
