"""Display tables and the tidy CSV of the DSA transparency report.

:func:`transparency_figures` computes every figure of ``notebooks/50_transparency_report.ipynb``
(and of ``modqa transparency``) from the processed tables; :func:`transparency_csv`
is the filing CSV (one row per system x language x metric); :func:`display_estimates`
turns estimates into reader text where no cell shows a bare rate.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.data.scope import parse_period
from modqa_lib.stats import transparency as T
from modqa_lib.stats.sampling import POPULATION

__all__ = ["CSV_COLUMNS", "display_estimates", "transparency_csv", "transparency_figures"]

#: columns of the filing CSV, in order (README maps them to the template's fields)
CSV_COLUMNS: tuple[str, ...] = (
    S.SYSTEM,
    S.LANGUAGE,
    "member_state",
    T.METRIC,
    T.ESTIMATE,
    S.CI_LOW,
    S.CI_HIGH,
    T.N_AUDITS,
    POPULATION,
    T.STATUS,
    T.NOTE,
)


def _week(ts: pd.Series) -> pd.Series:
    t = pd.to_datetime(ts, utc=True).dt.tz_localize(None).dt.normalize()
    return t - pd.to_timedelta(t.dt.day_of_week, unit="D")


def transparency_figures(
    tables: Mapping[str, pd.DataFrame],
    period: str = "all",
    systems: Mapping | None = None,
    alpha: float = 0.05,
    min_n: int = 30,
    max_half_width: float = 0.10,
    target_precision: float = 0.02,
    target_recall: float = 0.05,
) -> dict[str, pd.DataFrame]:
    """Every figure of the transparency report for one period.

    Parameters
    ----------
    tables : mapping
        Processed ``decisions``, ``audits`` and optionally ``appeals``.
    period : str, default "all"
        ``"last:N"``, ``"all"`` or ``"YYYY-MM-DD:YYYY-MM-DD"`` (weeks of ``decided_at``).
    systems : mapping, optional
        :func:`modqa_lib.stats.transparency.load_systems` output (default: params/systems.yaml).
    alpha, min_n, max_half_width
        As in :func:`modqa_lib.stats.transparency.automated_accuracy`.
    target_precision, target_recall : float
        Target margins of the planner.

    Returns
    -------
    dict of DataFrame
        ``estimates`` (automated_accuracy output plus ``member_state``), ``csv``
        (:func:`transparency_csv`), ``display`` (:func:`display_estimates`),
        ``automation`` (decisions by degree of automation per language), ``plan`` and
        ``plan_summary`` (next period's audits), ``appeals_policy``,
        ``appeals_language``, ``appeals_automation`` and ``appeal_times`` (empty when
        there is no appeals table), and ``period`` (one row: start, end).
    """
    systems = systems if systems is not None else T.load_systems()
    dec = tables["decisions"]
    wk = _week(dec[S.DECIDED_AT])
    start, end = parse_period(period).bounds(pd.Series(wk))
    dec = dec[((wk >= start) & (wk <= end)).to_numpy()]
    ids = set(dec[S.DECISION_ID])
    aud = tables["audits"]
    aud = aud[aud[S.DECISION_ID].isin(ids)]
    pop, audited = T.prepare_transparency_frame(dec, aud, systems)
    est = T.automated_accuracy(audited, pop, alpha=alpha, min_n=min_n, max_half_width=max_half_width)
    ms = pop.groupby([S.SYSTEM, S.LANGUAGE], observed=True)["member_state"].agg(
        lambda s: ",".join(sorted({x for x in s.dropna().astype(str) if x and x != "nan"}))
    )
    est = est.merge(ms.rename("member_state").reset_index(), on=[S.SYSTEM, S.LANGUAGE], how="left")
    plan = T.plan_transparency_audits(pop, audited, targets={"precision": target_precision, "recall": target_recall})
    out = {
        "estimates": est,
        "csv": transparency_csv(est),
        "display": display_estimates(est),
        "automation": T.decisions_by_automation(pop, by=[S.LANGUAGE]),
        "plan": plan,
        "plan_summary": T.plan_summary(plan),
        "period": pd.DataFrame({"start": [start.date()], "end": [(end + pd.Timedelta(days=6)).date()]}),
    }
    app = tables.get("appeals")
    if app is not None and len(app):
        app = app[app[S.DECISION_ID].isin(ids)]
        out["appeals_policy"] = T.appeal_reversal_rates(app, pop, by=[S.POLICY], alpha=alpha)
        out["appeals_language"] = T.appeal_reversal_rates(app, pop, by=[S.LANGUAGE], alpha=alpha)
        out["appeals_automation"] = T.appeal_reversal_rates(app, pop, by=[S.AUTOMATION], alpha=alpha)
        out["appeal_times"] = T.appeal_decision_times(app, pop, by=[S.AUTOMATION], alpha=alpha)
    else:
        for k in ("appeals_policy", "appeals_language", "appeals_automation", "appeal_times"):
            out[k] = pd.DataFrame()
    return out


def transparency_csv(estimates: pd.DataFrame) -> pd.DataFrame:
    """The filing CSV: one row per system x language x metric, columns :data:`CSV_COLUMNS`.

    Estimates and bounds are proportions rounded to 4 decimals; not-estimable rows
    keep empty values and say why in ``note``.
    """
    df = estimates.copy()
    if "member_state" not in df.columns:
        df["member_state"] = ""
    for c in (T.ESTIMATE, S.CI_LOW, S.CI_HIGH):
        df[c] = df[c].round(4)
    return df[list(CSV_COLUMNS)].reset_index(drop=True)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def display_estimates(estimates: pd.DataFrame) -> pd.DataFrame:
    """Reader text per cell and metric: never a bare rate.

    Returns
    -------
    DataFrame
        ``system``, ``language``, ``metric``, ``figure``: "84.2% (95% CI 80.1-87.9%;
        n = 120 audits of 664)", "insufficient sample (n = 21; interval ±12.3 pts)" or
        "not estimable: no audited non-actioned items".
    """
    txt = []
    for r in estimates.itertuples(index=False):
        st = getattr(r, T.STATUS)
        if st == "not_estimable":
            txt.append(getattr(r, T.NOTE))
            continue
        est, lo, hi = getattr(r, T.ESTIMATE), getattr(r, S.CI_LOW), getattr(r, S.CI_HIGH)
        n, pop = getattr(r, T.N_AUDITS), getattr(r, POPULATION)
        if st == "insufficient_sample":
            hw = 100 * (hi - lo) / 2 if np.isfinite(hi) and np.isfinite(lo) else np.nan
            txt.append(f"insufficient sample (n = {n}; interval ±{hw:.1f} pts)")
        else:
            txt.append(f"{_pct(est)} (95% CI {100 * lo:.1f}–{_pct(hi)}; n = {n} audits of {pop:,} decisions)")
    return pd.DataFrame(
        {
            S.SYSTEM: estimates[S.SYSTEM].to_numpy(),
            S.LANGUAGE: estimates[S.LANGUAGE].to_numpy(),
            T.METRIC: estimates[T.METRIC].to_numpy(),
            "figure": txt,
        }
    )
