"""Auditor worklists: golden items mixed in blind, and the assignment of items to auditors."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import require_columns
from modqa_lib.errors import SamplingError
from modqa_lib.stats.sampling._common import GOLDEN_STRATUM, _check_prob, _rng

# ================================================================= worklists
_GOLDEN_FIXED = {
    S.DECISION_ID,
    S.ITEM_ID,
    S.IS_GOLDEN,
    S.STRATUM,
    S.INCLUSION_PROB,
    S.WEIGHT,
    S.AUDITOR_ID,
    S.SAMPLE_ID,
}


def inject_golden(worklist: pd.DataFrame, golden: pd.DataFrame, share: float = 0.05, *, seed) -> pd.DataFrame:
    """Mix known-answer (golden) items blind into the worklist(s).

    Parameters
    ----------
    worklist : DataFrame
        Sampled decisions; if it has ``auditor_id``, each auditor's list gets
        its own golden items and is shuffled separately.
    golden : DataFrame
        Golden items: ``item_id`` (required), ``gold_label`` and ``policy``;
        any other column the worklist also has (``content_id``,
        ``content_type``, ``market`` ...) is copied, so the item looks like a
        decision. Items whose id is already a ``decision_id`` of the worklist are not
        used (the auditor would see the case twice).
    share : float, default 0.05
        Target share of golden items in each final list, in [0, 1): an
        auditor with m sampled decisions gets round(m * share / (1 - share))
        distinct golden items (so 5 % of 190 -> 10 golden of 200).
    seed : int or numpy.random.Generator

    Returns
    -------
    DataFrame
        Worklist rows and golden rows, grouped by auditor (sorted) and shuffled
        within each, with a fresh 0..k-1 index. Adds ``is_golden``,
        ``item_id`` and ``gold_label``. Golden rows have ``decision_id`` =
        ``item_id`` (``content_id`` too unless given), the golden table's other
        shared columns, ``is_golden`` True,
        ``inclusion_prob`` 1, ``weight`` 1 and ``stratum`` ``"golden"``; other
        decision columns are empty.

    Raises
    ------
    SamplingError
        If a list needs more golden items than the golden set holds.
    """
    share = _check_prob(share, "share", lo_open=False)
    rng = _rng(seed)
    if share > 0:
        require_columns(golden, [S.ITEM_ID], "inject_golden", table="golden")
        if golden[S.ITEM_ID].isna().any() or golden[S.ITEM_ID].duplicated().any():
            raise SamplingError("golden item_id must be unique and non-empty")
    out = worklist.copy()
    if S.IS_GOLDEN not in out.columns:
        out[S.IS_GOLDEN] = False
    for c in (S.ITEM_ID, S.GOLD_LABEL):
        if c not in out.columns:
            out[c] = pd.Series(pd.NA, index=out.index, dtype="str")
    if share > 0:  # golden rows leave decision columns empty: keep integers and booleans nullable
        for c in out.columns:
            if pd.api.types.is_integer_dtype(out[c]) and not isinstance(out[c].dtype, pd.CategoricalDtype):
                out[c] = out[c].astype("Int64")
            elif pd.api.types.is_bool_dtype(out[c]) and c != S.IS_GOLDEN:
                out[c] = out[c].astype("boolean")
    has_auditor = S.AUDITOR_ID in out.columns
    if has_auditor:
        if out[S.AUDITOR_ID].isna().any():
            raise SamplingError("every worklist row needs an auditor_id (assign auditors first)")
        groups = [(a, out[out[S.AUDITOR_ID] == a]) for a in sorted(out[S.AUDITOR_ID].unique())]
    else:
        groups = [(None, out)]
    if share > 0 and S.DECISION_ID in out.columns:  # an item already in the sample would show twice
        golden = golden[~golden[S.ITEM_ID].astype(str).isin(out[S.DECISION_ID].astype(str))]
    pieces = []
    for auditor, rows in groups:
        k = int(math.floor(len(rows) * share / (1 - share) + 0.5)) if share > 0 else 0
        if k > len(golden):
            who = f" for auditor '{auditor}'" if auditor is not None else ""
            raise SamplingError(
                f"golden share {share:g} needs {k} distinct golden items{who} "
                f"but the golden set holds {len(golden)}; add golden items or lower the share"
            )
        parts = [rows]
        if k:
            g = golden.iloc[rng.choice(len(golden), size=k, replace=False)]
            gr = pd.DataFrame(
                {
                    S.DECISION_ID: g[S.ITEM_ID].astype(str).to_numpy(),
                    S.CONTENT_ID: g[S.ITEM_ID].astype(str).to_numpy(),
                    S.ITEM_ID: g[S.ITEM_ID].astype(str).to_numpy(),
                    S.IS_GOLDEN: True,
                    S.STRATUM: GOLDEN_STRATUM,
                    S.INCLUSION_PROB: 1.0,
                    S.WEIGHT: 1.0,
                }
            )
            for c in g.columns:  # describe the item like a decision where the golden table can
                if (c in out.columns and c not in _GOLDEN_FIXED) or c == S.GOLD_LABEL:
                    v = g[c].to_numpy()
                    gr[c] = np.where(pd.isna(v), gr[c].to_numpy(), v) if c == S.CONTENT_ID else v
            if auditor is not None:
                gr[S.AUDITOR_ID] = auditor
            parts.append(gr)
        both = (
            pd.concat([p for p in parts if len(p)], ignore_index=True)
            if any(len(p) for p in parts)
            else rows.reset_index(drop=True)
        )
        pieces.append(both.iloc[rng.permutation(len(both))])
    res = pd.concat(pieces, ignore_index=True) if pieces else out.reset_index(drop=True)
    res[S.IS_GOLDEN] = res[S.IS_GOLDEN].fillna(False).astype(bool)
    return res[list(out.columns) + [c for c in res.columns if c not in out.columns]]


def _feasible_assignment(pairs, m, n_aud, lower, upper):
    """Integer x over eligible (class, auditor) pairs: class totals m, loads in [lower, upper]."""
    n_pairs = len(pairs)
    rows_c = pairs[:, 0]
    rows_a = pairs[:, 1]
    a_class = sparse.csr_matrix((np.ones(n_pairs), (rows_c, np.arange(n_pairs))), shape=(len(m), n_pairs))
    a_load = sparse.csr_matrix((np.ones(n_pairs), (rows_a, np.arange(n_pairs))), shape=(n_aud, n_pairs))
    res = milp(
        c=np.zeros(n_pairs),
        integrality=np.ones(n_pairs),
        bounds=Bounds(0, np.inf),
        constraints=[LinearConstraint(a_class, m, m), LinearConstraint(a_load, lower, upper)],
    )
    if res.status != 0 or res.x is None:
        return None
    return np.round(res.x).astype(np.int64)


def _distinct_auditors(auditors: Sequence[str]) -> list[str]:
    """Auditor ids as strings; SamplingError when there are none or one is listed twice."""
    auditors = [str(a) for a in auditors]
    if not auditors:
        raise SamplingError("no auditors to assign the sample to")
    if len(set(auditors)) != len(auditors):
        dup = sorted({a for a in auditors if auditors.count(a) > 1})
        raise SamplingError(f"auditors listed twice: {dup}")
    return auditors


def _moderator_codes(out: pd.DataFrame, aud_index: dict[str, int]) -> np.ndarray:
    """Per row: the index of the auditor who made the decision, or -1."""
    if S.MODERATOR_ID not in out.columns:
        return np.full(len(out), -1, dtype=np.int64)
    mod = out[S.MODERATOR_ID].astype(object).map(lambda v: aud_index.get(str(v), -1) if pd.notna(v) else -1)
    return mod.to_numpy(dtype=np.int64)


def _site_codes(out: pd.DataFrame, auditors: list[str], aud: list[str], auditor_sites):
    """Per row: the site code (-1 for none), the site names, and each auditor's site (None without sites)."""
    if auditor_sites is None:
        return np.full(len(out), -1), pd.Index([]), None
    site_of = {str(k): v for k, v in dict(auditor_sites).items()}
    missing = [a for a in auditors if a not in site_of or pd.isna(site_of[a])]
    if missing:
        raise SamplingError(
            f"auditor_sites gives no site for auditor(s) {missing[:10]}; "
            "give every auditor a site, or pass auditor_sites=None"
        )
    require_columns(out, [S.SITE], "assign_auditors", table="worklist", hint="auditor site constraint")
    site_codes, site_uniques = pd.factorize(out[S.SITE], use_na_sentinel=True)
    return site_codes, site_uniques, np.array([str(site_of[a]) for a in aud], dtype=object)


