"""Score-band-stratified draws for transparency figures (recall needs what the system left up).

Precision of an automated system comes from audits of what it actioned; recall,
FNR, NPV and accuracy also need audits of what it did **not** action. Violations
among non-actioned items are rare and concentrate just below the threshold, so
the draw is stratified by model score band within each reporting cell (system x
language), with Neyman allocation on the expected violation rate of each band
[1]_. Every drawn row carries ``stratum``, ``inclusion_prob`` and ``weight`` so
the Horvitz-Thompson / Hajek estimators [2]_ in
:mod:`modqa_lib.stats.transparency` can use it.

The draws reuse :func:`~modqa_lib.stats.sampling.draw.stratified_sample` (permanent
random numbers: the sample does not depend on row order).

References
----------
.. [1] Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed. Wiley. Ch. 5 (Neyman allocation).
.. [2] Horvitz, D. G. and Thompson, D. J. (1952). A generalization of sampling
   without replacement from a finite universe. *JASA* 47, 663-685.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import require_columns
from modqa_lib.errors import SamplingError
from modqa_lib.stats.sampling._common import ALLOCATED, STRATUM_SEP
from modqa_lib.stats.sampling.draw import stratified_sample

__all__ = [
    "ACTIONED",
    "ARM",
    "ARMS",
    "DEFAULT_BAND_EDGES",
    "NO_SCORE",
    "SCORE_BAND",
    "draw_by_plan",
    "nonactioned_sample",
    "score_band_sample",
    "score_bands",
]

#: bool column: the decision (system) actioned the item
ACTIONED = "actioned"
#: "actioned" or "non_actioned": the two arms of the transparency design
ARM = "arm"
ARMS: tuple[str, ...] = ("actioned", "non_actioned")
SCORE_BAND = "score_band"
NO_SCORE = "no_score"
#: band edges of the model score; finer near the usual thresholds where missed violations sit
DEFAULT_BAND_EDGES: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0)
_CELL = "_cell"


def score_bands(scores: pd.Series, edges: Sequence[float] = DEFAULT_BAND_EDGES) -> pd.Series:
    """Label each score with its band ``"lo-hi"`` (left-closed; the last band includes 1).

    Parameters
    ----------
    scores : Series of float in [0, 1]; missing scores get ``"no_score"``.
    edges : increasing sequence from 0 to 1.

    Returns
    -------
    Series of str, aligned with ``scores``.
    """
    e = np.asarray(edges, dtype=float)
    if e.ndim != 1 or len(e) < 2 or np.any(np.diff(e) <= 0) or e[0] > 0 or e[-1] < 1:
        raise SamplingError(f"score band edges must increase from 0 to 1, got {list(edges)}")
    x = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    idx = np.clip(np.searchsorted(e, x, side="right") - 1, 0, len(e) - 2)
    labels = np.array([f"{e[i]:.2f}-{e[i + 1]:.2f}" for i in range(len(e) - 1)], dtype=object)
    out = labels[idx]
    out[np.isnan(x)] = NO_SCORE
    return pd.Series(out, index=scores.index, dtype="str")


def _design_frame(decisions, by, actioned, score, edges) -> pd.DataFrame:
    require_columns(decisions, [S.DECISION_ID, *by, actioned], "nonactioned_sample", table="decisions")
    df = decisions.copy()
    act = df[actioned].astype("boolean")
    if act.isna().any():
        raise SamplingError(f"column {actioned!r} has missing values; every decision must be actioned or not")
    df[ARM] = np.where(act.to_numpy(dtype=bool), ARMS[0], ARMS[1])
    sc = df[score] if score in df.columns else pd.Series(np.nan, index=df.index)
    df[SCORE_BAND] = score_bands(sc, edges)
    df[_CELL] = _join(df, by)
    return df


def _join(df: pd.DataFrame, cols: Sequence[str]) -> pd.Series:
    """Cell key: the columns' values joined by ``"|"`` (vectorised)."""
    if not cols:
        return pd.Series("all", index=df.index, dtype="str")
    out = df[cols[0]].astype(str)
    for c in cols[1:]:
        out = out + STRATUM_SEP + df[c].astype(str)
    return out.astype("str")


