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
and diffable. ``journal`` says why a crash at any instant loses no completed save.
A file of the first format (1, a single file) is read as it is and rewritten in this one
at its first save, after a backup. A file from a newer format, or one that does not parse,
is refused and never overwritten.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from reconciler.errors import StateError, StateLockedError
from reconciler.state.backup import write_backup
from reconciler.state.journal import dumps, encode_entry, fsync_dir, journal_path, write_atomically
from reconciler.state.lock import describe_holder, lock_path, try_lock
from reconciler.state.model import FORMAT_VERSION, RecordMap, State, StateBinding
from reconciler.state.on_disk import (
    HEADER,
    OnDisk,
    flight,
    flights_since,
    header_of,
    schema_text,
    state_snapshot_chunks,
)
from reconciler.state.reading import read_files, reason

#: A journal larger than this and than twice the snapshot is compacted during a save (a
#: first apply of 50,000 records writes ~70 MB of journal: it is folded once, at its end;
#: each compaction during the run was ~0.4 s). It bounds what a load after a crash replays.
COMPACT_MIN_BYTES = 128 * 1024 * 1024


class StateStore:
    """Owns one state file: load, save, backup, and the lock that keeps commands apart.

    ``path`` is shown in messages as the user named it; a symlink is followed once, here,
    and every read, save and lock works on the real file (``real_path``), so a save writes
    through the link instead of replacing it. With a ``binding``, ``load`` refuses a
    state of another project or target.

    A save appends what changed since the previous save to the journal (see
    ``journal``): records replaced, added or removed (``State.records`` is a
    ``RecordMap``, which notes them), in-flight batches, owners and the header fields.
    When the state was not loaded by this store, or the files changed behind it, the save
    rewrites the snapshot instead, as every save did before the journal existed.
    """

    def __init__(self, path: str | Path, *, binding: StateBinding | None = None) -> None:
        self.path = Path(path)
        self.real_path = Path(os.path.realpath(self.path))
        self.binding = binding
        self.journal_path = journal_path(self.real_path)
        #: the lock file, which names who holds the lock (``reconciler.state.lock``)
        self.holder_path = lock_path(self.real_path)
        #: the backup kept when a file of the first format was rewritten in this one
        self.migration_backup: Path | None = None
        self._disk: OnDisk | None = None
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

    def _read(self) -> tuple[State, OnDisk]:
        return read_files(self.path, self.real_path, self.journal_path)


    def _remember(self, state: State, disk: OnDisk) -> None:
        """``state`` is what the files hold now: the next save may append to them."""
        if type(state.records) is not RecordMap:
            state.records = RecordMap(state.records)
        state.records.changed.clear()
        disk.serial, disk.lineage, disk.records = state.serial, state.lineage, state.records
        disk.fields = header_of(state)
        disk.owners = dict(state.owners)
        disk.in_flight = {b: flight(e) for b, e in state.in_flight.items()}
        disk.schema = schema_text(state)
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
            raise StateError(f"{self.path}: cannot be read ({reason(exc)})") from exc
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
                f"{self.path}: the state could not be saved ({reason(exc)}); the previous "
                "state is intact. Free some disk space or fix the folder's permissions, then "
                "run the command again: what was sent is recovered by marker"
            ) from exc
        if disk.journal_end > max(COMPACT_MIN_BYTES, 2 * disk.snapshot_bytes):
            with suppress(OSError):  # the journal holds it all; compaction can wait
                self._compact(state)

    def _files_unchanged(self, disk: OnDisk) -> bool:
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

    def _append(self, state: State, disk: OnDisk) -> bool:
        """Append this save's line; False (nothing written) if the journal is not as this
        store left it (written behind its back: the caller writes a snapshot instead)."""
        records = state.records
        assert type(records) is RecordMap
        changed = {
            address: dumps(records[address].to_json(compact=True)) if address in records else None
            for address in sorted(records.changed)
        }
        in_flight, flights = flights_since(disk, state)
        owners: dict[str, str | None] | None = None
        if state.owners != disk.owners:
            owners = {k: v for k, v in state.owners.items() if disk.owners.get(k) != v}
            owners.update((k, None) for k in disk.owners if k not in state.owners)
        header = header_of(state)
        schema = schema_text(state)
        line = encode_entry(
            disk.token or "", state.serial, records=changed, in_flight=flights, owners=owners,
            fields=dict(zip(HEADER, header, strict=True)) if header != disk.fields else None,
            schema=schema if schema != disk.schema else None,
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
        disk.schema = schema
        records.changed.clear()
        self._state = state
        return True

    def _compact(self, state: State) -> None:
        """Write ``state`` as a new snapshot, then empty the journal (see ``journal``
        for why this order is safe at any instant)."""
        disk = self._disk
        if disk is not None and disk.version == 1 and self.migration_backup is None:
            self.migration_backup = self.backup()  # the first release can still read this
        token = uuid.uuid4().hex
        prefix = f".{self.real_path.name}."
        with suppress(OSError):
            for leftover in os.scandir(self.real_path.parent):
                if leftover.name.startswith(prefix) and leftover.name.endswith(".tmp"):
                    os.unlink(leftover.path)  # of a compaction killed before its rename
        written = write_atomically(self.real_path, state_snapshot_chunks(state, token))
        now = OnDisk(
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
            and disk.fields == header_of(state) and disk.owners == state.owners
            and disk.schema == schema_text(state)
            and not flights_since(disk, state)[1]
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
        """Write the current state next to the file before a manual edit (or a migration);
        see ``reconciler.state.backup``."""
        return write_backup(self.path, self.real_path, self.journal_path)


    # -- the lock ----------------------------------------------------------------------------

    @contextmanager
    def locked(self, *, command: str = "apply") -> Iterator[None]:
        """Hold this state file's lock, or fail at once naming who holds it.

        See ``reconciler.state.lock``: one command at a time per state file, which
        deleting files cannot undo; states of other targets in the same folder are not
        blocked. When the command is done, the journal is folded into the snapshot, so
        the file at rest is the whole state (human-readable, diffable).
        """
        folder = self.real_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            release = try_lock(self.real_path, command=command)
        except OSError as exc:
            raise StateError(
                f"{folder}: the state folder cannot be locked ({reason(exc)})"
            ) from exc
        if release is None:
            raise StateLockedError(
                f"{self.path} is locked by another reconciler "
                f"({describe_holder(self.real_path)}); wait for it to finish. If no such "
                "process is running, the lock is released automatically when its process ends."
            )
        try:
            self.check_writable()
            try:
                yield
            finally:
                try:
                    self.compact()
                except (OSError, StateError):
                    pass  # the journal still holds it all; the next command folds it
        finally:
            release()


def _datasync(fd: int) -> None:
    """Make an append durable: its bytes and the file's new size, not its mtime."""
    getattr(os, "fdatasync", os.fsync)(fd)
