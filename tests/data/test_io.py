"""modqa_lib.data.io: raw reading errors, atomic writes, derived columns, the Davidson adapter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modqa_lib.config import SHARED_REAL_DIR
from modqa_lib.contract import schema as S
from modqa_lib.data import io
from modqa_lib.errors import InputFileError

DAVIDSON = SHARED_REAL_DIR / "davidson2017_labeled_data.csv"
needs_davidson = pytest.mark.skipif(not DAVIDSON.exists(), reason=f"{DAVIDSON} not present")


def test_atomic_write_leaves_target_untouched_on_failure(tmp_path):
    target = tmp_path / "x.parquet"
    io.write_parquet_atomic(pd.DataFrame({"a": [1, 2]}), target)
    before = target.read_bytes()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with io.atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise Boom
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"], "temp file left behind"


def test_json_and_csv_atomic_roundtrip(tmp_path):
    io.write_json_atomic({"b": 1, "a": [1, 2]}, tmp_path / "m.json")
    assert (tmp_path / "m.json").read_text().startswith('{\n  "a"')
    io.write_csv_atomic(pd.DataFrame({"x": ["é", "<b>"]}), tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv")["x"].tolist() == ["é", "<b>"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "file is empty"),
        (b"decision_id;label\nd1;x\n", "';'-delimited"),
        ("decision_id,label\nd1,caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_read_raw_table_refuses_unreadable_files(tmp_path, content, message):
    p = tmp_path / "decisions.csv"
    p.write_bytes(content)
    with pytest.raises(InputFileError, match=message) as exc:
        io.read_raw_table(p, "decisions")
    assert str(p) in str(exc.value)


def test_read_raw_table_keeps_text_verbatim(tmp_path):
    p = tmp_path / "policy_changes.csv"
    text = 'He said "hi", then <script>alert(1)</script> &amp; 🙂'
    pd.DataFrame(
        {"changed_at": ["2026-09-01T00:00:00+00:00"], "policy": ["hate_speech"], "description": [text]}
    ).to_csv(p, index=False)
    df = io.read_raw_table(p, "policy_changes")
    assert df.loc[0, "description"] == text


def test_find_raw_tables_requires_decisions_and_audits(tmp_path):
    (tmp_path / "decisions.csv").write_text("decision_id\nd1\n")
    with pytest.raises(InputFileError, match="audits.csv or audits.parquet"):
        io.find_raw_tables(tmp_path)
    with pytest.raises(InputFileError, match="raw data folder not found"):
        io.find_raw_tables(tmp_path / "nope")


def test_find_raw_tables_rejects_a_table_given_twice(tmp_path):
    for f in ["decisions.csv", "decisions.parquet", "audits.csv"]:
        (tmp_path / f).write_text("x\n1\n")
    with pytest.raises(InputFileError, match="given twice"):
        io.find_raw_tables(tmp_path)


def test_derived_columns_use_site_local_time():
    dec = pd.DataFrame(
        {
            S.DECIDED_AT: pd.to_datetime(
                [
                    "2026-09-02T16:30:00+00:00",  # 00:30 in Penang (UTC+8)
                    "2026-09-02T16:30:00+00:00",
                ],
                utc=True,
            ),
            S.SITE: ["Penang", "Lisbon"],  # 17:30 in Lisbon (UTC+1)
            S.MODERATOR_TENURE_DAYS: pd.array([10, None], dtype="Int64"),
        }
    )
    out = io.add_derived_columns(dec, {"Penang": "Asia/Kuala_Lumpur", "Lisbon": "Europe/Lisbon"})
    assert out[S.HOUR].tolist() == [0, 17]
    assert out[S.SHIFT].tolist() == ["night", "evening"]
    assert out[S.WEEK].tolist() == [pd.Timestamp("2026-08-31")] * 2
    assert out[S.TENURE_BAND].tolist()[0] == "<30d" and pd.isna(out[S.TENURE_BAND].iloc[1])
    assert S.HOUR not in dec.columns, "input mutated"


def test_fingerprint_is_content_based():
    a = pd.DataFrame({"x": [1, 2, 3]})
    assert io.data_fingerprint({"t": a}) == io.data_fingerprint({"t": a.copy()})
    assert io.data_fingerprint({"t": a}) != io.data_fingerprint({"t": a.assign(x=[1, 2, 4])})


@needs_davidson
def test_davidson_adapter_shapes_and_majority():
    cal, gold = io.load_davidson(DAVIDSON)
    raw = pd.read_csv(DAVIDSON, index_col=0)
    assert len(gold) == len(raw) == 24783
    assert len(cal) == raw["count"].sum()
    assert list(cal.columns) == [S.SESSION_ID, S.ITEM_ID, S.RATER_ID, S.RATER_GROUP, S.LABEL]
    # votes per item and category round-trip to the raw counts
    counts = pd.crosstab(cal[S.ITEM_ID], cal[S.LABEL])
    first = counts.loc["dav-0"]
    assert (first["neither"], first.get("hate_speech", 0)) == (raw.loc[0, "neither"], raw.loc[0, "hate_speech"])
    # gold is the published majority class
    assert gold[S.GOLD_LABEL].value_counts()["offensive_language"] == (raw["class"] == 1).sum()
    # the majority of the votes agrees with the gold label for (almost) every item
    maj = counts.idxmax(axis=1).reindex(gold[S.ITEM_ID]).to_numpy()
    assert np.mean(maj == gold[S.GOLD_LABEL].to_numpy()) > 0.99
    assert cal.groupby(S.ITEM_ID)[S.RATER_ID].nunique().min() >= 3


def test_davidson_adapter_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        io.load_davidson(tmp_path / "nope.csv")


def test_load_processed_says_run_ingest(tmp_path):
    with pytest.raises(InputFileError, match="modqa ingest"):
        io.load_processed(tmp_path)
