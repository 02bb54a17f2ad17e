"""The state file: which HubSpot record each local key became, and what was last applied.

One ``StateStore`` owns the file. The format is versioned JSON::

    {
      "format_version": 1,
      "lineage": "<uuid: this state's history>",
      "serial": 12,                       # +1 on every save; a saved plan remembers it
      "target": "local", "portal_id": 1234567, "project": "demo", "project_id": "demo-4f2a9c",
      "owners": {"alice@example.com": "1001"},          # resolved owner emails
      "records": {
        "meetings/kickoff": {
          "id": "4242", "object_type": "meetings",
          "properties": {"hs_meeting_title": "Kickoff", ...},   # last applied, managed only
          "associations": [{"to_type": "contacts", "to_key": "jane", "to_id": "77",
                            "category": "HUBSPOT_DEFINED", "type_id": 200}],
          "pinned": {"hs_meeting_start_time": {"expr": "+3d 10:00", "value": "..."}}
        }
      },
      "in_flight": {"<batch id>": {"object_type": "meetings", "keys": [...], "started_at": "..."}}
    }

Saving writes a temp file in the same folder, fsyncs it, then ``os.replace``s the old one,
so a crash leaves either the old or the new file, never half of one. Apply saves after every
batch. A file from a newer format, or one that does not parse, is refused and never
overwritten.

On disk each record sits on one line (``"meetings/kickoff": {...}``): diffs of the file read
record by record, and saving stays fast, because ``json.dumps(indent=...)`` falls back to the
pure-Python encoder (~10x slower than the C one) and apply saves after every batch. The store
also remembers each record's encoded line and re-encodes only records that were replaced
since the last save (``RecordState`` is frozen; apply replaces records, never edits them).
"""

from __future__ import annotations

import copy
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from reconciler import __version__
from reconciler.errors import StateError, StateLockedError
from reconciler.gc_pause import gc_paused

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class AppliedAssociation:
    """An association as last applied: the target's local key (if ours) and its HubSpot id."""

    to_type: str
    to_id: str
    category: str
    type_id: int
    to_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "to_type": self.to_type,
            "to_id": self.to_id,
            "category": self.category,
            "type_id": self.type_id,
        }
        if self.to_key is not None:
            data["to_key"] = self.to_key
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppliedAssociation:
        return cls(
            to_type=str(data["to_type"]),
            to_id=str(data["to_id"]),
            category=str(data["category"]),
            type_id=int(data["type_id"]),
            to_key=data.get("to_key"),
        )


@dataclass(frozen=True, slots=True)
class Pin:
    """A relative time resolved at first creation, kept so re-plans do not churn."""

    expr: str
    value: str


@dataclass(frozen=True, slots=True)
class RecordState:
    """What the state knows of one managed record."""

    id: str
    object_type: str
    properties: Mapping[str, str]
    associations: tuple[AppliedAssociation, ...] = ()
    pinned: Mapping[str, Pin] = field(default_factory=dict)
    via_calendar: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "object_type": self.object_type,
            "properties": dict(sorted(self.properties.items())),
            "associations": [a.to_json() for a in self.associations],
        }
        if self.pinned:
            data["pinned"] = {
                name: {"expr": pin.expr, "value": pin.value}
                for name, pin in sorted(self.pinned.items())
            }
        if self.via_calendar:
            data["via_calendar"] = True
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordState:
        # Called once per record on every load (50k records: ~0.2 s), hence a list
        # comprehension rather than a generator for the associations.
        return cls(
            id=str(data["id"]),
            object_type=str(data["object_type"]),
            properties={str(k): str(v) for k, v in data.get("properties", {}).items()},
            associations=tuple(
                [AppliedAssociation.from_json(a) for a in data.get("associations", ())]
            ),
            pinned={
                str(k): Pin(expr=str(v["expr"]), value=str(v["value"]))
                for k, v in data.get("pinned", {}).items()
            },
            via_calendar=bool(data.get("via_calendar", False)),
        )


