"""The text ``modqa summary`` prints: what the processed data holds.

Not a report section: a report's generated paragraph is :func:`modqa_lib.report.summary.summary_text`.

Every rate is printed with its n and a 95% Wilson interval [1]_ computed by
:func:`modqa_lib.stats.scoring.proportion_ci` and written by
:func:`modqa_lib.report.format.rate_text`, as in every report.

References
----------
.. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
   statistical inference. Journal of the American Statistical Association,
   22(158), 209-212.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from modqa_lib.config import PROCESSED_DIR
from modqa_lib.contract import schema as S
from modqa_lib.data import io as mio
from modqa_lib.report.format import rate_text
from modqa_lib.stats.scoring import proportion_ci

__all__ = ["processed_summary"]


def _rate(k: int, n: int) -> str:
    """``k/n`` with its 95% Wilson interval (:func:`~modqa_lib.stats.scoring.proportion_ci`) and n."""
    if n == 0:
        return rate_text(float("nan"), float("nan"), float("nan"), 0)
    lo, hi = proportion_ci(k, n, alpha=0.05, method="wilson")
    return rate_text(k / n, lo, hi, n, 0.05, method="Wilson")


def _decision_facts(snap: Path, dec: pd.DataFrame) -> dict:
    """Row count, date range, ISO weeks, distinct vendors/sites/markets/policies and channel counts of the log.

    From ``dec`` when it is the whole log; by DuckDB aggregates when the log is partitioned.
    """
    cols = (S.VENDOR, S.SITE, S.MARKET, S.POLICY)
    if not mio.decisions_partitioned(snap):
        ts = pd.to_datetime(dec[S.DECIDED_AT], utc=True)
        return {
            "n": len(dec),
            "first": ts.min(),
            "last": ts.max(),
            "weeks": ts.dt.tz_localize(None).dt.to_period("W-SUN").nunique(),
            "nunique": {c: dec[c].nunique() for c in cols},
            "channels": dec[S.CHANNEL].value_counts(),
        }
    from modqa_lib.data import duck

    con = duck.connect()
    try:
        scan = duck.decisions_scan(snap)
        distinct = ", ".join(f"count(DISTINCT {c})" for c in cols)
        row = con.execute(
            f"SELECT count(*), min({S.DECIDED_AT}), max({S.DECIDED_AT}), "
            f"count(DISTINCT {duck.week_start_sql(S.DECIDED_AT)}), {distinct} FROM {scan}"
        ).fetchone()
        ch = con.execute(f"SELECT {S.CHANNEL}, count(*) FROM {scan} GROUP BY 1").fetchall()
    finally:
        con.close()
    return {
        "n": int(row[0]),
        "first": pd.Timestamp(row[1]),
        "last": pd.Timestamp(row[2]),
        "weeks": int(row[3]),
        "nunique": dict(zip(cols, map(int, row[4:]))),
        "channels": pd.Series({k: int(v) for k, v in ch}, dtype="int64"),
    }


def processed_summary(processed_dir: str | os.PathLike | None = None) -> str:
    """What the processed data holds, in a few plain-text lines.

    Parameters
    ----------
    processed_dir : path-like, optional
        Defaults to ``data/processed``.

    Returns
    -------
    str
        Source and fingerprint (from ``manifest.json``), rows per table, the
        decision date range, counts of vendors, sites, markets and policies,
        audited decisions, the audited accuracy (non-golden audits, unweighted)
        overall and on critical policies, and the auditors' accuracy on golden
        items; every rate with its n and 95% Wilson CI.

    Raises
    ------
    InputFileError
        If decisions or audits have not been ingested.

    Notes
    -----
    The accuracy here is the raw share of audited decisions QA agreed with. The
    QA sample over-represents risky slices, so this is not the population
    accuracy; :mod:`modqa_lib.stats.scoring` gives design-weighted estimates.
    """
    d = Path(processed_dir or PROCESSED_DIR)
    snap = mio.processed_snapshot(d)  # tables and manifest of one published version
    t = mio.load_report_tables(snap)  # a partitioned log: only audited decisions, counts from DuckDB below
    tax = S.load_taxonomy()
    dec, aud = t["decisions"], t["audits"]
    facts = _decision_facts(snap, dec)
    lines = [f"processed data in {d}"]

    man = snap / "manifest.json"
    if man.exists():
        try:
            m = json.loads(man.read_text(encoding="utf-8"))
            lines.append(
                f"  ingested {m.get('ingested_at', '?')} from {m.get('raw_dir', '?')} "
                f"(data fingerprint {m.get('data_fingerprint', '?')})"
            )
        except (OSError, ValueError):
            lines.append("  manifest.json unreadable")

    w = max(len(k) for k in t)
    lines.append("tables")
    lines += [f"  {name:<{w}}  {facts['n'] if name == 'decisions' else len(df):>9,} rows" for name, df in t.items()]

    lines.append("decisions")
    if facts["n"]:
        lines.append(
            f"  decided {facts['first']:%Y-%m-%d} to {facts['last']:%Y-%m-%d} (UTC), {facts['weeks']} ISO week(s)"
        )
    counts = ", ".join(
        f"{facts['nunique'][c]:,} {word}"
        for c, word in ((S.VENDOR, "vendors"), (S.SITE, "sites"), (S.MARKET, "markets"), (S.POLICY, "policies"))
    )
    lines.append(f"  {counts}")
    by_channel = facts["channels"]
    lines.append("  channels: " + ", ".join(f"{c} {int(by_channel.get(c, 0)):,}" for c in tax.channels))

    golden = aud[S.IS_GOLDEN].astype(bool).to_numpy()
    reg = aud[~golden]
    n_dec = reg[S.DECISION_ID].nunique()
    lines.append("audits")
    lines.append(f"  {len(aud):,} audits: {len(reg):,} sampled, {int(golden.sum()):,} golden")
    lines.append(
        f"  audited decisions: {n_dec:,} of {facts['n']:,} ({100 * n_dec / facts['n']:.1f}%)"
        if facts["n"]
        else "  audited decisions: 0"
    )
    err = reg[S.IS_ERROR].astype(bool).to_numpy()
    n = len(reg)
    lines.append(f"  audited accuracy (sampled audits, unweighted): {_rate(int(n - err.sum()), n)}")
    if len(reg):
        pol = reg[[S.DECISION_ID]].merge(dec[[S.DECISION_ID, S.POLICY]], on=S.DECISION_ID, how="left")[S.POLICY]
        crit = pol.isin(sorted(tax.critical_policies)).to_numpy()
        nc = int(crit.sum())
        lines.append(
            f"    on critical policies ({', '.join(sorted(tax.critical_policies))}): "
            f"{_rate(int(nc - err[crit].sum()), nc)}"
        )
    if "golden" in t and golden.any():
        g = aud[golden].merge(
            t["golden"][[S.ITEM_ID, S.GOLD_LABEL]], left_on=S.DECISION_ID, right_on=S.ITEM_ID, how="inner"
        )
        right = int((g[S.QA_LABEL].astype(str) == g[S.GOLD_LABEL].astype(str)).sum())
        lines.append(f"  auditors' accuracy on golden items: {_rate(right, len(g))}")
    lines.append(
        "  (raw sample shares: the QA sample over-weights risky slices; see scoring for design-weighted estimates)"
    )
    return "\n".join(lines)
