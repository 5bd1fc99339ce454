"""Loading and saving: every byte modqa reads or writes goes through here.

Raw tables (``data/raw``) are read, never written. Processed tables
(``data/processed``) and outputs are written atomically: to a temporary file in
the same folder, then ``os.replace``, so a crash never leaves half a file.

Raw tables are found and read by :mod:`modqa_lib.data.raw_files`; its names are
re-exported here.

Keeping I/O behind this module is what lets a later version read weekly logs
out of core (DuckDB over partitioned parquet or a SQL database) without
touching scoring or RCA code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from modqa_lib.config import PARAMS_DIR, PROCESSED_DIR, SHARED_REAL_DIR
from modqa_lib.contract import schema as S
from modqa_lib.data.hashing import raw_digests
from modqa_lib.data.raw_files import (
    RAW_SUFFIXES,
    check_csv_complete,
    find_raw_tables,
    read_raw_table,
    read_raw_table_header_checks,
)
from modqa_lib.errors import ConfigError, InputFileError

__all__ = [
    "RAW_SUFFIXES",
    "add_derived_columns",
    "atomic_path",
    "audited_decisions",
    "check_csv_complete",
    "data_fingerprint",
    "find_raw_tables",
    "load_davidson",
    "load_processed",
    "load_site_timezones",
    "load_targets",
    "load_yaml",
    "read_raw_table",
    "read_raw_table_header_checks",
    "write_csv_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
    "write_text_atomic",
]


# ------------------------------------------------------------------ atomic writes
@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place on success.

    On any exception the temporary file is removed and ``target`` is untouched.

    Parameters
    ----------
    target : path-like
        The file to write; its folder is created if needed.

    Yields
    ------
    Path
        A temporary file in the same folder (so the final ``os.replace`` is
        atomic), with the permissions a new file would get.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs are shared like any file
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_parquet_atomic(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` to parquet atomically; return the path.

    Parameters
    ----------
    df : DataFrame
        Written without its index.
    path : path-like
        Target file.

    Returns
    -------
    Path
        ``path``.
    """
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike, **kwargs) -> Path:
    """Write ``df`` to UTF-8 CSV atomically; return the path.

    Parameters
    ----------
    df : DataFrame
        The table to write.
    path : path-like
        Target file.
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv` (defaults: ``index=False`` and
        Unix line ends).

    Returns
    -------
    Path
        ``path``.
    """
    kwargs.setdefault("index", False)
    kwargs.setdefault("lineterminator", "\n")
    with atomic_path(path) as tmp:
        df.to_csv(tmp, **kwargs)
    return Path(path)


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write UTF-8 text atomically; return the path.

    Parameters
    ----------
    text : str
        The content.
    path : path-like
        Target file.

    Returns
    -------
    Path
        ``path``.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(obj, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented, key-sorted JSON atomically; return the path.

    Parameters
    ----------
    obj : object
        Anything :func:`json.dumps` takes; other values are written with ``str``.
    path : path-like
        Target file.

    Returns
    -------
    Path
        ``path``.
    """
    return write_text_atomic(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


# ---------------------------------------------------------------------- processed
def decisions_partitioned(processed_dir: str | os.PathLike | None = None) -> bool:
    """True when the published decisions are a hive-partitioned dataset (a large log; read it with DuckDB).

    Parameters
    ----------
    processed_dir : path-like, optional
        Defaults to ``data/processed``.

    Returns
    -------
    bool
    """
    return (processed_snapshot(processed_dir) / "decisions").is_dir()


def load_report_tables(processed_dir: str | os.PathLike | None = None) -> dict[str, pd.DataFrame]:
    """The processed tables a report needs, without loading a large decisions log.

    Like :func:`load_processed`, except that when decisions are partitioned
    (:func:`decisions_partitioned`) ``decisions`` holds only the decisions some
    audit points at, read with the ids pushed into the scan; population counts
    then come from :func:`modqa_lib.data.duck.decision_volumes`. Memory is that of
    the audits, whatever the size of the log.

    Parameters
    ----------
    processed_dir : path-like, optional
        Defaults to ``data/processed``.

    Returns
    -------
    dict of str to DataFrame
        Table name to typed frame, as :func:`load_processed` gives them.
    """
    d = processed_snapshot(processed_dir)
    if not decisions_partitioned(d):
        return load_processed(d)
    from modqa_lib.data import duck

    names = [t for t in S.TABLE_NAMES if t != "decisions" and ((d / f"{t}.parquet").exists() or t == "audits")]
    out = load_processed(d, tables=names)
    dec = duck.read_decisions(d, ids=out["audits"][S.DECISION_ID])
    return {"decisions": dec, **out}


def processed_snapshot(processed_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding one consistent published version of the processed data.

    ``modqa ingest`` publishes by switching the ``.current`` link of the
    processed folder (:mod:`modqa_lib.data.ingest`). Resolving it once and reading
    every table and the manifest from the resolved folder means an ingest that
    publishes while a reader is loading cannot hand it tables from two
    versions. A folder without ``.current`` (plain files) is returned as is.

    Parameters
    ----------
    processed_dir : path-like, optional
        The processed folder; defaults to ``data/processed``.

    Returns
    -------
    Path
        The resolved version folder, or ``processed_dir`` itself.
    """
    d = Path(processed_dir or PROCESSED_DIR)
    current = d / ".current"
    if current.is_symlink() or current.is_dir():
        return Path(os.path.realpath(current))
    return d


def load_processed(
    processed_dir: str | os.PathLike | None = None, tables: Iterable[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Load typed tables written by ``modqa ingest``.

    Parameters
    ----------
    processed_dir : path-like, optional
        Defaults to ``data/processed``.
    tables : iterable of str, optional
        Which tables; default all that exist (decisions and audits are required).

    Returns
    -------
    dict of str to DataFrame
        Table name to its typed table, read from one published version.

    Raises
    ------
    InputFileError
        If a requested or required table has not been ingested yet.
    """
    d = processed_snapshot(processed_dir)
    wanted = (
        list(tables)
        if tables is not None
        else [t for t in S.TABLE_NAMES if (d / f"{t}.parquet").exists() or t in S.REQUIRED_TABLES]
    )
    out: dict[str, pd.DataFrame] = {}
    for t in wanted:
        p = d / f"{t}.parquet"
        if t == "decisions" and (d / "decisions").is_dir():  # hive-partitioned (large logs)
            from modqa_lib.data import duck

            duck.check_pandas_rows(
                duck.decision_rows(d), "decisions", "modqa_lib.data.duck (read_decisions, decision_volumes)"
            )
            out[t] = duck.read_decisions(d)
            continue
        if not p.exists():
            raise InputFileError(f"{p}: not found; run 'modqa ingest' first (make run does it)")
        out[t] = pd.read_parquet(p)
    return out


def data_fingerprint(frames: Mapping[str, pd.DataFrame] | pd.DataFrame | Iterable[os.PathLike]) -> str:
    """A short, stable SHA-256 fingerprint of the data a result was computed from.

    Parameters
    ----------
    frames : mapping of name to DataFrame, a DataFrame, or file paths
        DataFrames are hashed row-wise with :func:`pandas.util.hash_pandas_object`
        (content, not memory layout); files by their names and the SHA-256 of their
        bytes (:func:`modqa_lib.data.hashing.raw_digests`, so an ingest reads each raw file once for both).

    Returns
    -------
    str
        16 hex characters.
    """
    h = hashlib.sha256()
    if isinstance(frames, pd.DataFrame):
        frames = {"_": frames}
    if isinstance(frames, Mapping):
        for name in sorted(frames):
            df = frames[name]
            h.update(name.encode())
            h.update(",".join(map(str, df.columns)).encode())
            h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    else:
        return raw_digests(frames)[1]
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ derived frame
def _tenure_band(days: pd.Series) -> pd.Series:
    bands = pd.cut(
        days.astype("float"), [-np.inf, 30, 90, 365, np.inf], right=False, labels=["<30d", "30-90d", "90-365d", ">365d"]
    )
    return bands.astype("string")


def add_derived_columns(decisions: pd.DataFrame, site_timezones: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Add WEEK, HOUR, SHIFT and TENURE_BAND to a decisions frame (copy).

    Parameters
    ----------
    decisions : DataFrame
        Needs DECIDED_AT (tz-aware), SITE and MODERATOR_TENURE_DAYS.
    site_timezones : mapping, optional
        Site to IANA time zone; default ``params/sites.yaml``. Sites not listed use UTC.

    Returns
    -------
    DataFrame
        ``week`` (Monday of the ISO week, UTC, as Timestamp), ``hour`` (site local),
        ``shift`` (day 07-15, evening 15-23, night 23-07 site local), ``tenure_band``.
    """
    tz = dict(site_timezones if site_timezones is not None else load_site_timezones())
    out = decisions.copy()
    ts = pd.to_datetime(out[S.DECIDED_AT], utc=True)
    out[S.WEEK] = (ts.dt.tz_localize(None).dt.normalize() - pd.to_timedelta(ts.dt.day_of_week, unit="D")).astype(
        "datetime64[ns]"
    )
    hour = pd.Series(ts.dt.hour.to_numpy(), index=out.index)
    for site, zone in tz.items():
        m = (out[S.SITE] == site).to_numpy()
        if m.any():
            hour[m] = ts[m].dt.tz_convert(zone).dt.hour.to_numpy()
    out[S.HOUR] = hour.astype("int64")
    out[S.SHIFT] = np.select([(hour >= 7) & (hour < 15), (hour >= 15) & (hour < 23)], ["day", "evening"], "night")
    out[S.TENURE_BAND] = _tenure_band(out[S.MODERATOR_TENURE_DAYS])
    return out


def audited_decisions(
    tables: Mapping[str, pd.DataFrame] | str | os.PathLike,
    include_golden: bool = False,
    site_timezones: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Audits joined to their decisions, with derived columns: the frame scoring and RCA use.

    Parameters
    ----------
    tables : mapping or path-like
        At least ``decisions`` and ``audits`` (as returned by :func:`load_processed`);
        or a processed folder: then only the audits are loaded and their decisions
        are read with the audited ids pushed into the parquet scan
        (:func:`modqa_lib.data.duck.read_decisions`), so the log is never loaded.
    include_golden : bool, default False
        Golden (known-answer) audits test the auditors, not the sample design; they
        are excluded from accuracy estimates unless asked for.
    site_timezones : mapping, optional
        Site to IANA time zone for the site-local hour and shift; default
        ``params/sites.yaml`` (see :func:`add_derived_columns`).

    Returns
    -------
    DataFrame
        One row per audit: every audit column, every decision column, and
        ``week``, ``hour``, ``shift``, ``tenure_band``.
    """
    if not isinstance(tables, Mapping):
        from modqa_lib.data import duck

        snap = processed_snapshot(tables)
        audits = load_processed(snap, tables=["audits"])["audits"]
        if not include_golden:
            audits = audits[~audits[S.IS_GOLDEN].astype(bool)]
        tables = {"audits": audits, "decisions": duck.read_decisions(snap, ids=audits[S.DECISION_ID])}
    audits = tables["audits"]
    if not include_golden:
        audits = audits[~audits[S.IS_GOLDEN].astype(bool)]
    joined = audits.merge(tables["decisions"], on=S.DECISION_ID, how="inner", validate="many_to_one")
    # derive after the join: only audited rows need week/shift (a weekly log has ~15x more decisions)
    return add_derived_columns(joined, site_timezones)


# ------------------------------------------------------------------------ params
def load_yaml(name_or_path: str | os.PathLike) -> dict:
    """Read a YAML file from ``params/`` (by name) or a path; ConfigError if unreadable.

    A file named like a params file modqa knows (``targets``, ``sites``, ``vendors``,
    ``markets``, ``consolidated``, ``ingest``, ``taxonomy``) is checked against its
    schema (:mod:`modqa_lib.contract.params_schema`): ConfigError naming the file, key
    and the closest valid key.

    Parameters
    ----------
    name_or_path : str or path-like
        A name without suffix (``"targets"`` reads ``params/targets.yaml``), a
        relative path looked up in ``params/`` when it does not exist as given,
        or a path.

    Returns
    -------
    dict
        The parsed file; an empty dict for an empty file.

    Raises
    ------
    ConfigError
        The file cannot be read or is not valid YAML.
    """
    p = Path(name_or_path)
    if not p.suffix:
        p = PARAMS_DIR / f"{p}.yaml"
    elif not p.is_absolute() and not p.exists():
        p = PARAMS_DIR / p
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a YAML date such as 2015-13-01
        raise ConfigError(f"{p}: invalid YAML ({exc})") from None
    from modqa_lib.contract.params_schema import SCHEMAS, check_params

    if p.stem in SCHEMAS:  # a known params file: unknown keys, wrong types, ranges, time zones
        check_params(data or {}, p.stem, p)
    return data or {}


def load_targets(path: str | os.PathLike | None = None) -> dict:
    """KPI targets (``params/targets.yaml``).

    Parameters
    ----------
    path : path-like, optional
        Another targets file.

    Returns
    -------
    dict
        The parsed file (sections such as ``accuracy`` and ``model``).
    """
    return load_yaml(path or "targets")


def load_site_timezones(path: str | os.PathLike | None = None) -> dict[str, str]:
    """Site to IANA time zone (``params/sites.yaml``); empty if the file is absent.

    Parameters
    ----------
    path : path-like, optional
        Another sites file.

    Returns
    -------
    dict of str to str
        Site name to time zone (e.g. ``{"Penang": "Asia/Kuala_Lumpur"}``).
    """
    p = Path(path) if path else PARAMS_DIR / "sites.yaml"
    if not p.exists():
        return {}
    return {
        str(k): str(v["timezone"] if isinstance(v, dict) else v) for k, v in (load_yaml(p).get("sites") or {}).items()
    }


# --------------------------------------------------------------------- real data
DAVIDSON_CLASSES = {0: "hate_speech", 1: "offensive_language", 2: "neither"}


def load_davidson(path: str | os.PathLike | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load Davidson et al. (2017) crowd labels into the calibration and golden shapes.

    Each tweet is an item; each crowd vote becomes one calibration row (raters
    are anonymous on CrowdFlower, so rater ids are per-item vote slots
    ``r1..rK`` and must not be read as the same person across items). The
    majority ``class`` is the gold label.

    Parameters
    ----------
    path : path-like, optional
        Defaults to ``SHARED_REAL_DIR / "davidson2017_labeled_data.csv"``.

    Returns
    -------
    calibration : DataFrame
        SESSION_ID ("davidson2017"), ITEM_ID, RATER_ID, RATER_GROUP ("crowd"), LABEL.
    golden : DataFrame
        ITEM_ID, GOLD_LABEL, POLICY ("hate_speech"), plus ``text`` (raw tweet:
        offensive; escape before display) and ``n_raters``.

    Notes
    -----
    Davidson, Warmsley, Macy, Weber (2017), ICWSM. MIT licence. Labels are the
    paper's three classes (hate_speech, offensive_language, neither), not the
    modqa policy taxonomy.
    """
    p = Path(path) if path else SHARED_REAL_DIR / "davidson2017_labeled_data.csv"
    if not p.exists():
        raise InputFileError(f"{p}: Davidson et al. (2017) data not found")
    raw = pd.read_csv(p, index_col=0, encoding="utf-8")
    need = {"count", "hate_speech", "offensive_language", "neither", "class", "tweet"}
    missing = need - set(raw.columns)
    if missing:
        raise InputFileError(f"{p}: missing column(s) {sorted(missing)}")
    bad = raw["count"] != raw[["hate_speech", "offensive_language", "neither"]].sum(axis=1)
    if bad.any():
        raise InputFileError(
            f"{p}: column 'count' != sum of votes in rows {list(raw.index[bad][:5])} ({int(bad.sum())} rows)"
        )
    item = "dav-" + raw.index.astype(str)
    votes = raw[["hate_speech", "offensive_language", "neither"]].to_numpy()
    labels = np.array(list(DAVIDSON_CLASSES.values()))
    rep_item = np.repeat(np.repeat(item.to_numpy(), 3), votes.ravel())
    rep_label = np.repeat(np.tile(labels, len(raw)), votes.ravel())
    cal = pd.DataFrame({S.SESSION_ID: "davidson2017", S.ITEM_ID: rep_item, S.LABEL: rep_label})
    cal[S.RATER_ID] = "r" + (cal.groupby(S.ITEM_ID).cumcount() + 1).astype(str)
    cal[S.RATER_GROUP] = "crowd"
    cal = cal[[S.SESSION_ID, S.ITEM_ID, S.RATER_ID, S.RATER_GROUP, S.LABEL]]
    golden = pd.DataFrame(
        {
            S.ITEM_ID: item,
            S.GOLD_LABEL: raw["class"].map(DAVIDSON_CLASSES).to_numpy(),
            S.POLICY: "hate_speech",
            "text": raw["tweet"].to_numpy(),
            "n_raters": raw["count"].to_numpy(),
        }
    )
    return cal.reset_index(drop=True), golden.reset_index(drop=True)


def load_calibration(
    source: str = "demo", session: str | None = None, processed_dir: str | os.PathLike | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Calibration votes and gold answers from the processed data or from the real Davidson data.

    Parameters
    ----------
    source : {"demo", "davidson2017"}
        ``"demo"``: the processed ``calibration`` and ``golden`` tables;
        ``"davidson2017"``: :func:`load_davidson` (real crowd labels).
    session : str, optional
        Keep one session; None, "" or "ALL" keep all.
    processed_dir : path-like, optional

    Returns
    -------
    calibration, golden : DataFrame
        Golden has no ``text`` column (tweets are never shown in reports).

    Raises
    ------
    ConfigError
        Unknown source or session (the message lists the known sessions).
    """
    if source == "demo":
        t = load_processed(processed_dir or None, tables=["calibration", "golden"])
        cal, golden = t["calibration"], t["golden"]
    elif source == "davidson2017":
        cal, golden = load_davidson()
        golden = golden.drop(columns=["text"])
    else:
        raise ConfigError(f"calibration source '{source}': use 'demo' or 'davidson2017'")
    if session not in (None, "", "ALL", "all"):
        known = sorted(cal[S.SESSION_ID].unique())
        if session not in known:
            raise ConfigError(f"calibration session '{session}' not found; known: {', '.join(known)}")
        cal = cal[cal[S.SESSION_ID] == session]
    return cal.reset_index(drop=True), golden.reset_index(drop=True)


__all__ += ["load_calibration"]


def processed_fingerprint(processed: str | os.PathLike | None = None) -> str | None:
    """Fingerprint of the processed data; None if there is none.

    ``data_fingerprint`` (or ``fingerprint``) from ``<processed>/manifest.json``
    as written by ``modqa ingest`` (a fingerprint of the raw files), else
    :func:`modqa_lib.data.io.data_fingerprint` of the parquet files.

    Parameters
    ----------
    processed : path-like, optional
        The processed folder; defaults to ``data/processed``.

    Returns
    -------
    str or None
        The fingerprint, or None when there is no manifest and no parquet file.
    """
    d = processed_snapshot(processed)
    man = d / "manifest.json"
    if man.exists():
        try:
            info = json.loads(man.read_text(encoding="utf-8"))
            fp = info.get("data_fingerprint") or info.get("fingerprint")
        except (OSError, ValueError, AttributeError):
            fp = None
        if fp:
            return str(fp)
    files = sorted(d.glob("*.parquet"))
    return data_fingerprint(files) if files else None


__all__ += ["decisions_partitioned", "load_report_tables", "processed_fingerprint", "processed_snapshot"]
