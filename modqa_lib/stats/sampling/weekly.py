"""The weekly QA sample (``modqa sample``): draw, write the files, the CLI command."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import require_columns
from modqa_lib.errors import ConfigError, InputFileError, SamplingError
from modqa_lib.stats.sampling._common import (
    ALLOCATED,
    ALLOCATIONS,
    BY_COLUMNS,
    NA_KEY,
    POPULATION,
    WORKLIST_COLUMNS,
)
from modqa_lib.stats.sampling.allocation import allocate
from modqa_lib.stats.sampling.draw import estimate_prior_error_rates
from modqa_lib.stats.sampling.log import _typed as _typed_log
from modqa_lib.stats.sampling.log import is_log_source
from modqa_lib.stats.sampling.plan import SamplePlan, _jsonable, make_plan, save_plan
from modqa_lib.stats.sampling.sizes import sample_size
from modqa_lib.stats.sampling.worklists import assign_auditors, inject_golden

# ============================================================== weekly sample
# column names of the per-unit table of a weekly sample
UNIT = "unit"
DRAWN = "drawn"
MARGIN = "margin"
_ALL_UNITS = (None, "", "ALL")


@dataclass(frozen=True, eq=False)
class WeeklySample:
    """One ISO week's QA sample and the tables behind it (see :func:`draw_weekly_sample`).

    Attributes
    ----------
    week : str
        Monday of the ISO week (UTC), ``"YYYY-MM-DD"``.
    by : str
        The column units are sized by (``vendor``, ``site``, ``market`` or ``queue``).
    unit : str or None
        The one value of ``by`` the sample is restricted to, or None for all.
    population : DataFrame or None
        The decisions of the week (and unit) the sample was drawn from; None when
        the sample was drawn from a log on disk or a DuckDB relation (the week is
        never loaded: ``units`` and ``allocation`` hold its counts).
    allocation : DataFrame
        :func:`allocate` table, one row per stratum ``by x policy``: ``stratum``,
        ``by``, ``policy``, ``population``, ``prior_error_rate``, ``allocated``,
        ``inclusion_prob``, ``expected_margin``.
    units : DataFrame
        One row per unit of ``by``: ``unit``, ``population`` (decisions that
        week), ``drawn`` (decisions sampled) and ``margin`` (achieved design
        margin: z * SE of the unit's stratified estimate at the expected rate, with FPC).
    overall_margin : float
        The same design margin for all units together.
    worklist : DataFrame
        Sampled decisions with ``auditor_id`` and ``sample_id``, plus the golden
        items mixed in (``is_golden``): the answer key written to ``sample.csv``.
    plan : SamplePlan
        The reproducible record of the draw; ``metadata`` holds the options,
        auditors, units and worklist sizes.
    """

    week: str
    by: str
    unit: str | None
    population: pd.DataFrame | None
    allocation: pd.DataFrame
    units: pd.DataFrame
    overall_margin: float
    worklist: pd.DataFrame
    plan: SamplePlan

    @property
    def auditors(self) -> list[str]:
        """Every auditor the sample could be assigned to (sorted)."""
        return list(self.plan.metadata.get("auditors", []))

    def worklist_sizes(self) -> pd.DataFrame:
        """Rows per auditor: ``auditor_id``, ``decisions``, ``golden_items``, ``total`` (sorted by auditor)."""
        w = self.worklist
        golden = w[S.IS_GOLDEN].astype(bool)
        t = pd.DataFrame(
            {
                S.AUDITOR_ID: w[S.AUDITOR_ID].astype(str),
                "decisions": (~golden).astype(int),
                "golden_items": golden.astype(int),
            }
        )
        t = t.groupby(S.AUDITOR_ID, sort=True).sum().reset_index()
        t["total"] = t["decisions"] + t["golden_items"]
        return t


def _opt(name: str, cli: bool) -> str:
    """How the user spelled an option: ``--golden-share`` on the command line, ``golden_share`` in Python."""
    return "--" + name.replace("_", "-") if cli else name


def _check_weekly_options(by, allocation, margin, confidence, golden_share, expected_rate, cli: bool) -> None:
    if by not in BY_COLUMNS:
        raise ConfigError(f"{_opt('by', cli)} must be one of {list(BY_COLUMNS)}, got {by!r}")
    if allocation not in ALLOCATIONS:
        raise ConfigError(f"{_opt('allocation', cli)} must be one of {list(ALLOCATIONS)}, got {allocation!r}")
    for name, v, lo, hi in (
        ("margin", margin, 0, 0.5),
        ("confidence", confidence, 0, 1),
        ("expected_rate", expected_rate, 0, 1),
    ):
        if isinstance(v, bool) or not (isinstance(v, (int, float)) and lo < v < hi):
            raise ConfigError(f"{_opt(name, cli)} must lie strictly between {lo} and {hi}, got {v!r}")
    if isinstance(golden_share, bool) or not (isinstance(golden_share, (int, float)) and 0 <= golden_share < 1):
        raise ConfigError(f"{_opt('golden_share', cli)} must lie in [0, 1), got {golden_share!r}")


def _no_week(week: str, weeks: list, cli: bool) -> ConfigError:
    span = f"the data covers weeks {weeks[0].date().isoformat()} to {weeks[-1].date().isoformat()}"
    return ConfigError(f"{_opt('week', cli)} {week}: no decisions that week; {span}")


def _resolve_week(wk: pd.Series, week: str, cli: bool, span_only: bool = False) -> pd.Timestamp:
    """The Monday asked for ("latest" or a date), checked against the weeks in the data.

    With ``span_only`` (``wk`` holds only the first and last week), a Monday between
    them is accepted; the caller then checks that the week has decisions.
    """
    weeks = sorted(pd.Series(wk.unique()).dropna())
    first, last = weeks[0].date().isoformat(), weeks[-1].date().isoformat()
    span = f"the data covers weeks {first} to {last}"
    flag = _opt("week", cli)
    if str(week).strip().lower() == "latest":
        return weeks[-1]
    try:
        target = pd.Timestamp(datetime.strptime(str(week).strip(), "%Y-%m-%d"))
    except ValueError:
        raise ConfigError(f"{flag} {week!r} is not a date (YYYY-MM-DD) or 'latest'; {span}") from None
    if target.day_of_week != 0:
        monday = (target - pd.Timedelta(days=target.day_of_week)).date().isoformat()
        raise ConfigError(f"{flag} {week} is a {target.day_name()}; ISO weeks start on Monday (use {monday}); {span}")
    if not (weeks[0] <= target <= weeks[-1] if span_only else target in set(weeks)):
        raise _no_week(week, weeks, cli)
    return target


def _unit_keys(values: pd.Series) -> pd.Series:
    """Unit names as strings, missing values as ``<NA>`` (the keys of :func:`allocate`)."""
    return values.astype(object).where(values.notna(), NA_KEY).astype(str)


def _design_margin(alloc_table: pd.DataFrame, confidence: float, expected_rate: float = 0.5) -> float:
    """z * SE of a stratified proportion at P_h = ``expected_rate`` in every stratum.

    ``V = sum W_h^2 (N_h - n_h) / (N_h - 1) * P_h Q_h / n_h`` (Cochran 1977, Ch. 5,
    stratified sampling for proportions); with proportional allocation this is
    the simple-random-sampling margin that :func:`sample_size` was solved for.
    """
    t = alloc_table[alloc_table[ALLOCATED] > 0]
    if t.empty:
        return float("nan")
    N = t[POPULATION].to_numpy(float)
    nh = t[ALLOCATED].to_numpy(float)
    W = N / alloc_table[POPULATION].sum()
    fpc = np.where(N > 1, (N - nh) / np.maximum(N - 1, 1), 0.0)
    var = np.sum(W**2 * fpc * expected_rate * (1 - expected_rate) / nh)
    return float(norm.ppf(1 - (1 - confidence) / 2) * math.sqrt(var))


def draw_weekly_sample(
    decisions,
    audits: pd.DataFrame,
    golden: pd.DataFrame | None,
    week: str,
    by: str,
    margin: float,
    confidence: float,
    allocation: str,
    golden_share: float,
    seed: int,
    expected_rate: float = 0.5,
    unit: str | None = None,
) -> WeeklySample:
    """Draw one ISO week's QA sample, sized per unit, with auditors and golden items; no file I/O.

    Steps: keep the ISO week (Monday, UTC) asked for, and the one ``unit`` if
    given; size each unit of ``by`` with :func:`sample_size` (Cochran with
    FPC, at ``expected_rate``); draw a stratified sample with strata
    ``by x policy`` (:func:`make_plan`; Neyman priors from audits of earlier
    weeks); assign auditors (every auditor in ``audits``; never their own
    decisions); mix in golden items. :func:`write_sample_files` writes the result.

    Parameters
    ----------
    decisions : DataFrame, path-like or duckdb.DuckDBPyRelation
        Processed decisions (all weeks: earlier weeks give the Neyman priors).
        A log source (a processed folder, e.g. one with partitioned decisions, a
        parquet file or dataset folder, or a DuckDB relation) is never loaded:
        weeks and unit sizes come from ``GROUP BY`` queries, the Neyman priors
        from the audited decisions only (ids pushed into the scan), golden items
        are looked up by id, and the draw streams the week
        (:mod:`modqa_lib.stats.sampling.log`). Same seed, same sample, same
        ``sample_id`` as from the same decisions in a DataFrame;
        ``population`` is then None.
    audits : DataFrame
        Processed audits: their auditors get the worklists; their errors give Neyman priors.
    golden : DataFrame or None
        Golden items (``item_id``, ``gold_label``, ``policy``); may be None when
        ``golden_share`` is 0.
    week : str
        ``"YYYY-MM-DD"`` (a Monday present in the data) or ``"latest"``.
    by : {"vendor", "site", "market", "queue"}
    margin : float
        Target half-width for each unit's error rate (or accuracy), in (0, 0.5).
    confidence : float
        Confidence level, in (0, 1).
    allocation : {"proportional", "neyman", "equal"}
        How each unit's sample is split over its policies (:func:`allocate`).
    golden_share : float
        Share of golden items in each worklist, in [0, 1).
    seed : int
    expected_rate : float, default 0.5
        Error rate assumed when sizing, in (0, 1). 0.5 is the conservative
        worst case (largest p(1 - p)); a QA team at about 95 % accuracy may
        size with 0.05, which needs about a fifth of the audits for the same
        margin. It is also the prior error rate of strata without audit
        history (Neyman allocation) and the rate the margins are reported at.
    unit : str, optional
        Restrict the sample to this value of ``by``; None, "" or "ALL" keep all.
        The decisions drawn for a unit are the same as that unit's part of the
        all-unit sample (the draw uses permanent random numbers and allocates
        within each unit); auditor assignment and golden items differ.

    Returns
    -------
    WeeklySample
        ``week``, ``by``, ``unit``, ``population`` (None from a log source),
        ``allocation``, ``units``, ``overall_margin``, ``worklist`` and ``plan``.

    Raises
    ------
    ConfigError
        Bad week (names the weeks in the data), ``by``, ``unit``, margin,
        confidence, expected rate, allocation or golden share.
    SamplingError
        No auditors, no golden items while a share is asked, impossible plans.

    Notes
    -----
    Each unit's n is Cochran's ``n0 = z^2 p (1 - p) / e^2`` with the
    finite-population correction (:func:`sample_size`), at least one per
    policy stratum and never more than the unit's decisions. The margin
    reported per unit is z * SE of its stratified estimator at P_h =
    ``expected_rate`` with FPC (Cochran 1977, Ch. 5) [1]_; with proportional
    allocation it is close to ``margin`` by construction.

    References
    ----------
    .. [1] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley, Ch. 4 and 5.
    """
    return _draw_weekly_sample(
        decisions,
        audits,
        golden,
        week=week,
        by=by,
        margin=margin,
        confidence=confidence,
        allocation=allocation,
        golden_share=golden_share,
        seed=seed,
        expected_rate=expected_rate,
        unit=unit,
        cli=False,
    )


@dataclass
class _Week:
    """One week's population as either path sees it: counts, and where to draw, look up and allocate from."""

    week: str
    target: pd.Timestamp
    unit: str | None
    pop_u: pd.Series  # decisions per unit key (sorted)
    policies: pd.Series  # policy strata per unit key
    source: object  # what make_plan and allocate draw from: the week's frame, or the log
    where: str | None  # SQL filter selecting the week (and unit) on the log
    alloc_source: object  # the week's frame, or its StratumCounts
    population: pd.DataFrame | None  # the week's frame; None on the log path (never loaded)
    past_audited: object  # callable(audits, strata) -> audited decisions of earlier weeks
    lookup: object  # callable(ids, columns) -> decisions with those ids (the golden items)
    columns: list[str]  # decision columns available


def _no_unit_error(unit: str, by: str, week_str: str, present: list[str], cli: bool) -> ConfigError:
    return ConfigError(
        f"{_opt('unit', cli)} {unit!r}: no decisions of that {by} in week {week_str}; "
        f"{by} values that week: {present[:20]}" + (" ..." if len(present) > 20 else "")
    )


def _week_in_memory(decisions: pd.DataFrame, week, by: str, unit: str | None, cli: bool) -> _Week:
    from modqa_lib.data import io

    if decisions.empty:
        raise SamplingError("the processed decisions table is empty")
    require_columns(
        decisions,
        [S.DECISION_ID, S.DECIDED_AT, S.SITE, S.MODERATOR_TENURE_DAYS, S.POLICY, by],
        "draw_weekly_sample",
        table="decisions",
    )
    wk = io.add_derived_columns(
        decisions[[S.DECISION_ID, S.DECIDED_AT, S.SITE, S.MODERATOR_TENURE_DAYS]], site_timezones={}
    )[S.WEEK]
    target = _resolve_week(wk, week, cli)
    week_str = target.date().isoformat()
    dw = decisions.loc[(wk == target).to_numpy()]
    units = _unit_keys(dw[by])
    if unit is not None:
        keep = (units == unit).to_numpy()
        if not keep.any():
            raise _no_unit_error(unit, by, week_str, sorted(units.unique()), cli)
        dw, units = dw.loc[keep], units[keep]

    def past_audited(audits, strata):
        return decisions.loc[(wk < target).to_numpy()]

    def lookup(ids, cols):
        return decisions[[S.DECISION_ID, *cols]]

    return _Week(
        week=week_str,
        target=target,
        unit=unit,
        pop_u=units.value_counts().sort_index(),
        policies=dw[S.POLICY].groupby(units.to_numpy()).nunique(dropna=False),
        source=dw,
        where=None,
        alloc_source=dw,
        population=dw,
        past_audited=past_audited,
        lookup=lookup,
        columns=list(decisions.columns),
    )


def _sql_text(v: str) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def _week_from_log(source, week, by: str, unit: str | None, cli: bool) -> _Week:
    """The week on a log source: weeks and counts by GROUP BY, nothing but the sample loaded."""
    from modqa_lib.stats.sampling import _logread
    from modqa_lib.stats.sampling.log import StratumCounts, stratum_counts

    types = _logread.columns(source)
    require_columns(
        pd.DataFrame(columns=list(types)),
        [S.DECISION_ID, S.DECIDED_AT, S.POLICY, by],
        "draw_weekly_sample",
        "decisions",
    )
    ts_type = types[S.DECIDED_AT].upper()
    if not ts_type.startswith("TIMESTAMP"):
        raise ConfigError(f"decisions.{S.DECIDED_AT} must be a timestamp in the log, got {ts_type}")
    tz = "TIME ZONE" in ts_type or ts_type.endswith("TZ")
    utc = f"({S.DECIDED_AT} AT TIME ZONE 'UTC')" if tz else S.DECIDED_AT
    # the first and last week from min and max (one cheap pass); a week between them is checked by its counts
    span = _logread.query(
        source,
        f"CAST(date_trunc('week', min({utc})) AS TIMESTAMP) AS a, CAST(date_trunc('week', max({utc})) AS TIMESTAMP) AS b",
    )
    weeks = pd.to_datetime(pd.Series([span["a"].iloc[0], span["b"].iloc[0]]))
    if weeks.isna().all():
        raise SamplingError("the processed decisions table is empty")
    target = _resolve_week(weeks, week, cli, span_only=True)
    week_str = target.date().isoformat()

    def at(ts: pd.Timestamp) -> str:  # a typed literal: the filter compares the stored column (row-group pruning)
        return f"TIMESTAMPTZ '{ts.isoformat()}+00:00'" if tz else f"TIMESTAMP '{ts.isoformat()}'"

    in_week = f"{S.DECIDED_AT} >= {at(target)} AND {S.DECIDED_AT} < {at(target + pd.Timedelta(days=7))}"
    strata = [by, S.POLICY]
    counts = stratum_counts(source, strata, where=in_week).counts
    if counts.empty:
        raise _no_week(week, list(weeks), cli)
    keys = _unit_keys(counts[by])
    where = in_week
    if unit is not None:
        keep = (keys == unit).to_numpy()
        if not keep.any():
            raise _no_unit_error(unit, by, week_str, sorted(keys.unique()), cli)
        counts, keys = counts.loc[keep].reset_index(drop=True), keys[keep].reset_index(drop=True)
        where += f" AND coalesce(CAST({by} AS VARCHAR), {_sql_text(NA_KEY)}) = {_sql_text(unit)}"
    n = counts["n"].to_numpy(dtype=np.int64)
    pop_u = pd.Series(n, index=keys.to_numpy()).groupby(level=0).sum().sort_index()
    policies = keys.value_counts().reindex(pop_u.index)

    def past_audited(audits, strata):  # only the audited decisions of earlier weeks, ids pushed into the scan
        rows = _logread.rows_by_id(source, audits[S.DECISION_ID], strata, where=f"{S.DECIDED_AT} < {at(target)}")
        return _typed_log(rows)

    def lookup(ids, cols):
        return _typed_log(_logread.rows_by_id(source, ids, cols))

    return _Week(
        week=week_str,
        target=target,
        unit=unit,
        pop_u=pop_u,
        policies=policies,
        source=source,
        where=where,
        alloc_source=StratumCounts(counts, strata, source),
        population=None,
        past_audited=past_audited,
        lookup=lookup,
        columns=list(types),
    )


def _draw_weekly_sample(
    decisions,
    audits,
    golden,
    *,
    week,
    by,
    margin,
    confidence,
    allocation,
    golden_share,
    seed,
    expected_rate,
    unit,
    cli: bool,
) -> WeeklySample:
    _check_weekly_options(by, allocation, margin, confidence, golden_share, expected_rate, cli)
    if golden_share > 0 and golden is None:
        flag = _opt("golden_share", cli)
        raise SamplingError(
            f"{flag} {golden_share:g} asks for golden items but there is no "
            f"golden table in the processed data; ingest one or use {flag} 0"
        )
    unit = None if unit in _ALL_UNITS else str(unit)
    if is_log_source(decisions):
        w = _week_from_log(decisions, week, by, unit, cli)
    else:
        w = _week_in_memory(decisions, week, by, unit, cli)
    week_str, pop_u = w.week, w.pop_u

    # size each unit to the margin
    n_map = {}
    policies = w.policies.to_dict()
    for u, N_u in pop_u.items():
        n_u = sample_size(int(N_u), margin, confidence, expected_rate)
        n_map[u] = int(min(N_u, max(n_u, int(policies[u]))))  # one per stratum, never above N
    strata = [by, S.POLICY]

    priors = None
    if allocation == "neyman":  # from all earlier weeks and units, so a unit's draw matches the all-unit draw
        priors = estimate_prior_error_rates(w.past_audited(audits, strata), audits, strata)  # type: ignore[operator]
        if priors.empty:
            priors = None

    # default_prior is recorded only when it is not the default, so sample ids of 0.5 plans stay as they were
    prior_kw = {} if expected_rate == 0.5 else {"default_prior": expected_rate}
    plan, sample = make_plan(
        w.source,
        "stratified",
        seed=seed,
        strata=strata,
        n=n_map,
        allocation=allocation,
        prior_error_rates=priors,
        return_sample=True,
        where=w.where,
        **prior_kw,
        metadata={
            "week": week_str,
            "by": by,
            "unit": unit,
            "margin": margin,
            "confidence": confidence,
            "expected_rate": expected_rate,
            "golden_share": golden_share,
        },
    )
    # worklists from the sample in id order: the same whatever the row order of the source (DataFrame or log)
    sample = sample.sort_values(S.DECISION_ID, kind="stable", ignore_index=True)
    s_assign, s_golden = (np.random.default_rng(s) for s in np.random.SeedSequence(plan.seed).spawn(2))
    auditors = sorted(audits[S.AUDITOR_ID].dropna().astype(str).unique()) if S.AUDITOR_ID in audits else []
    if not auditors:
        raise SamplingError("no auditor ids in past audits: cannot assign worklists")
    assigned = assign_auditors(sample, auditors, seed=s_assign)
    if golden is not None and len(golden):  # golden items that are past decisions look like decisions
        look = [
            c
            for c in (S.CONTENT_ID, S.CONTENT_TYPE, S.QUEUE, S.MARKET, S.LANGUAGE)
            if c in w.columns and c not in golden.columns
        ]
        if look:
            golden = golden.merge(
                w.lookup(golden[S.ITEM_ID], look).rename(columns={S.DECISION_ID: S.ITEM_ID}),  # type: ignore[operator]
                on=S.ITEM_ID,
                how="left",
                validate="one_to_one",
            )
    worklist = inject_golden(
        assigned, golden if golden is not None else pd.DataFrame({S.ITEM_ID: []}), share=golden_share, seed=s_golden
    )
    worklist[S.SAMPLE_ID] = plan.sample_id

    alloc_tab = allocate(
        w.alloc_source,  # type: ignore[arg-type]  # a frame or StratumCounts
        strata,
        n_map,
        allocation,
        prior_error_rates=priors,
        default_prior=expected_rate,
        confidence=confidence,
    )
    alloc_units = _unit_keys(alloc_tab[by])
    unit_tab = pd.DataFrame(
        {
            UNIT: pd.array(pop_u.index.astype(str), dtype="str"),  # type: ignore[call-overload]  # pandas-stubs: Index is array-like
            POPULATION: pop_u.to_numpy(dtype=np.int64),
            DRAWN: [int(alloc_tab.loc[(alloc_units == u).to_numpy(), ALLOCATED].sum()) for u in pop_u.index],
            MARGIN: [
                _design_margin(alloc_tab[(alloc_units == u).to_numpy()], confidence, expected_rate) for u in pop_u.index
            ],
        }
    )
    overall = _design_margin(alloc_tab, confidence, expected_rate)
    per_auditor = worklist[S.AUDITOR_ID].value_counts()
    metadata = dict(
        plan.metadata,
        auditors=auditors,
        golden_items=int(worklist[S.IS_GOLDEN].sum()),
        units={
            r[UNIT]: {"population": int(r[POPULATION]), "drawn": int(r[DRAWN]), "margin": round(float(r[MARGIN]), 6)}
            for _, r in unit_tab.iterrows()
        },
        overall_margin=round(overall, 6),
        worklist_sizes={str(k): int(v) for k, v in per_auditor.sort_index().items()},
    )
    plan = SamplePlan(**{**asdict(plan), "metadata": _jsonable(metadata)})
    return WeeklySample(
        week=week_str,
        by=by,
        unit=unit,
        population=w.population,
        allocation=alloc_tab,
        units=unit_tab,
        overall_margin=overall,
        worklist=worklist,
        plan=plan,
    )


def _safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(s)).strip("._") or "auditor"


