"""Agreement between raters: do vendor QA, internal QA and policy apply the SOP alike?

Answers step 4 of the QA loop (calibration): raters label the same items, and
these functions say how far they agree beyond chance, who is off the gold
answer, which items split the room, and whether a rater group leans one way.

Two input shapes are used throughout:

long format
    one row per (item, rater) vote with columns ``item_id``, ``rater_id`` and
    ``label`` (the ``calibration`` table of :mod:`modqa_lib.schema`);
count table
    items x categories, each cell the number of raters who chose that
    category for that item (what crowd platforms publish, e.g. Davidson et
    al. 2017). Build it from long format with :func:`to_count_table`.

Every statistic returns a one-row DataFrame (tidy out); the calibration
reports return one row per rater, item, group or session.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats
from statsmodels.stats import inter_rater as _smir
from statsmodels.stats.proportion import proportion_confint

from .errors import DataContractError, EstimationError
from .schema import (
    ACCURACY, CI_HIGH, CI_LOW, GOLD_LABEL, ITEM_ID, LABEL, N, P_VALUE, RATER_GROUP,
    RATER_ID, SESSION_ID,
)

__all__ = [
    "percent_agreement", "percent_agreement_from_counts", "cohens_kappa",
    "to_count_table", "fleiss_kappa", "krippendorff_alpha",
    "krippendorff_alpha_from_counts", "agreement_ci",
    "rater_accuracy", "item_disagreement", "group_bias", "group_accuracy",
    "session_agreement", "calibration_report", "CalibrationReport",
    # result column names specific to this module
    "KAPPA", "ALPHA", "PERCENT_AGREEMENT", "FLEISS_KAPPA", "KRIPPENDORFF_ALPHA",
    "STATISTIC", "ESTIMATE", "N_ITEMS", "N_RATERS", "N_RATINGS", "N_BOOT",
    "CORRECT", "SHARE", "NOTE",
]

# --- result columns of this module (not part of the raw-data contract) -----
KAPPA = "kappa"
ALPHA = "alpha"
PERCENT_AGREEMENT = "percent_agreement"
FLEISS_KAPPA = "fleiss_kappa"
KRIPPENDORFF_ALPHA = "krippendorff_alpha"
STATISTIC = "statistic"
ESTIMATE = "estimate"
N_ITEMS = "n_items"
N_RATERS = "n_raters"
N_RATINGS = "n_ratings"
N_BOOT = "n_boot"
CORRECT = "correct"
SHARE = "share"
NOTE = "note"

Level = Literal["nominal", "ordinal", "interval", "ratio"]
_LEVELS = ("nominal", "ordinal", "interval", "ratio")
_FLEISS_METHODS = ("fleiss", "randolph")
_STATISTICS = ("fleiss", "krippendorff", "percent")
_LAYOUTS = ("long", "counts", "matrix")


# =============================================================================
# input checks
# =============================================================================
def _keys(item: str | Sequence[str]) -> list[str]:
    return [item] if isinstance(item, str) else list(item)


def _require_columns(data: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise EstimationError(f"{table}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataContractError([
            {"table": table, "column": c, "rule": "required column is missing", "count": 0}
            for c in missing
        ])


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise EstimationError(f"{name}={value!r} is not one of {set(allowed)}")


def _check_alpha(alpha: float) -> None:
    if not (0.0 < float(alpha) < 1.0):
        raise EstimationError(f"alpha={alpha!r} must lie strictly between 0 and 1 (e.g. 0.05 for a 95% interval)")


def _clean_long(data: pd.DataFrame, item: str | Sequence[str], rater: str, label: str,
                table: str = "ratings") -> pd.DataFrame:
    """Check a long frame and return it without missing labels (a copy)."""
    keys = _keys(item)
    _require_columns(data, [*keys, rater, label], table)
    if len(data) == 0:
        raise EstimationError(f"{table}: the frame is empty; there are no ratings to compare")
    df = data.loc[data[label].notna(), [*keys, rater, label]]
    if len(df) == 0:
        raise EstimationError(f"{table}: every '{label}' is missing; there are no ratings to compare")
    dup = df.duplicated([*keys, rater], keep=False).to_numpy()
    if dup.any():
        rows = (np.flatnonzero(dup) + 1)[:10].tolist()
        raise DataContractError([{
            "table": table, "column": rater,
            "rule": f"one label per rater per item (a rater voted twice on the same {'/'.join(keys)})",
            "rows": rows, "count": int(dup.sum()),
        }])
    raters = pd.unique(df[rater])
    if len(raters) < 2:
        raise EstimationError(
            f"{table}: only one rater ({raters[0]!r}) in the data; agreement needs at least two "
            "raters labelling the same items")
    return df


def _as_counts(counts: pd.DataFrame | ArrayLike, what: str = "count table") -> tuple[np.ndarray, list]:
    """Validate an items x categories count table; return (float array, column labels)."""
    if isinstance(counts, pd.DataFrame):
        cols = list(counts.columns)
        try:
            arr = counts.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise EstimationError(f"{what}: every cell must be a number of raters") from None
    else:
        try:
            arr = np.asarray(counts, dtype=float)
        except (TypeError, ValueError):
            raise EstimationError(f"{what}: every cell must be a number of raters") from None
        cols = list(range(arr.shape[1])) if arr.ndim == 2 else []
    if arr.ndim != 2:
        raise EstimationError(f"{what}: expected a 2-D items x categories table, got {arr.ndim}-D")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise EstimationError(f"{what}: the table is empty (shape {arr.shape}); there are no ratings to compare")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise EstimationError(f"{what}: cells must be finite, non-negative numbers of raters")
    return arr, cols


def _pairable(C: np.ndarray) -> np.ndarray:
    """Rows of a count table with at least two ratings; error if there are none."""
    m = C.sum(1)
    keep = m >= 2
    if not keep.any():
        raise EstimationError(
            "no item was rated by two or more raters, so there is nothing to compare; "
            "agreement needs items labelled by at least two raters")
    return C[keep]


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# =============================================================================
# percent agreement
# =============================================================================
def _per_item_agreement(C: np.ndarray) -> np.ndarray:
    """Share of agreeing rater pairs within each item (Fleiss' P_i)."""
    m = C.sum(1)
    return ((C * C).sum(1) - m) / (m * (m - 1))


def percent_agreement(data: pd.DataFrame, item: str | Sequence[str] = ITEM_ID,
                      rater: str = RATER_ID, label: str = LABEL) -> pd.DataFrame:
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
    return pd.DataFrame({PERCENT_AGREEMENT: [float(_per_item_agreement(C).mean())],
                         N_ITEMS: [int(C.shape[0])], N_RATINGS: [int(round(C.sum()))]})


# =============================================================================
# Cohen's kappa
# =============================================================================
def cohens_kappa(a: ArrayLike, b: ArrayLike,
                 weights: Literal["linear", "quadratic"] | None = None,
                 alpha: float = 0.05, categories: Sequence[Hashable] | None = None) -> pd.DataFrame:
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
    _check_alpha(alpha)
    sa, sb = pd.Series(a).reset_index(drop=True), pd.Series(b).reset_index(drop=True)
    if len(sa) != len(sb):
        raise EstimationError(f"cohens_kappa: the two raters have {len(sa)} and {len(sb)} labels; "
                              "pass labels for the same items in the same order")
    both = sa.notna() & sb.notna()
    sa, sb = sa[both], sb[both]
    n = int(len(sa))
    if n < 2:
        raise EstimationError(f"cohens_kappa: only {n} item(s) rated by both raters; need at least 2")

    scores: np.ndarray | None = None
    if categories is not None:
        cats = list(categories)
        unknown = set(pd.unique(pd.concat([sa, sb]))) - set(cats)
        if unknown:
            raise EstimationError(f"cohens_kappa: labels {sorted(map(str, unknown))} are not in "
                                  f"categories={cats}")
        if weights is not None:
            numeric = all(isinstance(c, (int, float, np.number)) and not isinstance(c, bool) for c in cats)
            scores = np.asarray(cats, float) if numeric else np.arange(len(cats), dtype=float)
    elif isinstance(sa.dtype, pd.CategoricalDtype) and isinstance(sb.dtype, pd.CategoricalDtype) \
            and sa.cat.ordered and sb.cat.ordered:
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
                    "ordered Categoricals, or categories=[...] in order")
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
            "on every item; kappa is undefined without variation (agreement is trivially 100%)")
    if weights is None:
        res = _smir.cohens_kappa(table)
    else:
        res = _smir.cohens_kappa(table, weights=scores, wt=weights)
    kappa, se = float(res.kappa), float(res.std_kappa)
    z = stats.norm.isf(alpha / 2)
    return pd.DataFrame({
        KAPPA: [kappa], "se": [se], CI_LOW: [kappa - z * se], CI_HIGH: [kappa + z * se],
        P_VALUE: [float(res.pvalue_two_sided)], N: [n], "weights": [weights or "none"],
    })


