"""Error drivers: (survey-weighted) logistic regression of errors on slice dimensions."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint
from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, bh_qvalues, check_alpha, require_columns
from modqa_lib.errors import ConfigError, EstimationError
from modqa_lib.stats.rca._common import (
    _MAX_ABS_LOGIT,
    _MAX_SE,
    DIMENSION,
    FLAG,
    IS_REFERENCE,
    LEVEL,
    N_EFF,
    NOTE,
    ODDS_RATIO,
    OTHER_LABEL,
    _factorize,
    _outcome_array,
    _weight_array,
)


# ---------------------------------------------------------------- error drivers
def _design(
    frame: pd.DataFrame, dims: list[str], refs: dict[str, str], levels: dict[str, list[str]]
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    cols = [np.ones(len(frame))]
    terms: list[tuple[str, str]] = []
    for d in dims:
        v = frame[d].to_numpy()
        for lv in levels[d]:
            if lv == refs[d]:
                continue
            cols.append((v == lv).astype(float))
            terms.append((d, lv))
    return np.column_stack(cols), terms


def _best_level(frame: pd.DataFrame, dim: str, weighted: bool, alpha: float) -> str:
    """The level of ``dim`` that is most confidently good: lowest upper Wilson bound of its error rate.

    ``frame`` has ``_y`` (0/1) and, if ``weighted``, ``_w``; with weights the
    rate is the Hájek ratio and n its Kish effective size. The pooled
    ``"(other)"`` level is chosen only when it is the only one. A level with
    a low rate on few audits has a high upper bound, so the reference is a
    stable one (a small level with one error would make every odds ratio
    against it huge and uninformative).
    """
    g = frame.assign(_w1=frame["_w"] if weighted else 1.0)
    g = g.assign(_wy=g["_w1"] * g["_y"], _w2=g["_w1"] ** 2).groupby(dim, sort=True)[["_w1", "_wy", "_w2"]].sum()
    n = g["_w1"] ** 2 / g["_w2"]
    rate = g["_wy"] / g["_w1"]
    upper = proportion_confint(rate * n, n, alpha=alpha, method="wilson")[1]
    cand = pd.DataFrame({"upper": np.asarray(upper, float), "rate": rate.to_numpy(float)}, index=g.index)
    if len(cand) > 1:
        cand = cand.drop(index=OTHER_LABEL, errors="ignore")
    return cand.sort_values(["upper", "rate"], kind="mergesort").index[0]


def _fit_logit(
    model, ridge_model, cov_type: str, alpha: float, l2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Fit a GLM logit; if it diverges (separation), a ridge fit of ``ridge_model`` instead.

    Returns the coefficients, their Wald intervals (``(k, 2)``, NaN after the
    ridge fallback), p-values and the note to put on every estimated row.
    ``ridge_model`` has the same coefficients and likelihood as ``model``
    (it may be its grouped form).
    """
    method_note = ""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # statsmodels warns of "perfect separation" whenever fitted = observed, which a
        # saturated grouped model always does; judge divergence from the estimates instead.
        # A saturated model also has df_resid 0, which statsmodels' inner WLS divides by.
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        try:
            res = model.fit(cov_type=cov_type)
            beta = np.asarray(res.params)
            bse = np.asarray(res.bse)
            diverged = (
                not getattr(res, "converged", True)
                or not np.all(np.isfinite(bse))
                or np.any(np.abs(beta) > _MAX_ABS_LOGIT)
                or np.any(bse > _MAX_SE)
            )
        except (PerfectSeparationError, np.linalg.LinAlgError, ValueError):
            diverged = True
        if not diverged:
            ci = np.asarray(res.conf_int(alpha=alpha))
            pv = np.asarray(res.pvalues)
        else:
            pen = np.full(ridge_model.exog.shape[1], l2)
            pen[0] = 0.0
            res = ridge_model.fit_regularized(alpha=pen, L1_wt=0.0)
            beta = np.asarray(res.params)
            ci = np.full((len(beta), 2), np.nan)
            pv = np.full(len(beta), np.nan)
            method_note = (
                f"separation: the likelihood has no finite maximum; ridge-penalised estimate "
                f"(l2={l2}), shrunk towards 1, no interval or p-value"
            )
    return beta, ci, pv, method_note


