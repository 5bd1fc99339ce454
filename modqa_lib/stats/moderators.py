"""Per-moderator accuracy (shrunken, compared with peers on the same site, shift and policy mix) and golden-set accuracy.

Split out of :mod:`modqa_lib.stats.scoring` (its moderator and golden-set
tables); the estimators, intervals and targets they use stay there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, bh_qvalues, check_alpha, require_columns
from modqa_lib.errors import EstimationError
from modqa_lib.stats.scoring import (
    bool_column,
    check_nonempty,
    design_weights,
    interval_method,
    proportion_ci,
    ratio_estimates,
)

__all__ = ["golden_accuracy", "moderator_table"]


def _beta_binomial_mom(k: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Method-of-moments beta prior (mean, strength a+b) from successes k of n per unit."""
    N = n.sum()
    J = len(n)
    mu = k.sum() / N
    if J < 2 or mu <= 0 or mu >= 1:
        return float(mu), float(N)
    p = k / n
    s = np.sum(n * (p - mu) ** 2)
    denom = N - np.sum(n**2) / N - J + 1
    rho = (s / (mu * (1 - mu)) - (J - 1)) / denom if denom > 0 else 0.0
    rho_min = 1.0 / (N + 1)
    rho = float(np.clip(rho, rho_min, 0.999))
    return float(mu), float(1.0 / rho - 1.0)