# =============================================================================
# count tables and Fleiss' kappa
# =============================================================================
def to_count_table(long_df: pd.DataFrame, item: str | Sequence[str] = ITEM_ID, label: str = LABEL,
                   categories: Sequence[Hashable] | None = None,
                   rater: str | None = None) -> pd.DataFrame:
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
        _require_columns(long_df, [*keys, label], "ratings")
        df = long_df.loc[long_df[label].notna(), [*keys, label]]
        if len(df) == 0:
            raise EstimationError("ratings: the frame is empty or every label is missing; "
                                  "there are no ratings to count")
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
    index = grp.size().index          # same (sorted) order as the ngroup numbers
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
            "which allow a varying number of raters per item, or subset to items with equal counts.")
    n = float(m[0])
    if n < 2:
        raise EstimationError(f"Fleiss' kappa needs at least two ratings per item; items have {n:g}")
    p_bar = float(_per_item_agreement(C).mean())
    p_cat = C.sum(0) / C.sum()
    p_e = float((p_cat ** 2).sum()) if method == "fleiss" else 1.0 / C.shape[1]
    if np.isclose(p_e, 1.0):
        raise EstimationError(
            "Fleiss' kappa is undefined: every rating is in one category, so chance agreement is 100% "
            "(report percent agreement instead)")
    kappa = float(_smir.fleiss_kappa(C, method=method))
    return kappa, int(round(n)), p_bar, p_e


def fleiss_kappa(counts: pd.DataFrame | ArrayLike,
                 method: Literal["fleiss", "randolph"] = "fleiss") -> pd.DataFrame:
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
    return pd.DataFrame({KAPPA: [kappa], "method": [method], N_ITEMS: [int(C.shape[0])],
                         N_RATERS: [n], "n_categories": [int(C.shape[1])],
                         "observed_agreement": [p_bar], "expected_agreement": [p_e]})


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
            "so there is no variation to compare disagreement with (agreement is trivially complete)")
    return 1.0 - d_o / d_e, d_o, d_e, n_c


