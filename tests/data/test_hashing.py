"""Tests of modqa_lib.data.hashing: one read of each raw file gives both its digest and the data fingerprint."""

from __future__ import annotations

import hashlib

from modqa_lib.data import hashing
from modqa_lib.data.io import data_fingerprint


def test_raw_digests_equal_the_separate_passes(tmp_path):
    files = []
    for name, size in (("b.csv", 3 * hashing.CHUNK_BYTES + 17), ("a.csv", 5), ("c.parquet", 0)):
        p = tmp_path / name
        p.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        files.append(p)
    digests, fp = hashing.raw_digests(files)
    assert fp == data_fingerprint(files)
    assert digests == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert {p: hashing.file_sha256(p) for p in files} == digests


def test_path_sha256_of_a_folder_names_and_bytes(tmp_path):
    (tmp_path / "d" / "week=1").mkdir(parents=True)
    (tmp_path / "d" / "week=1" / "part-0.parquet").write_bytes(b"abc")
    before = hashing.path_sha256(tmp_path / "d")
    (tmp_path / "d" / "week=1" / "part-0.parquet").rename(tmp_path / "d" / "week=1" / "part-1.parquet")
    assert hashing.path_sha256(tmp_path / "d") != before  # a renamed file changes the digest
    assert hashing.path_sha256(tmp_path / "d" / "week=1" / "part-1.parquet") == hashlib.sha256(b"abc").hexdigest()
