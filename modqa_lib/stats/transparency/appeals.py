"""Appeals: reversal rates and decision times of appeals against moderation decisions.

See :mod:`modqa_lib.stats.transparency`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as st

from modqa_lib.contract import schema as S

__all__ = ["appeal_decision_times", "appeal_reversal_rates"]


# ------------------------------------------------------------------ appeals
def appeal_reversal_rates(
    appeals: pd.DataFrame, population: pd.DataFrame, by: Sequence[str] = (S.POLICY,), alpha: float = 0.05
) -> pd.DataFrame:
    """Share of decided appeals that reversed the decision, per group (DSA Art. 15(1)(d), Art. 20).

    Parameters
    ----------
    appeals : DataFrame
        Contract ``appeals`` table; pending appeals (no outcome) are left out.
    population : DataFrame
        Decisions with the ``by`` columns (e.g. output of :func:`prepare_transparency_frame`,
        which carries ``automation``) joined on ``decision_id``.
    by : sequence of str, default ("policy",)
        E.g. ``["policy"]``, ``["language"]``, ``["automation"]``.
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        The ``by`` columns, ``n`` (decided appeals), ``reversed``, ``reversal_rate``,
        ``ci_low``, ``ci_high``, ``pending``.

    Notes
    -----
    Every decided appeal is counted (a census, not a sample), so no design weights:
    the Wilson interval [1]_ (``statsmodels.stats.proportion.proportion_confint``)
    describes the reversal propensity behind the period's appeals.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. *JASA* 22, 209-212.
    """
    from statsmodels.stats.proportion import proportion_confint

    by = list(by)
    S.require_columns(appeals, [S.DECISION_ID, S.OUTCOME], "appeal_reversal_rates", table="appeals")
    keep = [S.DECISION_ID, *[c for c in by if c not in appeals.columns]]
    d = appeals.merge(population[keep].drop_duplicates(S.DECISION_ID), on=S.DECISION_ID, how="inner")
    d["_rev"] = (d[S.OUTCOME] == "reversed").astype(int)
    d["_dec"] = d[S.OUTCOME].notna().astype(int)
    g = d.groupby(by, observed=True).agg(n=("_dec", "sum"), reversed=("_rev", "sum"), total=("_dec", "size"))
    g = g.reset_index()
    g["pending"] = g["total"] - g[S.N]
    g = g.drop(columns="total")
    g = g[g[S.N] > 0].reset_index(drop=True)
    g["reversal_rate"] = g["reversed"] / g[S.N]
    lo, hi = proportion_confint(g["reversed"], g[S.N], alpha=alpha, method="wilson")
    g[S.CI_LOW], g[S.CI_HIGH] = np.asarray(lo), np.asarray(hi)
    return g


def appeal_decision_times(
    appeals: pd.DataFrame,
    population: pd.DataFrame | None = None,
    by: Sequence[str] = (),
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Median time to decide an appeal (hours) with a percentile bootstrap CI.

    Returns
    -------
    DataFrame
        The ``by`` columns, ``n`` (decided appeals), ``median_hours``, ``ci_low``, ``ci_high``.

    Notes
    -----
    ``scipy.stats.bootstrap`` with the percentile method [1]_ on the median, seeded.

    References
    ----------
    .. [1] Efron, B., Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*.
       Chapman & Hall. Ch. 13.
    """
    by = list(by)
    S.require_columns(appeals, [S.APPEALED_AT, S.DECIDED_AT], "appeal_decision_times", table="appeals")
    d = appeals[appeals[S.DECIDED_AT].notna()].copy()
    if by:
        keep = [S.DECISION_ID, *[c for c in by if c not in d.columns]]
        pop = population[keep]  # type: ignore[index]  # by implies population
        d = d.merge(pop.drop_duplicates(S.DECISION_ID), on=S.DECISION_ID, how="inner")
    d["_h"] = (d[S.DECIDED_AT] - d[S.APPEALED_AT]).dt.total_seconds() / 3600
    rows = []
    groups = d.groupby(by, observed=True) if by else [((), d)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        x = g["_h"].to_numpy(dtype=float)
        row = {**dict(zip(by, key)), S.N: len(x), "median_hours": float(np.median(x)) if len(x) else np.nan}
        if len(x) >= 2:
            b = st.bootstrap(
                (x,), np.median, confidence_level=1 - alpha, n_resamples=n_boot, method="percentile", random_state=seed
            )
            row[S.CI_LOW], row[S.CI_HIGH] = float(b.confidence_interval.low), float(b.confidence_interval.high)
        else:
            row[S.CI_LOW] = row[S.CI_HIGH] = np.nan
        rows.append(row)
    return pd.DataFrame(rows)
