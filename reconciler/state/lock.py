"""The lock that keeps two commands off one state file, and only off that file.

On Linux the lock is an open-file-description byte-range lock (``F_OFD_SETLK``) on the
state's *folder*, at a byte offset derived from the state file's name:

1. take a shared (read) lock on the folder at the file's offset;
2. ask the kernel whether anyone else holds a lock there (``F_OFD_GETLK`` for a write
   lock: a conflict is another holder). If so, let go: the state is locked.

Two commands can never both pass step 2: whichever checks second sees the first one's
lock, which is held until its process ends. Both may, at worst, see each other at the same
instant and both refuse (we retry a few times first). The folder cannot be deleted while
it holds the state, and deleting or replacing files in it (a lock file, the state itself)
changes nothing, which is what a lock *file* could not offer: once deleted while held,
the next command would lock a new file and run beside the first. A symlinked state locks
its real file (the caller resolves it). States in the same folder (one per target) lock
different offsets, so several targets can be applied at once. The kernel drops the lock
when its process dies, so a killed apply never blocks the next one.

Each holder also holds a shared ``flock`` on the folder: the first release took an
exclusive one there, so an old and a new release still exclude each other.

Where ``F_OFD_SETLK`` is missing (macOS, BSD), the first release's exclusive ``flock`` on
the folder is used: one command per state folder. Windows uses a lock file (``filelock``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import struct
import time
from collections.abc import Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: ``struct flock`` on Linux (x86-64 and arm64): type, whence, start, len, pid.
_FLOCK = "hh4xqqi4x"
_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
_ATTEMPTS = 5


class LockUnavailable(OSError):
    """The folder cannot be locked at all (not: someone else holds it)."""


def lock_offset(name: str) -> int:
    """The byte of the folder that stands for the state file ``name`` (stable, 62 bits)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 2


def try_lock(state_path: Path) -> Callable[[], None] | None:
    """Lock ``state_path`` (already resolved); return how to release it, or None when
    another process holds it. ``LockUnavailable`` when the folder cannot be locked."""
    if fcntl is None:  # pragma: no cover - Windows has no flock: a lock file next to the state
        from filelock import FileLock, Timeout

        lock = FileLock(str(state_path.with_name(state_path.name + ".lock")), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            return None
        return lock.release
    folder = state_path.parent
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise LockUnavailable(exc.errno, exc.strerror) from exc
    try:
        held = _lock_folder(fd, state_path.name)
    except BaseException:
        os.close(fd)
        raise
    if not held:
        os.close(fd)
        return None
    return lambda: os.close(fd)  # closing the folder's fd releases both locks


def _lock_folder(fd: int, name: str) -> bool:
    assert fcntl is not None
    ofd = getattr(fcntl, "F_OFD_SETLK", None)
    try:
        if ofd is None:  # no OFD locks: the whole folder, as the first release did
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # an old release holds it exclusively
    except OSError as exc:
        if exc.errno in _BUSY:
            return False
        raise LockUnavailable(exc.errno, exc.strerror) from exc
    offset = lock_offset(name)
    for attempt in range(_ATTEMPTS):
        try:
            fcntl.fcntl(fd, ofd, struct.pack(_FLOCK, fcntl.F_RDLCK, os.SEEK_SET, offset, 1, 0))
            answer = fcntl.fcntl(
                fd, fcntl.F_OFD_GETLK,
                struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0),
            )
        except OSError as exc:
            raise LockUnavailable(exc.errno, exc.strerror) from exc
        if struct.unpack(_FLOCK, answer)[0] == fcntl.F_UNLCK:
            return True  # nobody else holds this state's byte
        # Someone else does: a holder, or another command trying at this very instant.
        fcntl.fcntl(fd, ofd, struct.pack(_FLOCK, fcntl.F_UNLCK, os.SEEK_SET, offset, 1, 0))
        if attempt + 1 < _ATTEMPTS:
            time.sleep(random.uniform(0.005, 0.03))
    return False


__all__ = ["LockUnavailable", "lock_offset", "try_lock"]
