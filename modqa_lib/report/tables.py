"""Display tables for the report notebooks (``report.show``, ``report.headline``, ``report.drift_table`` ...).

Nothing is computed here: each table takes the output of a statistics function
(:mod:`modqa_lib.stats.scoring`, :mod:`~modqa_lib.stats.drift`, :mod:`~modqa_lib.stats.effects`,
:mod:`~modqa_lib.stats.model_eval`, :mod:`~modqa_lib.stats.agreement`, :mod:`~modqa_lib.stats.rca`)
and formats it for a reader, with rates and intervals written by :mod:`modqa_lib.report.format`.
The report scope (unit, period) comes from :mod:`modqa_lib.data.scope`; the generated
paragraph from :mod:`modqa_lib.report.summary`. Everything user-generated that reaches a
report passes through :mod:`modqa_lib.report.export`'s escaping helpers here.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.contract.checks import check_alpha
from modqa_lib.data.io import load_targets
from modqa_lib.data.scope import Scope
from modqa_lib.report.display import format_p, merge_intervals, tick
from modqa_lib.report.export import safe_markdown, safe_table
from modqa_lib.report.format import confidence_label, interval_text, percent
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
    "show",
    "vendor_audits",
    "weight_note",
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

    The notebook's first markdown cell is the title. In JupyterLab this line
    tells the reader what they are looking at; a batch HTML export drops it
    (the output is marked ``modqa_role: header``) because the export's own
    header block shows the same facts once.

    Parameters
    ----------
    title : str
        Report title (the unit's name); escaped.
    scope : Scope, optional
        The report's scope (:func:`modqa_lib.data.scope.load_scope`); gives the
        period, the number of audited decisions and the data fingerprint. Without
        it the header shows only the title, the subtitle and the time.
    subtitle : str, default ""
        Extra text shown after the other fields; escaped.

    Returns
    -------
    IPython.display.Markdown
        One line: title, period, audited decisions, data fingerprint and the
        generation time in UTC.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if scope is None:
        md = safe_markdown("**{title}** · {subtitle} · **Generated:** {now}", title=title, subtitle=subtitle, now=now)
    else:
        md = safe_markdown(
            "**{title}** · **Period:** {period} · **Audited decisions:** {n} · "
            "**Data fingerprint:** {fp} · **Generated:** {now}" + (" · {subtitle}" if subtitle else ""),
            title=title,
            period=scope.period_label,
            n=f"{len(scope.audits):,}",
            fp=scope.fingerprint,
            now=now,
            subtitle=subtitle,
        )
    md.metadata = {"modqa_role": "header"}
    return md


def _is_pct(col: str) -> bool:
    c = col.lower()
    if c == "n" or c.startswith(("n_", "n ")) or c.endswith(("_n", "n_eff")) or "p_value" in c or "q_value" in c:
        return False
    return any(w in c for w in _PCT_WORDS) and c not in ("weight_sum",)


def _p_html(v) -> str:
    # Styler does not escape what a callable formatter returns: escape the "<" of "< 0.001" here
    return html.escape(format_p(v))


def _num(v) -> str:
    return "" if pd.isna(v) else f"{v:,.2f}"


def _words(col: str) -> str:
    """An identifier-style header in words: "error_rate" -> "error rate", "q_value" -> "q-value"."""
    if col in (S.P_VALUE, S.Q_VALUE) or col.endswith(("p_value", "q_value")):
        return col.replace("_value", "-value").replace("_", " ")
    return col.replace("_", " ")


def _pct(v) -> str:
    """:func:`modqa_lib.report.format.percent`, blank for a missing value."""
    return "" if pd.isna(v) else percent(v)


def show(
    df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    pct: Iterable[str] | None = None,
    caption: str | None = None,
    max_rows: int = 40,
    hide_index: bool = True,
    empty: str = "No rows: nothing in this period meets the criteria.",
    alpha: float = 0.05,
):
    """An escaped, formatted table for a report.

    Percent-like columns (accuracy, rates, shares...) are shown as
    percentages, counts with thousands separators; each ``ci_low``/``ci_high``
    pair becomes one "95% CI" column ("93.9–95.8%"); p- and q-values read
    "< 0.001"; booleans show ✓ or nothing; remaining identifier-style headers
    read as words ("error rate", "q-value"). Tidy names stay in the library's
    frames; only the display changes (:mod:`modqa_lib.report.display`).
    Values, labels and caption are HTML-escaped.

    Parameters
    ----------
    df : DataFrame
        The tidy table to show.
    columns : list of str, optional
        Columns to keep, in order.
    rename : mapping, optional
        Display names for columns (applied after formatting is decided).
    pct : iterable of str, optional
        Columns to show as percentages (default: guessed from their names).
    caption : str, optional
        Caption shown above the table; escaped.
    max_rows : int, default 40
        Reports never dump raw data: longer tables are cut with a note.
    hide_index : bool, default True
        Leave out the DataFrame's index.
    empty : str
        Shown (escaped, in italics) instead of an empty table.
    alpha : float, default 0.05
        1 - confidence level of the intervals (their header says "95% CI").

    Returns
    -------
    pandas.io.formats.style.Styler or IPython.display.Markdown
        The escaped ``Styler`` (see :func:`modqa_lib.report.export.safe_table`), or
        the ``empty`` message as Markdown when ``df`` has no rows.
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
    t, merged = merge_intervals(t, pct_cols, _pct, _num, alpha=alpha)
    fmt: dict[str, object] = {}
    for c in t.columns:
        s = t[c]
        if c in merged:
            continue
        if c in pct_cols and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            fmt[c] = _pct
        elif str(c) in (S.P_VALUE, S.Q_VALUE) or str(c).endswith(("p_value", "q_value")):
            fmt[c] = _p_html
        elif pd.api.types.is_bool_dtype(s):
            fmt[c] = tick
        elif pd.api.types.is_integer_dtype(s):
            fmt[c] = lambda v: "" if pd.isna(v) else f"{int(v):,}"
        elif pd.api.types.is_float_dtype(s):
            fmt[c] = _num
        elif pd.api.types.is_datetime64_any_dtype(s):
            fmt[c] = lambda v: "" if pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d}"
    names = {c: (rename or {}).get(c, _words(str(c))) for c in t.columns}
    t = t.rename(columns=names)
    fmt = {names.get(k, k): v for k, v in fmt.items()}
    cap = caption if note is None else f"{caption + ' · ' if caption else ''}{note}"
    return safe_table(t, formatter=fmt, na_rep="", caption=cap, hide_index=hide_index)


