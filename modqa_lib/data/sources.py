"""Database sources for ``modqa ingest --source postgresql://user@host:port/db``.

Each contract table is read from PostgreSQL with psycopg 3, streamed by
``COPY (<query>) TO STDOUT WITH CSV HEADER`` into a staging CSV file, and the
staging folder then goes through the normal :func:`modqa_lib.data.ingest.ingest`:
the same validation rules and messages, the same processed dataset, published
by the same atomic switch (a source that cannot be read publishes nothing).

Where each table comes from is configured in ``params/sources.yaml``::

    postgresql:
      schema: public              # where plain table names are looked up
      connect_timeout: 10         # seconds
      tables:                     # contract table -> a table/view name, or a query
        decisions: moderation.decisions_week
        audits: {query: "SELECT * FROM qa.audits WHERE audited_at >= now() - interval '12 weeks'"}

A contract table not listed is read from the table of the same name in
``schema``: the required ones (decisions, audits) must exist, the optional
ones are read when they exist.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modqa_lib.config import PARAMS_DIR
from modqa_lib.contract import schema as S
from modqa_lib.data.io import load_yaml
from modqa_lib.errors import ConfigError, SourceError

__all__ = ["SOURCES_FILE", "ingest_from_source", "load_sources_config", "read_postgres_tables"]

#: default configuration file of database sources
SOURCES_FILE = PARAMS_DIR / "sources.yaml"
_TOP_KEYS = {"postgresql"}
_PG_KEYS = {"schema", "connect_timeout", "tables"}
_TABLE_KEYS = {"table", "query"}
_BOOL_OID = 16


def load_sources_config(path: str | os.PathLike | Mapping | None = None) -> dict:
    """Read and check ``params/sources.yaml``.

    Parameters
    ----------
    path : path-like or mapping, optional
        Default :data:`SOURCES_FILE`; a missing default file means "every table
        by its contract name in schema public". A mapping is used as the content.

    Returns
    -------
    dict
        ``schema`` (str), ``connect_timeout`` (int), ``tables``: contract table ->
        ``{"table": name}`` or ``{"query": sql}``.

    Raises
    ------
    ConfigError
        Unknown keys (top level, under ``postgresql``, per table), a table name
        that is not a contract table, or a table given as neither a name nor
        exactly one of ``table``/``query``.
    """
    if isinstance(path, Mapping):
        raw, where = dict(path), "<sources>"
    else:
        p = Path(path) if path else SOURCES_FILE
        if not p.exists():
            if path:
                raise ConfigError(f"{p}: sources file not found")
            raw, where = {}, str(p)
        else:
            raw, where = load_yaml(p) or {}, str(p)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping with a 'postgresql:' section")
    _no_unknown(raw, _TOP_KEYS, where, "top-level key")
    pg = raw.get("postgresql") or {}
    if not isinstance(pg, Mapping):
        raise ConfigError(f"{where}: 'postgresql:' must be a mapping (schema, connect_timeout, tables)")
    _no_unknown(pg, _PG_KEYS, where, "key", " under 'postgresql'")
    tables = pg.get("tables") or {}
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{where}: 'postgresql.tables' must map contract tables to a table name or {{query: ...}}")
    _no_unknown(tables, set(S.TABLE_NAMES), where, "table", " under 'postgresql.tables' (not a contract table)")
    out: dict[str, dict] = {}
    for name, spec in tables.items():
        if isinstance(spec, str) and spec.strip():
            out[name] = {"table": spec.strip()}
        elif isinstance(spec, Mapping):
            _no_unknown(spec, _TABLE_KEYS, where, "key", f" for table '{name}'")
            given = [k for k in _TABLE_KEYS if spec.get(k)]
            if len(given) != 1:
                raise ConfigError(f"{where}: table '{name}': give exactly one of 'table:' or 'query:'")
            out[name] = {given[0]: str(spec[given[0]]).strip().rstrip(";")}
        else:
            raise ConfigError(f"{where}: table '{name}': expected a table name or {{table: ...}} / {{query: ...}}")
    try:
        timeout = int(pg.get("connect_timeout", 10))
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: 'connect_timeout' must be a whole number of seconds") from None
    return {"schema": str(pg.get("schema") or "public"), "connect_timeout": timeout, "tables": out}


def _no_unknown(d: Mapping, allowed: set[str], where: str, what: str, context: str = "") -> None:
    unknown = sorted(str(k) for k in d if k not in allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown {what} {', '.join(map(repr, unknown))}{context}; allowed: {', '.join(sorted(allowed))}"
        )


def _display_url(url: str) -> str:
    """``postgresql://user@host:port/db`` without the password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        d = conninfo_to_dict(url)
    except Exception:
        return url.split("@")[-1] if "@" in url else url
    user = f"{d['user']}@" if d.get("user") else ""
    host = d.get("host") or "localhost"
    port = f":{d['port']}" if d.get("port") else ""
    return f"postgresql://{user}{host}{port}/{d.get('dbname') or ''}"


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n")[0].split())
    return text or type(exc).__name__


