"""A per-file cache of parsed and checked record drafts, keyed by content hash.

Parsing YAML is the slow part of a load; an unchanged file is never parsed twice. The key
is a hash of the file's bytes plus everything the drafts depend on (tool version, schema,
project timezone), so a stale entry is simply never looked up. Entries are JSON (never
pickle: a cache file must not be able to run code), written atomically. Relative times are
stored unresolved: they depend on each run's reference time. Any problem with the cache
itself (unwritable folder, corrupt entry) only costs speed, never correctness.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_DIR = Path(".reconciler") / "cache"
#: Bump when the draft format changes.
FORMAT = 2


class DraftCache:
    def __init__(self, project_root: Path, *, enabled: bool, salt: str) -> None:
        self.folder = project_root / CACHE_DIR
        self.enabled = enabled
        self._salt = f"{FORMAT}|{salt}|".encode()
        self.used: set[str] = set()

    def key(self, content: bytes) -> str:
        return hashlib.sha256(self._salt + content).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        try:
            payload = json.loads((self.folder / f"{key}.json").read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(payload, dict):
            return None
        self.used.add(key)
        return payload

    def put(self, key: str, payload: dict[str, Any]) -> None:
        if not self.enabled:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            try:
                # dumps, not dump: dump streams through the slow pure-Python encoder.
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(json.dumps(payload, separators=(",", ":")))
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
                if entry.suffix == ".json" and entry.stem not in self.used:
                    entry.unlink(missing_ok=True)
        except OSError:
            return