def _eligibility(cls: np.ndarray, site_uniques, aud_site, n_aud: int) -> np.ndarray:
    """Which auditor may review each class of decisions (not their own site, not their own decision)."""
    elig = np.ones((len(cls), n_aud), dtype=bool)
    for c, (s, mo) in enumerate(cls):
        if s >= 0 and aud_site is not None:
            elig[c] &= aud_site != str(site_uniques[s])
        if mo >= 0:
            elig[c, mo] = False
    return elig


def _check_every_class_has_an_auditor(elig: np.ndarray, cls: np.ndarray, m: np.ndarray, site_uniques, aud) -> None:
    empty = np.flatnonzero(~elig.any(axis=1))
    if not len(empty):
        return
    msgs = []
    for c in empty:
        s, mo = cls[c]
        what = []
        if s >= 0:
            what.append(f"site '{site_uniques[s]}'")
        if mo >= 0:
            what.append(f"moderator '{aud[mo]}'")
        msgs.append(f"{int(m[c])} decision(s) from {' and '.join(what)}")
    raise SamplingError(
        "no eligible auditor for " + "; ".join(msgs) + ": every auditor is based at that site "
        "or made the decision; add auditors from other sites"
    )


def _balanced_counts(elig: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Rows of each class per auditor: smallest feasible largest worklist, then largest feasible smallest one."""
    n_aud = elig.shape[1]
    pairs = np.argwhere(elig)
    total = int(m.sum())
    reach = (elig * m[:, None]).sum(axis=0)  # most rows each auditor could get
    lo_u, hi_u = math.ceil(total / n_aud), total
    best = None
    while lo_u < hi_u:  # smallest feasible largest worklist
        mid = (lo_u + hi_u) // 2
        x = _feasible_assignment(pairs, m, n_aud, np.zeros(n_aud), np.full(n_aud, mid))
        if x is None:
            lo_u = mid + 1
        else:
            hi_u, best = mid, x
    u_max = lo_u
    if best is None:
        best = _feasible_assignment(pairs, m, n_aud, np.zeros(n_aud), np.full(n_aud, u_max))
    lo_l, hi_l = 0, min(u_max, total // n_aud)
    while lo_l < hi_l:  # largest feasible smallest worklist
        mid = (lo_l + hi_l + 1) // 2
        x = _feasible_assignment(pairs, m, n_aud, np.minimum(mid, reach), np.full(n_aud, u_max))
        if x is None:
            hi_l = mid - 1
        else:
            lo_l, best = mid, x
    counts = np.zeros(elig.shape, dtype=np.int64)
    counts[pairs[:, 0], pairs[:, 1]] = best
    return counts


def _hand_out(cls_codes: np.ndarray, counts: np.ndarray, aud: list[str], rng) -> np.ndarray:
    """Auditor per row: each class's rows shuffled, then cut into the auditors' counts."""
    assigned = np.empty(len(cls_codes), dtype=object)
    for c in range(counts.shape[0]):
        rows = rng.permutation(np.flatnonzero(cls_codes == c))
        cuts = np.cumsum(counts[c])
        start = 0
        for a in range(counts.shape[1]):
            assigned[rows[start : cuts[a]]] = aud[a]
            start = cuts[a]
    return assigned


def assign_auditors(sample: pd.DataFrame, auditors: Sequence[str], auditor_sites=None, *, seed) -> pd.DataFrame:
    """Hand out sampled decisions to auditors in balanced worklists.

    Constraints: an auditor never reviews a decision made by themselves
    (``auditor_id == moderator_id``) nor, when ``auditor_sites`` is given, a
    decision from their own site.

    Parameters
    ----------
    sample : DataFrame
        Rows to assign; uses ``moderator_id`` when present and ``site`` when
        ``auditor_sites`` is given. Rows with an empty site or moderator (e.g.
        golden items, machine decisions) carry no constraint.
    auditors : sequence of str
        Auditor ids (distinct).
    auditor_sites : mapping or Series, optional
        Auditor id -> site. Must cover every auditor when given.
    seed : int or numpy.random.Generator

    Returns
    -------
    DataFrame
        ``sample`` (copy, same row order and index) with an ``auditor_id`` column.

    Raises
    ------
    SamplingError
        No auditors, duplicated auditors, a site missing for an auditor, or a
        decision no auditor may review (the message names the site/moderator).

    Notes
    -----
    Decisions fall into a few classes by (site, moderator-is-an-auditor); the
    number each auditor gets from each class is an integer transportation
    problem solved with HiGHS through :func:`scipy.optimize.milp` [1]_: first
    the smallest feasible largest worklist U, then, with U fixed, the largest
    feasible smallest worklist L (an auditor who may review only r < L of the
    decisions gets all r). Without binding constraints the counts differ by
    at most 1. Which decisions of a class go to whom is random (``seed``).

    References
    ----------
    .. [1] Huangfu, Q. and Hall, J. A. J. (2018). Parallelizing the dual revised
       simplex method. *Math. Prog. Comp.* 10, 119-142.
    """
    rng = _rng(seed)
    auditors = _distinct_auditors(auditors)
    out = sample.copy()
    if len(out) == 0:
        out[S.AUDITOR_ID] = pd.Series(dtype="str")
        return out
    n_aud = len(auditors)
    aud = [auditors[i] for i in rng.permutation(n_aud)]  # who gets the extra rows is random
    mod = _moderator_codes(out, {a: i for i, a in enumerate(aud)})
    site_codes, site_uniques, aud_site = _site_codes(out, auditors, aud, auditor_sites)
    # classes of decisions: (site, moderator-is-an-auditor)
    cls_codes, cls_uniques = pd.factorize(pd.MultiIndex.from_frame(pd.DataFrame({"s": site_codes, "m": mod})))
    cls = cls_uniques.to_frame(index=False).to_numpy()
    m = np.bincount(cls_codes, minlength=len(cls)).astype(float)
    elig = _eligibility(cls, site_uniques, aud_site, n_aud)
    _check_every_class_has_an_auditor(elig, cls, m, site_uniques, aud)
    counts = _balanced_counts(elig, m)
    out[S.AUDITOR_ID] = pd.array(_hand_out(cls_codes, counts, aud, rng), dtype="str")
    return out
