"""The lock that keeps two commands off one state file, and only off that file.

Two ``fcntl.flock`` locks, which the kernel drops when their process ends (a killed apply
never leaves the state locked) and which exclude each other between two opens of a file
even within one process:

1. ``<state>.lock`` beside the state (symlinks resolved by the caller), held exclusively:
   one command per state file, while states of other targets in the same folder have
   their own. It names its holder (``describe_holder``), and is removed at release; a
   command that locked one that was removed meanwhile (by its releasing holder) opens the
   new one instead.
2. the state's folder, held shared by every holder. A lock file can be deleted while it is
   held, after which the next command would create and lock a new one; the folder cannot
   go while it holds the state, and deleting files in it does not release it. So a command
   that got its lock file then checks the folder: when the folder is held but no lock file
   in it is held by another command, a holder's lock file is gone (perhaps this state's),
   and the state counts as locked. (With two targets' commands running in one folder, the
   other's lock file accounts for the folder: deleting a lock file by hand then lets a
   second command of its state in. Lock files are never for deleting by hand.)

The first release held the folder exclusively: its commands and these still exclude each
other. Windows has no ``flock``: there ``filelock`` locks ``<state>.lock`` itself.
Nothing here packs a C struct; ``fcntl.flock`` is POSIX (Linux, macOS, the BSDs).
"""

from __future__ import annotations

import errno
import json
import os
import random
import socket
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from reconciler.clock import SYSTEM_CLOCK

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
#: tries before a state counts as locked: two commands starting at the same instant may
#: each see the other's lock for a moment
_ATTEMPTS = 5


class LockUnavailable(OSError):
    """The state cannot be locked at all (not: someone else holds it)."""


def lock_path(state_path: Path) -> Path:
    """The lock file of the (resolved) state file ``state_path``."""
    return state_path.with_name(state_path.name + ".lock")


def try_lock(state_path: Path, *, command: str) -> Callable[[], None] | None:
    """Lock ``state_path`` (already resolved) for ``command``; return how to release it,
    or None when another command holds it. ``LockUnavailable`` when it cannot be locked."""
    path = lock_path(state_path)
    if fcntl is None:  # pragma: no cover - Windows: the lock file alone
        from filelock import FileLock, Timeout

        lock = FileLock(str(path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            return None
        return lock.release
    try:
        folder = os.open(state_path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise LockUnavailable(exc.errno, exc.strerror) from exc
    try:
        for attempt in range(_ATTEMPTS):
            held = _lock_file(path)
            if held is not None:
                if _share_folder(folder, path):
                    _note_holder(held, state_path.name, command)
                    return lambda: _release(folder, held, path)
                _drop(held, path)
            if attempt + 1 < _ATTEMPTS:
                SYSTEM_CLOCK.sleep(random.uniform(0.005, 0.03))
    except BaseException:
        os.close(folder)
        raise
    os.close(folder)
    return None


def describe_holder(state_path: Path) -> str:
    """Who holds the lock of ``state_path``, as its holder noted it."""
    try:
        holder = json.loads(lock_path(state_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "holder unknown"
    if not isinstance(holder, dict):
        return "holder unknown"
    return (
        f"pid {holder.get('pid')} on {holder.get('host')}, "
        f"`{holder.get('command')}` on {holder.get('state')} since {holder.get('since')}"
    )


def _lock_file(path: Path) -> int | None:
    """The lock file, open and locked; None when another command holds it."""
    assert fcntl is not None
    for _ in range(_ATTEMPTS):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LockUnavailable(exc.errno, exc.strerror) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in _BUSY:
                return None
            raise LockUnavailable(exc.errno, exc.strerror) from exc
        if _is_linked(fd, path):
            return fd
        os.close(fd)  # removed by its holder's release after we opened it: open the new one
    return None


def _share_folder(folder: int, own: Path) -> bool:
    """Hold the folder shared, unless a command holds it without a lock file in it (one
    was deleted) or holds it exclusively (the first release, or another command checking
    at this very instant)."""
    assert fcntl is not None
    try:
        fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else holds the folder
    except OSError as exc:
        if exc.errno not in _BUSY:
            raise LockUnavailable(exc.errno, exc.strerror) from exc
        if not _another_lock_file_is_held(own):
            return False
    try:
        fcntl.flock(folder, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in _BUSY:
            raise LockUnavailable(exc.errno, exc.strerror) from exc
        fcntl.flock(folder, fcntl.LOCK_UN)
        return False
    return True


def _another_lock_file_is_held(own: Path) -> bool:
    """Whether a command holds the lock file of another state in ``own``'s folder."""
    assert fcntl is not None
    with os.scandir(own.parent) as entries:
        names = [e.name for e in entries if e.name.endswith(".lock") and e.name != own.name]
    for name in names:
        try:
            fd = os.open(own.parent / name, os.O_RDONLY)
        except OSError:
            continue  # gone since, or not ours to read
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _BUSY:
                return True
        finally:
            os.close(fd)  # (releases the probe's lock, if it got one)
    return False


def _note_holder(fd: int, state_name: str, command: str) -> None:
    """Write who holds the lock into the lock file (read by ``describe_holder``)."""
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "state": state_name,
        "argv": [os.path.basename(sys.argv[0]), *sys.argv[1:2]],
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with suppress(OSError):  # the note is for messages; the lock holds without it
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)


def _release(folder: int, held: int, path: Path) -> None:
    """Let go of the folder first: a command holding the folder then always holds a lock
    file that is still there (so a command checking meanwhile is not refused for nothing
    more than a moment)."""
    os.close(folder)
    _drop(held, path)


def _drop(held: int, path: Path) -> None:
    """Remove the lock file while still holding it (never another command's), close it."""
    try:
        if _is_linked(held, path):
            with suppress(OSError):
                os.unlink(path)
    finally:
        os.close(held)


def _is_linked(fd: int, path: Path) -> bool:
    """Whether ``path`` is still the file open as ``fd``."""
    try:
        now = os.stat(path)
    except OSError:
        return False
    opened = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino)


__all__ = ["LockUnavailable", "describe_holder", "lock_path", "try_lock"]
