"""Report tables of the QA-of-QA section: disputes, self-reported vs platform QA, corrected
accuracy, auditors' health, and AC1 with the kappa-paradox warning for calibration.

Each function takes a :class:`~modqa_lib.data.scope.Scope` and returns a tidy frame ready
for :func:`modqa_lib.report.tables.show` (identifier-safe columns; percentages are
formatted there). Vendor-facing tables never carry other vendors' names and show auditor
ids only as keyed pseudonyms. When an optional table (``disputes``, ``vendor_qa``,
``golden``) was not supplied, they return an empty frame and :func:`missing_note` says why.
"""

from __future__ import annotations

import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.data.io import load_targets
from modqa_lib.data.scope import Scope
from modqa_lib.errors import EstimationError
from modqa_lib.report.privacy import pseudonymise
from modqa_lib.stats.agreement.coefficients import brennan_prediger, gwet_ac1, kappa_paradox
from modqa_lib.stats.qaqa import (
    accuracy_after_disputes,
    auditor_error_rates,
    auditor_overturn_flags,
    corrected_error_rates,
    dispute_rates,
    dispute_resolution_times,
    vendor_reported_accuracy,
    vendor_vs_platform,
)

__all__ = [
    "accuracy_after_disputes_table",
    "auditor_health_table",
    "calibration_ac1_table",
    "calibration_pack_table",
    "case_study_markdown",
    "consolidated_self_reported_table",
    "corrected_accuracy_table",
    "dispute_summary_table",
    "dispute_times_table",
    "missing_note",
    "self_reported_table",
]


def _has(scope: Scope, name: str) -> bool:
    return name in scope.tables and len(scope.tables[name]) > 0


def missing_note(scope: Scope, name: str) -> str:
    """Plain-words note for an optional table that was not supplied (empty string when it was)."""
    if _has(scope, name):
        return ""
    return f"No {name} table in the data (optional: give {name}.csv in data/raw and re-run ingest)."


def _own_disputes(scope: Scope, audits: pd.DataFrame) -> pd.DataFrame:
    d = scope.tables["disputes"]
    return d[d[S.AUDIT_ID].isin(audits[S.AUDIT_ID])]


def dispute_summary_table(scope: Scope, audits: pd.DataFrame, by=S.SITE, alpha: float = 0.05) -> pd.DataFrame:
    """Dispute rate, overturn rate (with CIs) and accuracy after resolved disputes, per ``by``.

    Parameters
    ----------
    scope : Scope
    audits : DataFrame
        The audits the report may show (e.g. ``own`` from :func:`modqa_lib.report.tables.vendor_audits`).
    by : str or list of str, default "site"
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        The columns of :func:`modqa_lib.stats.qaqa.dispute_rates` plus ``accuracy_audited``,
        ``accuracy_after`` and ``difference`` with its ``diff_ci_low``, ``diff_ci_high``
        (design-weighted, from :func:`modqa_lib.stats.qaqa.accuracy_after_disputes`).
        Empty when there is no disputes table or no error verdict.
    """
    if not _has(scope, "disputes") or audits.empty:
        return pd.DataFrame()
    d = _own_disputes(scope, audits)
    try:
        r = dispute_rates(audits, d, by=by, alpha=alpha)
    except EstimationError:
        return pd.DataFrame()
    acc = accuracy_after_disputes(audits, d, by=by, alpha=alpha)
    acc = acc.rename(columns={S.CI_LOW: "diff_ci_low", S.CI_HIGH: "diff_ci_high"})
    keys = [by] if isinstance(by, str) else list(by)
    return r.merge(
        acc[[*keys, "accuracy_audited", "accuracy_after", "difference", "diff_ci_low", "diff_ci_high"]],
        on=keys,
        how="left",
    )


def accuracy_after_disputes_table(scope: Scope, audits: pd.DataFrame, by=S.SITE, alpha: float = 0.05) -> pd.DataFrame:
    """Accuracy as audited and after resolved disputes, with the paired difference, per ``by``.

    Returns
    -------
    DataFrame
        The columns of :func:`modqa_lib.stats.qaqa.accuracy_after_disputes`. Empty without a
        disputes table.
    """
    if not _has(scope, "disputes") or audits.empty:
        return pd.DataFrame()
    return accuracy_after_disputes(audits, _own_disputes(scope, audits), by=by, alpha=alpha)