def read_postgres_tables(url: str, out_dir: str | os.PathLike, config: Mapping | None = None) -> dict[str, Path]:
    """Stream each configured table from PostgreSQL into ``out_dir/<table>.csv``.

    Parameters
    ----------
    url : str
        ``postgresql://user[:password]@host[:port]/dbname`` (libpq URI; a password
        may also come from ``PGPASSWORD`` or ``~/.pgpass``).
    out_dir : path-like
        Folder for the staging CSV files (created).
    config : mapping, optional
        As returned by :func:`load_sources_config` (default: read it).

    Returns
    -------
    dict
        Contract table -> CSV file written.

    Raises
    ------
    SourceError
        Unreachable server, bad credentials, missing table, a query that fails
        (e.g. a missing column): one line naming the source and the table.
    """
    import psycopg

    cfg = dict(config) if config is not None else load_sources_config()
    where = _display_url(url)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        conn = psycopg.connect(url, connect_timeout=cfg.get("connect_timeout", 10), autocommit=True)
    except psycopg.Error as exc:
        raise SourceError(
            f"{where}: cannot connect ({_first_line(exc)}); check host, port, user and password"
        ) from None
    written: dict[str, Path] = {}
    try:
        with conn:
            conn.execute("SET TIME ZONE 'UTC'")
            conn.execute("SET DateStyle = 'ISO, YMD'")
            conn.execute("SET extra_float_digits = 3")
            for name in S.TABLE_NAMES:
                spec = cfg["tables"].get(name)
                if spec is None:
                    if not _table_exists(conn, cfg["schema"], name):
                        if name in S.REQUIRED_TABLES:
                            raise SourceError(
                                f"{where}: required table {cfg['schema']}.{name} not found; create it or map "
                                f"'{name}' to a table or query in params/sources.yaml"
                            )
                        continue
                    spec = {"table": name}
                source = _source_sql(conn, cfg["schema"], spec, where, name)
                written[name] = _copy_to_csv(conn, source, out / f"{name}.csv", where, name)
    except psycopg.Error as exc:
        raise SourceError(f"{where}: {_first_line(exc)}") from None
    return written


def _table_exists(conn, schema: str, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", [f'"{schema}"."{table}"']).fetchone()
    return bool(row and row[0])


def _source_sql(conn, schema: str, spec: Mapping, where: str, name: str):
    """The SELECT for one table; a plain table is looked up in ``schema`` unless qualified."""
    from psycopg import sql

    if "query" in spec:
        return sql.SQL(spec["query"])
    parts = spec["table"].split(".")
    if len(parts) == 1:
        parts = [schema, parts[0]]
    if not _table_exists(conn, parts[0], parts[1]):
        raise SourceError(f"{where}: table {'.'.join(parts)} (for '{name}') not found; check params/sources.yaml")
    return sql.SQL("SELECT * FROM {}").format(sql.Identifier(*parts))


def _copy_to_csv(conn, source, path: Path, where: str, name: str) -> Path:
    """``COPY (SELECT ... FROM (source)) TO STDOUT WITH CSV HEADER`` into ``path``, booleans as true/false."""
    import psycopg
    from psycopg import sql

    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT * FROM ({}) AS q LIMIT 0").format(source))
            cols = [(d.name, d.type_code) for d in cur.description or []]
    except psycopg.Error as exc:
        raise SourceError(f"{where}: cannot read '{name}': {_first_line(exc)}") from None
    select = sql.SQL(", ").join(
        sql.SQL("CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END AS {c}").format(c=sql.Identifier(c))
        if oid == _BOOL_OID
        else sql.Identifier(c)
        for c, oid in cols
    )
    copy_sql = sql.SQL("COPY (SELECT {} FROM ({}) AS q) TO STDOUT WITH (FORMAT csv, HEADER true)").format(
        select, source
    )
    tmp = path.with_suffix(".partial")
    try:
        with conn.cursor() as cur, cur.copy(copy_sql) as copy, open(tmp, "wb") as fh:
            for chunk in copy:
                fh.write(chunk)
    except psycopg.Error as exc:
        tmp.unlink(missing_ok=True)
        raise SourceError(f"{where}: cannot read '{name}': {_first_line(exc)}") from None
    os.replace(tmp, path)
    return path


def ingest_from_source(
    url: str,
    processed_dir: str | os.PathLike,
    sources: str | os.PathLike | Mapping | None = None,
    staging_dir: str | os.PathLike | None = None,
) -> Any:
    """Read the contract tables from a database and ingest them like raw files.

    Parameters
    ----------
    url : str
        ``postgresql://user@host:port/dbname`` (``postgres://`` too).
    processed_dir : path-like
        As for :func:`modqa_lib.data.ingest.ingest`.
    sources : path-like or mapping, optional
        ``params/sources.yaml`` (default) or its content.
    staging_dir : path-like, optional
        Where the staging CSV files go (a temporary folder, removed afterwards).

    Returns
    -------
    IngestReport
        As from :func:`modqa_lib.data.ingest.ingest`; ``raw_dir`` is the
        (removed) staging folder.

    Raises
    ------
    ConfigError
        Not a postgresql:// URL, or a bad sources file.
    SourceError
        The database cannot be read (see :func:`read_postgres_tables`).
    DataContractError, InputFileError
        As for a raw-file ingest: the same rules and messages.
    """
    from modqa_lib.data.ingest import ingest

    if not str(url).startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"--source {url!r}: only postgresql://user@host:port/dbname sources are supported")
    cfg = load_sources_config(sources)
    tmp = Path(tempfile.mkdtemp(prefix="modqa-source-", dir=staging_dir))
    try:
        read_postgres_tables(url, tmp, cfg)
        return ingest(tmp, processed_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
