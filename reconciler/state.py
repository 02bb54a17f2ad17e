"""The state file: which HubSpot record each local key became, and what was last applied.

One ``StateStore`` owns the file. Its snapshot is versioned JSON::

    {
      "format_version": 2,
      "lineage": "<uuid: this state's history>",
      "serial": 12,                       # +1 on every save; a saved plan remembers it
      "journal": "<token: which journal lines follow this snapshot>",
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

Apply saves after every batch. A save appends what changed to ``<name>.journal`` and fsyncs
it, so it costs what the batch changed, not what the state holds (rewriting the whole file
each time made a first apply of N records O(N²)). When a command releases the lock, and
when the journal outgrows the snapshot, the journal is folded into a new snapshot (temp
file, fsync, rename); so the file at rest is the whole state, one record a line, readable
and diffable. ``state_journal`` says why a crash at any instant loses no completed save.
A file of the first format (1, a single file) is read as it is and rewritten in this one
at its first save, after a backup. A file from a newer format, or one that does not parse,
is refused and never overwritten.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import stat
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.errors import StateError, StateLockedError
from reconciler.gc_pause import gc_paused
from reconciler.state_journal import (
    JournalDamaged,
    encode_entry,
    fsync_dir,
    journal_path,
    read_journal,
    record_line,
    snapshot_chunks,
    write_atomically,
)
from reconciler.state_lock import try_lock

#: 2: snapshot + journal (``state_journal``); 1: the first release's single file
FORMAT_VERSION = 2


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


#: the pins of every loaded record that has none (records are replaced, never edited)
_NO_PINS: dict[str, Pin] = {}


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
            } if pinned else _NO_PINS,
            via_calendar=via_calendar,
        )


class RecordMap(dict[str, RecordState]):
    """``State.records``: a dict that notes which addresses were set or removed since the
    store last saved it, so a save writes only those."""

    __slots__ = ("changed",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed: set[str] = set()

    def __reduce__(self) -> tuple[Any, ...]:  # copies start with nothing changed
        return (RecordMap, (dict(self),))

    def __setitem__(self, key: str, value: RecordState) -> None:
        super().__setitem__(key, value)
        self.changed.add(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changed.add(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.changed.add(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, RecordState]:
        item = super().popitem()
        self.changed.add(item[0])
        return item

    def setdefault(self, key: str, default: RecordState) -> RecordState:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> RecordMap:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        self.changed.update(self)
        super().clear()


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
    #: a ``RecordMap`` (a plain dict given here is wrapped in one)
    records: dict[str, RecordState] = field(default_factory=RecordMap)
    owners: dict[str, str] = field(default_factory=dict)
    in_flight: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.records) is not RecordMap:
            self.records = RecordMap(self.records)

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
                raise _Damaged(f"format_version {json.dumps(version)} is not a version (1 or 2)")
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


#: A journal larger than this and than twice the snapshot is compacted during a save.
COMPACT_MIN_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class _OnDisk:
    """What this store last read or wrote: the next save appends only if it still holds."""

    version: int = 0                        # 0: no snapshot
    token: str | None = None                # the snapshot's journal token
    snapshot: tuple[int, int] | None = None  # (st_dev, st_ino)
    snapshot_bytes: int = 0
    journal: tuple[int, int] | None = None
    journal_end: int = 0
    clean: bool = True                      # no torn tail, no stale lines
    serial: int = 0
    lineage: str = ""
    records: RecordMap | None = None        # the map whose ``changed`` says what is new
    fields: tuple[Any, ...] = ()
    owners: dict[str, str] = field(default_factory=dict)
    in_flight: dict[str, str] = field(default_factory=dict)  # batch id -> its JSON


class StateStore:
    """Owns one state file: load, save, backup, and the lock that keeps commands apart.

    ``path`` is shown in messages as the user named it; a symlink is followed once, here,
    and every read, save and lock works on the real file (``real_path``), so a save writes
    through the link instead of replacing it. With a ``binding``, ``load`` refuses a
    state of another project or target.

    A save appends what changed since the previous save to the journal (see
    ``state_journal``): records replaced, added or removed (``State.records`` is a
    ``RecordMap``, which notes them), in-flight batches, owners and the header fields.
    When the state was not loaded by this store, or the files changed behind it, the save
    rewrites the snapshot instead, as every save did before the journal existed.
    """

    def __init__(self, path: str | Path, *, binding: StateBinding | None = None) -> None:
        self.path = Path(path)
        self.real_path = Path(os.path.realpath(self.path))
        self.binding = binding
        self.journal_path = journal_path(self.real_path)
        #: names who holds the lock (the lock itself is on the folder: ``state_lock``)
        self.holder_path = self.real_path.with_name(self.real_path.name + ".lock")
        #: the backup kept when a file of the first format was rewritten in this one
        self.migration_backup: Path | None = None
        self._disk: _OnDisk | None = None
        self._state: State | None = None

    def exists(self) -> bool:
        return self.real_path.exists()

    def owns(self, other: str | Path) -> bool:
        """Whether writing ``other`` would destroy this state, its journal or its lock."""
        real = Path(os.path.realpath(other))
        return real in (self.real_path, self.journal_path, self.holder_path)

    # -- reading -----------------------------------------------------------------------------

    def load(
        self, *, target: str | None = None, project: str | None = None,
        project_id: str | None = None, check: bool = True,
    ) -> State:
        """Read the state (snapshot + journal); an absent file is an empty state. Never
        modifies a file.

        With a binding (and ``check``), a state of another project or target is refused.
        """
        binding = self.binding
        state, disk = self._read()
        if disk.version == 0:
            if binding is not None:
                state = State.empty(target=binding.target, project=binding.project,
                                    project_id=binding.project_id)
            else:
                state = State.empty(target=target, project=project, project_id=project_id)
        elif check and binding is not None:
            problem = binding.problem(state)
            if problem is not None:
                raise StateError(self._foreign_message(state, problem))
        self._remember(state, disk)
        return state

    def _read(self) -> tuple[State, _OnDisk]:
        """The state on disk and what was read. A compaction running meanwhile (a ``plan``
        does not take the lock) replaces the snapshot: then the pair is read again."""
        for _attempt in range(5):
            try:
                with open(self.real_path, "rb") as handle:
                    snap = os.fstat(handle.fileno())
                    raw = handle.read()
            except FileNotFoundError:
                return State.empty(), _OnDisk()
            except OSError as exc:
                raise self._unreadable(exc) from exc
            try:
                with open(self.journal_path, "rb") as handle:
                    jst: os.stat_result | None = os.fstat(handle.fileno())
                    journal = handle.read()
            except FileNotFoundError:
                jst, journal = None, b""
            except OSError as exc:
                raise self._unreadable(exc) from exc
            try:
                now = os.stat(self.real_path)
            except OSError:
                continue
            if (now.st_dev, now.st_ino) == (snap.st_dev, snap.st_ino):
                break
        with gc_paused():
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise self._unreadable(exc) from exc
            if not isinstance(data, dict):
                raise StateError(f"{self.path}: not a reconciler state file (not a JSON object)")
            state = State.from_json(data, where=str(self.path))
            version = data["format_version"]
            token = data.get("journal") if version >= 2 else None
            if token is not None and type(token) is not str:
                raise StateError(
                    f"{self.path}: state file is damaged (journal {json.dumps(token)} is not "
                    "a journal id); it was left untouched. " + _RESTORE
                )
            disk = _OnDisk(
                version=version, token=token, snapshot=(snap.st_dev, snap.st_ino),
                snapshot_bytes=len(raw),
                journal=(jst.st_dev, jst.st_ino) if jst is not None else None,
            )
            if token is None:
                disk.journal_end, disk.clean = len(journal), not journal
                return state, disk
            try:
                scan = read_journal(journal, token, state.serial)
            except JournalDamaged as exc:
                raise StateError(
                    f"{self.journal_path}: the state's journal is damaged ({exc}); both files "
                    "were left untouched. " + _RESTORE
                ) from None
            _replay(state, scan.entries, where=str(self.journal_path))
        disk.journal_end, disk.clean = scan.end, scan.clean
        return state, disk

    def _unreadable(self, exc: BaseException) -> StateError:
        return StateError(
            f"{self.path}: state file cannot be read ({_reason(exc)}); it was left "
            "untouched. Restore it from a backup or run `reconciler state rebuild`"
        )

    def _remember(self, state: State, disk: _OnDisk) -> None:
        """``state`` is what the files hold now: the next save may append to them."""
        if type(state.records) is not RecordMap:
            state.records = RecordMap(state.records)
        state.records.changed.clear()
        disk.serial, disk.lineage, disk.records = state.serial, state.lineage, state.records
        disk.fields = _header(state)
        disk.owners = dict(state.owners)
        disk.in_flight = {b: _dumps(e) for b, e in state.in_flight.items()}
        self._disk, self._state = disk, state

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

    # -- writing -----------------------------------------------------------------------------

    def save(self, state: State) -> None:
        """Record ``state`` durably (serial + 1): one journal line with what changed since
        the last save, or a new snapshot when appending is not possible."""
        self.check_writable()
        previous = (state.serial, state.lineage)
        if type(state.records) is not RecordMap:
            state.records = RecordMap(state.records)
        disk = self._disk
        append = (
            disk is not None and disk.clean and disk.token is not None
            and disk.version == FORMAT_VERSION and disk.records is state.records
            and (disk.serial, disk.lineage) == previous and bool(state.lineage)
        )
        state.serial += 1
        if not state.lineage:
            state.lineage = str(uuid.uuid4())
        try:
            if append and disk is not None and self._files_unchanged(disk):
                self._append(state, disk)
            else:
                self._compact(state)
                return
        except OSError as exc:
            state.serial, state.lineage = previous
            raise StateError(
                f"{self.path}: the state could not be saved ({_reason(exc)}); the previous "
                "state is intact. Free some disk space or fix the folder's permissions, then "
                "run the command again: what was sent is recovered by marker"
            ) from exc
        if disk.journal_end > max(COMPACT_MIN_BYTES, 2 * disk.snapshot_bytes):
            with _suppress_oserror():  # the journal holds it all; compaction can wait
                self._compact(state)

    def _files_unchanged(self, disk: _OnDisk) -> bool:
        """Whether the files are still as this store left them (nobody wrote behind it)."""
        try:
            snap = os.stat(self.real_path)
        except OSError:
            return False
        try:
            journal: os.stat_result | None = os.stat(self.journal_path)
        except FileNotFoundError:
            journal = None
        except OSError:
            return False
        if (snap.st_dev, snap.st_ino) != disk.snapshot:
            return False
        if journal is None:
            return disk.journal is None or disk.journal_end == 0
        return (journal.st_dev, journal.st_ino) == disk.journal and (
            journal.st_size == disk.journal_end
        )

    def _append(self, state: State, disk: _OnDisk) -> None:
        records = state.records
        assert type(records) is RecordMap
        changed = {
            address: _dumps(records[address].to_json()) if address in records else None
            for address in sorted(records.changed)
        }
        in_flight = {b: _dumps(e) for b, e in state.in_flight.items()}
        flights: dict[str, str | None] = {
            b: e for b, e in in_flight.items() if disk.in_flight.get(b) != e
        }
        flights.update((b, None) for b in disk.in_flight if b not in in_flight)
        owners: dict[str, str | None] | None = None
        if state.owners != disk.owners:
            owners = {k: v for k, v in state.owners.items() if disk.owners.get(k) != v}
            owners.update((k, None) for k in disk.owners if k not in state.owners)
        header = _header(state)
        line = encode_entry(
            disk.token or "", state.serial, records=changed, in_flight=flights, owners=owners,
            fields=dict(zip(_HEADER, header)) if header != disk.fields else None,
        )
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except BaseException:
                try:  # the next save must not start on the end of a torn line
                    os.ftruncate(fd, disk.journal_end)
                except OSError:
                    disk.clean = False
                raise
            journal = os.fstat(fd)
        finally:
            os.close(fd)
        if disk.journal is None:
            fsync_dir(self.real_path.parent)  # the journal's name is as durable as its lines
        disk.journal = (journal.st_dev, journal.st_ino)
        disk.journal_end = journal.st_size
        disk.serial, disk.lineage, disk.fields = state.serial, state.lineage, header
        disk.owners = dict(state.owners)
        disk.in_flight = in_flight
        records.changed.clear()
        self._state = state

    def _compact(self, state: State) -> None:
        """Write ``state`` as a new snapshot, then empty the journal (see ``state_journal``
        for why this order is safe at any instant)."""
        disk = self._disk
        if disk is not None and disk.version == 1 and self.migration_backup is None:
            self.migration_backup = self.backup()  # the first release can still read this
        token = uuid.uuid4().hex
        prefix = f".{self.real_path.name}."
        with _suppress_oserror():
            for leftover in os.scandir(self.real_path.parent):
                if leftover.name.startswith(prefix) and leftover.name.endswith(".tmp"):
                    os.unlink(leftover.path)  # of a compaction killed before its rename
        written = write_atomically(self.real_path, _snapshot_chunks(state, token))
        now = _OnDisk(
            version=FORMAT_VERSION, token=token, snapshot=(written.st_dev, written.st_ino),
            snapshot_bytes=written.st_size, clean=False,
        )
        if disk is not None:
            now.journal, now.journal_end = disk.journal, disk.journal_end
        self._remember(state, now)
        try:
            fd = os.open(self.journal_path, os.O_WRONLY)
        except FileNotFoundError:
            now.journal, now.journal_end, now.clean = None, 0, True
            return
        except OSError:
            return  # its lines are another snapshot's: ignored; the next save tries again
        try:
            os.ftruncate(fd, 0)
            os.fsync(fd)
            journal = os.fstat(fd)
            now.journal, now.journal_end, now.clean = (journal.st_dev, journal.st_ino), 0, True
        except OSError:
            pass
        finally:
            os.close(fd)

    def compact(self) -> None:
        """Fold the journal into the snapshot, if the state in memory is the one last
        saved (unsaved changes are never written behind the caller's back)."""
        disk, state = self._disk, self._state
        if disk is None or state is None or disk.token is None:
            return
        if disk.clean and disk.journal_end == 0:
            return
        unchanged = (
            disk.records is state.records and not disk.records.changed
            and (disk.serial, disk.lineage) == (state.serial, state.lineage)
            and disk.fields == _header(state) and disk.owners == state.owners
            and disk.in_flight == {b: _dumps(e) for b, e in state.in_flight.items()}
        )
        if unchanged and self._files_unchanged(disk):
            self._compact(state)

    def backup(self) -> Path | None:
        """Write the current state next to the file before a manual edit (or a migration).

        Named ``<name>.<time>.backup``, with ``-2``, ``-3``... when two edits fall in the
        same second, so no backup ever overwrites another. It is one self-contained file:
        the snapshot as it is when the journal is empty (a command's end empties it), else
        a snapshot with the journal folded in, under a journal id no journal carries, so
        copying it back over the state restores exactly it.
        """
        if not self.real_path.exists():
            return None
        journal = b""
        try:
            state, disk = self._read()
        except StateError:  # damaged (``state rebuild`` keeps it): both files as they are
            state, disk = State.empty(), _OnDisk(version=-1)
            with _suppress_oserror():
                journal = self.journal_path.read_bytes()
        try:
            if disk.version in (-1, 1) or (disk.clean and disk.journal_end == 0):
                data = self.real_path.read_bytes()  # the snapshot alone is the state
            else:
                data = _snapshot_text(state, uuid.uuid4().hex).encode("utf-8")
            stamp = time.strftime("%Y%m%dT%H%M%S")
            target = self.path.with_name(f"{self.path.name}.{stamp}.backup")
            counter = 1
            while True:
                try:
                    with open(target, "xb") as handle:  # exclusive: never replace a backup
                        handle.write(data)
                    break
                except FileExistsError:
                    counter += 1
                    target = self.path.with_name(f"{self.path.name}.{stamp}-{counter}.backup")
            if journal:
                with open(journal_path(target), "xb") as handle:
                    handle.write(journal)
            return target
        except OSError as exc:
            raise StateError(
                f"{self.path}: no backup could be written ({_reason(exc)}), so nothing was "
                "changed; free some disk space or fix the folder's permissions"
            ) from exc

    # -- the lock ----------------------------------------------------------------------------

    @contextmanager
    def locked(self, *, command: str = "apply") -> Iterator[None]:
        """Hold this state file's lock, or fail at once naming who holds it.

        See ``state_lock``: a lock on the state's folder at a byte that stands for this
        file, which deleting files cannot undo. One command at a time per state file;
        states of other targets in the same folder are not blocked. When the command is
        done, the journal is folded into the snapshot, so the file at rest is the whole
        state (human-readable, diffable).
        """
        folder = self.real_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            release = try_lock(self.real_path)
        except OSError as exc:
            raise StateError(f"{folder}: the state folder cannot be locked ({_reason(exc)})") from exc
        if release is None:
            raise StateLockedError(
                f"{self.path} is locked by another reconciler ({self._describe_holder()}); "
                "wait for it to finish. If no such process is running, the lock is "
                "released automatically when its process ends."
            )
        try:
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
                self.holder_path.write_text(json.dumps(holder), encoding="utf-8")
            try:
                yield
            finally:
                with _suppress_oserror():
                    self.compact()
                with _suppress_oserror():
                    self.holder_path.unlink()
        finally:
            release()

    def _describe_holder(self) -> str:
        try:
            holder = json.loads(self.holder_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "holder unknown"
        if not isinstance(holder, dict):
            return "holder unknown"
        return (
            f"pid {holder.get('pid')} on {holder.get('host')}, "
            f"`{holder.get('command')}` on {holder.get('state')} since {holder.get('since')}"
        )


_RESTORE = (
    "Restore it from a backup (<name>.<time>.backup next to it) or run "
    "`reconciler state rebuild`"
)
_HEADER = ("target", "portal_id", "project", "project_id")


def _header(state: State) -> tuple[Any, ...]:
    return (state.target, state.portal_id, state.project, state.project_id)


def _snapshot_text(state: State, token: str) -> str:
    return "".join(_snapshot_chunks(state, token))


def _snapshot_chunks(state: State, token: str) -> Iterator[str]:
    fields = state._fields_json()
    fields = {**{k: fields[k] for k in ("format_version", "tool_version", "lineage", "serial")},
              "journal": token, **fields}
    records = state.records
    return snapshot_chunks(fields, (
        record_line(address, _dumps(records[address].to_json())) for address in sorted(records)
    ))


def _replay(state: State, entries: list[dict[str, Any]], *, where: str) -> None:
    """Apply journal entries to ``state`` (loaded from the snapshot), checking each."""
    records = state.records
    what = "the journal"
    try:
        for entry in entries:
            serial = entry["serial"]
            what = f"the entry with serial {serial}"
            changed = entry.get("records", {})
            _require_object(changed, "records")
            for address, record in changed.items():
                what = f"record {address} (serial {serial})"
                if record is None:
                    records.pop(address, None)
                else:
                    records[address] = RecordState.from_json(record)
            flights = entry.get("in_flight", {})
            _require_object(flights, "in_flight")
            for batch_id, flight in flights.items():
                what = f"in_flight entry {batch_id} (serial {serial})"
                if flight is None:
                    state.in_flight.pop(batch_id, None)
                else:
                    _check_in_flight(flight)
                    state.in_flight[batch_id] = flight
            what = f"owners (serial {serial})"
            owners = entry.get("owners", {})
            _require_object(owners, "owners")
            for email, owner in owners.items():
                if owner is None:
                    state.owners.pop(email, None)
                elif type(owner) is not str:
                    raise _Damaged("an owner id is not a string")
                else:
                    state.owners[email] = owner
            what = f"fields (serial {serial})"
            header = entry.get("fields")
            if header is not None:
                _require_object(header, "fields")
                portal_id = header.get("portal_id")
                if portal_id is not None and (type(portal_id) is not int or portal_id <= 0):
                    raise _Damaged(f"portal_id {json.dumps(portal_id)} is not a portal id")
                state.target = _text(header, "target", optional=True)
                state.project = _text(header, "project", optional=True)
                state.project_id = _text(header, "project_id", optional=True)
                state.portal_id = portal_id
            state.serial = serial
    except _Damaged as exc:
        raise StateError(
            f"{where}: the state's journal is damaged ({what}: {exc}); both files were left "
            "untouched. " + _RESTORE
        ) from None


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
