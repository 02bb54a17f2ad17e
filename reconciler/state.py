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
import errno
import json
import os
import socket
import stat
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.errors import StateError, StateLockedError
from reconciler.gc_pause import gc_paused

try:  # POSIX: flock on the state folder (see ``StateStore.locked``)
    import fcntl
except ImportError:  # pragma: no cover - Windows: a lock file next to the state
    fcntl = None  # type: ignore[assignment]

FORMAT_VERSION = 1


class _Damaged(Exception):
    """A field of the state file has the wrong shape (becomes a StateError naming it)."""


def _require_object(value: Any, what: str) -> None:
    if type(value) is not dict:
        raise _Damaged(f"{what} is not a JSON object")


def _text(data: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    """``data[name]``, which must be a string (or null/absent when ``optional``)."""
    _require_object(data, "an entry")
    value = data.get(name)
    if value is None and optional:
        return None
    if type(value) is not str:
        raise _Damaged(
            f"{name} is missing" if name not in data
            else f"{name} {json.dumps(value)} is not a string"
        )
    return value


def _whole(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int:
        raise _Damaged(
            f"{name} is missing" if name not in data
            else f"{name} {json.dumps(value)} is not a whole number"
        )
    return value


def _check_in_flight(entry: Any) -> None:
    """An in-flight batch must say what it sent: its type, addresses and start time."""
    _require_object(entry, "the entry")
    _text(entry, "object_type")
    addresses = entry.get("addresses")
    if type(addresses) is not list or not all(type(a) is str for a in addresses):
        raise _Damaged(
            "addresses is missing" if "addresses" not in entry
            else "addresses is not a list of addresses"
        )
    started = entry.get("started_at")
    if type(started) not in (int, float):
        raise _Damaged(
            "started_at is missing" if "started_at" not in entry
            else f"started_at {json.dumps(started)} is not a time"
        )
    records = entry.get("records", {})
    _require_object(records, "records")
    for record in records.values():
        # sent, not yet answered: the id is "" until recovery adopts it (h5)
        _require_object(record, "record")
        RecordState.from_json({**record, "id": record.get("id") or "in-flight"})


@dataclass(frozen=True, slots=True)
class StateBinding:
    """Which project and target a state file must belong to, to be used by this run.

    A state is accepted when its target is this target and its project is this project:
    its ``project_id`` is this project's marker id (or the slug of its name: a state made
    before the project got its ``id:``), or it has no ``project_id`` and its ``project`` is
    this project's name (a file of the first release). Anything else is another project's
    state, whose records this run must never touch. The portal id is checked once the
    portal is known (``check_portal``).
    """

    target: str
    project: str
    project_id: str
    name_slug: str

    def problem(self, state: State) -> str | None:
        if state.target != self.target:
            return f"it belongs to target {state.target or '(none)'}, not {self.target}"
        if state.project_id is None:
            if state.project == self.project:
                return None
            return f"it belongs to project {state.project or '(none)'}, not {self.project}"
        if state.project_id in (self.project_id, self.name_slug):
            return None
        return (
            f"it belongs to the project with id {state.project_id}, not {self.project_id} "
            f"({self.project})"
        )


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
        _require_object(data, "association")
        return cls(
            to_type=_text(data, "to_type"),
            to_id=_text(data, "to_id"),
            category=_text(data, "category"),
            type_id=_whole(data, "type_id"),
            to_key=_text(data, "to_key", optional=True),
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
        """A record as saved; every field's type is checked (``_Damaged`` if wrong).

        Called once per record on every load (50k records: ~0.3 s), hence the checks are
        plain ``type() is`` tests and list comprehensions.
        """
        _require_object(data, "record")
        properties = data.get("properties", {})
        _require_object(properties, "properties")
        if not all(type(v) is str for v in properties.values()):
            raise _Damaged("a property value is not a string")
        associations = data.get("associations", [])
        if type(associations) is not list:
            raise _Damaged("associations is not a list")
        pinned = data.get("pinned", {})
        _require_object(pinned, "pinned")
        via_calendar = data.get("via_calendar", False)
        if type(via_calendar) is not bool:
            raise _Damaged("via_calendar is not true or false")
        record_id = _text(data, "id")
        if not record_id:
            raise _Damaged("a record id is empty")
        return cls(
            id=record_id,
            object_type=_text(data, "object_type"),
            properties=dict(properties),
            associations=tuple([AppliedAssociation.from_json(a) for a in associations]),
            pinned={
                str(k): Pin(expr=_text(v, "expr"), value=_text(v, "value"))
                for k, v in pinned.items()
            },
            via_calendar=via_calendar,
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
        """Read a state file's JSON; anything of the wrong shape is refused as damaged,
        naming what is wrong (a wrong type is never coerced into something else)."""
        if "format_version" not in data:
            raise StateError(f"{where}: not a reconciler state file (no format_version)")
        version = data["format_version"]
        if type(version) is int and version > FORMAT_VERSION:
            raise StateError(
                f"{where}: state format {version} is newer than this reconciler understands "
                f"({FORMAT_VERSION}); upgrade hubspot-reconciler (the file was left untouched)"
            )
        where_now = "the file"
        try:
            if type(version) is not int or version < 1:
                raise _Damaged(f"format_version {json.dumps(version)} is not a version (1)")
            serial = data.get("serial", 0)
            if type(serial) is not int or serial < 0:
                raise _Damaged(f"serial {json.dumps(serial)} is not a whole number >= 0")
            portal_id = data.get("portal_id")
            if portal_id is not None and (type(portal_id) is not int or portal_id <= 0):
                raise _Damaged(f"portal_id {json.dumps(portal_id)} is not a portal id")
            records_data = data.get("records", {})
            _require_object(records_data, "records")
            records = {}
            for address, record in records_data.items():
                where_now = f"record {address}"
                records[address] = RecordState.from_json(record)
            where_now = "owners"
            owners = data.get("owners", {})
            _require_object(owners, "owners")
            if not all(type(v) is str for v in owners.values()):
                raise _Damaged("an owner id is not a string")
            in_flight = data.get("in_flight", {})
            _require_object(in_flight, "in_flight")
            for batch_id, entry in in_flight.items():
                where_now = f"in_flight entry {batch_id}"
                _check_in_flight(entry)
            where_now = "the file"
            return cls(
                lineage=_text(data, "lineage"),
                serial=serial,
                target=_text(data, "target", optional=True),
                portal_id=portal_id,
                project=_text(data, "project", optional=True),
                project_id=_text(data, "project_id", optional=True),
                records=records,
                owners=dict(owners),
                in_flight=dict(in_flight),
            )
        except _Damaged as exc:
            raise StateError(
                f"{where}: state file is damaged ({where_now}: {exc}); it was left untouched. "
                "Restore it from a backup (<name>.<time>.backup next to it) or run "
                "`reconciler state rebuild`"
            ) from None


#: The file next to the state files that names who holds the folder's lock.
HOLDER_FILE = ".reconciler-lock.json"


class StateStore:
    """Owns one state file: load, atomic save, and the lock that keeps applies apart.

    ``path`` is shown in messages as the user named it; a symlink is followed once, here,
    and every read, save and lock works on the real file (``real_path``), so a save writes
    through the link instead of replacing it. With a ``binding``, ``load`` refuses a
    state of another project or target.
    """

    def __init__(self, path: str | Path, *, binding: StateBinding | None = None) -> None:
        self.path = Path(path)
        self.real_path = Path(os.path.realpath(self.path))
        self.binding = binding
        self._holder_path = self.real_path.parent / HOLDER_FILE
        #: address → (the record last saved, its encoded line); see ``_encode``.
        self._lines: dict[str, tuple[RecordState, str]] = {}

    def exists(self) -> bool:
        return self.real_path.exists()

    def owns(self, other: str | Path) -> bool:
        """Whether writing ``other`` would destroy this state or its lock."""
        real = Path(os.path.realpath(other))
        return real in (
            self.real_path, self._holder_path,
            self.real_path.with_name(self.real_path.name + ".lock"),
        )

    def load(
        self, *, target: str | None = None, project: str | None = None,
        project_id: str | None = None, check: bool = True,
    ) -> State:
        """Read the state; an absent file is an empty state. Never modifies the file.

        With a binding (and ``check``), a state of another project or target is refused.
        """
        binding = self.binding
        if not self.real_path.exists():
            if binding is not None:
                return State.empty(target=binding.target, project=binding.project,
                                   project_id=binding.project_id)
            return State.empty(target=target, project=project, project_id=project_id)
        with gc_paused():
            try:
                text = self.real_path.read_text(encoding="utf-8")
                data = json.loads(text)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise StateError(
                    f"{self.path}: state file cannot be read ({_reason(exc)}); it was left "
                    "untouched. Restore it from a backup or run `reconciler state rebuild`"
                ) from exc
            if not isinstance(data, dict):
                raise StateError(f"{self.path}: not a reconciler state file (not a JSON object)")
            state = State.from_json(data, where=str(self.path))
        if check and binding is not None:
            problem = binding.problem(state)
            if problem is not None:
                raise StateError(self._foreign_message(state, problem))
        return state

    def _foreign_message(self, state: State, problem: str) -> str:
        assert self.binding is not None
        ways = []
        if state.target and state.target != self.binding.target and (
            state.project_id in (None, self.binding.project_id, self.binding.name_slug)
        ):
            ways.append(f"--target {state.target} for that target's state")
        ways.append(
            f"`reconciler state rebind --state {self.path}` to make it this project's "
            f"{self.binding.target} state on purpose (a backup is kept)"
        )
        return (
            f"{self.path} is not this project's state for target {self.binding.target}: "
            f"{problem}. Nothing was read from the portal or changed. Use "
            + ", or ".join(ways)
        )

    def check_writable(self) -> None:
        """Refuse a read-only state file (or folder) before anything is written."""
        try:
            mode = self.real_path.stat().st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateError(f"{self.path}: cannot be read ({_reason(exc)})") from exc
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(
            self.real_path, os.W_OK
        ):
            raise StateError(
                f"{self.path} is read-only, so it was left untouched and nothing was done; "
                f"make it writable (chmod u+w {self.path}) if this run may change it"
            )

    def save(self, state: State) -> None:
        """Atomically replace the file with ``state`` (serial + 1)."""
        self.check_writable()
        previous = (state.serial, state.lineage)
        state.serial += 1
        if not state.lineage:
            state.lineage = str(uuid.uuid4())
        payload = self._encode(state)
        folder = self.real_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.real_path.name}.", suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(payload)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.real_path)
            except BaseException:
                with _suppress_oserror():
                    os.unlink(tmp)
                raise
        except OSError as exc:
            state.serial, state.lineage = previous
            self._lines = {}
            raise StateError(
                f"{self.path}: the state could not be saved ({_reason(exc)}); the previous "
                "file is intact. Free some disk space or fix the folder's permissions, then "
                "run the command again: what was sent is recovered by marker"
            ) from exc
        _fsync_dir(folder)

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
        if not self.real_path.exists():
            return None
        try:
            data = self.real_path.read_bytes()
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
        except OSError as exc:
            raise StateError(
                f"{self.path}: no backup could be written ({_reason(exc)}), so nothing was "
                "changed; free some disk space or fix the folder's permissions"
            ) from exc

    @contextmanager
    def locked(self, *, command: str = "apply") -> Iterator[None]:
        """Hold the state lock, or fail at once naming who holds it.

        The lock is ``flock`` on the state's (real) folder itself, not on a lock file: a
        file can be deleted while it is locked, after which a second apply would lock a
        new file and run beside the first. A folder that holds the state cannot be
        deleted, and a symlink to the state leads to the same folder. The kernel releases
        the lock when its process dies, so a killed apply never blocks the next one. One
        command at a time per state folder.
        """
        folder = self.real_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise StateError(f"{folder}: the state folder cannot be used ({_reason(exc)})") from exc
        try:
            release = _try_lock(fd, self.real_path)
            if release is None:
                raise StateLockedError(
                    f"{self.path} is locked by another reconciler ({self._describe_holder()}); "
                    "wait for it to finish. If no such process is running, the lock is "
                    "released automatically when its process ends."
                )
            self.check_writable()
            holder = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "command": command,
                "state": self.real_path.name,
                "argv": [os.path.basename(sys.argv[0]), *sys.argv[1:2]],
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            with _suppress_oserror():
                self._holder_path.write_text(json.dumps(holder), encoding="utf-8")
            try:
                yield
            finally:
                with _suppress_oserror():
                    self._holder_path.unlink()
                release()
        finally:
            os.close(fd)  # releases the flock

    def _describe_holder(self) -> str:
        try:
            holder = json.loads(self._holder_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "holder unknown"
        if not isinstance(holder, dict):
            return "holder unknown"
        return (
            f"pid {holder.get('pid')} on {holder.get('host')}, "
            f"`{holder.get('command')}` on {holder.get('state')} since {holder.get('since')}"
        )


def _try_lock(fd: int, state_path: Path) -> Callable[[], None] | None:
    """Lock; return how to release it, or None when another process holds it."""
    if fcntl is None:  # pragma: no cover - Windows has no flock: a lock file next to the state
        from filelock import FileLock, Timeout

        lock = FileLock(str(state_path.with_name(state_path.name + ".lock")), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            return None
        return lock.release
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise StateError(
            f"{state_path.parent}: the state folder cannot be locked ({_reason(exc)})"
        ) from exc
    return lambda: None  # closing the folder's fd releases the flock


def _reason(exc: BaseException) -> str:
    """An OSError as a user reads it: ``No space left on device``, not ``[Errno 28] ...``."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


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
