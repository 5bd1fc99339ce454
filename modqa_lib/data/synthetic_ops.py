"""Operations demo data: queue-entry times, a roster, training records and the operations truths planted in them.

Everything here draws from its own random stream (``default_rng([seed, 1501])``)
after the other demo tables exist, so the decisions, audits and every truth
planted by :mod:`modqa_lib.data.synthetic` stay exactly as they were; the one
existing column it touches is ``handle_time_s`` of the corner-cutting site,
scaled by a constant (no new random draws).

Planted (recorded in ``truth["operations"]``):

- **corner cutting**: Pune (Vendor D) handles items 35% faster than anyone else,
  meeting every AHT target, while its accuracy is among the lowest;
- **weekend SLA breach**: the ``ID-livestream`` queue meets its 10-minute SLA on
  weekdays, but queue waits triple on Saturday and Sunday evenings (18-24 UTC+7),
  so the queue misses its 95% target there;
- **cheap but not per correct decision**: with ``params/rates.yaml``, Vendor D
  (paid per productive hour) is the cheapest per decision because Pune is fast,
  but not per correct decision;
- **go-live readiness**: queue ``PH-live-shopping`` (Vendor A, Cebu) is ready;
  ``DE-live-shopping`` (Vendor C, Lisbon) is not: 3 of its 12 nesting moderators
  have not completed (two) or not passed (one) the required
  ``de-language-nuance`` course.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S

__all__ = ["OPERATIONS_TRUTH", "add_operations"]

_STREAM = 1501
_CUT_SITE, _CUT_FACTOR = "Pune", 0.65
_SLA_QUEUE = "ID-livestream"
_PEAK_DAYS, _PEAK_HOURS_LOCAL, _PEAK_TZ = (5, 6), (18, 24), "Asia/Jakarta"
_PEAK_WAIT_MULT = 3.0
#: median queue wait (seconds) by content type, and its log-normal spread
_WAIT_MEDIAN_S = {"livestream": 150.0, "comment": 1800.0}
_WAIT_MEDIAN_DEFAULT_S = 4 * 3600.0
_WAIT_SIGMA = 0.75
_MACHINE_WAIT_S = 20.0
_COURSES = ("policy-core", "livestream-safety", "de-language-nuance")
_GOLIVE = {
    "PH-live-shopping": {"site": "Cebu", "ready": True},
    "DE-live-shopping": {"site": "Lisbon", "ready": False},
}
_NESTING_PER_QUEUE = 12
_NESTING_WEEKS = 6

OPERATIONS_TRUTH: dict = {
    "corner_cutting_site": {"vendor": "Vendor D", "site": _CUT_SITE, "handle_time_factor": _CUT_FACTOR},
    "sla_breach": {"queue": _SLA_QUEUE, "when": "Saturday and Sunday 18:00-24:00 (Asia/Jakarta)", "target_minutes": 10},
    "cheapest_per_decision_not_per_correct": {"vendor": "Vendor D"},
    "golive": {
        "ready": "PH-live-shopping",
        "not_ready": "DE-live-shopping",
        "reason": "training: 3 of 12 nesting moderators lack a passed de-language-nuance course",
    },
}


def add_operations(tables: dict[str, pd.DataFrame], seed: int, t0: pd.Timestamp) -> tuple[dict, dict]:
    """Add ``reported_at`` to decisions, and the ``roster`` and ``training`` tables.

    Parameters
    ----------
    tables : dict of str to DataFrame
        The demo tables (``decisions`` at least); not modified.
    seed : int
        The demo seed; this module uses the stream ``[seed, 1501]``.
    t0 : Timestamp
        First Monday of the demo period (UTC).

    Returns
    -------
    tables : dict of str to DataFrame
        A new dict: decisions with ``reported_at`` (and Pune's handle times
        scaled), plus ``roster`` and ``training``.
    truth : dict
        :data:`OPERATIONS_TRUTH` plus the realised figures (nesting moderators
        lacking training).
    """
    rng = np.random.default_rng([int(seed), _STREAM])
    dec = tables["decisions"].copy()
    cut = (dec[S.SITE] == _CUT_SITE).to_numpy()
    dec.loc[cut, S.HANDLE_TIME_S] = (dec.loc[cut, S.HANDLE_TIME_S] * _CUT_FACTOR).round(1)
    dec[S.REPORTED_AT] = dec[S.DECIDED_AT] - pd.to_timedelta(_queue_wait_s(dec, rng), unit="s")
    roster, training, lacking = _roster_and_training(dec, rng, t0)
    out = dict(tables)
    out["decisions"] = dec
    out["roster"] = roster
    out["training"] = training
    truth = {**OPERATIONS_TRUTH, "realised": {"nesting_moderators_lacking_training": lacking}}
    return out, truth


def _queue_wait_s(dec: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Seconds between entering the queue and the decision: log-normal by content type, longer at the peak."""
    n = len(dec)
    med = dec[S.CONTENT_TYPE].map(_WAIT_MEDIAN_S).fillna(_WAIT_MEDIAN_DEFAULT_S).to_numpy(dtype=float)
    machine = (dec[S.CHANNEL] == "machine").to_numpy()
    med = np.where(machine, _MACHINE_WAIT_S, med)
    local = dec[S.DECIDED_AT].dt.tz_convert(_PEAK_TZ)
    peak = (
        (dec[S.QUEUE] == _SLA_QUEUE).to_numpy()
        & local.dt.day_of_week.isin(_PEAK_DAYS).to_numpy()
        & (local.dt.hour >= _PEAK_HOURS_LOCAL[0]).to_numpy()
        & ~machine
    )
    med = np.where(peak, med * _PEAK_WAIT_MULT, med)
    return np.round(med * np.exp(_WAIT_SIGMA * rng.standard_normal(n)), 0)


