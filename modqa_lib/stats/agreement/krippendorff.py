"""Krippendorff's alpha (coincidence matrix), from long format, a raters x items matrix or a count table."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from modqa_lib.contract.schema import (
    ITEM_ID,
    LABEL,
    RATER_ID,
)
from modqa_lib.errors import EstimationError
from modqa_lib.stats.agreement._common import (
    _LAYOUTS,
    _LEVELS,
    ALPHA,
    N_ITEMS,
    N_RATERS,
    Level,
    _as_counts,
    _check_choice,
    _clean_long,
    _keys,
    _pairable,
)

__all__ = [
    "krippendorff_alpha",
    "krippendorff_alpha_from_counts",
]


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
