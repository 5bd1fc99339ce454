"""Tests of the DuckDB fast ingest path (modqa_lib.data.ingest_sql, modqa_lib.contract.sql_rules).

The fast path must publish exactly what the streaming path publishes (same files,
rows, dtypes, partitions, warnings) or fall back to it: on valid data, on the demo,
on every ingest case of the bad-input corpus, and on a one-cell breach of every
per-table rule (generated from the contract, so a new column or rule is covered).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from valid_tables import make_valid_tables, write_raw

from modqa_lib.contract import schema as S
from modqa_lib.contract import sql_rules as Q
from modqa_lib.contract import validation as V
from modqa_lib.contract.validation import validate_tables
from modqa_lib.data import ingest_sql
from modqa_lib.data import io as mio
from modqa_lib.data.ingest import ingest
from modqa_lib.errors import DataContractError, ModqaError

CORPUS = Path(__file__).parents[1] / "bad_inputs"


def _expected(case: str) -> dict:
    out: dict = {}
    for line in (CORPUS / case / "expected.txt").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(": ")
        out.setdefault(key, value)
    return out


INGEST_CASES = sorted(
    p.name for p in CORPUS.iterdir() if (p / "expected.txt").exists() and _expected(p.name)["command"] == "ingest"
)


def _content(processed: Path) -> dict:
    """What a processed folder publishes: every file's table (schema and rows) and the manifest's facts."""
    snap = mio.processed_snapshot(processed)
    out: dict = {}
    for f in sorted(snap.rglob("*.parquet")):
        t = pq.read_table(f, partitioning=None)
        if f.parent.parent.parent.name == "decisions":  # decisions/week=…/vendor=…/: row order is not published
            t = t.sort_by(S.DECISION_ID)
        out[str(f.relative_to(snap))] = (t.schema.remove_metadata(), t.replace_schema_metadata(None))
    man = json.loads((snap / "manifest.json").read_text())
    for t in man["tables"].values():
        t.pop("parquet_sha256")  # DuckDB's row groups may differ; the content is compared above
    out["manifest"] = (man["tables"], man["warnings"])
    return out


def _outcome(raw: Path, out: Path, fast: bool) -> tuple:
    try:
        rep = ingest(raw, out, partition_rows=0, fast=fast)
    except ModqaError as exc:
        return ("error", type(exc).__name__, str(exc)), None
    return ("ok", rep.warnings, _content(out)), rep.validated_by


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        if k == "manifest":
            assert a[k] == b[k]
            continue
        assert a[k][0].equals(b[k][0]), k
        assert a[k][1].equals(b[k][1]), k


def _assert_same_outcome(raw: Path, tmp: Path) -> str:
    fast, how = _outcome(raw, tmp / "fast", True)
    slow, _ = _outcome(raw, tmp / "slow", False)
    assert fast[:2] == slow[:2]
    if fast[0] == "ok":
        _same(fast[2], slow[2])
    else:
        assert fast[2] == slow[2]
    return how or "error"


def test_fast_path_publishes_what_the_streaming_path_publishes(tmp_path):
    raw = write_raw(make_valid_tables(), tmp_path / "raw")
    assert _assert_same_outcome(raw, tmp_path) == "sql"
    assert (mio.processed_snapshot(tmp_path / "fast") / "decisions").is_dir()


@pytest.mark.slow
def test_fast_path_on_the_demo(tmp_path):
    from modqa_lib.data.synthetic import write_demo_data

    raw = write_demo_data(tmp_path / "raw", n_decisions=60_000)
    assert _assert_same_outcome(raw, tmp_path) == "sql"


def test_small_logs_stay_on_the_streaming_path(tmp_path):
    raw = write_raw(make_valid_tables(), tmp_path / "raw")
    rep = ingest(raw, tmp_path / "p")  # 40 rows: one file, not partitioned
    assert rep.validated_by == "stream" and (tmp_path / "p" / "decisions.parquet").exists()
    rep = ingest(raw, tmp_path / "q", partition_rows=41)  # estimated below, so no SQL pass at all
    assert rep.validated_by == "stream"


@pytest.mark.parametrize("case", INGEST_CASES)
def test_bad_input_corpus_same_outcome_or_fallback(case, tmp_path, monkeypatch):
    folder = CORPUS / case
    if (folder / "params").is_dir():
        import modqa_lib.config

        monkeypatch.setattr(modqa_lib.config, "PARAMS_DIR", folder / "params")
        S.load_taxonomy.cache_clear()
    try:
        how = _assert_same_outcome(folder / "raw", tmp_path)
    finally:
        S.load_taxonomy.cache_clear()
    # an error case can never pass the SQL path (the outcomes are equal); a warned one only with the same warnings
    assert how in ("sql", "stream", "error")


# ------------------------------------------------------- every rule has an SQL twin
def _breaches() -> list[tuple[str, str, str]]:
    """(column, rule kind, a cell value breaking it) for every per-table rule of every decisions column."""
    tax = S.load_taxonomy()
    out = []
    for col in S.TABLES["decisions"].columns:
        c = col.name
        if not col.nullable:
            out.append((c, "required", ""))
        if col.dtype == "str" and c not in V.FREE_TEXT:
            out += [(c, "blank", v) for v in (" x", "x ", "x\t", "x\u3000", "\u00a0x")]
        if c in V.ID_COLUMNS:
            out += [(c, "placeholder", p) for p in ("null", "N/A")]
        if col.vocab:
            out.append((c, "vocab", "zz_" + tax.vocab(col.vocab)[0]))
        if col.dtype == "int":
            out += [(c, "parse", v) for v in ("1.5", "1e3", "x", "+1", "9" * 16, "1_000", "+-1")]
        if col.dtype == "float":
            # DuckDB 2.0 casts "1_000" to 1000 and "+-1" to -1 (pandas: not a number), so numbers are typed from text
            out += [(c, "parse", v) for v in ("0,5", "inf", "nan", "1e-3", "x", "1_000", "+-1", "-0")]
        if col.dtype == "datetime":
            out += [
                (c, "parse", v)
                for v in ("2026-03-02T10:00:00", "2026-02-30T10:00:00Z", "garbage", "2026-03-02T10:00:00.1234567Z")
            ]
            out += [(c, "future", "2300-01-01T00:00:00Z"), (c, "floor", "1999-01-01T00:00:00Z")]
        if col.min is not None:
            out.append((c, "range", str(col.min - 1)))
        if col.max is not None:
            out.append((c, "range", str(col.max + 1)))
        if col.unique:
            out.append((c, "unique", "<dup>"))
        if c in V.CASE_FOLDED:
            out.append((c, "casefold", "<case>"))
    return out


BREACHES = _breaches()
#: forms pandas parses but the SQL path does not cast (it falls back on them: slower, same result)
OUTSIDE_SQL_FORMS = {"1e3", "+1", "1e-3", "-0", "2026-03-02T10:00:00.1234567Z"}


def test_every_rule_kind_is_generated_from_the_contract():
    tax = S.load_taxonomy()
    rules = {(r.column, r.kind) for r in Q.table_rules("decisions", tax, V.date_bounds())}
    by_value = {  # rules run on the distinct values of a value column: every kind a breach would trip
        (c, k)
        for c in Q.value_columns("decisions")
        for k in Q.value_rule_kinds("decisions", c, [" x", "zz", "Ab", "aB", None], tax)
    }
    by_id_value = {(r.column, r.kind) for r in Q.id_value_rules("decisions", tax)}
    assert by_id_value == {(S.MODERATOR_ID, "blank"), (S.MODERATOR_ID, "placeholder")}
    expected = {(c, k) for c, k, _ in BREACHES if k != "unique"}
    assert expected <= rules | by_value | by_id_value
    # each rule runs once
    assert not rules & by_value and not rules & by_id_value and not by_value & by_id_value
    assert {k for _, k in rules | by_value | by_id_value} | {"unique"} == set(Q.RULE_KINDS)
    assert Q.unique_columns("decisions") == [S.DECISION_ID]
    assert Q.id_values_sql("decisions", "t", tax) and Q.distinct_values_sql("decisions", "t")


@pytest.mark.parametrize(("column", "kind", "value"), BREACHES, ids=[f"{c}-{k}-{v}" for c, k, v in BREACHES])
def test_each_rule_breach_is_caught_in_sql(tmp_path, column, kind, value):
    t = make_valid_tables()
    d = t["decisions"]
    row = 5
    if column not in d.columns:
        d[column] = pd.Series(pd.NA, index=d.index, dtype=object)
    if value == "<dup>":
        value = d.loc[0, column]
    elif value == "<case>":
        value = str(d.loc[0, column]).swapcase()
        row = 0 if d[column].nunique() == 1 else row  # the one value is in every row: change one
        value = str(d.loc[1, column]).swapcase() if d.loc[1, column] == d.loc[0, column] else value
        row = 1
    d[column] = d[column].astype(object)
    d.loc[row, column] = value
    raw = write_raw(t, tmp_path / "raw")
    # the pandas validation rejects or warns about it (or, for a form SQL does not cast, accepts it) ...
    frames = {n: mio.read_raw_table(raw / f"{n}.csv", n) for n in t}
    warned: list = []
    try:
        validate_tables(frames, warnings=warned)
        assert warned or value in OUTSIDE_SQL_FORMS, f"{column}={value!r} is accepted silently: not a breach"
    except DataContractError:
        assert value not in OUTSIDE_SQL_FORMS
    # ... and the SQL twin of that rule catches it (so the fast path falls back)
    del frames["decisions"]
    (tmp_path / "stage").mkdir()
    with pytest.raises(ingest_sql.SqlFallback) as ei:
        ingest_sql.stage_decisions(raw / "decisions.csv", frames, tmp_path / "stage")
    assert not any((tmp_path / "stage").iterdir())  # nothing staged is left behind
    msg = str(ei.value)
    if kind == "unique":
        assert "duplicate" in msg
    elif kind == "required" and column in (S.DECIDED_AT,):
        assert f"{column}: " in msg
    else:
        assert f"{column}: {kind}" in msg or (kind == "required" and f"{column}: " in msg), msg


def test_sql_fallback_leaves_nothing_and_streaming_reports(tmp_path):
    t = make_valid_tables()
    t["decisions"].loc[3, S.MODEL_SCORE] = "1.7"
    raw = write_raw(t, tmp_path / "raw")
    with pytest.raises(ModqaError, match="model_score"):
        ingest(raw, tmp_path / "p", partition_rows=0)
    assert not (tmp_path / "p").exists()
    shutil.rmtree(tmp_path / "raw")


# ------------------------------------------------- the SQL twins on single values
#: cells around the edges of the blank rule: ASCII and non-ASCII, controls, CR LF, combining and prepended marks
BLANK_CORPUS = [
    "x",
    "x y",
    "D0000000001",
    "m2961",
    "!",
    "~",
    "é",
    "ñandú",
    "名前",
    "x\u0301",
    "\u0600x",
    " x",
    "x ",
    "\tx",
    "x\t",
    "x\r\n",
    "x\n",
    "\r\nx",
    "x\x0b",
    "x\x0c",
    "x\x1c",
    "x\x1f",
    " ",
    "",
    "x\u3000",
    "\u3000x",
    "x\u00a0",
    "\u00a0x",
    "x\u2028",
    "x\u0085",
    "é ",
    " é",
    "名前\t",
    "\u0600 ",
    "x\x01",
    "\x01x",
    "x\x7f",
    "é\x01",
]


def _sql_flags(expr_of, values: list) -> list:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t (i INTEGER, c VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
        return [r[0] for r in con.execute(f"SELECT coalesce({expr_of('c')}, false) FROM t ORDER BY i").fetchall()]
    finally:
        con.close()


def test_blank_condition_flags_what_strip_changes_and_only_ascii_controls_besides():
    """Every cell ``str.strip`` changes (or that is empty) is flagged; besides those only cells with an
    ASCII control at an end (the conservative extra, the streaming path words them), never a clean cell;
    and a missing cell is never flagged (the ``CASE`` keeps missing cells out of the Unicode pattern)."""
    values = [*BLANK_CORPUS, None, *BLANK_CORPUS]  # a missing cell inside the vector
    got = _sql_flags(Q._blank_condition, values)
    for v, flag in zip(values, got, strict=True):
        if v is None:
            assert flag is False
            continue
        strip_changes = v != v.strip() or v == ""
        ascii_control_end = bool(v) and (v[0] < "!" or v[-1] < "!")
        assert flag == (strip_changes or ascii_control_end), repr(v)


@pytest.mark.parametrize("pass_bytes", [1 << 28, 64, 8])  # one pass; shares of 8 or 1 ids (2^k of them)
def test_duplicate_count_counts_values_beyond_one_in_any_number_of_shares(pass_bytes):
    import duckdb

    from modqa_lib.data.ingest_sql import duplicate_count

    rng = np.random.default_rng(7)
    con = duckdb.connect()
    try:
        cases = [(["a", "b", "c", None, None], 0), (["a", "b", "a"], 1), (["a", "A", "a "], 0), ([], 0)]
        ids = [f"D{i}" for i in rng.integers(0, 400, 500)]
        cases.append((ids, len(ids) - len(set(ids))))
        for ids, expected in cases:
            con.execute("CREATE OR REPLACE TABLE t (decision_id VARCHAR)")
            if ids:
                con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in ids])
            # the row count given is only a size hint: a short one grows the arrays
            for rows in (len(ids), 3):
                assert duplicate_count(con, "t", rows, pass_bytes=pass_bytes) == expected, (ids, rows)
    finally:
        con.close()


def test_id_values_sql_flags_blank_and_placeholder_moderator_ids_on_their_distinct_values():
    import duckdb

    tax = S.load_taxonomy()
    con = duckdb.connect()
    try:
        for ids, broken in (
            (["m1", "m2", None, "m1"], set()),
            (["m1", " m2", "m1"], {"blank"}),
            (["m1", "NULL", "n/a "], {"placeholder", "blank"}),
            (["m1", "N/A"], {"placeholder"}),
        ):
            con.execute("CREATE OR REPLACE TABLE t (moderator_id VARCHAR)")
            con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in ids])
            row = con.execute(Q.id_values_sql("decisions", "t", tax)).fetchall()[0]
            got = {r.kind for r, hit in zip(Q.id_value_rules("decisions", tax), row, strict=True) if hit}
            assert got == broken, ids
    finally:
        con.close()


def test_value_rule_kinds_counts_a_missing_cell_of_a_required_value_column():
    tax = S.load_taxonomy()
    ok = list(tax.vocab(S.TABLES["decisions"].column(S.CHANNEL).vocab))
    assert Q.value_rule_kinds("decisions", S.CHANNEL, ok, tax) == []
    assert Q.value_rule_kinds("decisions", S.CHANNEL, [*ok, None], tax) == ["required"]


def test_guarded_select_passes_clean_rows_and_names_every_rule_the_breaking_row_breaks():
    import duckdb

    rules = [
        Q.SqlRule("a", "range", "a < 0"),
        Q.SqlRule("b", "required", "b IS NULL"),
        Q.SqlRule("a", "parse", "a > 100"),
    ]
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, 'x'), (5, 'y'), (100, NULL::VARCHAR)) v(a, b)")
        con.execute("UPDATE t SET b = 'z' WHERE a = 100")
        assert con.execute(f"SELECT sum(a) FROM ({Q.guarded_select('SELECT * FROM t', rules)})").fetchone()[0] == 106
        con.execute("INSERT INTO t VALUES (-1, NULL)")
        with pytest.raises(duckdb.Error) as ei:
            con.execute(Q.guarded_select("SELECT * FROM t", rules)).fetchall()
        assert Q.broken_rule(str(ei.value)) == "a: range, b: required"
        assert Q.broken_rule("Conversion Error: something else") is None
    finally:
        con.close()