@dataclass(slots=True)
class State:
    """The in-memory state. Mutated only by apply (through ``StateStore``)."""

    lineage: str
    serial: int = 0
    target: str | None = None
    portal_id: int | None = None
    project: str | None = None
    #: the project id its records' markers carry (``ProjectSettings.marker_id``); None in
    #: files written by the first release, whose markers carry the project name
    project_id: str | None = None
    records: dict[str, RecordState] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    in_flight: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def empty(
        cls, *, target: str | None = None, project: str | None = None,
        project_id: str | None = None,
    ) -> State:
        # The lineage is set at the first save, so that plans made before any apply
        # (lineage "") stay valid until something is written.
        return cls(lineage="", target=target, project=project, project_id=project_id)

    def copy(self) -> State:
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        data = self._fields_json()
        data["records"] = {addr: rec.to_json() for addr, rec in sorted(self.records.items())}
        return data

    def _fields_json(self) -> dict[str, Any]:
        """``to_json()`` with ``records`` left empty (the store encodes those one by one)."""
        return {
            "format_version": FORMAT_VERSION,
            "tool_version": __version__,
            "lineage": self.lineage,
            "serial": self.serial,
            "target": self.target,
            "portal_id": self.portal_id,
            "project": self.project,
            "project_id": self.project_id,
            "owners": dict(sorted(self.owners.items())),
            "records": {},
            "in_flight": self.in_flight,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str) -> State:
        version = data.get("format_version")
        if not isinstance(version, int):
            raise StateError(f"{where}: not a reconciler state file (no format_version)")
        if version > FORMAT_VERSION:
            raise StateError(
                f"{where}: state format {version} is newer than this reconciler understands "
                f"({FORMAT_VERSION}); upgrade hubspot-reconciler (the file was left untouched)"
            )
        try:
            return cls(
                lineage=str(data["lineage"]),
                serial=int(data.get("serial", 0)),
                target=data.get("target"),
                portal_id=data.get("portal_id"),
                project=data.get("project"),
                project_id=data.get("project_id"),
                records={
                    str(addr): RecordState.from_json(rec)
                    for addr, rec in data.get("records", {}).items()
                },
                owners={str(k): str(v) for k, v in data.get("owners", {}).items()},
                in_flight=dict(data.get("in_flight", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(
                f"{where}: state file is damaged ({type(exc).__name__}: {exc}); "
                "restore it from a backup or run `reconciler state rebuild`"
            ) from exc


class StateStore:
    """Owns one state file: load, atomic save, and the lock that keeps applies apart."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._holder_path = self.path.with_name(self.path.name + ".lock.json")
        self._lock: FileLock | None = None
        #: address → (the record last saved, its encoded line); see ``_encode``.
        self._lines: dict[str, tuple[RecordState, str]] = {}

    def exists(self) -> bool:
        return self.path.exists()

    def load(
        self, *, target: str | None = None, project: str | None = None,
        project_id: str | None = None,
    ) -> State:
        """Read the state; an absent file is an empty state. Never modifies the file."""
        if not self.path.exists():
            return State.empty(target=target, project=project, project_id=project_id)
        with gc_paused():
            try:
                text = self.path.read_text(encoding="utf-8")
                data = json.loads(text)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise StateError(
                    f"{self.path}: state file cannot be read ({exc}); it was left untouched. "
                    "Restore it from a backup or run `reconciler state rebuild`"
                ) from exc
            if not isinstance(data, dict):
                raise StateError(f"{self.path}: not a reconciler state file (not a JSON object)")
            return State.from_json(data, where=str(self.path))

    def save(self, state: State) -> None:
        """Atomically replace the file with ``state`` (serial + 1)."""
        state.serial += 1
        if not state.lineage:
            state.lineage = str(uuid.uuid4())
        payload = self._encode(state)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with _suppress_oserror():
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)

    def _encode(self, state: State) -> str:
        """The file's text: ``state.to_json()`` with one record a line (see the module doc)."""
        cached = self._lines
        kept: dict[str, tuple[RecordState, str]] = {}
        lines: list[str] = []
        for address in sorted(state.records):
            record = state.records[address]
            hit = cached.get(address)
            if hit is None or hit[0] is not record:
                hit = (record, f"    {_dumps(address)}: {_dumps(record.to_json())}")
            kept[address] = hit
            lines.append(hit[1])
        self._lines = kept
        fields = []
        for name, value in state._fields_json().items():
            if name == "records" and lines:
                fields.append('  "records": {\n' + ",\n".join(lines) + "\n  }")
            else:
                fields.append(f"  {_dumps(name)}: {_dumps(value)}")
        return "{\n" + ",\n".join(fields) + "\n}\n"

    def backup(self) -> Path | None:
        """Copy the current file next to it before a manual edit.

        Named ``<name>.<time>.backup``, with ``-2``, ``-3``... when two edits fall in the
        same second, so no backup ever overwrites another.
        """
        if not self.path.exists():
            return None
        data = self.path.read_bytes()
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.{stamp}.backup")
        counter = 1
        while True:
            try:
                with open(target, "xb") as handle:  # exclusive: never replace a backup
                    handle.write(data)
                return target
            except FileExistsError:
                counter += 1
                target = self.path.with_name(f"{self.path.name}.{stamp}-{counter}.backup")

    @contextmanager
    def locked(self, *, command: str = "apply") -> Iterator[None]:
        """Hold the state lock, or fail at once naming who holds it.

        The lock is an OS file lock (``filelock``), which the kernel releases when its
        process dies, so a lock left by a killed apply never blocks the next one.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self._lock_path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise StateLockedError(
                f"{self.path} is locked by another reconciler ({self._describe_holder()}); "
                "wait for it to finish. If no such process is running, the lock is released "
                "automatically when its process ends."
            ) from None
        try:
            holder = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "command": command,
                "argv": [os.path.basename(sys.argv[0]), *sys.argv[1:2]],
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            self._holder_path.write_text(json.dumps(holder), encoding="utf-8")
            yield
        finally:
            with _suppress_oserror():
                self._holder_path.unlink()
            lock.release()

    def _describe_holder(self) -> str:
        try:
            holder = json.loads(self._holder_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "holder unknown"
        return (
            f"pid {holder.get('pid')} on {holder.get('host')}, "
            f"`{holder.get('command')}` since {holder.get('since')}"
        )


def _dumps(value: Any) -> str:
    # No indent: only then does ``json`` use its C encoder.
    return json.dumps(value, ensure_ascii=False)


@contextmanager
def _suppress_oserror() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