def sample_folder(sample: WeeklySample, out) -> Path:
    """Where :func:`write_sample_files` puts a sample: ``<out>/samples/<week>/`` (``.../<by>_<unit>/`` for one unit)."""
    folder = Path(out) / "samples" / sample.week
    return folder if sample.unit is None else folder / f"{sample.by}_{_safe_name(sample.unit)}"


def write_sample_files(sample: WeeklySample, out) -> list[Path]:
    """Write a weekly sample's worklists, answer key and plan, atomically.

    Parameters
    ----------
    sample : WeeklySample
        From :func:`draw_weekly_sample`.
    out : path-like
        Outputs folder; files go to :func:`sample_folder`: ``<out>/samples/<week>/``,
        or ``<out>/samples/<week>/<by>_<unit>/`` for a sample restricted to one unit.

    Returns
    -------
    list of Path
        The files written: one ``worklist_<auditor>.csv`` per auditor with work
        (sorted by auditor), then ``sample.csv`` and ``plan.json``.

    Notes
    -----
    ``worklist_<auditor>.csv`` is blind: ``sample_id``, ``decision_id``,
    ``content_id``, ``policy``, shuffled, golden items indistinguishable.
    ``sample.csv`` is the answer key (every row with auditor, stratum,
    inclusion_prob, weight, is_golden, gold_label); ``plan.json`` is
    :func:`save_plan`. Every file is written atomically (temporary file, then
    rename); worklists of a previous run in the same folder for auditors with
    no work now are removed.
    """
    from modqa_lib.data import io

    folder = sample_folder(sample, out)
    worklist = sample.worklist
    written: list[Path] = []
    names = set()
    for a in sample.auditors:
        rows = worklist[worklist[S.AUDITOR_ID] == a]
        if rows.empty:
            continue
        name = f"worklist_{_safe_name(a)}.csv"
        if name in names:  # two ids that differ only in characters unsafe in file names
            name = f"worklist_{_safe_name(a)}_{hashlib.sha256(a.encode()).hexdigest()[:6]}.csv"
        written.append(io.write_csv_atomic(rows[list(WORKLIST_COLUMNS)], folder / name))
        names.add(name)
    for old in folder.glob("worklist_*.csv"):
        if old.name not in names:
            old.unlink()
    written.append(io.write_csv_atomic(worklist, folder / "sample.csv"))
    written.append(save_plan(sample.plan, folder / "plan.json"))
    return written


