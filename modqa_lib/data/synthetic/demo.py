"""The demo generator's entry points (:func:`generate`, :func:`write_demo_data`) and building blocks for the other generators."""

from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.data.synthetic.qaqa import (
    _auditor_realised,
    _qaqa_planted,
    _qaqa_tables,
)
from modqa_lib.data.synthetic.simulate import (
    _calibration,
    _cat,
    _draw_audits,
    _frame,
    _ids,
    _simulate,
    _validate_args,
)
from modqa_lib.data.synthetic.tables import (
    _audit_table,
    _decision_table,
    _realised,
    _static_tables,
)
from modqa_lib.data.synthetic.world import (
    _CAL_RATERS,
    _CHANNELS,
    _MAX_DEFAULT_AUDIT_RATE,
    _MIN_AUDIT_RATE,
    _NO_ACTION,
    _POLICIES,
    _QA_AUDITS_PER_WEEK,
    _RC_BASE,
    DEFAULT_SEED,
    DEFAULT_START,
    _start_ts,
    planted_truths,
)
from modqa_lib.errors import ConfigError, InputFileError

__all__ = [
    "DemoData",
    "default_audit_rate",
    "generate",
    "write_demo_data",
]


@dataclass
class DemoData:
    """Generated demo tables and the truths planted in them.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``decisions``, ``audits``, ``calibration``, ``golden``, ``actions``,
        ``policy_changes``, ``disputes``, ``vendor_qa``, each with the columns of
        :data:`schema.TABLES` in order.
    truth : dict
        JSON-serialisable: ``seed``, ``n_decisions``, ``start``, ``weeks``,
        ``audit_rate``, every entry of :func:`planted_truths` and ``realised``
        (what the simulation produced over *all* decisions, not just the audited
        ones: slice error rates, model recall, HITL override figures,
        calibration split items, counts); ``qaqa``: the QA-of-QA truths (a vendor site
        whose self-reported QA is inflated, an auditor overturned far more often, the
        truths not planted and why) and their realised values.
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    truth: dict = field(default_factory=dict)


# ============================================================================ public API
def default_audit_rate(n_decisions: int, weeks: int = 12) -> float:
    """The audit share :func:`generate` uses when none is given.

    Parameters
    ----------
    n_decisions : int
        Number of decisions in the period.
    weeks : int, default 12
        Length of the period.

    Returns
    -------
    float
        ``min(0.25, max(0.075, 1200 * weeks / n_decisions))`` rounded to 4
        decimals: the contract minimum of 7.5% of decisions, or what the QA
        team (12 auditors, about 100 re-reviews each a week) audits when that
        is more, never above a quarter of the work.

    Notes
    -----
    The demo keeps a real-sized roster (about 200 moderators at 8 sites)
    whatever the volume, so at 7.5% a small demo would give each moderator
    one or two audits a week and each site-shift team about ten: too few for
    a weekly QA loop, and too few for the planted slices (one team, one
    site's policy, one policy after a change) to show reliably on every
    seed. A QA team audits what its capacity allows, so small demos are
    audited more densely: 24% at 60,000 decisions, 18% at 80,000, the
    contract minimum from 192,000 decisions (the default 200,000) up.

    Examples
    --------
    >>> default_audit_rate(60_000), default_audit_rate(80_000), default_audit_rate(200_000)
    (0.24, 0.18, 0.075)
    """
    rate = _QA_AUDITS_PER_WEEK * int(weeks) / int(n_decisions)
    return round(min(_MAX_DEFAULT_AUDIT_RATE, max(_MIN_AUDIT_RATE, rate)), 4)


def generate(
    seed: int = DEFAULT_SEED,
    n_decisions: int = 200_000,
    weeks: int = 12,
    start: str = DEFAULT_START,
    audit_rate: float | None = None,
) -> DemoData:
    """Generate the demo data set with planted truths.

    Parameters
    ----------
    seed : int, default DEFAULT_SEED
        Seed of the random streams; the same seed and arguments give identical tables.
    n_decisions : int, default 200_000
        Number of moderation decisions (at least 5,000).
    weeks : int, default 12
        Number of weeks simulated (at least 8: the planted drift starts in week 7).
    start : str, default "2026-08-31"
        First Monday (UTC) of the period, ``YYYY-MM-DD``.
    audit_rate : float, optional
        Expected share of decisions audited, in (0, 0.5]. Default
        :func:`default_audit_rate`: 7.5%, or more for small demos (24% at
        60,000 decisions), so every site-shift team gets a realistic number of
        audits a week.

    Returns
    -------
    DemoData
        ``tables`` keyed by contract table name and ``truth`` (see :data:`PLANTED`
        and :class:`DemoData`).

    Raises
    ------
    ConfigError
        If an argument is out of range, ``start`` is not a Monday, or the
        taxonomy's policies are not the ones the generator knows.

    Notes
    -----
    Audits are a Poisson sample: decision *i* is audited independently with
    probability ``p_i = audit_rate * n * m_i / sum(m)`` (capped at 1), where
    the risk multiplier ``m_i`` is x2 for livestreams, x2 for model scores in
    [0.35, 0.65], x1.5 for moderators under 30 days' tenure and x2 for critical
    policies. ``inclusion_prob`` is ``p_i`` to 6 significant digits and
    ``weight`` is ``1 / inclusion_prob``, so Horvitz-Thompson estimates over
    the audits are design-unbiased [1]_. Golden audits (``is_golden``) are
    outside the sample design (``inclusion_prob = 1``, stratum ``golden``).

    References
    ----------
    .. [1] Horvitz, D. G. and Thompson, D. J. (1952). A generalization of
       sampling without replacement from a finite universe. *Journal of the
       American Statistical Association* 47(260), 663-685.

    Examples
    --------
    >>> demo = generate(n_decisions=5_000)
    >>> sorted(demo.tables)
    ['actions', 'audits', 'calibration', 'decisions', 'disputes', 'golden', 'policy_changes', 'vendor_qa']
    >>> demo.truth["fatigue"]["site"], demo.truth["drift"]["week"]
    ('Penang', '2026-10-12')
    """
    _validate_args(seed, n_decisions, weeks, audit_rate)
    if audit_rate is None:
        audit_rate = default_audit_rate(n_decisions, weeks)
    t0 = _start_ts(start)
    tax = S.load_taxonomy()
    if (
        tuple(tax.policies) != _POLICIES
        or tax.actions[_NO_ACTION] != "no_action"
        or tuple(tax.error_types) != ("false_positive", "false_negative", "wrong_policy")
        or tuple(tax.severities) != ("critical", "major", "minor")
        or tuple(tax.channels) != _CHANNELS
        or not {"model_error", "qa_error", *_RC_BASE} <= set(tax.root_causes)
    ):
        raise ConfigError(
            "params/taxonomy.yaml does not match the demo generator (policies, actions, "
            "error types, severities, channels or root causes changed); the demo data "
            "cannot be generated from it"
        )
    names = ("case", "route", "model", "human", "hitl", "audit", "gold", "cal")
    rng = dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(len(names)))))
    n = int(n_decisions)

    w = _simulate(rng, n, int(weeks), int(t0.value // 1_000_000_000), tax)
    a = _draw_audits(rng, w, n, float(audit_rate), tax)
    width = max(7, len(str(n)))
    dec_ids = _ids("D", np.arange(1, n + 1), width)
    decisions = _decision_table(w, dec_ids, tax)
    audits = _audit_table(a, w, dec_ids, tax, width)
    gold_idx = a["gold_idx"]
    golden = _frame(
        "golden",
        {
            S.ITEM_ID: dec_ids[gold_idx],
            S.GOLD_LABEL: _cat(tax.labels, w["truth"][gold_idx]),
            S.POLICY: _cat(tax.labels, w["policy"][gold_idx]),
        },
    )
    sess, item, rater, vote, split = _calibration(rng["cal"], gold_idx, w["truth"], w["policy"])
    calibration = _frame(
        "calibration",
        {
            S.SESSION_ID: _ids("CAL-", sess + 1, 2),
            S.ITEM_ID: dec_ids[item],
            S.RATER_ID: _cat([r for r, _ in _CAL_RATERS], rater),
            S.RATER_GROUP: _cat([g for _, g in _CAL_RATERS], rater),
            S.LABEL: _cat(tax.labels, vote),
        },
    )
    actions, policy_changes = _static_tables(t0)

    truth = {
        "seed": int(seed),
        "n_decisions": n,
        "start": t0.date().isoformat(),
        "weeks": int(weeks),
        "audit_rate": float(audit_rate),
        **planted_truths(start),
        "realised": _realised(w, a, [str(x) for x in dec_ids[split]]),
    }
    vendor_qa, disputes, qaqa_realised = _qaqa_tables(int(seed), w, decisions, audits, tax)
    qaqa_realised.update(_auditor_realised(w, a, dec_ids))
    truth["qaqa"] = {**_qaqa_planted(), "realised": qaqa_realised}
    tables = {
        "decisions": decisions,
        "audits": audits,
        "calibration": calibration,
        "golden": golden,
        "actions": actions,
        "policy_changes": policy_changes,
        "disputes": disputes,
        "vendor_qa": vendor_qa,
    }
    from modqa_lib.data.synthetic_ops import add_operations  # own RNG stream: existing tables stay as they are

    tables, truth["operations"] = add_operations(tables, int(seed), t0)
    return DemoData(tables={k: tables[k] for k in S.TABLE_NAMES if k in tables}, truth=truth)


# ============================================================================ writing
def _csv_bytes(df: pd.DataFrame) -> bytes:
    """Deterministic CSV bytes: ISO-8601 timestamps with offset, true/false, empty for null."""
    out: dict[str, Any] = {}
    for c in df.columns:
        s = df[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            naive = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
            txt = pd.Series(np.datetime_as_string(naive, unit="s"), index=df.index, dtype=object) + "+00:00"
            out[c] = txt.where(s.notna(), None)
        elif s.dtype == bool:
            out[c] = np.where(s.to_numpy(), "true", "false")
        else:
            out[c] = s
    return pd.DataFrame(out, index=df.index).to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, engine="pyarrow", compression="snappy")
    return buf.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file in the same folder, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; use normal permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_demo_data(
    out_dir: str | os.PathLike,
    seed: int = DEFAULT_SEED,
    n_decisions: int = 200_000,
    fmt: str = "csv",
    force: bool = False,
) -> Path:
    """Generate the demo data and write each table plus ``truth.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Folder to write into (created if missing), usually ``data/raw``.
    seed : int, default DEFAULT_SEED
        Passed to :func:`generate`.
    n_decisions : int, default 200_000
        Passed to :func:`generate`.
    fmt : {"csv", "parquet"}
        File format of the tables (``<table>.csv`` or ``<table>.parquet``). CSV is
        UTF-8, comma-delimited, ``\\n`` line ends, ISO-8601 timestamps with
        offset, ``true``/``false`` booleans and empty fields for nulls.
    force : bool, default False
        Overwrite existing files whose bytes differ. Without it, any such file
        makes the call fail before anything is written: raw data is never
        overwritten silently. Files with identical bytes are left untouched.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    InputFileError
        If target files exist with different bytes and ``force`` is false, or
        ``out_dir`` cannot be written.
    ConfigError
        If ``fmt`` or a generator argument is invalid.

    Notes
    -----
    Each file is written atomically (temp file in the same folder, then
    :func:`os.replace`), so a reader never sees a half-written table. Same seed
    and size give byte-identical files.
    """
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"format must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputFileError(f"{out} exists and is not a folder")
    demo = generate(seed=seed, n_decisions=n_decisions)
    render = _csv_bytes if fmt == "csv" else _parquet_bytes
    files = {f"{name}.{fmt}": render(df) for name, df in demo.tables.items()}
    files["truth.json"] = (json.dumps(demo.truth, sort_keys=True, indent=2) + "\n").encode("utf-8")
    try:
        differ = [
            out / name for name, data in files.items() if (out / name).exists() and (out / name).read_bytes() != data
        ]
    except OSError as exc:
        raise InputFileError(f"cannot read existing files in {out}: {exc}") from None
    if differ and not force:
        verb = "exists and differs" if len(differ) == 1 else "exist and differ"
        raise InputFileError(
            f"{', '.join(str(p) for p in differ)} {verb}; pass --force to overwrite "
            f"(raw data is never overwritten silently)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            path = out / name
            if path.exists() and path.read_bytes() == data:
                continue
            _atomic_write(path, data)
    except OSError as exc:
        raise InputFileError(f"cannot write demo data to {out}: {exc}") from None
    return out


# Building blocks for the other demo generators (operations, transparency), under public names.
contract_frame = _frame
csv_bytes = _csv_bytes
atomic_write = _atomic_write
start_timestamp = _start_ts
