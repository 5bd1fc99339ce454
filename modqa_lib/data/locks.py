"""Exclusive, non-blocking folder locks: one writer per processed folder or batch run.

``modqa ingest`` holds the lock of its processed folder and ``modqa batch``
the lock of its run folder for as long as they write there. A second process
gets :class:`~modqa_lib.errors.ConcurrentRunError` at once, naming the folder
and the holder's pid, instead of interleaving its writes with the first one's.
The lock is an ``fcntl.flock`` on a lock file, so the operating system
releases it when the holder dies, ``kill -9`` included; a lock file left by a
killed holder is simply taken over (POSIX only).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modqa_lib.errors import ConcurrentRunError

__all__ = ["folder_lock", "lock_holder"]


@contextmanager
def folder_lock(folder: str | os.PathLike, name: str, what: str, hint: str = "") -> Iterator[Path]:
    """Hold the exclusive lock ``folder/name`` for the ``with`` block (creates ``folder``).

    Parameters
    ----------
    folder : path-like
        The folder the holder writes into.
    name : str
        Lock file name inside it, e.g. ``".ingest.lock"``.
    what : str
        What holds the lock, for the message: ``"an ingest into this folder"``.
    hint : str, optional
        What the user should do, appended to the message.

    Yields
    ------
    Path
        The lock file (holds the holder's pid while locked; deleted on release).

    Raises
    ------
    ConcurrentRunError
        Another process holds the lock.
    """
    folder = Path(folder)
    fd = _acquire(folder, name, what, hint)
    try:
        yield folder / name
    finally:
        _release(folder / name, fd)


def _acquire(folder: Path, name: str, what: str, hint: str) -> int:
    """Take the lock; return its file descriptor.

    The holder writes its pid into the file and deletes the file on release.
    Because of that deletion, a lock taken on a file that is no longer the one
    at the path is dropped and taken again.
    """
    import fcntl

    path = folder / name
    for _ in range(20):
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            os.close(fd)
            raise ConcurrentRunError(
                f"{folder}: {what} is running ({f'pid {pid}' if pid else 'pid unknown'})"
                + (f"; {hint}" if hint else "")
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # the previous holder removed this file as we locked it: try again
    raise ConcurrentRunError(f"{path}: could not take the lock (the lock file keeps changing)")


def _holder(fd: int) -> int | None:
    """Pid written into the lock file by its holder, or None if not (yet) written."""
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    except (OSError, ValueError):
        return None


def lock_holder(folder: str | os.PathLike, name: str) -> int | None:
    """Pid recorded in ``folder/name`` (a held or stale lock), or None."""
    try:
        fd = os.open(Path(folder) / name, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _holder(fd)
    finally:
        os.close(fd)


def _release(path: Path, fd: int) -> None:
    """Delete the lock file while still holding the lock, then release it."""
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)
