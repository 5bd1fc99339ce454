"""Go-live readiness of a new queue: capacity, training, quality in nesting, configuration.

Each check returns a line of a checklist with its evidence, so the launch
meeting sees *why* a queue is or is not ready. Quality is judged by the lower
end of the confidence interval (Wilson, design-weighted through
:func:`modqa_lib.stats.scoring.accuracy_table`), never by a point estimate: a
queue passes only when the data show it reaches the target.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.errors import ConfigError
from modqa_lib.stats.scoring import accuracy_table

__all__ = ["READINESS_KEYS", "golive_config", "readiness_checklist"]

PASS, FAIL = "pass", "fail"
#: keys of one queue in ``params/golive.yaml`` and whether each is required
READINESS_KEYS: dict[str, bool] = {
    "vendor": True,
    "site": False,
    "content_type": True,
    "policies": True,
    "forecast_weekly_volume": True,
    "productive_hours_per_week": True,
    "required_courses": True,
    "nesting_accuracy_target": True,
}


def golive_config(golive: Mapping, queue: str) -> dict:
    """The checked configuration of one queue from ``params/golive.yaml``.

    Parameters
    ----------
    golive : mapping
        The parsed ``params/golive.yaml`` (``queues:`` mapping).
    queue : str
        Queue name.

    Returns
    -------
    dict

    Raises
    ------
    ConfigError
        Unknown queue (naming the configured ones), unknown or missing keys, wrong types.
    """
    queues = dict((golive or {}).get("queues") or {})
    if queue not in queues:
        raise ConfigError(
            f"params/golive.yaml: queue {queue!r} is not configured for go-live "
            f"(configured: {', '.join(sorted(queues)) or 'none'})"
        )
    cfg = dict(queues[queue] or {})
    unknown = sorted(set(cfg) - set(READINESS_KEYS))
    missing = sorted(k for k, req in READINESS_KEYS.items() if req and k not in cfg)
    if unknown or missing:
        raise ConfigError(
            f"params/golive.yaml: queue {queue!r}: "
            + "; ".join(
                ([f"unknown key(s) {', '.join(unknown)}"] if unknown else [])
                + ([f"missing key(s) {', '.join(missing)}"] if missing else [])
            )
        )
    for k in ("forecast_weekly_volume", "productive_hours_per_week", "nesting_accuracy_target"):
        if not isinstance(cfg[k], (int, float)) or cfg[k] <= 0:
            raise ConfigError(f"params/golive.yaml: queue {queue!r}: {k} must be a positive number")
    if not 0 < cfg["nesting_accuracy_target"] < 1:
        raise ConfigError(f"params/golive.yaml: queue {queue!r}: nesting_accuracy_target must be in (0, 1)")
    for k in ("policies", "required_courses"):
        if not isinstance(cfg[k], list) or not all(isinstance(x, str) for x in cfg[k]):
            raise ConfigError(f"params/golive.yaml: queue {queue!r}: {k} must be a list of names")
    return cfg


def _line(check: str, ok: bool, evidence: str) -> dict:
    return {"check": check, "status": PASS if ok else FAIL, "evidence": evidence}


def readiness_checklist(
    queue: str,
    cfg: Mapping,
    roster: pd.DataFrame,
    training: pd.DataFrame,
    audits: pd.DataFrame,
    targets: Mapping,
    report_units: Mapping | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Pass/fail checklist for a queue before launch, with the evidence for each line.

    Parameters
    ----------
    queue : str
        The queue going live.
    cfg : mapping
        Its configuration (:func:`golive_config`).
    roster : DataFrame
        The ``roster`` table (moderators rostered on queues).
    training : DataFrame
        The ``training`` table.
    audits : DataFrame
        Non-golden audits joined to decisions (to judge the nesting moderators' quality).
    targets : mapping
        ``params/targets.yaml`` (accuracy targets, ``operations`` section).
    report_units : mapping, optional
        ``{"vendors": [...]}`` units the batch reports on (``params/vendors.yaml``);
        checks that reporting is configured for the vendor.
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        One row per check: ``check``, ``status`` ("pass" or "fail"), ``evidence``.
        The queue is ready when every status is "pass".

    Notes
    -----
    Capacity needed (hours a week) = forecast weekly volume × AHT target (seconds,
    for the queue's content type) / 3600; capacity rostered = rostered moderators ×
    productive hours per moderator a week. Nesting quality: the design-weighted
    accuracy of the rostered moderators' audited decisions on the queue's policies
    since their assignment started; the check passes when the lower end of its
    ``1 - alpha`` interval reaches ``nesting_accuracy_target``.
    """
    ops = dict((targets or {}).get("operations") or {})
    on_q = roster[roster[S.QUEUE] == queue]
    mods = sorted(on_q[S.MODERATOR_ID].astype(str).unique())
    rows = []

    # 1. capacity
    aht = dict(ops.get("aht_s") or {})
    aht_s = aht.get(cfg["content_type"], aht.get("default"))
    if aht_s is None:
        rows.append(_line("capacity", False, "no AHT target for the queue's content type in params/targets.yaml"))
    else:
        need = cfg["forecast_weekly_volume"] * float(aht_s) / 3600.0
        have = len(mods) * float(cfg["productive_hours_per_week"])
        rows.append(
            _line(
                "capacity",
                have >= need,
                f"{len(mods)} moderators rostered × {cfg['productive_hours_per_week']:g} h = {have:,.0f} h a week; "
                f"needed {cfg['forecast_weekly_volume']:,} decisions × {float(aht_s):g} s = {need:,.0f} h",
            )
        )

    # 2. training
    passed = training[training[S.PASSED].astype(bool)]
    lacking = []
    for m in mods:
        done = set(passed.loc[passed[S.MODERATOR_ID].astype(str) == m, S.COURSE].astype(str))
        miss = [c for c in cfg["required_courses"] if c not in done]
        if miss:
            lacking.append((m, miss))
    if not mods:
        rows.append(_line("training", False, "no moderator is rostered on the queue"))
    else:
        detail = "; ".join(f"{m}: {', '.join(c)}" for m, c in lacking[:10])
        rows.append(
            _line(
                "training",
                not lacking,
                f"{len(mods) - len(lacking)} of {len(mods)} rostered moderators completed and passed "
                f"{', '.join(cfg['required_courses'])}" + (f"; missing or not passed: {detail}" if lacking else ""),
            )
        )

    # 3. quality during nesting
    start = pd.to_datetime(on_q[S.VALID_FROM], utc=True).min() if len(on_q) else pd.NaT
    sel = audits[
        audits[S.MODERATOR_ID].astype(str).isin(mods)
        & audits[S.POLICY].isin(cfg["policies"])
        & (pd.to_datetime(audits[S.DECIDED_AT], utc=True) >= start if pd.notna(start) else False)
    ]
    target = float(cfg["nesting_accuracy_target"])
    if sel.empty:
        rows.append(
            _line("nesting quality", False, "no audited decisions of the rostered moderators since nesting began")
        )
    else:
        acc = accuracy_table(
            sel,
            weights=S.WEIGHT if S.WEIGHT in sel else None,
            alpha=alpha,
            strata=S.STRATUM if S.STRATUM in sel else None,
        ).iloc[0]
        level = round(100 * (1 - alpha))
        rows.append(
            _line(
                "nesting quality",
                bool(acc["ci_low"] >= target),
                f"accuracy {acc['accuracy']:.1%} ({level}% CI {acc['ci_low']:.1%}–{acc['ci_high']:.1%}; "
                f"n = {int(acc['n']):,} audits on {', '.join(cfg['policies'])}, design-weighted) "
                f"vs target {target:.0%} by the lower bound",
            )
        )

    # 4. configuration
    problems = []
    if not (ops.get("sla") or {}).get(cfg["content_type"]) and not (ops.get("sla") or {}).get("default"):
        problems.append("no SLA target")
    acc_t = dict((targets or {}).get("accuracy") or {})
    if "default" not in acc_t:
        problems.append("no accuracy target")
    vendors = (report_units or {}).get("vendors")
    if vendors is not None and cfg["vendor"] not in vendors:
        problems.append(f"{cfg['vendor']} has no scorecard configured")
    rows.append(
        _line(
            "targets and reports configured",
            not problems,
            "; ".join(problems)
            if problems
            else f"SLA, AHT and accuracy targets set for {cfg['content_type']}; {cfg['vendor']} scorecard configured",
        )
    )
    out = pd.DataFrame(rows)
    out.attrs["ready"] = bool((out["status"] == PASS).all())
    out.attrs["queue"] = queue
    out.attrs["moderators"] = int(len(mods))
    return out
