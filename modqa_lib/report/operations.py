"""The operations section of the reports: inputs from a scope, and display tables.

Tidy frames from :mod:`modqa_lib.stats.operations` keep their identifier-safe
columns; these functions choose the columns a reader needs and name them in
words. Intervals are shown next to every median, share and cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from modqa_lib.config import PARAMS_DIR
from modqa_lib.contract import schema as S
from modqa_lib.data import io
from modqa_lib.data.scope import Scope
from modqa_lib.report.privacy import pseudonymise
from modqa_lib.report.tables import show

__all__ = [
    "OperationsInputs",
    "cost_display",
    "handle_time_display",
    "operations_inputs",
    "plain_findings",
    "productivity_display",
    "pseudonymised_decisions",
    "sla_display",
    "sla_peaks_display",
    "speed_quality_display",
]


@dataclass
class OperationsInputs:
    """What the operations section needs for one report scope.

    Attributes
    ----------
    decisions : DataFrame
        Every decision of the scope's units in the period (the log, not a sample).
    human : DataFrame
        Those decided by people (with a handle time).
    targets : dict
        The ``operations`` section of ``params/targets.yaml``.
    accuracy_target : float
        The default accuracy target (for the speed-quality chart).
    rates : dict
        ``params/rates.yaml`` (empty when absent).
    """

    decisions: pd.DataFrame
    human: pd.DataFrame
    targets: dict = field(default_factory=dict)
    accuracy_target: float = 0.95
    rates: dict = field(default_factory=dict)

    @property
    def has_queue_times(self) -> bool:
        """Whether ``reported_at`` is filled for any decision (SLA tables need it)."""
        return S.REPORTED_AT in self.decisions and bool(self.decisions[S.REPORTED_AT].notna().any())


def operations_inputs(scope: Scope) -> OperationsInputs:
    """Decisions of the scope (its filters and weeks), operations targets and contract rates.

    Parameters
    ----------
    scope : Scope
        From :func:`modqa_lib.data.scope.load_scope`.

    Returns
    -------
    OperationsInputs
    """
    dec = scope.table("decisions")
    for col, value in scope.filters.items():
        if value not in (None, "", "ALL") and col in dec:
            dec = dec[dec[col] == value]
    at = pd.to_datetime(dec[S.DECIDED_AT], utc=True).dt.tz_localize(None)
    dec = dec[(at >= scope.start) & (at < scope.end + pd.Timedelta(days=7))]
    targets = io.load_targets()
    rates_path = PARAMS_DIR / "rates.yaml"
    rates = io.load_yaml(rates_path) if rates_path.exists() else {}
    acc = float((targets.get("accuracy") or {}).get("default", 0.95))
    return OperationsInputs(
        decisions=dec,
        human=dec[dec[S.HANDLE_TIME_S].notna()],
        targets=dict(targets.get("operations") or {}),
        accuracy_target=acc,
        rates=rates,
    )


def pseudonymised_decisions(decisions: pd.DataFrame, processed_dir=None) -> pd.DataFrame:
    """Decisions with moderator ids replaced by the same keyed pseudonyms the audits get in vendor reports.

    Parameters
    ----------
    decisions : DataFrame
        Decisions with a ``moderator_id`` column.
    processed_dir : path-like, optional
        The processed data the report read (``scope.processed_dir``): its pseudonym key is the
        one :func:`modqa_lib.report.tables.vendor_audits` uses, so both tables' pseudonyms match.

    Returns
    -------
    DataFrame
        A copy with ``moderator_id`` replaced by keyed pseudonyms.
    """
    out = decisions.copy()
    out[S.MODERATOR_ID] = pseudonymise(out[S.MODERATOR_ID], processed_dir=processed_dir)
    return out


_HT = {
    "n": "decisions",
    "median_s": "median (s)",
    "median_ci_low": "median CI low",
    "median_ci_high": "median CI high",
    "p90_s": "p90 (s)",
    "p90_ci_low": "p90 CI low",
    "p90_ci_high": "p90 CI high",
    "aht_target_s": "ceiling (s)",
    "aht_status": "status",
}


def handle_time_display(table: pd.DataFrame, by: list[str] | str, caption: str | None = None):
    """Median and p90 handle time with their 95% intervals and the ceiling status."""
    by = [by] if isinstance(by, str) else list(by)
    cols = [*by, *[c for c in _HT if c in table.columns]]
    return show(table, columns=cols, rename=_HT, pct=[], caption=caption)


def sla_display(table: pd.DataFrame, by: list[str] | str, caption: str | None = None):
    """Share within SLA with its Wilson interval, the SLA and the target share."""
    by = [by] if isinstance(by, str) else list(by)
    cols = [*by, "n", "within", "share", "ci_low", "ci_high", "sla_minutes", "target", "status"]
    rename = {"n": "items", "within": "within SLA", "share": "share within SLA", "sla_minutes": "SLA (min)"}
    return show(table, columns=cols, rename=rename, pct=["share", "ci_low", "ci_high", "target"], caption=caption)


def sla_peaks_display(table: pd.DataFrame, caption: str | None = None):
    """Only the day-and-hour blocks significantly below the target share."""
    flagged = table[table["flag"]] if "flag" in table else table
    groups = [c for c in table.columns if c not in _PEAK_COLS]
    cols = [*groups, "day", "hour", "n", "share", "ci_low", "ci_high", "target", "q_value"]
    return show(
        flagged,
        columns=cols,
        rename={"hour": "from hour", "n": "items", "share": "share within SLA"},
        pct=["share", "ci_low", "ci_high", "target"],
        caption=caption,
        empty="No day-and-hour block is significantly below the SLA target.",
    )


_PEAK_COLS = {
    "day",
    "hour",
    "n",
    "n_no_report",
    "within",
    "share",
    "ci_low",
    "ci_high",
    "sla_minutes",
    "target",
    "p_value",
    "q_value",
    "flag",
}


def productivity_display(table: pd.DataFrame, by: list[str] | str, caption: str | None = None):
    """Decisions per productive hour with the interval of 3600 / mean handle time."""
    by = [by] if isinstance(by, str) else list(by)
    cols = [
        *by,
        "n",
        "productive_hours",
        "decisions_per_hour",
        "decisions_per_hour_ci_low",
        "decisions_per_hour_ci_high",
    ]
    cols += [c for c in ("target", "status") if c in table.columns]
    rename = {
        "n": "decisions",
        "productive_hours": "productive hours",
        "decisions_per_hour": "decisions / hour",
        "decisions_per_hour_ci_low": "CI low",
        "decisions_per_hour_ci_high": "CI high",
    }
    return show(table, columns=cols, rename=rename, pct=[], caption=caption)


def cost_display(table: pd.DataFrame, by: list[str] | str, currency: str = "USD", caption: str | None = None):
    """Cost per 100 decisions and per 100 correct decisions (with the interval carried from accuracy)."""
    by = [by] if isinstance(by, str) else list(by)
    cols = [
        *by,
        "basis",
        "cost_per_decision",
        "n",
        "accuracy",
        "ci_low",
        "ci_high",
        "cost_per_correct",
        "cost_per_correct_ci_low",
        "cost_per_correct_ci_high",
        "rank_per_decision",
        "rank_per_correct",
        "note",
    ]
    rename = {
        "cost_per_decision": f"cost per 100 decisions ({currency})",
        "n": "audits",
        "cost_per_correct": f"cost per 100 correct decisions ({currency})",
        "cost_per_correct_ci_low": "cost CI low",
        "cost_per_correct_ci_high": "cost CI high",
        "rank_per_decision": "rank by cost",
        "rank_per_correct": "rank by cost per correct",
    }
    t = table.copy()
    for c in ("cost_per_decision", "cost_per_correct", "cost_per_correct_ci_low", "cost_per_correct_ci_high"):
        t[c] = 100 * t[c]
    for c in ("rank_per_decision", "rank_per_correct"):
        t[c] = t[c].astype("Int64")
    return show(t, columns=cols, rename=rename, pct=["accuracy", "ci_low", "ci_high"], caption=caption)


def speed_quality_display(table: pd.DataFrame, unit: str, caption: str | None = None):
    """Median handle time and accuracy side by side, with the speed-quality flag in words."""
    cols = [unit, "median_s", "median_ci_low", "median_ci_high", "n", "accuracy", "ci_low", "ci_high"]
    cols += ["q_faster", "q_less_accurate", "reading"]
    rename = {
        "median_s": "median handle time (s)",
        "median_ci_low": "median CI low",
        "median_ci_high": "median CI high",
        "n": "audits",
        "q_faster": "q (faster)",
        "q_less_accurate": "q (less accurate)",
        "reading": "reading",
    }
    return show(table, columns=cols, rename=rename, pct=["accuracy", "ci_low", "ci_high"], caption=caption)


def plain_findings(cost: pd.DataFrame | None = None, peaks: pd.DataFrame | None = None, speed=None, unit: str = S.SITE):
    """The operations findings in plain words (escaped Markdown bullets), or a line saying there are none.

    Parameters
    ----------
    cost : DataFrame, optional
        :func:`modqa_lib.stats.operations.cost_table` output (by vendor).
    peaks : DataFrame, optional
        :func:`modqa_lib.stats.operations.sla_peaks` output (by queue).
    speed : DataFrame, optional
        :func:`modqa_lib.stats.operations.speed_quality` output.
    unit : str, default SITE
        The unit column of ``speed``.

    Returns
    -------
    IPython.display.Markdown
    """
    from modqa_lib.report.export import safe_markdown

    lines: list[str] = []
    if speed is not None and len(speed) and "flag" in speed:
        for r in speed[speed["flag"]].itertuples(index=False):
            lines.append(
                f"{getattr(r, unit)} is significantly faster than the others (median "
                f"{r.median_s:.0f} s) and less accurate ({r.accuracy:.1%}, 95% CI {r.ci_low:.1%}–{r.ci_high:.1%}): "
                "speed bought with accuracy."
            )
    if cost is not None and len(cost) > 1 and cost["cost_per_decision"].notna().sum() > 1:
        cheap = cost.loc[cost["cost_per_decision"].idxmin()]
        if cheap["rank_per_correct"] > 1:
            best = cost.loc[cost["cost_per_correct"].idxmin()]
            lines.append(
                f"{cheap[S.VENDOR]} is the cheapest per decision but ranks "
                f"{int(cheap['rank_per_correct'])} per correct decision; {best[S.VENDOR]} "
                "gives the most correct decisions for the money (the intervals say how sure that ranking is)."
            )
    if peaks is not None and len(peaks) and "flag" in peaks:
        flagged = peaks[peaks["flag"]]
        for q, g in flagged.groupby(S.QUEUE, sort=True) if S.QUEUE in flagged else []:
            blocks = ", ".join(f"{d} {int(h):02d}:00" for d, h in zip(g["day"], g["hour"]))
            lines.append(
                f"{q} misses its SLA target in these 3-hour blocks (UTC): {blocks} "
                f"(share within SLA {g['share'].min():.0%}–{g['share'].max():.0%} against "
                f"{g['target'].iloc[0]:.0%})."
            )
    if not lines:
        return safe_markdown("*No operations finding: nothing is significantly off.*")
    template = "\n".join("- {" + f"l{i}" + "}" for i in range(len(lines)))
    return safe_markdown(template, **{f"l{i}": s for i, s in enumerate(lines)})
