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
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import norm

from modqa_lib.contract import schema as S
from modqa_lib.errors import ModqaError
from modqa_lib.report.display import merge_alias_slices
from modqa_lib.stats.drift import p_chart
from modqa_lib.stats.rca import PAIR_SEP, decompose_change, drilldown, pareto
from modqa_lib.stats.scoring import accuracy_table

__all__ = ["DEFAULT_DIMS", "ExplorerResult", "RcaExplorer", "change_in_points", "filter_audits"]

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
#: columns of the example audits shown for a slice (moderator ids are pseudonyms in the explorer)
EXAMPLE_COLUMNS: tuple[str, ...] = (
    S.DECISION_ID,
    S.WEEK,
    S.SITE,
    S.POLICY,
    S.LABEL,
    S.QA_LABEL,
    S.ERROR_TYPE,
    S.ROOT_CAUSE,
    S.MODERATOR_ID,
)


@dataclass
class ExplorerResult:
    """What the explorer currently shows (tidy tables; empty frames when nothing matches)."""

    n: int
    accuracy: pd.DataFrame = field(default_factory=pd.DataFrame)
    drilldown: pd.DataFrame = field(default_factory=pd.DataFrame)
    pareto: pd.DataFrame = field(default_factory=pd.DataFrame)
    change: pd.DataFrame = field(default_factory=pd.DataFrame)
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)
    message: str = ""
    answer: str = ""


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
    processed_dir : path-like, optional
        The processed data the audits came from (``scope.processed_dir``): moderator pseudonyms use
        its key, as the reports on the same data do.

    Attributes
    ----------
    controls : dict of ipywidgets
        ``vendor``, ``site``, ``market``, ``policy`` (dropdowns), ``period`` and
        ``compare`` (week range sliders: the current and the comparison period),
        ``dim`` (drill-down dimension), ``depth`` (1 or 2), ``moderator`` (search by
        pseudonym), ``slice`` (a drill-down row whose example audits to show).
    result : ExplorerResult
        Updated once per user action (a change that resets another filter computes once).

    Notes
    -----
    The default view is the second half of the loaded weeks compared with the
    first half; the answer line says so, since a scorecard over the same data
    covers all the weeks. Each filter offers only values that have audits under
    the filters before it (vendor, site, market, policy). Moderator ids are shown and searched as keyed pseudonyms.
    """

    def __init__(
        self, audits: pd.DataFrame, dims: Sequence[str] = DEFAULT_DIMS, alpha: float = 0.05, processed_dir=None
    ):
        import ipywidgets as W

        from modqa_lib.report.privacy import pseudonymise

        audits = audits.copy()
        if S.MODERATOR_ID in audits:
            audits[S.MODERATOR_ID] = pseudonymise(audits[S.MODERATOR_ID], processed_dir=processed_dir)
        self.audits = audits
        self._busy = False
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
        self._default_period = (half if len(weeks) > 1 else 0, len(weeks) - 1)
        self._default_compare = (0, half - 1)
        wide = {"description_width": "7em"}
        self.controls["period"] = W.SelectionRangeSlider(
            options=opts,
            index=self._default_period,
            description="period",
            continuous_update=False,
            readout=False,
            style=wide,
            layout=W.Layout(width="min(480px, 100%)"),
        )
        self.controls["compare"] = W.SelectionRangeSlider(
            options=opts,
            index=self._default_compare,
            description="compare with",
            continuous_update=False,
            readout=False,
            style=wide,
            layout=W.Layout(width="min(480px, 100%)"),
        )
        # full dates next to each slider (the built-in readout cuts them)
        self.readouts = {k: W.Label() for k in ("period", "compare")}
        self.controls["moderator"] = W.Text(
            value="", placeholder="M-3f9a2c1b", description="moderator", continuous_update=False
        )
        self.controls["dim"] = W.Dropdown(
            options=self.dims, value=S.POLICY if S.POLICY in self.dims else self.dims[0], description="drill by"
        )
        self.controls["depth"] = W.ToggleButtons(options=[1, 2], value=1, description="depth")
        self.controls["slice"] = W.Dropdown(options=[("(choose a slice)", -1)], value=-1, description="examples")
        self.reset_button = W.Button(description="reset", tooltip="back to the default view")
        self.export_button = W.Button(description="export this view", tooltip="tables as CSV, the view as HTML")
        self.reset_button.on_click(lambda _b: self.reset())
        self.export_button.on_click(lambda _b: self._export_clicked())
        self.status = W.HTML()
        self.out = W.Output()
        self.result = ExplorerResult(n=0)
        for _name, w in self.controls.items():
            w.observe(self._on_change, names="value")
        self.refresh()

    # -- logic (no widgets) --------------------------------------------------
    @property
    def filters(self) -> dict[str, str]:
        return {col: self.controls[col].value for col in FILTERS}

    def _base(self) -> pd.DataFrame:
        base = filter_audits(self.audits, self.filters)
        who = self.controls["moderator"].value.strip()
        if who and S.MODERATOR_ID in base:
            base = base[base[S.MODERATOR_ID] == who]
        return base

    def compute(self) -> ExplorerResult:
        """Recompute every table for the current control values."""
        period = self.controls["period"].value
        compare = self.controls["compare"].value
        dim = self.controls["dim"].value
        base = self._base()
        cur = filter_audits(base, weeks=period)
        if cur.empty:
            return ExplorerResult(n=0, message="No audited decisions match these filters.")
        res = ExplorerResult(n=len(cur))
        wt = S.WEIGHT if S.WEIGHT in cur else None  # every rate design-weighted, as the answer line
        res.trend = p_chart(base)
        res.accuracy = accuracy_table(cur, by=[dim], weights=S.WEIGHT, alpha=self.alpha).sort_values(S.ACCURACY)
        dims = [d for d in self.dims if d not in self.filters or self.filters[d] == ALL]
        dims = [d for d in dims if cur[d].nunique() > 1]
        if dims:
            order = [dim] + [d for d in dims if d != dim] if dim in dims else dims
            res.drilldown = merge_alias_slices(
                drilldown(
                    cur, dims=order[:6], depth=self.controls["depth"].value, alpha=self.alpha, min_n=20, weights=wt
                ),
                cur,
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
                    both, before=tuple(compare), after=tuple(period), by=dim, alpha=self.alpha, weights=wt
                )
        res.answer = self._answer(cur, None if overlap else filter_audits(base, weeks=compare), period, compare)
        return res

    def _label(self) -> str:
        parts = [v for v in self.filters.values() if v not in (None, "", ALL)]
        who = self.controls["moderator"].value.strip()
        if who:
            parts.append(f"moderator {who}")
        return " · ".join(parts) or "all vendors and markets"

    def _answer(self, cur: pd.DataFrame, before: pd.DataFrame | None, period, compare) -> str:
        """One line: accuracy with its interval and n, and the change against the comparison period."""
        z = float(norm.ppf(1 - self.alpha / 2))
        level = f"{1 - self.alpha:.0%}"
        a = accuracy_table(cur, weights=S.WEIGHT, alpha=self.alpha).iloc[0]
        lo_w, hi_w = (pd.Timestamp(w) for w in period)
        line = (
            f"Accuracy {a[S.ACCURACY]:.1%} ({level} CI {a[S.CI_LOW]:.1%}–{a[S.CI_HIGH]:.1%}; n = {int(a[S.N]):,}; "
            f"design-weighted) for {self._label()} · weeks {lo_w:%Y-%m-%d} → {hi_w:%Y-%m-%d}"
        )
        if (lo_w, hi_w) != (self.weeks[0], self.weeks[-1]):
            line += f" (of {self.weeks[0]:%Y-%m-%d} → {self.weeks[-1]:%Y-%m-%d} loaded; a scorecard covers them all)"
        if before is not None and not before.empty:
            b = accuracy_table(before, weights=S.WEIGHT, alpha=self.alpha).iloc[0]
            d = float(a[S.ACCURACY] - b[S.ACCURACY])
            se = float(np.hypot(a["se"], b["se"]))
            c0, c1 = (pd.Timestamp(w) for w in compare)
            line += (
                f", vs {b[S.ACCURACY]:.1%} in weeks {c0:%Y-%m-%d} → {c1:%Y-%m-%d} "
                f"({_pts(d)}, {level} CI {_pts(d - z * se, unit=False)} to {_pts(d + z * se)})"
            )
        return line + "."

    def examples(self, row: int, k: int = 10) -> pd.DataFrame:
        """Up to ``k`` audited errors of drill-down row ``row`` (pseudonymised; for the examples table)."""
        dd = self.result.drilldown
        if dd.empty or not 0 <= row < len(dd):
            return pd.DataFrame()
        r = dd.iloc[row]
        cur = filter_audits(self._base(), weeks=self.controls["period"].value)
        m = pd.Series(True, index=cur.index)
        for dim_, val in zip(str(r["dimension"]).split(PAIR_SEP), str(r["value"]).split(PAIR_SEP)):
            if dim_ in cur:
                m &= cur[dim_].astype(str) == val
        cols = [c for c in EXAMPLE_COLUMNS if c in cur]
        hits = cur[m & cur[S.IS_ERROR].astype(bool)]
        return hits[cols].head(k)

    # -- widgets ---------------------------------------------------------------
    def _on_change(self, change) -> None:
        if self._busy:
            return
        if change["owner"] is self.controls["slice"]:
            self._show_examples()
            return
        self._busy = True
        try:
            if change["owner"] in [self.controls[c] for c in FILTERS]:
                self._update_options()
        finally:
            self._busy = False
        self.refresh()

    def _update_options(self) -> None:
        """Each filter offers only values that have audits under the filters before it (vendor → site → market → policy)."""
        for k, col in enumerate(FILTERS):
            others = {c: self.controls[c].value for c in FILTERS[:k]}
            sub = filter_audits(self.audits, others)
            w = self.controls[col]
            opts = [ALL] + sorted(map(str, sub[col].dropna().unique()))
            keep = w.value if w.value in opts else ALL
            if list(w.options) != opts:
                w.options = opts  # (hold_trait_notifications would reset the value afterwards)
            w.value = keep

    def _update_sites(self) -> None:
        """Kept for callers of the first version: same as :meth:`_update_options`."""
        self._update_options()

    def reset(self) -> None:
        """Back to the default view (all filters ALL, default periods), computing once."""
        self._busy = True
        try:
            for col in FILTERS:
                self.controls[col].value = ALL
            self._update_options()
            self.controls["moderator"].value = ""
            self.controls["period"].index = self._default_period
            self.controls["compare"].index = self._default_compare
            self.controls["depth"].value = 1
        finally:
            self._busy = False
        self.refresh()

    def _update_readouts(self) -> None:
        for k, label in self.readouts.items():
            lo, hi = (pd.Timestamp(w) for w in self.controls[k].value)
            label.value = f"weeks {lo:%Y-%m-%d} → {hi:%Y-%m-%d}"

    def refresh(self) -> None:
        """Recompute and redraw."""
        self._update_readouts()
        self.result = self.compute()
        self._busy = True
        try:
            dd = self.result.drilldown
            opts = [("(choose a slice)", -1)] + [
                (f"{r['dimension']} = {r['value']}", i) for i, r in enumerate(dd.head(10).to_dict("records"))
            ]
            self.controls["slice"].options = opts
            self.controls["slice"].value = -1
        finally:
            self._busy = False
        self.out.clear_output(wait=True)
        with self.out:
            self._render(self.result)

    def _show_examples(self) -> None:
        from IPython.display import display

        from modqa_lib.report import tables as report

        row = self.controls["slice"].value
        if row is None or row < 0:
            return
        with self.out:
            display(
                report.show(
                    self.examples(row),
                    caption=f"Example audited errors: {self.controls['slice'].label}",
                    empty="No audited errors in this slice.",
                )
            )

    def export_view(self, folder=None) -> Path:
        """Write the current tables as CSV and the view as a small HTML page; return the folder.

        Parameters
        ----------
        folder : path-like, optional
            Default ``outputs/explorer/<UTC timestamp>/``.

        Returns
        -------
        Path
        """
        import html as _html

        from modqa_lib.config import OUTPUTS_DIR
        from modqa_lib.data.io import write_csv_atomic, write_text_atomic
        from modqa_lib.report import tables as report

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = Path(folder) if folder is not None else Path(OUTPUTS_DIR) / "explorer" / stamp
        out.mkdir(parents=True, exist_ok=True)
        res = self.result
        parts = [f"<h1>RCA explorer view</h1><p>{_html.escape(res.answer or res.message)}</p>"]
        for name, df, caption in (
            ("accuracy", res.accuracy, "Accuracy by the drill-down dimension"),
            ("drilldown", res.drilldown, "Slices with the most excess errors"),
            ("change", res.change, "Change against the comparison period"),
            ("pareto", res.pareto, "Root causes"),
        ):
            if df.empty:
                continue
            write_csv_atomic(df, out / f"{name}.csv")
            parts.append(report.show(df, caption=caption).to_html())
        page = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><title>RCA explorer view</title>'
            "<style>body{font-family:system-ui,sans-serif;margin:1em;max-width:1100px}"
            "table{border-collapse:collapse}td,th{padding:.2em .5em;border-bottom:1px solid #ddd}</style>"
            f"</head><body><main>{''.join(parts)}</main></body></html>"
        )
        write_text_atomic(page, out / "view.html")
        return out

    def _export_clicked(self) -> None:
        from modqa_lib.report.export import scrub_paths

        folder = self.export_view()
        self.status.value = _escape(f"Exported to {scrub_paths(str(folder))}")

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
        display(safe_markdown("**{answer}**", answer=res.answer))
        if not res.trend.empty:
            fig = plots.control_chart(res.trend, title="Weekly error rate for these filters (p chart)")
            fig.phone_variant = False  # an explorer view is never exported: no phone-sized image to draw
            display(fig)
            plt.close(fig)
        fig = plots.forest(res.accuracy, dim, title=f"Accuracy by {dim.replace('_', ' ')}", status=None)
        fig.phone_variant = False
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
                    caption="Slices with the most excess errors (design-weighted rates; errors are audited errors)",
                )
            )
        if not res.change.empty:
            display(
                report.show(
                    change_in_points(res.change.head(12), self.alpha),
                    caption="Design-weighted error-rate change against the comparison period, in points: mix effect (different "
                    "content) + rate effect (different decisions) = total; the interval is that of the group's "
                    "own change (after − before)",
                )
            )
        if not res.pareto.empty:
            display(
                report.show(
                    res.pareto,
                    columns=[S.ROOT_CAUSE, "count", "share", "ci_low", "ci_high", "cum_share"],
                    caption="Root causes (shares of audited errors, unweighted)",
                )
            )

    def widget(self):
        """The explorer as one ipywidgets box (filters on top, results below)."""
        import ipywidgets as W

        c = self.controls
        wrap = W.Layout(flex_flow="row wrap")
        return W.VBox(
            [
                W.HBox([c[S.VENDOR], c[S.SITE]], layout=wrap),
                W.HBox([c[S.MARKET], c[S.POLICY]], layout=wrap),
                W.HBox([c["period"], self.readouts["period"]], layout=wrap),
                W.HBox([c["compare"], self.readouts["compare"]], layout=wrap),
                W.HBox([c["dim"], c["depth"]], layout=wrap),
                W.HBox([c["moderator"], c["slice"]], layout=wrap),
                W.HBox([self.reset_button, self.export_button, self.status], layout=wrap),
                self.out,
            ]
        )

    def static_view(self) -> None:
        """Render the current (default) view as plain outputs, for headless runs and HTML export."""
        self._render(self.result)


def _pts(x: float, unit: bool = True) -> str:
    s = f"{100 * x:+.1f}".replace("-", "−")
    return f"{s} pts" if unit else s


def _escape(text: str) -> str:
    import html as _html

    return _html.escape(text)


def change_in_points(change: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The decomposition table for readers: rates in %, effects and the change's interval in points.

    Parameters
    ----------
    change : DataFrame
        :func:`modqa_lib.stats.rca.decompose_change` output.
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        ``group``, ``n before``, ``n after``, ``error rate before``, ``error rate after``,
        ``change (after − before)``, its interval, ``mix effect``, ``rate effect``,
        ``total effect`` (all in points, as text).
    """
    level = f"{1 - alpha:.0%} CI of the change"
    return pd.DataFrame(
        {
            "group": change["group"].astype(str),
            "n before": change["n_before"].astype("Int64"),
            "n after": change["n_after"].astype("Int64"),
            "error rate before": change["rate_before"],
            "error rate after": change["rate_after"],
            "change (after − before)": [_pts(a - b) for a, b in zip(change["rate_after"], change["rate_before"])],
            level: [f"{_pts(lo, unit=False)} to {_pts(hi)}" for lo, hi in zip(change[S.CI_LOW], change[S.CI_HIGH])],
            "mix effect": [_pts(v) for v in change["mix_effect"]],
            "rate effect": [_pts(v) for v in change["rate_effect"]],
            "total effect": [_pts(v) for v in change["total_effect"]],
        }
    )


def is_interactive() -> bool:
    """False when running headless (``MODQA_HEADLESS=1``: set by ``make test`` and batch runs)."""
    import os

    return os.environ.get("MODQA_HEADLESS", "").lower() not in ("1", "true", "yes")


__all__ += ["is_interactive"]
