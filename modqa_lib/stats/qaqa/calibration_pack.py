"""Calibration packs: pick the items for a vendor's next calibration session.

A pack mixes three sources: items that split the room at the last calibration
session, representative cases of the vendor's most frequent error patterns (root
cause x policy), and a share of golden items. Each case carries what a session
facilitator needs (content type, policy, decision, QA or gold label, root cause, the
SOP clarification recorded for the policy, and how often raters got it wrong), never
a moderator or auditor id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.errors import EstimationError
from modqa_lib.stats.agreement.calibration import item_disagreement
from modqa_lib.stats.qaqa._common import require

__all__ = ["PACK_COLUMNS", "calibration_pack"]

SPLIT, PATTERN, GOLD = "split_last_session", "error_pattern", "gold"
#: columns of a pack, in order (no moderator or auditor ids)
PACK_COLUMNS = [
    "case_no",
    "source",
    S.ITEM_ID,
    S.CONTENT_TYPE,
    S.POLICY,
    "decision_label",
    "correct_label",
    S.ROOT_CAUSE,
    "sop_clarification",
    "share_wrong",
    "n_rated",
    "why",
]


def _sop(actions: pd.DataFrame | None, vendor: str) -> dict[str, str]:
    """Policy -> description of the latest SOP clarification for that policy (all vendors or this one)."""
    if actions is None or actions.empty or S.KIND not in actions.columns:
        return {}
    a = actions[(actions[S.KIND] == "sop_clarification") & actions[S.POLICY].notna()]
    if S.VENDOR in a.columns:
        a = a[a[S.VENDOR].isna() | (a[S.VENDOR] == vendor)]
    a = a.sort_values(S.STARTED_AT, kind="stable")
    return {p: ("" if pd.isna(d) else str(d)) for p, d in zip(a[S.POLICY], a[S.DESCRIPTION])}


def calibration_pack(  # noqa: C901
    audited: pd.DataFrame,
    vendor: str,
    calibration: pd.DataFrame | None = None,
    golden: pd.DataFrame | None = None,
    decisions: pd.DataFrame | None = None,
    actions: pd.DataFrame | None = None,
    golden_audits: pd.DataFrame | None = None,
    policy: str | None = None,
    size: int = 30,
    gold_share: float = 0.2,
    split_share: float = 0.3,
    seed: int = 0,
) -> pd.DataFrame:
    """The worklist of a vendor's next calibration session.

    Parameters
    ----------
    audited : DataFrame
        Audit-level frame (:func:`modqa_lib.data.io.audited_decisions`, golden excluded).
    vendor : str
        Vendor the session is for.
    calibration, golden : DataFrame, optional
        Calibration votes and the golden table (split items and gold items need them).
    decisions : DataFrame, optional
        Decisions (content type and decision label of calibration and golden items).
    actions : DataFrame, optional
        Corrective actions: the latest ``sop_clarification`` per policy is quoted.
    golden_audits : DataFrame, optional
        Golden audits (``decision_id``, ``qa_label``): how often auditors got a gold item wrong.
    policy : str, optional
        Restrict to one policy.
    size : int, default 30
        Cases in the pack.
    gold_share, split_share : float, default 0.2 and 0.3
        Target shares of gold items and of last session's split items; error-pattern
        cases fill the rest (and any share a source cannot fill).
    seed : int, default 0
        Seed of the picks within each source (same seed, same pack).

    Returns
    -------
    DataFrame
        One row per case, columns :data:`PACK_COLUMNS`: ``case_no``; ``source`` in
        {"split_last_session", "error_pattern", "gold"}; ``item_id`` (decision or golden
        item); ``content_type``; ``policy``; ``decision_label``; ``correct_label`` (QA
        label, or gold label); ``root_cause``; ``sop_clarification``; ``share_wrong``
        (split items: share of raters off the gold answer; error patterns: share of the
        vendor's audits on that policy with that root cause; gold: share of golden audits
        off the answer) with its denominator ``n_rated``; ``why`` (plain words).

    Raises
    ------
    EstimationError
        Bad size or shares; the vendor (or policy) has no audits.
    """
    require(audited, [S.VENDOR, S.POLICY, S.IS_ERROR, S.DECISION_ID, S.LABEL, S.QA_LABEL], "audits")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or not 1 <= int(size) <= 500:
        raise EstimationError(f"size must be an integer from 1 to 500, got {size!r}")
    for name, v in (("gold_share", gold_share), ("split_share", split_share)):
        if not 0 <= float(v) <= 1:
            raise EstimationError(f"{name} must lie in [0, 1], got {v!r}")
    if float(gold_share) + float(split_share) > 1:
        raise EstimationError("gold_share + split_share must not exceed 1")
    rng = np.random.default_rng(int(seed))
    own = audited[audited[S.VENDOR] == vendor]
    if policy:
        own = own[own[S.POLICY] == policy]
    if own.empty:
        raise EstimationError(
            f"no audits for vendor '{vendor}'" + (f" and policy '{policy}'" if policy else "") + " in the data"
        )
    sop = _sop(actions, vendor)
    dec = decisions.set_index(S.DECISION_ID) if decisions is not None and len(decisions) else None
    size = int(size)
    rows: list[dict] = []
    used: set[str] = set()

    def dec_field(item, col):
        if dec is None or item not in dec.index or col not in dec.columns:
            return None
        return dec.at[item, col]

    # --- 1. items that split the room at the last session ----------------------------
    n_split = int(round(size * float(split_share)))
    if calibration is not None and len(calibration) and n_split:
        last = sorted(calibration[S.SESSION_ID].astype(str).unique())[-1]
        cal = calibration[calibration[S.SESSION_ID].astype(str) == last]
        items = item_disagreement(cal, golden)
        items = items[items["majority_share"] < 1]
        if policy and golden is not None:
            pol = golden.set_index(S.ITEM_ID)[S.POLICY]
            items = items[items[S.ITEM_ID].map(pol) == policy]
        for _, it in items.head(n_split).iterrows():
            votes = cal[cal[S.ITEM_ID] == it[S.ITEM_ID]]
            gold_lab = it.get("gold_label")
            wrong = (votes[S.LABEL] != gold_lab).mean() if pd.notna(gold_lab) else 1 - it["majority_share"]
            pol = golden.set_index(S.ITEM_ID)[S.POLICY].get(it[S.ITEM_ID]) if golden is not None else None  # type: ignore[assignment]
            rows.append(
                {
                    "source": SPLIT,
                    S.ITEM_ID: it[S.ITEM_ID],
                    S.POLICY: pol,
                    "correct_label": gold_lab if pd.notna(gold_lab) else None,
                    S.ROOT_CAUSE: None,
                    "share_wrong": float(wrong),
                    "n_rated": int(len(votes)),
                    "why": f"split the room at session {last}: {int(it['n_labels'])} different labels, "
                    f"majority only {it['majority_share']:.0%}",
                }
            )
            used.add(str(it[S.ITEM_ID]))

    # --- 3. gold items (picked before patterns so patterns fill what is left) ----------
    n_gold = int(round(size * float(gold_share)))
    gold_rows: list[dict] = []
    if golden is not None and len(golden) and n_gold:
        g = golden.drop_duplicates(S.ITEM_ID)
        if policy:
            g = g[g[S.POLICY] == policy]
        g = g[~g[S.ITEM_ID].astype(str).isin(used)]
        pick = g.iloc[rng.permutation(len(g))[:n_gold]] if len(g) else g
        for _, it in pick.iterrows():
            wrong, n = np.nan, 0
            if golden_audits is not None and len(golden_audits):
                ga = golden_audits[golden_audits[S.DECISION_ID] == it[S.ITEM_ID]]
                n = len(ga)
                wrong = float((ga[S.QA_LABEL] != it[S.GOLD_LABEL]).mean()) if n else np.nan
            gold_rows.append(
                {
                    "source": GOLD,
                    S.ITEM_ID: it[S.ITEM_ID],
                    S.POLICY: it[S.POLICY],
                    "correct_label": it[S.GOLD_LABEL],
                    S.ROOT_CAUSE: None,
                    "share_wrong": wrong,
                    "n_rated": int(n),
                    "why": "golden item: the policy team's answer is known",
                }
            )
            used.add(str(it[S.ITEM_ID]))

    # --- 2. the vendor's most frequent error patterns ---------------------------------
    n_pat = size - len(rows) - len(gold_rows)
    err = own[own[S.IS_ERROR].astype(bool) & own[S.ROOT_CAUSE].notna()] if S.ROOT_CAUSE in own else own.iloc[:0]
    err = err[~err[S.DECISION_ID].astype(str).isin(used)]
    pat_rows: list[dict] = []
    if n_pat > 0 and len(err):
        counts = err.groupby([S.ROOT_CAUSE, S.POLICY]).size().sort_values(ascending=False, kind="stable")
        per_policy = own.groupby(S.POLICY).size()
        share = counts / counts.sum()
        quota = np.floor(share.to_numpy() * n_pat).astype(int)
        quota[: n_pat - quota.sum()] += 1  # largest patterns get the remainder
        for (rc, pol), k in zip(counts.index, quota):
            if k <= 0:
                continue
            cases = err[(err[S.ROOT_CAUSE] == rc) & (err[S.POLICY] == pol)]
            cases = cases.iloc[rng.permutation(len(cases))[: int(k)]]
            for _, c in cases.iterrows():
                pat_rows.append(
                    {
                        "source": PATTERN,
                        S.ITEM_ID: c[S.DECISION_ID],
                        S.POLICY: pol,
                        S.CONTENT_TYPE: c.get(S.CONTENT_TYPE),
                        "decision_label": c[S.LABEL],
                        "correct_label": c[S.QA_LABEL],
                        S.ROOT_CAUSE: rc,
                        "share_wrong": float(counts[(rc, pol)] / per_policy[pol]),
                        "n_rated": int(per_policy[pol]),
                        "why": f"frequent error pattern: {int(counts[(rc, pol)])} {rc} errors on {pol} "
                        f"({share[(rc, pol)]:.0%} of the vendor's errors)",
                    }
                )
                used.add(str(c[S.DECISION_ID]))
    pack = pd.DataFrame(rows + pat_rows + gold_rows)
    if pack.empty:
        raise EstimationError(f"nothing to put in a calibration pack for '{vendor}': no errors, gold or split items")
    for c in PACK_COLUMNS:
        if c not in pack.columns:
            pack[c] = None
    pack[S.CONTENT_TYPE] = [
        ct if isinstance(ct, str) else dec_field(i, S.CONTENT_TYPE)
        for ct, i in zip(pack[S.CONTENT_TYPE], pack[S.ITEM_ID])
    ]
    pack["decision_label"] = [
        d if isinstance(d, str) else dec_field(i, S.LABEL) for d, i in zip(pack["decision_label"], pack[S.ITEM_ID])
    ]
    pack["sop_clarification"] = [sop.get(p, "") for p in pack[S.POLICY]]
    pack["case_no"] = np.arange(1, len(pack) + 1)
    pack = pack.head(size)
    return pack[PACK_COLUMNS].reset_index(drop=True)
