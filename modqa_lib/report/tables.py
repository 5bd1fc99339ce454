"""Building blocks of the report notebooks: headers, formatted tables, scoped views.

Notebooks stay thin: they call these functions and the statistics modules, and
show the results. Everything user-generated that reaches a report passes
through :mod:`modqa_lib.report.export`'s escaping helpers here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.data.scope import Scope
from modqa_lib.report.export import safe_markdown, safe_table
from modqa_lib.report.privacy import anonymise_peers, pseudonymise
from modqa_lib.stats import drift as drift_cols
from modqa_lib.stats import effects as effect_cols
from modqa_lib.stats.scoring import accuracy_table, kpi_status, severity_table

__all__ = [
    "PLATFORM",
    "actions_in_scope",
    "header",
    "headline",
    "headline_figures",
    "human_audits",
    "peer_table",
    "pseudonymised_golden",
    "rate_text",
    "show",
    "vendor_audits",
]

PLATFORM = "Platform"  # vendor value of machine decisions (site "model")

_PCT_WORDS = (
    "accuracy",
    "rate",
    "share",
    "ci_low",
    "ci_high",
    "precision",
    "recall",
    "f1",
    "fpr",
    "fnr",
    "gap",
    "target",
    "diff",
    "did",
    "estimate",
    "score",
    "prevalence",
    "agreement",
    "lift_pct",
    "cum_share",
    "p_best",
    "p_worst",
    "before",
    "after",
    "level_change",
)


def header(title: str, scope: Scope | None = None, subtitle: str = ""):
    """What the report covers: unit, period, n, data fingerprint, generation time (escaped).

    The notebook's first markdown cell is the title; batch HTML exports add a
    header block of their own above it.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if scope is None:
        return safe_markdown("**{title}** · {subtitle} · **Generated:** {now}", title=title, subtitle=subtitle, now=now)
    return safe_markdown(
        "**{title}** · **Period:** {period} · **Audited decisions:** {n} · "
        "**Data fingerprint:** {fp} · **Generated:** {now}" + (" · {subtitle}" if subtitle else ""),
        title=title,
        period=scope.period_label,
        n=f"{len(scope.audits):,}",
        fp=scope.fingerprint,
        now=now,
        subtitle=subtitle,
    )


def rate_text(estimate: float, ci_low: float, ci_high: float, n: int, alpha: float = 0.05) -> str:
    """ "93.7% (95% CI 92.2–95.0%; n = 1,210)": a rate as a reader should always see it."""
    if n == 0 or not np.isfinite(estimate):
        return f"no estimate (n = {int(n):,})"
    return f"{estimate:.1%} ({1 - alpha:.0%} CI {ci_low:.1%}–{ci_high:.1%}; n = {int(n):,})"


def _is_pct(col: str) -> bool:
    c = col.lower()
    if c == "n" or c.startswith(("n_", "n ")) or c.endswith(("_n", "n_eff")) or "p_value" in c or "q_value" in c:
        return False
    return any(w in c for w in _PCT_WORDS) and c not in ("weight_sum",)


def _pct(v) -> str:
    """1 decimal, or 2 below 1% (critical-error rates live there)."""
    if pd.isna(v):
        return ""
    return f"{v:.2%}" if abs(v) < 0.01 and v != 0 else f"{v:.1%}"


def show(
    df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    pct: Iterable[str] | None = None,
    caption: str | None = None,
    max_rows: int = 40,
    hide_index: bool = True,
    empty: str = "No rows: nothing in this period meets the criteria.",
):
    """An escaped, formatted table for a report.

    Percent-like columns (accuracy, rates, CIs, shares...) are shown as
    percentages, counts with thousands separators, p/q-values in scientific
    notation when small. Values, labels and caption are HTML-escaped.

    Parameters
    ----------
    df : DataFrame
    columns : list of str, optional
        Columns to keep, in order.
    rename : mapping, optional
        Display names for columns (applied after formatting is decided).
    pct : iterable of str, optional
        Columns to show as percentages (default: guessed from their names).
    max_rows : int, default 40
        Reports never dump raw data: longer tables are cut with a note.
    empty : str
        Shown (escaped, in italics) instead of an empty table.
    """
    if df.empty:
        return safe_markdown("*{msg}*", msg=empty)
    t = df.loc[:, list(columns)] if columns is not None else df
    note = None
    if len(t) > max_rows:
        note = f"first {max_rows} of {len(t):,} rows"
        t = t.head(max_rows)
    pct_cols = (
        set(pct)
        if pct is not None
        else {  # counts are never percentages
            c for c in t.columns if _is_pct(str(c)) and pd.api.types.is_float_dtype(t[c])
        }
    )
    fmt: dict[str, object] = {}
    for c in t.columns:
        s = t[c]
        if c in pct_cols and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            fmt[c] = _pct
        elif str(c) in (S.P_VALUE, S.Q_VALUE) or str(c).endswith(("p_value", "q_value")):
            fmt[c] = lambda v: "" if pd.isna(v) else (f"{v:.1e}" if v < 0.001 else f"{v:.3f}")
        elif pd.api.types.is_integer_dtype(s):
            fmt[c] = lambda v: "" if pd.isna(v) else f"{int(v):,}"
        elif pd.api.types.is_float_dtype(s):
            fmt[c] = lambda v: "" if pd.isna(v) else f"{v:,.2f}"
        elif pd.api.types.is_datetime64_any_dtype(s):
            fmt[c] = lambda v: "" if pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d}"
    if rename:
        t = t.rename(columns=dict(rename))
        fmt = {rename.get(k, k): v for k, v in fmt.items()}
    cap = caption if note is None else f"{caption + ' · ' if caption else ''}{note}"
    return safe_table(t, formatter=fmt, na_rep="", caption=cap, hide_index=hide_index)