# ======================================================================= CLI
def decisions_on_log(processed=None) -> bool:
    """Whether ``modqa sample`` draws from the log on disk rather than from the decisions in pandas.

    Parameters
    ----------
    processed : path-like, optional
        Processed-data folder (default ``data/processed``).

    Returns
    -------
    bool
        True when the published decisions are a hive-partitioned dataset
        (:func:`modqa_lib.data.io.decisions_partitioned`) or hold more rows than
        the pandas guard rail allows (:func:`modqa_lib.data.duck.check_pandas_rows`,
        ``MODQA_MAX_PANDAS_ROWS``).
    """
    from modqa_lib.data import duck, io
    from modqa_lib.errors import TooLargeError

    snap = io.processed_snapshot(processed)
    if io.decisions_partitioned(snap):
        return True
    try:
        duck.check_pandas_rows(duck.decision_rows(snap), "decisions", "the log path")
    except TooLargeError:
        return True
    return False


def run_sample_command(
    week: str,
    by: str,
    margin: float,
    confidence: float,
    allocation: str,
    golden_share: float,
    seed: int,
    processed,
    out,
    expected_rate: float = 0.5,
) -> str:
    """The ``modqa sample`` command: draw the week's QA sample and write auditor worklists.

    Loads the processed audits (and golden items) and the decisions, draws with
    :func:`draw_weekly_sample` and writes with :func:`write_sample_files`. When
    the published decisions are partitioned or above the pandas guard rail
    (:func:`decisions_on_log`), the decisions are not loaded: the draw queries
    the log with DuckDB (same seed, same sample as in memory).

    Parameters
    ----------
    week : str
        ``"YYYY-MM-DD"`` (a Monday present in the data) or ``"latest"``.
    by : {"vendor", "site", "market", "queue"}
    margin, confidence : float
        Target half-width and level for each unit's accuracy.
    allocation : {"proportional", "neyman", "equal"}
    golden_share : float
        Share of golden items in each worklist, in [0, 1).
    seed : int
    processed, out : path-like
        Processed-data folder and outputs folder.
    expected_rate : float, default 0.5
        Error rate assumed when sizing (0.5: conservative worst case).

    Returns
    -------
    str
        Human summary: units, population, n drawn, margin per unit, files.

    Notes
    -----
    Writes ``<out>/samples/<week>/`` as :func:`write_sample_files` describes.
    The margin shown is z * SE of the unit's stratified estimator at
    p = ``expected_rate`` with FPC.

    Raises
    ------
    ConfigError
        Bad week (names the available range), ``by``, margin, confidence, expected rate.
    SamplingError
        No auditors, no golden items while a share is asked, impossible plans.
    """
    from modqa_lib.data import io

    _check_weekly_options(by, allocation, margin, confidence, golden_share, expected_rate, cli=True)
    snap = io.processed_snapshot(processed)  # one published version for every table read below
    audits = io.load_processed(snap, tables=["audits"])["audits"]
    decisions = snap if decisions_on_log(snap) else io.load_processed(snap, tables=["decisions"])["decisions"]
    golden = None
    if golden_share > 0:
        try:
            golden = io.load_processed(snap, tables=["golden"])["golden"]
        except InputFileError:
            golden = None  # draw_weekly_sample says what to do
    sample = _draw_weekly_sample(
        decisions,
        audits,
        golden,
        week=week,
        by=by,
        margin=margin,
        confidence=confidence,
        allocation=allocation,
        golden_share=golden_share,
        seed=seed,
        expected_rate=expected_rate,
        unit=None,
        cli=True,
    )
    written = write_sample_files(sample, out)

    plan, units = sample.plan, sample.units
    n_golden = int(sample.worklist[S.IS_GOLDEN].sum())
    n_drawn = len(sample.worklist) - n_golden
    n_lists = sum(p.name.startswith("worklist_") for p in written)
    rate = "worst case p = 0.5" if expected_rate == 0.5 else f"assumed error rate p = {expected_rate:g}"
    width = max([len(by)] + [len(u) for u in units[UNIT]])
    lines = [
        f"sample {plan.sample_id}: week {sample.week}, by {by}, {allocation} allocation, seed {seed}",
        f"  {by:<{width}}  {'population':>10}  {'drawn':>6}  margin",
    ]
    for u, N, n, mg in units[[UNIT, POPULATION, DRAWN, MARGIN]].itertuples(index=False):
        lines.append(f"  {u:<{width}}  {N:>10,}  {n:>6,}  +/-{100 * mg:.1f} pts")
    lines.append(
        f"  {n_drawn:,} decisions + {n_golden:,} golden items in {n_lists} worklists "
        f"(margin: {confidence:.0%} half-width of each unit's accuracy, {rate})"
    )
    lines.append(f"  written to {sample_folder(sample, out)}")
    return "\n".join(lines)