def moderator_table(
    audits: pd.DataFrame,
    by_site: str | None = S.SITE,
    alpha: float = 0.05,
    min_n: int = 10,
    prior: str = "site",
    method: str = "wilson",
    adjust_for: Sequence[str] | str | None = "auto",
    weights: str | None = None,
) -> pd.DataFrame:
    """Per-moderator accuracy with shrinkage for ranking and a test against the site.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (needs ``moderator_id``, ``is_error`` and ``by_site``).
        Audits without a moderator (machine decisions) are left out.
    by_site : str or None, default "site"
        Peer group of a moderator: the prior and the comparison rate are computed
        within it. None compares every moderator with all others.
    alpha : float, default 0.05
        Interval level and false-discovery rate for ``flag``.
    min_n : int, default 10
        Moderators with fewer audits are shown (shrunk) but not tested.
    prior : {"site", "global"}
        Fit the beta prior per peer group, or once over all moderators.
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}
    adjust_for : list of str, "auto" or None, default "auto"
        Work-mix columns the test standardises for: each moderator is compared
        with peers of the same site who worked the same cells (e.g. shift ×
        policy), so nobody is flagged for working a hard shift or queue.
        ``"auto"``: ``shift`` and ``policy``, those present in ``audits``.
        None or ``[]``: the unadjusted test against the rest of the site.
    weights : str, optional
        Design-weight column (e.g. ``"weight"``). ``accuracy``, ``ci_low`` and
        ``ci_high`` then describe all the moderator's decisions: the Hájek
        estimate and design-based interval of :func:`ratio_estimates`, as in
        :func:`accuracy_table` (strata from ``stratum`` when present). The
        shrinkage, the peer comparison and the test stay on audit counts
        (see Notes).

    Returns
    -------
    DataFrame
        One row per (site, moderator), sorted by site then ``rank``: ``by_site``
        column, ``vendor`` (when present), ``moderator_id``, ``n``, ``errors``,
        ``accuracy``, ``ci_low``, ``ci_high`` (raw; design-weighted with ``weights``),
        ``estimator`` ("unweighted" or "hajek": what ``accuracy`` is), with
        ``weights`` also ``accuracy_unweighted`` (``1 − errors / n``) and
        ``n_eff`` (effective sample size behind the interval),
        ``shrunk_accuracy`` (posterior
        mean), ``shrunk_ci_low``, ``shrunk_ci_high`` (equal-tailed posterior
        interval), ``prior_mean``, ``prior_strength`` (a + b, in audits),
        ``peer_accuracy`` (accuracy of the rest of the site),
        ``expected_errors`` (errors expected at the peers' rates for the
        moderator's own work mix; the rest of the site's rate without
        ``adjust_for``), ``expected_accuracy`` (1 − expected_errors / n),
        ``tested``, ``p_value`` (one-sided: more errors than expected),
        ``q_value`` (BH over the tested moderators), ``flag`` (q < alpha and
        below ``expected_accuracy``), ``rank`` (1 = best shrunk accuracy within the site).
        ``shrunk_*``, ``prior_*``, ``peer_accuracy``, ``expected_*`` and the test
        are always on audit counts (unweighted).

    Notes
    -----
    *Shrinkage.* Empirical Bayes with a beta-binomial model [1]_ [2]_: moderator
    accuracies in a site are Beta(a, b); a, b are fitted by the method of moments
    on the moderators' counts (weighted estimator: ``mu = sum k / sum n``;
    intra-class correlation ``rho`` from ``sum n_j (p_j - mu)^2 =
    mu (1 - mu) [J - 1 + rho (N - sum n_j^2 / N - J + 1)]``, clipped to
    ``[1/(N+1), 0.999]``; ``a + b = 1/rho - 1``). When the moderators of a site
    are no more different than chance (``rho <= 0``), shrinkage is near-complete.
    The shrunk accuracy ``(k + a) / (n + a + b)`` ranks moderators, so one with 3
    clean audits is not ranked first on luck. Shrinkage, ranks and the test are
    unweighted, on the moderator's audited decisions: the beta-binomial model
    and the exact conditional test need counts, and the work-mix
    standardisation compares each moderator with peers who worked the same
    cells (site × shift × policy), across which the design's weights mostly
    differ. With ``weights`` only the displayed accuracy and its interval are
    design-weighted (``estimator`` says which), so the table's rate is
    comparable with the report's weighted headline.

    *Work mix.* With ``adjust_for`` the test is indirectly standardised [5]_:
    ``expected_errors`` = Σ_cells n_mc · K_c / N_c over the cells (site ×
    shift × policy) the moderator worked, N_c audits and K_c errors in the
    cell. The test is the exact conditional test of a stratified 2×2 table
    (moderator vs peers, cells as strata): given every cell's margins the
    moderator's errors are a sum of independent hypergeometric counts, and
    the p-value is its upper tail P(X ≥ errors), by convolution [5]_. With
    one cell (no ``adjust_for``) it is the Fisher test below.
    ``tests/stats/test_scoring.py`` simulates moderators without any own
    effect who work only the bad night shift: unadjusted, at least one was
    flagged in most reports; standardised, in at most alpha of them.

    *Test.* Without ``adjust_for``: Fisher's exact test, one-sided, of the moderator's errors against the
    rest of the site (hypergeometric upper tail, equal to
    :func:`scipy.stats.fisher_exact` with ``alternative="greater"``) [3]_, then
    Benjamini-Hochberg [4]_ across tested moderators. ``flag`` marks only
    moderators significantly *below* their site; use it to pick coaching
    candidates, not to rank.

    References
    ----------
    .. [1] Kleinman, J. C. (1973). Proportions with extraneous variance: single and
       independent samples. JASA 68, 46-54.
    .. [2] Efron, B., Morris, C. (1975). Data analysis using Stein's estimator and
       its generalizations. JASA 70, 311-319.
    .. [3] Fisher, R. A. (1935). The logic of inductive inference. JRSS 98, 39-82.
    .. [4] Benjamini, Y., Hochberg, Y. (1995). JRSS B 57, 289-300.
    .. [5] Breslow, N. E., Day, N. E. (1980, 1987). *Statistical Methods in Cancer
       Research*, vols. I (§4.4, exact conditional test over strata) and II (ch. 2,
       indirect standardisation, SMR), IARC.
    """
    site_col = by_site
    if isinstance(adjust_for, str):
        if adjust_for != "auto":
            raise EstimationError(f"adjust_for must be a list of columns, 'auto' or None, got {adjust_for!r}")
        adjust_for = [c for c in (S.SHIFT, S.POLICY) if c in audits.columns and c != site_col]
    adjust_for = list(adjust_for or [])
    require_columns(audits, adjust_for, "moderator_table")
    require_columns(audits, [S.MODERATOR_ID, S.IS_ERROR] + ([site_col] if site_col else []), "moderator_table")
    check_nonempty(audits)
    alpha = check_alpha(alpha)
    interval_method(method)
    if prior not in ("site", "global"):
        raise EstimationError(f"prior must be 'site' or 'global', got {prior!r}")
    d = audits[audits[S.MODERATOR_ID].notna()]
    if len(d) == 0:
        raise EstimationError("no audits with a moderator (all decisions were machine decisions?)")
    err = bool_column(d, S.IS_ERROR)
    keys = ([site_col] if site_col else []) + [S.MODERATOR_ID]
    g = pd.DataFrame({k: d[k].to_numpy() for k in keys})
    g["_err"] = err.astype(np.int64)
    agg = g.groupby(keys, dropna=False, sort=True)["_err"].agg(["size", "sum"]).reset_index()
    agg = agg.rename(columns={"size": S.N, "sum": S.ERRORS})
    if S.VENDOR in d.columns and S.VENDOR not in keys:
        vend = d.groupby(keys, dropna=False, sort=True)[S.VENDOR].first().reset_index()
        agg = agg.merge(vend, on=keys, how="left")
    n = agg[S.N].to_numpy().astype(float)
    e = agg[S.ERRORS].to_numpy().astype(float)
    k = n - e
    agg[S.ACCURACY] = k / n
    agg[S.CI_LOW], agg[S.CI_HIGH] = proportion_ci(k, n, alpha, method)
    agg["estimator"] = "unweighted"
    if weights is not None:
        agg = _weighted_moderator_accuracy(audits, agg, keys, weights, alpha, method)
    peer = agg[site_col].to_numpy(dtype=object) if site_col else np.zeros(len(agg), dtype=object)
    peer_codes = pd.factorize(pd.Series(peer, dtype=object), use_na_sentinel=False)[0]
    P = peer_codes.max() + 1
    site_n = np.bincount(peer_codes, n, minlength=P)
    site_e = np.bincount(peer_codes, e, minlength=P)
    mu = np.empty(P)
    strength = np.empty(P)
    if prior == "global":
        mu[:], strength[:] = _beta_binomial_mom(k, n)
    else:
        for j in range(P):
            sel = peer_codes == j
            mu[j], strength[j] = _beta_binomial_mom(k[sel], n[sel])
    a = mu[peer_codes] * strength[peer_codes]
    b = (1 - mu[peer_codes]) * strength[peer_codes]
    agg["shrunk_accuracy"] = (k + a) / (n + a + b)
    post_a, post_b = k + a, n - k + b
    with np.errstate(invalid="ignore"):
        agg["shrunk_ci_low"] = np.where(
            post_a > 0, stats.beta.ppf(alpha / 2, np.maximum(post_a, 1e-12), np.maximum(post_b, 1e-12)), 0.0
        )
        agg["shrunk_ci_high"] = np.where(
            post_b > 0, stats.beta.isf(alpha / 2, np.maximum(post_a, 1e-12), np.maximum(post_b, 1e-12)), 1.0
        )
    agg["prior_mean"] = mu[peer_codes]
    agg["prior_strength"] = strength[peer_codes]
    rest_n = site_n[peer_codes] - n
    rest_e = site_e[peer_codes] - e
    with np.errstate(invalid="ignore", divide="ignore"):
        agg["peer_accuracy"] = np.where(rest_n > 0, 1 - rest_e / np.where(rest_n > 0, rest_n, 1), np.nan)
    tested = (n >= min_n) & (rest_n > 0)
    # Fisher one-sided (more errors than the rest): P(X >= e), X ~ Hypergeom(total, total errors, n)
    p = np.full(len(agg), np.nan)
    tot_n = site_n[peer_codes]
    tot_e = site_e[peer_codes]
    if adjust_for:
        expected, p_all = _stratified_test(d, keys, site_col, adjust_for, err, agg)
        p[tested] = p_all[tested]
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = n * np.where(rest_n > 0, rest_e / np.where(rest_n > 0, rest_n, 1), np.nan)
        p[tested] = stats.hypergeom.sf(e[tested] - 1, tot_n[tested], tot_e[tested], n[tested])
    p = np.clip(p, 0.0, 1.0)
    agg["expected_errors"] = expected
    agg["expected_accuracy"] = 1 - expected / n
    agg["tested"] = tested
    agg[S.P_VALUE] = p
    agg[S.Q_VALUE] = bh_qvalues(p)
    agg["flag"] = tested & (agg[S.Q_VALUE].to_numpy() < alpha) & (k / n < agg["expected_accuracy"].to_numpy())
    grp = agg[site_col] if site_col else pd.Series(0, index=agg.index)
    agg["rank"] = agg.groupby(grp, dropna=False)["shrunk_accuracy"].rank(ascending=False, method="min").astype(np.int64)
    agg = agg.sort_values(([site_col] if site_col else []) + ["rank", S.MODERATOR_ID], kind="stable")
    front = (
        ([site_col] if site_col else [])
        + ([S.VENDOR] if S.VENDOR in agg.columns and S.VENDOR not in keys else [])
        + [S.MODERATOR_ID]
    )
    rest = [c for c in agg.columns if c not in front]
    return agg[front + rest].reset_index(drop=True)


