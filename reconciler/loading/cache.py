"""A per-file cache of parsed and checked record drafts, keyed by content hash.

Parsing YAML is the slow part of a load; an unchanged file is never parsed twice. The key
is a hash of the file's bytes plus everything the drafts depend on (tool version, schema,
project timezone), so a stale entry is simply never looked up. Entries are JSON (never
pickle: a cache file must not be able to run code), written atomically. Relative times are
stored unresolved: they depend on each run's reference time.

A cache entry is never trusted blindly (an edited entry once changed a plan while the YAML
was unchanged): each one is a header line, then the payload. The header names the key the
entry was written for and a SHA-256 of the key and the payload bytes; a read checks both,
and the caller checks the payload's shape. Any mismatch, an unreadable or oversized entry,
a link or a FIFO in its place: the entry is ignored and the file parsed again. A problem
with the cache only ever costs speed. (The digest catches damage and careless edits; it is
not a signature: whoever can write the cache can write the YAML next to it.)

The cache folder is used only when ``.reconciler`` and ``.reconciler/cache`` are real
folders inside the project, never links: entries are written and pruned there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

CACHE_DIR = Path(".reconciler") / "cache"
#: Bump when the entry or draft format changes.
FORMAT = 3
#: Larger entries are neither written nor read (a 16 MiB spec file's entry is ~20 MB).
MAX_ENTRY_BYTES = 128 << 20
_ENTRY_NAME = re.compile(r"(?:[0-9a-f]{64}|\.tmp-.*)\.json")
#: Opening never blocks (a FIFO), never becomes a terminal, never follows a last link;
#: flags a platform lacks (Windows) are left out.
_NO_WAIT_NO_FOLLOW = 0
for _flag in ("O_NONBLOCK", "O_NOCTTY", "O_NOFOLLOW", "O_CLOEXEC", "O_BINARY"):
    _NO_WAIT_NO_FOLLOW |= getattr(os, _flag, 0)


class DraftCache:
    def __init__(self, project_root: Path, *, enabled: bool, salt: str) -> None:
        self.folder = project_root / CACHE_DIR
        self.enabled = enabled and _usable(project_root)
        self._salt = f"{FORMAT}|{salt}|".encode()
        self.used: set[str] = set()

    def key(self, content: bytes) -> str:
        return hashlib.sha256(self._salt + content).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        """The payload stored for ``key``, if an intact entry holds it; else None."""
        if not self.enabled:
            return None
        raw = _read_entry(self.folder / f"{key}.json")
        if raw is None:
            return None
        header_end = raw.find(b"\n")
        try:
            header = json.loads(raw[:header_end]) if header_end > 0 else None
            if (
                not isinstance(header, dict)
                or header.get("format") != FORMAT
                or header.get("key") != key
                or header.get("sha256") != _digest(key, memoryview(raw)[header_end + 1 :])
            ):
                return None
            # Decoded straight from the file's buffer: slicing the body off first copied
            # 32 MB more at 50,000 generated records. (The writer writes ASCII; anything
            # not UTF-8 is a damaged entry: a ValueError, like bad JSON.)
            text = str(memoryview(raw)[header_end + 1 :], "utf-8")
            del raw
            payload = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(payload, dict):
            return None
        self.used.add(key)
        return payload

    def put(self, key: str, payload: dict[str, Any]) -> None:
        if not self.enabled:
            return
        # dumps, not dump: dump streams through the slow pure-Python encoder.
        body = json.dumps(payload, separators=(",", ":")).encode()
        if len(body) > MAX_ENTRY_BYTES:
            return
        header = json.dumps({"format": FORMAT, "key": key, "sha256": _digest(key, body)})
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not _usable(self.folder.parent.parent):
                self.enabled = False
                return
            handle, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(header.encode() + b"\n" + body)
                os.replace(temp, self.folder / f"{key}.json")
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError:
            return
        self.used.add(key)

    def prune(self) -> None:
        """Drop entries this load did not use (files since changed or deleted)."""
        if not self.enabled or not self.folder.is_dir():
            return
        try:
            for entry in self.folder.iterdir():
                name = entry.name
                if _ENTRY_NAME.fullmatch(name) and name[:-5] not in self.used:
                    entry.unlink(missing_ok=True)
        except OSError:
            return


def _digest(key: str, body: bytes | memoryview) -> str:
    digest = hashlib.sha256(key.encode())
    digest.update(body)
    return digest.hexdigest()


def _usable(project_root: Path) -> bool:
    """True unless ``.reconciler`` or its ``cache`` exists as something but a real folder."""
    for folder in (project_root / CACHE_DIR.parent, project_root / CACHE_DIR):
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            return True
        except OSError:
            return False
        if not stat.S_ISDIR(mode):  # a link (lstat does not follow it), a file, a FIFO
            return False
    return True


def _read_entry(path: Path) -> bytes | None:
    """An entry's bytes; None for anything but a regular file of a sane size."""
    flags = os.O_RDONLY | _NO_WAIT_NO_FOLLOW
    try:
        handle = os.open(path, flags)
    except OSError:
        return None
    try:
        found = os.fstat(handle)
        if not stat.S_ISREG(found.st_mode) or found.st_size > MAX_ENTRY_BYTES:
            return None
        with os.fdopen(handle, "rb", closefd=False) as stream:
            raw = stream.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(handle)
    return raw if len(raw) <= MAX_ENTRY_BYTES else None
