"""A per-file cache of parsed and checked record drafts (and of generators' expansions),
keyed by content hash.

Parsing YAML is the slow part of a load; an unchanged file is never parsed twice. The key
is a hash of the file's bytes plus everything the drafts depend on (tool version, schema,
project timezone), so a stale entry is simply never looked up. Entries are written
atomically, never with pickle (a cache file must not be able to run code). Relative times
are stored unresolved: they depend on each run's reference time.

A cache entry is never trusted blindly (an edited entry once changed a plan while the YAML
was unchanged): each one is a JSON header line, then the payload. The header names the key
the entry was written for and a SHA-256 of the key and the payload bytes; a read checks
both. Any mismatch, an unreadable or oversized entry, a link or a FIFO in its place: the
entry is ignored and the file parsed again. A problem with the cache only ever costs
speed. (The digest catches damage and careless edits; it is not a signature: whoever can
write the cache can write the YAML next to it.)

The entries this user's runs write are also **sealed** with this user's own key
(``user_key``: 32 random bytes in the user's cache folder, never in a project): the
header's ``seal`` is an HMAC of the entry's key and digest. A sealed payload is one this
tool wrote, so ``get`` returns it without the caller's shape check (``check``), and it is
stored with ``marshal``, which keeps Python's values exactly and reads about twice as fast
as JSON (at 50,000 generated records the check and the JSON decoding were ~0.35 s of every
warm plan). ``marshal`` is not made to read bytes from anyone else: only a sealed body is
ever unmarshalled. Any other entry (committed to a repository, copied from another machine
or user, forged, or written where there was no place for a key) is JSON: ``get`` returns
its payload only if the check passes, and then writes it again sealed. A seal saves time;
it never lets in what the check would refuse. Each kind of entry has its own key prefix,
so no entry is ever read by another kind's reader.

The cache folder is used only when ``.reconciler`` and ``.reconciler/cache`` are real
folders inside the project, never links: entries are written and pruned there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import marshal
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_DIR = Path(".reconciler") / "cache"
#: Bump when the entry or draft format changes.
FORMAT = 5
#: Larger entries are neither written nor read (a 16 MiB spec file's entry is ~20 MB).
MAX_ENTRY_BYTES = 128 << 20
#: An entry's file: its key, ``.entry`` (``.json``: an entry of the formats before 5, which
#: held JSON only; never read, pruned); a temporary file of an interrupted write.
SUFFIX = ".entry"
_ENTRY_NAME = re.compile(r"(?P<key>[0-9a-f]{64}|\.tmp-.*)\.(?:entry|json)")
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
        # (no key, or no fingerprint of the code to seal with: entries are unsealed JSON)
        self._seal_key = (
            user_key() if self.enabled and code_fingerprint() is not None else None
        )
        self.used: set[str] = set()

    def key(self, content: bytes) -> str:
        return hashlib.sha256(self._salt + content).hexdigest()

    def get(self, key: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """The payload stored for ``key``, if an intact entry holds it, and either this
        user's runs sealed it (it has the shape they write) or ``check``, the caller's
        shape check, passes on it (it is then written again, sealed: checked once, not on
        every load); else None."""
        found = self._read(key)
        if found is None:
            return None
        payload, sealed = found
        if not sealed:
            if not check(payload):
                return None
            if self._seal_key is not None:
                self.put(key, payload)
        self.used.add(key)
        return payload

    def _read(self, key: str) -> tuple[dict[str, Any], bool] | None:
        """``key``'s intact entry: its payload, and whether it is sealed."""
        if not self.enabled:
            return None
        raw = _read_entry(self.folder / f"{key}{SUFFIX}")
        if raw is None:
            return None
        header_end = raw.find(b"\n")
        sealed = False
        try:
            header = json.loads(raw[:header_end]) if header_end > 0 else None
            body = memoryview(raw)[header_end + 1 :]
            digest = _digest(key, body)
            if (
                not isinstance(header, dict)
                or header.get("format") != FORMAT
                or header.get("key") != key
                or header.get("sha256") != digest
            ):
                return None
            if header.get("body") == "marshal":
                # Only ever our own bytes: marshal is not made to read anyone else's.
                seal = header.get("seal")
                if self._seal_key is None or type(seal) is not str or not hmac.compare_digest(
                    seal, _seal(self._seal_key, key, digest)
                ):
                    return None
                payload = marshal.loads(body)
                sealed = True
            else:
                # Decoded straight from the file's buffer: slicing the body off first
                # copied 32 MB more at 50,000 generated records. (The writer writes ASCII;
                # anything not UTF-8 is a damaged entry: a ValueError, like bad JSON.)
                text = str(body, "utf-8")
                del body, raw
                payload = json.loads(text)
        except (ValueError, RecursionError, EOFError, TypeError):
            return None
        return (payload, sealed) if type(payload) is dict else None

    def put(self, key: str, payload: dict[str, Any]) -> None:
        if not self.enabled:
            return
        encoding, body = "json", b""
        if self._seal_key is not None:
            try:
                encoding, body = "marshal", marshal.dumps(payload)
            except ValueError:  # a type marshal does not know: written as JSON, unsealed
                encoding = "json"
        if encoding == "json":
            # dumps, not dump: dump streams through the slow pure-Python encoder.
            body = json.dumps(payload, separators=(",", ":")).encode()
        if len(body) > MAX_ENTRY_BYTES:
            return
        digest = _digest(key, body)
        fields = {"format": FORMAT, "key": key, "sha256": digest}
        if encoding == "marshal":
            assert self._seal_key is not None
            fields.update(body="marshal", seal=_seal(self._seal_key, key, digest))
        header = json.dumps(fields)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not _usable(self.folder.parent.parent):
                self.enabled = False
                return
            handle, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=SUFFIX)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(header.encode() + b"\n" + body)
                os.replace(temp, self.folder / f"{key}{SUFFIX}")
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
            found = list(self.folder.iterdir())
        except OSError:
            return
        for entry in found:
            name = _ENTRY_NAME.fullmatch(entry.name)
            if name is not None and (
                name["key"] not in self.used or not entry.name.endswith(SUFFIX)
            ):
                try:
                    entry.unlink(missing_ok=True)
                except OSError:  # (a folder of that name, say: the others are still pruned)
                    continue