def _weighted_moderator_accuracy(audits, agg, keys, weights, alpha, method) -> pd.DataFrame:
    """``agg`` with ``accuracy``, ``ci_low``, ``ci_high`` design-weighted (:func:`ratio_estimates` per moderator,
    a domain of the whole sample), plus ``accuracy_unweighted``, ``n_eff`` and ``estimator`` "hajek"."""
    design_weights(audits, weights)  # validates the column, with its message
    strata = S.STRATUM if S.STRATUM in audits.columns else None
    est = ratio_estimates(
        audits,
        1.0 - bool_column(audits, S.IS_ERROR),
        by=keys,
        weights=weights,
        strata=strata,
        mask=audits[S.MODERATOR_ID].notna().to_numpy(),
        alpha=alpha,
        method=method,
    )
    est = est[[*keys, "estimate", "n_eff", S.CI_LOW, S.CI_HIGH]].rename(
        columns={"estimate": "_acc_w", S.CI_LOW: "_lo_w", S.CI_HIGH: "_hi_w"}
    )
    out = agg.merge(est, on=keys, how="left", validate="one_to_one")
    pos = out.columns.get_loc(S.ACCURACY)
    out.insert(int(pos), "accuracy_unweighted", out[S.ACCURACY])
    out[S.ACCURACY], out[S.CI_LOW], out[S.CI_HIGH] = out["_acc_w"], out["_lo_w"], out["_hi_w"]
    out["estimator"] = "hajek"
    return out.drop(columns=["_acc_w", "_lo_w", "_hi_w"])