def _domain(labels: pd.Series, level: str, categories: Sequence[Hashable] | None
            ) -> tuple[list, np.ndarray | None]:
    """Ordered value domain and (for interval/ratio) numeric values of the labels."""
    if categories is not None:
        dom = list(categories)
        extra = set(pd.unique(labels)) - set(dom)
        if extra:
            raise EstimationError(f"labels {sorted(map(str, extra))} are not in categories={dom}")
    elif isinstance(labels.dtype, pd.CategoricalDtype):
        if level == "ordinal" and not labels.cat.ordered and \
                not pd.api.types.is_numeric_dtype(labels.cat.categories):
            raise EstimationError("ordinal alpha needs ordered labels: use an ordered Categorical, "
                                  "numeric labels, or categories=[...] in order")
        dom = list(labels.cat.categories)
    else:
        uniq = pd.unique(labels).tolist()
        numeric = pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels)
        if level != "nominal" and not numeric:
            raise EstimationError(
                f"{level} alpha needs numeric labels (got {labels.dtype}); "
                + ("pass categories=[...] in order, or " if level == "ordinal" else "")
                + "use level='nominal' for unordered labels such as policy codes")
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
    return pd.DataFrame({"_item": np.asarray(items, dtype=object)[i],
                         "_rater": np.asarray(raters, dtype=object)[r], "_label": lab})


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
            raise EstimationError(f"categories has {len(dom)} entries but the count table has "
                                  f"{C.shape[1]} columns")
        values = None
        if level in ("interval", "ratio"):
            try:
                values = np.asarray(dom, dtype=float)
            except (TypeError, ValueError):
                raise EstimationError(
                    f"{level} alpha from counts needs numeric column labels or values=[...]; "
                    f"got {dom[:5]}") from None
            if level == "ratio" and (values < 0).any():
                raise EstimationError("ratio alpha needs non-negative values (a true zero)")
        return C, values, None
    if layout == "matrix":
        df = _long_from_matrix(data)
        keys, rater, label = ["_item"], "_rater", "_label"
        if len(df) == 0:
            raise EstimationError("every cell of the raters x items matrix is missing; no ratings")
        if df[rater].nunique() < 2:
            raise EstimationError("only one rater in the data; agreement needs at least two raters "
                                  "labelling the same items")
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
    return pd.DataFrame({ALPHA: [a], "level": [level], N_ITEMS: [int(C.shape[0])],
                         "n_values": [int(round(n_c.sum()))],
                         "observed_disagreement": [d_o], "expected_disagreement": [d_e]})


def krippendorff_alpha(data: pd.DataFrame | ArrayLike, level: Level = "nominal", *,
                       item: str | Sequence[str] = ITEM_ID, rater: str = RATER_ID, label: str = LABEL,
                       layout: Literal["auto", "long", "matrix"] = "auto",
                       categories: Sequence[Hashable] | None = None) -> pd.DataFrame:
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


def krippendorff_alpha_from_counts(counts: pd.DataFrame | ArrayLike, level: Level = "nominal",
                                   values: Sequence[float] | None = None) -> pd.DataFrame:
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
# bootstrap
# =============================================================================
def _alpha_batch(U: np.ndarray, W: np.ndarray, level: str, values: np.ndarray | None) -> np.ndarray:
    """Alpha for each row of item weights W (B x P) over pairable count patterns U (P x K)."""
    m = U.sum(1)
    N = W @ U                                   # B x K pairable values per category
    n = N.sum(1)
    if level == "ordinal":
        Ud = U / (m - 1)[:, None]
        Of = (Ud[:, :, None] * U[:, None, :]).reshape(len(U), -1)
        Of -= (np.eye(U.shape[1])[None, :, :] * Ud[:, :, None]).reshape(len(U), -1)
        O = (W @ Of).reshape(len(W), U.shape[1], U.shape[1])
        s = np.cumsum(N, axis=1)
        a = s[:, None, :] - s[:, :, None] + (N[:, :, None] - N[:, None, :]) / 2.0
        D = a * a
        num = (O * D).sum((1, 2))
        den = np.einsum("bk,bkl,bl->b", N, D, N)
    else:
        D = _delta(level, np.ones(U.shape[1]), values)
        d_item = np.einsum("pk,kl,pl->p", U, D, U) / (m - 1)
        num = W @ d_item
        den = np.einsum("bk,kl,bl->b", N, D, N)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - (n - 1) * num / den


