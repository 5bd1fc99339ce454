"""Operations beside quality: handle time, SLA adherence, productivity, cost per correct decision, speed-quality flags.

Quality managers are judged on accuracy, speed and cost together; these tables
put them side by side with honest intervals, so a site that gets faster by
getting sloppier shows up as exactly that.

What is a population figure and what is a sample estimate
---------------------------------------------------------
Handle times and queue waits are logged for **every** decision, so medians,
SLA shares and decisions per hour are computed over the whole log of the
period. Their intervals describe the process that generates the week's work
(next week's handle times are a new draw from it), not sampling error: a
median's interval is the distribution-free order-statistic interval [1]_ via
:func:`scipy.stats.quantile_test`, a share's is Wilson's [2]_ via
:func:`statsmodels.stats.proportion.proportion_confint`, a mean's is
Student's t via :class:`statsmodels.stats.weightstats.DescrStatsW`.
Accuracy comes from the QA sample and is design-weighted
(:func:`modqa_lib.stats.scoring.accuracy_table`); cost per correct decision
divides the (population) cost per decision by it, so its interval is the
accuracy interval mapped through ``cost / accuracy`` (monotone, so the
coverage is the accuracy interval's).

Flags (speed-quality) are intersection-union tests [3]_: a unit is flagged
only when it is both significantly faster and significantly less accurate
than the rest, each family Benjamini-Hochberg corrected [4]_ across the units
of the report; the chance that a report flags any unit when no unit differs
stays at or below ``alpha`` (checked by simulation in the tests).

References
----------
.. [1] Conover, W. J. (1999). *Practical Nonparametric Statistics*, 3rd ed.,
   Wiley, section 3.2 (confidence interval for a quantile).
.. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and
   statistical inference. *JASA* 22(158), 209-212.
.. [3] Berger, R. L. (1982). Multiparameter hypothesis testing and acceptance
   sampling. *Technometrics* 24(4), 295-300.
.. [4] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery
   rate. *JRSS B* 57(1), 289-300.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, DataContractError
from modqa_lib.stats.scoring import accuracy_table, bh_qvalues, target_status

__all__ = [
    "cost_table",
    "handle_time_table",
    "handle_time_weekly",
    "mannwhitney_less_vs_rest",
    "order_statistic_ranks",
    "productivity_table",
    "quantile_ci",
    "sla_peaks",
    "sla_table",
    "sla_weekly",
    "speed_quality",
    "time_to_action_min",
]

WAIT_MIN = "wait_min"
WITHIN_SLA = "within_sla"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _as_list(by) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _need(frame: pd.DataFrame, cols: Sequence[str], func: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataContractError(
            [
                {"table": "decisions", "column": c, "rule": f"required by {func}() but missing", "count": len(frame)}
                for c in missing
            ]
        )


def _strata(audits: pd.DataFrame) -> str | None:
    return S.STRATUM if S.STRATUM in audits.columns else None


def _conf(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1); got {alpha!r}")
    return 1.0 - alpha


def _groups(frame: pd.DataFrame, by: list[str]):
    if not by:
        yield (), frame
        return
    for key, g in frame.groupby(by, sort=True, observed=True, dropna=False):
        yield (key if isinstance(key, tuple) else (key,)), g


# --------------------------------------------------------------------- quantiles
def quantile_ci(x, q: float = 0.5, alpha: float = 0.05) -> tuple[float, float, float]:
    """A sample quantile with its distribution-free (order-statistic) confidence interval.

    Parameters
    ----------
    x : array_like
        Observations (NaN dropped).
    q : float, default 0.5
        The quantile (0.5: median, 0.9: 90th percentile).
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    tuple of float
        ``(estimate, ci_low, ci_high)``; NaN when there are no observations, and
        an infinite bound where too few observations exist to bound it.

    Notes
    -----
    The interval is the exact binomial interval for the ``q`` quantile from
    order statistics (Conover 1999, section 3.2), the ranks of :func:`scipy.stats.quantile_test`
    (``p=q``; see :func:`order_statistic_ranks`); the estimate is :func:`numpy.quantile` (linear interpolation).

    Examples
    --------
    >>> est, lo, hi = quantile_ci(np.arange(1, 101), q=0.5)
    >>> float(est), float(lo) <= 50.5 <= float(hi)
    (50.5, True)
    """
    a = np.asarray(x, dtype=float)
    a = np.sort(a[~np.isnan(a)])
    if a.size == 0:
        return np.nan, np.nan, np.nan
    lo_rank, hi_rank = order_statistic_ranks(np.array([a.size]), q, alpha)
    return _sorted_quantile_ci(a, q, int(lo_rank[0]), int(hi_rank[0]))


def order_statistic_ranks(n, q: float = 0.5, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """0-based ranks of the order statistics bounding the ``q`` quantile's interval, for each sample size.

    The ranks depend only on ``n``, ``q`` and ``alpha``, so a table of many groups
    computes them once (one vectorised binomial call) and indexes each group's
    sorted values.

    Parameters
    ----------
    n : array_like of int
        Sample sizes (at least 1).
    q : float, default 0.5
        The quantile.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    (ndarray, ndarray)
        ``low`` and ``high`` ranks (int); ``low < 0`` or ``high >= n`` means that
        bound does not exist (too few observations).

    Notes
    -----
    Exactly the ranks of :meth:`scipy.stats.quantile_test`'s two-sided
    ``confidence_interval``: ``ppf((1 - conf) / 2) - 1`` and ``isf((1 - conf) / 2)``
    of Binomial(``n``, ``q``) [1]_ (pinned to it in the tests).

    References
    ----------
    .. [1] Conover, W. J. (1999). *Practical Nonparametric Statistics*, 3rd ed.,
       Wiley, section 3.2 (confidence interval for a quantile).
    """
    n = np.asarray(n, dtype=np.int64)
    p = (1 - _conf(alpha)) / 2
    low = stats.binom.ppf(p, n, q).astype(np.int64) - 1
    high = stats.binom.isf(p, n, q).astype(np.int64)
    return low, high


def _sorted_quantile_ci(a: np.ndarray, q: float, low: int, high: int) -> tuple[float, float, float]:
    """Estimate and interval of the ``q`` quantile of sorted, NaN-free ``a`` from its bounding ranks."""
    n = a.size
    return (
        float(np.quantile(a, q)),
        float(a[low]) if low >= 0 else np.nan,
        float(a[high]) if high < n else np.nan,
    )


def handle_time_table(
    decisions: pd.DataFrame,
    by=S.SITE,
    alpha: float = 0.05,
    targets: Mapping | None = None,
) -> pd.DataFrame:
    """Median and 90th-percentile handle time per group, with distribution-free intervals.

    Parameters
    ----------
    decisions : DataFrame
        Decisions with ``handle_time_s`` (machine decisions, with no handle time, are left out).
    by : str or list of str, default SITE
        Grouping columns (site, vendor, queue, policy, shift, moderator, week, ...).
    alpha : float, default 0.05
        1 - confidence level of the intervals.
    targets : mapping, optional
        The ``operations`` section of ``params/targets.yaml``; with ``aht_s`` and
        ``content_type`` in ``by`` (or one content type in a group), adds the target
        (a ceiling on the median) and its status.

    Returns
    -------
    DataFrame
        ``by`` columns, ``n``, ``median_s``, ``median_ci_low``, ``median_ci_high``,
        ``p90_s``, ``p90_ci_low``, ``p90_ci_high``, ``mean_s``; with targets also
        ``aht_target_s`` and ``aht_status`` ("met", "at risk", "missed": the median
        against the ceiling, judged by its interval).
    """
    by = _as_list(by)
    _need(decisions, [S.HANDLE_TIME_S, *by], "handle_time_table")
    d = decisions[decisions[S.HANDLE_TIME_S].notna()]
    groups = [(key, g, g[S.HANDLE_TIME_S].to_numpy(dtype=float)) for key, g in _groups(d, by)]
    sizes = np.array([len(x) for _, _, x in groups], dtype=np.int64)
    med_ranks = order_statistic_ranks(sizes, 0.5, alpha)
    p90_ranks = order_statistic_ranks(sizes, 0.9, alpha)
    rows = []
    for i, (key, g, x) in enumerate(groups):
        xs = np.sort(x)  # the mean below stays over x in its order (same float sum as before)
        med, mlo, mhi = _sorted_quantile_ci(xs, 0.5, int(med_ranks[0][i]), int(med_ranks[1][i]))
        p90, plo, phi = _sorted_quantile_ci(xs, 0.9, int(p90_ranks[0][i]), int(p90_ranks[1][i]))
        row = dict(zip(by, key))
        row.update(
            n=len(x),
            median_s=med,
            median_ci_low=mlo,
            median_ci_high=mhi,
            p90_s=p90,
            p90_ci_low=plo,
            p90_ci_high=phi,
            mean_s=float(x.mean()),
        )
        if targets is not None:
            row["aht_target_s"] = _aht_target(targets, g)
        rows.append(row)
    out = pd.DataFrame(rows)
    if targets is not None and not out.empty:
        out["aht_status"] = target_status(
            out["median_s"], out["median_ci_low"], out["median_ci_high"], out["aht_target_s"], higher_is_better=False
        )
        out.loc[out["aht_target_s"].isna(), "aht_status"] = "no target"
    return out


def _as_float(v: object) -> float:
    return float(v) if isinstance(v, (int, float)) else np.nan


def _aht_target(targets: Mapping, g: pd.DataFrame) -> float:
    aht = dict((targets or {}).get("aht_s") or {})
    types: list[str] = [str(t) for t in g[S.CONTENT_TYPE].unique()] if S.CONTENT_TYPE in g else []
    vals = {_as_float(aht.get(t, aht.get("default"))) for t in types}
    if not vals:
        return float(aht.get("default", np.nan))
    return max(vals) if len(vals) > 1 else vals.pop()


def _week(decided_at: pd.Series) -> np.ndarray:
    ts = pd.to_datetime(decided_at, utc=True)
    return (ts.dt.tz_localize(None).dt.normalize() - pd.to_timedelta(ts.dt.day_of_week, unit="D")).to_numpy(
        dtype="datetime64[ns]"
    )


def handle_time_weekly(decisions: pd.DataFrame, by=S.SITE, alpha: float = 0.05) -> pd.DataFrame:
    """Weekly median handle time per group with its interval (the trend).

    Parameters
    ----------
    decisions : DataFrame
        Decisions with ``decided_at`` and ``handle_time_s``.
    by : str or list of str, default SITE
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        :func:`handle_time_table` columns per ``by`` group and ``week`` (Monday, UTC).
    """
    _need(decisions, [S.DECIDED_AT], "handle_time_weekly")
    d = decisions.assign(**{S.WEEK: _week(decisions[S.DECIDED_AT])})
    return handle_time_table(d, by=[*_as_list(by), S.WEEK], alpha=alpha)


# ----------------------------------------------------------------- productivity
def productivity_table(
    decisions: pd.DataFrame, by=S.SITE, alpha: float = 0.05, target: float | None = None
) -> pd.DataFrame:
    """Decisions per productive hour (3600 / mean handle time) per group, with its interval.

    Parameters
    ----------
    decisions : DataFrame
        Decisions with ``handle_time_s``; machine decisions are left out.
    by : str or list of str, default SITE
    alpha : float, default 0.05
    target : float, optional
        Decisions per hour a group should reach (``operations.decisions_per_hour``).

    Returns
    -------
    DataFrame
        ``by`` columns, ``n``, ``productive_hours``, ``decisions_per_hour``,
        ``decisions_per_hour_ci_low``, ``decisions_per_hour_ci_high`` (the t interval
        of the mean handle time, inverted), and with a target ``target`` and ``status``.
    """
    by = _as_list(by)
    _need(decisions, [S.HANDLE_TIME_S, *by], "productivity_table")
    d = decisions[decisions[S.HANDLE_TIME_S].notna()]
    rows = []
    for key, g in _groups(d, by):
        x = g[S.HANDLE_TIME_S].to_numpy(dtype=float)
        if len(x) < 2:
            lo = hi = np.nan
        else:
            lo, hi = DescrStatsW(x).tconfint_mean(alpha=alpha)
        mean = float(x.mean())
        row = dict(zip(by, key))
        row.update(
            n=len(x),
            productive_hours=float(x.sum()) / 3600.0,
            decisions_per_hour=3600.0 / mean if mean > 0 else np.nan,
            decisions_per_hour_ci_low=3600.0 / hi if hi > 0 else np.nan,
            decisions_per_hour_ci_high=3600.0 / lo if lo > 0 else np.inf,
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    if target is not None and not out.empty:
        out["target"] = float(target)
        out["status"] = target_status(
            out["decisions_per_hour"],
            out["decisions_per_hour_ci_low"],
            out["decisions_per_hour_ci_high"],
            out["target"],
        )
    return out


# -------------------------------------------------------------------------- SLA
def time_to_action_min(decisions: pd.DataFrame) -> pd.Series:
    """Minutes from entering the queue (``reported_at``) to the decision; NaN where ``reported_at`` is missing."""
    _need(decisions, [S.REPORTED_AT, S.DECIDED_AT], "time_to_action_min")
    rep = pd.to_datetime(decisions[S.REPORTED_AT], utc=True)
    dec = pd.to_datetime(decisions[S.DECIDED_AT], utc=True)
    return ((dec - rep).dt.total_seconds() / 60.0).rename(WAIT_MIN)


def _sla_for(targets: Mapping | None, content_type: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    sla = dict((targets or {}).get("sla") or {})
    if not sla:
        raise ConfigError("params/targets.yaml: operations.sla is missing (SLA minutes and share by content type)")
    default = sla.get("default") or {}
    # one look-up per distinct content type, not per decision
    codes, types = pd.factorize(content_type, use_na_sentinel=False)
    rules = [sla.get(str(t)) or default for t in types]
    mins = np.array([r.get("minutes", np.nan) for r in rules], dtype=float)[codes]
    share = np.array([r.get("share", np.nan) for r in rules], dtype=float)[codes]
    return mins, share


def _with_sla(decisions: pd.DataFrame, targets: Mapping | None) -> pd.DataFrame:
    _need(decisions, [S.REPORTED_AT, S.DECIDED_AT, S.CONTENT_TYPE], "sla_table")
    d = decisions.assign(**{WAIT_MIN: time_to_action_min(decisions).to_numpy()})
    mins, share = _sla_for(targets, d[S.CONTENT_TYPE])
    return d.assign(sla_minutes=mins, sla_share=share, **{WITHIN_SLA: d[WAIT_MIN].to_numpy() <= mins})


def _share_rows(d: pd.DataFrame, by: list[str], alpha: float) -> pd.DataFrame:
    known = d[WAIT_MIN].notna().to_numpy()
    within = np.where(known, d[WITHIN_SLA].to_numpy(dtype=float), 0.0)
    work = pd.DataFrame(
        {"_known": known.astype(np.int64), "_within": within, "_min": d["sla_minutes"], "_share": d["sla_share"]},
        index=d.index,
    )
    if by:
        work = pd.concat([d[by], work], axis=1)
        g = work.groupby(by, sort=True, observed=True, dropna=False)
        if g.ngroups == 0:
            return pd.DataFrame()
        agg = g.agg(
            n=("_known", "sum"),
            size=("_known", "size"),
            within=("_within", "sum"),
            first_min=("_min", "first"),
            first_share=("_share", "first"),
        )
        agg["n_min"] = g["_min"].nunique(dropna=False)
        agg["n_share"] = g["_share"].nunique(dropna=False)
        idx = agg.index
        keys = {c: list(idx.get_level_values(i)) for i, c in enumerate(by)}
    else:
        agg = pd.DataFrame(
            {
                "n": [int(known.sum())],
                "size": [len(d)],
                "within": [within.sum()],
                "n_min": [d["sla_minutes"].nunique(dropna=False)],
                "first_min": [d["sla_minutes"].iloc[0] if len(d) else np.nan],
                "n_share": [d["sla_share"].nunique(dropna=False)],
                "first_share": [d["sla_share"].iloc[0] if len(d) else np.nan],
            }
        )
        keys = {}
    n = agg["n"].to_numpy(dtype=np.int64)
    k = agg["within"].to_numpy(dtype=float).astype(np.int64)
    has = n > 0
    lo, hi = np.full(len(n), np.nan), np.full(len(n), np.nan)
    if has.any():
        lo[has], hi[has] = proportion_confint(k[has], n[has], alpha=alpha, method="wilson")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(has, k / np.where(has, n, 1), np.nan)
    return pd.DataFrame(
        {
            **keys,
            "n": n,
            "n_no_report": agg["size"].to_numpy(dtype=np.int64) - n,
            "within": k,
            "share": share,
            "ci_low": lo,
            "ci_high": hi,
            "sla_minutes": np.where(agg["n_min"].to_numpy() == 1, agg["first_min"].to_numpy(dtype=float), np.nan),
            "target": np.where(agg["n_share"].to_numpy() == 1, agg["first_share"].to_numpy(dtype=float), np.nan),
        }
    )


def sla_table(decisions: pd.DataFrame, targets: Mapping | None, by=S.QUEUE, alpha: float = 0.05) -> pd.DataFrame:
    """Share of items actioned within their SLA per group, with Wilson intervals, against the target share.

    Parameters
    ----------
    decisions : DataFrame
        Decisions with ``reported_at``, ``decided_at`` and ``content_type``.
    targets : mapping
        The ``operations`` section of ``params/targets.yaml`` (``sla``: minutes and
        share by content type, with a ``default``).
    by : str or list of str, default QUEUE
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        ``by`` columns, ``n`` (items with a ``reported_at``), ``n_no_report``, ``within``,
        ``share``, ``ci_low``, ``ci_high``, ``sla_minutes`` and ``target`` (NaN when a
        group mixes content types with different SLAs), ``status``.
    """
    by = _as_list(by)
    out = _share_rows(_with_sla(decisions, targets), by, alpha)
    if not out.empty:
        out["status"] = target_status(out["share"], out["ci_low"], out["ci_high"], out["target"])
        out.loc[out["target"].isna(), "status"] = "mixed SLAs"
    return out


def sla_weekly(decisions: pd.DataFrame, targets: Mapping | None, by=None, sigma: float = 3.0) -> pd.DataFrame:
    """Weekly p chart of SLA breaches (items not actioned within their SLA).

    Parameters
    ----------
    decisions : DataFrame
    targets : mapping
        The ``operations`` section of ``params/targets.yaml``.
    by : str or list of str, optional
    sigma : float, default 3

    Returns
    -------
    DataFrame
        The columns of :func:`modqa_lib.stats.drift.p_chart` with the breach rate as ``error_rate``.
    """
    from modqa_lib.stats.drift import p_chart

    d = _with_sla(decisions, targets)
    d = d[d[WAIT_MIN].notna()]
    frame = d.assign(**{S.WEEK: _week(d[S.DECIDED_AT]), "breach": ~d[WITHIN_SLA].to_numpy()})
    return p_chart(frame, period=S.WEEK, by=_as_list(by) or None, outcome="breach", sigma=sigma)


def sla_peaks(
    decisions: pd.DataFrame,
    targets: Mapping | None,
    alpha: float = 0.05,
    tz: str = "UTC",
    min_n: int = 30,
    hours_per_block: int = 3,
    by=None,
) -> pd.DataFrame:
    """SLA share by day of week and block of hours; blocks significantly below the target share are flagged.

    Parameters
    ----------
    decisions : DataFrame
        Decisions with ``reported_at``; one SLA must apply within each ``by`` group.
    targets : mapping
        The ``operations`` section of ``params/targets.yaml``.
    alpha : float, default 0.05
        False-discovery level across the cells tested (Benjamini-Hochberg).
    tz : str, default "UTC"
        Time zone for day and hour.
    min_n : int, default 30
        Cells with fewer items are shown but not tested.
    hours_per_block : {1, 2, 3, 4, 6, 8, 12, 24}, default 3
        Width of the hour blocks (``hour`` is the block's first hour).
    by : str or list of str, optional
        Groups (e.g. ``QUEUE``): blocks are tested within each group and the
        correction runs across every block of every group (one family per report).

    Returns
    -------
    DataFrame
        ``by`` columns, ``day``, ``hour``, ``n``, ``within``, ``share``, ``ci_low``, ``ci_high``,
        ``target``, ``p_value`` (one-sided exact binomial test of share < target),
        ``q_value``, ``flag``; sorted by day and hour.
    """
    by = _as_list(by)
    d = _with_sla(decisions, targets)
    if (d.groupby(by)["sla_share"].nunique() if by else pd.Series([d["sla_share"].nunique()])).max() > 1:
        raise ConfigError("sla_peaks needs one SLA per group: pass one queue or one content type, or by=queue")
    local = pd.to_datetime(d[S.DECIDED_AT], utc=True).dt.tz_convert(tz)
    if hours_per_block not in (1, 2, 3, 4, 6, 8, 12, 24):
        raise ConfigError(f"hours_per_block must divide 24; got {hours_per_block!r}")
    hour = local.dt.hour.to_numpy() // hours_per_block * hours_per_block
    d = d.assign(day=local.dt.day_of_week.to_numpy(), hour=hour)
    out = _share_rows(d, [*by, "day", "hour"], alpha)
    if out.empty:
        return out.assign(p_value=[], q_value=[], flag=[])
    tested = out["n"] >= min_n
    p = np.full(len(out), np.nan)
    t = tested.to_numpy()
    # binomtest(k, n, target, alternative="less").pvalue is binom.cdf(k, n, target); vectorised
    p[t] = stats.binom.cdf(out["within"].to_numpy()[t], out["n"].to_numpy()[t], out["target"].to_numpy(dtype=float)[t])
    q = bh_qvalues(p)
    out["p_value"], out["q_value"] = p, q
    out["flag"] = np.nan_to_num(q, nan=1.0) < alpha
    out["day"] = [_DAYS[int(x)] for x in out["day"]]
    return out


# ------------------------------------------------------------------------- cost
def _rate_for(rates: Mapping, vendor: str, site: str | None) -> tuple[str, float] | None:
    sites = dict(rates.get("sites") or {})
    vendors = dict(rates.get("vendors") or {})
    spec = sites.get(site) if site is not None and site in sites else vendors.get(vendor)
    if spec is None:
        return None
    basis, price = spec.get("basis"), spec.get("price")
    if basis not in ("per_decision", "per_hour") or not isinstance(price, (int, float)) or price <= 0:
        raise ConfigError(
            f"params/rates.yaml: {site or vendor}: basis must be per_decision or per_hour and price a positive number"
        )
    return basis, float(price)


def cost_table(
    decisions: pd.DataFrame,
    audits: pd.DataFrame,
    rates: Mapping,
    by=S.VENDOR,
    alpha: float = 0.05,
    weights: str | None = S.WEIGHT,
) -> pd.DataFrame:
    """Cost per decision and cost per **correct** decision per vendor (or vendor and site).

    Parameters
    ----------
    decisions : DataFrame
        Human (and HITL) decisions of the period with ``handle_time_s``.
    audits : DataFrame
        Non-golden audits joined to decisions (design weights in ``weights``).
    rates : mapping
        ``params/rates.yaml``: ``vendors`` (and optional ``sites``) with ``basis``
        (``per_decision`` or ``per_hour``, an hour being a productive hour: the sum of
        handle times) and ``price``; ``currency``.
    by : {VENDOR, [VENDOR, SITE]}, default VENDOR
    alpha : float, default 0.05
    weights : str, optional
        Design-weight column of ``audits`` (default ``weight``).

    Returns
    -------
    DataFrame
        ``by`` columns, ``basis``, ``price``, ``n_decisions``, ``cost_per_decision``,
        ``n`` (audits), ``accuracy``, ``ci_low``, ``ci_high`` (design-weighted),
        ``cost_per_correct``, ``cost_per_correct_ci_low``, ``cost_per_correct_ci_high``,
        ``rank_per_decision``, ``rank_per_correct``, ``note`` (e.g. no price). Sorted by
        ``cost_per_correct``.

    Notes
    -----
    Cost per decision is a population figure (prices and the whole log); the
    interval of cost per correct decision is ``cost / [ci_high, ci_low]`` of the
    accuracy interval, so it covers exactly when the accuracy interval does.
    """
    by = _as_list(by)
    if not by or by[0] != S.VENDOR or len(by) > 2 or (len(by) == 2 and by[1] != S.SITE):
        raise ConfigError("cost_table: by must be 'vendor' or ['vendor', 'site']")
    _need(decisions, [S.HANDLE_TIME_S, *by], "cost_table")
    acc = accuracy_table(audits, by=by, weights=weights, alpha=alpha, strata=_strata(audits))
    rows = []
    for key, g in _groups(decisions[decisions[S.HANDLE_TIME_S].notna()], by):
        row = dict(zip(by, key))
        rate = _rate_for(rates, str(key[0]), str(key[1]) if len(key) > 1 else None)
        row["n_decisions"] = len(g)
        if rate is None:
            row.update(
                basis=None, price=np.nan, cost_per_decision=np.nan, note="no contract price in params/rates.yaml"
            )
        else:
            basis, price = rate
            per = price if basis == "per_decision" else price * float(g[S.HANDLE_TIME_S].sum()) / 3600.0 / len(g)
            row.update(basis=basis, price=price, cost_per_decision=per, note="")
        rows.append(row)
    out = pd.DataFrame(rows).merge(acc[[*by, "n", "accuracy", "ci_low", "ci_high"]], on=by, how="left")
    out["cost_per_correct"] = out["cost_per_decision"] / out["accuracy"]
    out["cost_per_correct_ci_low"] = out["cost_per_decision"] / out["ci_high"]
    out["cost_per_correct_ci_high"] = out["cost_per_decision"] / out["ci_low"]
    out["rank_per_decision"] = out["cost_per_decision"].rank(method="min")
    out["rank_per_correct"] = out["cost_per_correct"].rank(method="min")
    out.loc[out["n"].isna(), "note"] = "no audits: accuracy unknown"
    return out.sort_values("cost_per_correct", na_position="last").reset_index(drop=True)


# ---------------------------------------------------------------- speed-quality
def mannwhitney_less_vs_rest(values: np.ndarray, groups: pd.Series, units: Sequence) -> np.ndarray:
    """One-sided Mann-Whitney p-values of each unit's values against all the others' (``alternative="less"``).

    The same p-values as :func:`scipy.stats.mannwhitneyu` ``(x_unit, x_rest,
    alternative="less")`` called once per unit, from one ranking of all values:
    a unit's rank sum in the pooled sample is its sum of global ranks, and the
    tie correction is the global one, so the normal approximation (with
    continuity and tie correction [1]_) is vectorised over units. Units where
    scipy would use its exact distribution (8 or fewer values on one side and no
    ties) are passed to scipy one by one.

    Parameters
    ----------
    values : ndarray of float
        The observations (no NaN), one per row of ``groups``.
    groups : Series
        Each observation's unit.
    units : sequence
        The units to test, in the order of the result.

    Returns
    -------
    ndarray of float
        One p-value per unit; NaN for a unit with no values or with all of them.

    References
    ----------
    .. [1] Mann, H. B. and Whitney, D. R. (1947). On a test of whether one of two
       random variables is stochastically larger than the other. *Ann. Math.
       Statist.* 18(1), 50-60.
    """
    values = np.asarray(values, dtype=float)
    p = np.full(len(units), np.nan)
    total = values.size
    if total == 0:
        return p
    codes, levels = pd.factorize(groups)
    index = {v: k for k, v in enumerate(levels)}
    ranks = stats.rankdata(values, method="average")
    counts = np.bincount(codes[codes >= 0], minlength=len(levels))
    # rank sums are sums of half-integers: exact in float64 whatever the order of addition
    rank_sums = np.bincount(codes[codes >= 0], weights=ranks[codes >= 0], minlength=len(levels))
    _, ties = np.unique(values, return_counts=True)
    has_ties = bool((ties > 1).any())
    t = ties.astype(float)
    tie_term = float(np.sum(t**3 - t))
    for i, u in enumerate(units):
        k = index.get(u, -1)
        n1 = int(counts[k]) if k >= 0 else 0
        n2 = total - n1
        if n1 == 0 or n2 == 0:
            continue
        if (n1 <= 8 or n2 <= 8) and not has_ties:  # scipy's exact distribution
            inn = codes == k
            p[i] = stats.mannwhitneyu(values[inn], values[~inn], alternative="less").pvalue
            continue
        u1 = rank_sums[k] - n1 * (n1 + 1) / 2
        u2 = n1 * n2 - u1
        n = n1 + n2
        s = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (u2 - n1 * n2 / 2 - 0.5) / s
        p[i] = float(np.clip(special.ndtr(-z), 0.0, 1.0))
    return p


def _hajek(y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and its linearised (with-replacement) variance."""
    sw = w.sum()
    p = float((w * y).sum() / sw)
    return p, float((w**2 * (y - p) ** 2).sum() / sw**2)


def speed_quality(
    decisions: pd.DataFrame,
    audits: pd.DataFrame,
    by=S.SITE,
    alpha: float = 0.05,
    weights: str | None = S.WEIGHT,
    min_audits: int = 30,
) -> pd.DataFrame:
    """Per unit: median handle time and accuracy with intervals, and a flag when it is fast **and** inaccurate.

    Parameters
    ----------
    decisions : DataFrame
        Human decisions of the period (``handle_time_s``, ``by``).
    audits : DataFrame
        Non-golden audits joined to decisions (``is_error``, design weights).
    by : str, default SITE
        The unit (site, moderator, queue...).
    alpha : float, default 0.05
        Level of the report: each family (faster; less accurate) is BH-corrected
        across the units, and a unit is flagged only when both q-values are below it.
    weights : str, optional
        Design-weight column (default ``weight``).
    min_audits : int, default 30
        Units with fewer audits are shown but not tested.

    Returns
    -------
    DataFrame
        ``by``, ``n_decisions``, ``median_s``, ``median_ci_low``, ``median_ci_high``, ``n``,
        ``accuracy``, ``ci_low``, ``ci_high``, ``q_faster`` (one-sided Mann-Whitney of
        handle times vs the rest), ``q_less_accurate`` (one-sided z test of the
        design-weighted error rate vs the rest), ``flag``, ``reading`` (a plain-words line).
    """
    unit = by if isinstance(by, str) else _as_list(by)[0]
    _need(decisions, [S.HANDLE_TIME_S, unit], "speed_quality")
    ht = handle_time_table(decisions, by=unit, alpha=alpha)
    acc = accuracy_table(audits, by=unit, weights=weights, alpha=alpha, strata=_strata(audits))[
        [unit, "n", "accuracy", "ci_low", "ci_high"]
    ]
    out = ht[[unit, "n", "median_s", "median_ci_low", "median_ci_high"]].rename(columns={"n": "n_decisions"})
    out = out.merge(acc, on=unit, how="left")
    d = decisions[decisions[S.HANDLE_TIME_S].notna()]
    a = audits
    y = a[S.IS_ERROR].to_numpy(dtype=float)
    w = a[weights].to_numpy(dtype=float) if weights else np.ones(len(a))
    p_fast = mannwhitney_less_vs_rest(d[S.HANDLE_TIME_S].to_numpy(float), d[unit], list(out[unit]))
    p_acc = np.full(len(out), np.nan)
    a_codes, a_levels = pd.factorize(a[unit])
    a_index = {v: k for k, v in enumerate(a_levels)}
    for i, u in enumerate(out[unit]):
        if np.isnan(p_fast[i]):  # the unit is all decisions or none: not tested
            continue
        ain = a_codes == a_index.get(u, -2)
        if ain.sum() >= min_audits and (~ain).sum() >= min_audits:
            pu, vu = _hajek(y[ain], w[ain])
            pr, vr = _hajek(y[~ain], w[~ain])
            se = np.sqrt(vu + vr)
            p_acc[i] = float(stats.norm.sf((pu - pr) / se)) if se > 0 else (0.0 if pu > pr else 1.0)
    out["q_faster"] = bh_qvalues(p_fast)
    out["q_less_accurate"] = bh_qvalues(p_acc)
    out["flag"] = (np.nan_to_num(out["q_faster"], nan=1.0) < alpha) & (
        np.nan_to_num(out["q_less_accurate"], nan=1.0) < alpha
    )
    out["reading"] = [
        "faster and less accurate than the rest: speed bought with accuracy"
        if f
        else ("faster than the rest, accuracy not worse" if qf < alpha else "")
        for f, qf in zip(out["flag"], np.nan_to_num(out["q_faster"], nan=1.0))
    ]
    return out