def _stratified_test(d, keys, site_col, adjust_for, err, agg) -> tuple[np.ndarray, np.ndarray]:
    """Expected errors and one-sided exact conditional p-values of each moderator against peers in the
    same cells (site × adjust_for): the errors are a sum over cells of independent hypergeometrics
    given each cell's margins; P(X ≥ errors) by convolution. Aligned with ``agg``."""
    peer = [site_col] if site_col else []
    cols = [*keys, *adjust_for]
    cells = pd.DataFrame({c: d[c].to_numpy() for c in cols}).assign(_e=err.astype(np.int64), _n=1)
    mc = cells.groupby(cols, dropna=False, sort=False)[["_n", "_e"]].sum().reset_index()
    cell_keys = [*peer, *adjust_for]
    tot = (
        mc.groupby(cell_keys, dropna=False, sort=False)[["_n", "_e"]].transform("sum")
        if cell_keys
        else mc[["_n", "_e"]].sum().to_frame().T.loc[[0] * len(mc)].reset_index(drop=True)
    )
    mc["_N"], mc["_K"] = tot["_n"].to_numpy(), tot["_e"].to_numpy()
    res = {}
    for key, g in mc.groupby(keys, dropna=False, sort=False):
        pmf = np.ones(1)
        for N, K, m in zip(g["_N"], g["_K"], g["_n"]):
            x = np.arange(0, min(m, K) + 1)
            pmf = np.convolve(pmf, stats.hypergeom.pmf(x, N, K, m))
        o = int(g["_e"].sum())
        res[key if isinstance(key, tuple) else (key,)] = (
            float(np.sum(g["_n"] * g["_K"] / g["_N"])),
            float(min(1.0, pmf[o:].sum())),
        )
    out = [res[tuple(r)] for r in agg[keys].itertuples(index=False)]
    return np.array([x[0] for x in out]), np.array([x[1] for x in out])