def error_drivers(  # noqa: C901
    audits: pd.DataFrame,
    dims: Sequence[str],
    outcome: str = S.IS_ERROR,
    reference: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    min_n: int = 30,
    l2: float = 1e-3,
    weights: str | None = None,
) -> pd.DataFrame:
    """Odds ratios of each level of each dimension, controlling for the other dimensions.

    A logistic regression ``logit P(error) = b0 + Σ_dims Σ_levels b_l · 1[level]``
    with treatment (dummy) coding, fitted by maximum likelihood with
    ``statsmodels`` GLM (Binomial family, logit link); with ``weights``, by
    survey-weighted pseudo-maximum likelihood with design-based (sandwich)
    standard errors.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame (:func:`modqa_lib.data.io.audited_decisions`).
    dims : list of str
        Categorical dimensions (numeric columns such as ``hour`` are treated as
        categories). Nested dimensions (site within vendor) are collinear and
        rejected: pass one of them.
    outcome : str, default IS_ERROR
        Boolean (or 0/1) column.
    reference : mapping of str to str, or "best", optional
        Reference level per dimension. Default: the largest level (most audits;
        ties by label), so every odds ratio compares a level with the bulk of the work.
        ``"best"``: per dimension, the level most confidently good, i.e. with
        the lowest upper Wilson bound of its (weighted) error rate among those
        fitted (not the pooled ``"(other)"``, not a level without errors), so
        odds ratios read "how much worse than a good, well-measured level" and
        a bad level is never hidden as the reference.
    alpha : float, default 0.05
        1 − level of the Wald intervals, and the FDR of ``flag``.
    min_n : int, default 30
        Levels with fewer audits are pooled into ``"(other)"`` before fitting.
    l2 : float, default 1e-3
        Ridge penalty for the fallback fit if the maximum-likelihood fit
        reports perfect separation.
    weights : str, optional
        Column of sampling (design) weights, ``1 / inclusion_prob`` (e.g.
        WEIGHT). Give it whenever the QA sample was drawn with unequal
        probabilities (risk-weighted oversampling): the odds ratios then
        describe all decisions, not the audited mix, and the intervals are
        design-based (see Notes). Every weight must be positive and finite.

    Returns
    -------
    DataFrame
        One row per (dimension, level), dimensions in the order given, levels by
        odds ratio descending with the reference first: ``dimension``,
        ``level``, ``n`` (audits), [``n_eff`` (Kish [9]_ effective size of
        the level's audits, only with ``weights``)], ``errors`` (audits with an
        error), ``error_rate`` (raw; with ``weights`` the weighted (Hájek)
        rate Σw·y / Σw, an estimate for all decisions of the level),
        ``odds_ratio`` (adjusted, vs the reference), ``ci_low``, ``ci_high``
        (Wald, on the odds-ratio scale; robust with ``weights``), ``p_value``
        (Wald), ``q_value`` (Benjamini–Hochberg over all non-reference
        levels), ``flag`` (q < alpha and OR > 1), ``is_reference``, ``note``
        (empty, or why a row has no interval). ``n`` and ``errors`` are
        always raw audit counts.

    Notes
    -----
    *Fitting.* Audits are first aggregated to one binomial row per observed
    combination of levels (successes, failures); the grouped fit has exactly
    the same likelihood, coefficients and standard errors as the audit-level
    fit but is much faster. ``tests/test_rca.py`` checks the odds ratios, CIs
    and p-values against a direct audit-level
    ``statsmodels.formula.api.glm("y ~ C(vendor, Treatment(...)) + ...")`` fit.

    *Sparse levels.* Levels with fewer than ``min_n`` audits are pooled into
    ``"(other)"``; a dimension left with a single level is dropped with a warning.

    *Separation.* A level whose audits are all correct (or all errors) has a
    maximum-likelihood odds ratio of exactly 0 (or ∞): quasi-complete
    separation. Such a level is reported with ``odds_ratio`` 0 (or inf), no
    interval and a ``note``, and its audits are left out of the fit, which is
    the limit of the likelihood as its coefficient diverges, so the other
    estimates are the exact MLE [3]_. If the fit still diverges (separation
    caused by a combination of levels: IRLS does not converge, a
    ``|log odds ratio|`` exceeds 15 or a standard error exceeds 50), the model is
    refitted with a small ridge penalty ``l2`` (``fit_regularized``, ``L1_wt=0``,
    intercept unpenalised): odds ratios are then shrunk estimates without
    intervals or p-values, and ``note`` says so.

    *Weights.* Without ``weights`` the fit describes the audited sample. When
    inclusion depends on something that drives errors and is not in ``dims``
    (livestreams, low model confidence, new moderators...), its odds ratios
    are biased for the population of decisions (``tests/test_rca.py``
    simulates it: an odds ratio of 5.0 in the population is 3.3 unweighted
    and 5.0 weighted, averaged over 8 samples).
    With ``weights`` the coefficients solve the weighted score equations
    Σ w_i x_i (y_i − μ_i) = 0 (pseudo-maximum likelihood [5]_, [6]_, [7]_): a GLM
    with the weights, scaled to mean 1, as ``var_weights``. ``freq_weights``
    would give the same coefficients but treat each audit as w_i observed
    decisions: statsmodels' standard errors, robust ones included, would then
    ignore the variance the unequal weights add. The covariance is the
    sandwich ``cov_type="HC0"`` [8]_, i.e. the Taylor-linearisation
    variance of Binder [5]_ for a with-replacement sample of audits,
    H⁻¹ (Σ w_i² (y_i − μ_i)² x_i x_iᵀ) H⁻¹ with H = Σ w_i μ_i (1 − μ_i) x_i x_iᵀ
    (``tests/test_rca.py`` checks statsmodels against this formula); it is
    what R's ``survey::svyglm`` reports for a design without strata, up to
    the factor n/(n−1). Clustering by stratum would be wrong: strata are not
    clusters. svyglm with strata also centres the scores z_i within each
    stratum, which removes the between-stratum part Σ_h n_h z̄_h z̄_hᵀ;
    statsmodels has no such option, so for a stratified sample these
    intervals are slightly conservative (up to the factor n_h/(n_h−1)).
    No finite-population correction is applied. Audits identical in levels, outcome and weight are merged into
    one row with ``freq_weights`` equal to their count, which leaves the
    estimates and the sandwich unchanged (tested against the audit-level
    fit). Scaling all weights by a constant changes nothing. The ridge
    fallback maximises the same weighted likelihood. Separation is judged
    on the raw counts, which weighting cannot change.

    References
    ----------
    .. [1] Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, ch. 5.
    .. [2] McCullagh, P., Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed.
    .. [3] Albert, A., Anderson, J. A. (1984). On the existence of maximum
       likelihood estimates in logistic regression models. *Biometrika* 71(1), 1–10.
    .. [4] Benjamini, Y., Hochberg, Y. (1995). *JRSS B* 57(1), 289–300.
    .. [5] Binder, D. A. (1983). On the variances of asymptotically normal
       estimators from complex surveys. *International Statistical Review*
       51(3), 279–292.
    .. [6] Skinner, C. J., Holt, D., Smith, T. M. F. (1989). *Analysis of
       Complex Surveys*, Wiley (pseudo-likelihood).
    .. [7] Lumley, T., Scott, A. J. (2017). Fitting regression models to
       survey data. *Statistical Science* 32(2), 265–278.
    .. [8] White, H. (1980). A heteroskedasticity-consistent covariance matrix
       estimator and a direct test for heteroskedasticity. *Econometrica*
       48(4), 817–838.
    .. [9] Kish, L. (1965). *Survey Sampling*, Wiley (effective sample size).
    """
    dims = as_columns(dims, "dims")
    if not dims:
        raise ConfigError("dims must name at least one column (e.g. [VENDOR, POLICY])")
    if len(set(dims)) != len(dims):
        raise ConfigError(f"dims has duplicates: {dims}")
    if outcome in dims:
        raise ConfigError(f"the outcome column {outcome!r} cannot also be a dimension")
    check_alpha(alpha)
    if not (isinstance(min_n, (int, np.integer)) and min_n >= 1):
        raise ConfigError(f"min_n must be a positive integer, got {min_n!r}")
    if weights is not None and not isinstance(weights, str):
        raise ConfigError(
            f"weights must be the name of a column of design weights (e.g. {S.WEIGHT!r}), got {type(weights).__name__}"
        )
    if weights is not None and (weights in dims or weights == outcome):
        raise ConfigError(f"the weights column {weights!r} cannot also be the outcome or a dimension")
    require_columns(audits, [outcome, *dims], "rca.error_drivers")
    best_reference = isinstance(reference, str)
    if best_reference and reference != "best":
        raise ConfigError(f"reference must be a mapping of dimension to level, or 'best'; got {reference!r}")
    reference = {} if best_reference else dict(reference or {})
    unknown = set(reference) - set(dims)
    if unknown:
        raise ConfigError(f"reference names dimension(s) not in dims: {sorted(unknown)}")
    y = _outcome_array(audits, outcome, "error_drivers")
    if len(y) == 0:
        raise EstimationError("rca.error_drivers: no audits to analyse (the frame is empty)")
    w = _weight_array(audits, weights, "error_drivers")

    # labels, with sparse levels pooled
    frame = pd.DataFrame({"_y": y})
    if w is not None:
        frame["_w"] = w
    kept: list[str] = []
    for d in dims:
        codes, labels = _factorize(audits[d])
        counts = np.bincount(codes, minlength=len(labels))
        lab = np.array(labels, dtype=object)
        sparse = counts < min_n
        if sparse.any() and sparse.sum() < len(labels):
            lab = np.where(sparse, OTHER_LABEL, lab)
        col = lab[codes]
        if len(set(col)) < 2:
            warnings.warn(
                f"error_drivers: dimension {d!r} has a single level after pooling levels "
                f"with < {min_n} audits; it is left out of the model",
                stacklevel=2,
            )
            continue
        if d in reference and reference[d] not in set(col):
            raise ConfigError(
                f"reference level {reference[d]!r} of {d!r} is not among its levels "
                f"(after pooling levels with < {min_n} audits into {OTHER_LABEL!r})"
            )
        frame[d] = col
        kept.append(d)
    if not kept:
        raise EstimationError("rca.error_drivers: no dimension has two or more levels to compare")

    # per-level raw counts
    level_stats = {d: frame.groupby(d, sort=True)["_y"].agg(["size", "sum"]) for d in kept}
    if w is not None:  # sums of weights, of weight x outcome and of squared weights per level
        fw = frame.assign(_wy=frame["_w"] * frame["_y"], _w2=frame["_w"] ** 2)
        level_w = {d: fw.groupby(d, sort=True)[["_w", "_wy", "_w2"]].sum() for d in kept}

    # quasi-complete separation by single levels: drop their rows, report at the boundary
    boundary: dict[tuple[str, Hashable], tuple[float, str]] = {}
    active = np.ones(len(frame), bool)
    for _ in range(len(frame)):
        changed = False
        for d in kept:
            g = frame.loc[active].groupby(d, sort=True)["_y"].agg(["size", "sum"])
            for lv, row in g.iterrows():
                if row["sum"] == 0 or row["sum"] == row["size"]:
                    if reference.get(d) == lv:
                        raise EstimationError(
                            f"rca.error_drivers: reference level {lv!r} of {d!r} has "
                            f"{'no errors' if row['sum'] == 0 else 'only errors'}; odds ratios "
                            "against it are not finite. Choose another reference level."
                        )
                    if g.shape[0] <= 1:
                        continue
                    zero = row["sum"] == 0
                    boundary[(d, lv)] = (
                        0.0 if zero else np.inf,
                        ("no errors" if zero else "only errors") + " in this level: the odds ratio is at the boundary "
                        "(separation) and has no interval; its audits were left out of the fit",
                    )
                    active &= frame[d].to_numpy() != lv
                    changed = True
        if not changed:
            break
    fit_frame = frame.loc[active]
    if fit_frame.empty:
        raise EstimationError("rca.error_drivers: every level is all-correct or all-error; nothing to fit")

    refs: dict[str, str] = {}
    levels: dict[str, list[str]] = {}
    for d in kept:
        sizes = fit_frame.groupby(d, sort=True).size()
        levels[d] = list(sizes.index)
        if d in reference:
            refs[d] = reference[d]
        elif best_reference:
            refs[d] = _best_level(fit_frame, d, weighted=w is not None, alpha=alpha)
        else:
            refs[d] = sizes.sort_values(ascending=False, kind="mergesort").index[0]

    grouped = fit_frame.groupby(kept, sort=True)["_y"].agg(["size", "sum"]).reset_index()
    X, terms = _design(grouped, kept, refs, levels)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        for a, b in itertools.combinations(kept, 2):
            Xab, _ = _design(grouped, [a, b], refs, levels)
            if np.linalg.matrix_rank(Xab) < Xab.shape[1]:
                raise EstimationError(
                    f"rca.error_drivers: dimensions {a!r} and {b!r} are collinear (one is nested in "
                    "the other, e.g. every site belongs to one vendor); keep only one of them"
                )
        raise EstimationError("rca.error_drivers: the dimensions are collinear; drop one of them")
    succ = grouped["sum"].to_numpy(float)
    endog = np.column_stack([succ, grouped["size"].to_numpy(float) - succ])
    if w is None:
        model = sm.GLM(endog, X, family=sm.families.Binomial())
        beta, ci, pv, method_note = _fit_logit(model, model, "nonrobust", alpha, l2)
    else:
        # pseudo-likelihood: design weights (mean 1) as var_weights, sandwich (HC0) covariance.
        # Audits identical in levels, outcome and weight are merged into one row with
        # freq_weights = their count: same estimates and same HC0 as the audit-level fit
        # (statsmodels does not square freq_weights in the sandwich), far fewer rows.
        wn = fit_frame["_w"].to_numpy(float)
        wn = wn / wn.mean()
        yw = fit_frame[kept].assign(_y=fit_frame["_y"].to_numpy(float), _wn=wn)
        comp = yw.groupby([*kept, "_y", "_wn"], sort=True).size().reset_index(name="_f")
        Xa, _ = _design(comp, kept, refs, levels)
        model = sm.GLM(
            comp["_y"].to_numpy(float),
            Xa,
            family=sm.families.Binomial(),
            var_weights=comp["_wn"].to_numpy(float),
            freq_weights=comp["_f"].to_numpy(float),
        )
        # the ridge fallback (no intervals) maximises the same weighted likelihood, aggregated
        # like the unweighted fit to one binomial row per cell (weighted successes, failures)
        wsum = yw.assign(_wy=wn * yw["_y"].to_numpy()).groupby(kept, sort=True)[["_wn", "_wy"]].sum().reset_index()
        Xg, _ = _design(wsum, kept, refs, levels)
        wy = wsum["_wy"].to_numpy(float)
        ridge = sm.GLM(
            np.column_stack([wy, np.maximum(wsum["_wn"].to_numpy(float) - wy, 0.0)]), Xg, family=sm.families.Binomial()
        )
        beta, ci, pv, method_note = _fit_logit(model, ridge, "HC0", alpha, l2)

    rows = []
    for d in kept:
        st = level_stats[d]
        rows.append(
            {
                DIMENSION: d,
                LEVEL: refs[d],
                ODDS_RATIO: 1.0,
                S.CI_LOW: np.nan,
                S.CI_HIGH: np.nan,
                S.P_VALUE: np.nan,
                IS_REFERENCE: True,
                NOTE: "reference level",
            }
        )
        for lv in st.index:
            if lv == refs[d]:
                continue
            if (d, lv) in boundary:
                orv, note = boundary[(d, lv)]
                rows.append(
                    {
                        DIMENSION: d,
                        LEVEL: lv,
                        ODDS_RATIO: orv,
                        S.CI_LOW: np.nan,
                        S.CI_HIGH: np.nan,
                        S.P_VALUE: np.nan,
                        IS_REFERENCE: False,
                        NOTE: note,
                    }
                )
                continue
            k = 1 + terms.index((d, lv))
            rows.append(
                {
                    DIMENSION: d,
                    LEVEL: lv,
                    ODDS_RATIO: float(np.exp(beta[k])),
                    S.CI_LOW: float(np.exp(ci[k, 0])),
                    S.CI_HIGH: float(np.exp(ci[k, 1])),
                    S.P_VALUE: float(pv[k]),
                    IS_REFERENCE: False,
                    NOTE: method_note,
                }
            )
    out = pd.DataFrame(rows)
    nn = np.array([level_stats[d].loc[lv, "size"] for d, lv in zip(out[DIMENSION], out[LEVEL])])
    ee = np.array([level_stats[d].loc[lv, "sum"] for d, lv in zip(out[DIMENSION], out[LEVEL])])
    out[S.N] = nn.astype(np.int64)
    out[S.ERRORS] = ee.astype(np.int64)
    out[S.ERROR_RATE] = ee / nn
    if w is not None:
        lw = np.array([level_w[d].loc[lv].to_numpy(float) for d, lv in zip(out[DIMENSION], out[LEVEL])])
        out[S.ERROR_RATE] = lw[:, 1] / lw[:, 0]
        out[N_EFF] = lw[:, 0] ** 2 / lw[:, 2]
    p = out[S.P_VALUE].to_numpy(float)
    out[S.Q_VALUE] = bh_qvalues(p)
    out[FLAG] = (out[S.Q_VALUE] < alpha) & (out[ODDS_RATIO] > 1)
    out["_dorder"] = out[DIMENSION].map({d: i for i, d in enumerate(kept)})
    out = out.sort_values(
        ["_dorder", IS_REFERENCE, ODDS_RATIO, LEVEL], ascending=[True, False, False, True], kind="mergesort"
    ).reset_index(drop=True)
    return out[
        [
            DIMENSION,
            LEVEL,
            S.N,
            *([N_EFF] if w is not None else []),
            S.ERRORS,
            S.ERROR_RATE,
            ODDS_RATIO,
            S.CI_LOW,
            S.CI_HIGH,
            S.P_VALUE,
            S.Q_VALUE,
            FLAG,
            IS_REFERENCE,
            NOTE,
        ]
    ]
