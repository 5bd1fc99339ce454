"""Accuracy corrected for auditor error: auditors' sensitivity and specificity from gold,
Rogan-Gladen corrected error rates with delta-method intervals, and Dawid-Skene.

Every other score takes the QA verdict as truth. Here a QA verdict "error" is a
diagnostic test of the decision: its **sensitivity** is P(QA says error | the decision
is wrong) and its **specificity** P(QA says correct | the decision is right), both
measured on golden items where the policy team's answer is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from modqa_lib.contract import schema as S
from modqa_lib.errors import EstimationError
from modqa_lib.stats.qaqa._common import FLAG, as_list, check_alpha, require
from modqa_lib.stats.scoring import accuracy_table, bh_qvalues, proportion_ci

__all__ = [
    "DawidSkeneResult",
    "auditor_error_rates",
    "corrected_error_rates",
    "dawid_skene",
    "rogan_gladen",
]

ALL = "ALL"  # the pooled row of auditor_error_rates
SENSITIVITY = "sensitivity"
SPECIFICITY = "specificity"


def _ac_var(k, n, k0=None, n0=None, m: float = 2.0) -> np.ndarray:
    """Variance of a proportion ``k / n``, centred at ``k / n`` shrunk towards a pooled rate.

    The centre is ``(k + m p0) / (n + m)`` with ``p0 = (k0 + 0.5) / (n0 + 1)`` (the pooled rate,
    itself kept off 0 and 1; without a pool ``p0 = (k + 0.5) / (n + 1)``), so an auditor with
    30 of 30 right on gold still carries sampling uncertainty, about as much as the binomial
    variance at the pooled rate.
    """
    k, n = np.asarray(k, float), np.asarray(n, float)
    if k0 is None or n0 is None:
        k0, n0 = k, n
    p0 = (np.asarray(k0, float) + 0.5) / (np.asarray(n0, float) + 1)
    pt = (k + m * p0) / (n + m)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pt * (1 - pt) / n


def auditor_error_rates(
    golden_audits: pd.DataFrame,
    golden: pd.DataFrame,
    by: str = S.AUDITOR_ID,
    alpha: float = 0.05,
    disputes: pd.DataFrame | None = None,
    audited: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each auditor's sensitivity and specificity for "error", from golden items (and disputes).

    Parameters
    ----------
    golden_audits : DataFrame
        Golden audits joined to their decisions: ``decision_id`` (the golden item),
        ``label`` (the decision), ``is_error`` (the auditor's verdict) and ``by``; e.g.
        ``audited_decisions(tables, include_golden=True)`` filtered on ``is_golden``.
    golden : DataFrame
        The ``golden`` table (``item_id``, ``gold_label``).
    by : str, default "auditor_id"
    alpha : float, default 0.05
        Level of the intervals and of the low-specificity flag (BH over auditors).
    disputes, audited : DataFrame, optional
        When both are given, resolved disputes add evidence: an overturned error verdict
        counts as a false "error" (the decision was right), an upheld one as a true "error".
        Disputed verdicts are a selected sample (vendors dispute the doubtful ones), so this
        is off by default.

    Returns
    -------
    DataFrame
        One row per auditor and a last row ``ALL`` (pooled): ``by``; ``n_wrong`` (golden
        audits of decisions that are wrong by the gold label), ``caught`` and
        ``sensitivity`` with ``se_ci_low``, ``se_ci_high``; ``n_right``, ``false_alarms``
        and ``specificity`` with ``sp_ci_low``, ``sp_ci_high`` (Wilson); ``p_value``
        (one-sided Fisher: more false alarms than the other auditors), ``q_value`` (BH),
        ``flag`` (low specificity: q < alpha).

    Raises
    ------
    EstimationError
        Missing columns; no golden audit whose item is in ``golden``.

    Notes
    -----
    Verdicts on golden items are compared with the policy team's gold label, as in
    :func:`modqa_lib.stats.moderators.golden_accuracy`. Fisher's test via ``scipy.stats.fisher_exact``.

    References
    ----------
    .. [1] Rogan, W. J. and Gladen, B. (1978). Estimating prevalence from the results of a
       screening test. American Journal of Epidemiology 107(1), 71-76.
    """
    alpha = check_alpha(alpha)
    require(golden_audits, [S.DECISION_ID, S.LABEL, S.IS_ERROR, by], "golden audits")
    require(golden, [S.ITEM_ID, S.GOLD_LABEL], "golden")
    gl = golden.drop_duplicates(S.ITEM_ID).set_index(S.ITEM_ID)[S.GOLD_LABEL]
    g = golden_audits.assign(_gold=gl.reindex(golden_audits[S.DECISION_ID].to_numpy()).to_numpy())
    g = g[g["_gold"].notna()]
    if g.empty:
        raise EstimationError("no golden audit points at an item of the golden table; cannot measure auditors")
    frame = pd.DataFrame(
        {
            by: g[by].to_numpy(dtype=object),
            "_wrong": (g[S.LABEL].astype(object).to_numpy() != g["_gold"].astype(object).to_numpy()),
            "_says": g[S.IS_ERROR].astype(bool).to_numpy(),
        }
    )
    if disputes is not None and audited is not None:
        from modqa_lib.stats.qaqa.disputes import disputed_audits

        d = disputed_audits(audited, disputes)
        d = d[d["resolved"] & d[S.IS_ERROR].astype(bool) & (d[S.STATUS] != S.STATUS_PARTIAL)]
        frame = pd.concat(
            [
                frame,
                pd.DataFrame(
                    {by: d[by].to_numpy(dtype=object), "_wrong": ~d["overturned"].to_numpy(dtype=bool), "_says": True}
                ),
            ],
            ignore_index=True,
        )
    frame["_caught"] = frame["_wrong"] & frame["_says"]
    frame["_right"] = ~frame["_wrong"]
    frame["_fa"] = frame["_right"] & frame["_says"]
    agg = frame.groupby(by, sort=True)[["_wrong", "_caught", "_right", "_fa"]].sum().astype(np.int64).reset_index()
    tot = agg[["_wrong", "_caught", "_right", "_fa"]].sum()
    agg = pd.concat([agg, pd.DataFrame([{by: ALL, **tot.to_dict()}])], ignore_index=True)
    out = pd.DataFrame({by: agg[by]})
    out["n_wrong"], out["caught"] = agg["_wrong"], agg["_caught"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[SENSITIVITY] = np.where(agg["_wrong"] > 0, agg["_caught"] / agg["_wrong"].clip(lower=1), np.nan)
        out["se_ci_low"], out["se_ci_high"] = proportion_ci(agg["_caught"].to_numpy(), agg["_wrong"].to_numpy(), alpha)
        out["n_right"], out["false_alarms"] = agg["_right"], agg["_fa"]
        ok = agg["_right"] - agg["_fa"]
        out[SPECIFICITY] = np.where(agg["_right"] > 0, ok / agg["_right"].clip(lower=1), np.nan)
        out["sp_ci_low"], out["sp_ci_high"] = proportion_ci(ok.to_numpy(), agg["_right"].to_numpy(), alpha)
    p = np.full(len(out), np.nan)
    R, F = int(tot["_right"]), int(tot["_fa"])
    for i in range(len(out) - 1):
        r, f = int(agg["_right"].iloc[i]), int(agg["_fa"].iloc[i])
        if r > 0 and R - r > 0:
            p[i] = stats.fisher_exact([[f, r - f], [F - f, (R - r) - (F - f)]], alternative="greater")[1]
    out[S.P_VALUE] = p
    out[S.Q_VALUE] = bh_qvalues(p)
    out[FLAG] = (out[S.Q_VALUE] < alpha).fillna(False).astype(bool)
    return out


def rogan_gladen(p_obs, se, sp, var_p=0.0, var_se=0.0, var_sp=0.0, alpha: float = 0.05) -> pd.DataFrame:
    """Rogan-Gladen corrected rate with a delta-method interval.

    Parameters
    ----------
    p_obs : float or array_like
        Observed rate of "error" verdicts (apparent prevalence).
    se, sp : float or array_like
        Sensitivity and specificity of the verdicts.
    var_p, var_se, var_sp : float or array_like, default 0
        Sampling variances of ``p_obs``, ``se`` and ``sp`` (independent samples).
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        One row per input: ``observed``, ``corrected`` (``(p + Sp - 1) / (Se + Sp - 1)``,
        clipped to [0, 1]), ``std_err``, ``ci_low``, ``ci_high`` (Wald on the delta-method
        variance, clipped to [0, 1]), ``defined`` and ``note`` (plain words when undefined).

    Notes
    -----
    Delta method [2]_: ``Var = [Var(p) + pi^2 Var(Se) + (1 - pi)^2 Var(Sp)] / (Se + Sp - 1)^2``
    with ``pi`` the (unclipped) corrected rate. When ``Se + Sp <= 1`` the verdicts carry no
    information about the true rate (a coin does as well) and the correction is
    **undefined**: ``corrected`` is NaN and ``note`` says so. Bias and coverage are checked
    by simulation in the tests.

    References
    ----------
    .. [1] Rogan, W. J. and Gladen, B. (1978). American Journal of Epidemiology 107(1), 71-76.
    .. [2] Greiner, M. and Gardner, I. A. (2000). Epidemiologic issues in the validation of
       veterinary diagnostic tests. Preventive Veterinary Medicine 45(1-2), 3-22.
    """
    alpha = check_alpha(alpha)
    p, se_, sp_ = (np.atleast_1d(np.asarray(x, float)) for x in (p_obs, se, sp))
    p, se_, sp_, vp, vse, vsp = np.broadcast_arrays(
        p, se_, sp_, *(np.asarray(v, float) for v in (var_p, var_se, var_sp))
    )
    j = se_ + sp_ - 1
    ok = np.isfinite(j) & (j > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pi = np.where(ok, (p + sp_ - 1) / j, np.nan)
        var = np.where(ok, (vp + pi**2 * vse + (1 - pi) ** 2 * vsp) / j**2, np.nan)
    sd = np.sqrt(var)
    z = stats.norm.isf(alpha / 2)
    est = np.clip(pi, 0, 1)
    return pd.DataFrame(
        {
            "observed": p,
            "corrected": est,
            "std_err": sd,
            S.CI_LOW: np.clip(pi - z * sd, 0, 1),
            S.CI_HIGH: np.clip(pi + z * sd, 0, 1),
            "defined": ok,
            "note": np.where(
                ok,
                "",
                "undefined: auditors' sensitivity + specificity <= 1, their verdicts say nothing about true errors",
            ),
        }
    )


def corrected_error_rates(
    audited: pd.DataFrame,
    auditor_rates: pd.DataFrame,
    by=S.VENDOR,
    weights: str | None = S.WEIGHT,
    alpha: float = 0.05,
    per_auditor: bool = True,
    strata: str | None = S.STRATUM,
    golden: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Error rates of moderators, sites or vendors corrected for their auditors' errors (Rogan-Gladen).

    Parameters
    ----------
    audited : DataFrame
        Audit-level frame (golden excluded) with ``auditor_id``.
    auditor_rates : DataFrame
        From :func:`auditor_error_rates` (its ``ALL`` row is the pooled rate).
    by : str or list of str, default "vendor"
    weights : str or None, default "weight"
        Design weights of the observed error rate.
    alpha : float, default 0.05
    per_auditor : bool, default True
        True: a group's sensitivity and specificity are the mix of its auditors' rates,
        weighted by their share of the group's audits (auditors without gold evidence get
        the pooled rates). False: the pooled rates for every group.
    strata : str or None, default "stratum"
    golden : DataFrame, optional
        The ``golden`` table (``item_id``, ``policy``). When given and ``by`` includes
        ``policy``, a policy with no golden item gets no corrected figure: the auditors were
        never tested on it, so their error on it cannot be estimated (``defined`` False,
        ``note`` "not estimable: no golden items for policy X").

    Returns
    -------
    DataFrame
        One row per group: ``by``; ``n``; ``error_rate`` (as audited, design-weighted) with
        ``audited_ci_low``, ``audited_ci_high``; ``sensitivity``, ``specificity`` (the
        group's auditor mix); ``corrected_error_rate`` with ``ci_low``, ``ci_high``;
        ``difference`` (corrected minus audited); ``defined``; ``note``; ``top_auditors``
        (the two auditors whose false alarms weigh most in the group: share of the group's
        audits times 1 - specificity).

    Raises
    ------
    EstimationError
        Missing columns, no ``ALL`` row in ``auditor_rates``.

    Notes
    -----
    See :func:`rogan_gladen`. The variance of the observed rate is the design-based one of
    :func:`~modqa_lib.stats.scoring.accuracy_table`; the variances of the mixed
    sensitivity and specificity are ``sum(share^2 Var)`` with binomial variances of each
    auditor's rates centred at the rate shrunk towards the pool (never zero at 0% or 100%); bias and
    coverage on a stratified sample drawn with our own sampler are checked in the tests.

    References
    ----------
    .. [1] Rogan, W. J. and Gladen, B. (1978). American Journal of Epidemiology 107(1), 71-76.
    """
    by = as_list(by)
    alpha = check_alpha(alpha)
    require(audited, [S.AUDITOR_ID, S.IS_ERROR, *by], "audits")
    require(
        auditor_rates,
        [S.AUDITOR_ID, SENSITIVITY, SPECIFICITY, "n_wrong", "caught", "n_right", "false_alarms"],
        "auditor rates",
    )
    ar = auditor_rates.set_index(S.AUDITOR_ID)
    if ALL not in ar.index:
        raise EstimationError("auditor_rates has no pooled 'ALL' row; build it with auditor_error_rates()")
    pooled = ar.loc[ALL]
    acc = accuracy_table(audited, by=by, weights=weights, alpha=alpha, strata=strata)
    p = 1 - acc[S.ACCURACY].to_numpy()
    if "se" in acc.columns:
        vp = acc["se"].to_numpy() ** 2
    else:
        vp = p * (1 - p) / acc[S.N].to_numpy()
    rates = ar.drop(index=ALL)
    has_se = rates["n_wrong"] > 0
    has_sp = rates["n_right"] > 0
    se_a = rates[SENSITIVITY].where(has_se, pooled[SENSITIVITY])
    sp_a = rates[SPECIFICITY].where(has_sp, pooled[SPECIFICITY])
    k_se0, n_se0 = float(pooled["caught"]), float(pooled["n_wrong"])  # type: ignore[arg-type]  # scalars here
    k_sp0, n_sp0 = float(pooled["n_right"] - pooled["false_alarms"]), float(pooled["n_right"])  # type: ignore[arg-type]
    vse_a = pd.Series(_ac_var(rates["caught"], rates["n_wrong"], k_se0, n_se0), index=rates.index).where(
        has_se, float(_ac_var(k_se0, n_se0))
    )
    vsp_a = pd.Series(
        _ac_var(rates["n_right"] - rates["false_alarms"], rates["n_right"], k_sp0, n_sp0), index=rates.index
    ).where(has_sp, float(_ac_var(k_sp0, n_sp0)))
    keys = acc[by] if by else pd.DataFrame(index=range(1))
    grp = audited.groupby(by, dropna=False, sort=True) if by else [((), audited)]
    se_g, sp_g, vse_g, vsp_g, top = [], [], [], [], []
    for _, g in grp:
        share = g[S.AUDITOR_ID].astype(object).value_counts(normalize=True)
        if per_auditor:
            s_se = se_a.reindex(share.index).fillna(pooled[SENSITIVITY])
            s_sp = sp_a.reindex(share.index).fillna(pooled[SPECIFICITY])
            v_se = vse_a.reindex(share.index).fillna(float(_ac_var(k_se0, n_se0)))
            v_sp = vsp_a.reindex(share.index).fillna(float(_ac_var(k_sp0, n_sp0)))
            se_g.append(float((share * s_se).sum()))
            sp_g.append(float((share * s_sp).sum()))
            vse_g.append(float((share**2 * v_se).sum()))
            vsp_g.append(float((share**2 * v_sp).sum()))
            weight = (share * (1 - s_sp)).sort_values(ascending=False, kind="stable")
            top.append(", ".join(str(x) for x in weight.index[:2]))
        else:
            se_g.append(float(pooled[SENSITIVITY]))  # type: ignore[arg-type]  # pooled is a row: scalars
            sp_g.append(float(pooled[SPECIFICITY]))  # type: ignore[arg-type]
            vse_g.append(float(_ac_var(k_se0, n_se0)))
            vsp_g.append(float(_ac_var(k_sp0, n_sp0)))
            top.append("")
    rg = rogan_gladen(p, np.asarray(se_g), np.asarray(sp_g), vp, np.asarray(vse_g), np.asarray(vsp_g), alpha)
    out = keys.copy()
    out[S.N] = acc[S.N].to_numpy()
    out[S.ERROR_RATE] = p
    out["audited_ci_low"], out["audited_ci_high"] = 1 - acc[S.CI_HIGH].to_numpy(), 1 - acc[S.CI_LOW].to_numpy()
    out[SENSITIVITY], out[SPECIFICITY] = se_g, sp_g
    out["corrected_error_rate"] = rg["corrected"].to_numpy()
    out[S.CI_LOW], out[S.CI_HIGH] = rg[S.CI_LOW].to_numpy(), rg[S.CI_HIGH].to_numpy()
    out["difference"] = out["corrected_error_rate"] - out[S.ERROR_RATE]
    out["defined"], out["note"] = rg["defined"].to_numpy(), rg["note"].to_numpy()
    out["top_auditors"] = top
    if golden is not None and S.POLICY in by:
        require(golden, [S.ITEM_ID, S.POLICY], "golden")
        covered = set(golden[S.POLICY].dropna().astype(str))
        no_gold = ~out[S.POLICY].astype(str).isin(covered).to_numpy()
        out.loc[no_gold, ["corrected_error_rate", S.CI_LOW, S.CI_HIGH, "difference"]] = np.nan
        out.loc[no_gold, "defined"] = False
        out.loc[no_gold, "note"] = [
            f"not estimable: no golden items for policy {p}" for p in out.loc[no_gold, S.POLICY]
        ]
    return out.reset_index(drop=True)


# ============================================================================ Dawid-Skene
_EPS = 1e-10


@dataclass(frozen=True)
class DawidSkeneResult:
    """Result of :func:`dawid_skene`.

    Attributes
    ----------
    items : DataFrame
        One row per item: ``item``, ``label`` (most probable true label), ``probability``
        (its posterior), ``n_votes``, ``anchored`` (gold label given).
    probabilities : DataFrame
        Items x labels posterior probabilities.
    confusion : DataFrame
        Tidy rater confusion: ``rater``, ``true_label``, ``observed_label``, ``probability``.
    priors : Series
        Estimated prevalence of each true label.
    n_iter : int
        EM iterations run.
    """

    items: pd.DataFrame
    probabilities: pd.DataFrame
    confusion: pd.DataFrame
    priors: pd.Series
    n_iter: int


def dawid_skene(
    votes: pd.DataFrame,
    item: str = S.ITEM_ID,
    rater: str = S.RATER_ID,
    label: str = S.LABEL,
    gold: pd.Series | None = None,
    n_iter: int = 100,
    tol: float = 1e-5,
) -> DawidSkeneResult:
    """Dawid-Skene EM: true labels of items with several QA labels, and each rater's confusion matrix.

    Parameters
    ----------
    votes : DataFrame
        Long format: one row per (item, rater) label.
    item, rater, label : str
        Column names.
    gold : Series, optional
        Known true labels indexed by item (golden items): their posteriors are fixed to
        the gold label at every step, which anchors the raters' confusion matrices.
    n_iter : int, default 100
        Maximum EM iterations.
    tol : float, default 1e-5
        Stop when the evidence lower bound per vote improves by less than this.

    Returns
    -------
    DawidSkeneResult

    Raises
    ------
    EstimationError
        Missing columns, no votes.

    Notes
    -----
    Same algorithm, initialisation (majority-vote shares), smoothing (probabilities
    floored at 1e-10) and stopping rule as ``crowdkit.aggregation.DawidSkene`` 1.4 [2]_;
    tests pin the posteriors to crowd-kit's on a small example, with and without gold
    (``tests/results/qaqa_dawid_skene_crowdkit.json``).

    References
    ----------
    .. [1] Dawid, A. P. and Skene, A. M. (1979). Maximum likelihood estimation of observer
       error-rates using the EM algorithm. JRSS C 28(1), 20-28. https://doi.org/10.2307/2346806
    .. [2] Ustalov, D., Pavlichenko, N. and Tseitlin, B. (2024). Learning from crowds with
       crowd-kit. Journal of Open Source Software 9(96), 6227.
    """
    require(votes, [item, rater, label], "votes")
    v = votes.loc[votes[label].notna(), [item, rater, label]]
    if v.empty:
        raise EstimationError("dawid_skene: no labelled votes")
    items, ti = np.unique(v[item].astype(object).to_numpy(), return_inverse=True)
    raters, wi = np.unique(v[rater].astype(object).to_numpy(), return_inverse=True)
    labels_seen = pd.unique(v[label].astype(object))
    gold_map = {}
    if gold is not None:
        gold_map = {k: g for k, g in gold.dropna().items() if k in set(items)}
    cats = np.array(sorted(set(labels_seen) | set(gold_map.values()), key=str), dtype=object)
    ki = pd.Index(cats).get_indexer(v[label].astype(object).to_numpy())
    T, W, K = len(items), len(raters), len(cats)
    votes_per = np.bincount(ti, minlength=T)

    anchored = np.zeros(T, bool)
    gold_idx = np.zeros(T, np.int64)
    if gold_map:
        pos = pd.Index(items).get_indexer(list(gold_map))
        anchored[pos] = True
        gold_idx[pos] = pd.Index(cats).get_indexer(list(gold_map.values()))

    def correct(pr: np.ndarray) -> np.ndarray:
        if anchored.any():
            pr = pr.copy()
            pr[anchored] = 0.0
            pr[anchored, gold_idx[anchored]] = 1.0
        return pr

    def m_step(pr: np.ndarray) -> np.ndarray:
        err = np.zeros((W, K, K))  # rater, observed, true
        np.add.at(err, (wi, ki), pr[ti])
        err = np.clip(err, _EPS, None)
        return err / err.sum(1, keepdims=True)

    def e_step(pri: np.ndarray, err: np.ndarray) -> np.ndarray:
        ll = np.zeros((T, K))
        np.add.at(ll, ti, np.log2(err[wi, ki]))
        ll += np.log2(np.clip(pri, _EPS, None))
        ll -= ll.max(1, keepdims=True)
        lik = np.exp2(ll)
        return lik / lik.sum(1, keepdims=True)

    def elbo(pr: np.ndarray, pri: np.ndarray, err: np.ndarray) -> float:
        joint = (pr[ti] * (np.log(err[wi, ki]) + np.log(np.clip(pri, _EPS, None)))).sum()
        pc = np.clip(pr, _EPS, None)
        return float(joint - (np.log(pc) * pc).sum())

    probas = np.zeros((T, K))
    np.add.at(probas, (ti, ki), 1.0)
    probas /= probas.sum(1, keepdims=True)
    probas = correct(probas)
    priors = probas.mean(0)
    errors = m_step(probas)
    loss, it = -np.inf, 0
    for it in range(1, int(n_iter) + 1):  # noqa: B007
        probas = correct(e_step(priors, errors))
        priors = probas.mean(0)
        errors = m_step(probas)
        new = elbo(probas, priors, errors) / len(v)
        if new - loss < tol:
            break
        loss = new
    prob = pd.DataFrame(probas, index=pd.Index(items, name=item), columns=pd.Index(cats, name=label))
    best = probas.argmax(1)
    items_df = pd.DataFrame(
        {
            item: items,
            label: cats[best],
            "probability": probas[np.arange(T), best],
            "n_votes": votes_per,
            "anchored": anchored,
        }
    )
    w_, o_, t_ = np.meshgrid(np.arange(W), np.arange(K), np.arange(K), indexing="ij")
    conf = pd.DataFrame(
        {
            rater: raters[w_.ravel()],
            "true_label": cats[t_.ravel()],
            "observed_label": cats[o_.ravel()],
            "probability": errors.ravel(),
        }
    )
    return DawidSkeneResult(items_df, prob, conf, pd.Series(priors, index=pd.Index(cats, name=label)), it)
