"""Interrupted time series: segmented regression of the weekly accuracy in an action's scope."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, DataContractError, EstimationError
from modqa_lib.stats.effects._common import _action, _correct, _fmt, _require, describe_scope, in_scope

__all__ = ["interrupted_time_series"]


def interrupted_time_series(
    audits: pd.DataFrame, action, period: str = S.WEEK, alpha: float = 0.05, min_periods: int = 3
) -> pd.DataFrame:
    """Segmented regression of the weekly accuracy in the action's scope.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame with ``period`` (datetime, e.g. the Monday ``week``),
        IS_ERROR and the scope columns.
    action : Series, mapping or one-row DataFrame
        A row of the ``actions`` table.
    period : str, default WEEK
    alpha : float, default 0.05
    min_periods : int, default 3
        Periods with audits needed on each side of the start.

    Returns
    -------
    DataFrame
        One row: ``action_id``, ``n_periods_before``, ``n_periods_after``,
        ``n_before``, ``n_after`` (audits), ``pre_slope`` (accuracy change per
        period before), ``level_change`` (jump in accuracy at the start;
        > 0 = better), ``level_ci_low``, ``level_ci_high``, ``level_p_value``,
        ``slope_change``, ``slope_ci_low``, ``slope_ci_high``,
        ``slope_p_value``.

    Raises
    ------
    EstimationError
        Fewer than ``min_periods`` periods with audits on a side.

    Notes
    -----
    acc_t = β0 + β1·t + β2·post_t + β3·(t − t0)·post_t, fitted by weighted least
    squares with weights n_t (the audits in period t, so each rate counts in
    proportion to its binomial precision), t the period index on the calendar
    of ``audits`` and t0 the first post period; ``level_change`` = β2 and
    ``slope_change`` = β3 (Wagner et al. [1]_; Bernal, Cummins & Gasparrini
    [2]_). With weights n_t the residual scale estimates p(1 − p) times the
    dispersion; it is used (t-based intervals) when it is at least the
    binomial value p̃(1 − p̃), p̃ = (errors + ½)/(n + 1), otherwise the binomial
    value is used (normal intervals), so that a run of perfect weeks does not
    give a zero-width interval (over-dispersion only, as in Spiegelhalter
    [3]_). A period is "post" when it starts at or after
    ``started_at``; the period in which an action started mid-way is left out
    as a transition. Without a comparison series, anything else that changed
    at the start is attributed to the action. Tested on a simulated step of
    known size (``tests/test_effects.py``).

    References
    ----------
    .. [1] Wagner, A. K., Soumerai, S. B., Zhang, F., Ross-Degnan, D. (2002).
       Segmented regression analysis of interrupted time series studies in
       medication use research. *J. Clin. Pharm. Ther.* 27(4), 299–309.
    .. [2] Bernal, J. L., Cummins, S., Gasparrini, A. (2017). Interrupted time
       series regression for the evaluation of public health interventions: a
       tutorial. *Int. J. Epidemiol.* 46(1), 348–355.
    .. [3] Spiegelhalter, D. J. (2005). Handling over-dispersion of performance
       indicators. *Quality and Safety in Health Care* 14(5), 347–351.
    """
    act = _action(action, "interrupted_time_series")
    _require(audits, [period, S.IS_ERROR], "interrupted_time_series")
    if not pd.api.types.is_datetime64_any_dtype(audits[period]):
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": period,
                    "rule": "must be a date (the period start) for interrupted_time_series()",
                    "count": len(audits),
                }
            ]
        )
    if not (isinstance(min_periods, (int, np.integer)) and min_periods >= 2):
        raise ConfigError(f"interrupted_time_series(): min_periods must be >= 2, not {min_periods!r}")
    per = pd.DatetimeIndex(audits[period])
    per = per.tz_convert("UTC") if per.tz is not None else per.tz_localize("UTC")
    calendar = per.unique().sort_values()
    m = in_scope(audits, act).to_numpy()
    y = _correct(audits, "interrupted_time_series")[m]
    df = pd.DataFrame({"p": per[m], "y": y})
    wk = df.groupby("p")["y"].agg(["size", "sum"]).reset_index()
    start = act[S.STARTED_AT]
    post = (wk["p"] >= start).to_numpy()
    # a period that starts before the action but contains its start is a transition
    step = pd.Series(calendar).diff().median() if len(calendar) > 1 else pd.Timedelta(weeks=1)
    transition = (~post) & ((wk["p"] + step) > start).to_numpy()
    keep = ~transition
    wk, post = wk[keep].reset_index(drop=True), post[keep]
    nb, na = int((~post).sum()), int(post.sum())
    if nb < min_periods or na < min_periods:
        raise EstimationError(
            f"action {act[S.ACTION_ID]} ({describe_scope(act)}): needs "
            f"{min_periods} periods with audits on each side of {_fmt(start)}, found {nb} before "
            f"and {na} after"
        )
    if step is None or pd.isna(step) or step <= pd.Timedelta(0):
        step = pd.Timedelta(weeks=1)
    tt = ((wk["p"] - calendar[0]) / step).to_numpy(dtype=float)
    t0 = tt[post].min()
    acc = (wk["sum"] / wk["size"]).to_numpy(dtype=float)
    X = np.column_stack([np.ones_like(tt), tt, post.astype(float), (tt - t0) * post])
    w = wk["size"].to_numpy(dtype=float)
    res = sm.WLS(acc, X, weights=w).fit()
    # binomial floor on the residual variance: weights n_t make the scale an
    # estimate of p(1-p) x dispersion; never let it fall below the binomial value
    p_err = (w.sum() - (acc * w).sum() + 0.5) / (w.sum() + 1.0)
    binom = p_err * (1.0 - p_err)
    if res.scale < binom:
        res = sm.WLS(acc, X, weights=w).fit(cov_type="fixed scale", cov_kwds={"scale": binom})
    ci = res.conf_int(alpha=alpha)
    return pd.DataFrame(
        [
            {
                S.ACTION_ID: act[S.ACTION_ID],
                "n_periods_before": nb,
                "n_periods_after": na,
                "n_before": int(wk.loc[~post, "size"].sum()),
                "n_after": int(wk.loc[post, "size"].sum()),
                "pre_slope": float(res.params[1]),
                "level_change": float(res.params[2]),
                "level_ci_low": float(ci[2, 0]),
                "level_ci_high": float(ci[2, 1]),
                "level_p_value": float(res.pvalues[2]),
                "slope_change": float(res.params[3]),
                "slope_ci_low": float(ci[3, 0]),
                "slope_ci_high": float(ci[3, 1]),
                "slope_p_value": float(res.pvalues[3]),
            }
        ]
    )