def _digest(key: str, body: bytes | memoryview) -> str:
    digest = hashlib.sha256(key.encode())
    digest.update(body)
    return digest.hexdigest()


def _seal(user: bytes, key: str, digest: str) -> str:
    # (the digest covers the key and the payload: sealing it seals both; marshal's format
    # is this Python's, and the payload's shape this code's: another Python or another
    # build of the tool never believes the seal)
    tag = (f"{FORMAT}|{sys.implementation.cache_tag}|{marshal.version}|{code_fingerprint()}|"
           f"{key}|{digest}")
    return hmac.new(user, tag.encode(), hashlib.sha256).hexdigest()


_fingerprint: list[str | None] = []


def code_fingerprint() -> str | None:
    """A digest of the package's source files (names, sizes, modification times): a
    changed module whose entries changed shape without a ``FORMAT`` bump is never believed
    sealed (its entries are then made again). ~1 ms, once per process. None when the
    package cannot be listed (nothing is sealed then)."""
    if not _fingerprint:
        _fingerprint.append(_fingerprint_of(Path(__file__).resolve().parents[1]))
    return _fingerprint[0]


def _fingerprint_of(package: Path) -> str | None:
    found: list[str] = []
    folders = [package]
    try:
        while folders:
            folder = folders.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                        folders.append(Path(entry.path))
                    elif entry.name.endswith(".py"):
                        st = entry.stat(follow_symlinks=False)
                        name = Path(entry.path).relative_to(package).as_posix()
                        found.append(f"{name}|{st.st_size}|{st.st_mtime_ns}")
    except OSError:  # (a folder that cannot be listed, a zipped package)
        return None
    return hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()[:32]


