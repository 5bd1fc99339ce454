"""Gold-set health: is each golden item still a fair, unseen test, and does the gold set cover the policies?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from modqa_lib.contract import schema as S
from modqa_lib.errors import EstimationError
from modqa_lib.stats.qaqa._common import check_alpha, require
from modqa_lib.stats.scoring import bh_qvalues, proportion_ci

__all__ = ["gold_policy_coverage", "gold_set_health"]

RETIRE = "retire"
REFRESH = "refresh"
REVIEW = "review"
KEEP = "keep"


def _few_auditors_p(served: int, distinct: int, shares: np.ndarray) -> float:
    """P(at most ``distinct`` different auditors among ``served`` servings) if each serving went
    to auditor a with probability ``shares[a]`` independently (exact, by sequential binomial splits)."""
    if served <= 1 or distinct >= min(served, len(shares)):
        return 1.0
    sh = np.asarray(shares, float)
    sh = sh[sh > 0] / sh[sh > 0].sum()
    # state: probability of (servings still to place, distinct auditors so far)
    pr = np.zeros((served + 1, len(sh) + 1))
    pr[served, 0] = 1.0
    rest = 1.0
    for p_a in sh[:-1]:
        q = min(p_a / rest, 1.0) if rest > 0 else 1.0
        new = np.zeros_like(pr)
        for m in range(served + 1):
            row = pr[m]
            if not row.any():
                continue
            k = np.arange(m + 1)
            pk = stats.binom.pmf(k, m, q)
            new[m, :] += pk[0] * row  # this auditor gets none
            for kk in range(1, m + 1):
                new[m - kk, 1:] += pk[kk] * row[:-1]
        pr, rest = new, rest - p_a
    # the last auditor takes whatever servings remain
    dist = pr[0].copy()
    dist[1:] += pr[1:, :-1].sum(axis=0)
    return float(min(dist[: distinct + 1].sum(), 1.0))


def gold_set_health(
    golden_audits: pd.DataFrame,
    golden: pd.DataFrame,
    as_of: pd.Timestamp | str | None = None,
    alpha: float = 0.05,
    max_repeat: int = 1,
    easy_accuracy: float = 0.98,
    hard_accuracy: float = 0.5,
    max_age_days: float = 180.0,
    min_served: int = 5,
) -> pd.DataFrame:
    """Per golden item: times served, auditors' accuracy on it, same-auditor re-exposure, age, verdict.

    Parameters
    ----------
    golden_audits : DataFrame
        Golden audits: ``decision_id`` (the golden item), ``auditor_id``, ``qa_label``,
        ``audited_at`` (e.g. the ``audits`` table filtered on ``is_golden``).
    golden : DataFrame
        The ``golden`` table (``item_id``, ``gold_label``, ``policy``).
    as_of : timestamp or str, optional
        Date the ages are measured at; default the last golden audit.
    alpha : float, default 0.05
    max_repeat : int, default 1
        Re-exposures (an auditor seeing the same item again) above which an item may have
        leaked; it is flagged only when so few auditors saw it that chance serving is
        implausible (``leak_q_value < alpha``).
    easy_accuracy : float, default 0.98
        With a lower confidence bound above this, the item no longer discriminates.
    hard_accuracy : float, default 0.5
        With an upper confidence bound below this, auditors mostly disagree with the
        gold answer: the gold label or the SOP needs a second look.
    max_age_days : float, default 180
        Items first served longer ago than this are due a refresh.
    min_served : int, default 5
        Accuracy-based verdicts need at least this many servings.

    Returns
    -------
    DataFrame
        One row per golden item (served or not): ``item_id``, ``policy``, ``gold_label``,
        ``times_served``, ``n_auditors`` (distinct), ``repeat_exposures`` (servings to an
        auditor who had seen the item before), ``max_by_one_auditor``, ``leak_p_value``
        (probability of so few distinct auditors under random serving), ``leak_q_value``
        (BH over items), ``correct``,
        ``accuracy`` with ``ci_low``, ``ci_high`` (Wilson), ``first_served``,
        ``age_days``, ``verdict`` in {"retire", "refresh", "review", "keep"} and ``reason``
        (plain words).

    Raises
    ------
    EstimationError
        Missing columns.

    Notes
    -----
    Leak test: under random serving each serving of an item goes to auditor a with
    probability a's share of all golden servings; the p-value is the exact probability of
    at most ``n_auditors`` distinct auditors among ``times_served`` servings, BH-corrected
    over items [2]_. A count rule alone ("re-exposed more than once") flags a clean gold set
    served at random almost always (a simulation in the tests: 93% of clean reports at
    300 servings of 150 items by 12 auditors); the test keeps false leak flags within alpha.

    Verdict order: leaked (re-exposed more than ``max_repeat`` times and significant) with accuracy at or
    above ``easy_accuracy`` (the answer is known) is **retire**; leaked, too easy, or too old is **refresh**; too hard is **review**; else
    **keep**. Accuracy is a share of servings, unweighted (golden items are outside the
    sample design).

    References
    ----------
    .. [1] Wilson, E. B. (1927). JASA 22(158), 209-212.
    .. [2] Benjamini, Y. and Hochberg, Y. (1995). JRSS B 57(1), 289-300.
    """
    alpha = check_alpha(alpha)
    require(golden_audits, [S.DECISION_ID, S.AUDITOR_ID, S.QA_LABEL, S.AUDITED_AT], "golden audits")
    require(golden, [S.ITEM_ID, S.GOLD_LABEL, S.POLICY], "golden")
    gold = golden.drop_duplicates(S.ITEM_ID)[[S.ITEM_ID, S.POLICY, S.GOLD_LABEL]].reset_index(drop=True)
    ga = golden_audits[golden_audits[S.DECISION_ID].isin(gold[S.ITEM_ID])]
    ga = ga.assign(
        _ok=(
            ga[S.QA_LABEL].astype(object).to_numpy()
            == gold.set_index(S.ITEM_ID)[S.GOLD_LABEL].reindex(ga[S.DECISION_ID].to_numpy()).astype(object).to_numpy()
        )
    )
    g = ga.groupby(S.DECISION_ID)
    served = g.size()
    per_aud = ga.groupby([S.DECISION_ID, S.AUDITOR_ID]).size()
    n_aud = per_aud.groupby(level=0).size()
    max_one = per_aud.groupby(level=0).max()
    correct = g["_ok"].sum()
    first = g[S.AUDITED_AT].min()
    ids = gold[S.ITEM_ID]
    out = gold.copy()
    out["times_served"] = served.reindex(ids).fillna(0).astype(np.int64).to_numpy()
    out["n_auditors"] = n_aud.reindex(ids).fillna(0).astype(np.int64).to_numpy()
    out["repeat_exposures"] = out["times_served"] - out["n_auditors"]
    out["max_by_one_auditor"] = max_one.reindex(ids).fillna(0).astype(np.int64).to_numpy()
    out["correct"] = correct.reindex(ids).fillna(0).astype(np.int64).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["accuracy"] = np.where(out["times_served"] > 0, out["correct"] / out["times_served"].clip(lower=1), np.nan)
    out["ci_low"], out["ci_high"] = proportion_ci(out["correct"].to_numpy(), out["times_served"].to_numpy(), alpha)
    out["first_served"] = first.reindex(ids).to_numpy()
    ref = pd.Timestamp(as_of) if as_of is not None else (ga[S.AUDITED_AT].max() if len(ga) else pd.NaT)
    if isinstance(ref, pd.Timestamp) and ref.tzinfo is None and len(ga) and ga[S.AUDITED_AT].dt.tz is not None:
        ref = ref.tz_localize("UTC")
    first_ts = pd.DatetimeIndex(pd.to_datetime(out["first_served"].to_numpy(), utc=True))
    age_s = (ref - first_ts).total_seconds() if ref is not pd.NaT else np.full(len(out), np.nan)  # type: ignore[operator]
    out["age_days"] = np.asarray(age_s, dtype=float) / 86_400
    shares = ga[S.AUDITOR_ID].value_counts(normalize=True).to_numpy()
    cache: dict[tuple[int, int], float] = {}
    p_leak = []
    for s_, d_ in zip(out["times_served"], out["n_auditors"]):
        key = (int(s_), int(d_))
        if key not in cache:
            cache[key] = _few_auditors_p(*key, shares) if s_ - d_ > max_repeat else 1.0
        p_leak.append(cache[key])
    out["leak_p_value"] = p_leak
    out["leak_q_value"] = bh_qvalues(np.asarray(p_leak))
    enough = out["times_served"] >= min_served
    leaked = (out["repeat_exposures"] > max_repeat) & (out["leak_q_value"] < alpha)
    easy = enough & (out["ci_low"] > easy_accuracy)
    hard = enough & (out["ci_high"] < hard_accuracy)
    old = out["age_days"] > max_age_days
    verdict, reason = [], []
    near_perfect = out["accuracy"] >= easy_accuracy
    for lk, ez, hd, od, rep, acc, npf in zip(
        leaked, easy, hard, old, out["repeat_exposures"], out["accuracy"], near_perfect
    ):
        why = []
        if lk:
            why.append(f"leaked: served {rep} time(s) again to an auditor who had seen it")
        if ez:
            why.append(f"too easy: {acc:.0%} correct, no longer tells auditors apart")
        if od:
            why.append(f"older than {max_age_days:g} days")
        if hd:
            why.append(f"auditors mostly disagree with the gold answer ({acc:.0%} correct): check the gold label")
        if lk and (ez or npf):
            verdict.append(RETIRE)
        elif lk or ez or od:
            verdict.append(REFRESH)
        elif hd:
            verdict.append(REVIEW)
        else:
            verdict.append(KEEP)
        reason.append("; ".join(why))
    out["verdict"] = verdict
    out["reason"] = reason
    return out


def gold_policy_coverage(
    golden: pd.DataFrame, audited: pd.DataFrame, min_items: int = 5, policies: list[str] | None = None
) -> pd.DataFrame:
    """Policy coverage of the gold set against the policies audited: where is there too little gold?

    Parameters
    ----------
    golden : DataFrame
        The ``golden`` table (``item_id``, ``policy``, ``gold_label``).
    audited : DataFrame
        Audit-level frame (golden excluded) with ``policy``.
    min_items : int, default 5
        Fewest golden items a policy should have (violating and clean counted together).
    policies : list of str, optional
        Policies to list even when neither audited nor in gold (e.g. the taxonomy's).

    Returns
    -------
    DataFrame
        One row per policy: ``policy``, ``gold_items``, ``gold_violating`` (gold label is a
        policy, not no_violation), ``audits``, ``audit_share``, ``gold_share``,
        ``too_little_gold`` (fewer than ``min_items`` golden items while the policy is
        audited) and ``message``. Sorted by ``audits`` descending.

    Raises
    ------
    EstimationError
        Missing columns.
    """
    require(golden, [S.ITEM_ID, S.POLICY, S.GOLD_LABEL], "golden")
    require(audited, [S.POLICY], "audits")
    if int(min_items) < 1:
        raise EstimationError(f"min_items must be at least 1, got {min_items!r}")
    g = golden.drop_duplicates(S.ITEM_ID)
    items = g.groupby(S.POLICY).size()
    viol = g[g[S.GOLD_LABEL].astype(object) != S.NO_VIOLATION].groupby(S.POLICY).size()
    aud = audited.groupby(S.POLICY).size()
    pols = list(dict.fromkeys([*(policies or []), *aud.index, *items.index]))
    out = pd.DataFrame({S.POLICY: pols})
    out["gold_items"] = items.reindex(pols).fillna(0).astype(np.int64).to_numpy()
    out["gold_violating"] = viol.reindex(pols).fillna(0).astype(np.int64).to_numpy()
    out["audits"] = aud.reindex(pols).fillna(0).astype(np.int64).to_numpy()
    out["audit_share"] = out["audits"] / max(int(out["audits"].sum()), 1)
    out["gold_share"] = out["gold_items"] / max(int(out["gold_items"].sum()), 1)
    out["too_little_gold"] = (out["gold_items"] < min_items) & (out["audits"] > 0)
    out["message"] = [
        f"{p}: {gi} golden item(s) for {a:,} audits; add at least {min_items - gi} to test auditors on it" if t else ""
        for p, gi, a, t in zip(out[S.POLICY], out["gold_items"], out["audits"], out["too_little_gold"])
    ]
    return out.sort_values("audits", ascending=False, kind="stable").reset_index(drop=True)
