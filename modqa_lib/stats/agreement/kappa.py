"""Agreement coefficients: percent agreement, Cohen's kappa, Fleiss' kappa, Krippendorff's alpha,
Gwet's AC1 and Brennan-Prediger."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats
from statsmodels.stats import inter_rater as _smir

from modqa_lib.contract.checks import check_alpha, require_columns
from modqa_lib.contract.schema import (
    CI_HIGH,
    CI_LOW,
    ITEM_ID,
    LABEL,
    P_VALUE,
    RATER_ID,
    N,
)
from modqa_lib.errors import EstimationError
from modqa_lib.stats.agreement._common import (
    _FLEISS_METHODS,
    _LAYOUTS,
    _LEVELS,
    ALPHA,
    ESTIMATE,
    KAPPA,
    N_ITEMS,
    N_RATERS,
    N_RATINGS,
    PERCENT_AGREEMENT,
    STATISTIC,
    Level,
    _as_counts,
    _check_choice,
    _clean_long,
    _keys,
    _pairable,
)


# =============================================================================
# percent agreement
# =============================================================================
def _per_item_agreement(C: np.ndarray) -> np.ndarray:
    """Share of agreeing rater pairs within each item (Fleiss' P_i)."""
    m = C.sum(1)
    return ((C * C).sum(1) - m) / (m * (m - 1))


def percent_agreement(
    data: pd.DataFrame, item: str | Sequence[str] = ITEM_ID, rater: str = RATER_ID, label: str = LABEL
) -> pd.DataFrame:
    """Observed pairwise agreement: how often two raters of the same item agree.

    For each item rated by ``m >= 2`` raters, the share of the ``m (m - 1)``
    ordered rater pairs that gave the same label; then the mean over items
    (Fleiss' :math:`\\bar P`). Not corrected for chance: use
    :func:`fleiss_kappa` or :func:`krippendorff_alpha` for that.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per (item, rater) vote. Rows with a missing label
        are ignored.
    item : str or list of str, default ``"item_id"``
        Column(s) identifying an item; pass ``[SESSION_ID, ITEM_ID]`` when the
        same item is rated in several sessions and should count separately.
    rater : str, default ``"rater_id"``
    label : str, default ``"label"``

    Returns
    -------
    DataFrame
        One row with columns

        - ``percent_agreement`` : float in [0, 1] (a share, not x100)
        - ``n_items`` : items with at least two ratings (the others are dropped)
        - ``n_ratings`` : ratings on those items
        - ``n_raters`` : distinct raters in ``data``

    Raises
    ------
    DataContractError
        A column is missing, or a rater voted twice on the same item.
    EstimationError
        Empty data, a single rater, or no item with two ratings.

    See Also
    --------
    percent_agreement_from_counts : the same from an items x categories table.

    Notes
    -----
    Equal to the observed agreement :math:`\\bar P` inside statsmodels'
    ``fleiss_kappa`` when every item has the same number of raters (tested);
    with a varying number of raters each item still weighs the same.

    References
    ----------
    .. [1] Fleiss, J. L. (1971). Measuring nominal scale agreement among many
       raters. Psychological Bulletin, 76(5), 378-382. https://doi.org/10.1037/h0031619

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": ["a", "a", "b", "b"], "rater_id": ["r1", "r2", "r1", "r2"],
    ...                    "label": ["spam", "spam", "spam", "hate"]})
    >>> float(percent_agreement(df)["percent_agreement"].iloc[0])
    0.5
    """
    df = _clean_long(data, item, rater, label)
    counts = to_count_table(df, item=item, label=label)
    out = percent_agreement_from_counts(counts)
    out[N_RATERS] = int(df[rater].nunique())
    return out


def percent_agreement_from_counts(counts: pd.DataFrame | ArrayLike) -> pd.DataFrame:
    """Observed pairwise agreement from an items x categories count table.

    Parameters
    ----------
    counts : DataFrame or array-like, shape (n_items, n_categories)
        Cell ``[i, c]`` = number of raters who put item ``i`` in category ``c``.
        Items with fewer than two ratings are dropped.

    Returns
    -------
    DataFrame
        One row: ``percent_agreement`` (share in [0, 1]), ``n_items``, ``n_ratings``.

    Raises
    ------
    EstimationError
        Empty or invalid table, or no item with two ratings.

    Notes
    -----
    See :func:`percent_agreement`; validated the same way.

    References
    ----------
    .. [1] Fleiss, J. L. (1971). Measuring nominal scale agreement among many
       raters. Psychological Bulletin, 76(5), 378-382.
    """
    C, _ = _as_counts(counts)
    C = _pairable(C)
    return pd.DataFrame(
        {
            PERCENT_AGREEMENT: [float(_per_item_agreement(C).mean())],
            N_ITEMS: [int(C.shape[0])],
            N_RATINGS: [int(round(C.sum()))],
        }
    )


# =============================================================================
# Cohen's kappa
# =============================================================================
def cohens_kappa(
    a: ArrayLike,
    b: ArrayLike,
    weights: Literal["linear", "quadratic"] | None = None,
    alpha: float = 0.05,
    categories: Sequence[Hashable] | None = None,
) -> pd.DataFrame:
    """Cohen's kappa between two raters, with its asymptotic confidence interval.

    Parameters
    ----------
    a, b : array-like or Series
        The two raters' labels on the same items, aligned by position. Pairs
        where either label is missing are dropped.
    weights : {None, "linear", "quadratic"}
        ``None`` is Cohen's (1960) unweighted kappa for nominal labels.
        ``"linear"`` (Cicchetti-Allison) and ``"quadratic"`` (Fleiss-Cohen)
        weight disagreements by distance and need ordered labels: numbers
        (their values are used as scores), an ordered Categorical, or
        ``categories``.
    alpha : float, default 0.05
        1 - confidence level of the interval.
    categories : sequence, optional
        All possible labels, in order. Defaults to the sorted labels seen.
        For weighted kappa with non-numeric labels the scores are the
        positions 0, 1, 2, ... in this order.

    Returns
    -------
    DataFrame
        One row with columns

        - ``kappa`` : Cohen's kappa (weighted if ``weights`` given)
        - ``se`` : asymptotic standard error (Fleiss, Cohen & Everitt 1969)
        - ``ci_low``, ``ci_high`` : ``kappa -/+ z(1 - alpha/2) * se``
        - ``p_value`` : two-sided test of kappa = 0 (standard error under H0)
        - ``n`` : items rated by both
        - ``weights`` : ``"none"``, ``"linear"`` or ``"quadratic"``

    Raises
    ------
    EstimationError
        Different lengths, fewer than two paired items, unordered labels with
        weights, or both raters using one single category (kappa undefined).

    Notes
    -----
    Builds the square contingency table over the union of categories and
    calls ``statsmodels.stats.inter_rater.cohens_kappa`` on it. Tested against
    the Wikipedia worked example (kappa = 0.4), the SAS PROC FREQ printout
    (simple kappa 0.4842, ASE 0.1380, CI 0.2137-0.7547; weighted 0.4701)
    recorded in ``tests/results/agreement_cohen_kappa.json``, and statsmodels
    itself.

    References
    ----------
    .. [1] Cohen, J. (1960). A coefficient of agreement for nominal scales.
       Educational and Psychological Measurement, 20(1), 37-46.
    .. [2] Cohen, J. (1968). Weighted kappa: nominal scale agreement with
       provision for scaled disagreement or partial credit. Psychological
       Bulletin, 70(4), 213-220.
    .. [3] Fleiss, J. L., Cohen, J., & Everitt, B. S. (1969). Large sample
       standard errors of kappa and weighted kappa. Psychological Bulletin,
       72(5), 323-327.

    Examples
    --------
    >>> a = ["yes"] * 25 + ["no"] * 25
    >>> b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    >>> round(float(cohens_kappa(a, b)["kappa"].iloc[0]), 3)
    0.4
    """
    _check_choice("weights", weights, (None, "linear", "quadratic"))
    check_alpha(alpha)
    sa, sb = pd.Series(a).reset_index(drop=True), pd.Series(b).reset_index(drop=True)
    if len(sa) != len(sb):
        raise EstimationError(
            f"cohens_kappa: the two raters have {len(sa)} and {len(sb)} labels; "
            "pass labels for the same items in the same order"
        )
    both = sa.notna() & sb.notna()
    sa, sb = sa[both], sb[both]
    n = len(sa)
    if n < 2:
        raise EstimationError(f"cohens_kappa: only {n} item(s) rated by both raters; need at least 2")

    scores: np.ndarray | None = None
    if categories is not None:
        cats = list(categories)
        unknown = set(pd.unique(pd.concat([sa, sb]))) - set(cats)
        if unknown:
            raise EstimationError(f"cohens_kappa: labels {sorted(map(str, unknown))} are not in categories={cats}")
        if weights is not None:
            numeric = all(isinstance(c, (int, float, np.number)) and not isinstance(c, bool) for c in cats)
            scores = np.asarray(cats, float) if numeric else np.arange(len(cats), dtype=float)
    elif (
        isinstance(sa.dtype, pd.CategoricalDtype)
        and isinstance(sb.dtype, pd.CategoricalDtype)
        and sa.cat.ordered
        and sb.cat.ordered
    ):
        if list(sa.cat.categories) != list(sb.cat.categories):
            raise EstimationError("cohens_kappa: the two ordered Categoricals have different categories")
        cats = list(sa.cat.categories)
        scores = np.arange(len(cats), dtype=float)
    else:
        pooled = pd.concat([sa, sb], ignore_index=True)
        if weights is not None:
            if not pd.api.types.is_numeric_dtype(pooled) or pd.api.types.is_bool_dtype(pooled):
                raise EstimationError(
                    f"cohens_kappa: weights={weights!r} needs ordered labels; give numeric labels, "
                    "ordered Categoricals, or categories=[...] in order"
                )
            cats = sorted(pd.unique(pooled).tolist())
            scores = np.asarray(cats, float)
        else:
            uniq = pd.unique(pooled).tolist()
            try:
                cats = sorted(uniq)
            except TypeError:
                cats = sorted(uniq, key=str)

    k = len(cats)
    ia = pd.Categorical(sa, categories=cats).codes.astype(np.int64)
    ib = pd.Categorical(sb, categories=cats).codes.astype(np.int64)
    table = np.bincount(ia * k + ib, minlength=k * k).reshape(k, k).astype(float)
    p_exp = (table.sum(1) / n) @ (table.sum(0) / n)
    if k < 2 or np.isclose(p_exp, 1.0):
        raise EstimationError(
            f"cohens_kappa: both raters used the single label {cats[int(np.argmax(table.sum(0)))]!r} "
            "on every item; kappa is undefined without variation (agreement is trivially 100%)"
        )
    if weights is None:
        res = _smir.cohens_kappa(table)
    else:
        res = _smir.cohens_kappa(table, weights=scores, wt=weights)
    kappa, se = float(res.kappa), float(res.std_kappa)
    z = stats.norm.isf(alpha / 2)
    return pd.DataFrame(
        {
            KAPPA: [kappa],
            "se": [se],
            CI_LOW: [kappa - z * se],
            CI_HIGH: [kappa + z * se],
            P_VALUE: [float(res.pvalue_two_sided)],
            N: [n],
            "weights": [weights or "none"],
        }
    )


# =============================================================================
# count tables and Fleiss' kappa
# =============================================================================
def to_count_table(
    long_df: pd.DataFrame,
    item: str | Sequence[str] = ITEM_ID,
    label: str = LABEL,
    categories: Sequence[Hashable] | None = None,
    rater: str | None = None,
) -> pd.DataFrame:
    """Turn long-format votes into an items x categories count table.

    Parameters
    ----------
    long_df : DataFrame
        One row per vote. Rows with a missing label are ignored.
    item : str or list of str, default ``"item_id"``
        Item key column(s); a list gives a MultiIndex.
    label : str, default ``"label"``
    categories : sequence, optional
        Columns of the table, in order (categories nobody chose get a column
        of zeros). Defaults to the sorted labels seen.
    rater : str, optional
        If given, check that no rater voted twice on the same item.

    Returns
    -------
    DataFrame
        Index: the item key(s); one integer column per category, named by
        the category; each cell the number of raters who chose it.

    Raises
    ------
    DataContractError
        Missing column; a duplicate vote (when ``rater`` is given).
    EstimationError
        No labelled rows; a label outside ``categories``.

    Notes
    -----
    Same table as ``statsmodels.stats.inter_rater.aggregate_raters`` for a
    complete subjects x raters array (tested on Fleiss 1971 diagnoses).

    References
    ----------
    .. [1] Fleiss, J. L. (1971). Measuring nominal scale agreement among many
       raters. Psychological Bulletin, 76(5), 378-382.
    """
    keys = _keys(item)
    if rater is not None:
        df = _clean_long(long_df, keys, rater, label)
    else:
        require_columns(long_df, [*keys, label], "to_count_table", table="ratings")
        df = long_df.loc[long_df[label].notna(), [*keys, label]]
        if len(df) == 0:
            raise EstimationError(
                "ratings: the frame is empty or every label is missing; there are no ratings to count"
            )
    if categories is None:
        uniq = pd.unique(df[label]).tolist()
        try:
            cats = sorted(uniq)
        except TypeError:
            cats = sorted(uniq, key=str)
    else:
        cats = list(categories)
        extra = set(pd.unique(df[label])) - set(cats)
        if extra:
            raise EstimationError(f"labels {sorted(map(str, extra))} are not in categories={cats}")
    grp = df.groupby(keys, sort=True, dropna=False)
    item_code = grp.ngroup().to_numpy()
    index = grp.size().index  # same (sorted) order as the ngroup numbers
    k = len(cats)
    lab_code = pd.Categorical(df[label], categories=cats).codes.astype(np.int64)
    table = np.bincount(item_code * k + lab_code, minlength=len(index) * k).reshape(len(index), k)
    return pd.DataFrame(table, index=index, columns=pd.Index(cats, name=label))


def _fleiss_core(C: np.ndarray, method: str) -> tuple[float, int, float, float]:
    """Validate balance and return (kappa, n_raters, P_bar, P_e) using statsmodels."""
    m = C.sum(1)
    if not np.allclose(m, m[0]):
        vc = pd.Series(m).round(6).value_counts().sort_index()
        spread = ", ".join(f"{int(c)} item(s) with {v:g}" for v, c in vc.head(6).items())
        raise EstimationError(
            f"Fleiss' kappa needs the same number of ratings on every item, but items have "
            f"{m.min():g} to {m.max():g} ratings ({spread}{', ...' if len(vc) > 6 else ''}). "
            "Use krippendorff_alpha (long data) or krippendorff_alpha_from_counts (count table), "
            "which allow a varying number of raters per item, or subset to items with equal counts."
        )
    n = float(m[0])
    if n < 2:
        raise EstimationError(f"Fleiss' kappa needs at least two ratings per item; items have {n:g}")
    p_bar = float(_per_item_agreement(C).mean())
    p_cat = C.sum(0) / C.sum()
    p_e = float((p_cat**2).sum()) if method == "fleiss" else 1.0 / C.shape[1]
    if np.isclose(p_e, 1.0):
        raise EstimationError(
            "Fleiss' kappa is undefined: every rating is in one category, so chance agreement is 100% "
            "(report percent agreement instead)"
        )
    kappa = float(_smir.fleiss_kappa(C, method=method))
    return kappa, int(round(n)), p_bar, p_e


def fleiss_kappa(counts: pd.DataFrame | ArrayLike, method: Literal["fleiss", "randolph"] = "fleiss") -> pd.DataFrame:
    """Fleiss' (or Randolph's) kappa for many raters on an items x categories table.

    Parameters
    ----------
    counts : DataFrame or array-like, shape (n_items, n_categories)
        Cell ``[i, c]`` = number of raters who put item ``i`` in category ``c``
        (see :func:`to_count_table`). Every item must have the same number of
        ratings.
    method : {"fleiss", "randolph"}
        ``"fleiss"``: chance agreement from the pooled category shares
        (Fleiss 1971). ``"randolph"``: free-marginal kappa, chance = 1 / number
        of categories (Randolph 2005), i.e. one per column of ``counts``.

    Returns
    -------
    DataFrame
        One row with columns

        - ``kappa``
        - ``method``
        - ``n_items``, ``n_raters`` (ratings per item), ``n_categories``
        - ``observed_agreement`` : mean pairwise agreement :math:`\\bar P`
        - ``expected_agreement`` : chance agreement :math:`\\bar P_e`

    Raises
    ------
    EstimationError
        Unequal numbers of ratings per item (the message suggests
        :func:`krippendorff_alpha_from_counts`), fewer than two ratings per
        item, an empty table, or every rating in one category.

    Notes
    -----
    Computed by ``statsmodels.stats.inter_rater.fleiss_kappa``. Tested on the
    Wikipedia worked example (10 subjects, 5 categories, 14 raters:
    kappa = 0.210) and on the Fleiss (1971) psychiatric diagnoses (30
    patients, 6 raters: kappa = 0.430; R ``irr::kappam.fleiss`` 0.4302445),
    both in ``tests/results/agreement_fleiss_*``.

    References
    ----------
    .. [1] Fleiss, J. L. (1971). Measuring nominal scale agreement among many
       raters. Psychological Bulletin, 76(5), 378-382. https://doi.org/10.1037/h0031619
    .. [2] Randolph, J. J. (2005). Free-marginal multirater kappa (multirater
       K[free]): an alternative to Fleiss' fixed-marginal multirater kappa.
       Joensuu Learning and Instruction Symposium. https://eric.ed.gov/?id=ED490661
    """
    _check_choice("method", method, _FLEISS_METHODS)
    C, _ = _as_counts(counts)
    kappa, n, p_bar, p_e = _fleiss_core(C, method)
    return pd.DataFrame(
        {
            KAPPA: [kappa],
            "method": [method],
            N_ITEMS: [int(C.shape[0])],
            N_RATERS: [n],
            "n_categories": [int(C.shape[1])],
            "observed_agreement": [p_bar],
            "expected_agreement": [p_e],
        }
    )


# =============================================================================
# Krippendorff's alpha (coincidence matrix)
# =============================================================================
def _coincidence(C: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix o_ck from a count table (pairable rows only).

    o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1).
    """
    m = C.sum(1)
    Cw = C / (m - 1)[:, None]
    return Cw.T @ C - np.diag(Cw.sum(0))


def _delta(level: str, n_c: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    """Squared difference function delta^2_ck (Krippendorff 2011, section E)."""
    k = len(n_c)
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "ordinal":
        s = np.cumsum(n_c)
        a = s[None, :] - s[:, None] + (n_c[:, None] - n_c[None, :]) / 2.0
        return a * a
    v = np.asarray(values, float)
    if level == "interval":
        return (v[:, None] - v[None, :]) ** 2
    tot = v[:, None] + v[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(tot == 0, 0.0, (v[:, None] - v[None, :]) / tot)
    return d * d


def _alpha_point(C: np.ndarray, level: str, values: np.ndarray | None) -> tuple[float, float, float, np.ndarray]:
    """(alpha, D_o, D_e, n_c) from a pairable count table, via the coincidence matrix."""
    O = _coincidence(C)
    n_c = O.sum(1)
    n = n_c.sum()
    d = _delta(level, n_c, values)
    d_o = float((O * d).sum() / n)
    d_e = float((np.outer(n_c, n_c) * d).sum() / (n * (n - 1)))
    if d_e <= 0:
        used = int((n_c > 0).sum())
        raise EstimationError(
            f"Krippendorff's alpha is undefined: the pairable ratings use {used} distinct value(s), "
            "so there is no variation to compare disagreement with (agreement is trivially complete)"
        )
    return 1.0 - d_o / d_e, d_o, d_e, n_c


def _domain(labels: pd.Series, level: str, categories: Sequence[Hashable] | None) -> tuple[list, np.ndarray | None]:
    """Ordered value domain and (for interval/ratio) numeric values of the labels."""
    if categories is not None:
        dom = list(categories)
        extra = set(pd.unique(labels)) - set(dom)
        if extra:
            raise EstimationError(f"labels {sorted(map(str, extra))} are not in categories={dom}")
    elif isinstance(labels.dtype, pd.CategoricalDtype):
        if level == "ordinal" and not labels.cat.ordered and not pd.api.types.is_numeric_dtype(labels.cat.categories):
            raise EstimationError(
                "ordinal alpha needs ordered labels: use an ordered Categorical, "
                "numeric labels, or categories=[...] in order"
            )
        dom = list(labels.cat.categories)
    else:
        uniq = pd.unique(labels).tolist()
        numeric = pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels)
        if level != "nominal" and not numeric:
            raise EstimationError(
                f"{level} alpha needs numeric labels (got {labels.dtype}); "
                + ("pass categories=[...] in order, or " if level == "ordinal" else "")
                + "use level='nominal' for unordered labels such as policy codes"
            )
        try:
            dom = sorted(uniq)
        except TypeError:
            dom = sorted(uniq, key=str)
    values = None
    if level in ("interval", "ratio"):
        try:
            values = np.asarray(dom, dtype=float)
        except (TypeError, ValueError):
            raise EstimationError(f"{level} alpha needs numeric values; got categories {dom[:5]}") from None
        if level == "ratio" and (values < 0).any():
            raise EstimationError("ratio alpha needs non-negative values (a true zero)")
    return dom, values


def _long_from_matrix(data: pd.DataFrame | ArrayLike) -> pd.DataFrame:
    """raters x items matrix (NaN = not rated) -> long frame with _item, _rater, _label."""
    raters: list
    items: list
    if isinstance(data, pd.DataFrame):
        raters, items, arr = list(data.index), list(data.columns), data.to_numpy()
    else:
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise EstimationError(f"expected a 2-D raters x items matrix, got {arr.ndim}-D")
        raters, items = list(range(arr.shape[0])), list(range(arr.shape[1]))
    if arr.size == 0:
        raise EstimationError("the raters x items matrix is empty; there are no ratings to compare")
    r, i = np.nonzero(~pd.isna(arr))
    lab = pd.Series(arr[r, i]).infer_objects()
    return pd.DataFrame(
        {"_item": np.asarray(items, dtype=object)[i], "_rater": np.asarray(raters, dtype=object)[r], "_label": lab}
    )


def _counts_from_long(df: pd.DataFrame, keys: list[str], label: str, dom: list) -> np.ndarray:
    item_code = df.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    n_items = int(item_code.max()) + 1
    k = len(dom)
    lab_code = pd.Categorical(df[label], categories=dom).codes.astype(np.int64)
    return np.bincount(item_code * k + lab_code, minlength=n_items * k).reshape(n_items, k).astype(float)


def _prepare_krippendorff(data, layout, item, rater, label, level, categories):
    """Return (count table over the value domain, numeric values or None, n_raters or None)."""
    if layout == "counts":
        C, cols = _as_counts(data)
        dom = list(categories) if categories is not None else cols
        if len(dom) != C.shape[1]:
            raise EstimationError(f"categories has {len(dom)} entries but the count table has {C.shape[1]} columns")
        values = None
        if level in ("interval", "ratio"):
            try:
                values = np.asarray(dom, dtype=float)
            except (TypeError, ValueError):
                raise EstimationError(
                    f"{level} alpha from counts needs numeric column labels or values=[...]; got {dom[:5]}"
                ) from None
            if level == "ratio" and (values < 0).any():
                raise EstimationError("ratio alpha needs non-negative values (a true zero)")
        return C, values, None
    if layout == "matrix":
        df = _long_from_matrix(data)
        keys, rater, label = ["_item"], "_rater", "_label"
        if len(df) == 0:
            raise EstimationError("every cell of the raters x items matrix is missing; no ratings")
        if df[rater].nunique() < 2:
            raise EstimationError(
                "only one rater in the data; agreement needs at least two raters labelling the same items"
            )
    else:
        keys = _keys(item)
        df = _clean_long(data, keys, rater, label)
    dom, values = _domain(df[label], level, categories)
    return _counts_from_long(df, keys, label, dom), values, int(df[rater].nunique())


def _resolve_layout(data, layout: str, item, rater, label) -> str:
    if layout != "auto":
        _check_choice("layout", layout, _LAYOUTS)
        return layout
    if isinstance(data, pd.DataFrame) and {*_keys(item), rater, label} <= set(data.columns):
        return "long"
    return "matrix"


def _alpha_frame(C: np.ndarray, level: str, values: np.ndarray | None) -> pd.DataFrame:
    C = _pairable(C)
    a, d_o, d_e, n_c = _alpha_point(C, level, values)
    return pd.DataFrame(
        {
            ALPHA: [a],
            "level": [level],
            N_ITEMS: [int(C.shape[0])],
            "n_values": [int(round(n_c.sum()))],
            "observed_disagreement": [d_o],
            "expected_disagreement": [d_e],
        }
    )


def krippendorff_alpha(
    data: pd.DataFrame | ArrayLike,
    level: Level = "nominal",
    *,
    item: str | Sequence[str] = ITEM_ID,
    rater: str = RATER_ID,
    label: str = LABEL,
    layout: Literal["auto", "long", "matrix"] = "auto",
    categories: Sequence[Hashable] | None = None,
) -> pd.DataFrame:
    """Krippendorff's alpha for any number of raters, missing ratings and any level.

    Parameters
    ----------
    data : DataFrame or array-like
        Either long format (columns ``item``, ``rater``, ``label``; one row per
        vote) or Krippendorff's reliability-data matrix: raters in rows, items
        in columns, NaN/None where a rater did not rate an item.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement, which sets the difference function. String
        labels (policy codes) are nominal; ordinal needs numeric labels, an
        ordered Categorical or ``categories`` in order; interval and ratio need
        numbers.
    item : str or list of str, default ``"item_id"``
        Item key column(s) in long format (e.g. ``[SESSION_ID, ITEM_ID]``).
    rater : str, default ``"rater_id"``
    label : str, default ``"label"``
    layout : {"auto", "long", "matrix"}
        ``"auto"``: long if ``data`` is a DataFrame holding the three columns,
        else matrix.
    categories : sequence, optional
        The value domain in order (labels outside it are an error).

    Returns
    -------
    DataFrame
        One row with columns

        - ``alpha`` : Krippendorff's alpha (1 = perfect, 0 = chance level)
        - ``level``
        - ``n_items`` : items with at least two ratings (pairable units);
          items with fewer are dropped, as Krippendorff prescribes
        - ``n_values`` : pairable ratings on those items
        - ``observed_disagreement``, ``expected_disagreement`` : D_o and D_e
        - ``n_raters`` : distinct raters

    Raises
    ------
    DataContractError
        Missing column; a rater rated the same item twice.
    EstimationError
        Empty data, one rater, no pairable item, no variation (alpha
        undefined), or labels that do not fit ``level``.

    See Also
    --------
    krippendorff_alpha_from_counts : the same from an items x categories table.
    agreement_ci : cluster-bootstrap interval.

    Notes
    -----
    Implemented from the coincidence matrix,
    :math:`o_{ck} = \\sum_u n_{uc}(n_{uk} - [c = k]) / (m_u - 1)` and
    :math:`\\alpha = 1 - (n - 1) \\sum o_{ck} \\delta^2_{ck} / \\sum n_c n_k \\delta^2_{ck}`,
    with the nominal, ordinal, interval and ratio :math:`\\delta^2` of
    Krippendorff (2011). No statsmodels/scipy function exists. Validated
    against Krippendorff's (2011) worked example (4 observers x 12 units with
    missing data: nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797;
    ``tests/results/agreement_krippendorff_2011.*``), the Wikipedia example
    (3 coders x 15 units: nominal 0.691), and the identity
    :math:`\\alpha = 1 - (1 - \\pi)(2N - 1)/(2N)` with Scott's pi for two raters
    on complete data.

    References
    ----------
    .. [1] Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
       Departmental Papers (ASC) 43, Annenberg School for Communication,
       University of Pennsylvania. https://repository.upenn.edu/asc_papers/43
    .. [2] Hayes, A. F., & Krippendorff, K. (2007). Answering the call for a
       standard reliability measure for coding data. Communication Methods and
       Measures, 1(1), 77-89. https://doi.org/10.1080/19312450709336664
    .. [3] Scott, W. A. (1955). Reliability of content analysis: the case of
       nominal scale coding. Public Opinion Quarterly, 19(3), 321-325.

    Examples
    --------
    >>> m = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    ...      [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    ...      [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    ...      [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]
    >>> round(float(krippendorff_alpha(m, "nominal")["alpha"].iloc[0]), 3)
    0.743
    """
    _check_choice("level", level, _LEVELS)
    lay = _resolve_layout(data, layout, item, rater, label)
    if lay == "counts":
        raise EstimationError("layout='counts': use krippendorff_alpha_from_counts for a count table")
    C, values, n_raters = _prepare_krippendorff(data, lay, item, rater, label, level, categories)
    out = _alpha_frame(C, level, values)
    out[N_RATERS] = n_raters
    return out


def krippendorff_alpha_from_counts(
    counts: pd.DataFrame | ArrayLike, level: Level = "nominal", values: Sequence[float] | None = None
) -> pd.DataFrame:
    """Krippendorff's alpha from an items x categories count table.

    The entry point for crowd data published as counts per category (e.g.
    Davidson et al. 2017), where the number of raters varies by item.

    Parameters
    ----------
    counts : DataFrame or array-like, shape (n_items, n_categories)
        Cell ``[i, c]`` = number of raters who put item ``i`` in category
        ``c``. Columns are taken in the given order (the order matters for
        ``"ordinal"``). Items with fewer than two ratings are dropped.
    level : {"nominal", "ordinal", "interval", "ratio"}
    values : sequence of float, optional
        Numeric value of each column for ``"interval"``/``"ratio"``; defaults
        to the column labels, which must then be numbers.

    Returns
    -------
    DataFrame
        One row: ``alpha``, ``level``, ``n_items``, ``n_values``,
        ``observed_disagreement``, ``expected_disagreement`` (as in
        :func:`krippendorff_alpha`, without ``n_raters``).

    Raises
    ------
    EstimationError
        Empty or invalid table, no pairable item, no variation, or
        non-numeric values for interval/ratio.

    Notes
    -----
    Same computation as :func:`krippendorff_alpha` (the long and matrix forms
    are reduced to this table first); tested to give identical results on
    Krippendorff's (2011) example.

    References
    ----------
    .. [1] Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
       Departmental Papers (ASC) 43, University of Pennsylvania.
       https://repository.upenn.edu/asc_papers/43
    """
    _check_choice("level", level, _LEVELS)
    C, vals, _ = _prepare_krippendorff(counts, "counts", None, None, None, level, values)
    return _alpha_frame(C, level, vals)


# =============================================================================
# Gwet's AC1 and Brennan-Prediger (chance agreement robust to skewed prevalence)
# =============================================================================
GWET_AC1 = "gwet_ac1"
BRENNAN_PREDIGER = "brennan_prediger"


def _gwet_family(C: np.ndarray, q: int, statistic: str, alpha: float) -> pd.DataFrame:
    """AC1 or Brennan-Prediger from a count table, with Gwet's subject-sampling variance."""
    check_alpha(alpha)
    m = C.sum(1)
    C = C[m > 0]
    m = m[m > 0]
    n = C.shape[0]
    two = m >= 2
    if not two.any():
        _pairable(C)  # raises the shared "no item rated twice" message
    if q < 2:
        raise EstimationError(
            f"{statistic}: needs at least two categories, got {q}; pass categories=[...] with every possible label"
        )
    n2 = int(two.sum())
    pa_i = np.zeros(n)
    pa_i[two] = (C[two] * (C[two] - 1)).sum(1) / (m[two] * (m[two] - 1))
    p_a = float(pa_i[two].mean())
    share = C / m[:, None]
    pi = share.sum(0) / n
    if statistic == GWET_AC1:
        p_e = float((pi * (1 - pi)).sum() / (q - 1))
        pe_i = (share * (1 - pi)).sum(1) / (q - 1)
    else:
        p_e = 1.0 / q
        pe_i = np.full(n, p_e)
    est = (p_a - p_e) / (1 - p_e)
    g_i = (n / n2) * (pa_i - p_e * two) / (1 - p_e)  # Gwet's per-item terms: their mean is the estimate
    g_star = g_i - 2 * (1 - est) * (pe_i - p_e) / (1 - p_e)
    var = float(((g_star - est) ** 2).sum() / (n * (n - 1))) if n > 1 else float("nan")
    se = float(np.sqrt(var))
    t = stats.t.isf(alpha / 2, n - 1) if n > 1 else float("nan")
    p_value = float(2 * stats.t.sf(abs(est) / se, n - 1)) if se > 0 else float("nan")
    return pd.DataFrame(
        {
            STATISTIC: [statistic],
            ESTIMATE: [float(est)],
            "se": [se],
            CI_LOW: [float(max(est - t * se, -1.0))],
            CI_HIGH: [float(min(est + t * se, 1.0))],
            P_VALUE: [p_value],
            "observed_agreement": [p_a],
            "expected_agreement": [p_e],
            N_ITEMS: [int(n)],
            N_RATINGS: [int(round(C.sum()))],
            "n_categories": [int(q)],
        }
    )


def _counts_for(data, item, rater, label, categories) -> tuple[np.ndarray, int]:
    keys = _keys(item)
    df = _clean_long(data, keys, rater, label)
    counts = to_count_table(df, keys, label, categories=categories)
    return counts.to_numpy(dtype=float), counts.shape[1]


def gwet_ac1_from_counts(counts: pd.DataFrame | ArrayLike, alpha: float = 0.05) -> pd.DataFrame:
    """Gwet's AC1 from an items x categories count table (any number of raters per item).

    Parameters
    ----------
    counts : DataFrame or array-like, shape (n_items, n_categories)
        Cell ``[i, c]`` = number of raters who put item ``i`` in category ``c``
        (see :func:`to_count_table`). Give one column per *possible* category:
        the number of columns is ``q`` in the chance-agreement term.
    alpha : float, default 0.05
        1 - confidence level of the interval.

    Returns
    -------
    DataFrame
        One row with columns

        - ``statistic`` : ``"gwet_ac1"``
        - ``estimate`` : AC1
        - ``se`` : standard error for sampling items (Gwet 2008, eq. 6.4-style linearisation)
        - ``ci_low``, ``ci_high`` : ``estimate -/+ t(n - 1, 1 - alpha/2) * se``, clipped to [-1, 1]
        - ``p_value`` : two-sided t test of AC1 = 0
        - ``observed_agreement`` : :math:`p_a`, mean pairwise agreement over items rated twice or more
        - ``expected_agreement`` : :math:`p_e = \\sum_k \\pi_k (1 - \\pi_k) / (q - 1)`
        - ``n_items``, ``n_ratings``, ``n_categories``

    Raises
    ------
    EstimationError
        Empty or invalid table, fewer than two categories, no item rated twice.

    Notes
    -----
    AC1 keeps the agreement-beyond-chance reading of kappa but its chance term
    shrinks as prevalence becomes skewed, so it avoids the "kappa paradox"
    (high raw agreement, low kappa) [2]_. Pinned in tests to the ``irrCAC``
    package (``tests/results/agreement_gwet_irrcac.json``). The variance is
    Gwet's, conditional on the raters, for a sample of items (finite-population
    correction taken as 1).

    References
    ----------
    .. [1] Gwet, K. L. (2008). Computing inter-rater reliability and its variance
       in the presence of high agreement. British Journal of Mathematical and
       Statistical Psychology, 61(1), 29-48. https://doi.org/10.1348/000711006X126600
    .. [2] Gwet, K. L. (2014). Handbook of Inter-Rater Reliability, 4th ed.
       Advanced Analytics, LLC. Chapter 5.
    """
    C, _ = _as_counts(counts)
    return _gwet_family(C, C.shape[1], GWET_AC1, alpha)


def brennan_prediger_from_counts(counts: pd.DataFrame | ArrayLike, alpha: float = 0.05) -> pd.DataFrame:
    """Brennan-Prediger coefficient (chance = 1 / q) from an items x categories count table.

    Parameters
    ----------
    counts : DataFrame or array-like, shape (n_items, n_categories)
        As in :func:`gwet_ac1_from_counts`; ``q`` is the number of columns.
    alpha : float, default 0.05
        1 - confidence level of the interval.

    Returns
    -------
    DataFrame
        The columns of :func:`gwet_ac1_from_counts`, with ``statistic``
        ``"brennan_prediger"`` and ``expected_agreement`` = 1 / q.

    Raises
    ------
    EstimationError
        As :func:`gwet_ac1_from_counts`.

    Notes
    -----
    Equal to Randolph's free-marginal kappa (:func:`fleiss_kappa` with
    ``method="randolph"``) when every item has the same number of ratings;
    tested against it and pinned to ``irrCAC``.

    References
    ----------
    .. [1] Brennan, R. L. and Prediger, D. J. (1981). Coefficient kappa: some uses,
       misuses, and alternatives. Educational and Psychological Measurement,
       41(3), 687-699. https://doi.org/10.1177/001316448104100307
    .. [2] Gwet, K. L. (2014). Handbook of Inter-Rater Reliability, 4th ed. Chapter 5.
    """
    C, _ = _as_counts(counts)
    return _gwet_family(C, C.shape[1], BRENNAN_PREDIGER, alpha)


def gwet_ac1(
    data: pd.DataFrame,
    item: str | Sequence[str] = ITEM_ID,
    rater: str = RATER_ID,
    label: str = LABEL,
    categories: Sequence[Hashable] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Gwet's AC1 on long-format votes (one row per item and rater).

    Parameters
    ----------
    data : DataFrame
        Long format: ``item``, ``rater``, ``label`` columns; missing labels are dropped.
    item, rater, label : str
        Column names.
    categories : sequence, optional
        Every possible label (sets ``q``); defaults to the labels seen. Pass the
        taxonomy's labels when some were never used, or AC1 depends on the sample.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    DataFrame
        See :func:`gwet_ac1_from_counts`.

    Raises
    ------
    DataContractError
        Missing column, or a rater voting twice on an item.
    EstimationError
        Fewer than two raters, two categories, or items rated twice.

    Notes
    -----
    Same value as :func:`gwet_ac1_from_counts` on :func:`to_count_table`.

    References
    ----------
    .. [1] Gwet, K. L. (2008). British Journal of Mathematical and Statistical Psychology, 61(1), 29-48.
    """
    C, q = _counts_for(data, item, rater, label, categories)
    return _gwet_family(C, q, GWET_AC1, alpha)


def brennan_prediger(
    data: pd.DataFrame,
    item: str | Sequence[str] = ITEM_ID,
    rater: str = RATER_ID,
    label: str = LABEL,
    categories: Sequence[Hashable] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Brennan-Prediger coefficient on long-format votes.

    Parameters
    ----------
    data : DataFrame
        Long format, as :func:`gwet_ac1`.
    item, rater, label : str
        Column names.
    categories : sequence, optional
        Every possible label (sets ``q``, hence chance = 1 / q).
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    DataFrame
        See :func:`brennan_prediger_from_counts`.

    Raises
    ------
    DataContractError, EstimationError
        As :func:`gwet_ac1`.

    Notes
    -----
    Same value as :func:`brennan_prediger_from_counts` on :func:`to_count_table`.

    References
    ----------
    .. [1] Brennan, R. L. and Prediger, D. J. (1981). Educational and Psychological Measurement, 41(3), 687-699.
    """
    C, q = _counts_for(data, item, rater, label, categories)
    return _gwet_family(C, q, BRENNAN_PREDIGER, alpha)


def kappa_paradox(
    data: pd.DataFrame,
    item: str | Sequence[str] = ITEM_ID,
    rater: str = RATER_ID,
    label: str = LABEL,
    categories: Sequence[Hashable] | None = None,
    min_agreement: float = 0.85,
    max_kappa: float = 0.6,
    min_gap: float = 0.2,
) -> pd.DataFrame:
    """Say whether skewed prevalence makes kappa low while raters mostly agree (the kappa paradox).

    Parameters
    ----------
    data : DataFrame
        Long-format votes, as :func:`gwet_ac1`.
    item, rater, label : str
        Column names.
    categories : sequence, optional
        Every possible label.
    min_agreement : float, default 0.85
        Raw agreement at or above which the raters "mostly agree".
    max_kappa : float, default 0.6
        Kappa (Fleiss, or Krippendorff's alpha when items have unequal ratings)
        below which kappa reads as "moderate or worse" (Landis & Koch).
    min_gap : float, default 0.2
        AC1 minus kappa at or above which the gap is attributed to prevalence.

    Returns
    -------
    DataFrame
        One row: ``percent_agreement``, ``kappa``, ``gwet_ac1``, ``top_share``
        (share of ratings in the most used category), ``paradox`` (bool) and
        ``message`` (plain words; empty when there is no paradox).

    Raises
    ------
    DataContractError, EstimationError
        As :func:`gwet_ac1`.

    Notes
    -----
    Feinstein and Cicchetti [1]_ describe the paradox; AC1 [2]_ is the
    coefficient reported beside kappa when it happens.

    References
    ----------
    .. [1] Feinstein, A. R. and Cicchetti, D. V. (1990). High agreement but low kappa:
       I. The problems of two paradoxes. Journal of Clinical Epidemiology, 43(6), 543-549.
    .. [2] Gwet, K. L. (2008). British Journal of Mathematical and Statistical Psychology, 61(1), 29-48.
    """
    C, q = _counts_for(data, item, rater, label, categories)
    ac1 = _gwet_family(C, q, GWET_AC1, 0.05)
    p_a = float(ac1["observed_agreement"].iloc[0])
    Cp = _pairable(C)
    m = Cp.sum(1)
    if np.allclose(m, m[0]):
        pi = Cp.sum(0) / Cp.sum()
        p_e = float((pi**2).sum())
        kappa = (float(_per_item_agreement(Cp).mean()) - p_e) / (1 - p_e) if p_e < 1 else float("nan")
    else:
        kappa = float(_alpha_point(Cp, "nominal", None)[0])
    a1 = float(ac1[ESTIMATE].iloc[0])
    top = float(C.sum(0).max() / C.sum())
    paradox = bool(p_a >= min_agreement and kappa < max_kappa and a1 - kappa >= min_gap)
    msg = (
        f"Kappa ({kappa:.2f}) is low although raters agree on {p_a:.0%} of pairs: {top:.0%} of ratings are "
        f"one label, so chance agreement is high and kappa understates agreement; read Gwet's AC1 ({a1:.2f})."
        if paradox
        else ""
    )
    return pd.DataFrame(
        {
            PERCENT_AGREEMENT: [p_a],
            KAPPA: [kappa],
            GWET_AC1: [a1],
            "top_share": [top],
            "paradox": [paradox],
            "message": [msg],
        }
    )
