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
          "pinned": {"hs_meeting_start_time": "+3d 10:00",   # value: the property's
                     "hs_meeting_end_time": {"expr": "+3d 11:00", "value": "..."}}
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

import json
import os
import socket
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import StateError, StateLockedError
from reconciler.gc_pause import gc_paused
from reconciler.state.journal import (
    JournalDamaged,
    encode_entry,
    fsync_dir,
    journal_path,
    read_journal,
    record_line,
    snapshot_chunks,
    write_atomically,
)
from reconciler.state.lock import try_lock
from reconciler.state.model import (
    FORMAT_VERSION,
    AppliedAssociation,
    Pin,
    RecordMap,
    RecordState,
    State,
    StateBinding,
    _check_in_flight,
    _Damaged,
    _require_object,
    _text,
)

__all__ = [
    "FORMAT_VERSION", "AppliedAssociation", "Pin", "RecordMap", "RecordState", "State",
    "StateBinding", "StateStore",
]

#: A journal larger than this and than twice the snapshot is compacted during a save (a
#: first apply of 50,000 records writes ~70 MB of journal: it is folded once, at its end;
#: each compaction during the run was ~0.4 s). It bounds what a load after a crash replays.
COMPACT_MIN_BYTES = 128 * 1024 * 1024


#: an in-flight entry as last saved: the entry, its shape (see ``_flight``) and its JSON
_Flight = tuple[dict[str, Any], tuple[tuple[str, int], ...], str]


def _flight(entry: dict[str, Any]) -> _Flight:
    return (entry, _shape(entry), _dumps(entry))


def _shape(entry: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    """Which object each top-level key of an in-flight entry holds. Entries are replaced,
    or given a new top-level value (``entry["unresolved"] = ...``), never edited deeper;
    so an entry with the same shape as when saved is unchanged, and is not encoded again
    (with four batches in flight, encoding them all at every save cost ~2 s of a first
    apply of 50,000 records)."""
    return tuple([(key, id(value)) for key, value in entry.items()])


def _flights_since(
    disk: _OnDisk, state: State
) -> tuple[dict[str, _Flight], dict[str, str | None]]:
    """The in-flight entries now, and the JSON of those added or changed since the last
    save (None: settled)."""
    now: dict[str, _Flight] = {}
    changed: dict[str, str | None] = {}
    for batch_id, entry in state.in_flight.items():
        saved = disk.in_flight.get(batch_id)
        if saved is not None and saved[0] is entry and saved[1] == _shape(entry):
            now[batch_id] = saved
            continue
        now[batch_id] = flight = _flight(entry)
        if saved is None or saved[2] != flight[2]:
            changed[batch_id] = flight[2]
    changed.update((b, None) for b in disk.in_flight if b not in now)
    return now, changed


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
    in_flight: dict[str, _Flight] = field(default_factory=dict)


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
                text = raw.decode("utf-8")
                size, raw = len(raw), b""  # 30 MB at 50,000 records: not held twice
                data = json.loads(text)
                del text
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
                snapshot_bytes=size,
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
        disk.in_flight = {b: _flight(e) for b, e in state.in_flight.items()}
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
        self._writable()

    def _writable(self) -> os.stat_result | None:
        """``check_writable``, returning the file's stat (None: no file yet)."""
        try:
            found = os.stat(self.real_path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"{self.path}: cannot be read ({_reason(exc)})") from exc
        mode = found.st_mode
        owned = found.st_uid == getattr(os, "geteuid", lambda: -1)() and mode & stat.S_IWUSR
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not (
            owned or os.access(self.real_path, os.W_OK)
        ):
            raise StateError(
                f"{self.path} is read-only, so it was left untouched and nothing was done; "
                f"make it writable (chmod u+w {self.path}) if this run may change it"
            )
        return found

    # -- writing -----------------------------------------------------------------------------

    def save(self, state: State) -> None:
        """Record ``state`` durably (serial + 1): one journal line with what changed since
        the last save, or a new snapshot when appending is not possible."""
        snapshot = self._writable()
        previous = (state.serial, state.lineage)
        if type(state.records) is not RecordMap:
            state.records = RecordMap(state.records)
        disk = self._disk
        append = (
            disk is not None and disk.clean and disk.token is not None
            and disk.version == FORMAT_VERSION and disk.records is state.records
            and (disk.serial, disk.lineage) == previous and bool(state.lineage)
            and snapshot is not None and (snapshot.st_dev, snapshot.st_ino) == disk.snapshot
        )
        state.serial += 1
        if not state.lineage:
            state.lineage = str(uuid.uuid4())
        try:
            if not (append and disk is not None and self._append(state, disk)):
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

    def _append(self, state: State, disk: _OnDisk) -> bool:
        """Append this save's line; False (nothing written) if the journal is not as this
        store left it (written behind its back: the caller writes a snapshot instead)."""
        records = state.records
        assert type(records) is RecordMap
        changed = {
            address: _dumps(records[address].to_json(compact=True)) if address in records else None
            for address in sorted(records.changed)
        }
        in_flight, flights = _flights_since(disk, state)
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
            found = os.fstat(fd)
            if (found.st_dev, found.st_ino) != (disk.journal or (found.st_dev, found.st_ino)) or (
                found.st_size != (disk.journal_end if disk.journal else 0)
            ):
                return False
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view):]
                _datasync(fd)
            except BaseException:
                try:  # the next save must not start on the end of a torn line
                    os.ftruncate(fd, disk.journal_end)
                except OSError:
                    disk.clean = False
                raise
        finally:
            os.close(fd)
        if disk.journal is None:
            fsync_dir(self.real_path.parent)  # the journal's name is as durable as its lines
        disk.journal = (found.st_dev, found.st_ino)
        disk.journal_end = found.st_size + len(line)
        disk.serial, disk.lineage, disk.fields = state.serial, state.lineage, header
        disk.owners = dict(state.owners)
        disk.in_flight = in_flight
        records.changed.clear()
        self._state = state
        return True

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
        """Fold the journal into the snapshot (call it holding the lock). Only what was
        saved is written, never unsaved changes of the state in memory: when that state
        is exactly the one last saved through this store, it is written from memory;
        otherwise (changed since, or saved through another ``StateStore`` of the same
        file) the files are read and what they hold is written."""
        disk, state = self._disk, self._state
        if disk is not None and state is not None and disk.version == FORMAT_VERSION and (
            disk.records is state.records and not disk.records.changed
            and (disk.serial, disk.lineage) == (state.serial, state.lineage)
            and disk.fields == _header(state) and disk.owners == state.owners
            and not _flights_since(disk, state)[1]
            and self._files_unchanged(disk)
        ):
            if not disk.clean or disk.journal_end:
                self._compact(state)
            return
        try:
            if not os.stat(self.journal_path).st_size:
                return
        except OSError:
            return
        saved, disk = self._read()
        if disk.version == FORMAT_VERSION:
            self._remember(saved, disk)
            self._compact(saved)

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
            if os.name != "nt":  # on Windows that file is the lock itself (``state_lock``)
                with _suppress_oserror():
                    self.holder_path.write_text(json.dumps(holder), encoding="utf-8")
            try:
                yield
            finally:
                try:
                    self.compact()
                except (OSError, StateError):
                    pass  # the journal still holds it all; the next command folds it
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
        record_line(address, _dumps(records[address].to_json(compact=True)))
        for address in sorted(records)
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


def _datasync(fd: int) -> None:
    """Make an append durable: its bytes and the file's new size, not its mtime."""
    getattr(os, "fdatasync", os.fsync)(fd)


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