KEY_FILE = Path("hubspot-reconciler") / "cache-seal.key"
_KEY_BYTES = 32
#: the key read (or made) by where it is kept, once per process
_keys: dict[Path, bytes | None] = {}


def user_key() -> bytes | None:
    """This user's key for sealing cache entries (made on first use), or None when there is
    no private place to keep one: entries are then written unsealed and always checked."""
    home = user_cache_home()
    if home is None:
        return None
    path = home / KEY_FILE
    if path not in _keys:
        _keys[path] = _read_or_make_key(path)
    return _keys[path]


def seal_report() -> tuple[bool, str]:
    """Whether this user's runs seal their cache entries, and what to tell them (``doctor``)."""
    home = user_cache_home()
    if home is None:
        return False, ("no home folder to keep the cache's seal key in: every load checks "
                       "the parse cache's entries (slower, never wrong)")
    path = home / KEY_FILE
    if code_fingerprint() is None:
        return False, ("the tool's own files cannot be listed, so nothing is sealed: every "
                       "load checks the parse cache's entries (slower, never wrong)")
    if user_key() is None:
        return False, (f"{path} cannot be the cache's seal key (not a file of yours, or its "
                       "folder is not writable): every load checks the parse cache's entries "
                       "(slower, never wrong); remove what is there, or set XDG_CACHE_HOME")
    return True, f"parse cache entries are sealed with your key ({path})"


def user_cache_home() -> Path | None:
    """Where this user's caches go: ``$XDG_CACHE_HOME`` (absolute), else ``~/.cache``
    (Windows: ``%LOCALAPPDATA%``); None if there is no home to put it in."""
    found = os.environ.get("XDG_CACHE_HOME", "")
    if found and os.path.isabs(found):
        return Path(found)
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"])
    home = os.path.expanduser("~")
    return Path(home) / ".cache" if os.path.isabs(home) else None


def _read_or_make_key(path: Path) -> bytes | None:
    try:
        found = _read_key(path)
        if found is not None:
            return found
        if _ours_but_unfit(path):
            # a key others may have read (a restored backup, synced dotfiles): a new one
            # (the entries it sealed are then made again, once)
            path.unlink()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written whole under a temporary name, then linked into place: two runs making
        # it at once both end up reading the one that was linked first.
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(os.urandom(_KEY_BYTES))
            try:
                os.link(temp, path)
            except FileExistsError:
                pass
        finally:
            Path(temp).unlink(missing_ok=True)
        return _read_key(path)
    except OSError:
        return None


def _read_key(path: Path) -> bytes | None:
    """The key at ``path`` if it is a regular file of the right size that only this user
    could have written; None if absent (or not fit to trust)."""
    try:
        handle = os.open(path, os.O_RDONLY | _NO_WAIT_NO_FOLLOW)
    except FileNotFoundError:
        return None
    try:
        found = os.fstat(handle)
        if not stat.S_ISREG(found.st_mode) or found.st_size != _KEY_BYTES:
            return None
        # (one another user could read would let them seal what they like)
        if hasattr(os, "geteuid") and (found.st_uid != os.geteuid() or found.st_mode & 0o077):
            return None
        key = os.read(handle, _KEY_BYTES + 1)
    finally:
        os.close(handle)
    return key if len(key) == _KEY_BYTES else None


def _ours_but_unfit(path: Path) -> bool:
    """A regular file of this user's at ``path`` that ``_read_key`` refused (its mode or its
    size): safe to replace. Links, folders and other users' files are left alone."""
    try:
        found = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and (
        not hasattr(os, "geteuid") or found.st_uid == os.geteuid()
    )


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
