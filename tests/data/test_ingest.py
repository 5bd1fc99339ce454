"""Tests of modqa_lib.data.ingest (and reporting.processed_summary on what it writes).

Ingest is all-or-nothing: a failed ingest leaves the previous processed data
byte-for-byte intact, and raw files are never modified, whatever happens.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint
from valid_tables import REAL, make_valid_tables, write_raw

from modqa_lib.contract import schema as S
from modqa_lib.data import io as mio
from modqa_lib.data.ingest import IngestReport, ingest
from modqa_lib.errors import DataContractError, InputFileError
from modqa_lib.report.text import processed_summary


def tree_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folder`` (hidden ones included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def raw(tmp_path) -> Path:
    return write_raw(make_valid_tables(), tmp_path / "raw")


# ------------------------------------------------------------------ good input
def test_ingest_writes_typed_parquet_and_manifest(raw, tmp_path):
    before = tree_hashes(raw)
    out = tmp_path / "processed"
    rep = ingest(raw, out)
    assert isinstance(rep, IngestReport)
    assert [t.table for t in rep.tables] == list(S.TABLE_NAMES)
    assert tree_hashes(raw) == before  # raw untouched
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{t}.parquet" for t in S.TABLE_NAMES] + ["manifest.json", ".current", ".versions"]
    )
    (version,) = (out / ".versions").iterdir()  # no staging, no lock left
    assert sorted(p.name for p in version.iterdir()) == sorted(
        p.name for p in out.iterdir() if not p.name.startswith(".")
    )
    tables = mio.load_processed(out)
    assert len(tables["decisions"]) == 40 and len(tables["audits"]) == 20
    assert str(tables["audits"][S.AUDITED_AT].dtype) == "datetime64[us, UTC]"
    assert tables["audits"][S.IS_ERROR].dtype == bool
    man = json.loads((out / "manifest.json").read_text())
    assert man["data_fingerprint"] == mio.data_fingerprint(sorted(raw.glob("*.csv"))) == rep.data_fingerprint
    d = man["tables"]["decisions"]
    assert d["rows"] == 40 and d["source_file"] == "decisions.csv"
    assert d["source_sha256"] == hashlib.sha256((raw / "decisions.csv").read_bytes()).hexdigest()
    assert d["parquet_sha256"] == hashlib.sha256((out / "decisions.parquet").read_bytes()).hexdigest()
    assert man["ingested_at"].endswith("+00:00")


def test_summary_is_a_short_table(raw, tmp_path):
    (raw / "decision.csv").write_text("x\n1\n")  # misspelt table name: reported, not read
    text = ingest(raw, tmp_path / "p").summary()
    lines = text.splitlines()
    assert lines[1].split() == ["table", "rows", "source", "file"]
    assert lines[2].split() == ["decisions", "40", "decisions.csv"]
    assert "ignored (not a modqa table name): decision.csv" in text


def test_parquet_input_gives_the_same_processed_tables(tmp_path):
    t = make_valid_tables()
    a = ingest(write_raw(t, tmp_path / "csv"), tmp_path / "p_csv")
    typed = mio.load_processed(tmp_path / "p_csv")  # typed frames as parquet raw input
    write_raw(typed, tmp_path / "pq", fmt="parquet")
    b = ingest(tmp_path / "pq", tmp_path / "p_pq")
    assert [r.source_file for r in b.tables][0] == "decisions.parquet"
    assert a.data_fingerprint != b.data_fingerprint
    again = mio.load_processed(tmp_path / "p_pq")
    for name in typed:
        pd.testing.assert_frame_equal(typed[name], again[name])


def test_excel_style_csv_bom_and_crlf_accepted(tmp_path):
    raw = write_raw(make_valid_tables(), tmp_path / "raw")
    p = raw / "audits.csv"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes().replace(b"\n", b"\r\n"))
    rep = ingest(raw, tmp_path / "p")
    assert rep.tables[1].rows == 20
    assert list(mio.load_processed(tmp_path / "p")["audits"].columns)[0] == S.AUDIT_ID


@pytest.mark.skipif(not REAL.exists(), reason="shared real data not present")
def test_real_messy_text_survives_ingest(tmp_path):
    tw = pd.read_csv(REAL, usecols=["tweet"])["tweet"]
    pick = pd.concat(
        [
            tw[tw.str.contains("\n")].head(15),
            tw[tw.str.contains(",")].head(15),
            tw[tw.str.contains("&#")].head(10),
            tw.head(7),
        ]
    )
    texts = pick.tolist() + [html.unescape(x) for x in tw[tw.str.contains("&#1285")].head(3)]  # real emoji
    assert len(texts) == 50 and any("\n" in x for x in texts) and any(ord(c) > 0xFFFF for x in texts for c in x)
    t = make_valid_tables()
    t["policy_changes"] = pd.DataFrame(
        {S.CHANGED_AT: "2026-03-05T00:00:00Z", S.POLICY: "hate_speech", S.DESCRIPTION: texts}, dtype="str"
    )
    t["policy_changes"].loc[48, S.POLICY] = "hate"  # a bad value after multi-line rows
    raw = write_raw(t, tmp_path / "raw")
    with pytest.raises(DataContractError) as ei:
        ingest(raw, tmp_path / "p")
    (p,) = ei.value.problems
    assert (p["file"], p["column"], p["rows"]) == ("policy_changes.csv", S.POLICY, [49])  # data row, not line
    t["policy_changes"].loc[48, S.POLICY] = "hate_speech"
    raw = write_raw(t, tmp_path / "raw")
    ingest(raw, tmp_path / "p")
    got = mio.load_processed(tmp_path / "p")["policy_changes"][S.DESCRIPTION].tolist()
    assert got == texts


def test_stale_optional_table_removed(raw, tmp_path):
    out = tmp_path / "p"
    ingest(raw, out)
    (raw / "policy_changes.csv").unlink()
    rep = ingest(raw, out)
    assert not (out / "policy_changes.parquet").exists() and rep.removed == ["policy_changes.parquet"]
    assert "policy_changes" not in json.loads((out / "manifest.json").read_text())["tables"]


# --------------------------------------------- lock, leftovers, older layout
def test_second_ingest_while_one_runs_is_refused_naming_the_pid(raw, tmp_path):
    import fcntl
    import os

    from modqa_lib.errors import ConcurrentRunError

    out = tmp_path / "processed"
    ingest(raw, out)
    before = tree_hashes(out)
    with open(out / ".ingest.lock", "w") as held:  # what a running ingest holds
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242\n")
        held.flush()
        with pytest.raises(ConcurrentRunError) as ei:
            ingest(raw, out)
        assert str(ei.value) == (
            f"{out}: another ingest into this folder is running (pid 4242); "
            "wait for it to finish, then run 'modqa ingest' again"
        )
        os.unlink(out / ".ingest.lock")  # as the holder does when it ends
    assert tree_hashes(out) == before
    assert ingest(raw, out).stale_cleaned == 0


def test_leftovers_of_an_interrupted_ingest_are_removed_and_reported(raw, tmp_path):
    out = tmp_path / "processed"
    ingest(raw, out)
    (out / ".staging-dead1").mkdir()  # killed while staging
    (out / ".staging-dead1" / "decisions.parquet").write_bytes(b"half")
    (out / ".versions" / "20260101T000000000000Z-dead2").mkdir()  # killed before publishing
    (out / ".staging-link-dead3").symlink_to(".versions/x")  # killed between symlink and replace
    (out / ".ingest.lock").write_text("999999\n")  # a killed holder's lock file: no flock on it
    rep = ingest(raw, out)
    assert rep.stale_cleaned == 3
    assert rep.summary().splitlines()[-1] == "  cleaned up 3 leftover(s) of an interrupted ingest"
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".current", ".previous", ".versions"]
    assert len(list((out / ".versions").iterdir())) == 2  # published and previous
    assert "cleaned up" not in ingest(raw, out).summary()  # nothing left the second time


def test_plain_files_of_an_older_modqa_are_converted(raw, tmp_path):
    out = tmp_path / "processed"
    out.mkdir()
    old = make_valid_tables(44)
    old.pop("golden")
    write_raw(old, tmp_path / "old_raw")
    ingest(tmp_path / "old_raw", tmp_path / "scratch")
    for p in (tmp_path / "scratch").iterdir():  # plain files: the layout before .current
        if not p.name.startswith("."):
            (out / p.name).write_bytes(p.read_bytes())
    rep = ingest(raw, out)
    assert rep.removed == [] and rep.stale_cleaned == 0
    assert all((out / f"{t}.parquet").is_symlink() for t in S.TABLE_NAMES)
    assert (out / "manifest.json").is_symlink()
    assert len(mio.load_processed(out)["decisions"]) == 40 and "golden" in mio.load_processed(out)
    # the adopted old files are the previous version now, kept for readers still on them
    assert len(list((out / ".versions").iterdir())) == 2
    assert len(mio.load_processed(out / ".previous")["decisions"]) == 44


# ------------------------------------------------------- failures change nothing
def test_failed_ingest_keeps_previous_processed_and_raw(raw, tmp_path):
    out = tmp_path / "processed"
    ingest(raw, out)
    processed_before = tree_hashes(out)
    # new, bad raw data: audits point at an unknown decision and a label is unknown
    t = make_valid_tables()
    t["audits"].loc[3, S.DECISION_ID] = "d99999"
    t["decisions"].loc[0, S.LABEL] = "nope"
    bad = write_raw(t, tmp_path / "bad")
    raw_before = tree_hashes(bad)
    with pytest.raises(DataContractError) as ei:
        ingest(bad, out)
    assert len(ei.value.problems) == 2
    assert tree_hashes(out) == processed_before  # byte for byte, no staging left over
    assert tree_hashes(bad) == raw_before


def test_failure_while_writing_keeps_previous(raw, tmp_path, monkeypatch):
    out = tmp_path / "processed"
    ingest(raw, out)
    before = tree_hashes(out)
    calls = []

    def boom(self, path, *a, **k):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(self, path, *a, **k)

    real = pd.DataFrame.to_parquet
    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(OSError, match="disk full"):
        ingest(raw, out)
    assert tree_hashes(out) == before


def test_processed_folder_must_not_be_raw(raw):
    from modqa_lib.errors import ConfigError

    before = tree_hashes(raw)
    with pytest.raises(ConfigError, match="must not be the raw folder"):
        ingest(raw, raw)
    assert tree_hashes(raw) == before


# ----------------------------------------------------------- unreadable files
def _expect_input_error(raw: Path, out: Path, *parts: str) -> str:
    before = tree_hashes(raw)
    with pytest.raises(InputFileError) as ei:
        ingest(raw, out)
    msg = str(ei.value)
    for part in parts:
        assert part in msg, (part, msg)
    assert tree_hashes(raw) == before
    assert not out.exists() or not any(out.iterdir())
    return msg


def test_empty_file(raw, tmp_path):
    (raw / "golden.csv").write_bytes(b"")
    _expect_input_error(raw, tmp_path / "p", "golden.csv", "file is empty")


def test_wrong_encoding_latin1(raw, tmp_path):
    p = raw / "actions.csv"
    p.write_bytes(p.read_text(encoding="utf-8").replace("Refresher", "Formação").encode("latin-1"))
    _expect_input_error(raw, tmp_path / "p", "actions.csv", "not UTF-8 encoded", "byte 0xe7")


def test_semicolon_delimiter(raw, tmp_path):
    make_valid_tables()["audits"].to_csv(raw / "audits.csv", sep=";", index=False)
    _expect_input_error(raw, tmp_path / "p", "audits.csv", "header has no commas", "';'-delimited")


def test_several_unreadable_files_listed_together(raw, tmp_path):
    (raw / "golden.csv").write_bytes(b"")
    (raw / "actions.csv").write_bytes(b"item_id;x\n")
    msg = _expect_input_error(raw, tmp_path / "p", "2 unreadable file(s)", "golden.csv", "actions.csv")
    assert msg.count("\n") == 2


def test_required_table_missing(raw, tmp_path):
    (raw / "audits.csv").unlink()
    _expect_input_error(raw, tmp_path / "p", "required table(s) missing", "audits.csv or audits.parquet")


def test_table_given_as_csv_and_parquet(raw, tmp_path):
    make_valid_tables()["golden"].to_parquet(raw / "golden.parquet")
    _expect_input_error(raw, tmp_path / "p", "table 'golden' given twice", "golden.csv", "golden.parquet")


def test_raw_folder_missing(tmp_path):
    with pytest.raises(InputFileError, match="raw data folder not found"):
        ingest(tmp_path / "nope", tmp_path / "p")


# ------------------------------------------------------------ processed_summary
def test_processed_summary(raw, tmp_path):
    out = tmp_path / "p"
    ingest(raw, out)
    text = processed_summary(out)
    # 20 audits: 1 golden, 19 sampled of which 5 errors (every 4th from the 2nd)
    lo, hi = proportion_confint(14, 19, method="wilson")
    assert (
        f"audited accuracy (sampled audits, unweighted): 73.7% (95% Wilson CI "
        f"{100 * lo:.1f}%–{100 * hi:.1f}%; n = 19)" in text
    )
    assert any(line.split() == ["decisions", "40", "rows"] for line in text.splitlines())
    assert "decided 2026-03-01 to 2026-03-21 (UTC)" in text
    assert "4 vendors, 4 sites, 3 markets, 5 policies" in text
    assert "audited decisions: 19 of 40 (47.5%)" in text
    assert "on critical policies (child_safety, self_harm, violent_extremism): " in text
    assert "data fingerprint" in text


def test_processed_summary_needs_ingest(tmp_path):
    with pytest.raises(InputFileError, match="run 'modqa ingest' first"):
        processed_summary(tmp_path)


def test_synthetic_demo_data_ingests(tmp_path):
    synthetic = pytest.importorskip("modqa_lib.data.synthetic")
    for fmt in ("csv", "parquet"):
        raw = synthetic.write_demo_data(tmp_path / fmt, seed=7, n_decisions=5_000, fmt=fmt)
        rep = ingest(raw, tmp_path / f"p_{fmt}")
        assert rep.tables[0].rows == 5_000
    a, b = mio.load_processed(tmp_path / "p_csv"), mio.load_processed(tmp_path / "p_parquet")
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=False)
    assert "audited accuracy" in processed_summary(tmp_path / "p_csv")


def test_a_reader_on_the_previous_version_can_finish_and_older_ones_go(raw, tmp_path):
    out = tmp_path / "processed"
    ingest(raw, out)
    snap = mio.processed_snapshot(out)  # a reader resolves the version once ...
    assert snap.parent.name == ".versions" and mio.load_processed(snap)["decisions"].shape[0] == 40
    ingest(raw, out)  # ... an ingest publishes meanwhile ...
    assert mio.processed_snapshot(out) != snap
    assert mio.load_processed(snap)["decisions"].shape[0] == 40  # ... and the reader can still finish
    ingest(raw, out)
    assert not snap.exists()  # two publishes later it is gone
    assert len(list((out / ".versions").iterdir())) == 2
    assert mio.processed_fingerprint(out) == json.loads((out / "manifest.json").read_text())["data_fingerprint"]
