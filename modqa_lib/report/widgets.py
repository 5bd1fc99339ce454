"""Interactive RCA explorer for JupyterLab (ipywidgets).

The widget is a thin shell: every callback calls :meth:`RcaExplorer.compute`,
which filters the audits and calls the library's RCA functions, and stores the
result tables on ``explorer.result``. Tests drive the widgets by setting their
values and read ``result``, no browser needed. Run headless (papermill, nbval),
the notebook shows :meth:`RcaExplorer.static_view` instead: widget state does
not survive a headless run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.errors import ModqaError
from modqa_lib.stats.rca import decompose_change, drilldown, pareto
from modqa_lib.stats.scoring import accuracy_table

__all__ = ["DEFAULT_DIMS", "ExplorerResult", "RcaExplorer", "filter_audits"]

ALL = "ALL"
DEFAULT_DIMS: tuple[str, ...] = (
    S.VENDOR,
    S.SITE,
    S.MARKET,
    S.POLICY,
    S.CONTENT_TYPE,
    S.SHIFT,
    S.TENURE_BAND,
    S.CHANNEL,
    S.LANGUAGE,
    S.QUEUE,
)
FILTERS: tuple[str, ...] = (S.VENDOR, S.SITE, S.MARKET, S.POLICY)


@dataclass
class ExplorerResult:
    """What the explorer currently shows (tidy tables; empty frames when nothing matches)."""

    n: int
    accuracy: pd.DataFrame = field(default_factory=pd.DataFrame)
    drilldown: pd.DataFrame = field(default_factory=pd.DataFrame)
    pareto: pd.DataFrame = field(default_factory=pd.DataFrame)
    change: pd.DataFrame = field(default_factory=pd.DataFrame)
    message: str = ""


def filter_audits(
    audits: pd.DataFrame, filters: dict[str, str] | None = None, weeks: tuple | None = None
) -> pd.DataFrame:
    """Audits matching every filter (value "ALL" or None = no filter) and the week range (inclusive)."""
    m = pd.Series(True, index=audits.index)
    for col, val in (filters or {}).items():
        if val not in (None, "", ALL):
            m &= audits[col] == val
    if weeks is not None:
        lo, hi = (pd.Timestamp(w) for w in weeks)
        m &= (audits[S.WEEK] >= lo) & (audits[S.WEEK] <= hi)
    return audits[m]


class RcaExplorer:
    """Filter, drill down and compare two periods.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.data.io.audited_decisions`).
    dims : sequence of str
        Dimensions offered for the drill-down.
    alpha : float, default 0.05

    Attributes
    ----------
    controls : dict of ipywidgets
        ``vendor``, ``site``, ``market``, ``policy`` (dropdowns), ``period`` and
        ``compare`` (week range sliders: the current and the comparison period),
        ``dim`` (drill-down dimension), ``depth`` (1 or 2).
    result : ExplorerResult
        Updated on every change.
    """

    def __init__(self, audits: pd.DataFrame, dims: Sequence[str] = DEFAULT_DIMS, alpha: float = 0.05):
        import ipywidgets as W

        self.audits = audits
        self.dims = [d for d in dims if d in audits.columns]
        self.alpha = alpha
        weeks = sorted(pd.Timestamp(w) for w in audits[S.WEEK].dropna().unique())
        if not weeks:
            raise ModqaError("the RCA explorer needs audited decisions: none were given")
        self.weeks = weeks
        opts = [(f"{w:%Y-%m-%d}", w) for w in weeks]
        half = max(len(weeks) // 2, 1)
        self.controls = {
            col: W.Dropdown(
                options=[ALL] + sorted(map(str, audits[col].dropna().unique())),
                value=ALL,
                description=col.replace("_", " "),
            )
            for col in FILTERS
        }
        self.controls["period"] = W.SelectionRangeSlider(
            options=opts,
            index=(half if len(weeks) > 1 else 0, len(weeks) - 1),
            description="period",
            layout=W.Layout(width="520px"),
        )
        self.controls["compare"] = W.SelectionRangeSlider(
            options=opts, index=(0, half - 1), description="compare with", layout=W.Layout(width="520px")
        )
        self.controls["dim"] = W.Dropdown(
            options=self.dims, value=S.POLICY if S.POLICY in self.dims else self.dims[0], description="drill by"
        )
        self.controls["depth"] = W.ToggleButtons(options=[1, 2], value=1, description="depth")
        self.out = W.Output()
        self.result = ExplorerResult(n=0)
        for _name, w in self.controls.items():
            w.observe(self._on_change, names="value")
        self.refresh()

    # -- logic (no widgets) --------------------------------------------------
    @property
    def filters(self) -> dict[str, str]:
        return {col: self.controls[col].value for col in FILTERS}

    def compute(self) -> ExplorerResult:
        """Recompute every table for the current control values."""
        period = self.controls["period"].value
        compare = self.controls["compare"].value
        dim = self.controls["dim"].value
        base = filter_audits(self.audits, self.filters)
        cur = filter_audits(base, weeks=period)
        if cur.empty:
            return ExplorerResult(n=0, message="No audited decisions match these filters.")
        res = ExplorerResult(n=len(cur))
        res.accuracy = accuracy_table(cur, by=[dim], weights=S.WEIGHT, alpha=self.alpha).sort_values(S.ACCURACY)
        dims = [d for d in self.dims if d not in self.filters or self.filters[d] == ALL]
        dims = [d for d in dims if cur[d].nunique() > 1]
        if dims:
            order = [dim] + [d for d in dims if d != dim] if dim in dims else dims
            res.drilldown = drilldown(
                cur, dims=order[:6], depth=self.controls["depth"].value, alpha=self.alpha, min_n=20
            )
        if cur[S.IS_ERROR].any():
            res.pareto = pareto(cur)
        overlap = not (
            pd.Timestamp(compare[1]) < pd.Timestamp(period[0]) or pd.Timestamp(period[1]) < pd.Timestamp(compare[0])
        )
        if overlap:
            res.message = "The comparison period overlaps the current period: no change shown."
        else:
            before = filter_audits(base, weeks=compare)
            if not before.empty and dim in base:
                both = pd.concat([before, cur])
                res.change = decompose_change(
                    both, before=tuple(compare), after=tuple(period), by=dim, alpha=self.alpha
                )
        return res

    # -- widgets ---------------------------------------------------------------
    def _on_change(self, change) -> None:
        if change["owner"] is self.controls[S.VENDOR]:
            self._update_sites()
        self.refresh()

    def _update_sites(self) -> None:
        v = self.controls[S.VENDOR].value
        sub = self.audits if v == ALL else self.audits[self.audits[S.VENDOR] == v]
        w = self.controls[S.SITE]
        opts = [ALL] + sorted(map(str, sub[S.SITE].dropna().unique()))
        keep = w.value if w.value in opts else ALL
        with w.hold_trait_notifications():
            w.options = opts
            w.value = keep

    def refresh(self) -> None:
        """Recompute and redraw."""
        self.result = self.compute()
        self.out.clear_output(wait=True)
        with self.out:
            self._render(self.result)

    def _render(self, res: ExplorerResult) -> None:
        from IPython.display import display

        from modqa_lib.report import plots
        from modqa_lib.report import tables as report
        from modqa_lib.report.export import safe_markdown

        if res.message:
            display(safe_markdown("*{m}*", m=res.message))
        if res.n == 0:
            return
        dim = self.controls["dim"].value
        display(safe_markdown("**{n}** audited decisions match.", n=f"{res.n:,}"))
        fig = plots.forest(res.accuracy, dim, title=f"Accuracy by {dim.replace('_', ' ')}", status=None)
        display(fig)
        plt.close(fig)
        if not res.drilldown.empty:
            display(
                report.show(
                    res.drilldown.head(10),
                    columns=[
                        "dimension",
                        "value",
                        "n",
                        "errors",
                        "error_rate",
                        "ci_low",
                        "ci_high",
                        "rest_rate",
                        "excess_errors",
                        "q_value",
                        "flag",
                    ],
                    caption="Slices with the most excess errors",
                )
            )
        if not res.change.empty:
            display(
                report.show(
                    res.change.head(12),
                    columns=[
                        "group",
                        "n_before",
                        "n_after",
                        "rate_before",
                        "rate_after",
                        "mix_effect",
                        "rate_effect",
                        "total_effect",
                        "ci_low",
                        "ci_high",
                    ],
                    caption="Error-rate change against the comparison period: mix effect vs rate effect",
                )
            )
        if not res.pareto.empty:
            display(
                report.show(
                    res.pareto,
                    columns=[S.ROOT_CAUSE, "count", "share", "ci_low", "ci_high", "cum_share"],
                    caption="Root causes",
                )
            )

    def widget(self):
        """The explorer as one ipywidgets box (filters on top, results below)."""
        import ipywidgets as W

        c = self.controls
        return W.VBox(
            [
                W.HBox([c[S.VENDOR], c[S.SITE]]),
                W.HBox([c[S.MARKET], c[S.POLICY]]),
                c["period"],
                c["compare"],
                W.HBox([c["dim"], c["depth"]]),
                self.out,
            ]
        )

    def static_view(self) -> None:
        """Render the current (default) view as plain outputs, for headless runs and HTML export."""
        self._render(self.result)


def is_interactive() -> bool:
    """False when running headless (``MODQA_HEADLESS=1``: set by ``make test`` and batch runs)."""
    import os

    return os.environ.get("MODQA_HEADLESS", "").lower() not in ("1", "true", "yes")


__all__ += ["is_interactive"]
