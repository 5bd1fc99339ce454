"""Verdicts and the tracking table of corrective actions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import holm_pvalues
from modqa_lib.errors import ConfigError, DataContractError, EstimationError
from modqa_lib.stats.effects._common import (
    ACCURACY_AFTER_CI_HIGH,
    ACCURACY_AFTER_CI_LOW,
    ACCURACY_BEFORE_CI_HIGH,
    ACCURACY_BEFORE_CI_LOW,
    _action,
    _require,
    _scope,
    _times,
    _weight_column,
    describe_scope,
    in_scope,
)
from modqa_lib.stats.effects.before_after import before_after
from modqa_lib.stats.effects.did import diff_in_diff
from modqa_lib.stats.effects.its import interrupted_time_series

__all__ = ["action_effects", "verdict"]


def verdict(ci_low: float, ci_high: float) -> str:
    """Verdict from the confidence interval of an accuracy effect (DiD by default).

    Parameters
    ----------
    ci_low, ci_high : float
        Interval of the effect on accuracy (positive = better).

    Returns
    -------
    {"worked", "worse", "no evidence", "insufficient data"}
        "worked" when the whole interval is above 0 (accuracy up, error rate
        down), "worse" when it is below 0, "no evidence" when it contains 0,
        "insufficient data" when either end is missing.

    Notes
    -----
    "No evidence" is not evidence of no effect: a wide interval around 0 means
    the audits cannot tell. Read it with the interval's width.

    Examples
    --------
    >>> verdict(0.01, 0.09), verdict(-0.05, 0.02), verdict(-0.09, -0.01)
    ('worked', 'no evidence', 'worse')
    """
    if ci_low is None or ci_high is None or pd.isna(ci_low) or pd.isna(ci_high):
        return "insufficient data"
    if ci_low > 0:
        return "worked"
    if ci_high < 0:
        return "worse"
    return "no evidence"


# ------------------------------------------------------------ tracking table
def _short(exc: Exception, act: dict) -> str:
    """An error message without the leading "action X (scope): " (the row says it)."""
    msg = str(exc)
    head = f"action {act[S.ACTION_ID]} ({describe_scope(act)}): "
    return msg[len(head) :] if msg.startswith(head) else msg


_COLUMNS = [
    S.ACTION_ID,
    S.KIND,
    "scope",
    S.STARTED_AT,
    "n_before",
    "n_after",
    "accuracy_before",
    ACCURACY_BEFORE_CI_LOW,
    ACCURACY_BEFORE_CI_HIGH,
    "accuracy_after",
    ACCURACY_AFTER_CI_LOW,
    ACCURACY_AFTER_CI_HIGH,
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "did",
    "did_ci_low",
    "did_ci_high",
    "did_p_value",
    "comparison",
    "n_comparison",
    "cov_type",
    "n_clusters",
    "did_df",
    "its_level_change",
    "its_ci_low",
    "its_ci_high",
    "verdict",
    "rate_basis",
    "reason",
]


def action_effects(
    audits: pd.DataFrame,
    actions: pd.DataFrame,
    policy_changes: pd.DataFrame | None = None,
    comparison="auto",
    window_weeks: float | None = None,
    alpha: float = 0.05,
    min_n: int = 10,
    min_clusters: int = 20,
    period: str = S.WEEK,
    match: Sequence[str] = (S.POLICY,),
    inference: str = "auto",
    seed=0,
    weights="auto",
) -> pd.DataFrame:
    """Tracking table of corrective actions: one row per action with its effects and a verdict.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.data.io.audited_decisions`).
    actions : DataFrame
        The ``actions`` table (ACTION_ID, KIND, scope columns, STARTED_AT).
    policy_changes : DataFrame, optional
        Passed to :func:`diff_in_diff`.
    comparison : str or Series of bool, default "auto"
        Passed to :func:`diff_in_diff`.
    window_weeks : float, optional
        Passed to :func:`before_after` and :func:`diff_in_diff`.
    alpha : float, default 0.05
    min_n : int, default 10
        Minimum audits in scope on each side of ``started_at``; below it the
        verdict is "insufficient data".
    min_clusters, match, inference, seed
        Passed to :func:`diff_in_diff` (by default a test that allows for
        site-level shocks).
    period : str, default WEEK
        Passed to :func:`interrupted_time_series`.
    weights : {"auto", None} or str, default "auto"
        Passed to :func:`before_after`: the accuracies before and after are
        design-weighted when the audits carry ``weight`` ("auto").

    Returns
    -------
    DataFrame
        One row per action, in table order: ``action_id``, ``kind``, ``scope``
        (:func:`describe_scope`), ``started_at``, ``n_before``, ``n_after``,
        ``accuracy_before``, ``accuracy_before_ci_low``, ``accuracy_before_ci_high``,
        ``accuracy_after``, ``accuracy_after_ci_low``, ``accuracy_after_ci_high``, ``diff``,
        ``diff_ci_low``, ``diff_ci_high`` (:func:`before_after`), ``did``, ``did_ci_low``,
        ``did_ci_high``, ``did_p_value``, ``comparison``, ``n_comparison``,
        ``cov_type``, ``n_clusters``, ``did_df`` (:func:`diff_in_diff`), ``its_level_change``,
        ``its_ci_low``, ``its_ci_high`` (:func:`interrupted_time_series`),
        ``verdict`` ({"worked", "worse", "no evidence", "insufficient data"}),
        ``rate_basis`` ("design-weighted" or "unweighted": how the accuracies
        before and after were estimated) and ``reason`` ("" when every estimate was made; otherwise why an
        estimate is missing, so no NaN is left unexplained).

    Notes
    -----
    The verdict comes from the difference-in-differences interval
    (:func:`verdict`; by default a test that allows for persistent site-level
    shocks, see :func:`diff_in_diff`), and, when the table holds several
    actions with an estimate, "worked"/"worse" also need the DiD p-value to
    survive Holm's correction over them (else "no evidence"), so the chance
    of any false verdict in a report stays at or below alpha instead of
    1 − (1 − alpha)^m (``tests/stats/test_effects.py`` simulates placebo
    actions with AR(1) site shocks: 1.25% of reports). The DiD is the primary
    estimate, because a before/after change or an interrupted time series
    without a comparison also picks up whatever else moved at the same time
    (a policy change, seasonality). "worked" means the interval excludes 0 on
    the side of higher accuracy. Actions without enough data (started before
    the first or after the last audited decision, fewer than ``min_n`` audits
    on a side, no comparison units, too few sites for the site-level test)
    get "insufficient data" and the reason. The intervals shown are per
    action; the verdict is the multiplicity-adjusted reading.

    The accuracies before and after (and their difference) are
    design-weighted when the audits carry weights (``rate_basis``): they
    estimate the scope's decisions, not the audited sample. The DiD and the
    time series are unweighted models of the audits: they compare the same
    scope with itself over time, so the design weights (set by risk
    multipliers within each stratum) cancel unless the audited mix moves
    at the action's start, and weighting them would only widen the interval.

    References
    ----------
    .. [1] Angrist, J. D., Pischke, J.-S. (2009). *Mostly Harmless Econometrics*.
       Princeton University Press. Chapter 5.
    .. [2] Wagner, A. K., Soumerai, S. B., Zhang, F., Ross-Degnan, D. (2002).
       Segmented regression analysis of interrupted time series studies in
       medication use research. *J. Clin. Pharm. Ther.* 27(4), 299–309.
    """
    _require(actions, [S.ACTION_ID, S.STARTED_AT], "action_effects", table="actions")
    _times(audits, "action_effects")
    wcol = _weight_column(audits, weights, "action_effects")
    if not (isinstance(min_n, (int, np.integer)) and min_n >= 1):
        raise ConfigError(f"action_effects(): min_n must be a whole number >= 1, not {min_n!r}")
    rows = []
    for _, row in actions.iterrows():
        act = _action(row, "action_effects")
        out: dict[str, Any] = dict.fromkeys(_COLUMNS, np.nan)
        out.update(
            {
                S.ACTION_ID: act[S.ACTION_ID],
                S.KIND: act.get(S.KIND, ""),
                "scope": describe_scope(act),
                S.STARTED_AT: act[S.STARTED_AT],
                "comparison": "",
                "cov_type": "",
                "n_before": 0,
                "n_after": 0,
                "n_comparison": 0,
                "n_clusters": 0,
            }
        )
        reasons = []
        missing = [c for c in _scope(act) if c not in audits.columns]
        if missing:
            reasons.append(f"audits have no column(s) {missing} to select the scope")
        else:
            try:
                ba = before_after(audits, act, window_weeks=window_weeks, alpha=alpha, weights=wcol).iloc[0]
                out.update(
                    {
                        k: ba[k]
                        for k in (
                            "n_before",
                            "n_after",
                            "accuracy_before",
                            ACCURACY_BEFORE_CI_LOW,
                            ACCURACY_BEFORE_CI_HIGH,
                            "accuracy_after",
                            ACCURACY_AFTER_CI_LOW,
                            ACCURACY_AFTER_CI_HIGH,
                            "diff",
                            "diff_ci_low",
                            "diff_ci_high",
                        )
                    }
                )
            except EstimationError as exc:
                reasons.append(str(exc))
                m = in_scope(audits, act)
                t = _times(audits, "action_effects")
                out["n_before"] = int((m & (t < act[S.STARTED_AT])).sum())
                out["n_after"] = int((m & (t >= act[S.STARTED_AT])).sum())
            small = [f"{k[2:]} ({out[k]})" for k in ("n_before", "n_after") if 0 < out[k] < min_n]
            if small and not reasons:
                reasons.append(f"fewer than {min_n} audits in scope {' and '.join(small)}")
            if not reasons:
                try:
                    dd = diff_in_diff(
                        audits,
                        act,
                        comparison=comparison,
                        actions=actions,
                        policy_changes=policy_changes,
                        window_weeks=window_weeks,
                        alpha=alpha,
                        min_clusters=min_clusters,
                        match=match,
                        inference=inference,
                        seed=seed,
                    ).iloc[0]
                    out.update(
                        {
                            k: dd[k]
                            for k in (
                                "did",
                                "did_ci_low",
                                "did_ci_high",
                                "did_p_value",
                                "comparison",
                                "cov_type",
                                "n_clusters",
                                "did_df",
                            )
                        }
                    )
                    out["n_comparison"] = int(dd["n_comparison_before"] + dd["n_comparison_after"])
                except EstimationError as exc:
                    reasons.append(f"difference-in-differences: {_short(exc, act)}")
            if out["n_before"] > 0 and out["n_after"] > 0:
                try:
                    its = interrupted_time_series(audits, act, period=period, alpha=alpha).iloc[0]
                    out.update(
                        {
                            "its_level_change": its["level_change"],
                            "its_ci_low": its["level_ci_low"],
                            "its_ci_high": its["level_ci_high"],
                        }
                    )
                except (EstimationError, DataContractError) as exc:
                    reasons.append(f"interrupted time series: {_short(exc, act)}")
        out["verdict"] = verdict(out["did_ci_low"], out["did_ci_high"])
        out["rate_basis"] = "design-weighted" if wcol is not None else "unweighted"
        out["reason"] = "; ".join(reasons)
        rows.append(out)
    res = pd.DataFrame(rows, columns=_COLUMNS)
    # one report, several actions: a verdict other than "no evidence" needs the DiD p-value to survive
    # Holm's correction over the actions with an estimate (the per-action interval stays as it is)
    pv = pd.to_numeric(res["did_p_value"], errors="coerce").to_numpy(float)
    ok = np.isfinite(pv)
    if ok.sum() > 1:
        adj = np.ones(len(res))
        adj[ok] = holm_pvalues(pv[ok])
        weak = ok & (adj >= alpha) & res["verdict"].isin(["worked", "worse"]).to_numpy()
        res.loc[weak, "verdict"] = "no evidence"
    if len(res):
        res[S.STARTED_AT] = pd.to_datetime(res[S.STARTED_AT], utc=True)
    for c in ("n_before", "n_after", "n_comparison", "n_clusters"):
        res[c] = res[c].astype("int64")
    return res
