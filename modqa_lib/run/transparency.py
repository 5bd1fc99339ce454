"""``modqa transparency``: run the transparency notebook and write the filing CSV.

The notebook runs as the one-unit batch family ``transparency``
(:data:`modqa_lib.run.batch.FAMILIES`, ``params/transparency.yaml``), so it gets the
same run folder, manifest, index and HTML export as the other reports; the tidy CSV
(:func:`modqa_lib.report.transparency_tables.transparency_csv`) is written next to it
as ``transparency.csv``.
"""

from __future__ import annotations

import os
from pathlib import Path

from modqa_lib.config import PROCESSED_DIR
from modqa_lib.data.io import decisions_partitioned, load_processed, processed_snapshot, write_csv_atomic
from modqa_lib.data.scope import parse_period
from modqa_lib.errors import BatchError
from modqa_lib.report.transparency_tables import transparency_figures
from modqa_lib.run.batch import run_batch

__all__ = ["CSV_NAME", "run_transparency", "write_nonactioned_sample"]

CSV_NAME = "transparency.csv"


def run_transparency(
    period: str = "all",
    processed: str | os.PathLike | None = None,
    outputs: str | os.PathLike | None = None,
    run_id: str | None = None,
    timeout: int = 900,
) -> str:
    """Run ``50_transparency_report.ipynb`` for ``period`` and write ``transparency.csv``.

    Returns
    -------
    str
        A summary naming the HTML report and the CSV.

    Raises
    ------
    ConfigError
        Bad period.
    BatchError
        The notebook failed (the batch summary says why).
    """
    parse_period(period)
    processed = Path(processed or PROCESSED_DIR)
    result = run_batch(
        by="transparency",
        period=period,
        run_id=run_id,
        timeout=timeout,
        outputs=outputs,
        processed=processed,
        workers=1,
    )
    if not result.ok:
        raise BatchError(f"transparency report failed: {result.summary()}")
    figs = transparency_figures(load_processed(processed_snapshot(processed)), period=period)
    csv = write_csv_atomic(figs["csv"], Path(result.run_dir) / CSV_NAME, index=False)
    return f"{result.summary()}\nfiling CSV: {csv}"


