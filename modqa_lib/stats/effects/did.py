"""Difference-in-differences of accuracy: an action's scope against comparable units."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError, EstimationError
from modqa_lib.stats.effects._common import (
    COMPARISONS,
    INFERENCE,
    SCOPE_COLUMNS,
    _action,
    _correct,
    _require,
    _scope,
    _times,
    _window,
    describe_scope,
    in_scope,
)
from modqa_lib.stats.effects.inference import _two_step, _webb_weights, _WildCluster

__all__ = ["diff_in_diff"]


def _other_action_masks(audits, act, actions, t_lo, t_hi, treated):
    """Audits in scope of other actions that started inside the window and do not
    cover every treated audit (those would hit treated and comparison alike)."""
    bad = pd.Series(False, index=audits.index)
    if actions is None:
        return bad
    _require(actions, [S.ACTION_ID, S.STARTED_AT], "diff_in_diff", table="actions")
    for _, row in actions.iterrows():
        other = _action(row, "diff_in_diff")
        if other[S.ACTION_ID] == act[S.ACTION_ID]:
            continue
        if not (t_lo < other[S.STARTED_AT] <= t_hi):
            continue
        cols = [c for c in _scope(other) if c not in audits.columns]
        if cols:
            continue
        m = in_scope(audits, other)
        if treated.any() and m[treated].all():
            continue
        bad |= m
    return bad


def _changed_policies(policy_changes, t_lo, t_hi) -> set:
    if policy_changes is None:
        return set()
    _require(policy_changes, [S.CHANGED_AT, S.POLICY], "diff_in_diff", table="policy_changes")
    ts = pd.to_datetime(policy_changes[S.CHANGED_AT], utc=True, errors="coerce")
    inside = (ts > t_lo) & (ts <= t_hi)
    return set(policy_changes.loc[inside.fillna(False), S.POLICY].dropna())


def _comparison(audits, act, comparison, actions, policy_changes, t, base, match):
    """(treated mask, comparison mask, description) within ``base`` rows."""
    sc = _scope(act)
    treated = in_scope(audits, act) & base
    if isinstance(comparison, pd.Series):
        if not comparison.index.equals(audits.index) or comparison.dtype != bool:
            raise ConfigError("diff_in_diff(): a comparison mask must be a boolean Series with the index of audits")
        return treated, comparison & base & ~treated, "custom comparison units"
    if comparison not in COMPARISONS:
        raise ConfigError(
            f"diff_in_diff(): comparison must be one of {COMPARISONS} or a boolean mask, not {comparison!r}"
        )
    if comparison == "auto":
        if S.VENDOR in sc or S.SITE in sc:
            comparison = "other_vendors"
        elif S.POLICY in sc:
            comparison = "other_policies"
        else:
            comparison = "other_sites"
    comp = base & ~treated
    parts = []
    if comparison in ("other_vendors", "other_sites"):
        unit = S.VENDOR if comparison == "other_vendors" else S.SITE
        _require(audits, [unit], "diff_in_diff")
        units = set(audits.loc[treated, unit].dropna())
        comp &= ~audits[unit].isin(units)
        same = [c for c in match if c in sc and c not in (S.VENDOR, S.SITE)]
        for c in same:
            comp &= (audits[c] == sc[c]).fillna(False).astype(bool)
        parts.append(f"{'other vendors' if unit == S.VENDOR else 'other sites'}" + "".join(f", same {c}" for c in same))
    else:  # other_policies
        _require(audits, [S.POLICY], "diff_in_diff")
        comp &= ~audits[S.POLICY].isin(set(audits.loc[treated, S.POLICY].dropna()))
        for c in (S.VENDOR, S.SITE, S.MARKET):
            if c in sc:
                comp &= (audits[c] == sc[c]).fillna(False).astype(bool)
        parts.append("other policies" + "".join(f", same {c}" for c in (S.VENDOR, S.SITE, S.MARKET) if c in sc))
    if S.CHANNEL in audits.columns and treated.any():
        chans = set(audits.loc[treated, S.CHANNEL].dropna())
        comp &= audits[S.CHANNEL].isin(chans)
        parts.append("channel " + "/".join(sorted(map(str, chans))))
    t_lo, t_hi = t[base].min(), t[base].max()
    contaminated = _other_action_masks(audits, act, actions, t_lo, t_hi, treated)
    if contaminated[comp].any():
        parts.append("without other actions")
    comp &= ~contaminated
    changed = _changed_policies(policy_changes, t_lo, t_hi) - {sc.get(S.POLICY)}
    if changed and S.POLICY in audits.columns:
        drop = audits[S.POLICY].isin(changed)
        if (drop & (treated | comp)).any():
            parts.append("without policies changed in the window (" + ", ".join(sorted(changed)) + ")")
        treated = treated & ~drop
        comp = comp & ~drop
    return treated, comp, "; ".join(parts)


def diff_in_diff(
    audits: pd.DataFrame,
    action,
    comparison="auto",
    actions: pd.DataFrame | None = None,
    policy_changes: pd.DataFrame | None = None,
    window_weeks: float | None = None,
    alpha: float = 0.05,
    cluster: str = S.SITE,
    min_clusters: int = 20,
    match: Sequence[str] = (S.POLICY,),
    inference: str = "auto",
    n_boot: int = 999,
    seed=0,
) -> pd.DataFrame:
    """Difference-in-differences of accuracy: the action's scope against comparable units.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame with DECIDED_AT, IS_ERROR, the scope columns and
        ``cluster``.
    action : Series, mapping or one-row DataFrame
        A row of the ``actions`` table.
    comparison : {"auto", "other_vendors", "other_sites", "other_policies"} or Series of bool
        Comparison units. ``"other_vendors"``: audits of vendors not in the
        treated units, sharing the action's scope on the ``match`` columns
        (by default the same policy, when the action names one);
        ``"other_sites"``: likewise for sites (the same vendor's other sites
        count); ``"other_policies"``: other policies, same vendor/site/market
        as the scope; ``"auto"`` (default): other
        vendors when the scope names a vendor or site, else other policies
        when it names a policy, else other sites. A boolean mask aligned with
        ``audits`` gives the comparison rows directly.
    actions : DataFrame, optional
        The whole actions table. Comparison audits in scope of another action
        that started inside the analysis window are dropped, unless that
        action's scope covers every treated audit too (it then hits both arms
        and differences out).
    policy_changes : DataFrame, optional
        Policies with a change inside the window are dropped from both arms,
        except the action's own policy (which is in both arms alike).
    window_weeks : float, optional
        As in :func:`before_after`.
    alpha : float, default 0.05
    cluster : str, default SITE
        Column defining clusters (units that share persistent shocks).
    min_clusters : int, default 20
        Cluster-robust (CR1) standard errors need many clusters; with fewer
        the two-step cluster-level test is used (``inference="auto"``).
    inference : {"auto", "cluster", "two-step", "wild", "HC1"}, default "auto"
        ``"cluster"``: CR1 cluster-robust z intervals; ``"two-step"``: one
        accuracy change per cluster and arm, compared with a t test that
        allows for cluster-level shocks (see Notes); ``"wild"``: restricted
        wild cluster bootstrap-t with Webb weights, interval by test
        inversion; ``"HC1"``: audits treated as independent (only right
        without shared shocks); ``"auto"``: "cluster" with at least
        ``min_clusters`` clusters, else "two-step" (HC1 when every audit is
        in one cluster: both arms then share its shocks, which cancel).
    n_boot : int, default 999
        Bootstrap draws (every combination of weights when 6^clusters is fewer).
    seed : int or numpy.random.Generator, default 0
        Seed of the bootstrap weights (fixed: the same data give the same verdict).
    match : sequence of {POLICY, MARKET}, default (POLICY,)
        Scope columns the other-vendor/other-site comparison must share with
        the action. Adding MARKET makes the comparison more alike but, with
        few audits per market, much smaller.

    Returns
    -------
    DataFrame
        One row: ``action_id``, ``comparison`` (description of the comparison
        units), ``n_treated_before``, ``n_treated_after``,
        ``n_comparison_before``, ``n_comparison_after``,
        ``accuracy_treated_before``, ``accuracy_treated_after``,
        ``accuracy_comparison_before``, ``accuracy_comparison_after``, ``did``
        (accuracy points; > 0 = the scope improved more than the comparison),
        ``did_se``, ``did_ci_low``, ``did_ci_high``, ``did_p_value``,
        ``cov_type`` ("cluster", "two-step", "wild cluster bootstrap" or
        "HC1", with "+zero-cell" when a cell had no errors, see Notes),
        ``n_clusters``, ``n_treated_clusters`` (clusters with treated audits)
        and ``did_df`` (degrees of freedom of the two-step t; inf for z and
        bootstrap intervals).

    Raises
    ------
    EstimationError
        A cell of the 2×2 design (treated/comparison × before/after) is empty,
        or too few clusters are left for the two-step test.

    Notes
    -----
    Linear probability model fitted by OLS (statsmodels) on the audits of both
    arms: correct = β0 + β1·treated + β2·post + β3·treated·post; ``did`` = β3,
    which for this saturated model equals
    (acc_treated,after − acc_treated,before) − (acc_comp,after − acc_comp,before)
    exactly (Angrist & Pischke [1]_, ch. 5). Audits of one site share
    persistent shocks (staffing, a backlog, a bad month), so they are not
    independent: treating them so (HC1) gave placebo actions a verdict 10% of
    the time in ``tests/stats/test_effects.py`` (AR(1) site shocks, 9 sites).
    With at least ``min_clusters`` clusters the standard errors are clustered
    by ``cluster`` (CR1, z intervals). With fewer, CR1 is over-confident
    (Cameron & Miller [2]_), and a site-scoped action has a single treated
    cluster, where no cluster-robust variance or wild cluster bootstrap
    works (Conley & Taber [3]_; MacKinnon & Webb [7]_: the restricted wild
    bootstrap then hardly ever rejects, whatever the effect). The default
    ("two-step") therefore follows Donald & Lang [8]_: each cluster × arm
    with audits before and after gives one accuracy change d_u with binomial
    variance v_u; the changes of the comparison clusters show how much a
    site moves on its own. d_u = arm effect (+ a cluster effect for clusters
    in both arms, whose shared shock then cancels) + shock (variance τ²,
    the method-of-moments estimate of a meta-regression) + sampling error;
    ``did`` (the audit-level estimate above) is Σ c_u d_u with c_u = ± the
    unit's share of its arm's audits, its variance Σ c_u²(τ² + v_u) is
    multiplied by the Knapp–Hartung factor (Knapp & Hartung [9]_; floored
    at 1) and the interval and p-value use t with (units − parameters)
    degrees of freedom (``did_df``). It needs enough audits: a 19-point
    improvement at one site against five comparison sites is found at
    200,000 decisions (p ≈ 0.001), not reliably at 60,000. The restricted
    wild cluster bootstrap (WCR, Cameron, Gelbach & Miller [4]_; Webb's
    six-point weights [5]_; on cluster sums as in Roodman et al. [6]_;
    interval by test inversion, so it excludes 0 exactly when p < alpha) is
    available as ``inference="wild"`` for designs with several treated
    clusters, and is tested against a brute-force loop over the draws.
    For the CR1 and HC1 paths a cell with no errors (or only errors) has
    zero residuals, so a robust variance would treat its accuracy as known
    exactly; for such cells the binomial variance q(1 − q)/n at q = (errors + ½)/(n + 1) is added to
    the variance of ``did`` and ``cov_type`` gets the suffix "+zero-cell". The key
    assumption is parallel trends: without the action the scope would have
    moved like the comparison. Tested against a direct statsmodels OLS fit and
    a hand 2×2 table (``tests/test_effects.py``).

    References
    ----------
    .. [1] Angrist, J. D., Pischke, J.-S. (2009). *Mostly Harmless Econometrics*.
       Princeton University Press. Chapter 5.
    .. [2] Cameron, A. C., Miller, D. L. (2015). A practitioner's guide to
       cluster-robust inference. *Journal of Human Resources* 50(2), 317–372.
    .. [3] Conley, T. G., Taber, C. R. (2011). Inference with "difference in
       differences" with a small number of policy changes. *Review of Economics
       and Statistics* 93(1), 113–125.
    .. [4] Cameron, A. C., Gelbach, J. B., Miller, D. L. (2008). Bootstrap-based
       improvements for inference with clustered errors. *Review of Economics
       and Statistics* 90(3), 414–427.
    .. [5] Webb, M. D. (2023). Reworking wild bootstrap-based inference for
       clustered errors. *Canadian Journal of Economics* 56(3), 839–858.
    .. [6] Roodman, D., MacKinnon, J. G., Nielsen, M. Ø., Webb, M. D. (2019).
       Fast and wild: bootstrap inference in Stata using boottest. *The Stata
       Journal* 19(1), 4–60.
    .. [7] MacKinnon, J. G., Webb, M. D. (2017). Wild bootstrap inference for
       wildly different cluster sizes. *Journal of Applied Econometrics* 32(2),
       233–254.
    .. [8] Donald, S. G., Lang, K. (2007). Inference with difference-in-differences
       and other panel data. *Review of Economics and Statistics* 89(2), 221–233.
    .. [9] Knapp, G., Hartung, J. (2003). Improved tests for a random effects
       meta-regression with a single covariate. *Statistics in Medicine* 22(17),
       2693–2710.
    """
    act = _action(action, "diff_in_diff")
    t = _times(audits, "diff_in_diff")
    _require(audits, [cluster], "diff_in_diff")
    if not (isinstance(min_clusters, (int, np.integer)) and min_clusters >= 2):
        raise ConfigError(f"diff_in_diff(): min_clusters must be a whole number >= 2, not {min_clusters!r}")
    if inference not in INFERENCE:
        raise ConfigError(f"diff_in_diff(): inference must be one of {INFERENCE}, not {inference!r}")
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 99):
        raise ConfigError(f"diff_in_diff(): n_boot must be a whole number >= 99, not {n_boot!r}")
    base = _window(t, act[S.STARTED_AT], window_weeks)
    bad = [c for c in match if c not in SCOPE_COLUMNS]
    if bad:
        raise ConfigError(f"diff_in_diff(): match must name scope columns {SCOPE_COLUMNS}, not {bad}")
    treated, comp, desc = _comparison(audits, act, comparison, actions, policy_changes, t, base, tuple(match))
    post = t >= act[S.STARTED_AT]
    cells = {
        (tr, po): int((arm & (post if po else ~post)).sum()) for tr, arm in ((1, treated), (0, comp)) for po in (0, 1)
    }
    empty = [
        f"{'treated' if tr else 'comparison'} {'after' if po else 'before'}" for (tr, po), k in cells.items() if k == 0
    ]
    if empty:
        raise EstimationError(
            f"action {act[S.ACTION_ID]} ({describe_scope(act)}): no audits for "
            f"{', '.join(empty)} (comparison: {desc or 'none'}); a difference-in-differences "
            f"needs all four cells"
        )
    use = (treated | comp).to_numpy()
    y = _correct(audits, "diff_in_diff")[use]
    tr = treated.to_numpy()[use].astype(float)
    po = post.to_numpy()[use].astype(float)
    X = np.column_stack([np.ones_like(tr), tr, po, tr * po])
    groups = pd.factorize(audits[cluster].to_numpy()[use], use_na_sentinel=False)[0]
    n_clusters = int(groups.max()) + 1
    n_treated_clusters = int(len(np.unique(groups[tr == 1])))
    how = inference
    if how == "auto":  # one cluster: both arms share its shocks, which cancel in the DiD
        how = "cluster" if n_clusters >= min_clusters else ("two-step" if n_clusters >= 2 else "HC1")
    if how in ("cluster", "two-step", "wild") and n_clusters < 2:
        raise EstimationError(
            f"action {act[S.ACTION_ID]} ({describe_scope(act)}): all audits are in one {cluster}; "
            f"clustered inference needs at least 2 (use inference='HC1' if they are independent)"
        )
    model = sm.OLS(y, X)
    extra = 0.0
    df = np.inf  # normal (z) or bootstrap intervals
    if how == "two-step":
        est = float(np.linalg.lstsq(X, y, rcond=None)[0][3])
        ts = _two_step(y, tr, po, groups, est, alpha)
        if ts is None:
            raise EstimationError(
                f"action {act[S.ACTION_ID]} ({describe_scope(act)}): too few {cluster}s with audits before and "
                f"after in each arm ({n_clusters} in all) for a test that allows for {cluster}-level shocks"
            )
        se, pval, lo, hi, df = ts["se"], ts["p"], ts["lo"], ts["hi"], ts["df"]
        cov = "two-step"
    elif how == "wild":
        wb = _WildCluster(y, X, groups, 3, _webb_weights(n_clusters, n_boot, np.random.default_rng(seed)))
        est, se = float(wb.b[3]), wb.se
        pval = wb.p_value(0.0)
        lo, hi = wb.interval(alpha)
        cov = "wild cluster bootstrap"
    else:
        if how == "cluster":
            res = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
        else:
            res = model.fit(cov_type="HC1")
        cov = how
        est, se = float(res.params[3]), float(res.bse[3])
        lo, hi = res.conf_int(alpha=alpha)[3]
        pval = float(res.pvalues[3])
        # a cell with no errors (or only errors) has zero residuals and adds nothing to
        # a robust variance, as if its accuracy were known exactly: add its binomial
        # variance at the half-event-adjusted rate instead
        for a_ in (0.0, 1.0):
            for p_ in (0.0, 1.0):
                cell = (tr == a_) & (po == p_)
                n_c, x_c = float(cell.sum()), float(y[cell].sum())
                if x_c in (0.0, n_c):
                    q = (x_c + 0.5) / (n_c + 1.0)
                    extra += q * (1.0 - q) / n_c
    if extra > 0:
        se = float(np.sqrt(se**2 + extra))
        zq = stats.norm.isf(alpha / 2)
        lo, hi = est - zq * se, est + zq * se
        pval = float(2 * stats.norm.sf(abs(est) / se))
        cov += "+zero-cell"

    def acc(a, p):
        m = (tr == a) & (po == p)
        return float(y[m].mean())

    return pd.DataFrame(
        [
            {
                S.ACTION_ID: act[S.ACTION_ID],
                "comparison": desc,
                "n_treated_before": cells[(1, 0)],
                "n_treated_after": cells[(1, 1)],
                "n_comparison_before": cells[(0, 0)],
                "n_comparison_after": cells[(0, 1)],
                "accuracy_treated_before": acc(1, 0),
                "accuracy_treated_after": acc(1, 1),
                "accuracy_comparison_before": acc(0, 0),
                "accuracy_comparison_after": acc(0, 1),
                "did": est,
                "did_se": se,
                "did_ci_low": float(lo),
                "did_ci_high": float(hi),
                "did_p_value": pval,
                "cov_type": cov,
                "n_clusters": n_clusters,
                "n_treated_clusters": n_treated_clusters,
                "did_df": df,
            }
        ]
    )
