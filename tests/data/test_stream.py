"""Tests of modqa_lib.data.stream: the decisions log validated in batches.

A multi-batch ingest (batch size forced tiny) must give the same processed
content and the same error messages as the whole-table validation
(:func:`modqa_lib.contract.validation.validate_tables`), and the hive-partitioned
layout must read back as the single file does.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from valid_tables import make_valid_tables, write_raw

from modqa_lib.contract import schema as S
from modqa_lib.contract.validation import validate_tables
from modqa_lib.data import io as mio
from modqa_lib.data.ingest import ingest
from modqa_lib.errors import DataContractError

FILES = {t: f"{t}.csv" for t in S.TABLE_NAMES}


def _whole_message(tables) -> str:
    with pytest.raises(DataContractError) as ei:
        validate_tables(tables, FILES)
    return str(ei.value)


def _stream_message(tables, tmp_path, batch_rows) -> str:
    raw = write_raw(tables, tmp_path / "raw")
    with pytest.raises(DataContractError) as ei:
        ingest(raw, tmp_path / "p", batch_rows=batch_rows)
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir())
    return str(ei.value)


def _break_many(t: dict[str, pd.DataFrame]) -> None:
    """Problems in several batches: bad types, vocab, blanks, duplicates, cross-table."""
    d, a = t["decisions"], t["audits"]
    d.loc[[2, 9, 17, 33], S.POLICY] = ["hate", "hate", "spam", "xx"]  # vocab, spread over batches
    d.loc[[5, 26], S.MODEL_SCORE] = ["abc", "1.7"]  # parse failure, out of range
    d.loc[[4, 30], S.DECIDED_AT] = ["2026-03-02 10:00", "not a time"]  # naive, unparseable
    d.loc[[11, 38], S.DECISION_ID] = ["d00003", "d00003"]  # duplicates across batches
    d.loc[20, S.CONTENT_ID] = " "  # empty required value
    a.loc[6, S.DECISION_ID] = "d99999"  # unknown decision
    a.loc[5, S.IS_ERROR] = "true"  # inconsistent with labels
    t["actions"].loc[0, S.SITE] = "Atlantis"


@pytest.mark.parametrize("batch_rows", [1, 7, 16, 1000])
def test_streamed_errors_equal_whole_table_errors(tmp_path, batch_rows):
    t = make_valid_tables()
    _break_many(t)
    whole = _whole_message(t)
    assert whole.count("\n") >= 9  # the corruptions above all show up
    assert _stream_message(t, tmp_path, batch_rows) == whole


def test_streamed_missing_and_unknown_columns(tmp_path):
    t = make_valid_tables()
    t["decisions"] = t["decisions"].drop(columns=[S.CHANNEL]).rename(columns={S.QUEUE: "queu"})
    assert _stream_message(t, tmp_path, 3) == _whole_message(t)


def test_header_only_decisions(tmp_path):
    t = make_valid_tables()
    t["decisions"] = t["decisions"].iloc[:0]
    assert _stream_message(t, tmp_path, 5) == _whole_message(t)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(S.DECISION_ID, ignore_index=True)


@pytest.mark.parametrize("partition_rows", [None, 0])
def test_multi_batch_ingest_gives_the_same_tables(tmp_path, partition_rows):
    t = make_valid_tables()
    raw = write_raw(t, tmp_path / "raw")
    ingest(raw, tmp_path / "one")
    rep = ingest(raw, tmp_path / "many", batch_rows=3, partition_rows=partition_rows)
    a, b = mio.load_processed(tmp_path / "one"), mio.load_processed(tmp_path / "many")
    assert list(a) == list(b)
    for name in a:
        if name == "decisions" and partition_rows == 0:  # partitioned: rows come back by week and vendor
            pd.testing.assert_frame_equal(_sorted(a[name]), _sorted(b[name]))
        else:
            pd.testing.assert_frame_equal(a[name], b[name])
    assert rep.tables[0].rows == 40
    man = json.loads((tmp_path / "many" / "manifest.json").read_text())
    assert man["tables"]["decisions"]["rows"] == 40
    assert man["tables"]["decisions"]["columns"] == S.TABLES["decisions"].column_names


def test_partitioned_layout_is_hive_by_week_and_vendor(tmp_path):
    raw = write_raw(make_valid_tables(), tmp_path / "raw")
    out = tmp_path / "p"
    ingest(raw, out, partition_rows=0)
    assert (out / "decisions").is_symlink() and not (out / "decisions.parquet").exists()
    snap = mio.processed_snapshot(out)
    parts = sorted(p.relative_to(snap / "decisions") for p in (snap / "decisions").rglob("*.parquet"))
    weeks = {p.parts[0] for p in parts}
    vendors = {p.parts[1] for p in parts}
    assert (
        all(w.startswith("week=2026-") for w in weeks) and len(weeks) == 4
    )  # 2026-03-02T00:15+08:00 is in the week of Feb 23 (UTC)
    assert {v.split("=", 1)[0] for v in vendors} == {"vendor"} and len(vendors) == 4
    assert all(p.name.startswith("part-") for p in parts)
    # every row sits in the folder of its Monday (UTC) and vendor
    dec = mio.add_derived_columns(mio.load_processed(out)["decisions"], {})
    for (week, vendor), g in dec.groupby([S.WEEK, S.VENDOR]):
        folder = snap / "decisions" / f"week={week:%Y-%m-%d}"
        files = [p for p in folder.iterdir() if p.name.split("=", 1)[1].replace("%20", " ") == vendor]
        assert len(files) == 1
        got = pd.read_parquet(next(files[0].glob("*.parquet")))
        assert sorted(got[S.DECISION_ID]) == sorted(g[S.DECISION_ID])


def test_reingest_switches_between_file_and_partitioned(tmp_path):
    raw = write_raw(make_valid_tables(), tmp_path / "raw")
    out = tmp_path / "p"
    ingest(raw, out, partition_rows=0)
    rep = ingest(raw, out)  # back to a single file
    assert rep.removed == []
    assert (out / "decisions.parquet").exists() and not (out / "decisions").exists()
    assert len(mio.load_processed(out)["decisions"]) == 40
    ingest(raw, out, partition_rows=0)
    assert (out / "decisions").is_dir() and not (out / "decisions.parquet").exists()
    assert np.array_equal(
        np.sort(mio.load_processed(out)["decisions"][S.DECISION_ID].to_numpy()),
        np.sort(make_valid_tables()["decisions"][S.DECISION_ID].to_numpy()),
    )


# ------------------------------------------------------------- the Arrow reader
TRICKY = '\ufeffa,b,c\n1,"two\nlines",""\n  ,x,\n"q""uote",é,3\n\n4,5,6\r\n'


@pytest.mark.parametrize("batch_rows", [1, 2, 100])
def test_arrow_reader_reads_as_pandas_does(tmp_path, batch_rows):
    from modqa_lib.data.stream import iter_raw_batches

    p = tmp_path / "decisions.csv"
    p.write_text(TRICKY, encoding="utf-8")
    a = list(iter_raw_batches(p, "decisions", batch_rows, engine="arrow"))
    b = list(iter_raw_batches(p, "decisions", batch_rows))
    assert [len(x) for x in a] == [len(x) for x in b]
    pd.testing.assert_frame_equal(pd.concat(a), pd.concat(b))
    assert pd.concat(a).shape == (4, 3)


@pytest.mark.parametrize(
    "text",
    [
        "a,b,c\n1,2\n",  # short row: pandas pads it
        "a,b,c\n1,2,3,4\n",  # long row: pandas refuses
        "a,b,c\n1,\xff,3\n",  # not UTF-8
    ],
)
def test_arrow_reader_falls_back_on_what_pandas_reads_differently(tmp_path, text):
    from modqa_lib.data.stream import ArrowFallback, iter_raw_batches

    p = tmp_path / "decisions.csv"
    p.write_bytes(text.encode("latin-1"))
    with pytest.raises(ArrowFallback):
        list(iter_raw_batches(p, "decisions", 10, engine="arrow"))


def test_short_rows_give_the_same_problems_as_before(tmp_path):
    t = make_valid_tables()
    raw = write_raw(t, tmp_path / "raw")
    lines = (raw / "decisions.csv").read_text().splitlines(keepends=True)
    lines[3] = ",".join(lines[3].split(",")[:5]) + "\n"  # a short row (pandas pads it with empty cells)
    (raw / "decisions.csv").write_text("".join(lines))
    with pytest.raises(DataContractError) as ei:
        ingest(raw, tmp_path / "p", batch_rows=4)
    frames = {n: mio.read_raw_table(raw / f"{n}.csv", n) for n in S.TABLE_NAMES if (raw / f"{n}.csv").exists()}
    assert str(ei.value) == _whole_message(frames)
    assert "data rows 3" in str(ei.value)


@pytest.mark.parametrize("partition_rows", [None, 0])
def test_decisions_with_only_a_warning_are_published(tmp_path, partition_rows):
    """Blanks stripped (a warning) in the decisions: the streamed batches are still written and published."""
    t = make_valid_tables()
    t["decisions"].loc[1, S.SITE] = " Kuala Lumpur"
    raw = write_raw(t, tmp_path / "raw")
    rep = ingest(raw, tmp_path / "p", partition_rows=partition_rows, fast=False)
    assert any("leading/trailing blanks stripped" in w for w in rep.warnings)
    dec = mio.load_processed(tmp_path / "p")["decisions"]
    assert len(dec) == 40 and dec[S.SITE].str.strip().eq(dec[S.SITE]).all()


def test_empty_decision_id_is_a_contract_problem_not_a_crash(tmp_path):
    t = make_valid_tables()
    t["decisions"].loc[5, S.DECISION_ID] = ""
    with pytest.raises(DataContractError, match=r"decision_id.*\[1 row\(s\); data rows 6\]"):
        ingest(write_raw(t, tmp_path / "raw"), tmp_path / "p")