def _plan_targets() -> dict[str, float]:
    """Target margins of the planner from ``params/transparency.yaml`` (``target_precision``, ``target_recall``)."""
    import yaml

    from modqa_lib.config import PARAMS_DIR
    from modqa_lib.errors import ConfigError

    p = PARAMS_DIR / "transparency.yaml"
    try:
        par = (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("parameters") or {}
        return {"precision": float(par["target_precision"]), "recall": float(par["target_recall"])}
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{p}: needs parameters.target_precision and target_recall ({exc})") from None


def _partitioned_week(snap: Path, week: str, adopt_plan: bool):
    """Tables for the non-actioned draw from a partitioned log: the week's decisions and the audited ones.

    Weeks come from a ``GROUP BY``; the week's decisions are read with the week pushed
    into the scan (refused above the pandas guard rail); with ``adopt_plan`` the
    audits and only their decisions (ids pushed into the scan). Returns
    ``(tables, week's decisions, Monday)``.
    """
    import pandas as pd

    from modqa_lib.contract import schema as S
    from modqa_lib.data import duck
    from modqa_lib.errors import ConfigError

    vols = duck.decision_volumes(snap, by=[S.WEEK])
    weeks = pd.to_datetime(vols[S.WEEK])
    target = weeks.max() if str(week).strip().lower() == "latest" else pd.Timestamp(str(week))
    if not (weeks == target).any():
        raise ConfigError(f"--week {week}: no decisions that week (weeks {weeks.min().date()} to {weeks.max().date()})")
    n_week = int(vols.loc[(weeks == target).to_numpy(), "n"].sum())
    duck.check_pandas_rows(
        n_week,
        f"decisions in week {target.date()}",
        "none yet for the non-actioned draw (the weekly sample, modqa sample without it, draws from the log)",
    )
    lo, hi = (f"TIMESTAMPTZ '{d.isoformat()}+00:00'" for d in (target, target + pd.Timedelta(days=7)))
    dec_week = duck.read_decisions(snap, where=f"{S.DECIDED_AT} >= {lo} AND {S.DECIDED_AT} < {hi}")
    data = {}
    if adopt_plan:
        data = load_processed(snap, tables=["audits"])
        data["decisions"] = duck.read_decisions(snap, ids=data["audits"][S.DECISION_ID])
    return data, dec_week, target


def write_nonactioned_sample(
    week: str,
    n_per_cell: int,
    processed: str | os.PathLike | None = None,
    outputs: str | os.PathLike | None = None,
    seed: int = 1,
    adopt_plan: bool = False,
) -> str:
    """``modqa sample --nonactioned-per-cell N``: draw non-actioned machine decisions for recall audits.

    Draws ``n_per_cell`` non-actioned decisions of each automated system x official
    language in the ISO week (``"latest"`` or its Monday), stratified by model score
    band with Neyman allocation (:func:`modqa_lib.stats.sampling.nonactioned_sample`),
    and writes ``<out>/samples/<week>/nonactioned_sample.csv`` with the design columns.

    With ``adopt_plan`` (``modqa sample --adopt-transparency-plan``) the sizes come
    from the transparency planner instead (``n_per_cell`` is ignored):
    :func:`~modqa_lib.stats.transparency.plan_transparency_audits` on the week's
    decisions, with the band violation rates of the audits on file and the target
    margins of ``params/transparency.yaml`` (``target_precision``, ``target_recall``);
    the non-actioned arm is drawn per system x language x score band with exactly the
    planned sizes (:func:`~modqa_lib.stats.sampling.draw_by_plan`), and the whole plan
    (both arms, with the actioned audits it asks for) is written next to it as
    ``transparency_plan.csv``.

    Returns
    -------
    str
        One line naming the file and the number of decisions drawn (and the plan file).
    """
    import pandas as pd

    from modqa_lib.config import OUTPUTS_DIR
    from modqa_lib.contract import schema as S
    from modqa_lib.errors import ConfigError
    from modqa_lib.stats.sampling import ARM, SCORE_BAND, draw_by_plan, nonactioned_sample
    from modqa_lib.stats.transparency import HUMAN_SYSTEM, plan_transparency_audits, prepare_transparency_frame

    if not adopt_plan and (isinstance(n_per_cell, bool) or int(n_per_cell) < 1):
        raise ConfigError(f"--nonactioned-per-cell must be a positive number of audits, got {n_per_cell!r}")
    snap = processed_snapshot(Path(processed or PROCESSED_DIR))
    if decisions_partitioned(snap):  # a large log: only the week's and the audited decisions are read
        data, dec_week, target = _partitioned_week(snap, week, adopt_plan)
    else:
        data = load_processed(snap, tables=["decisions", "audits"] if adopt_plan else ["decisions"])
        dec = data["decisions"]
        t = pd.to_datetime(dec[S.DECIDED_AT], utc=True).dt.tz_localize(None).dt.normalize()
        wk = t - pd.to_timedelta(t.dt.day_of_week, unit="D")
        target = wk.max() if str(week).strip().lower() == "latest" else pd.Timestamp(str(week))
        if not (wk == target).any():
            raise ConfigError(f"--week {week}: no decisions that week (weeks {wk.min().date()} to {wk.max().date()})")
        dec_week = dec[(wk == target).to_numpy()]
    pop, _ = prepare_transparency_frame(dec_week)
    pop = pop[pop[S.SYSTEM] != HUMAN_SYSTEM]
    folder = Path(outputs or OUTPUTS_DIR) / "samples" / target.date().isoformat()
    extra = ""
    if adopt_plan:
        audits = data.get("audits")
        if audits is None or audits.empty:
            raise ConfigError("--adopt-transparency-plan needs audits on file for the band violation rates")
        _, audited = prepare_transparency_frame(data["decisions"], audits)
        plan = plan_transparency_audits(pop, audited[audited[S.SYSTEM] != HUMAN_SYSTEM], targets=_plan_targets())
        s = draw_by_plan(pop, plan[plan[ARM] == "non_actioned"], seed=seed)
        folder.mkdir(parents=True, exist_ok=True)
        plan_path = write_csv_atomic(plan, folder / "transparency_plan.csv", index=False)
        extra = f" (sizes from the transparency planner: {plan_path})"
    else:
        s = nonactioned_sample(pop, int(n_per_cell), default_prior=0.05, seed=seed)
    cols = [S.DECISION_ID, S.SYSTEM, S.LANGUAGE, S.MODEL_SCORE, SCORE_BAND, S.STRATUM, S.INCLUSION_PROB, S.WEIGHT]
    path = folder / "nonactioned_sample.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(s[cols], path, index=False)
    return f"non-actioned sample for recall: {len(s)} decisions in {path}{extra}"