def _roster_and_training(
    dec: pd.DataFrame, rng: np.random.Generator, t0: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    human = dec[dec[S.MODERATOR_ID].notna()]
    first = human.groupby(S.MODERATOR_ID, sort=True).agg(
        vendor=(S.VENDOR, "first"),
        site=(S.SITE, "first"),
        queue=(S.QUEUE, lambda q: q.value_counts().index[0]),
        seen=(S.DECIDED_AT, "min"),
        tenure=(S.MODERATOR_TENURE_DAYS, "min"),
    )
    start = first["seen"] - pd.to_timedelta(first["tenure"].fillna(0).astype(float), unit="D")
    rows = {
        S.MODERATOR_ID: list(first.index),
        S.VENDOR: list(first["vendor"]),
        S.SITE: list(first["site"]),
        S.QUEUE: list(first["queue"]),
        S.VALID_FROM: list(start.dt.floor("D")),
        S.VALID_TO: [pd.NaT] * len(first),
        S.STATUS: ["production"] * len(first),
    }
    tr_mod, tr_course, tr_at, tr_score, tr_pass = [], [], [], [], []
    for m, st in zip(first.index, start):
        tr_mod.append(m)
        tr_course.append(_COURSES[0])
        tr_at.append(st.floor("D") + pd.Timedelta(days=3))
        tr_score.append(round(float(rng.uniform(0.8, 1.0)), 2))
        tr_pass.append(True)
    end = dec[S.DECIDED_AT].max().floor("D")
    nest_from = end - pd.Timedelta(weeks=_NESTING_WEEKS)
    lacking: list[str] = []
    for queue, spec in _GOLIVE.items():
        pool = sorted(first.index[first["site"] == spec["site"]])
        chosen = sorted(rng.choice(pool, size=_NESTING_PER_QUEUE, replace=False).tolist())
        courses = ["livestream-safety"] + (["de-language-nuance"] if queue.startswith("DE-") else [])
        for k, m in enumerate(chosen):
            rows[S.MODERATOR_ID].append(m)
            rows[S.VENDOR].append(first.loc[m, "vendor"])
            rows[S.SITE].append(spec["site"])
            rows[S.QUEUE].append(queue)
            rows[S.VALID_FROM].append(nest_from)
            rows[S.VALID_TO].append(pd.NaT)
            rows[S.STATUS].append("nesting")
            for c in courses:
                missing = not spec["ready"] and c == "de-language-nuance" and k in (2, 7)
                failed = not spec["ready"] and c == "de-language-nuance" and k == 10
                if missing or failed:
                    lacking.append(m)
                if missing:
                    continue
                tr_mod.append(m)
                tr_course.append(c)
                tr_at.append(nest_from + pd.Timedelta(days=int(rng.integers(1, 10))))
                tr_score.append(0.55 if failed else round(float(rng.uniform(0.8, 1.0)), 2))
                tr_pass.append(not failed)
    roster = _typed("roster", rows)
    training = _typed(
        "training",
        {S.MODERATOR_ID: tr_mod, S.COURSE: tr_course, S.COMPLETED_AT: tr_at, S.SCORE: tr_score, S.PASSED: tr_pass},
    )
    return roster, training, sorted(lacking)


def _typed(table: str, cols: dict) -> pd.DataFrame:
    df = pd.DataFrame(cols)
    for col in S.TABLES[table].columns:
        if col.dtype == "datetime":
            df[col.name] = pd.to_datetime(df[col.name], utc=True).astype("datetime64[us, UTC]")
        elif col.dtype == "float":
            df[col.name] = df[col.name].astype("float64")
        elif col.dtype == "bool":
            df[col.name] = df[col.name].astype(bool)
        else:
            df[col.name] = df[col.name].astype("str")
    return df[S.TABLES[table].column_names]