def human_audits(audits: pd.DataFrame) -> pd.DataFrame:
    """Audits of decisions made by people (human and HITL), i.e. without pure machine decisions.

    Parameters
    ----------
    audits : DataFrame
        Audit-level frame with the ``vendor`` column.

    Returns
    -------
    DataFrame
        The rows whose vendor is not ``"Platform"`` (machine decisions), same columns.
    """
    return audits[audits[S.VENDOR] != PLATFORM]


def vendor_audits(scope: Scope, vendor: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The audits a vendor's report may show: its own (moderators pseudonymised) and all, peers anonymised.

    Parameters
    ----------
    scope : Scope
        The vendor's report scope (:func:`modqa_lib.data.scope.load_scope`).
    vendor : str
        The vendor the report is for: the only one shown by name.

    Returns
    -------
    own : DataFrame
        The scope's audits with ``moderator_id`` and ``auditor_id`` replaced by
        keyed pseudonyms.
    peers : DataFrame
        Every vendor's human audits in the period, other vendors renamed
        "Peer A/B/..." with their sites renamed and moderator ids dropped;
        ``auditor_id`` is dropped.
    """
    own = scope.audits.copy()
    where = getattr(scope, "processed_dir", None)  # the key lives beside the processed data actually used
    own[S.MODERATOR_ID] = pseudonymise(own[S.MODERATOR_ID], processed_dir=where)
    own[S.AUDITOR_ID] = pseudonymise(own[S.AUDITOR_ID], prefix="QA", processed_dir=where)
    peers = anonymise_peers(human_audits(scope.all_audits), vendor, processed_dir=where).drop(columns=[S.AUDITOR_ID])
    return own, peers


def pseudonymised_golden(golden_audits: pd.DataFrame, processed_dir=None) -> pd.DataFrame:
    """Golden audits with auditor ids pseudonymised (vendor-facing reports); key as in :func:`vendor_audits`.

    Parameters
    ----------
    golden_audits : DataFrame
        Golden (known-answer) audits with an ``auditor_id`` column.
    processed_dir : path-like, optional
        The processed data the report read (its pseudonym key).

    Returns
    -------
    DataFrame
        A copy, with ``auditor_id`` replaced by keyed pseudonyms ("QA-...").
    """
    out = golden_audits.copy()
    out[S.AUDITOR_ID] = pseudonymise(out[S.AUDITOR_ID], prefix="QA", processed_dir=processed_dir)
    return out


#: a weighted estimate where one audit carries more than this share of the weight is flagged
WEIGHT_DOMINANCE = 0.2


def weight_note(n: float, n_eff: float, max_weight_share: float, threshold: float = WEIGHT_DOMINANCE) -> str:
    """A warning sentence when one unit dominates a weighted estimate, else ``""``.

    Parameters
    ----------
    n : float
        Audits behind the estimate.
    n_eff : float
        Effective sample size (see :func:`modqa_lib.stats.scoring.ratio_estimates`).
    max_weight_share : float
        Share of the weight carried by the single largest weight.
    threshold : float, default :data:`WEIGHT_DOMINANCE`

    Returns
    -------
    str
    """
    if not np.isfinite(max_weight_share) or max_weight_share <= threshold:
        return ""
    return (
        f"One audit carries {max_weight_share:.0%} of the design weight behind this estimate "
        f"(effective n {n_eff:.1f} of {int(n):,} audits): the figure mostly reflects that one audit. "
        "Check its inclusion_prob against the sample plan before acting on it."
    )


def headline(audits: pd.DataFrame, alpha: float = 0.05, targets: Mapping | None = None) -> pd.DataFrame:
    """One row: design-weighted accuracy vs target, and the critical-error rate, each with n and CI.

    Parameters
    ----------
    audits : DataFrame
        The unit's audits (``scope.audits``).
    alpha : float, default 0.05
    targets : dict, optional
        KPI targets (``scope.targets``); default :func:`modqa_lib.data.io.load_targets` (``params/targets.yaml``).

    Returns
    -------
    DataFrame
        One row with the columns of :func:`modqa_lib.stats.scoring.kpi_status`
        for the whole scope (``n``, ``accuracy``, ``ci_low``, ``ci_high``,
        ``target``, ``status``, ``critical_rate``, ``critical_ci_low``,
        ``critical_ci_high``, ...), and ``n_eff``, ``max_weight_share`` and
        ``weight_note`` (:func:`weight_note`: a warning sentence when one audit
        dominates the weighted estimate, else empty).
    """
    if targets is None:
        targets = load_targets()
    acc = kpi_status(audits, by=None, weights=S.WEIGHT, alpha=alpha, targets=targets)
    sev = severity_table(audits, by=None, weights=S.WEIGHT, alpha=alpha)
    row = acc.iloc[[0]].reset_index(drop=True)
    for c in ("critical_rate", "critical_ci_low", "critical_ci_high"):
        if c not in row and c in sev:
            row[c] = sev[c].iloc[0]
    if "max_weight_share" in row:
        row["weight_note"] = weight_note(row[S.N].iloc[0], row["n_eff"].iloc[0], row["max_weight_share"].iloc[0])
    return row


def peer_table(peers: pd.DataFrame, alpha: float = 0.05, targets: Mapping | None = None) -> pd.DataFrame:
    """Accuracy per (anonymised) vendor with CI, for a vendor's peer comparison.

    Parameters
    ----------
    peers : DataFrame
        Audits with anonymised vendor names.
    alpha : float, default 0.05
    targets : dict, optional
        KPI targets (``scope.targets``); default :func:`modqa_lib.data.io.load_targets`.

    Returns
    -------
    DataFrame
        :func:`modqa_lib.stats.scoring.accuracy_table` by ``vendor``, design-weighted
        and with targets (``vendor``, ``n``, ``errors``, ``accuracy``, ``ci_low``,
        ``ci_high``, ``target``, ``status``, ...), sorted by vendor.
    """
    if targets is None:
        targets = load_targets()
    return (
        accuracy_table(peers, by=[S.VENDOR], weights=S.WEIGHT, alpha=alpha, targets=targets)
        .sort_values(S.VENDOR)
        .reset_index(drop=True)
    )


def actions_in_scope(
    actions: pd.DataFrame, vendor: str | None = None, market: str | None = None, sites: Iterable[str] | None = None
) -> pd.DataFrame:
    """Corrective actions a unit's report may show: its own and global ones, never another vendor's.

    With ``vendor``, an action without a vendor but scoped to a site is shown only when the
    site is one of ``sites`` (the vendor's own sites): another vendor's site name in the
    report would make the privacy gate withhold it.

    Parameters
    ----------
    actions : DataFrame
        The ``actions`` table.
    vendor : str, optional
        Keep actions of this vendor and those without a vendor.
    market : str, optional
        Keep actions of this market and those without a market.
    sites : iterable of str, optional
        The vendor's own sites.

    Returns
    -------
    DataFrame
        The kept rows, same columns, with a fresh index.
    """
    a = actions
    if vendor:
        glob = a[S.VENDOR].isna()
        if S.SITE in a.columns:  # a site-scoped action without a vendor: only the vendor's own sites
            own_sites = [str(x) for x in (sites if sites is not None else [])]
            glob &= a[S.SITE].isna() | a[S.SITE].astype(object).isin(own_sites)
        a = a[glob | (a[S.VENDOR] == vendor)]
    if market:
        a = a[a[S.MARKET].isna() | (a[S.MARKET] == market)]
    return a.reset_index(drop=True)


def headline_figures(row: pd.Series | Mapping, alpha: float | None = None, **extra) -> dict:
    """Flat dict of headline numbers for :func:`modqa_lib.report.notebook_headline.record_headline`.

    Parameters
    ----------
    row : Series or mapping
        One row of :func:`headline` (``n``, ``accuracy``, ``ci_low``, ``ci_high``, ``target``,
        ``status``, ``critical_rate``, ``critical_ci_low``, ``critical_ci_high``; those present are kept).
    alpha : float, optional
        The alpha the intervals were computed at; recorded as ``alpha`` so the batch index
        writes the right confidence level ("90% CI" for 0.1).
    **extra
        Further figures (``unit``, ``period``, ...), recorded as given.

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``ci_low``, ``ci_high``, ``target``, ``status``,
        ``critical_rate``, ``critical_ci_low``, ``critical_ci_high`` (those present
        in ``row``), then ``extra``.
    """
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
    if row.get("weight_note"):  # one audit dominates: the index says so too
        out["warning"] = str(row["weight_note"])
    if alpha is not None:
        out["alpha"] = check_alpha(alpha)
    out.update(extra)
    return out


def calibration_scope(calibration: pd.DataFrame, source: str) -> str:
    """One line saying what a calibration report covers.

    Parameters
    ----------
    calibration : DataFrame
        Calibration ratings (``session_id``, ``item_id``, ``rater_id``).
    source : str
        Where they come from: ``"demo"``, ``"davidson2017"`` or a free description.

    Returns
    -------
    str
        The source, then the numbers of sessions, items, ratings and rater ids.
    """
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
    """Copy with root-cause codes replaced by their taxonomy names ("Fatigue / attention").

    Parameters
    ----------
    table : DataFrame
        Any table with a root-cause column.
    column : str, default "root_cause"
        The column holding root-cause codes.

    Returns
    -------
    DataFrame
        A copy with the codes replaced by their names (unknown codes kept as
        they are); ``table`` itself when it has no such column.
    """
    if column not in table:
        return table
    names = S.load_taxonomy().root_cause_names
    out = table.copy()
    out[column] = out[column].map(lambda c: names.get(c, c))
    return out


__all__ += ["with_cause_names"]


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

    Parameters
    ----------
    flags : DataFrame
        Output of :func:`modqa_lib.stats.drift.drift_flags`.
    by : str, default "policy"
        The column naming each series.
    alpha : float, default 0.05
        1 - confidence level the intervals were computed at (names them).

    Only ``reported`` rows (chart signal backed by the change-point test,
    Holm-corrected over the groups) are shown, when the column is present.

    Returns
    -------
    DataFrame
        One row per reported series: ``by``, "n before", "error rate before (95% CI,
        audits unweighted)", "n after", "error rate after (95% CI, audits unweighted)",
        "first out of control", "direction", "confirmed", "policy change".

    Notes
    -----
    The rates are of audited decisions, not design-weighted: the control chart
    and its exact binomial limits test counts of audited errors week by week,
    and the weekly sample design is the same in every week, so a change in the
    audited rate is a change in quality; the headers say so.
    """
    f = flags[flags["reported"]] if "reported" in flags else flags[flags["flagged"]]
    ci = f"{confidence_label(alpha)}, audits unweighted"
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

    Parameters
    ----------
    effects_table : DataFrame
        Output of :func:`modqa_lib.stats.effects.action_effects`.
    alpha : float, default 0.05
        1 - confidence level the intervals were computed at (names them).

    Returns
    -------
    DataFrame
        One row per action: ``action_id``, ``kind``, "scope", "started",
        "n before", "accuracy before (95% CI, design-weighted)", "n after",
        "accuracy after (95% CI, design-weighted)", "diff-in-diff (95% CI,
        audits unweighted)", "time-series level change (95% CI, audits
        unweighted)", "verdict", "why an estimate is missing". The accuracy
        headers say "unweighted" when ``rate_basis`` does (audits without
        design weights) and nothing when the column is absent; the two effects
        are models of the audits, which compare the scope with itself over
        time (see :func:`modqa_lib.stats.effects.action_effects`).
    """
    fx = effects_table
    ci = confidence_label(alpha)
    basis = ""
    if "rate_basis" in fx and len(fx):
        basis = ", " + "/".join(sorted(set(fx["rate_basis"].dropna().astype(str))))
    effect = f"{ci}, audits unweighted" if "rate_basis" in fx else ci
    return pd.DataFrame(
        {
            S.ACTION_ID: fx[S.ACTION_ID].to_numpy(),
            S.KIND: fx[S.KIND].to_numpy(),
            "scope": fx["scope"].to_numpy(),
            "started": fx[S.STARTED_AT].to_numpy(),
            "n before": fx["n_before"].to_numpy(),
            f"accuracy before ({ci}{basis})": _texts(
                fx, "accuracy_before", effect_cols.ACCURACY_BEFORE_CI_LOW, effect_cols.ACCURACY_BEFORE_CI_HIGH
            ),
            "n after": fx["n_after"].to_numpy(),
            f"accuracy after ({ci}{basis})": _texts(
                fx, "accuracy_after", effect_cols.ACCURACY_AFTER_CI_LOW, effect_cols.ACCURACY_AFTER_CI_HIGH
            ),
            f"diff-in-diff ({effect})": _texts(fx, "did", "did_ci_low", "did_ci_high", points=True),
            f"time-series level change ({effect})": _texts(
                fx, "its_level_change", "its_ci_low", "its_ci_high", points=True
            ),
            "verdict": fx["verdict"].to_numpy(),
            "why an estimate is missing": fx["reason"].to_numpy(),
        }
    )


def session_table(sessions: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Display table of :func:`modqa_lib.stats.agreement.session_agreement`, each statistic with its interval.

    Parameters
    ----------
    sessions : DataFrame
        Output of :func:`modqa_lib.stats.agreement.session_agreement`.
    alpha : float, default 0.05
        1 - confidence level the intervals were computed at (names them).

    Returns
    -------
    DataFrame
        One row per session: ``session_id``, "items", "raters", "ratings",
        "percent agreement (95% CI)", "Fleiss' kappa (95% CI)",
        "Krippendorff's alpha (95% CI)", "note".
    """
    ci = confidence_label(alpha)
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
        The metrics to show, in order.
    alpha : float, default 0.05
        1 - confidence level the intervals were computed at (names them).
    sort_by : str, optional
        A metric to sort by (ascending, missing last).

    Returns
    -------
    DataFrame
        The ``label`` columns, then per metric "<metric> (95% CI)" (text) and
        "<metric> n".
    """
    labels = [label] if isinstance(label, str) else list(label)
    w = wide.sort_values(sort_by, na_position="last") if sort_by else wide
    ci = confidence_label(alpha)
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

    Parameters
    ----------
    drivers : DataFrame
        Output of :func:`modqa_lib.stats.rca.error_drivers`.
    top : int, default 12
        At most this many rows.

    Returns
    -------
    DataFrame
        ``dimension``, ``level``, "compared with", ``n``, ``n_eff`` (when
        weighted), ``odds_ratio``, ``ci_low``, ``ci_high``, ``q_value``, ``flag``.
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
    "metrics_table",
    "session_table",
]