def _fleiss_batch(U: np.ndarray, W: np.ndarray, method: str) -> np.ndarray:
    n_items = W.sum(1)
    p_bar = (W @ _per_item_agreement(U)) / n_items
    if method == "fleiss":
        N = W @ U
        p_e = ((N / N.sum(1, keepdims=True)) ** 2).sum(1)
    else:
        p_e = np.full(len(W), 1.0 / U.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (p_bar - p_e) / (1 - p_e)


def agreement_ci(data: pd.DataFrame | ArrayLike,
                 statistic: Literal["fleiss", "krippendorff", "percent"] = "krippendorff", *,
                 n_boot: int = 1000, alpha: float = 0.05,
                 seed: int | np.random.Generator | None = 0,
                 layout: Literal["long", "counts", "matrix"] = "long",
                 level: Level = "nominal", method: Literal["fleiss", "randolph"] = "fleiss",
                 item: str | Sequence[str] = ITEM_ID, rater: str = RATER_ID, label: str = LABEL,
                 categories: Sequence[Hashable] | None = None) -> pd.DataFrame:
    """Agreement statistic with a percentile cluster-bootstrap interval over items.

    Items are resampled with replacement (all ratings of an item travel
    together), the statistic is recomputed on each resample, and the
    ``alpha/2`` and ``1 - alpha/2`` percentiles form the interval.

    Parameters
    ----------
    data : DataFrame or array-like
        Long-format votes, an items x categories count table, or a raters x
        items matrix, as said by ``layout``.
    statistic : {"fleiss", "krippendorff", "percent"}
        Fleiss' kappa (needs equal ratings per item), Krippendorff's alpha,
        or percent (pairwise) agreement.
    n_boot : int, default 1000
        Number of bootstrap resamples.
    alpha : float, default 0.05
        1 - confidence level.
    seed : int, numpy.random.Generator or None, default 0
        Randomness; the same seed gives the same interval (None: not reproducible).
    layout : {"long", "counts", "matrix"}
        ``"matrix"`` (raters x items) is for ``statistic="krippendorff"``
        and ``"percent"``.
    level : {"nominal", "ordinal", "interval", "ratio"}
        For ``statistic="krippendorff"``.
    method : {"fleiss", "randolph"}
        For ``statistic="fleiss"``.
    item, rater, label : str
        Column names in long format.
    categories : sequence, optional
        Value domain in order (long/matrix) or column values (counts, for
        interval/ratio alpha).

    Returns
    -------
    DataFrame
        One row with columns

        - ``statistic`` : the statistic's name (``"fleiss"``, ``"krippendorff"``, ``"percent"``)
        - ``estimate`` : the statistic on the full data
        - ``ci_low``, ``ci_high`` : percentile bootstrap limits
        - ``n_items`` : items with at least two ratings (the resampling units)
        - ``n_boot`` : resamples with a defined statistic (equal to the
          requested ``n_boot`` unless some resamples had no variation)

    Raises
    ------
    EstimationError
        As the underlying statistic; also bad ``n_boot``/``alpha``, or all
        resamples undefined.

    Notes
    -----
    Vectorised: items are collapsed to their distinct count patterns, each
    resample is a vector of pattern weights, and every statistic is a
    function of weighted sums (per-item coincidence contributions for alpha,
    per-item pairwise agreement and category counts for kappa), so 1000
    resamples of ~25k items take well under a second. Replicates with unit
    weights reproduce the point estimates of :func:`fleiss_kappa` and
    :func:`krippendorff_alpha` (tested). This resamples items (a cluster
    bootstrap), not pairable values as in Hayes & Krippendorff (2007); it
    treats raters as fixed.

    References
    ----------
    .. [1] Efron, B., & Tibshirani, R. J. (1993). An Introduction to the
       Bootstrap, ch. 13 (percentile intervals). Chapman & Hall.
    .. [2] Field, C. A., & Welsh, A. H. (2007). Bootstrapping clustered data.
       Journal of the Royal Statistical Society B, 69(3), 369-390.
    .. [3] Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
       https://repository.upenn.edu/asc_papers/43
    .. [4] Fleiss, J. L. (1971). Measuring nominal scale agreement among many
       raters. Psychological Bulletin, 76(5), 378-382.
    """
    _check_choice("statistic", statistic, _STATISTICS)
    _check_choice("layout", layout, _LAYOUTS)
    _check_alpha(alpha)
    if int(n_boot) != n_boot or n_boot < 1:
        raise EstimationError(f"n_boot={n_boot!r} must be a positive integer (e.g. 1000)")
    n_boot = int(n_boot)

    if statistic == "fleiss" and layout == "matrix":
        raise EstimationError("statistic='fleiss' takes long data or a count table, not a matrix")
    lvl = level if statistic == "krippendorff" else "nominal"
    _check_choice("level", lvl, _LEVELS)
    _check_choice("method", method, _FLEISS_METHODS)
    C, values, _ = _prepare_krippendorff(data, layout, item, rater, label, lvl, categories)

    if statistic == "fleiss":
        estimate, _, _, _ = _fleiss_core(C, method)   # balance checked before dropping anything
    C = _pairable(C)
    if statistic == "krippendorff":
        estimate = _alpha_point(C, lvl, values)[0]
    elif statistic == "percent":
        estimate = float(_per_item_agreement(C).mean())

    U, inverse = np.unique(C, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_items, n_pat = C.shape[0], U.shape[0]
    rng = _rng(seed)
    chunk = max(1, min(n_boot, 4_000_000 // max(n_items, n_pat, 1)))
    reps = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draw = inverse[rng.integers(0, n_items, size=(b, n_items))]
        W = np.bincount((draw + (np.arange(b) * n_pat)[:, None]).ravel(),
                        minlength=b * n_pat).reshape(b, n_pat).astype(float)
        if statistic == "krippendorff":
            reps[start:start + b] = _alpha_batch(U, W, lvl, values)
        elif statistic == "fleiss":
            reps[start:start + b] = _fleiss_batch(U, W, method)
        else:
            reps[start:start + b] = (W @ _per_item_agreement(U)) / n_items
    ok = np.isfinite(reps)
    if not ok.any():
        raise EstimationError("every bootstrap resample had no variation; no interval can be given")
    lo, hi = np.quantile(reps[ok], [alpha / 2, 1 - alpha / 2])
    return pd.DataFrame({STATISTIC: [statistic], ESTIMATE: [float(estimate)], CI_LOW: [float(lo)],
                         CI_HIGH: [float(hi)], N_ITEMS: [int(n_items)], N_BOOT: [int(ok.sum())]})


# =============================================================================
# calibration reports
# =============================================================================
_CAL_COLS = [SESSION_ID, ITEM_ID, RATER_ID, RATER_GROUP, LABEL]


def _calibration(calibration: pd.DataFrame, need_group: bool = True) -> pd.DataFrame:
    cols = _CAL_COLS if need_group else [c for c in _CAL_COLS if c != RATER_GROUP]
    _require_columns(calibration, cols, "calibration")
    if len(calibration) == 0:
        raise EstimationError("calibration: the frame is empty; there are no votes to report on")
    df = calibration.loc[calibration[LABEL].notna(), cols].copy()
    if len(df) == 0:
        raise EstimationError("calibration: every label is missing; there are no votes to report on")
    dup = df.duplicated([SESSION_ID, ITEM_ID, RATER_ID], keep=False).to_numpy()
    if dup.any():
        raise DataContractError([{
            "table": "calibration", "column": RATER_ID,
            "rule": "one label per rater per item and session (duplicate votes)",
            "rows": (np.flatnonzero(dup) + 1)[:10].tolist(), "count": int(dup.sum())}])
    return df


def _gold(golden: pd.DataFrame) -> pd.DataFrame:
    _require_columns(golden, [ITEM_ID, GOLD_LABEL], "golden")
    g = golden.loc[golden[GOLD_LABEL].notna(), [ITEM_ID, GOLD_LABEL]]
    dup = g.duplicated(ITEM_ID, keep=False).to_numpy()
    if dup.any():
        raise DataContractError([{
            "table": "golden", "column": ITEM_ID, "rule": "unique (one gold label per item)",
            "rows": (np.flatnonzero(dup) + 1)[:10].tolist(), "count": int(dup.sum())}])
    return g


def _with_gold(df: pd.DataFrame, golden: pd.DataFrame) -> pd.DataFrame:
    out = df.merge(_gold(golden), on=ITEM_ID, how="left", validate="many_to_one")
    if out[GOLD_LABEL].isna().all():
        raise EstimationError("none of the calibration items has a gold label in golden "
                              f"(checked {df[ITEM_ID].nunique()} item(s)); check the item ids")
    return out


def _wilson(correct: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    correct, n = np.asarray(correct, float), np.asarray(n, float)
    lo, hi = np.full(len(n), np.nan), np.full(len(n), np.nan)
    ok = n > 0
    if ok.any():
        lo[ok], hi[ok] = proportion_confint(correct[ok], n[ok], alpha=alpha, method="wilson")
    return lo, hi


def _leave_one_out_consensus(df: pd.DataFrame) -> pd.Series:
    """Per vote: the unique majority label of the *other* raters of that session x item (else NA)."""
    grp = df.groupby([SESSION_ID, ITEM_ID], sort=False).ngroup().to_numpy()
    lab_code, labels = pd.factorize(df[LABEL])
    k = len(labels)
    M = np.bincount(grp * k + lab_code, minlength=(grp.max() + 1) * k).reshape(-1, k)
    others = M[grp].copy()
    others[np.arange(len(df)), lab_code] -= 1
    top = others.max(1)
    unique_top = (others == top[:, None]).sum(1) == 1
    ref = np.where((top > 0) & unique_top, others.argmax(1), -1)
    return pd.Series([labels[r] if r >= 0 else pd.NA for r in ref], index=df.index, dtype=object)


def rater_accuracy(calibration: pd.DataFrame, golden: pd.DataFrame | None = None, *,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Each rater's accuracy against gold answers (or the other raters' consensus).

    Parameters
    ----------
    calibration : DataFrame
        The calibration table: ``session_id, item_id, rater_id, rater_group, label``.
    golden : DataFrame, optional
        ``item_id, gold_label`` (one row per item). Votes on items without a
        gold label are not scored. If None, each vote is scored against the
        majority label of the *other* raters of the same session and item;
        votes whose other raters tie, or that nobody else rated, are not scored.
    alpha : float, default 0.05
        1 - confidence level of the Wilson interval.

    Returns
    -------
    DataFrame
        One row per rater, least accurate first, with columns

        - ``rater_id``, ``rater_group``
        - ``n`` : scored votes
        - ``correct`` : votes equal to the reference
        - ``accuracy`` : correct / n (NaN when n = 0)
        - ``ci_low``, ``ci_high`` : Wilson interval (NaN when n = 0)
        - ``reference`` : ``"gold"`` or ``"consensus"``

    Raises
    ------
    DataContractError
        Missing columns, duplicate votes, duplicate gold items.
    EstimationError
        Empty calibration, or no calibration item found in ``golden``.

    Notes
    -----
    Intervals from ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.
    Votes from one rater are correlated through shared items; the interval
    treats them as independent.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. JASA, 22(158), 209-212.
    """
    _check_alpha(alpha)
    df = _calibration(calibration)
    if golden is not None:
        df = _with_gold(df, golden)
        ref, reference = df[GOLD_LABEL], "gold"
    else:
        ref, reference = _leave_one_out_consensus(df), "consensus"
    scored = ref.notna().to_numpy()
    hit = np.zeros(len(df), dtype=bool)
    hit[scored] = (df[LABEL].to_numpy()[scored] == ref.to_numpy()[scored])
    tab = (pd.DataFrame({RATER_ID: df[RATER_ID].to_numpy(), RATER_GROUP: df[RATER_GROUP].to_numpy(),
                         N: scored.astype(int), CORRECT: hit.astype(int)})
           .groupby([RATER_ID, RATER_GROUP], sort=True, dropna=False, as_index=False)[[N, CORRECT]].sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        tab[ACCURACY] = np.where(tab[N] > 0, tab[CORRECT] / tab[N].where(tab[N] > 0, 1), np.nan)
    tab[CI_LOW], tab[CI_HIGH] = _wilson(tab[CORRECT].to_numpy(), tab[N].to_numpy(), alpha)
    tab["reference"] = reference
    return tab.sort_values([ACCURACY, RATER_ID], na_position="last", kind="stable").reset_index(drop=True)


def item_disagreement(calibration: pd.DataFrame, golden: pd.DataFrame | None = None) -> pd.DataFrame:
    """Which items split the room: one row per session x item, most divided first.

    Parameters
    ----------
    calibration : DataFrame
        ``session_id, item_id, rater_id, label`` (``rater_group`` not needed).
    golden : DataFrame, optional
        ``item_id, gold_label``; fills the gold columns.

    Returns
    -------
    DataFrame
        Sorted by ``majority_share`` ascending, then ``entropy`` descending
        (candidates for SOP clarification first), with columns

        - ``session_id``, ``item_id``
        - ``n_raters`` : votes on the item
        - ``majority_label`` : most frequent label (ties: first in sorted order)
        - ``majority_share`` : its share of the votes
        - ``majority_tied`` : True if another label had as many votes
        - ``n_labels`` : distinct labels given
        - ``entropy`` : Shannon entropy of the label shares, in bits (0 = unanimous)
        - ``gold_label`` : gold answer (NA without ``golden`` or gold)
        - ``majority_matches_gold`` : nullable bool; False when the majority
          is tied; NA when there is no gold label

    Raises
    ------
    DataContractError
        Missing columns or duplicate votes.
    EstimationError
        Empty calibration.

    Notes
    -----
    Entropy from ``scipy.stats.entropy(base=2)``.

    References
    ----------
    .. [1] Shannon, C. E. (1948). A mathematical theory of communication. Bell
       System Technical Journal, 27(3), 379-423.
    """
    df = _calibration(calibration, need_group=False)
    cnt = (df.groupby([SESSION_ID, ITEM_ID, LABEL], sort=True, dropna=False).size()
           .rename("_k").reset_index())
    cnt = cnt.sort_values([SESSION_ID, ITEM_ID, "_k", LABEL], ascending=[True, True, False, True],
                          kind="stable")
    g = cnt.groupby([SESSION_ID, ITEM_ID], sort=True)
    out = g.agg(n_raters=("_k", "sum"), _top=("_k", "max"), n_labels=(LABEL, "size"),
                majority_label=(LABEL, "first")).reset_index()
    n_top = cnt.merge(out[[SESSION_ID, ITEM_ID, "_top"]], on=[SESSION_ID, ITEM_ID])
    n_top = (n_top["_k"] == n_top["_top"]).groupby([n_top[SESSION_ID], n_top[ITEM_ID]], sort=True).sum()
    out["majority_tied"] = n_top.to_numpy() > 1
    out["majority_share"] = out["_top"] / out["n_raters"]
    out["entropy"] = g["_k"].apply(lambda k: float(stats.entropy(k.to_numpy(), base=2))).to_numpy()
    if golden is not None:
        out = out.merge(_gold(golden), on=ITEM_ID, how="left", validate="many_to_one")
    else:
        out[GOLD_LABEL] = pd.Series(pd.NA, index=out.index, dtype=object)
    has_gold = out[GOLD_LABEL].notna()
    match = pd.array([pd.NA] * len(out), dtype="boolean")
    eq = (out["majority_label"].astype(object) == out[GOLD_LABEL].astype(object)) & ~out["majority_tied"]
    match[has_gold.to_numpy()] = eq[has_gold].to_numpy(dtype=bool)
    out["majority_matches_gold"] = match
    out = out.sort_values(["majority_share", "entropy", SESSION_ID, ITEM_ID],
                          ascending=[True, False, True, True], kind="stable").reset_index(drop=True)
    return out[[SESSION_ID, ITEM_ID, "n_raters", "majority_label", "majority_share", "majority_tied",
                "n_labels", "entropy", GOLD_LABEL, "majority_matches_gold"]]


def group_bias(calibration: pd.DataFrame, golden: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Confusion shares per rater group: what each group labels each gold answer as.

    Makes "vendor_qa labels misinformation as hate_speech 30% of the time"
    a row: ``rater_group="vendor_qa", gold_label="misinformation",
    label="hate_speech", share=0.30``.

    Parameters
    ----------
    calibration : DataFrame
        ``session_id, item_id, rater_id, rater_group, label``.
    golden : DataFrame
        ``item_id, gold_label``. Votes on items without gold are left out.
    alpha : float, default 0.05
        1 - confidence level of the Wilson interval on each share.

    Returns
    -------
    DataFrame
        One row per observed (rater_group, gold_label, label), sorted by
        group, gold label, then share descending, with columns

        - ``rater_group``, ``gold_label``, ``label``
        - ``n`` : votes by the group with this gold label and this given label
        - ``n_gold`` : votes by the group on items with this gold label
        - ``share`` : n / n_gold
        - ``ci_low``, ``ci_high`` : Wilson interval of the share
        - ``correct`` : label == gold_label (the diagonal of the confusion matrix)

    Raises
    ------
    DataContractError
        Missing columns or duplicate votes / gold items.
    EstimationError
        Empty calibration, or no item found in ``golden``.

    See Also
    --------
    group_accuracy : per-group accuracy and a test that the groups differ.

    Notes
    -----
    Shares are row-normalised confusion matrices per group; Wilson intervals
    from ``statsmodels.stats.proportion.proportion_confint`` treat votes as
    independent (they are clustered by rater and item).

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. JASA, 22(158), 209-212.
    """
    _check_alpha(alpha)
    df = _with_gold(_calibration(calibration), golden)
    df = df[df[GOLD_LABEL].notna()]
    tab = df.groupby([RATER_GROUP, GOLD_LABEL, LABEL], sort=True, dropna=False).size().rename(N).reset_index()
    tab["n_gold"] = tab.groupby([RATER_GROUP, GOLD_LABEL], sort=False)[N].transform("sum")
    tab[SHARE] = tab[N] / tab["n_gold"]
    tab[CI_LOW], tab[CI_HIGH] = _wilson(tab[N].to_numpy(), tab["n_gold"].to_numpy(), alpha)
    tab[CORRECT] = (tab[LABEL].astype(object) == tab[GOLD_LABEL].astype(object)).to_numpy(dtype=bool)
    return (tab.sort_values([RATER_GROUP, GOLD_LABEL, SHARE, LABEL], ascending=[True, True, False, True],
                            kind="stable").reset_index(drop=True)
            [[RATER_GROUP, GOLD_LABEL, LABEL, N, "n_gold", SHARE, CI_LOW, CI_HIGH, CORRECT]])


def group_accuracy(calibration: pd.DataFrame, golden: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Accuracy of each rater group against gold, and a test that the groups differ.

    Parameters
    ----------
    calibration : DataFrame
        ``session_id, item_id, rater_id, rater_group, label``.
    golden : DataFrame
        ``item_id, gold_label``. Votes on items without gold are left out.
    alpha : float, default 0.05
        1 - confidence level of the Wilson interval.

    Returns
    -------
    DataFrame
        One row per rater group, with columns

        - ``rater_group``
        - ``n`` : votes on gold items; ``correct`` : votes equal to gold
        - ``accuracy``, ``ci_low``, ``ci_high`` (Wilson)
        - ``p_value`` : test that accuracy is the same in every group (the
          same value on every row; NaN with fewer than two groups or when no
          group made an error / every vote was wrong)
        - ``test`` : ``"fisher"`` (two groups and an expected count below 5),
          ``"chi2"`` (Pearson chi-square on the groups x {correct, wrong}
          table; Yates-corrected for two groups), or ``"none"``

    Raises
    ------
    DataContractError
        Missing columns or duplicate votes / gold items.
    EstimationError
        Empty calibration, or no item found in ``golden``.

    Notes
    -----
    Tests from ``scipy.stats.chi2_contingency`` and ``scipy.stats.fisher_exact``.
    Votes are treated as independent, although the groups rate the same items
    (a paired design) and each rater contributes many votes; read the p-value
    as a screen, not a verdict.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. JASA, 22(158), 209-212.
    .. [2] Agresti, A. (2013). Categorical Data Analysis, 3rd ed., sections 3.2
       (chi-square test of independence) and 3.5 (Fisher's exact test). Wiley.
    """
    _check_alpha(alpha)
    df = _with_gold(_calibration(calibration), golden)
    df = df[df[GOLD_LABEL].notna()]
    hit = (df[LABEL].astype(object) == df[GOLD_LABEL].astype(object)).to_numpy(dtype=int)
    tab = (pd.DataFrame({RATER_GROUP: df[RATER_GROUP].to_numpy(), N: 1, CORRECT: hit})
           .groupby(RATER_GROUP, sort=True, dropna=False, as_index=False)[[N, CORRECT]].sum())
    tab[ACCURACY] = tab[CORRECT] / tab[N]
    tab[CI_LOW], tab[CI_HIGH] = _wilson(tab[CORRECT].to_numpy(), tab[N].to_numpy(), alpha)
    ct = np.column_stack([tab[CORRECT].to_numpy(), (tab[N] - tab[CORRECT]).to_numpy()])
    p, test = np.nan, "none"
    if len(tab) >= 2 and (ct.sum(0) > 0).all():
        expected = stats.contingency.expected_freq(ct)
        if len(tab) == 2 and expected.min() < 5:
            p, test = float(stats.fisher_exact(ct).pvalue), "fisher"
        else:
            p, test = float(stats.chi2_contingency(ct).pvalue), "chi2"
    tab[P_VALUE] = p
    tab["test"] = test
    return tab


def session_agreement(calibration: pd.DataFrame, *, n_boot: int = 1000, alpha: float = 0.05,
                      seed: int = 0) -> pd.DataFrame:
    """Agreement within each calibration session, each statistic with a bootstrap interval.

    Parameters
    ----------
    calibration : DataFrame
        ``session_id, item_id, rater_id, label`` (``rater_group`` not needed).
    n_boot : int, default 1000
        Cluster-bootstrap resamples over items per session and statistic
        (:func:`agreement_ci`); 0 skips the intervals (NaN).
    alpha : float, default 0.05
        1 - confidence level of the intervals.
    seed : int, default 0
        Bootstrap seed (same seed, same intervals).

    Returns
    -------
    DataFrame
        One row per session, with columns

        - ``session_id``
        - ``n_items`` : items rated by at least two raters
        - ``n_raters`` : distinct raters
        - ``n_ratings`` : votes on those items
        - ``percent_agreement`` : mean pairwise agreement (share)
        - ``fleiss_kappa`` : NaN unless every item has the same number of ratings
        - ``krippendorff_alpha`` : nominal alpha (any number of raters per item)
        - ``<statistic>_ci_low``, ``<statistic>_ci_high`` for each of the three
          statistics above: percentile cluster-bootstrap interval over items
          (:func:`agreement_ci`), NaN where the statistic is NaN, ``n_boot`` is 0
          or the session has fewer than 2 items
        - ``note`` : why a statistic is NaN (unbalanced session, no variation,
          one rater, ...), empty string otherwise

    Raises
    ------
    DataContractError
        Missing columns or duplicate votes.
    EstimationError
        Empty calibration.

    Notes
    -----
    Per session, the same computations as :func:`percent_agreement`,
    :func:`fleiss_kappa` (statsmodels) and :func:`krippendorff_alpha`, on the
    labels seen in that session.

    References
    ----------
    .. [1] Fleiss, J. L. (1971). Measuring nominal scale agreement among many
       raters. Psychological Bulletin, 76(5), 378-382.
    .. [2] Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
       https://repository.upenn.edu/asc_papers/43
    """
    df = _calibration(calibration, need_group=False)
    rows = []
    for sid, s in df.groupby(SESSION_ID, sort=True):
        row = {SESSION_ID: sid, N_ITEMS: 0, N_RATERS: int(s[RATER_ID].nunique()), N_RATINGS: 0,
               PERCENT_AGREEMENT: np.nan, FLEISS_KAPPA: np.nan, KRIPPENDORFF_ALPHA: np.nan}
        notes = []
        C = to_count_table(s, item=ITEM_ID, label=LABEL).to_numpy(float)
        C = C[C.sum(1) >= 2]
        if len(C) == 0:
            notes.append("no item rated by two or more raters")
        else:
            row[N_ITEMS], row[N_RATINGS] = int(len(C)), int(C.sum())
            row[PERCENT_AGREEMENT] = float(_per_item_agreement(C).mean())
            try:
                row[FLEISS_KAPPA] = _fleiss_core(C, "fleiss")[0]
            except EstimationError:
                m = C.sum(1)
                if m.min() != m.max():
                    notes.append(f"fleiss_kappa: unbalanced ({m.min():g}-{m.max():g} ratings per item); "
                                 "see krippendorff_alpha")
                else:
                    notes.append("fleiss_kappa: undefined, every rating is the same label")
            try:
                row[KRIPPENDORFF_ALPHA] = _alpha_point(C, "nominal", None)[0]
            except EstimationError:
                notes.append("krippendorff_alpha: undefined, every rating is the same label")
        for col, stat in ((PERCENT_AGREEMENT, "percent"), (FLEISS_KAPPA, "fleiss"),
                          (KRIPPENDORFF_ALPHA, "krippendorff")):
            row[f"{col}_ci_low"] = row[f"{col}_ci_high"] = np.nan
            if n_boot and row[N_ITEMS] >= 2 and np.isfinite(row[col]):
                ci = agreement_ci(s, statistic=stat, n_boot=n_boot, alpha=alpha, seed=seed).iloc[0]
                row[f"{col}_ci_low"], row[f"{col}_ci_high"] = float(ci["ci_low"]), float(ci["ci_high"])
        row[NOTE] = "; ".join(notes)
        rows.append(row)
    stats = [c for col in (PERCENT_AGREEMENT, FLEISS_KAPPA, KRIPPENDORFF_ALPHA)
             for c in (col, f"{col}_ci_low", f"{col}_ci_high")]
    return pd.DataFrame(rows, columns=[SESSION_ID, N_ITEMS, N_RATERS, N_RATINGS, *stats, NOTE])


class CalibrationReport(NamedTuple):
    """The calibration tables of one run (each a tidy DataFrame; gold-based ones None without gold)."""

    session_agreement: pd.DataFrame
    rater_accuracy: pd.DataFrame
    item_disagreement: pd.DataFrame
    group_bias: pd.DataFrame | None
    group_accuracy: pd.DataFrame | None


def calibration_report(calibration: pd.DataFrame, golden: pd.DataFrame | None = None, *,
                       alpha: float = 0.05) -> CalibrationReport:
    """All calibration tables at once, as a named tuple of tidy DataFrames.

    Parameters
    ----------
    calibration : DataFrame
        ``session_id, item_id, rater_id, rater_group, label``.
    golden : DataFrame, optional
        ``item_id, gold_label``. Without it, rater accuracy is against the
        other raters' consensus and the group tables are None.
    alpha : float, default 0.05
        1 - confidence level of the intervals.

    Returns
    -------
    CalibrationReport
        Fields ``session_agreement`` (:func:`session_agreement`),
        ``rater_accuracy`` (:func:`rater_accuracy`), ``item_disagreement``
        (:func:`item_disagreement`), ``group_bias`` (:func:`group_bias`) and
        ``group_accuracy`` (:func:`group_accuracy`); see those functions for
        the columns.

    Notes
    -----
    A convenience wrapper; each table is validated in its own function.

    References
    ----------
    .. [1] Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
       https://repository.upenn.edu/asc_papers/43
    """
    return CalibrationReport(
        session_agreement=session_agreement(calibration, alpha=alpha),
        rater_accuracy=rater_accuracy(calibration, golden, alpha=alpha),
        item_disagreement=item_disagreement(calibration, golden),
        group_bias=group_bias(calibration, golden, alpha=alpha) if golden is not None else None,
        group_accuracy=group_accuracy(calibration, golden, alpha=alpha) if golden is not None else None,
    )
