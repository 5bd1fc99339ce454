"""Drift flags: one row per group, combining the charts with the change-point test."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import holm_pvalues
from modqa_lib.errors import ConfigError
from modqa_lib.stats.drift._common import (
    CHARTS,
    NO_SIGNAL,
    RATE_AFTER_CI_HIGH,
    RATE_AFTER_CI_LOW,
    RATE_BEFORE_CI_HIGH,
    RATE_BEFORE_CI_LOW,
    RATE_CHANGE,
    _align,
    _as_list,
    _Calendar,
    _group_ids,
    _policy_changes,
    _wilson,
)
from modqa_lib.stats.drift.changepoints import change_points
from modqa_lib.stats.drift.charts import cusum_chart, ewma_chart, p_chart

__all__ = [
    "drift_flags",
]


# ---------------------------------------------------------------- drift flags
def drift_flags(
    audits: pd.DataFrame,
    by=(S.POLICY,),
    period: str = S.WEEK,
    outcome: str = S.IS_ERROR,
    policy_changes: pd.DataFrame | None = None,
    charts: Sequence[str] = ("p", "ewma"),
    baseline=None,
    sigma: float = 3.0,
    lam: float = 0.2,
    L: float = 3.0,
    k: float = 0.5,
    h: float = 4.0,
    tolerance: int = 1,
    alpha: float = 0.05,
    min_size: int = 2,
    limits: str = "exact",
) -> pd.DataFrame:
    """One row per group: did its error rate drift, when, which way, after which policy change.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (see :func:`p_chart`).
    by : str or list of str, default [POLICY]
        Groups to monitor. Policy changes can only be aligned when ``POLICY`` is
        one of them.
    period, outcome, baseline, sigma, limits
        As in :func:`p_chart` (exact binomial limits by default).
    policy_changes : DataFrame, optional
        The ``policy_changes`` table (CHANGED_AT, POLICY, DESCRIPTION).
    charts : sequence of {"p", "ewma", "cusum"}, default ("p", "ewma")
        Charts to run; a group is flagged when any of them signals.
    lam, L : float
        EWMA parameters (:func:`ewma_chart`).
    k, h : float
        CUSUM parameters (:func:`cusum_chart`).
    tolerance : int, default 1
        A policy change is aligned with the first signal when its period lies
        within ``tolerance`` periods of the signal's period (either side; the
        label says which).
    alpha, min_size
        Level and minimum segment length of the change-point test
        (:func:`change_points`, Bonferroni) that confirms a chart signal.

    Returns
    -------
    DataFrame
        One row per group, flagged groups first by ``rank``: the ``by``
        columns, ``n``, ``errors``, ``error_rate`` (all periods), ``center``
        (baseline rate), ``flagged`` (bool), ``first_out_of_control`` (period
        of the first signal of any chart; NaT if none), ``direction`` of that
        signal ("up" worse, "down" better, "none"), ``chart`` (chart(s) that
        fired in that period, e.g. "p+ewma"; "" if none),
        ``n_out_of_control`` (periods in which any chart signalled: one
        isolated signal is more likely a false alarm than a sustained drift),
        ``n_before`` and ``rate_before`` (audits and error rate in the periods
        before the first signal; 0 and the baseline rate when the first period
        already signals), ``rate_before_ci_low``, ``rate_before_ci_high`` (Wilson; NaN when
        ``n_before`` is 0), ``n_after``, ``rate_after``, ``rate_after_ci_low``,
        ``rate_after_ci_high`` (from the first signal on), ``rate_change`` (``rate_after − rate_before``;
        NaN for groups never flagged), ``policy_change_at``,
        ``policy_change_description``, ``policy_change`` (a label such as
        "after policy change 'harassment: ...' on 2026-10-12"; "" if none),
        ``change_period``, ``cp_lr_stat``, ``cp_p_value`` (the group's
        single change point, :func:`change_points`), ``confirmed`` (bool:
        flagged and the change point is significant at ``alpha``),
        ``cp_q_value`` (``cp_p_value`` Holm-adjusted across the groups of the
        call, i.e. of the report), ``reported`` (bool: flagged and
        ``cp_q_value`` < alpha; the rows a report shows) and
        ``rank`` (1 = strongest drift: flagged groups, confirmed ones first,
        then by decreasing change-point LR statistic, then earlier signal;
        <NA> when not flagged).

    Notes
    -----
    The charts are those of :func:`p_chart` (large shifts), :func:`ewma_chart`
    and :func:`cusum_chart` (small sustained shifts), with the baseline of
    :func:`p_chart`; the p chart uses exact binomial limits by default, so a
    week that expects one to five errors does not signal on the skew of its
    count alone. Each chart treats the baseline rate as known; with few
    audits per period (a handful of expected errors) the baseline rate is
    itself noisy and single charts raise more false alarms than their
    nominal rate. A signal is therefore *confirmed* only when the
    likelihood-ratio change-point test on the whole series of the group is
    significant as well, and groups are ranked by the strength of that
    evidence (the LR statistic), not by the raw size of the shift, which is
    largest for small, noisy groups. ``n_out_of_control`` separates sustained
    drifts from single blips. Machine decisions have their own error process;
    to monitor moderators' quality alone, pass the audits of human-reviewed
    decisions or add CHANNEL to ``by``. ``rate_before``/``rate_after`` are descriptive:
    the split was chosen by looking at the data, so a naive test of their
    difference would be anti-conservative. A report shows only ``reported``
    rows: the chart signal must be backed by the change-point test after a
    Holm correction over every group monitored, so under no change at most
    ``alpha`` of reports show any drift row (``tests/stats/test_drift.py``
    simulates it: with every flagged row shown, 12 policies × 12 weeks,
    most reports showed a false drift). Validated on synthetic data with
    a planted drift (``tests/test_drift.py``).

    References
    ----------
    .. [1] Montgomery, D. C. (2009). *Introduction to Statistical Quality
       Control*, 6th ed., Wiley. Chapters 7 and 9.
    .. [2] Lucas, J. M., Saccucci, M. S. (1990). Exponentially weighted moving
       average control schemes: properties and enhancements. *Technometrics*
       32(1), 1–12.
    """
    by = _as_list(by)
    charts = [charts] if isinstance(charts, str) else list(charts)
    unknown = [c for c in charts if c not in CHARTS]
    if unknown or not charts:
        raise ConfigError(f"drift_flags(): charts must be among {CHARTS}, got {charts}")
    if not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise ConfigError(f"drift_flags(): tolerance must be a whole number of periods >= 0, not {tolerance!r}")
    pc = _policy_changes(policy_changes, "drift_flags")
    base = p_chart(audits, period=period, by=by, outcome=outcome, sigma=sigma, baseline=baseline, limits=limits)
    fired = {}
    if "p" in charts:
        fired["p"] = base[["out_of_control", "direction"]]
    if "ewma" in charts:
        fired["ewma"] = ewma_chart(audits, period=period, by=by, outcome=outcome, lam=lam, L=L, baseline=baseline)[
            ["out_of_control", "direction"]
        ]
    if "cusum" in charts:
        fired["cusum"] = cusum_chart(audits, period=period, by=by, outcome=outcome, k=k, h=h, baseline=baseline)[
            ["out_of_control", "direction"]
        ]
    # every chart frame is sorted the same way (group, period), so rows align
    any_ooc = np.zeros(len(base), dtype=bool)
    for f in fired.values():
        any_ooc |= f["out_of_control"].to_numpy()
    cal = _Calendar(base[period])
    gid = _group_ids(base, by)
    rows = []
    for g in pd.unique(gid):
        idx = np.flatnonzero(gid == g)
        sub = base.iloc[idx]
        n_tot, e_tot = int(sub[S.N].sum()), int(sub[S.ERRORS].sum())
        row = {c: sub[c].iloc[0] for c in by}
        row.update({S.N: n_tot, S.ERRORS: e_tot, S.ERROR_RATE: e_tot / n_tot, "center": sub["center"].iloc[0]})
        ooc = any_ooc[idx]
        if ooc.any():
            j = int(np.flatnonzero(ooc)[0])
            at = sub[period].iloc[j]
            which = [c for c, f in fired.items() if f["out_of_control"].iloc[idx[j]]]
            direction = fired[which[0]]["direction"].iloc[idx[j]]
            pre, post = sub.iloc[:j], sub.iloc[j:]
            nb, eb = int(pre[S.N].sum()), int(pre[S.ERRORS].sum())
            na, ea = int(post[S.N].sum()), int(post[S.ERRORS].sum())
            before = eb / nb if nb else row["center"]
            after = ea / na
            policy = row.get(S.POLICY) if S.POLICY in by else None
            when, desc, label = _align(policy, at, cal, pc, tolerance)
            row.update(
                {
                    "flagged": True,
                    "first_out_of_control": at,
                    "direction": direction,
                    "chart": "+".join(which),
                    "n_out_of_control": int(ooc.sum()),
                    "n_before": nb,
                    "rate_before": before,
                    RATE_BEFORE_CI_LOW: _wilson(eb, nb, alpha)[0],
                    RATE_BEFORE_CI_HIGH: _wilson(eb, nb, alpha)[1],
                    "n_after": na,
                    "rate_after": after,
                    RATE_AFTER_CI_LOW: _wilson(ea, na, alpha)[0],
                    RATE_AFTER_CI_HIGH: _wilson(ea, na, alpha)[1],
                    RATE_CHANGE: after - before,
                    "policy_change_at": when,
                    "policy_change_description": desc,
                    "policy_change": label,
                }
            )
        else:
            row.update(
                {
                    "flagged": False,
                    "first_out_of_control": pd.NaT,
                    "direction": NO_SIGNAL,
                    "chart": "",
                    "n_out_of_control": 0,
                    "n_before": 0,
                    "rate_before": np.nan,
                    RATE_BEFORE_CI_LOW: np.nan,
                    RATE_BEFORE_CI_HIGH: np.nan,
                    "n_after": 0,
                    "rate_after": np.nan,
                    RATE_AFTER_CI_LOW: np.nan,
                    RATE_AFTER_CI_HIGH: np.nan,
                    RATE_CHANGE: np.nan,
                    "policy_change_at": pd.NaT,
                    "policy_change_description": "",
                    "policy_change": "",
                }
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    if not pd.api.types.is_datetime64_any_dtype(out["first_out_of_control"]) and pd.api.types.is_datetime64_any_dtype(
        base[period]
    ):
        out["first_out_of_control"] = pd.to_datetime(out["first_out_of_control"])
    out["policy_change_at"] = pd.to_datetime(out["policy_change_at"], utc=True)
    cp = change_points(base[[*by, period, S.N, S.ERRORS]], period=period, by=by, min_size=min_size, alpha=alpha)
    # change_points returns one row per group in the same (first-seen) order
    out["change_period"] = cp["change_period"].to_numpy()
    out["cp_lr_stat"] = cp["lr_stat"].to_numpy()
    out["cp_p_value"] = cp["p_value"].to_numpy()
    out["confirmed"] = out["flagged"].to_numpy() & cp["significant"].to_numpy(dtype=bool)
    # per report: Holm across the groups shown controls the chance that any row is a false drift
    q = holm_pvalues(out["cp_p_value"].to_numpy(float))
    out["cp_q_value"] = q
    out["reported"] = out["flagged"].to_numpy() & (np.nan_to_num(q, nan=1.0) < alpha)
    flagged = out[out["flagged"]].assign(_lr=lambda d: d["cp_lr_stat"].fillna(-1.0))
    order = flagged.sort_values(
        ["confirmed", "_lr", "first_out_of_control"], ascending=[False, False, True], kind="mergesort"
    ).index
    out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out.loc[order, "rank"] = np.arange(1, len(order) + 1)
    rest = out.index.difference(order)
    out = pd.concat([out.loc[order], out.loc[rest]]).reset_index(drop=True)
    return out
