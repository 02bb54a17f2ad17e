"""Reading a state file: the snapshot, then the journal lines that follow it, read again
when a compaction replaced the snapshot meanwhile; every shape checked, and anything
damaged refused with a message that says what to do (never a file modified).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reconciler.errors import StateError
from reconciler.gc_pause import gc_paused, kept_until_exit
from reconciler.state.journal import JournalDamaged, read_journal
from reconciler.state.model import (
    RecordState,
    State,
    _check_in_flight,
    _Damaged,
    _require_object,
    _text,
)
from reconciler.state.on_disk import OnDisk
from reconciler.state.schema_ids import SchemaIds, SchemaIdsDamaged

#: the way back from a damaged file, in every message that refuses one
RESTORE = (
    "Restore it from a backup (<name>.<time>.backup next to it) or run "
    "`reconciler state rebuild`"
)


def read_files(path: Path, real_path: Path, journal_path: Path) -> tuple[State, OnDisk]:
    """The state on disk at ``real_path`` (``path``: as the user named it, for messages)
    and what was read. A compaction running meanwhile (a ``plan`` does not take the lock)
    replaces the snapshot: then the pair is read again."""
    for _attempt in range(5):
        try:
            with open(real_path, "rb") as handle:
                snap = os.fstat(handle.fileno())
                raw = handle.read()
        except FileNotFoundError:
            return State.empty(), OnDisk()
        except OSError as exc:
            raise unreadable(path, exc) from exc
        try:
            with open(journal_path, "rb") as handle:
                jst: os.stat_result | None = os.fstat(handle.fileno())
                journal = handle.read()
        except FileNotFoundError:
            jst, journal = None, b""
        except OSError as exc:
            raise unreadable(path, exc) from exc
        try:
            now = os.stat(real_path)
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
            raise unreadable(path, exc) from exc
        except RecursionError:  # json's decoder recurses: [[[[... thousands deep
            raise unreadable(path, ValueError("nested too deeply")) from None
        if not isinstance(data, dict):
            raise StateError(f"{path}: not a reconciler state file (not a JSON object)")
        state = kept_until_exit(State.from_json(data, where=str(path)))  # (see gc_pause)
        version = data["format_version"]
        token = data.get("journal") if version >= 2 else None
        if token is not None and type(token) is not str:
            raise StateError(
                f"{path}: state file is damaged (journal {json.dumps(token)} is not "
                "a journal id); it was left untouched. " + RESTORE
            )
        disk = OnDisk(
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
                f"{journal_path}: the state's journal is damaged ({exc}); both files "
                "were left untouched. " + RESTORE
            ) from None
        _replay(state, scan.entries, where=str(journal_path))
    disk.journal_end, disk.clean = scan.end, scan.clean
    return state, disk


def unreadable(path: Path, exc: BaseException) -> StateError:
    return StateError(
        f"{path}: state file cannot be read ({reason(exc)}); it was left "
        "untouched. Restore it from a backup or run `reconciler state rebuild`"
    )


def reason(exc: BaseException) -> str:
    """An OSError as a user reads it: ``No space left on device``, not ``[Errno 28] ...``."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


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
            if "schema" in entry:
                what = f"schema (serial {serial})"
                try:
                    state.schema = SchemaIds.from_json(entry["schema"])
                except SchemaIdsDamaged as exc:
                    raise _Damaged(str(exc)) from None
            state.serial = serial
    except _Damaged as exc:
        raise StateError(
            f"{where}: the state's journal is damaged ({what}: {exc}); both files were left "
            "untouched. " + RESTORE
        ) from None
