"""Percent agreement, Cohen's kappa, count tables and Fleiss' kappa."""

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
    KAPPA,
    N_ITEMS,
    N_RATERS,
    N_RATINGS,
    PERCENT_AGREEMENT,
    _as_counts,
    _check_choice,
    _clean_long,
    _keys,
    _pairable,
)

__all__ = [
    "cohens_kappa",
    "fleiss_kappa",
    "percent_agreement",
    "percent_agreement_from_counts",
    "to_count_table",
]


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
