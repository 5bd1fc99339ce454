"""Large, contract-valid decisions logs for the scale benchmarks, generated straight to CSV/parquet by DuckDB.

Not the demo generator (which builds everything in pandas): one SQL query over
``range(N)`` with hash-derived columns, streamed to disk. The audits table is
a valid 1% sample (QA agrees with the decision, so no errors to type).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import duckdb

from modqa_lib.contract import schema as S

SITES = [
    ("Vendor A", "Manila", "+08:00", "PH", "en"),
    ("Vendor A", "Cebu", "+08:00", "PH", "tl"),
    ("Vendor B", "Kuala Lumpur", "+08:00", "MY", "ms"),
    ("Vendor C", "Lisbon", "Z", "PT", "pt"),
    ("Vendor D", "Bogota", "-05:00", "CO", "es"),
    ("Platform", "model", "Z", "PH", "en"),
]


def _arr(xs) -> str:
    return "[" + ", ".join("'" + str(x).replace("'", "''") + "'" for x in xs) + "]"


def decisions_sql(n: int, weeks: int = 1) -> str:
    """SELECT producing ``n`` valid decisions (all text, as a CSV holds them)."""
    tax = S.load_taxonomy()
    pol = list(tax.vocab("policies"))
    ct = list(tax.vocab("content_types"))
    v, site, tz, mk, lg = (_arr(x) for x in zip(*SITES))
    k = len(SITES)
    secs = weeks * 7 * 86400
    return f"""
    WITH b AS (SELECT range AS i, hash(range) AS h FROM range({n})),
    c AS (SELECT i, h, (h % {k})::INT + 1 AS s, (h // 7 % {len(pol)})::INT + 1 AS p FROM b)
    SELECT
      'D' || lpad(i::VARCHAR, 10, '0') AS {S.DECISION_ID},
      'C' || lpad((h % 100000000000)::VARCHAR, 11, '0') AS {S.CONTENT_ID},
      {_arr(ct)}[(h // 13 % {len(ct)})::INT + 1] AS {S.CONTENT_TYPE},
      {mk}[s] || '-' || {lg}[s] || '-general' AS {S.QUEUE},
      {mk}[s] AS {S.MARKET},
      {lg}[s] AS {S.LANGUAGE},
      {v}[s] AS {S.VENDOR},
      {site}[s] AS {S.SITE},
      CASE WHEN s = {k} THEN NULL ELSE 'm' || (h // 17 % 4000)::VARCHAR END AS {S.MODERATOR_ID},
      CASE WHEN s = {k} THEN NULL ELSE (h // 19 % 1500)::VARCHAR END AS {S.MODERATOR_TENURE_DAYS},
      strftime(TIMESTAMP '2026-03-02 00:00:00' + to_seconds((h // 23 % {secs})::BIGINT), '%Y-%m-%dT%H:%M:%S')
        || {tz}[s] AS {S.DECIDED_AT},
      CASE WHEN s = {k} THEN 'machine' WHEN h % 5 = 0 THEN 'hitl' ELSE 'human' END AS {S.CHANNEL},
      {_arr(pol)}[p] AS {S.POLICY},
      CASE WHEN h % 3 = 0 THEN 'no_violation' ELSE {_arr(pol)}[p] END AS {S.LABEL},
      CASE WHEN h % 3 = 0 THEN 'no_action' ELSE 'remove' END AS {S.ACTION},
      CASE WHEN h % 2 = 0 THEN NULL WHEN h % 3 = 0 THEN 'no_violation' ELSE {_arr(pol)}[p] END AS {S.MODEL_LABEL},
      CASE WHEN h % 2 = 0 THEN NULL ELSE round((h // 29 % 1000) / 1000.0, 3)::VARCHAR END AS {S.MODEL_SCORE},
      CASE WHEN s = {k} THEN NULL ELSE (20 + h // 31 % 300)::VARCHAR || '.5' END AS {S.HANDLE_TIME_S}
    FROM c"""


def audits_sql(decisions_file: Path, every: int = 100) -> str:
    """A valid audit of every ``every``-th decision (QA agrees; inclusion 1/every)."""
    q = "'" + str(decisions_file).replace("'", "''") + "'"
    src = f"read_csv({q}, all_varchar = true)" if decisions_file.suffix == ".csv" else f"read_parquet({q})"
    return f"""
    SELECT 'A' || lpad(row_number() OVER ()::VARCHAR, 10, '0') AS {S.AUDIT_ID}, {S.DECISION_ID},
      'qa' || (hash({S.DECISION_ID}) % 50)::VARCHAR AS {S.AUDITOR_ID},
      '2026-03-20T10:00:00Z' AS {S.AUDITED_AT}, {S.LABEL} AS {S.QA_LABEL}, 'false' AS {S.IS_ERROR},
      NULL AS {S.ERROR_TYPE}, NULL AS {S.SEVERITY}, NULL AS {S.ROOT_CAUSE}, '2026-W10' AS {S.SAMPLE_ID},
      {S.VENDOR} AS {S.STRATUM}, '{1 / every:g}' AS {S.INCLUSION_PROB}, '{every}' AS {S.WEIGHT},
      'false' AS {S.IS_GOLDEN}
    FROM {src} WHERE hash({S.DECISION_ID}) % {every} = 0"""


def write_raw(folder: Path, n: int, fmt: str = "csv") -> Path:
    """Write ``decisions`` and ``audits`` (CSV or parquet) for ``n`` decisions into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET temp_directory = '/tmp/modqa-duckdb'")
    con.execute("SET memory_limit = '2GB'")
    opts = "(HEADER, DELIMITER ',')" if fmt == "csv" else "(FORMAT parquet)"
    dec = folder / f"decisions.{fmt}"
    con.execute(f"COPY ({decisions_sql(n)}) TO '{dec}' {opts}")
    con.execute(f"COPY ({audits_sql(dec)}) TO '{folder / f'audits.{fmt}'}' {opts}")
    con.close()
    return folder


def write_partitioned_log(folder: Path, n: int) -> float:
    """A typed, hive-partitioned (week, vendor) decisions log of n rows, as ``modqa ingest`` publishes it.

    Returns the seconds it took to write.
    """
    import time

    sql = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "datetime": "TIMESTAMPTZ"}
    cols = ", ".join(
        f"CAST({c.name} AS {sql[c.dtype]}) AS {c.name}" for c in S.TABLES["decisions"].columns if c.required
    )
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET temp_directory = '/tmp/modqa-duckdb'")
    con.execute("SET memory_limit = '2GB'")
    con.execute("SET TimeZone = 'UTC'")
    folder.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT {cols}, CAST(date_trunc('week', CAST(decided_at AS TIMESTAMPTZ)) AS DATE) AS week "
        f"FROM ({decisions_sql(n)})) TO '{folder / 'decisions'}' "
        "(FORMAT parquet, PARTITION_BY (week, vendor), FILENAME_PATTERN 'part-{i}')"
    )
    con.close()
    return time.perf_counter() - t


def peak_rss_mb() -> float:
    """Peak RSS of this process so far, MB.

    From ``VmHWM`` in ``/proc/self/status`` (Linux): the high-water mark of this
    program's own memory. Not ``ru_maxrss``: Linux keeps it across ``execve``, so a
    child started by a parent that was big at fork time (e.g. one that had just
    written a log with DuckDB) reports the parent's peak, not its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def report(label: str, seconds: float) -> None:
    """Print the figures a child measured as one parseable line."""
    print(f"RESULT {label} {seconds:.3f} {peak_rss_mb():.0f}", flush=True)
    sys.stdout.flush()


def run_draw_child(code: str) -> tuple[float, float, str]:
    """Run ``code`` in a fresh Python; return the (seconds, peak RSS MB) of its ``RESULT draw`` line and its
    ``SAMPLE`` line (the hash of the drawn ids, to compare paths)."""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if r.returncode:
        raise RuntimeError(r.stderr[-3000:])
    res = [x.split() for x in r.stdout.splitlines() if x.startswith("RESULT draw")][0]
    sample = [x for x in r.stdout.splitlines() if x.startswith("SAMPLE")][0]
    return float(res[2]), float(res[3]), sample
