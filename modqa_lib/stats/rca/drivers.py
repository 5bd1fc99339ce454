"""Error drivers: (survey-weighted) logistic regression of errors on slice dimensions."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
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
    PAIR_SEP,
    VALUE,
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Fit a GLM logit; if it diverges (separation), a ridge fit of ``ridge_model`` instead.

    Returns the coefficients, their covariance, Wald intervals (``(k, 2)``; NaN after the
    ridge fallback, like the covariance), p-values and the note to put on every estimated row.
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
            cov = np.asarray(res.cov_params())
        else:
            pen = np.full(ridge_model.exog.shape[1], l2)
            pen[0] = 0.0
            res = ridge_model.fit_regularized(alpha=pen, L1_wt=0.0)
            beta = np.asarray(res.params)
            ci = np.full((len(beta), 2), np.nan)
            pv = np.full(len(beta), np.nan)
            cov = np.full((len(beta), len(beta)), np.nan)
            method_note = (
                f"separation: the likelihood has no finite maximum; ridge-penalised estimate "
                f"(l2={l2}), shrunk towards 1, no interval or p-value"
            )
    return beta, cov, ci, pv, method_note


def error_drivers(
    audits: pd.DataFrame,
    dims: Sequence[str],
    outcome: str = S.IS_ERROR,
    reference: Mapping[str, str] | str | None = None,
    alpha: float = 0.05,
    min_n: int = 30,
    l2: float = 1e-3,
    weights: str | None = None,
    slices: Sequence[Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """Odds ratios of each level of each dimension, controlling for the other dimensions.

    A logistic regression ``logit P(error) = b0 + Σ_dims Σ_levels b_l · 1[level]``
    with treatment (dummy) coding, fitted by maximum likelihood with
    ``statsmodels`` GLM (Binomial family, logit link); with ``weights``, by
    survey-weighted pseudo-maximum likelihood with design-based standard errors
    (the larger of the sandwich and the model-based variance, see Notes).

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
    reference : {"mean", "largest", "best"} or mapping of str to str, default "mean"
        What each level is compared with. ``"mean"`` (default): sum-to-zero
        (deviation) coding, every level against the average level of its
        dimension (the unweighted mean of the levels' log odds), so every
        level, the worst included, gets its own odds ratio and test and no
        reference can be a small, noisy level; this keeps the family-wise
        false-flag rate under the null at or below ``alpha``, weighted or not
        (see Notes). ``"largest"``: treatment coding against the level with
        most audits (ties by label). A mapping: treatment coding against the
        given level (dimensions not in it: the largest level).
        ``"best"``: the level with the lowest upper Wilson bound of its
        (weighted) error rate; kept for comparisons with earlier reports (its
        family-wise false-flag rate is also within ``alpha``, see Notes).
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

    slices : list of mapping of str to str, optional
        Interaction slices to model explicitly, e.g. the pairs
        :func:`drilldown` flags (:func:`slices_from_drilldown`):
        ``[{SITE: "Penang", SHIFT: "night"}]``. Each adds an indicator of the
        slice to the model, so the other odds ratios are net of it (a
        main-effects-only model blames a dimension that is merely
        over-represented in the slice, e.g. new hires on Penang nights).
        Its row has ``dimension`` "site × shift", ``level`` "Penang × night"
        and the odds ratio of the slice beyond its main effects, against the
        reference row ``"(rest)"``. Candidates are added in the order given
        (forward selection): one is kept only if it is significant given the
        main effects and the slices kept before it (Wald p < alpha / number
        of candidates) and does not make the design collinear (the
        drill-down flags overlapping pairs, e.g. B × new when B × night is
        the cause; they are dropped).

    Returns
    -------
    DataFrame
        One row per (dimension, level), dimensions in the order given, levels by
        odds ratio descending with the reference (if any) first: ``dimension``,
        ``level``, ``n`` (audits), [``n_eff`` (Kish [9]_ effective size of
        the level's audits, only with ``weights``)], ``errors`` (audits with an
        error), ``error_rate`` (raw; with ``weights`` the weighted (Hájek)
        rate Σw·y / Σw, an estimate for all decisions of the level),
        ``odds_ratio`` (adjusted, vs the reference, or vs the average level
        with ``"mean"``), ``ci_low``, ``ci_high``
        (Wald, on the odds-ratio scale; design-based with ``weights``), ``p_value``
        (Wald), ``q_value`` (Benjamini–Hochberg over all non-reference
        levels), ``flag`` (q < alpha and OR > 1), ``is_reference``, ``note``
        (empty, what the level is compared with, or why a row has no
        interval). With ``reference="mean"`` no row is a reference. ``n`` and ``errors`` are
        always raw audit counts.

    Notes
    -----
    *Fitting.* Audits are first aggregated to one binomial row per observed
    combination of levels (successes, failures); the grouped fit has exactly
    the same likelihood, coefficients and standard errors as the audit-level
    fit but is much faster. ``tests/test_rca.py`` checks the odds ratios, CIs
    and p-values against a direct audit-level
    ``statsmodels.formula.api.glm("y ~ C(vendor, Treatment(...)) + ...")`` fit.

    *References and false flags.* With ``"mean"`` the model is fitted with
    treatment coding (against the largest level) and each level's log odds
    ratio against the average level is the contrast β_l − mean_j β_j over
    the dimension's k levels (β = 0 for the fitted reference), with variance
    cᵀVc from the fitted covariance (see *Weights* for the weighted fit):
    the same estimates as sum-to-zero (deviation) coding
    (``tests/stats/test_rca.py`` checks them against statsmodels' ``C(x, Sum)``).
    ``tests/stats/test_rca.py`` simulates finite populations without any
    effect, sampled with :func:`modqa_lib.stats.sampling.stratified_sample`
    (risky decisions 8x oversampled, 3,000 audits, 17 levels, 250 samples):
    at least one level is flagged in 2.4% of unweighted and 3.2% of weighted
    samples with ``"mean"``, 3.2% and 4.0% with ``"best"``, all within
    ``alpha`` = 0.05 plus the Monte Carlo tolerance. With the sandwich
    variance alone, weighted fits flagged a level in 8.0% (``"mean"``) and
    18% (``"best"``) of the same samples.

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
    ignore the variance the unequal weights add. The robust covariance is the
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
    The sandwich's middle term rests on the squared residuals of the errors;
    with rare errors a level's weighted rate rests on a few heavy-weight
    errors, the sandwich is then itself noisy and too small exactly when
    that level has fewer heavy-weight errors than expected, and Wald tests
    with it reject too often [10]_ (8% false-flag rate instead of 5% above).
    So each estimate's variance cᵀVc is the larger of the sandwich's and
    the model-based one of the weighted estimator,
    H⁻¹ (Σ w_i² μ_i (1 − μ_i) x_i x_iᵀ) H⁻¹, the sandwich with (y_i − μ_i)²
    replaced by its expectation under the model: it still carries the
    variance the unequal weights add (Σ w² rather than Σ w), but not the
    noise of a few residuals; where the model is wrong (errors vary with
    something not in ``dims``) the sandwich is usually the larger and is
    used. Taking the larger of the two keeps the intervals design-based
    and makes them conservative, never narrower than either (the simulation
    above; ``tests/stats/test_rca.py`` checks the rule against statsmodels).
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
    .. [10] Kauermann, G., Carroll, R. J. (2001). A note on the efficiency of
       sandwich covariance matrix estimation. *JASA* 96(456), 1387–1396.
    """
    dims, mode, reference = _check_driver_args(audits, dims, outcome, reference, alpha, min_n, weights)
    y = _outcome_array(audits, outcome, "error_drivers")
    if len(y) == 0:
        raise EstimationError("rca.error_drivers: no audits to analyse (the frame is empty)")
    w = _weight_array(audits, weights, "error_drivers")
    fit_args = (audits, dims, y, w, mode, reference, alpha, min_n, l2)
    return _drivers(*fit_args, _select_slices(fit_args, slices, alpha))


def _select_slices(fit_args, slices, alpha: float) -> list:
    """Forward selection of the candidate slices, in the order given: a slice is kept when its
    indicator is significant (Wald p < alpha / number of candidates) given the main effects and
    the slices kept before it, and does not make the design collinear."""
    slices = list(slices or [])
    kept: list = []
    for sl in slices:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = _drivers(*fit_args, [*kept, sl])  # type: ignore[call-arg]  # fit_args is the 9 leading args
        except EstimationError:
            continue
        name = PAIR_SEP.join(sl) if isinstance(sl, Mapping) else None
        row = res[(res[DIMENSION].str.startswith(name or "\0")) & ~res[IS_REFERENCE]] if name else res.iloc[:0]
        if len(row) and np.nanmin(row[S.P_VALUE].to_numpy(float)[-1:]) < alpha / len(slices):
            kept.append(sl)
        elif not isinstance(sl, Mapping) or len(sl) < 2:
            kept.append(sl)  # let _add_slices raise its ConfigError
    return kept


def _drivers(audits, dims, y, w, mode, reference, alpha, min_n, l2, slices) -> pd.DataFrame:
    """The driver table for validated arguments and the chosen slices."""
    reference = dict(reference)
    frame, kept = _pooled_frame(audits, dims, y, w, min_n, reference)
    for name in _add_slices(frame, audits, kept, slices):
        kept.append(name)
        reference[name] = REST_LABEL
    level_stats = _level_counts(frame, kept, weighted=w is not None)
    boundary, active = _boundary_levels(frame, kept, reference)
    fit_frame = frame.loc[active]
    if fit_frame.empty:
        raise EstimationError("rca.error_drivers: every level is all-correct or all-error; nothing to fit")
    levels = {d: list(fit_frame.groupby(d, sort=True).size().index) for d in kept}
    refs = _references(fit_frame, kept, mode, reference, weighted=w is not None, alpha=alpha)
    # sum-to-zero results are linear contrasts of the same fit, treatment-coded against the largest level
    largest = _references(fit_frame, kept, "largest", {}, weighted=False, alpha=alpha)
    fit = _fit_drivers(fit_frame, kept, {d: refs[d] or largest[d] for d in kept}, levels, w is not None, alpha, l2)
    fit["refs"] = refs
    out = _driver_rows(kept, refs, levels, level_stats, boundary, fit, alpha)
    return _finish_table(out, kept, level_stats, w is not None, alpha)


def slices_from_drilldown(drill: pd.DataFrame, dims: Sequence[str]) -> list[dict[str, str]]:
    """The flagged pairs of a :func:`drilldown` / :func:`top_findings` table as ``slices`` for
    :func:`error_drivers`: depth-2 rows with ``flag`` whose two dimensions are both in ``dims``.

    Parameters
    ----------
    drill : DataFrame
        Output of :func:`drilldown` (``depth=2``) or :func:`top_findings`.
    dims : list of str
        The dimensions of the driver model.

    Returns
    -------
    list of dict
        One ``{dimension: level}`` mapping per flagged pair, in table order.
    """
    out = []
    wanted = set(as_columns(dims, "dims"))
    for dim, val, flag in zip(drill[DIMENSION], drill[VALUE], drill[FLAG]):
        parts, levels = str(dim).split(PAIR_SEP), str(val).split(PAIR_SEP)
        if bool(flag) and len(parts) == 2 and len(levels) == 2 and set(parts) <= wanted:
            out.append(dict(zip(parts, levels)))
    return out


# ------------------------------------------------------------- the named steps
_MODES = ("mean", "largest", "best")


def _check_driver_args(audits, dims, outcome, reference, alpha, min_n, weights) -> tuple[list[str], str, dict]:
    """Validate the arguments; return the dims, the reference mode and the explicit references."""
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
    require_columns(audits, [outcome, *dims], "error_drivers")
    if reference is None:
        reference = "mean"
    if isinstance(reference, str):
        if reference not in _MODES:
            raise ConfigError(
                f"reference must be a mapping of dimension to level, or one of {list(_MODES)}; got {reference!r}"
            )
        return dims, reference, {}
    reference = dict(reference)
    unknown = set(reference) - set(dims)
    if unknown:
        raise ConfigError(f"reference names dimension(s) not in dims: {sorted(unknown)}")
    # dimensions without an explicit level keep the historical rule of a mapping: the largest level
    return dims, "largest", reference


def _pooled_frame(audits, dims, y, w, min_n, reference) -> tuple[pd.DataFrame, list[str]]:
    """Outcome, weights and the dimensions' labels with levels of fewer than ``min_n`` audits pooled."""
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
                stacklevel=3,
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
    return frame, kept


REST_LABEL = "(rest)"


def _add_slices(frame: pd.DataFrame, audits: pd.DataFrame, kept: list[str], slices) -> list[str]:
    """Add one two-level column per slice (its label, or ``"(rest)"``); return the column names.

    A slice is a mapping of fitted dimension to level, e.g. ``{SITE: "Penang", SHIFT: "night"}``;
    its name is the dimensions joined by " × " (as in :func:`drilldown`), its level the levels.
    """
    names: list[str] = []
    for sl in slices or []:
        if not isinstance(sl, Mapping) or len(sl) < 2:
            raise ConfigError(
                f"each slice must map two or more dimensions to a level, e.g. {{'site': 'Penang', 'shift': 'night'}}; got {sl!r}"
            )
        missing = [d for d in sl if d not in kept]
        if missing:
            raise ConfigError(f"slice {dict(sl)!r} names dimension(s) not fitted: {missing}; slices must use the dims")
        inside = np.ones(len(frame), bool)
        for d, lv in sl.items():
            codes, labels = _factorize(audits[d])  # type: ignore[arg-type]  # one column: a Series
            inside &= np.asarray(labels, dtype=object)[codes] == str(lv)
        if inside.all() or not inside.any():
            warnings.warn(
                f"error_drivers: slice {dict(sl)!r} holds {'every' if inside.any() else 'no'} audit; left out",
                stacklevel=3,
            )
            continue
        name = PAIR_SEP.join(sl)
        while name in frame.columns:
            name += "'"
        frame[name] = np.where(inside, PAIR_SEP.join(str(v) for v in sl.values()), REST_LABEL)
        names.append(name)
    return names


def _level_counts(frame: pd.DataFrame, kept: list[str], weighted: bool) -> dict[str, pd.DataFrame]:
    """Per dimension and level: audits (``size``), errors (``sum``) and, weighted, Σw, Σw·y, Σw²."""
    out = {}
    fw = frame.assign(_wy=frame["_w"] * frame["_y"], _w2=frame["_w"] ** 2) if weighted else frame
    for d in kept:
        st = frame.groupby(d, sort=True)["_y"].agg(["size", "sum"])
        if weighted:
            st = st.join(fw.groupby(d, sort=True)[["_w", "_wy", "_w2"]].sum())
        out[d] = st
    return out


def _boundary_levels(frame, kept, reference) -> tuple[dict[tuple[str, str], tuple[float, str]], np.ndarray]:
    """Levels separated on their own (all correct / all errors): reported at the boundary, left out of the fit."""
    boundary: dict[tuple[str, str], tuple[float, str]] = {}
    active = np.ones(len(frame), bool)
    for _ in range(len(frame)):
        changed = False
        for d in kept:
            g = frame.loc[active].groupby(d, sort=True)["_y"].agg(["size", "sum"])
            for lv, row in g.iterrows():
                if not (row["sum"] == 0 or row["sum"] == row["size"]):
                    continue
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
    return boundary, active


def _references(fit_frame, kept, mode, reference, weighted, alpha) -> dict[str, str | None]:
    """Reference level per dimension; ``None`` for sum-to-zero coding (compared with the average level)."""
    refs: dict[str, str | None] = {}
    for d in kept:
        if d in reference:
            refs[d] = reference[d]
        elif mode == "mean":
            refs[d] = None
        elif mode == "best":
            refs[d] = _best_level(fit_frame, d, weighted=weighted, alpha=alpha)
        else:
            sizes = fit_frame.groupby(d, sort=True).size()
            refs[d] = sizes.sort_values(ascending=False, kind="mergesort").index[0]
    return refs


def _fit_drivers(fit_frame, kept, refs, levels, weighted, alpha, l2) -> dict:
    """Fit the (weighted) logit; return coefficients, covariance, Wald results and the term of each column."""
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
    if not weighted:
        succ = grouped["sum"].to_numpy(float)
        endog = np.column_stack([succ, grouped["size"].to_numpy(float) - succ])
        model = sm.GLM(endog, X, family=sm.families.Binomial())
        beta, cov, ci, pv, note = _fit_logit(model, model, "nonrobust", alpha, l2)
        return {"beta": beta, "covs": (cov,), "ci": ci, "pv": pv, "note": note, "terms": terms}
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
    beta, cov, ci, pv, note = _fit_logit(model, ridge, "HC0", alpha, l2)
    cov_model = _model_cov(Xa, comp["_wn"].to_numpy(float), comp["_f"].to_numpy(float), beta, cov)
    return {"beta": beta, "covs": (cov, cov_model), "ci": ci, "pv": pv, "note": note, "terms": terms}


def _model_cov(X: np.ndarray, w: np.ndarray, f: np.ndarray, beta: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Model-based covariance of the weighted (pseudo-likelihood) estimate: H⁻¹ (Σ f w² μ(1−μ) x xᵀ) H⁻¹.

    H = Σ f w μ(1−μ) x xᵀ; ``w`` the design weights (mean 1), ``f`` the count of identical audits.
    It is the sandwich with each squared residual (y − μ)² replaced by its expectation μ(1 − μ)
    under the fitted model: the variance the unequal weights add, without the noise of a
    meat that rests on a few heavy-weight errors. NaN where ``cov`` is (the ridge fallback).
    """
    if not np.all(np.isfinite(cov)):
        return np.full_like(cov, np.nan)
    mu = 1.0 / (1.0 + np.exp(-(X @ beta)))
    v = f * mu * (1.0 - mu)
    Hi = np.linalg.pinv((X * (v * w)[:, None]).T @ X)
    return Hi @ ((X * (v * w * w)[:, None]).T @ X) @ Hi


def _level_estimate(fit: dict, d: str, lv: str, levels: list[str], alpha: float) -> tuple[float, float, float, float]:
    """log odds ratio, Wald interval and p-value of one level.

    Against a reference level: the level's own treatment coefficient
    (statsmodels' Wald results). Against the average level (sum-to-zero
    coding): the contrast cᵀβ with c_j = 1[j = level] − 1/k over the k levels'
    treatment coefficients (the reference's being 0), variance cᵀVc.
    """
    terms = fit["terms"]
    c = np.zeros(len(fit["beta"]))
    if fit["refs"][d] is not None:
        c[1 + terms.index((d, lv))] = 1.0
    else:
        for other in levels:
            if (d, other) in terms:
                c[1 + terms.index((d, other))] = float(other == lv) - 1.0 / len(levels)
    est = float(c @ fit["beta"])
    # weighted fits: the larger of the sandwich and the model-based variance (see Notes)
    se = float(np.sqrt(max(float(c @ cov @ c) for cov in fit["covs"])))
    if not (np.isfinite(se) and se > 0):
        return est, np.nan, np.nan, np.nan
    z = stats.norm.ppf(1 - alpha / 2)
    return est, est - z * se, est + z * se, float(2 * stats.norm.sf(abs(est) / se))


def _driver_rows(kept, refs, levels, level_stats, boundary, fit, alpha) -> pd.DataFrame:
    """One row per (dimension, level): the reference row, boundary rows and estimated rows."""
    rows = []
    for d in kept:
        if refs[d] is not None:
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
        mean_note = f"compared with the average {d} (sum-to-zero coding)" if refs[d] is None else ""
        for lv in level_stats[d].index:
            if lv == refs[d]:
                continue
            base = {DIMENSION: d, LEVEL: lv, IS_REFERENCE: False}
            if (d, lv) in boundary:
                orv, note = boundary[(d, lv)]
                rows.append(
                    base | {ODDS_RATIO: orv, S.CI_LOW: np.nan, S.CI_HIGH: np.nan, S.P_VALUE: np.nan, NOTE: note}
                )
                continue
            est, lo, hi, p = _level_estimate(fit, d, lv, levels[d], alpha)
            note = "; ".join(x for x in (mean_note, fit["note"]) if x)
            rows.append(
                base
                | {
                    ODDS_RATIO: float(np.exp(est)),
                    S.CI_LOW: float(np.exp(lo)),
                    S.CI_HIGH: float(np.exp(hi)),
                    S.P_VALUE: p,
                    NOTE: note,
                }
            )
    return pd.DataFrame(rows)


def _finish_table(out: pd.DataFrame, kept, level_stats, weighted: bool, alpha: float) -> pd.DataFrame:
    """Add counts, rates, q-values and flags; sort; select the documented columns."""
    st = [level_stats[d].loc[lv] for d, lv in zip(out[DIMENSION], out[LEVEL])]
    nn = np.array([r["size"] for r in st], float)
    ee = np.array([r["sum"] for r in st], float)
    out[S.N] = nn.astype(np.int64)
    out[S.ERRORS] = ee.astype(np.int64)
    out[S.ERROR_RATE] = ee / nn
    if weighted:
        out[S.ERROR_RATE] = np.array([r["_wy"] / r["_w"] for r in st], float)
        out[N_EFF] = np.array([r["_w"] ** 2 / r["_w2"] for r in st], float)
    out[S.Q_VALUE] = bh_qvalues(out[S.P_VALUE].to_numpy(float))
    out[FLAG] = (out[S.Q_VALUE] < alpha) & (out[ODDS_RATIO] > 1)
    out["_dorder"] = out[DIMENSION].map({d: i for i, d in enumerate(kept)})
    out = out.sort_values(
        ["_dorder", IS_REFERENCE, ODDS_RATIO, LEVEL], ascending=[True, False, False, True], kind="mergesort"
    ).reset_index(drop=True)
    cols = [DIMENSION, LEVEL, S.N, *([N_EFF] if weighted else []), S.ERRORS, S.ERROR_RATE, ODDS_RATIO]
    return out[[*cols, S.CI_LOW, S.CI_HIGH, S.P_VALUE, S.Q_VALUE, FLAG, IS_REFERENCE, NOTE]]
