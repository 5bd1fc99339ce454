"""Cross-table contract rules added for reliability (issue 12): pandas in, problems out.

Each function takes whole (typed) tables and returns a list of problem dicts
shaped like :mod:`modqa_lib.contract.validation`'s (``table``, ``file``,
``column``, ``rule``, ``rows``, ``count``, ``values``). A problem with
``"level": "warning"`` is reported but does not stop the ingest; every other
problem is an error. :func:`modqa_lib.contract.validation.validate_tables` calls
:func:`cross_problems` from its cross-table step.

Rules
-----
- :func:`golden_audits_not_golden`: an audit flagged ``is_golden`` must point at
  an item of the golden table (golden item ids are decision ids).
- :func:`weights_vs_sample_plan`: where the sample plan an audit came from is
  known (``sample.csv`` written by ``modqa sample``), the audit's
  ``inclusion_prob`` and ``stratum`` must be the plan's.
- :func:`weights_outside_stratum` (warning): a design weight more than
  :data:`STRATUM_WEIGHT_RATIO` times above or below its stratum's median.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation import MAX_VALUES, WEIGHT_RTOL
from modqa_lib.contract.validation import found_values as _found
from modqa_lib.contract.validation import isin_text as _isin
from modqa_lib.contract.validation import problem as _problem
from modqa_lib.contract.validation import rows_of as _rows_of

__all__ = [
    "STRATUM_WEIGHT_RATIO",
    "cross_problems",
    "golden_audits_not_golden",
    "weights_outside_stratum",
    "weights_vs_sample_plan",
]

#: a weight this many times above (or below) its stratum's median is flagged (demo risk weights stay within 6x)
STRATUM_WEIGHT_RATIO = 20.0
#: strata with fewer audits than this have no median worth comparing against
MIN_STRATUM_AUDITS = 5


def golden_audits_not_golden(audits: pd.DataFrame, golden: pd.DataFrame | None, file: str | None = None) -> list[dict]:
    """Golden audits whose ``decision_id`` is not an item of the golden table.

    Returns
    -------
    list of dict
        One error problem on ``audits.decision_id``, or nothing (also when no golden table is given).
    """
    if golden is None or not {S.IS_GOLDEN, S.DECISION_ID} <= set(audits.columns) or S.ITEM_ID not in golden:
        return []
    is_g = audits[S.IS_GOLDEN].astype("boolean").fillna(False).to_numpy(dtype=bool)
    ids = audits[S.DECISION_ID]
    m = is_g & ids.notna().to_numpy(dtype=bool) & ~_isin(ids, golden[S.ITEM_ID])
    if not m.any():
        return []
    return [
        _problem(
            "audits",
            file,
            S.DECISION_ID,
            "golden audit (is_golden true) points at an item that is not in golden" + _found(ids[m].head(10)),
            _rows_of(m),
            values=list(ids[m].head(MAX_VALUES)),
        )
    ]


def weights_vs_sample_plan(
    audits: pd.DataFrame, plan: pd.DataFrame | None, file: str | None = None, rtol: float = WEIGHT_RTOL
) -> list[dict]:
    """Audits whose ``inclusion_prob`` or ``stratum`` differ from the sample plan they came from.

    Parameters
    ----------
    audits : DataFrame
        Typed audits.
    plan : DataFrame or None
        Rows of sample plans (``sample.csv`` of ``modqa sample``): ``sample_id``,
        ``decision_id``, ``stratum``, ``inclusion_prob``. Audits of a ``sample_id``
        not in the plan are not checked.
    rtol : float
        Relative tolerance on ``inclusion_prob``.

    Returns
    -------
    list of dict
        Error problems on ``inclusion_prob`` and ``stratum``.
    """
    need = {S.SAMPLE_ID, S.DECISION_ID, S.INCLUSION_PROB}
    if plan is None or plan.empty or not need <= set(audits.columns) or not need <= set(plan.columns):
        return []
    key_a = audits[S.SAMPLE_ID].astype(object).astype(str) + "\x1f" + audits[S.DECISION_ID].astype(object).astype(str)
    key_p = plan[S.SAMPLE_ID].astype(object).astype(str) + "\x1f" + plan[S.DECISION_ID].astype(object).astype(str)
    planned = plan.assign(_k=key_p.to_numpy()).drop_duplicates("_k").set_index("_k")
    in_plan_sample = _isin(audits[S.SAMPLE_ID], plan[S.SAMPLE_ID])
    found = _isin(key_a, planned.index)
    out: list[dict] = []
    m = in_plan_sample & ~found
    if m.any():
        out.append(
            _problem(
                "audits",
                file,
                S.DECISION_ID,
                "decision is not in the sample plan of its sample_id (sample.csv)" + _found(audits[S.DECISION_ID][m]),
                _rows_of(m),
                values=list(audits[S.DECISION_ID][m].head(MAX_VALUES)),
            )
        )
    p_plan = pd.to_numeric(pd.Series(planned[S.INCLUSION_PROB].reindex(key_a.to_numpy()).to_numpy()), errors="coerce")
    p_aud = audits[S.INCLUSION_PROB].to_numpy(dtype="float64", na_value=np.nan)
    pp = p_plan.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        bad = found & np.isfinite(pp) & np.isfinite(p_aud) & (np.abs(p_aud / pp - 1) > rtol)
    if bad.any():
        i = np.flatnonzero(bad)[:MAX_VALUES]
        ex = "; ".join(f"data row {k + 1}: {p_aud[k]:g} (plan {pp[k]:g})" for k in i)
        out.append(
            _problem(
                "audits",
                file,
                S.INCLUSION_PROB,
                f"inclusion_prob differs from the sample plan of its sample_id; e.g. {ex}",
                _rows_of(bad),
            )
        )
    if S.STRATUM in audits.columns and S.STRATUM in planned.columns:
        st_plan = pd.Series(planned[S.STRATUM].reindex(key_a.to_numpy()).to_numpy(), dtype=object)
        st_aud = audits[S.STRATUM].astype(object).reset_index(drop=True)
        bad = found & st_plan.notna().to_numpy() & (st_plan.astype(str) != st_aud.astype(str)).to_numpy()
        if bad.any():
            out.append(
                _problem(
                    "audits",
                    file,
                    S.STRATUM,
                    "stratum differs from the sample plan of its sample_id" + _found(st_aud[bad]),
                    _rows_of(bad),
                    values=list(st_aud[bad].head(MAX_VALUES)),
                )
            )
    return out


def weights_outside_stratum(
    audits: pd.DataFrame, file: str | None = None, ratio: float = STRATUM_WEIGHT_RATIO
) -> list[dict]:
    """Warn on design weights far outside their stratum's (more than ``ratio`` x from its median).

    Strata are (``sample_id``, ``stratum``) pairs with at least :data:`MIN_STRATUM_AUDITS`
    audits. One audit with ``inclusion_prob = 1e-9`` among weights near 4 is the case
    this catches: alone it would decide every weighted estimate it enters.

    Returns
    -------
    list of dict
        At most one warning problem (``"level": "warning"``) on ``weight``.
    """
    if not {S.WEIGHT, S.STRATUM} <= set(audits.columns) or audits.empty:
        return []
    keys = [c for c in (S.SAMPLE_ID, S.STRATUM) if c in audits.columns]
    w = pd.to_numeric(audits[S.WEIGHT], errors="coerce").astype("float64").reset_index(drop=True)
    g = pd.DataFrame({k: audits[k].astype(object).to_numpy() for k in keys}).assign(_w=w.to_numpy())
    grp = g.groupby(keys, dropna=False)["_w"]
    med = grp.transform("median").to_numpy()
    size = grp.transform("size").to_numpy()
    wv = w.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        bad = (size >= MIN_STRATUM_AUDITS) & np.isfinite(wv) & (med > 0) & ((wv > ratio * med) | (wv * ratio < med))
    if not bad.any():
        return []
    i = np.flatnonzero(bad)[:MAX_VALUES]
    ex = "; ".join(f"data row {k + 1}: weight {wv[k]:g} vs stratum median {med[k]:g}" for k in i)
    p = _problem(
        "audits",
        file,
        S.WEIGHT,
        f"weight more than {ratio:g}x away from its stratum's median (one such audit can dominate every "
        f"weighted estimate it enters; check its inclusion_prob); e.g. {ex}",
        _rows_of(bad),
    )
    p["level"] = "warning"
    return [p]


def cross_problems(
    t: Mapping[str, pd.DataFrame], files: Mapping[str, str], sample_plan: pd.DataFrame | None = None
) -> list[dict]:
    """Every rule of this module over a set of typed tables (errors and warnings)."""
    aud = t.get("audits")
    if aud is None:
        return []
    f = files.get("audits")
    return (
        golden_audits_not_golden(aud, t.get("golden"), f)
        + weights_vs_sample_plan(aud, sample_plan, f)
        + weights_outside_stratum(aud, f)
    )
