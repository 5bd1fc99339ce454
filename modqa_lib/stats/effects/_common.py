"""Shared pieces of :mod:`modqa_lib.stats.effects`: scope of an action, outcome, window, column names."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import require_columns
from modqa_lib.errors import ConfigError, DataContractError

__all__ = [
    "ACCURACY_AFTER_CI_HIGH",
    "ACCURACY_AFTER_CI_LOW",
    "ACCURACY_BEFORE_CI_HIGH",
    "ACCURACY_BEFORE_CI_LOW",
    "COMPARISONS",
    "INFERENCE",
    "SCOPE_COLUMNS",
    "VERDICTS",
    "describe_scope",
    "in_scope",
]

#: scope columns of the actions table, in the order they are described.
SCOPE_COLUMNS = (S.VENDOR, S.SITE, S.MARKET, S.POLICY)

#: result columns of the before/after accuracy intervals (pattern ``<stat>_ci_low`` / ``<stat>_ci_high``)
ACCURACY_BEFORE_CI_LOW = "accuracy_before_ci_low"
ACCURACY_BEFORE_CI_HIGH = "accuracy_before_ci_high"
ACCURACY_AFTER_CI_LOW = "accuracy_after_ci_low"
ACCURACY_AFTER_CI_HIGH = "accuracy_after_ci_high"
#: comparison groups :func:`diff_in_diff` can build.
COMPARISONS = ("auto", "other_vendors", "other_sites", "other_policies")
#: possible verdicts.
VERDICTS = ("worked", "worse", "no evidence", "insufficient data")


#: inference options of :func:`~modqa_lib.stats.effects.did.diff_in_diff`.
INFERENCE = ("auto", "cluster", "two-step", "wild", "HC1")


# ------------------------------------------------------------------- helpers
_require = require_columns


def _utc(ts) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _action(action, func: str) -> dict:
    """Normalise an action (Series, mapping or one-row DataFrame) to a dict."""
    if isinstance(action, pd.DataFrame):
        if len(action) != 1:
            raise ConfigError(f"{func}(): pass one action (a row of the actions table), got {len(action)} rows")
        action = action.iloc[0]
    if isinstance(action, pd.Series):
        action = action.to_dict()
    if not isinstance(action, Mapping):
        raise ConfigError(f"{func}(): an action must be a row of the actions table, not {type(action).__name__}")
    if S.STARTED_AT not in action or pd.isna(action[S.STARTED_AT]):
        raise DataContractError(
            [
                {
                    "table": "actions",
                    "column": S.STARTED_AT,
                    "rule": f"required by {func}() (when the action took effect)",
                    "count": 1,
                }
            ]
        )
    out = dict(action)
    for c in SCOPE_COLUMNS:
        v = out.get(c)
        out[c] = None if v is None or (not isinstance(v, str) and pd.isna(v)) or v == "" else v
    out[S.ACTION_ID] = out.get(S.ACTION_ID, "action")
    try:
        out[S.STARTED_AT] = _utc(out[S.STARTED_AT])
    except (ValueError, TypeError):
        raise DataContractError(
            [
                {
                    "table": "actions",
                    "column": S.STARTED_AT,
                    "rule": f"must be a date/time, got {out[S.STARTED_AT]!r}",
                    "count": 1,
                }
            ]
        ) from None
    return out


def _scope(action: dict) -> dict:
    return {c: action[c] for c in SCOPE_COLUMNS if action.get(c) is not None}


def in_scope(audits: pd.DataFrame, action) -> pd.Series:
    """Boolean mask of the audits inside an action's scope.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame with the scope columns that the action restricts.
    action : Series, mapping or one-row DataFrame
        A row of the ``actions`` table. A null VENDOR, SITE, MARKET or POLICY
        means "any".

    Returns
    -------
    Series of bool, aligned with ``audits``.
    """
    act = _action(action, "in_scope")
    sc = _scope(act)
    _require(audits, list(sc), "in_scope")
    m = pd.Series(True, index=audits.index)
    for c, v in sc.items():
        m &= (audits[c] == v).fillna(False).astype(bool)
    return m


def describe_scope(action) -> str:
    """Human-readable scope, e.g. ``"vendor=Vendor C, site=Porto"``; ``"all"`` if none."""
    sc = _scope(_action(action, "describe_scope"))
    return ", ".join(f"{c}={v}" for c, v in sc.items()) or "all"


def _times(audits: pd.DataFrame, func: str) -> pd.Series:
    _require(audits, [S.DECIDED_AT, S.IS_ERROR], func)
    t = pd.to_datetime(audits[S.DECIDED_AT], utc=True, errors="coerce")
    if t.isna().any():
        raise DataContractError(
            [{"table": "audits", "column": S.DECIDED_AT, "rule": "must be a date/time", "count": int(t.isna().sum())}]
        )
    return t


def _correct(audits: pd.DataFrame, func: str) -> np.ndarray:
    y = audits[S.IS_ERROR]
    if y.isna().any():
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": S.IS_ERROR,
                    "rule": f"must not be empty for {func}()",
                    "count": int(y.isna().sum()),
                }
            ]
        )
    v = y.astype("float64").to_numpy()
    if not np.isin(v, (0.0, 1.0)).all():
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": S.IS_ERROR,
                    "rule": "must be boolean",
                    "count": int((~np.isin(v, (0, 1))).sum()),
                }
            ]
        )
    return 1.0 - v


def _window(t: pd.Series, started: pd.Timestamp, window_weeks) -> pd.Series:
    if window_weeks is None:
        return pd.Series(True, index=t.index)
    if not (isinstance(window_weeks, (int, float, np.integer, np.floating)) and window_weeks > 0):
        raise ConfigError(f"window_weeks must be a positive number of weeks, not {window_weeks!r}")
    w = pd.Timedelta(weeks=float(window_weeks))
    return (t >= started - w) & (t < started + w)


def _fmt(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _weight_column(audits: pd.DataFrame, weights, func: str) -> str | None:
    """The design-weight column to use, or None (unweighted)."""
    if weights is None or weights is False:
        return None
    if weights == "auto":
        return S.WEIGHT if S.WEIGHT in audits.columns else None
    col = S.WEIGHT if weights is True else weights
    if not isinstance(col, str):
        raise ConfigError(f"{func}(): weights must be 'auto', None or a weight column name, not {weights!r}")
    _require(audits, [col], func)
    return col
