"""Tests for modqa_lib.data.sources: ``modqa ingest --source postgresql://...`` against a real server.

The ``pg`` fixture starts a throwaway PostgreSQL cluster once per module:
``initdb`` (trust authentication, superuser ``modqa``) and ``pg_ctl start`` in a
temporary folder, on a free TCP port on 127.0.0.1, with its unix socket in the
same folder. The binaries are looked up in /usr/lib/postgresql/*/bin and on
PATH; without them the tests are skipped locally and FAIL when ``CI`` is set
(.ci/run installs Debian's ``postgresql``). initdb refuses to run as root, so
when the tests run as root the cluster is created and run as the ``postgres``
system user (``runuser -u postgres --``; the folder is created in /tmp and
handed to that user).

The demo generator's CSV files (5000 decisions) are loaded into text columns
(``COPY ... FROM STDIN WITH CSV HEADER``), ingested from the server, and the
processed tables are compared with a plain CSV ingest of the same files.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from modqa_lib.contract import schema as S
from modqa_lib.data.ingest import ingest
from modqa_lib.data.io import load_processed
from modqa_lib.data.sources import ingest_from_source, load_sources_config
from modqa_lib.data.synthetic import write_demo_data
from modqa_lib.errors import ConfigError, DataContractError, SourceError
from modqa_lib.run.cli import main

pytestmark = pytest.mark.slow


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    w = shutil.which("initdb")
    return Path(w).parent if w else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def pg():
    """A running throwaway PostgreSQL server: yields its URL (database postgres, user modqa)."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        msg = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI must run these tests: .ci/run installs it)")
        pytest.skip(msg)
    import psycopg  # noqa: F401  (the driver must be installed)

    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            msg = "running as root needs the 'postgres' system user for initdb (installed with Debian's postgresql)"
            pytest.fail(msg) if os.environ.get("CI") else pytest.skip(msg)

    root = Path(tempfile.mkdtemp(prefix="modqa-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()
    subprocess.run(
        _as_pg_user(
            [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "modqa", "-E", "UTF8", "--no-sync"]
            + ["--locale=C"]
        ),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_pg_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield {"url": f"postgresql://modqa@127.0.0.1:{port}/postgres", "port": port}
    finally:
        subprocess.run(
            _as_pg_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def loaded(pg, tmp_path_factory):
    """Demo CSVs (5000 decisions) loaded as text tables; also a CSV ingest of the same files."""
    import psycopg

    base = tmp_path_factory.mktemp("sources")
    raw = write_demo_data(base / "raw", n_decisions=5000)
    csvs = sorted(raw.glob("*.csv"))
    with psycopg.connect(pg["url"], autocommit=True) as conn:
        for f in csvs:
            header = pd.read_csv(f, nrows=0).columns
            cols = ", ".join(f'"{c}" text' for c in header)
            conn.execute(f'CREATE TABLE "{f.stem}" ({cols})')
            with conn.cursor() as cur, cur.copy(f'COPY "{f.stem}" FROM STDIN WITH (FORMAT csv, HEADER true)') as cp:
                cp.write(f.read_bytes())
        conn.execute("CREATE SCHEMA qa")
        conn.execute("CREATE TABLE qa.audits_typed AS SELECT * FROM audits")
    by_csv = base / "from_csv"
    ingest(raw, by_csv)
    return {**pg, "raw": raw, "tables": [f.stem for f in csvs], "from_csv": by_csv, "base": base}


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a canonical order: a SQL table has no row order, so content is compared, not order."""
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def _assert_same_processed(a: Path, b: Path, tables) -> None:
    pa, pb = load_processed(a), load_processed(b)
    assert set(pa) == set(pb) == set(tables)
    for t in tables:
        pd.testing.assert_frame_equal(_sorted(pa[t]), _sorted(pb[t]), check_exact=True)


def test_ingest_from_postgres_equals_csv_ingest(loaded, tmp_path):
    out = tmp_path / "processed"
    rep = ingest_from_source(loaded["url"], out, sources={})
    assert {t.table for t in rep.tables} == set(loaded["tables"])
    _assert_same_processed(out, loaded["from_csv"], loaded["tables"])
    assert len(load_processed(out)["decisions"]) == 5000


def test_tables_and_queries_from_sources_yaml_via_cli(loaded, tmp_path, capsys):
    cfg = tmp_path / "sources.yaml"
    q = 'SELECT * FROM decisions ORDER BY "decision_id" DESC'  # same rows, other order than the table
    cfg.write_text(yaml.safe_dump({"postgresql": {"tables": {"audits": "qa.audits_typed", "decisions": {"query": q}}}}))
    out = tmp_path / "processed"
    assert main(["ingest", "--source", loaded["url"], "--sources", str(cfg), "--processed", str(out)]) == 0
    got, ref = load_processed(out), load_processed(loaded["from_csv"])
    for t in ("audits", "decisions"):
        pd.testing.assert_frame_equal(_sorted(got[t]), _sorted(ref[t]), check_exact=True)


def test_typed_boolean_and_timestamp_columns_are_read(loaded, tmp_path):
    """A real schema has boolean and timestamptz columns: COPY's t/f and +00 offsets must still ingest."""
    import psycopg

    cols = S.TABLES["audits"].columns
    bool_cols = [c.name for c in cols if c.dtype == "bool"]
    time_cols = [c.name for c in cols if c.dtype == "datetime"]
    assert bool_cols and time_cols, "audits has boolean and datetime columns to exercise"
    with psycopg.connect(loaded["url"], autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS typed")
        conn.execute("DROP TABLE IF EXISTS typed.audits")
        conn.execute("CREATE TABLE typed.audits AS SELECT * FROM audits")
        for c in time_cols:
            conn.execute(f'ALTER TABLE typed.audits ALTER COLUMN "{c}" TYPE timestamptz USING "{c}"::timestamptz')
        for c in bool_cols:
            conn.execute(
                f"ALTER TABLE typed.audits ALTER COLUMN \"{c}\" TYPE boolean USING lower(\"{c}\") IN ('true', '1')"
            )
    out = tmp_path / "processed"
    ingest_from_source(loaded["url"], out, sources={"postgresql": {"tables": {"audits": "typed.audits"}}})
    got, ref = load_processed(out)["audits"], load_processed(loaded["from_csv"])["audits"]
    pd.testing.assert_frame_equal(_sorted(got), _sorted(ref), check_exact=True)


def _cli_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_unknown_role_is_one_line_exit_2(loaded, tmp_path, capsys):
    url = loaded["url"].replace("modqa@", "nobody@")
    err = _cli_error(["ingest", "--source", url, "--processed", str(tmp_path / "p")], capsys)
    assert err.startswith(
        f"modqa ingest: error: postgresql://nobody@127.0.0.1:{loaded['port']}/postgres: cannot connect"
    )
    assert 'role "nobody" does not exist' in err
    assert not (tmp_path / "p").exists()


def test_password_is_never_printed(loaded, tmp_path, capsys):
    url = loaded["url"].replace("modqa@", "nobody:s3cret@")
    err = _cli_error(["ingest", "--source", url, "--processed", str(tmp_path / "p")], capsys)
    assert "s3cret" not in err and "cannot connect" in err


def test_unreachable_server_is_one_line_exit_2(tmp_path, capsys):
    url = f"postgresql://modqa@127.0.0.1:{_free_port()}/postgres"
    t0 = time.monotonic()
    err = _cli_error(["ingest", "--source", url, "--processed", str(tmp_path / "p")], capsys)
    assert "cannot connect" in err and "check host, port, user and password" in err
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "p").exists()


def test_missing_table_is_one_line_and_publishes_nothing(loaded, tmp_path, capsys):
    cfg = tmp_path / "sources.yaml"
    cfg.write_text(yaml.safe_dump({"postgresql": {"tables": {"audits": "qa.no_such_table"}}}))
    out = tmp_path / "processed"
    ingest(loaded["raw"], out)  # an earlier good ingest stays published
    before = load_processed(out)
    err = _cli_error(["ingest", "--source", loaded["url"], "--sources", str(cfg), "--processed", str(out)], capsys)
    assert "table qa.no_such_table (for 'audits') not found" in err
    _assert_same_processed(out, loaded["from_csv"], list(before))


def test_missing_required_table_in_schema(loaded, tmp_path, capsys):
    cfg = tmp_path / "sources.yaml"
    cfg.write_text(yaml.safe_dump({"postgresql": {"schema": "qa"}}))
    err = _cli_error(
        ["ingest", "--source", loaded["url"], "--sources", str(cfg), "--processed", str(tmp_path / "p")], capsys
    )
    assert "required table qa.decisions not found" in err


def test_query_with_missing_column_is_one_line(loaded, tmp_path, capsys):
    cfg = tmp_path / "sources.yaml"
    cfg.write_text(yaml.safe_dump({"postgresql": {"tables": {"audits": {"query": "SELECT nope FROM audits"}}}}))
    err = _cli_error(
        ["ingest", "--source", loaded["url"], "--sources", str(cfg), "--processed", str(tmp_path / "p")], capsys
    )
    assert "cannot read 'audits'" in err and 'column "nope" does not exist' in err


def test_table_missing_a_contract_column_gets_the_contract_message(loaded, tmp_path):
    drop = S.TABLES["audits"].columns[-1].name
    cols = ", ".join(f'"{c}"' for c in S.TABLES["audits"].column_names if c != drop)
    src = {"postgresql": {"tables": {"audits": {"query": f"SELECT {cols} FROM audits"}}}}
    with pytest.raises(DataContractError) as ei:
        ingest_from_source(loaded["url"], tmp_path / "p", sources=src)
    assert "audits.csv" in str(ei.value) and drop in str(ei.value)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    "content, match",
    [
        ({"postgres": {}}, r"unknown top-level key 'postgres'; allowed: postgresql"),
        (
            {"postgresql": {"tabels": {}}},
            r"unknown key 'tabels' under 'postgresql'; allowed: connect_timeout, schema, tables",
        ),
        (
            {"postgresql": {"tables": {"decision": "d"}}},
            r"unknown table 'decision' under 'postgresql.tables' \(not a contract table\); allowed: actions, .*audits",
        ),
        (
            {"postgresql": {"tables": {"audits": {"sql": "SELECT 1"}}}},
            r"unknown key 'sql' for table 'audits'; allowed: query, table",
        ),
        ({"postgresql": {"tables": {"audits": {"table": "a", "query": "SELECT 1"}}}}, r"exactly one of"),
        ({"postgresql": {"connect_timeout": "soon"}}, r"whole number of seconds"),
    ],
)
def test_sources_yaml_is_validated(content, match):
    with pytest.raises(ConfigError, match=match):
        load_sources_config(content)


def test_shipped_sources_yaml_is_valid():
    cfg = load_sources_config()
    assert cfg == {"schema": "public", "connect_timeout": 10, "tables": {}}


def test_only_postgresql_urls(tmp_path):
    with pytest.raises(ConfigError, match="only postgresql://"):
        ingest_from_source("mysql://x@y/z", tmp_path / "p")


def test_source_error_is_an_input_error():
    from modqa_lib.errors import InputFileError

    assert issubclass(SourceError, InputFileError)
