"""Accuracy in an action's scope before vs after it started."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats import proportion as smp

from modqa_lib.contract import schema as S
from modqa_lib.errors import EstimationError
from modqa_lib.stats.effects._common import (
    ACCURACY_AFTER_CI_HIGH,
    ACCURACY_AFTER_CI_LOW,
    ACCURACY_BEFORE_CI_HIGH,
    ACCURACY_BEFORE_CI_LOW,
    _action,
    _correct,
    _fmt,
    _times,
    _weight_column,
    _window,
    describe_scope,
    in_scope,
)

__all__ = ["before_after"]


def before_after(
    audits: pd.DataFrame, action, window_weeks: float | None = None, alpha: float = 0.05, weights=None
) -> pd.DataFrame:
    """Accuracy in the action's scope before vs after it started.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.data.io.audited_decisions`) with
        DECIDED_AT, IS_ERROR and the scope columns.
    action : Series, mapping or one-row DataFrame
        A row of the ``actions`` table.
    window_weeks : float, optional
        Use only decisions within this many weeks before and after
        ``started_at``; default all.
    alpha : float, default 0.05
        1 − confidence level.
    weights : {None, "auto"}, bool or str, default None
        Design-weight column (e.g. ``"weight"``, 1 / inclusion probability);
        ``"auto"``: ``weight`` when the audits have it; None: unweighted.

    Returns
    -------
    DataFrame
        One row: ``action_id``, ``weighted`` (bool), ``n_before``, ``errors_before``,
        ``accuracy_before``, ``accuracy_before_ci_low``, ``accuracy_before_ci_high``,
        ``n_after``, ``errors_after``, ``accuracy_after``, ``accuracy_after_ci_low``,
        ``accuracy_after_ci_high``, ``diff`` (accuracy after − before), ``diff_ci_low``,
        ``diff_ci_high``, ``p_value`` (H0: no difference).

    Raises
    ------
    EstimationError
        No audits in scope on one side of ``started_at`` (the message says which).

    Notes
    -----
    A decision belongs to "after" when ``decided_at >= started_at``. Accuracy
    intervals are Wilson score intervals [1]_ (``proportion_confint(...,
    method="wilson")``); the difference uses Newcombe's hybrid score interval
    [2]_ (``confint_proportions_2indep(..., method="newcomb")``) and the p-value
    the score test (``test_proportions_2indep(..., method="score")``), all from
    statsmodels, and is tested against those calls. Weighted, each accuracy is
    the design-based (Hajek) estimate of the scope's decisions in that period
    with its Korn–Graubard interval (:func:`modqa_lib.stats.scoring.ratio_estimates`,
    domain estimation over the whole audit sample, by ``stratum`` when present);
    the difference's interval combines the two intervals by MOVER (Zou &
    Donner [3]_; with Wilson limits this is Newcombe's interval) and its p-value
    is a z test on the two linearised standard errors. ``n_*`` and ``errors_*``
    stay audit counts. A before/after change
    includes anything else that changed at the same time; see
    :func:`diff_in_diff`.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. *JASA* 22(158), 209–212.
    .. [2] Newcombe, R. G. (1998). Interval estimation for the difference between
       independent proportions: comparison of eleven methods. *Statistics in
       Medicine* 17(8), 873–890.
    .. [3] Zou, G. Y., Donner, A. (2008). Construction of confidence limits about
       effect measures: a general approach. *Statistics in Medicine* 27(10),
       1693–1702.
    """
    act = _action(action, "before_after")
    wcol = _weight_column(audits, weights, "before_after")
    t = _times(audits, "before_after")
    m = in_scope(audits, act) & _window(t, act[S.STARTED_AT], window_weeks)
    y = _correct(audits, "before_after")
    post = (t >= act[S.STARTED_AT]).to_numpy()
    mm = m.to_numpy()
    yb, ya = y[mm & ~post], y[mm & post]
    scope = describe_scope(act)
    if len(yb) == 0 or len(ya) == 0:
        side = "before" if len(yb) == 0 else "after"
        span = f"audited decisions run {_fmt(t.min())} to {_fmt(t.max())}" if len(t) else "there are no audits"
        raise EstimationError(
            f"action {act[S.ACTION_ID]} ({scope}) started {_fmt(act[S.STARTED_AT])}: no audits in "
            f"scope {side} it ({span}, {int(mm.sum())} in scope)"
        )
    nb, na = len(yb), len(ya)
    cb, ca = int(yb.sum()), int(ya.sum())
    if wcol is None:
        accb, acca = cb / nb, ca / na
        lb, hb = smp.proportion_confint(cb, nb, alpha=alpha, method="wilson")
        la, ha = smp.proportion_confint(ca, na, alpha=alpha, method="wilson")
        dl, dh = smp.confint_proportions_2indep(ca, na, cb, nb, method="newcomb", compare="diff", alpha=alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = smp.test_proportions_2indep(ca, na, cb, nb, method="score", compare="diff").pvalue
    else:
        from modqa_lib.stats.scoring import ratio_estimates

        strata = S.STRATUM if S.STRATUM in audits.columns else None
        est = [
            ratio_estimates(audits, y, weights=wcol, strata=strata, mask=mm & side, alpha=alpha).iloc[0]
            for side in (~post, post)
        ]
        accb, acca = float(est[0]["estimate"]), float(est[1]["estimate"])
        lb, hb = float(est[0]["ci_low"]), float(est[0]["ci_high"])
        la, ha = float(est[1]["ci_low"]), float(est[1]["ci_high"])
        d = acca - accb
        dl = d - np.sqrt((acca - la) ** 2 + (hb - accb) ** 2)  # MOVER (Zou & Donner)
        dh = d + np.sqrt((ha - acca) ** 2 + (accb - lb) ** 2)
        se = float(np.hypot(est[0]["se"], est[1]["se"]))
        p = float(2 * stats.norm.sf(abs(d) / se)) if se > 0 else float(d == 0)
    return pd.DataFrame(
        [
            {
                S.ACTION_ID: act[S.ACTION_ID],
                "weighted": wcol is not None,
                "n_before": nb,
                "errors_before": nb - cb,
                "accuracy_before": accb,
                ACCURACY_BEFORE_CI_LOW: lb,
                ACCURACY_BEFORE_CI_HIGH: hb,
                "n_after": na,
                "errors_after": na - ca,
                "accuracy_after": acca,
                ACCURACY_AFTER_CI_LOW: la,
                ACCURACY_AFTER_CI_HIGH: ha,
                "diff": acca - accb,
                "diff_ci_low": float(dl),
                "diff_ci_high": float(dh),
                S.P_VALUE: float(p),
            }
        ]
    )