# ============================================================== golden items
def golden_accuracy(
    audits: pd.DataFrame,
    golden: pd.DataFrame,
    by=S.AUDITOR_ID,
    item: str | None = None,
    alpha: float = 0.05,
    method: str = "wilson",
    min_n: int = 5,
) -> pd.DataFrame:
    """Auditors' accuracy on golden (known-answer) items: QA label against the gold label.

    Parameters
    ----------
    audits : DataFrame
        Audits (or audit-level frame) including golden audits: needs ``qa_label`` and
        ``is_golden`` (when present, only golden rows are used) and the ``by`` columns.
    golden : DataFrame
        Golden table: ``item_id``, ``gold_label``.
    by : str or list of str, default "auditor_id"
        Any columns of ``audits``, e.g. ``[VENDOR, AUDITOR_ID]`` when auditors belong to
        vendor QA teams and the frame carries the auditor's vendor. (In the frame from
        :func:`modqa_lib.data.io.audited_decisions` ``vendor`` is the vendor of the decision
        audited, not of the auditor.)
    item : str, optional
        Column of ``audits`` holding the golden item id; default ``item_id`` if
        present, else ``decision_id``.
    alpha : float, default 0.05
    method : {"wilson", "clopper-pearson", "agresti-coull", "jeffreys"}
    min_n : int, default 5
        Groups with fewer golden audits are shown but not tested.

    Returns
    -------
    DataFrame
        ``by`` columns, ``n`` (golden audits), ``errors`` (QA label differs from gold),
        ``accuracy``, ``ci_low``, ``ci_high``, ``peer_accuracy`` (everyone else),
        ``p_value`` (one-sided Fisher: more misses than the others), ``q_value`` (BH),
        ``flag`` (q < alpha).

    Raises
    ------
    EstimationError
        No golden audits, or golden audits whose item is not in ``golden``.

    Notes
    -----
    Intervals by :func:`proportion_ci`; test as in :func:`moderator_table`.

    References
    ----------
    1. Wilson, E. B. (1927). JASA 22, 209-212.
    2. Benjamini, Y., Hochberg, Y. (1995). JRSS B 57, 289-300.
    """
    by = as_columns(by)
    require_columns(audits, [S.QA_LABEL, *by], "golden_accuracy")
    require_columns(golden, [S.ITEM_ID, S.GOLD_LABEL], "golden_accuracy", table="golden")
    alpha = check_alpha(alpha)
    if item is None:
        item = S.ITEM_ID if S.ITEM_ID in audits.columns else S.DECISION_ID
    require_columns(audits, [item], "golden_accuracy")
    d = audits
    if S.IS_GOLDEN in d.columns:
        d = d[bool_column(d, S.IS_GOLDEN)]
    if len(d) == 0:
        raise EstimationError(
            "no golden audits to score: include golden items in the audits "
            "(io.audited_decisions(..., include_golden=True) or the raw audits table)"
        )
    gold = golden[[S.ITEM_ID, S.GOLD_LABEL]].drop_duplicates(S.ITEM_ID)
    gmap = pd.Series(gold[S.GOLD_LABEL].to_numpy(), index=gold[S.ITEM_ID].to_numpy())
    gl = d[item].map(gmap)
    unknown = gl.isna()
    if unknown.any():
        ex = d.loc[unknown, item].astype(str).head(3).tolist()
        raise EstimationError(
            f"{int(unknown.sum())} golden audit(s) refer to items missing from the "
            f"golden table (e.g. {', '.join(ex)}); add them or drop those audits"
        )
    wrong = d[S.QA_LABEL].astype(str).to_numpy() != gl.astype(str).to_numpy()
    frame = d[by].copy() if by else pd.DataFrame(index=d.index)
    r = ratio_estimates(frame, (~wrong).astype(float), None, by=by, alpha=alpha, method=method)
    out = r[by].copy()
    n = r["n"].to_numpy().astype(float)
    k = r["numerator"].to_numpy()
    out[S.N] = r["n"].to_numpy()
    out[S.ERRORS] = (n - k).round().astype(np.int64)
    out[S.ACCURACY] = r["estimate"].to_numpy()
    out[S.CI_LOW] = r[S.CI_LOW].to_numpy()
    out[S.CI_HIGH] = r[S.CI_HIGH].to_numpy()
    e = n - k
    tot_n, tot_e = n.sum(), e.sum()
    rest_n = tot_n - n
    with np.errstate(invalid="ignore", divide="ignore"):
        out["peer_accuracy"] = np.where(rest_n > 0, 1 - (tot_e - e) / np.where(rest_n > 0, rest_n, 1), np.nan)
    tested = (n >= min_n) & (rest_n > 0)
    p = np.full(len(out), np.nan)
    p[tested] = stats.hypergeom.sf(e[tested] - 1, tot_n, tot_e, n[tested])
    out[S.P_VALUE] = np.clip(p, 0, 1)
    out[S.Q_VALUE] = bh_qvalues(p)
    out["flag"] = tested & (out[S.Q_VALUE].to_numpy() < alpha) & (out[S.ACCURACY] < out["peer_accuracy"])
    return out.reset_index(drop=True)


# ============================================================== KPI summary
