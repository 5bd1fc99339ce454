"""The generated summary paragraph of a report (``summary_text``): report building, not statistics.

Every number comes from the statistics layer (:func:`modqa_lib.stats.rca.decompose_change`,
:func:`~modqa_lib.stats.rca.top_findings`, :func:`~modqa_lib.stats.rca.drilldown`,
:func:`~modqa_lib.stats.rca.pareto`, :func:`modqa_lib.stats.scoring.accuracy_table` and
:func:`~modqa_lib.stats.scoring.proportion_ci`); this module only picks the sentences and writes
rates with :func:`modqa_lib.report.format.rate_text`, as every other report surface does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, check_alpha, require_columns
from modqa_lib.report.format import confidence_label, interval_text, percent, rate_text
from modqa_lib.stats.rca import (
    CAUSE_CI_HIGH,
    CAUSE_CI_LOW,
    CAUSE_N,
    CAUSE_SHARE,
    DEPTH,
    DIMENSION,
    EXCESS_ERRORS,
    EXPLAINED_BY,
    GROUP,
    IS_TOTAL,
    MIX_EFFECT,
    N_AFTER,
    N_BEFORE,
    RATE_EFFECT,
    REST_N,
    REST_RATE,
    SHARE,
    SHARE_AFTER,
    SHARE_BEFORE,
    SHARE_OF_CHANGE,
    TOTAL_EFFECT,
    VALUE,
    decompose_change,
    drilldown,
    outcome_array,
    pareto,
    period_mask,
    top_findings,
    two_proportion_ztest,
)
from modqa_lib.stats.scoring import accuracy_table, proportion_ci, ratio_estimates

__all__ = ["SUMMARY_MIN_CONCENTRATION", "summary_text"]

#: summary_text names a group as the source of a change only if its share of the change
#: exceeds its share of audits by at least this much.
SUMMARY_MIN_CONCENTRATION = 0.2


def _pts(x: float) -> str:
    return f"{100 * x:.1f}"


def _int(x) -> str:
    return f"{int(round(float(x))):,}"


def _rate_in(audits: pd.DataFrame, y: np.ndarray, mask: np.ndarray, weights: str | None, alpha: float) -> str:
    """Accuracy of the audits in ``mask`` with its interval and n, written by :func:`rate_text`.

    With ``weights`` the design-weighted (Hájek) accuracy and its linearised interval from
    :func:`ratio_estimates` (a domain of the whole sample, strata from ``stratum`` when present),
    as in the headline; without, the Wilson interval on the counts.
    """
    if not mask.any():
        return "no audits"
    strata = S.STRATUM if weights is not None and S.STRATUM in audits.columns else None
    r = ratio_estimates(audits, 1.0 - y, weights=weights, strata=strata, mask=mask, alpha=alpha).iloc[0]
    return rate_text(r["estimate"], r[S.CI_LOW], r[S.CI_HIGH], int(r[S.N]), alpha)


def _labels(col: pd.Series) -> np.ndarray:
    """A column's values as the labels the statistics layer uses (missing: "(missing)")."""
    return col.astype(object).where(col.notna(), "(missing)").astype(str).to_numpy()


def _label(value: Any) -> str:
    """A period value as text: a date as YYYY-MM-DD."""
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.strftime("%Y-%m-%d")
    return str(value)