def dispute_times_table(scope: Scope, audits: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Median and 90th-percentile days to resolve the disputes of these audits, against the target.

    Returns
    -------
    DataFrame
        One row: the columns of :func:`modqa_lib.stats.qaqa.dispute_resolution_times`. Empty
        without a disputes table.
    """
    if not _has(scope, "disputes") or audits.empty:
        return pd.DataFrame()
    d = _own_disputes(scope, audits)
    if d.empty:
        return pd.DataFrame()
    return dispute_resolution_times(d, by=None, targets=load_targets(), alpha=alpha)


def auditor_health_table(
    scope: Scope, audits: pd.DataFrame, alpha: float = 0.05, pseudonymised: bool = True
) -> pd.DataFrame:
    """The auditors who scored these audits: specificity on gold and overturns in disputes, pseudonymised.

    Returns
    -------
    DataFrame
        One row per auditor (pseudonym ``QA-xxxxxxxx``): ``auditor_id``, ``n_right``
        (golden items whose decision was right), ``false_alarms``, ``specificity`` with
        ``sp_ci_low``, ``sp_ci_high``, ``low_specificity`` (flag, BH over auditors), and from
        disputes ``n_resolved``, ``overturn_rate`` with ``ci_low``, ``ci_high``,
        ``overturned_more`` (flag, BH). Only auditors who audited ``audits`` are listed.
    """
    out = pd.DataFrame()
    ids = pd.Series(audits[S.AUDITOR_ID].dropna().unique()) if len(audits) else pd.Series([], dtype=object)
    if _has(scope, "golden") and len(scope.golden_audits):
        ga = _golden_with_labels(scope, pseudonymised)
        ar = auditor_error_rates(ga, scope.tables["golden"], alpha=alpha)
        ar = ar[ar[S.AUDITOR_ID] != "ALL"]
        out = ar[[S.AUDITOR_ID, "n_right", "false_alarms", "specificity", "sp_ci_low", "sp_ci_high", "flag"]].rename(
            columns={"flag": "low_specificity"}
        )
    if _has(scope, "disputes") and len(audits):
        try:
            fl = auditor_overturn_flags(audits, _own_disputes(scope, audits), alpha=alpha)
        except EstimationError:
            fl = pd.DataFrame()
        if len(fl):
            fl = fl[[S.AUDITOR_ID, "n_resolved", "overturn_rate", S.CI_LOW, S.CI_HIGH, "flag"]].rename(
                columns={"flag": "overturned_more"}
            )
            out = fl if out.empty else out.merge(fl, on=S.AUDITOR_ID, how="outer")
    if out.empty:
        return out
    out = out[out[S.AUDITOR_ID].isin(ids)]
    for c in ("low_specificity", "overturned_more"):
        if c in out:
            out[c] = out[c].astype("boolean").fillna(False).astype(bool)
    return out.sort_values(S.AUDITOR_ID).reset_index(drop=True)


def _golden_with_labels(scope: Scope, pseudonymised: bool) -> pd.DataFrame:
    """Golden audits with the decision label; auditors pseudonymised like ``vendor_audits`` does."""
    ga = scope.golden_audits
    if S.LABEL not in ga.columns:
        dec = scope.tables["decisions"][[S.DECISION_ID, S.LABEL]]
        ga = ga.merge(dec, on=S.DECISION_ID, how="inner")
    if pseudonymised:
        where = getattr(scope, "processed_dir", None)  # the key vendor_audits uses
        ga = ga.assign(**{S.AUDITOR_ID: pseudonymise(ga[S.AUDITOR_ID], prefix="QA", processed_dir=where)})
    return ga


def corrected_accuracy_table(
    scope: Scope, audits: pd.DataFrame, by=S.SITE, alpha: float = 0.05, pseudonymised: bool = True
) -> pd.DataFrame:
    """Accuracy as audited beside accuracy corrected for the auditors' errors (Rogan-Gladen), per ``by``.

    Returns
    -------
    DataFrame
        ``by``, ``n``, ``accuracy`` with ``ci_low``, ``ci_high`` (as audited, design-weighted),
        ``corrected_accuracy`` with ``corrected_ci_low``, ``corrected_ci_high``,
        ``difference`` (corrected minus audited), ``sensitivity``, ``specificity`` (the
        group's auditor mix), ``top_auditors`` (pseudonyms of the auditors whose false alarms
        weigh most), ``note`` (why a correction is undefined, or "not estimable: no golden
        items for policy X" when ``by`` includes policy). Empty without golden audits.
    """
    if not _has(scope, "golden") or scope.golden_audits.empty or audits.empty:
        return pd.DataFrame()
    ga = _golden_with_labels(scope, pseudonymised)
    ar = auditor_error_rates(ga, scope.tables["golden"], alpha=alpha)
    aud = audits
    c = corrected_error_rates(aud, ar, by=by, alpha=alpha, golden=scope.tables["golden"])
    keys = [by] if isinstance(by, str) else list(by)
    out = c[keys].copy()
    out[S.N] = c[S.N]
    out[S.ACCURACY] = 1 - c[S.ERROR_RATE]
    out[S.CI_LOW], out[S.CI_HIGH] = 1 - c["audited_ci_high"], 1 - c["audited_ci_low"]
    out["corrected_accuracy"] = 1 - c["corrected_error_rate"]
    out["corrected_ci_low"], out["corrected_ci_high"] = 1 - c[S.CI_HIGH], 1 - c[S.CI_LOW]
    out["difference"] = out["corrected_accuracy"] - out[S.ACCURACY]
    out["sensitivity"], out["specificity"] = c["sensitivity"], c["specificity"]
    out["top_auditors"], out["note"] = c["top_auditors"], c["note"]
    return out


def self_reported_table(scope: Scope, audits: pd.DataFrame, by=S.SITE, alpha: float = 0.05) -> pd.DataFrame:
    """The vendor's self-reported QA against the platform's re-audit, per ``by``.

    Returns
    -------
    DataFrame
        ``by``; ``n_vendor``, ``vendor_accuracy`` (all the vendor's own audits) with its CI;
        ``platform_accuracy`` (design-weighted) with its CI; ``n_pairs`` (decisions both
        audited), ``difference`` (vendor minus platform on those) with ``ci_low``,
        ``ci_high``, ``q_value``, ``kappa`` and ``gwet_ac1`` with their CIs, ``flag`` (significantly inflated)
        , ``message`` and ``note``. Empty without a vendor_qa table. Only vendor audits of decisions by
        the vendors in ``audits`` are used. Platform audits by auditors flagged for low
        specificity on golden items are left out (their false alarms would make the vendor
        look inflated), and ``note`` names them.
    """
    if not _has(scope, "vendor_qa") or audits.empty:
        return pd.DataFrame()
    keys = [by] if isinstance(by, str) else list(by)
    low = _low_specificity_auditors(scope, alpha)
    left_out = audits[S.AUDITOR_ID].isin(low)
    note = ""
    if left_out.any() and not left_out.all():
        shown = sorted({str(x) for x in audits.loc[left_out, S.AUDITOR_ID]})
        note = (
            f"platform audits by {', '.join(shown)} left out: low specificity on golden items "
            "(calls right decisions errors), which would make the vendor's own QA look inflated"
        )
        audits = audits[~left_out]
    dec = scope.tables["decisions"]
    theirs = dec.loc[dec[S.VENDOR].isin(audits[S.VENDOR].unique()), S.DECISION_ID]
    vq = scope.tables["vendor_qa"]
    vq = vq[vq[S.DECISION_ID].isin(theirs)]  # a vendor's report never sees another vendor's QA
    if vq.empty:
        return pd.DataFrame()
    rep = vendor_reported_accuracy(vq, scope.tables["decisions"], audits, by=keys, alpha=alpha)
    rep = rep[rep[keys].apply(tuple, axis=1).isin(audits[keys].drop_duplicates().apply(tuple, axis=1))]
    try:
        pair = vendor_vs_platform(vq, audits, by=keys, alpha=alpha)
    except EstimationError:  # no decision audited by both: the paired columns stay empty
        pair = pd.DataFrame(columns=[*keys, "n_pairs"])
    cols = [
        *keys,
        "n_pairs",
        "difference",
        S.CI_LOW,
        S.CI_HIGH,
        S.Q_VALUE,
        "kappa",
        "kappa_ci_low",
        "kappa_ci_high",
        "gwet_ac1",
        "ac1_ci_low",
        "ac1_ci_high",
        "flag",
        "message",
    ]
    out = rep[
        [
            *keys,
            "n_vendor",
            "vendor_accuracy",
            "vendor_ci_low",
            "vendor_ci_high",
            "platform_accuracy",
            "platform_ci_low",
            "platform_ci_high",
        ]
    ].merge(pair.reindex(columns=cols), on=keys, how="left")
    out["note"] = note
    return out.reset_index(drop=True)


def _low_specificity_auditors(scope: Scope, alpha: float) -> set:
    """Auditors flagged for low specificity on gold, by id and by pseudonym (empty without gold)."""
    if not _has(scope, "golden") or scope.golden_audits.empty:
        return set()
    try:
        ar = auditor_error_rates(_golden_with_labels(scope, False), scope.tables["golden"], alpha=alpha)
    except EstimationError:
        return set()
    ids = [x for x in ar.loc[ar["flag"], S.AUDITOR_ID] if x != "ALL"]
    if not ids:
        return set()
    where = getattr(scope, "processed_dir", None)
    return set(ids) | set(pseudonymise(pd.Series(ids), prefix="QA", processed_dir=where))


def consolidated_self_reported_table(scope: Scope, alpha: float = 0.05) -> pd.DataFrame:
    """Every vendor's self-reported accuracy against the platform's (leadership view: names in the clear).

    Returns
    -------
    DataFrame
        As :func:`self_reported_table`, one row per vendor (machine decisions excluded).
    """
    aud = scope.all_audits
    aud = aud[aud[S.VENDOR] != "Platform"]
    return self_reported_table(scope, aud, by=S.VENDOR, alpha=alpha)


def calibration_ac1_table(votes: pd.DataFrame, by: str | None = None, categories=None) -> pd.DataFrame:
    """Gwet's AC1 and Brennan-Prediger beside kappa, with the kappa-paradox warning, per ``by``.

    Parameters
    ----------
    votes : DataFrame
        Calibration votes (``item_id``, ``rater_id``, ``label``).
    by : str, optional
        E.g. ``"session_id"``; None: all votes.
    categories : sequence, optional
        Every possible label (default: the taxonomy's labels when every vote uses them, else the labels seen).

    Returns
    -------
    DataFrame
        ``by``; ``percent_agreement``; ``kappa``; ``gwet_ac1`` with ``ac1_ci_low``,
        ``ac1_ci_high``; ``brennan_prediger``; ``paradox``; ``message``.
    """
    if categories is None:  # the taxonomy's labels, unless the votes use another scheme (e.g. crowd data)
        tax = list(S.load_taxonomy().labels)
        categories = tax if set(votes[S.LABEL].dropna()) <= set(tax) else None
    cats = list(categories) if categories is not None else None
    groups = votes.groupby(by, sort=True) if by else [(None, votes)]
    rows = []
    for key, g in groups:
        try:
            a = gwet_ac1(g, categories=cats).iloc[0]
            b = brennan_prediger(g, categories=cats).iloc[0]
            kp = kappa_paradox(g, categories=cats).iloc[0]
        except EstimationError:
            continue
        row = {} if by is None else {by: key}
        row.update(
            {
                "percent_agreement": kp["percent_agreement"],
                "kappa": kp["kappa"],
                "gwet_ac1": a["estimate"],
                "ac1_ci_low": a[S.CI_LOW],
                "ac1_ci_high": a[S.CI_HIGH],
                "brennan_prediger": b["estimate"],
                "paradox": bool(kp["paradox"]),
                "message": kp["message"],
            }
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        out["paradox"] = out["paradox"].astype(bool)
    return out


def calibration_pack_table(scope: Scope, vendor: str, policy: str = "", size: int = 30, seed: int = 0) -> pd.DataFrame:
    """The calibration pack of ``vendor`` from a scope (see :func:`modqa_lib.stats.qaqa.calibration_pack`).

    Parameters
    ----------
    scope : Scope
        Loaded for the vendor (its audits) or for everything.
    vendor : str
    policy : str, default ""
        "" or "ALL" for every policy.
    size : int, default 30
    seed : int, default 0

    Returns
    -------
    DataFrame
        Columns :data:`modqa_lib.stats.qaqa.PACK_COLUMNS`; no moderator or auditor ids.
    """
    from modqa_lib.stats.qaqa import calibration_pack

    pol = None if policy in ("", "ALL", None) else policy
    golden = scope.table("golden") if _has(scope, "golden") else None
    cal = scope.table("calibration") if _has(scope, "calibration") else None
    return calibration_pack(
        scope.audits,
        vendor,
        calibration=cal,
        golden=golden,
        decisions=scope.tables["decisions"],
        actions=scope.table("actions"),
        golden_audits=scope.golden_audits,
        policy=pol,
        size=int(size),
        seed=int(seed),
    )


def case_study_markdown(case: pd.Series | dict):
    """One case of the booklet as escaped Markdown (every value from the data is escaped)."""
    from modqa_lib.report.export import safe_markdown

    def txt(v) -> str:
        return "—" if v is None or (not isinstance(v, str) and pd.isna(v)) or v == "" else str(v)

    wrong = case.get("share_wrong")
    wrong_txt = "—" if wrong is None or pd.isna(wrong) else f"{float(wrong):.0%} of {int(case.get('n_rated') or 0):,}"
    return safe_markdown(
        "### Case {no}: {policy} ({ctype})\n\n"
        "- **Why it is here:** {why}\n"
        "- **Item:** {item}\n"
        "- **Decision:** {decision}  ·  **Correct label:** {correct}\n"
        "- **Root cause:** {cause}\n"
        "- **SOP clarification on record:** {sop}\n"
        "- **How often raters got it wrong:** {wrong}\n",
        no=int(case.get("case_no")),
        policy=txt(case.get(S.POLICY)),
        ctype=txt(case.get(S.CONTENT_TYPE)),
        why=txt(case.get("why")),
        item=txt(case.get(S.ITEM_ID)),
        decision=txt(case.get("decision_label")),
        correct=txt(case.get("correct_label")),
        cause=txt(S.load_taxonomy().root_cause_names.get(case.get(S.ROOT_CAUSE), case.get(S.ROOT_CAUSE))),
        sop=txt(case.get("sop_clarification")),
        wrong=wrong_txt,
    )
