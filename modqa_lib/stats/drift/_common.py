"""Shared pieces of :mod:`modqa_lib.stats.drift`: column names, counts per period, baseline, alignment
with policy changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns, require_columns
from modqa_lib.errors import ConfigError, DataContractError, EstimationError

__all__ = [
    "CHARTS",
    "DOWN",
    "LIMITS",
    "NO_SIGNAL",
    "RATE_AFTER_CI_HIGH",
    "RATE_AFTER_CI_LOW",
    "RATE_BEFORE_CI_HIGH",
    "RATE_BEFORE_CI_LOW",
    "RATE_CHANGE",
    "UP",
]

#: direction of a signal: the error rate went up (quality got worse) ...
#: result columns (pattern ``<stat>_ci_low`` / ``<stat>_ci_high``); the change in rate is
#: ``rate_change``, not ``shift``, which is the work-shift column S.SHIFT
RATE_BEFORE_CI_LOW = "rate_before_ci_low"
RATE_BEFORE_CI_HIGH = "rate_before_ci_high"
RATE_AFTER_CI_LOW = "rate_after_ci_low"
RATE_AFTER_CI_HIGH = "rate_after_ci_high"
RATE_CHANGE = "rate_change"

UP = "up"
#: ... or down (quality got better) ...
DOWN = "down"
#: ... or no signal.
NO_SIGNAL = "none"
#: charts :func:`drift_flags` can run.
CHARTS = ("p", "ewma", "cusum")
#: p-chart limits: exact binomial probability limits or normal (3σ) limits.
LIMITS = ("exact", "normal")

_DEFAULT_STEP = pd.Timedelta(days=7)


# ---------------------------------------------------------------- validation
_as_list = as_columns
_require = require_columns


def _outcome01(audits: pd.DataFrame, outcome: str, func: str) -> np.ndarray:
    y = audits[outcome]
    bad_null = y.isna()
    if bad_null.any():
        rows = list(np.flatnonzero(bad_null.to_numpy())[:5] + 1)
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": outcome,
                    "rule": f"must not be empty for {func}()",
                    "rows": rows,
                    "count": int(bad_null.sum()),
                }
            ]
        )
    try:
        v = y.astype("float64").to_numpy()
    except (TypeError, ValueError):
        v = np.array([np.nan])
    if not np.isin(v, (0.0, 1.0)).all():
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": outcome,
                    "rule": f"must be boolean (True/False or 1/0) for {func}()",
                    "count": int((~np.isin(v, (0.0, 1.0))).sum()) or len(y),
                }
            ]
        )
    return v


def _counts(audits: pd.DataFrame, period: str, by: list[str], outcome: str, func: str) -> pd.DataFrame:
    """Per group and period: n, errors, error_rate (sorted by group, period)."""
    _require(audits, [period, outcome, *by], func)
    if len(audits) == 0:
        raise EstimationError(f"{func}(): no audits to chart (the frame is empty)")
    y = _outcome01(audits, outcome, func)
    if audits[period].isna().any():
        raise DataContractError(
            [
                {
                    "table": "audits",
                    "column": period,
                    "rule": f"must not be empty for {func}()",
                    "count": int(audits[period].isna().sum()),
                }
            ]
        )
    df = pd.DataFrame({c: audits[c].to_numpy() for c in [*by, period]})
    df["_y"] = y
    g = df.groupby([*by, period], sort=True, dropna=False, observed=True)["_y"]
    out = pd.DataFrame({S.N: g.size(), S.ERRORS: g.sum()}).reset_index()
    out[S.N] = out[S.N].astype("int64")
    out[S.ERRORS] = out[S.ERRORS].round().astype("int64")
    out[S.ERROR_RATE] = out[S.ERRORS] / out[S.N]
    return out


def _counts_from_table(counts: pd.DataFrame, period: str, by: list[str], func: str) -> pd.DataFrame:
    """Re-aggregate a per-period table that already has N and ERRORS."""
    _require(counts, [period, S.N, S.ERRORS, *by], func, table="per-period counts")
    if len(counts) == 0:
        raise EstimationError(f"{func}(): no periods to analyse (the frame is empty)")
    df = counts[[*by, period, S.N, S.ERRORS]]
    n = pd.to_numeric(df[S.N], errors="coerce")
    e = pd.to_numeric(df[S.ERRORS], errors="coerce")
    bad = n.isna() | e.isna() | (n < 0) | (e < 0) | (e > n)
    if bad.any():
        raise DataContractError(
            [
                {
                    "table": "per-period counts",
                    "column": S.ERRORS,
                    "rule": "n and errors must be counts with 0 <= errors <= n",
                    "rows": list(np.flatnonzero(bad.to_numpy())[:5] + 1),
                    "count": int(bad.sum()),
                }
            ]
        )
    g = df.assign(**{S.N: n, S.ERRORS: e}).groupby([*by, period], sort=True, dropna=False, observed=True)
    out = g[[S.N, S.ERRORS]].sum().reset_index()
    out = out[out[S.N] > 0].reset_index(drop=True)
    out[S.N] = out[S.N].astype("int64")
    out[S.ERRORS] = out[S.ERRORS].astype("int64")
    out[S.ERROR_RATE] = out[S.ERRORS] / out[S.N]
    return out


def _group_ids(df: pd.DataFrame, by: list[str]) -> np.ndarray:
    if not by:
        return np.zeros(len(df), dtype=np.int64)
    return df.groupby(by, sort=False, dropna=False, observed=True).ngroup().to_numpy()


def _baseline_mask(cnt: pd.DataFrame, period: str, baseline, func: str) -> tuple[np.ndarray, list]:
    """Boolean mask of rows in the baseline window, and the baseline periods."""
    periods = list(pd.Index(cnt[period].unique()).sort_values())
    T = len(periods)
    if baseline is None or (isinstance(baseline, str) and baseline == "first_half"):
        base = periods[: max(1, T // 2)]
    elif isinstance(baseline, str) and baseline == "all":
        base = periods
    elif isinstance(baseline, (int, np.integer)) and not isinstance(baseline, bool):
        if not 1 <= int(baseline) <= T:
            raise ConfigError(
                f"{func}(): baseline={baseline} periods, but the data have {T} "
                f"period(s); use 1..{T}, 'first_half' or 'all'"
            )
        base = periods[: int(baseline)]
    elif isinstance(baseline, str):
        raise ConfigError(
            f"{func}(): baseline must be 'first_half', 'all', a number of "
            f"periods or a list of periods, not {baseline!r}"
        )
    else:
        want = pd.Index(list(baseline))
        if pd.api.types.is_datetime64_any_dtype(cnt[period]):
            want = pd.DatetimeIndex(pd.to_datetime(want))
        base = [p for p in periods if p in set(want)]
        if not base:
            raise ConfigError(
                f"{func}(): none of the baseline periods {list(want)[:3]}... "
                f"occurs in the data ({periods[0]} .. {periods[-1]})"
            )
    return cnt[period].isin(base).to_numpy(), base


def _wilson(k: int, n: int, alpha: float) -> tuple[float, float]:
    """Wilson interval of k/n (statsmodels); NaNs for n = 0."""
    if n <= 0:
        return np.nan, np.nan
    lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def _direction(up: np.ndarray, down: np.ndarray) -> np.ndarray:
    return np.where(up, UP, np.where(down, DOWN, NO_SIGNAL))


# ------------------------------------------------------ policy-change alignment
def _policy_changes(policy_changes: pd.DataFrame | None, func: str) -> pd.DataFrame | None:
    if policy_changes is None:
        return None
    _require(policy_changes, [S.CHANGED_AT, S.POLICY, S.DESCRIPTION], func, table="policy_changes")
    pc = policy_changes[[S.CHANGED_AT, S.POLICY, S.DESCRIPTION]].copy()
    ts = pd.to_datetime(pc[S.CHANGED_AT], utc=True, errors="coerce")
    if ts.isna().any():
        raise DataContractError(
            [
                {
                    "table": "policy_changes",
                    "column": S.CHANGED_AT,
                    "rule": "must be a date/time",
                    "count": int(ts.isna().sum()),
                }
            ]
        )
    pc["_ts"] = ts.dt.tz_localize(None)
    return pc


class _Calendar:
    """Maps timestamps to period positions on the data's period grid."""

    def __init__(self, periods: pd.Series):
        self.ok = pd.api.types.is_datetime64_any_dtype(periods)
        if not self.ok:
            return
        p = pd.DatetimeIndex(pd.Series(periods).dropna().unique()).sort_values()
        if p.tz is not None:
            p = p.tz_convert("UTC").tz_localize(None)
        self.p0 = p[0]
        self.step = pd.Series(p).diff().dropna().median() if len(p) > 1 else _DEFAULT_STEP
        if pd.isna(self.step) or self.step <= pd.Timedelta(0):
            self.step = _DEFAULT_STEP

    def pos(self, ts) -> int:
        t = pd.Timestamp(ts)
        if t.tz is not None:
            t = t.tz_convert("UTC").tz_localize(None)
        return int(np.floor((t - self.p0) / self.step))


def _align(policy, signal_period, cal: _Calendar, pc: pd.DataFrame | None, tolerance: int):
    """(changed_at, description, label) of the policy change nearest the signal, or blanks."""
    blank = (pd.NaT, "", "")
    if pc is None or not cal.ok or pd.isna(signal_period) or policy is None or pd.isna(policy):
        return blank
    rows = pc[pc[S.POLICY] == policy]
    if rows.empty:
        return blank
    sig = cal.pos(signal_period)
    best = None
    for _, r in rows.iterrows():
        d = sig - cal.pos(r["_ts"])  # >= 0: change at or before the signal
        if abs(d) <= tolerance:
            key = (abs(d), d < 0)
            if best is None or key < best[0]:
                best = (key, d, r)
    if best is None:
        return blank
    _, d, r = best
    when = pd.Timestamp(r[S.CHANGED_AT])
    desc = str(r[S.DESCRIPTION])
    what = f"policy change '{policy}: {desc}' on {when:%Y-%m-%d}"
    label = f"after {what}" if d >= 0 else f"{-d} period(s) before {what}"
    return when, desc, label