def human_audits(audits: pd.DataFrame) -> pd.DataFrame:
    """Audits of decisions made by people (human and HITL), i.e. without pure machine decisions."""
    return audits[audits[S.VENDOR] != PLATFORM]


def vendor_audits(scope: Scope, vendor: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The audits a vendor's report may show: its own (moderators pseudonymised) and all, peers anonymised.

    Returns
    -------
    own : DataFrame
        The scope's audits with ``moderator_id`` replaced by keyed pseudonyms.
    peers : DataFrame
        Every vendor's human audits in the period, other vendors renamed
        "Peer A/B/..." with their sites renamed and moderator ids dropped.
    """
    own = scope.audits.copy()
    own[S.MODERATOR_ID] = pseudonymise(own[S.MODERATOR_ID])
    own[S.AUDITOR_ID] = pseudonymise(own[S.AUDITOR_ID], prefix="QA")
    peers = anonymise_peers(human_audits(scope.all_audits), vendor).drop(columns=[S.AUDITOR_ID])
    return own, peers


def pseudonymised_golden(golden_audits: pd.DataFrame) -> pd.DataFrame:
    """Golden audits with auditor ids pseudonymised (vendor-facing reports)."""
    out = golden_audits.copy()
    out[S.AUDITOR_ID] = pseudonymise(out[S.AUDITOR_ID], prefix="QA")
    return out


def headline(audits: pd.DataFrame, alpha: float = 0.05, targets=True) -> pd.DataFrame:
    """One row: design-weighted accuracy vs target, and the critical-error rate, each with n and CI."""
    acc = kpi_status(audits, by=None, weights=S.WEIGHT, alpha=alpha, targets=targets)
    sev = severity_table(audits, by=None, weights=S.WEIGHT, alpha=alpha)
    row = acc.iloc[[0]].reset_index(drop=True)
    for c in ("critical_rate", "critical_ci_low", "critical_ci_high"):
        if c not in row and c in sev:
            row[c] = sev[c].iloc[0]
    return row


def peer_table(peers: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Accuracy per (anonymised) vendor with CI, for a vendor's peer comparison."""
    return (
        accuracy_table(peers, by=[S.VENDOR], weights=S.WEIGHT, alpha=alpha, targets=True)
        .sort_values(S.VENDOR)
        .reset_index(drop=True)
    )


def actions_in_scope(actions: pd.DataFrame, vendor: str | None = None, market: str | None = None) -> pd.DataFrame:
    """Corrective actions a unit's report may show: its own and global ones, never another vendor's."""
    a = actions
    if vendor:
        a = a[a[S.VENDOR].isna() | (a[S.VENDOR] == vendor)]
    if market:
        a = a[a[S.MARKET].isna() | (a[S.MARKET] == market)]
    return a.reset_index(drop=True)


def headline_figures(row: pd.Series | Mapping, **extra) -> dict:
    """Flat dict of headline numbers for :func:`modqa_lib.run.batch.record_headline`."""
    keys = (
        "n",
        "accuracy",
        "ci_low",
        "ci_high",
        "target",
        "status",
        "critical_rate",
        "critical_ci_low",
        "critical_ci_high",
    )
    out = {k: row[k] for k in keys if k in row}
    out.update(extra)
    return out


def calibration_scope(calibration: pd.DataFrame, source: str) -> str:
    """One line saying what a calibration report covers."""
    what = {
        "demo": "calibration sessions",
        "davidson2017": "Davidson et al. (2017) crowd labels (real data; tweets not shown)",
    }.get(source, source)
    return (
        f"Source: {what}. {calibration[S.SESSION_ID].nunique():,} session(s), "
        f"{calibration[S.ITEM_ID].nunique():,} items, {len(calibration):,} ratings, "
        f"{calibration[S.RATER_ID].nunique():,} rater ids."
    )


__all__ += ["calibration_scope"]


def with_cause_names(table: pd.DataFrame, column: str = S.ROOT_CAUSE) -> pd.DataFrame:
    """Copy with root-cause codes replaced by their taxonomy names ("Fatigue / attention")."""
    if column not in table:
        return table
    names = S.load_taxonomy().root_cause_names
    out = table.copy()
    out[column] = out[column].map(lambda c: names.get(c, c))
    return out


__all__ += ["with_cause_names"]


def interval_text(
    estimate: float, ci_low: float, ci_high: float, points: bool = False, decimals: int | None = None
) -> str:
    """ "87.2% (80.1–92.3%)", or "+21.6 pts (14.5 to 28.6)" for a difference; "" when missing.

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        A proportion (or a difference of proportions) and its interval.
    points : bool, default False
        Show a difference in percentage points with its sign.
    decimals : int, optional
        Show a plain number with this many decimals instead (kappa, alpha).
    """
    if estimate is None or not np.isfinite(estimate):
        return ""
    if decimals is not None:
        est = f"{estimate:.{decimals}f}"
        if ci_low is None or not (np.isfinite(ci_low) and np.isfinite(ci_high)):
            return f"{est} (no interval)"
        return f"{est} ({ci_low:.{decimals}f} to {ci_high:.{decimals}f})"
    if points:
        est = f"{estimate * 100:+.1f} pts"
        if ci_low is None or not (np.isfinite(ci_low) and np.isfinite(ci_high)):
            return f"{est} (no interval)"
        return f"{est} ({ci_low * 100:+.1f} to {ci_high * 100:+.1f})"
    est = _pct(estimate)
    if ci_low is None or not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return f"{est} (no interval)"
    return f"{est} ({_pct(ci_low)}–{_pct(ci_high)})"


def _texts(
    df: pd.DataFrame, est: str, lo: str, hi: str, points: bool = False, decimals: int | None = None
) -> list[str]:
    return [
        interval_text(*(float(v) if pd.notna(v) else np.nan for v in vals), points=points, decimals=decimals)
        for vals in zip(df[est], df[lo], df[hi])
    ]


def drift_table(flags: pd.DataFrame, by: str = S.POLICY, alpha: float = 0.05) -> pd.DataFrame:
    """Display table of the flagged rows of :func:`modqa_lib.stats.drift.drift_flags`.

    Each side of the first signal shows its error rate with interval and n.
    Only ``reported`` rows (chart signal backed by the change-point test,
    Holm-corrected over the groups) are shown, when the column is present.
    """
    f = flags[flags["reported"]] if "reported" in flags else flags[flags["flagged"]]
    ci = f"{1 - alpha:.0%} CI"
    return pd.DataFrame(
        {
            by: f[by].to_numpy(),
            "n before": f["n_before"].astype("int64").to_numpy(),
            f"error rate before ({ci})": _texts(
                f, "rate_before", drift_cols.RATE_BEFORE_CI_LOW, drift_cols.RATE_BEFORE_CI_HIGH
            ),
            "n after": f["n_after"].astype("int64").to_numpy(),
            f"error rate after ({ci})": _texts(
                f, "rate_after", drift_cols.RATE_AFTER_CI_LOW, drift_cols.RATE_AFTER_CI_HIGH
            ),
            "first out of control": f["first_out_of_control"].to_numpy(),
            "direction": f["direction"].to_numpy(),
            "confirmed": f["confirmed"].to_numpy(),
            "policy change": f["policy_change"].to_numpy(),
        }
    )


def actions_table(effects_table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Display table of :func:`modqa_lib.stats.effects.action_effects`: every estimate with its interval.

    Accuracy before and after with n, the difference-in-differences (the
    verdict's basis) and the interrupted-time-series level change, both in
    percentage points, then the verdict and, when an estimate is missing, why.
    """
    fx = effects_table
    ci = f"{1 - alpha:.0%} CI"
    return pd.DataFrame(
        {
            S.ACTION_ID: fx[S.ACTION_ID].to_numpy(),
            S.KIND: fx[S.KIND].to_numpy(),
            "scope": fx["scope"].to_numpy(),
            "started": fx[S.STARTED_AT].to_numpy(),
            "n before": fx["n_before"].to_numpy(),
            f"accuracy before ({ci})": _texts(
                fx, "accuracy_before", effect_cols.ACCURACY_BEFORE_CI_LOW, effect_cols.ACCURACY_BEFORE_CI_HIGH
            ),
            "n after": fx["n_after"].to_numpy(),
            f"accuracy after ({ci})": _texts(
                fx, "accuracy_after", effect_cols.ACCURACY_AFTER_CI_LOW, effect_cols.ACCURACY_AFTER_CI_HIGH
            ),
            f"diff-in-diff ({ci})": _texts(fx, "did", "did_ci_low", "did_ci_high", points=True),
            f"time-series level change ({ci})": _texts(
                fx, "its_level_change", "its_ci_low", "its_ci_high", points=True
            ),
            "verdict": fx["verdict"].to_numpy(),
            "why an estimate is missing": fx["reason"].to_numpy(),
        }
    )


def session_table(sessions: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Display table of :func:`modqa_lib.stats.agreement.session_agreement`, each statistic with its interval."""
    ci = f"{1 - alpha:.0%} CI"
    return pd.DataFrame(
        {
            S.SESSION_ID: sessions[S.SESSION_ID].to_numpy(),
            "items": sessions["n_items"].to_numpy(),
            "raters": sessions["n_raters"].to_numpy(),
            "ratings": sessions["n_ratings"].to_numpy(),
            f"percent agreement ({ci})": _texts(
                sessions, "percent_agreement", "percent_agreement_ci_low", "percent_agreement_ci_high"
            ),
            f"Fleiss' kappa ({ci})": _texts(
                sessions, "fleiss_kappa", "fleiss_kappa_ci_low", "fleiss_kappa_ci_high", decimals=3
            ),
            f"Krippendorff's alpha ({ci})": _texts(
                sessions, "krippendorff_alpha", "krippendorff_alpha_ci_low", "krippendorff_alpha_ci_high", decimals=3
            ),
            "note": sessions["note"].to_numpy(),
        }
    )


def metrics_table(
    wide: pd.DataFrame,
    label: str | Sequence[str],
    metrics: Sequence[str],
    alpha: float = 0.05,
    sort_by: str | None = None,
) -> pd.DataFrame:
    """Display table of a wide metrics frame: per metric "estimate (CI)" and its own n.

    Parameters
    ----------
    wide : DataFrame
        Columns ``<metric>``, ``<metric>_ci_low``, ``<metric>_ci_high`` and
        ``<metric>_n`` per metric (e.g. :func:`modqa_lib.stats.model_eval.model_metrics`
        with ``wide=True``).
    label : str or list of str
        Columns naming each row.
    metrics : list of str
    sort_by : str, optional
        A metric to sort by (ascending, missing last).
    """
    labels = [label] if isinstance(label, str) else list(label)
    w = wide.sort_values(sort_by, na_position="last") if sort_by else wide
    ci = f"{1 - alpha:.0%} CI"
    out = w[labels].reset_index(drop=True)
    for m in metrics:
        out[f"{m} ({ci})"] = _texts(w, m, f"{m}_ci_low", f"{m}_ci_high")
        out[f"{m} n"] = w[f"{m}_n"].astype("int64").to_numpy()
    return out


def drivers_table(drivers: pd.DataFrame, top: int = 12) -> pd.DataFrame:
    """Display table of :func:`modqa_lib.stats.rca.error_drivers`: levels worse than their reference.

    Levels with an odds ratio above 1, most significant first, each with the
    reference level it is compared with (``compared with``; "average <dimension>"
    for the default sum-to-zero coding, where no level is the reference) and
    what the model controls for (``controls for``: the other dimensions and
    the interaction slices in the model).
    """
    ref = drivers[drivers["is_reference"]].set_index("dimension")["level"]
    worse = drivers[~drivers["is_reference"] & (drivers["odds_ratio"] > 1)]
    worse = worse.sort_values(["p_value", "odds_ratio"], ascending=[True, False], na_position="last").head(top)
    compared = [ref.get(d, f"average {d}") for d in worse["dimension"]]
    model = list(dict.fromkeys(drivers["dimension"]))
    controls = worse["dimension"].map(lambda d: ", ".join(x for x in model if x != d) or "nothing")
    out = worse.assign(**{"compared with": compared, "controls for": controls})
    cols = [
        "dimension",
        "level",
        "compared with",
        "controls for",
        "n",
        *(["n_eff"] if "n_eff" in out else []),
        "odds_ratio",
        "ci_low",
        "ci_high",
        "q_value",
        "flag",
    ]
    return out[cols].reset_index(drop=True)


__all__ += [
    "actions_table",
    "drift_table",
    "drivers_table",
    "interval_text",
    "metrics_table",
    "session_table",
]