def score_band_sample(
    decisions: pd.DataFrame,
    n,
    by: Sequence[str] = (S.SYSTEM, S.LANGUAGE),
    arm: str = "non_actioned",
    actioned: str = ACTIONED,
    score: str = S.MODEL_SCORE,
    edges: Sequence[float] = DEFAULT_BAND_EDGES,
    allocation: str = "neyman",
    prior_rates=None,
    default_prior: float = 0.5,
    min_per_stratum: int = 2,
    *,
    seed,
) -> pd.DataFrame:
    """Draw one arm (actioned or non-actioned) per reporting cell, stratified by score band.

    Parameters
    ----------
    decisions : DataFrame
        Population: ``decision_id``, the ``by`` columns, ``actioned`` (bool) and ``score``.
    n : int or mapping
        Audits per cell (the same for every cell), or a mapping from cell key
        (``by`` values joined by ``"|"``) to that cell's size; unnamed cells get 0.
    by : sequence of str, default ("system", "language")
        Reporting cell.
    arm : {"non_actioned", "actioned"}, default "non_actioned"
    actioned, score : str
        Column names.
    edges : sequence of float
        Score band edges, see :func:`score_bands`.
    allocation : {"neyman", "proportional", "equal"}, default "neyman"
        Across the bands of a cell; ``neyman`` uses ``prior_rates``.
    prior_rates : mapping, optional
        Expected violation rate (non-actioned arm) or error rate per stratum key
        ``"<cell>|<band>"``; bands not named get ``default_prior``.
    default_prior : float, default 0.5
    min_per_stratum : int, default 2
        Floor per band (2 keeps a variance estimable in every band).
    seed : int or numpy.random.Generator

    Returns
    -------
    DataFrame
        The drawn decisions plus ``arm``, ``score_band``, ``stratum``
        (``"<arm>|<cell>|<band>"``), ``inclusion_prob`` and ``weight``.

    Raises
    ------
    SamplingError
        Unknown arm, bad edges, or a cell size that cannot cover its bands.
    """
    if arm not in ARMS:
        raise SamplingError(f"arm must be one of {', '.join(ARMS)}, got {arm!r}")
    by = list(by)
    df = _design_frame(decisions, by, actioned, score, edges)
    df = df[df[ARM] == arm]
    if df.empty:
        return _empty(decisions)
    cells = df[_CELL].unique().tolist()
    if isinstance(n, Mapping):
        sizes = {c: int(n.get(c, 0)) for c in cells}
    else:
        sizes = dict.fromkeys(cells, int(n))
    pops = df[_CELL].value_counts()
    sizes = {c: min(k, int(pops[c])) for c, k in sizes.items()}
    if not any(sizes.values()):
        return _empty(decisions)
    out = stratified_sample(
        df,
        [_CELL, SCORE_BAND],
        sizes,
        allocation=allocation,
        min_per_stratum=min_per_stratum,
        prior_error_rates=dict(prior_rates) if prior_rates else None,
        default_prior=default_prior,
        seed=seed,
    )
    out[S.STRATUM] = (arm + STRATUM_SEP + out[S.STRATUM].astype(str)).astype("str")
    return out.drop(columns=[_CELL])


def nonactioned_sample(decisions: pd.DataFrame, n, **kwargs) -> pd.DataFrame:
    """Score-band-stratified draw of non-actioned machine decisions per system and language.

    Shorthand for :func:`score_band_sample` with ``arm="non_actioned"``; same
    parameters and returns.
    """
    return score_band_sample(decisions, n, arm="non_actioned", **kwargs)


def draw_by_plan(
    decisions: pd.DataFrame,
    plan: pd.DataFrame,
    by: Sequence[str] = (S.SYSTEM, S.LANGUAGE),
    actioned: str = ACTIONED,
    score: str = S.MODEL_SCORE,
    edges: Sequence[float] = DEFAULT_BAND_EDGES,
    *,
    seed,
) -> pd.DataFrame:
    """Draw exactly the per-stratum sizes of a plan (e.g. from the transparency planner).

    Parameters
    ----------
    decisions : DataFrame
        Population, as in :func:`score_band_sample`.
    plan : DataFrame
        One row per stratum: the ``by`` columns, ``arm``, ``score_band`` and
        ``allocated`` (audits to draw; capped at the stratum size).
    by, actioned, score, edges
        As in :func:`score_band_sample` (the same edges the plan was made with).
    seed : int or numpy.random.Generator

    Returns
    -------
    DataFrame
        As :func:`score_band_sample`, both arms together; strata are
        ``"<arm>|<cell>|<band>"``.
    """
    by = list(by)
    require_columns(plan, [*by, ARM, SCORE_BAND, ALLOCATED], "draw_by_plan", table="plan")
    df = _design_frame(decisions, by, actioned, score, edges)
    key = df[ARM] + STRATUM_SEP + df[_CELL] + STRATUM_SEP + df[SCORE_BAND]
    pk = plan[ARM].astype(str) + STRATUM_SEP
    pk = pk + _join(plan, by)
    pk = pk + STRATUM_SEP + plan[SCORE_BAND].astype(str)
    want = dict(zip(pk, plan[ALLOCATED].astype(int)))
    df["_key"] = key.astype(str)
    pops = df["_key"].value_counts()
    sizes = {k: min(int(want.get(k, 0)), int(pops[k])) for k in pops.index}
    if not any(sizes.values()):
        return _empty(decisions)
    out = stratified_sample(df, ["_key"], sizes, allocation="equal", min_per_stratum=0, seed=seed)
    return out.drop(columns=[_CELL, "_key"])


def _empty(decisions: pd.DataFrame) -> pd.DataFrame:
    out = decisions.iloc[:0].copy()
    for c, dt in ((ARM, "str"), (SCORE_BAND, "str"), (S.STRATUM, "str"), (S.INCLUSION_PROB, float), (S.WEIGHT, float)):
        out[c] = pd.Series(dtype=dt)
    return out
