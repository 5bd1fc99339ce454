"""KPI targets: reading ``params/targets.yaml`` data, resolving each group's target, and met / at risk / missed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import as_columns
from modqa_lib.errors import ConfigError, EstimationError
from modqa_lib.stats.scoring.estimator import (
    STATUS_AT_RISK,
    STATUS_MET,
    STATUS_MISSED,
    _groups,
)

__all__ = [
    "resolve_targets",
    "target_status",
    "targets_data",
]


# ============================================================== targets
def targets_data(targets: Any, what: str) -> Mapping:
    """Check that KPI targets were passed in as data (statistics read no files).

    Parameters
    ----------
    targets : Mapping
        ``params/targets.yaml`` as loaded by :func:`modqa_lib.data.io.load_targets`
        (a report has it as ``scope.targets``), or a dict shaped like it.
    what : str
        The function that needs them, named in the message.

    Returns
    -------
    Mapping
        ``targets`` itself.

    Raises
    ------
    ConfigError
        ``targets=True`` (the old way of asking the statistics to read the file), or not a mapping.
    """
    if targets is True or targets is None or not isinstance(targets, Mapping):
        got = "targets=True would read params/targets.yaml" if targets is True else f"got targets={targets!r}"
        raise ConfigError(
            f"{what}(): {got}; pass the KPI targets as data: targets=scope.targets "
            "(from load_scope) or targets=modqa_lib.data.io.load_targets()"
        )
    return targets


def _accuracy_targets(targets, what: str = "resolve_targets") -> dict:
    targets = targets_data(targets, what)
    acc = targets.get("accuracy", targets)
    if not isinstance(acc, Mapping) or "default" not in acc:
        raise EstimationError("targets: need an 'accuracy' section with a 'default' target (see params/targets.yaml)")
    out = {
        "default": acc["default"],
        "critical_policies": acc.get("critical_policies"),
        "by_vendor": dict(acc.get("by_vendor") or {}),
        "by_policy": dict(acc.get("by_policy") or {}),
    }
    vals = [out["default"], out["critical_policies"], *out["by_vendor"].values(), *out["by_policy"].values()]
    for v in vals:
        if v is not None and not (isinstance(v, (int, float)) and 0 < float(v) <= 1):
            raise EstimationError(f"targets: accuracy target {v!r} is not a number in (0, 1]")
    return out


def resolve_targets(frame: pd.DataFrame, by=None, targets: Mapping | None = None, taxonomy=None) -> pd.DataFrame:
    """The accuracy target of each group: the most specific rule of ``params/targets.yaml``.

    Parameters
    ----------
    frame : DataFrame
        Audit-level frame.
    by : str or list of str, optional
    targets : dict
        ``params/targets.yaml`` as loaded by :func:`modqa_lib.data.io.load_targets`
        (``scope.targets`` in a report), or its ``accuracy`` section.
    taxonomy : Taxonomy, optional
        For the critical policies; default ``params/taxonomy.yaml``.

    Returns
    -------
    DataFrame
        ``by`` columns, ``target``, ``target_source`` in {"policy", "critical_policy",
        "vendor", "default"}.

    Notes
    -----
    Order: ``by_policy`` override, then ``critical_policies`` (any policy marked
    critical in the taxonomy), then ``by_vendor``, then ``default``. A policy rule
    applies only when every audit of the group is under one policy (for example
    ``by`` includes ``policy``); a group spanning several policies gets its vendor
    or the default target, even if some of its audits are on critical policies: score
    ``by=[..., "policy"]`` to hold critical policies to their stricter target.
    Likewise a vendor rule needs a single vendor in the group.
    """
    by = as_columns(by)
    t = _accuracy_targets(targets)
    if taxonomy is None:
        taxonomy = S.load_taxonomy()
    codes, keys = _groups(frame, by)
    G = len(keys)
    target = np.full(G, float(t["default"]))
    source = np.array(["default"] * G, dtype=object)

    def _single(col):
        if col not in frame.columns:
            return np.full(G, None, dtype=object)
        s = frame[col]
        nun = s.groupby(codes).nunique(dropna=False).reindex(range(G)).to_numpy()
        first = s.groupby(codes).first().reindex(range(G)).to_numpy(dtype=object)
        return np.where(nun == 1, first, None)

    vendor = _single(S.VENDOR)
    policy = _single(S.POLICY)
    for i in range(G):
        if vendor[i] is not None and vendor[i] in t["by_vendor"]:
            target[i], source[i] = float(t["by_vendor"][vendor[i]]), "vendor"
        if policy[i] is not None:
            if policy[i] in t["by_policy"]:
                target[i], source[i] = float(t["by_policy"][policy[i]]), "policy"
            elif policy[i] in taxonomy.critical_policies and t["critical_policies"] is not None:
                target[i], source[i] = float(t["critical_policies"]), "critical_policy"
    out = keys.copy()
    out["target"] = target
    out["target_source"] = source.astype(str)
    return out


def target_status(estimate, ci_low, ci_high, target, higher_is_better: bool = True) -> np.ndarray:
    """KPI status per row: "met", "at risk" or "missed".

    Parameters
    ----------
    estimate, ci_low, ci_high, target : array_like
    higher_is_better : bool, default True
        True for accuracy, precision, recall; False for a rate with a ceiling
        (critical-error rate).

    Returns
    -------
    ndarray of str

    Notes
    -----
    For ``higher_is_better``: *missed* when the whole interval lies below the
    target (``ci_high < target``); *met* when the point estimate reaches it
    (``estimate >= target``); *at risk* otherwise (point below, interval still
    reaches the target). Mirrored for a ceiling: *missed* when ``ci_low > target``,
    *met* when ``estimate <= target``.
    """
    e, lo, hi, t = (np.asarray(a, dtype=float) for a in (estimate, ci_low, ci_high, target))
    if higher_is_better:
        missed, met = hi < t, e >= t
    else:
        missed, met = lo > t, e <= t
    return np.where(missed, STATUS_MISSED, np.where(met, STATUS_MET, STATUS_AT_RISK)).astype(object)


def _score_test_less(est, n_eff, target) -> np.ndarray:
    """One-sided score test p-value of H0: p >= target against p < target."""
    est, n_eff, target = (np.asarray(a, dtype=float) for a in (est, n_eff, target))
    sd = np.sqrt(target * (1 - target) / n_eff)
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = (est - target) / sd
    p = stats.norm.cdf(zval)
    p = np.where(sd > 0, p, np.where(est < target, 0.0, 1.0))
    return p
