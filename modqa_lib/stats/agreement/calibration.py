"""Calibration-session reports: rater accuracy vs gold, item disagreement, group bias."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract.checks import check_alpha, require_columns
from modqa_lib.contract.schema import (
    ACCURACY,
    CI_HIGH,
    CI_LOW,
    GOLD_LABEL,
    ITEM_ID,
    LABEL,
    P_VALUE,
    RATER_GROUP,
    RATER_ID,
    SESSION_ID,
    N,
)
from modqa_lib.errors import DataContractError, EstimationError
from modqa_lib.stats.agreement._common import (
    CORRECT,
    FLEISS_KAPPA,
    KRIPPENDORFF_ALPHA,
    N_ITEMS,
    N_RATERS,
    N_RATINGS,
    NOTE,
    PERCENT_AGREEMENT,
    SHARE,
)
from modqa_lib.stats.agreement.bootstrap import agreement_ci
from modqa_lib.stats.agreement.kappa import _fleiss_core, _per_item_agreement, to_count_table
from modqa_lib.stats.agreement.krippendorff import _alpha_point

# =============================================================================
# calibration reports
# =============================================================================
_CAL_COLS = [SESSION_ID, ITEM_ID, RATER_ID, RATER_GROUP, LABEL]


def _calibration(calibration: pd.DataFrame, need_group: bool = True) -> pd.DataFrame:
    cols = _CAL_COLS if need_group else [c for c in _CAL_COLS if c != RATER_GROUP]
    require_columns(calibration, cols, "the calibration statistics", table="calibration")
    if len(calibration) == 0:
        raise EstimationError("calibration: the frame is empty; there are no votes to report on")
    df = calibration.loc[calibration[LABEL].notna(), cols].copy()
    if len(df) == 0:
        raise EstimationError("calibration: every label is missing; there are no votes to report on")
    dup = df.duplicated([SESSION_ID, ITEM_ID, RATER_ID], keep=False).to_numpy()
    if dup.any():
        raise DataContractError(
            [
                {
                    "table": "calibration",
                    "column": RATER_ID,
                    "rule": "one label per rater per item and session (duplicate votes)",
                    "rows": (np.flatnonzero(dup) + 1)[:10].tolist(),
                    "count": int(dup.sum()),
                }
            ]
        )
    return df


def _gold(golden: pd.DataFrame) -> pd.DataFrame:
    require_columns(golden, [ITEM_ID, GOLD_LABEL], "the calibration statistics", table="golden")
    g = golden.loc[golden[GOLD_LABEL].notna(), [ITEM_ID, GOLD_LABEL]]
    dup = g.duplicated(ITEM_ID, keep=False).to_numpy()
    if dup.any():
        raise DataContractError(
            [
                {
                    "table": "golden",
                    "column": ITEM_ID,
                    "rule": "unique (one gold label per item)",
                    "rows": (np.flatnonzero(dup) + 1)[:10].tolist(),
                    "count": int(dup.sum()),
                }
            ]
        )
    return g


def _with_gold(df: pd.DataFrame, golden: pd.DataFrame) -> pd.DataFrame:
    out = df.merge(_gold(golden), on=ITEM_ID, how="left", validate="many_to_one")
    if out[GOLD_LABEL].isna().all():
        raise EstimationError(
            "none of the calibration items has a gold label in golden "
            f"(checked {df[ITEM_ID].nunique()} item(s)); check the item ids"
        )
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


def rater_accuracy(
    calibration: pd.DataFrame, golden: pd.DataFrame | None = None, *, alpha: float = 0.05
) -> pd.DataFrame:
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
    check_alpha(alpha)
    df = _calibration(calibration)
    if golden is not None:
        df = _with_gold(df, golden)
        ref, reference = df[GOLD_LABEL], "gold"
    else:
        ref, reference = _leave_one_out_consensus(df), "consensus"
    scored = ref.notna().to_numpy()
    hit = np.zeros(len(df), dtype=bool)
    hit[scored] = df[LABEL].to_numpy()[scored] == ref.to_numpy()[scored]
    tab = (
        pd.DataFrame(
            {
                RATER_ID: df[RATER_ID].to_numpy(),
                RATER_GROUP: df[RATER_GROUP].to_numpy(),
                N: scored.astype(int),
                CORRECT: hit.astype(int),
            }
        )
        .groupby([RATER_ID, RATER_GROUP], sort=True, dropna=False, as_index=False)[[N, CORRECT]]
        .sum()
    )
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
    cnt = df.groupby([SESSION_ID, ITEM_ID, LABEL], sort=True, dropna=False).size().rename("_k").reset_index()
    cnt = cnt.sort_values([SESSION_ID, ITEM_ID, "_k", LABEL], ascending=[True, True, False, True], kind="stable")
    g = cnt.groupby([SESSION_ID, ITEM_ID], sort=True)
    out = g.agg(
        n_raters=("_k", "sum"), _top=("_k", "max"), n_labels=(LABEL, "size"), majority_label=(LABEL, "first")
    ).reset_index()
    top = cnt.merge(out[[SESSION_ID, ITEM_ID, "_top"]], on=[SESSION_ID, ITEM_ID])
    n_top = (top["_k"] == top["_top"]).groupby([top[SESSION_ID], top[ITEM_ID]], sort=True).sum()
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
    out = out.sort_values(
        ["majority_share", "entropy", SESSION_ID, ITEM_ID], ascending=[True, False, True, True], kind="stable"
    ).reset_index(drop=True)
    return out[
        [
            SESSION_ID,
            ITEM_ID,
            "n_raters",
            "majority_label",
            "majority_share",
            "majority_tied",
            "n_labels",
            "entropy",
            GOLD_LABEL,
            "majority_matches_gold",
        ]
    ]


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
    check_alpha(alpha)
    df = _with_gold(_calibration(calibration), golden)
    df = df[df[GOLD_LABEL].notna()]
    tab = df.groupby([RATER_GROUP, GOLD_LABEL, LABEL], sort=True, dropna=False).size().rename(N).reset_index()
    tab["n_gold"] = tab.groupby([RATER_GROUP, GOLD_LABEL], sort=False)[N].transform("sum")
    tab[SHARE] = tab[N] / tab["n_gold"]
    tab[CI_LOW], tab[CI_HIGH] = _wilson(tab[N].to_numpy(), tab["n_gold"].to_numpy(), alpha)
    tab[CORRECT] = (tab[LABEL].astype(object) == tab[GOLD_LABEL].astype(object)).to_numpy(dtype=bool)
    return tab.sort_values(
        [RATER_GROUP, GOLD_LABEL, SHARE, LABEL], ascending=[True, True, False, True], kind="stable"
    ).reset_index(drop=True)[[RATER_GROUP, GOLD_LABEL, LABEL, N, "n_gold", SHARE, CI_LOW, CI_HIGH, CORRECT]]


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
    check_alpha(alpha)
    df = _with_gold(_calibration(calibration), golden)
    df = df[df[GOLD_LABEL].notna()]
    hit = (df[LABEL].astype(object) == df[GOLD_LABEL].astype(object)).to_numpy(dtype=int)
    tab = (
        pd.DataFrame({RATER_GROUP: df[RATER_GROUP].to_numpy(), N: 1, CORRECT: hit})
        .groupby(RATER_GROUP, sort=True, dropna=False, as_index=False)[[N, CORRECT]]
        .sum()
    )
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


def session_agreement(
    calibration: pd.DataFrame, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> pd.DataFrame:
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
          statistics above: jackknife-t interval over items
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
        row: dict[str, Any] = {
            SESSION_ID: sid,
            N_ITEMS: 0,
            N_RATERS: int(s[RATER_ID].nunique()),
            N_RATINGS: 0,
            PERCENT_AGREEMENT: np.nan,
            FLEISS_KAPPA: np.nan,
            KRIPPENDORFF_ALPHA: np.nan,
        }
        notes = []
        C = to_count_table(s, item=ITEM_ID, label=LABEL).to_numpy(float)
        C = C[C.sum(1) >= 2]
        if len(C) == 0:
            notes.append("no item rated by two or more raters")
        else:
            row[N_ITEMS], row[N_RATINGS] = len(C), int(C.sum())
            row[PERCENT_AGREEMENT] = float(_per_item_agreement(C).mean())
            try:
                row[FLEISS_KAPPA] = _fleiss_core(C, "fleiss")[0]
            except EstimationError:
                m = C.sum(1)
                if m.min() != m.max():
                    notes.append(
                        f"fleiss_kappa: unbalanced ({m.min():g}-{m.max():g} ratings per item); see krippendorff_alpha"
                    )
                else:
                    notes.append("fleiss_kappa: undefined, every rating is the same label")
            try:
                row[KRIPPENDORFF_ALPHA] = _alpha_point(C, "nominal", None)[0]
            except EstimationError:
                notes.append("krippendorff_alpha: undefined, every rating is the same label")
        stat: Literal["percent", "fleiss", "krippendorff"]
        for col, stat in (
            (PERCENT_AGREEMENT, "percent"),
            (FLEISS_KAPPA, "fleiss"),
            (KRIPPENDORFF_ALPHA, "krippendorff"),
        ):
            row[f"{col}_ci_low"] = row[f"{col}_ci_high"] = np.nan
            if n_boot and row[N_ITEMS] >= 2 and np.isfinite(row[col]):
                ci = agreement_ci(s, statistic=stat, n_boot=n_boot, alpha=alpha, seed=seed).iloc[0]
                row[f"{col}_ci_low"], row[f"{col}_ci_high"] = float(ci["ci_low"]), float(ci["ci_high"])
        row[NOTE] = "; ".join(notes)
        rows.append(row)
    stats = [
        c
        for col in (PERCENT_AGREEMENT, FLEISS_KAPPA, KRIPPENDORFF_ALPHA)
        for c in (col, f"{col}_ci_low", f"{col}_ci_high")
    ]
    return pd.DataFrame(rows, columns=[SESSION_ID, N_ITEMS, N_RATERS, N_RATINGS, *stats, NOTE])


class CalibrationReport(NamedTuple):
    """The calibration tables of one run (each a tidy DataFrame; gold-based ones None without gold)."""

    session_agreement: pd.DataFrame
    rater_accuracy: pd.DataFrame
    item_disagreement: pd.DataFrame
    group_bias: pd.DataFrame | None
    group_accuracy: pd.DataFrame | None


def calibration_report(
    calibration: pd.DataFrame, golden: pd.DataFrame | None = None, *, alpha: float = 0.05
) -> CalibrationReport:
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
