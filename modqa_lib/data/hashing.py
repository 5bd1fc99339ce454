"""SHA-256 digests of raw and published files, each file read and hashed once.

An ingest records the SHA-256 of every raw file and of every published table
(``manifest.json``) and a short fingerprint of the raw data
(:func:`modqa_lib.data.io.data_fingerprint` of the raw files: a digest of each
file's name and SHA-256). :func:`raw_digests` gives both from **one** pass of
SHA-256 over each file, so a 10 GB decisions log is read and hashed once, and it
releases the GIL while it hashes (``hashlib`` does for large buffers [1]_), so an
ingest can run it in a thread beside DuckDB's parse of the same file.

References
----------
.. [1] Python documentation, ``hashlib``: "For better multithreading performance,
   the Python GIL is released for data larger than 2047 bytes at object creation
   or on update." https://docs.python.org/3/library/hashlib.html
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CHUNK_BYTES", "file_sha256", "path_sha256", "raw_digests"]

#: bytes read (and hashed) per call
CHUNK_BYTES = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            h.update(chunk)
    return h.hexdigest()


def path_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, or of a folder's files (relative names and bytes, in sorted order)."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(path)).encode())
        h.update(file_sha256(p).encode())
    return h.hexdigest()


def raw_digests(paths: Iterable[str | os.PathLike]) -> tuple[dict[Path, str], str]:
    """Each file's SHA-256 and the data fingerprint of them all, reading every file once.

    Parameters
    ----------
    paths : iterable of path-like

    Returns
    -------
    digests : dict of Path to str
        Hex SHA-256 of each file (as :func:`file_sha256`).
    fingerprint : str
        16 hex characters: SHA-256 of each file's name and hex digest, in sorted path order (what
        :func:`modqa_lib.data.io.data_fingerprint` gives for the same paths).
    """
    fp = hashlib.sha256()
    digests: dict[Path, str] = {}
    for p in sorted(Path(x) for x in paths):
        digests[p] = file_sha256(p)
        fp.update(p.name.encode())
        fp.update(digests[p].encode())
    return digests, fp.hexdigest()[:16]
