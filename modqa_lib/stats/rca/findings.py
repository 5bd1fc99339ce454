"""Top findings: the slices that hold the excess errors, with their root causes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, require_columns
from modqa_lib.errors import ConfigError
from modqa_lib.stats.rca._common import (
    CAUSE_CI_HIGH,
    CAUSE_CI_LOW,
    CAUSE_N,
    CAUSE_SHARE,
    EXCESS_ERRORS,
    EXPLAINED_BY,
    FLAG,
    MARGINAL_EXCESS,
    SHARE,
    _explains,
    _outcome_array,
    _weight_array,
)
from modqa_lib.stats.rca.drilldown import _drill
from modqa_lib.stats.rca.pareto import pareto


# ------------------------------------------------------------- top findings
def top_findings(
    audits: pd.DataFrame,
    dims: Sequence[str],
    depth: int = 2,
    outcome: str = S.IS_ERROR,
    cause: str = S.ROOT_CAUSE,
    alpha: float = 0.05,
    min_n: int = 30,
    weights: str | None = None,
    nested_share: float = 0.8,
    max_findings: int | None = 10,
    max_candidates: int = 200,
    min_new_share: float = 0.5,
) -> pd.DataFrame:
    """Distinct flagged slices (no echoes, most specific first), with their dominant root cause.

    Parameters
    ----------
    audits, dims, depth, outcome, alpha, min_n, weights, nested_share
        As in :func:`drilldown`.
    cause : str, default ROOT_CAUSE
        Cause column summarised within each finding's errors (as in :func:`pareto`).
    max_findings : int or None, default 10
        Stop after this many findings (None = all).
    max_candidates : int, default 200
        Only the first flagged slices in drilldown order are considered.
    min_new_share : float, default 0.5
        A slice is listed only if at least this share of its excess errors is
        on audits not already in a finding (otherwise it is an echo).

    Returns
    -------
    DataFrame
        One row per finding, in the order they were selected, with the
        :func:`drilldown` columns plus ``marginal_excess`` (excess errors on
        its audits not in an earlier finding, against the error rate of the
        other audits not in an earlier finding), ``<cause>`` (the most frequent cause among the slice's
        errors), ``cause_share``, ``cause_ci_low``, ``cause_ci_high`` (Wilson)
        and ``cause_n`` (errors in the slice).

    Notes
    -----
    Slices overlap, so one problem shows up many times (misinformation, then
    night × misinformation, Pune × misinformation, ...), and a broad slice can
    look bad only because it contains a small bad one. Starting from the
    flagged slices that are not ``explained_by`` a child pair, findings are
    picked greedily:

    1. The audits of the findings picked so far are set aside. For every
       candidate, the *marginal excess* is its excess errors on the audits
       left, against the error rate of the other audits left (so once
       misinformation is a finding, a site is judged on its other policies,
       against the other policies). A candidate whose marginal excess is below
       ``min_new_share`` of its drilldown excess is an echo and is dropped.
    2. The candidate with the largest marginal excess is picked.
    3. It is replaced by a smaller candidate that explains it on the audits
       left, in the sense of ``nested_share`` in :func:`drilldown` (at most
       ``nested_share`` of its audits, significantly worse than the rest of
       it, while that rest is not significantly worse than the other audits
       left); repeated until no such candidate is left.

    Every number comes from :func:`drilldown` and :func:`pareto`; see their
    Notes for what they are validated against. The greedy selection is a
    heuristic for reading, not a test: ``q_value`` is the drilldown's.

    References
    ----------
    .. [1] Benjamini, Y., Hochberg, Y. (1995). *JRSS B* 57(1), 289–300.
    .. [2] Wilson, E. B. (1927). *JASA* 22(158), 209–212.
    .. [3] Bhagwan, R. et al. (2014). Adtributor: revenue debugging in
       advertising systems. *NSDI '14*, 43–55 (explanatory power and
       succinctness of root-cause slices).
    """
    require_columns(audits, [cause], "rca.top_findings")
    if max_findings is not None and not (isinstance(max_findings, (int, np.integer)) and max_findings >= 1):
        raise ConfigError(f"max_findings must be a positive integer or None, got {max_findings!r}")
    if not (isinstance(max_candidates, (int, np.integer)) and max_candidates >= 1):
        raise ConfigError(f"max_candidates must be a positive integer, got {max_candidates!r}")
    if not (0 < min_new_share <= 1):
        raise ConfigError(f"min_new_share must be in (0, 1], got {min_new_share!r}")
    dd, codes = _drill(audits, dims, outcome, depth, alpha, min_n, weights, nested_share, "top_findings")
    dims = as_columns(dims, "dims")
    cand = dd[dd[FLAG].astype(bool) & dd[EXPLAINED_BY].isna()].head(max_candidates)
    y = _outcome_array(audits, outcome, "top_findings")
    w = _weight_array(audits, weights, "top_findings")
    ww = np.ones(len(y)) if w is None else w
    wy = ww * y
    w2 = ww * ww
    d1, c1 = cand["_d1"].to_numpy(), cand["_c1"].to_numpy()
    d2, c2 = cand["_d2"].to_numpy(), cand["_c2"].to_numpy()
    excess = cand[EXCESS_ERRORS].to_numpy(float)
    cache: dict[int, np.ndarray] = {}
    use_cache = len(y) * len(cand) <= 50_000_000

    def mask(k: int) -> np.ndarray:
        if k in cache:
            return cache[k]
        m = codes[dims[d1[k]]] == c1[k]
        if d2[k] >= 0:
            m &= codes[dims[d2[k]]] == c2[k]
        if use_cache:
            cache[k] = m
        return m

    def marginal_excess(m: np.ndarray, tot: tuple[float, ...]) -> float:
        """Excess errors on rows m (not yet covered) vs the other uncovered audits."""
        wm, wym = float(ww[m].sum()), float(wy[m].sum())
        rest_w = tot[0] - wm
        return wym - wm * ((tot[1] - wym) / rest_w) if rest_w > 0 else np.nan

    covered = np.zeros(len(y), bool)
    remaining = list(range(len(cand)))
    chosen: list[int] = []
    marginal: list[float] = []
    while remaining and (max_findings is None or len(chosen) < max_findings):
        unc = ~covered
        tot = (float(ww[unc].sum()), float(wy[unc].sum()), float(w2[unc].sum()))
        mex = {k: marginal_excess(mask(k) & unc, tot) for k in remaining}
        remaining = [k for k in remaining if mex[k] > 0 and mex[k] >= min_new_share * excess[k]]
        if not remaining:
            break
        f = max(remaining, key=lambda k: (mex[k], -k))
        improved, seen = True, {f}
        while improved:
            improved = False
            mf = mask(f) & unc
            nf = float(ww[mf].sum())
            par = (nf, float(wy[mf].sum()), float(w2[mf].sum()))
            for k in sorted(remaining, key=lambda k: (-mex[k], k)):
                if k in seen or float(ww[mask(k) & unc].sum()) >= nf:
                    continue  # only strictly smaller slices: the loop must end
                mk = mask(k) & mf
                kid = (float(ww[mk].sum()), float(wy[mk].sum()), float(w2[mk].sum()))
                if _explains(kid, par, tot, nested_share, alpha)[0]:
                    f, improved = k, True
                    seen.add(k)
                    break
        chosen.append(f)
        marginal.append(mex[f])
        covered |= mask(f)
        remaining.remove(f)

    sel = cand.iloc[chosen]
    yb = y.astype(bool)
    extra: dict[str, list] = {cause: [], CAUSE_SHARE: [], CAUSE_CI_LOW: [], CAUSE_CI_HIGH: [], CAUSE_N: []}
    for k in chosen:
        pt = pareto(audits.loc[mask(k) & yb, [cause, outcome]], cause=cause, outcome=outcome, alpha=alpha)
        if pt.empty:
            vals = (None, np.nan, np.nan, np.nan, 0)
        else:
            t = pt.iloc[0]
            vals = (t[cause], t[SHARE], t[S.CI_LOW], t[S.CI_HIGH], int(t[S.N]))
        for key, v in zip(extra, vals):
            extra[key].append(v)
    out = sel.drop(columns=["_d1", "_c1", "_d2", "_c2"]).reset_index(drop=True)
    out.insert(cast(int, out.columns.get_loc(EXCESS_ERRORS)) + 1, MARGINAL_EXCESS, np.asarray(marginal, float))
    for key, col in extra.items():
        out[key] = pd.Series(col, dtype=object if key == cause else ("int64" if key == CAUSE_N else float))
    return out
