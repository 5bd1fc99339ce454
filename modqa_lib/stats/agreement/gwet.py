"""Gwet's AC1 and Brennan-Prediger (chance agreement robust to skewed prevalence), and the kappa-paradox check."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from modqa_lib.contract.checks import check_alpha
from modqa_lib.contract.schema import (
    CI_HIGH,
    CI_LOW,
    ITEM_ID,
    LABEL,
    P_VALUE,
    RATER_ID,
)
from modqa_lib.errors import EstimationError
from modqa_lib.stats.agreement._common import (
    ESTIMATE,
    KAPPA,
    N_ITEMS,
    N_RATINGS,
    PERCENT_AGREEMENT,
    STATISTIC,
    _as_counts,
    _clean_long,
    _keys,
    _pairable,
)
from modqa_lib.stats.agreement.kappa import (
    _per_item_agreement,
    to_count_table,
)
from modqa_lib.stats.agreement.krippendorff import (
    _alpha_point,
)

__all__ = [
    "BRENNAN_PREDIGER",
    "GWET_AC1",
    "brennan_prediger",
    "brennan_prediger_from_counts",
    "gwet_ac1",
    "gwet_ac1_from_counts",
    "kappa_paradox",
]


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