def _q(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _cause_name(code: str) -> str:
    try:
        from modqa_lib.contract.schema import load_taxonomy

        return load_taxonomy().root_cause_names.get(code, code)
    except Exception:  # taxonomy is optional for a summary
        return str(code)


def _period_label(audits: pd.DataFrame, period_col: str, spec: Any, all_periods: list) -> str:
    vals = sorted(set(audits.loc[period_mask(audits[period_col], spec, "period"), period_col].dropna()))
    if not vals:
        return str(spec)
    pos = [all_periods.index(v) + 1 for v in (vals[0], vals[-1])]
    unit = "week" if period_col == S.WEEK else f"{period_col}"
    if pos[0] == pos[1]:
        base = f"{unit} {pos[0]}"
    else:
        base = (
            f"{unit}s {pos[0]}–{pos[1]}"
            if period_col == S.WEEK
            else f"{unit} {pos[0]}–{pos[1]} (of {len(all_periods)})"
        )
    if period_col == S.WEEK:
        return f"{base} ({_label(vals[0])} to {_label(vals[-1])})"
    return base


def summary_text(
    audits: pd.DataFrame,
    unit_label: str = "all audited decisions",
    dims: Sequence[str] | None = None,
    before: Any = None,
    after: Any = None,
    period_col: str = S.WEEK,
    by: str | None = None,
    depth: int = 1,
    outcome: str = S.IS_ERROR,
    cause: str = S.ROOT_CAUSE,
    alpha: float = 0.05,
    min_n: int = 30,
    weights: str | None = None,
) -> str:
    """A short generated paragraph: level, change, where it comes from, biggest slice, root cause.

    With ``weights`` (e.g. ``"weight"``) every rate is design-weighted: the opening accuracy
    is :func:`modqa_lib.stats.scoring.accuracy_table`'s (so it matches the report's
    headline), each period's and group's accuracy is the Hájek estimate with the
    linearised interval of :func:`~modqa_lib.stats.scoring.ratio_estimates`, the change
    and its attribution come from :func:`decompose_change` with the weights (so the
    change is the difference of the two rates shown), and the largest excess from
    :func:`top_findings` / :func:`drilldown` with the weights (excess errors then count
    decisions, not audits). Only the root-cause shares are of the audited errors
    (unweighted; the text says "audited errors"). ``n`` is always the audits behind a rate.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame, already restricted to the unit described.
    unit_label : str, default "all audited decisions"
        How the unit is named in the text ("Penang", "Vendor B", "market ID").
    dims : list of str, optional
        Dimensions for the drilldown and the change attribution; default the
        usual ones present in ``audits`` (vendor, site, market, policy,
        content type, shift, tenure band, channel) with two or more values.
    before, after : optional
        Periods of ``period_col`` (as in :func:`decompose_change`). Default:
        the first and the second half of the periods present.
    period_col : str, default WEEK
    by : str, optional
        Attribution dimension of the change. Default: the dimension of
        ``dims`` whose group contributes most out of proportion to its size
        (share of the change minus share of audits). A group is named only if
        that difference is at least 20 points and its own change is
        detectable (the CI of its accuracy change excludes 0, or for a mix
        effect its share of audits changed at p < alpha); otherwise the change
        is described as spread over the groups of the first dimension.
    depth : {1, 2}, default 1
        Drilldown depth for the "largest excess" sentence. Depth 2 tests many
        more slices, which costs power on the few hundred audits of one site.
    outcome, cause, alpha, min_n
        As in :func:`drilldown` and :func:`pareto`.

    Returns
    -------
    str
        Plain text (escape it before rendering as HTML or Markdown). Every
        number carries its n or its confidence interval.

    Notes
    -----
    Generated from :func:`decompose_change`, :func:`top_findings` (i.e.
    :func:`drilldown` and :func:`pareto`), :func:`accuracy_table` and
    :func:`ratio_estimates`; no number is typed by hand. A change whose interval
    includes 0 is reported as not detectable and not attributed. When the
    single slice with the largest excess is explained by a pair (the
    drill-down's ``explained_by``: the night shift's excess all sits in one
    site), the sentence leads with the pair and names the parent it explains,
    so a reader is not sent to sites where nothing is wrong.
    ``tests/report/test_summary.py`` checks on the demo that the change equals
    the difference of the weighted rates and that the planted site × shift
    slice is named.

    References
    ----------
    .. [1] Kitagawa, E. M. (1955). *JASA* 50(272), 1168–1194.
    .. [2] Benjamini, Y., Hochberg, Y. (1995). *JRSS B* 57(1), 289–300.
    .. [3] Wilson, E. B. (1927). *JASA* 22(158), 209–212.
    """
    require_columns(audits, [outcome], "summary_text")
    check_alpha(alpha, "summary_text")
    y = outcome_array(audits, outcome, "summary_text")
    n = len(y)
    if n == 0:
        return f"No audits for {unit_label}."
    if weights is not None and outcome == S.IS_ERROR:
        row = accuracy_table(audits, weights=weights, alpha=alpha).iloc[0]
        acc, lo, hi, kind = row[S.ACCURACY], row[S.CI_LOW], row[S.CI_HIGH], "design-weighted accuracy"
    else:
        acc = 1 - y.mean()
        lo, hi = proportion_ci(n - y.sum(), n, alpha=alpha, method="wilson")
        kind = "accuracy"
    parts = [f"The {kind} for {unit_label} was {rate_text(acc, lo, hi, n, alpha, noun='audits')}."]
    if dims is None:
        cand = [S.VENDOR, S.SITE, S.MARKET, S.POLICY, S.CONTENT_TYPE, S.SHIFT, S.TENURE_BAND, S.CHANNEL]
        dims = [d for d in cand if d in audits.columns and audits[d].nunique(dropna=False) > 1]
    else:
        dims = as_columns(dims, "dims")
        require_columns(audits, dims, "summary_text")

    # change between periods
    if period_col in audits.columns:
        periods = sorted(audits[period_col].dropna().unique())
        if before is None and after is None and len(periods) >= 2:
            h = len(periods) // 2
            before, after = (periods[0], periods[h - 1]), (periods[h], periods[-1])
        if before is not None and after is not None:
            cand_by = [by] if by is not None else [d for d in dims if d != period_col]
            if not cand_by:
                cand_by = [period_col]
            decs = [
                decompose_change(
                    audits,
                    before,
                    after,
                    period_col=period_col,
                    by=d,
                    outcome=outcome,
                    metric="accuracy",
                    alpha=alpha,
                    weights=weights,
                )
                for d in cand_by
            ]
            labs = (
                _period_label(audits, period_col, before, periods),
                _period_label(audits, period_col, after, periods),
            )
            masks = (
                period_mask(audits[period_col], before, "before"),
                period_mask(audits[period_col], after, "after"),
            )
            parts.append(_change_sentence(audits, y, decs, labs, masks, weights, alpha))

    if dims:
        parts.extend(_excess_sentences(audits, y, dims, depth, outcome, cause, alpha, min_n, weights))
    return " ".join(parts)


def _change_sentence(audits, y, decs, labs, masks, weights, alpha) -> str:
    """The sentence on the change between the periods and, if one group stands out, where it comes from.

    Every rate is the period's (or the group's) accuracy as :func:`_rate_in` writes it: design-weighted
    with ``weights``, like the decomposition itself, so the change equals the difference of the rates shown.
    """
    conf = confidence_label(alpha)
    tot = decs[0][decs[0][IS_TOTAL]].iloc[0]
    ch = float(tot[TOTAL_EFFECT])
    what = "Design-weighted accuracy" if weights is not None else "Accuracy"
    span = (
        f"from {_rate_in(audits, y, masks[0], weights, alpha)} in {labs[0]} "
        f"to {_rate_in(audits, y, masks[1], weights, alpha)} in {labs[1]}"
    )
    if not (tot[S.CI_LOW] > 0 or tot[S.CI_HIGH] < 0):
        return (
            f"{what} did not change detectably {span}: "
            f"{interval_text(ch, tot[S.CI_LOW], tot[S.CI_HIGH], points=True, alpha=alpha)}."
        )
    sign = 1.0 if ch > 0 else -1.0
    lo_, hi_ = sorted((sign * tot[S.CI_LOW], sign * tot[S.CI_HIGH]))
    noun = "rise" if ch > 0 else "fall"
    s = f"{what} {'rose' if ch > 0 else 'fell'} {_pts(abs(ch))} pts ({conf} {_pts(lo_)} to {_pts(hi_)}) {span}"
    dc, g = _standout_group(decs, alpha)
    t = dc[dc[IS_TOTAL]].iloc[0]
    kind = "rate" if abs(t[RATE_EFFECT]) >= abs(t[MIX_EFFECT]) else "mix"
    d = t[DIMENSION]
    s += (
        f"; it is mostly a {kind} effect "
        + ("(accuracy changed within groups" if kind == "rate" else "(the mix of audits changed")
        + f" of {d})"
    )
    if g is None:
        return s + f", spread over the {d} groups with no single group standing out."
    gs = float(g[SHARE_OF_CHANGE])
    share_txt = f"{percent(gs, 0)} of the {noun}" if gs <= 1 else f"more than the whole {noun}"
    if abs(g[RATE_EFFECT]) >= abs(g[MIX_EFFECT]):
        in_g = _labels(audits[d]) == str(g[GROUP])
        detail = (
            f"its accuracy went from {_rate_in(audits, y, masks[0] & in_g, weights, alpha)} "
            f"to {_rate_in(audits, y, masks[1] & in_g, weights, alpha)}"
        )
    else:
        of = "design-weighted share of decisions" if weights is not None else "share of audits"
        detail = (
            f"its {of} went from {percent(g[SHARE_BEFORE])} "
            f"(n = {_int(g[N_BEFORE])}) to {percent(g[SHARE_AFTER])} "
            f"(n = {_int(g[N_AFTER])})"
        )
    return s + f"; {share_txt} is {d} {g[GROUP]} ({detail})."


def _standout_group(decs, alpha) -> tuple[pd.DataFrame, Any]:
    """The decomposition and group that contribute most out of proportion to their size, or (first, None).

    A group qualifies only if its own change is detectable (rate: the CI of its accuracy change
    excludes 0; mix: its share of audits changed, two-proportion test p < alpha) and its share of the
    change exceeds its share of audits by :data:`SUMMARY_MIN_CONCENTRATION`.
    """
    best = None
    for dc in decs:
        grp = dc[~dc[IS_TOTAL]]
        if grp.empty:
            continue
        n0, n1 = float(grp[N_BEFORE].sum()), float(grp[N_AFTER].sum())
        _, p_mix = two_proportion_ztest(grp[N_AFTER], n1, grp[N_BEFORE], n0)
        rate_dom = grp[RATE_EFFECT].abs() >= grp[MIX_EFFECT].abs()
        detect = np.where(rate_dom, (grp[S.CI_LOW] > 0) | (grp[S.CI_HIGH] < 0), p_mix < alpha)
        conc = grp[SHARE_OF_CHANGE] - (grp[SHARE_BEFORE] + grp[SHARE_AFTER]) / 2
        ok = detect & (grp[SHARE_OF_CHANGE] > 0).to_numpy() & (conc >= SUMMARY_MIN_CONCENTRATION).to_numpy()
        if ok.any():
            i: Any = conc[ok].idxmax()
            if best is None or conc[i] > best[2]:
                best = (dc, grp.loc[i], float(conc[i]))
    return (best[0], best[1]) if best is not None else (decs[0], None)


def _excess_sentences(audits, y, dims, depth, outcome, cause, alpha, min_n, weights) -> list[str]:
    """The largest excess (the most specific slice that holds it) and its root cause, or that there is none.

    With ``weights`` the rates and excess errors are design-weighted (:func:`top_findings` and
    :func:`drilldown` with ``weights``); root-cause shares are of the audited errors (unweighted).
    """
    has_cause = cause in audits.columns
    dep = depth if len(dims) > 1 else 1
    frame = audits if has_cause else audits[[outcome, *dims, *([weights] if weights else [])]].assign(**{cause: None})
    tf = top_findings(
        frame, dims, depth=dep, outcome=outcome, cause=cause, alpha=alpha, min_n=min_n, max_findings=1, weights=weights
    )
    if tf.empty:
        dd = drilldown(audits, dims, outcome=outcome, depth=dep, alpha=alpha, min_n=min_n, weights=weights)
        k = int(dd[S.P_VALUE].notna().sum())
        out = [
            f"No slice of {', '.join(dims)} has an error rate above the rest after "
            f"Benjamini–Hochberg control (q < {alpha:g}, {k} tests"
            f"{' of single values and pairs' if dep == 2 else ''})."
        ]
        if has_cause and y.sum() > 0:
            t = pareto(audits, cause=cause, outcome=outcome, alpha=alpha).iloc[0]
            out.append(
                f"Root cause of errors mostly {_cause_name(t[cause])}: "
                f"{rate_text(t[SHARE], t[S.CI_LOW], t[S.CI_HIGH], t[S.N], alpha, noun='audited errors', decimals=0)}."
            )
        return out
    t = tf.iloc[0]
    parent = None
    if dep == 1 and len(dims) > 1:
        child = _held_by(frame, dims, t, outcome, alpha, min_n, weights)
        if child is not None:
            parent, t = t, child
    wtd = " among all decisions (design-weighted)" if weights is not None else ""
    s = (
        f"Largest excess: {t[VALUE]} ({t[DIMENSION]}), error rate "
        f"{rate_text(t[S.ERROR_RATE], t[S.CI_LOW], t[S.CI_HIGH], t[S.N], alpha)} vs "
        f"{percent(t[REST_RATE])} elsewhere (n = {_int(t[REST_N])}), about {_int(t[EXCESS_ERRORS])} "
        f"excess errors{wtd} ({_q(t[S.Q_VALUE])})"
    )
    if parent is not None:
        s += (
            f"; it holds the excess of {parent[VALUE]} ({parent[DIMENSION]}): "
            f"the rest of {parent[VALUE]} is not worse than elsewhere"
        )
    cause_row = _cause_of(frame, dims, t, outcome, cause, alpha) if parent is not None else t
    if has_cause and cause_row is not None and cause_row[CAUSE_N] > 0 and cause_row[cause] is not None:
        s += f"; root cause mostly {_cause_name(cause_row[cause])}: " + rate_text(
            cause_row[CAUSE_SHARE],
            cause_row[CAUSE_CI_LOW],
            cause_row[CAUSE_CI_HIGH],
            cause_row[CAUSE_N],
            alpha,
            noun="audited errors",
            decimals=0,
        )
    return [s + "."]


def _slice_mask(frame: pd.DataFrame, row) -> np.ndarray:
    """The audits of a drill-down slice ("Penang × night" of "site × shift")."""
    m = np.ones(len(frame), bool)
    for d, v in zip(str(row[DIMENSION]).split(" × "), str(row[VALUE]).split(" × ")):
        m &= _labels(frame[d]) == v
    return m


def _cause_of(frame, dims, row, outcome, cause, alpha) -> dict | None:
    """The most frequent cause among the slice's audited errors (:func:`pareto`), as top_findings reports it."""
    yb = outcome_array(frame, outcome, "summary_text").astype(bool)
    pt = pareto(frame.loc[_slice_mask(frame, row) & yb, [cause, outcome]], cause=cause, outcome=outcome, alpha=alpha)
    if pt.empty:
        return None
    t = pt.iloc[0]
    return {
        cause: t[cause],
        CAUSE_SHARE: t[SHARE],
        CAUSE_CI_LOW: t[S.CI_LOW],
        CAUSE_CI_HIGH: t[S.CI_HIGH],
        CAUSE_N: int(t[S.N]),
    }


def _held_by(frame, dims, top, outcome, alpha, min_n, weights) -> pd.Series | None:
    """The depth-2 drill-down row of the pair (e.g. Penang × night, site × shift) that explains the
    single slice ``top`` (its ``explained_by``), or None."""
    dd = drilldown(frame, dims, outcome=outcome, depth=2, alpha=alpha, min_n=min_n, weights=weights)
    row = dd[(dd[DEPTH] == 1) & (dd[DIMENSION] == top[DIMENSION]) & (dd[VALUE] == top[VALUE])]
    if row.empty or row[EXPLAINED_BY].iloc[0] is None:
        return None
    name = str(row[EXPLAINED_BY].iloc[0])
    kid = dd[(dd[DEPTH] == 2) & (dd[VALUE] + " (" + dd[DIMENSION] + ")" == name)]
    return None if kid.empty else kid.iloc[0]
