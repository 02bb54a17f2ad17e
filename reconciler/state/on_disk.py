"""What a ``StateStore`` last read or wrote, so that its next save may append only what
changed: the files' identities and sizes, the header fields, owners and in-flight entries
as saved; and a state's snapshot text, written in pieces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from reconciler.state.journal import dumps, record_line, snapshot_chunks
from reconciler.state.model import RecordMap, State

#: the header fields a journal line carries when one of them changed
HEADER = ("target", "portal_id", "project", "project_id")

#: an in-flight entry as last saved: the entry, its shape (see ``_shape``) and its JSON
Flight = tuple[dict[str, Any], tuple[tuple[str, int], ...], str]


def flight(entry: dict[str, Any]) -> Flight:
    return (entry, _shape(entry), dumps(entry))


def _shape(entry: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    """Which object each top-level key of an in-flight entry holds. Entries are replaced,
    or given a new top-level value (``entry["unresolved"] = ...``), never edited deeper;
    so an entry with the same shape as when saved is unchanged, and is not encoded again
    (with four batches in flight, encoding them all at every save cost ~2 s of a first
    apply of 50,000 records)."""
    return tuple([(key, id(value)) for key, value in entry.items()])


def flights_since(
    disk: OnDisk, state: State
) -> tuple[dict[str, Flight], dict[str, str | None]]:
    """The in-flight entries now, and the JSON of those added or changed since the last
    save (None: settled)."""
    now: dict[str, Flight] = {}
    changed: dict[str, str | None] = {}
    for batch_id, entry in state.in_flight.items():
        saved = disk.in_flight.get(batch_id)
        if saved is not None and saved[0] is entry and saved[1] == _shape(entry):
            now[batch_id] = saved
            continue
        now[batch_id] = flown = flight(entry)
        if saved is None or saved[2] != flown[2]:
            changed[batch_id] = flown[2]
    changed.update((b, None) for b in disk.in_flight if b not in now)
    return now, changed


@dataclass(slots=True)
class OnDisk:
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
    in_flight: dict[str, Flight] = field(default_factory=dict)
    schema: str = ""                        # the schema ids' JSON (``schema_text``)


def schema_text(state: State) -> str:
    """The state's schema ids as a journal line carries them."""
    return dumps(state.schema.to_json())


def header_of(state: State) -> tuple[Any, ...]:
    return (state.target, state.portal_id, state.project, state.project_id)


def snapshot_text(state: State, token: str) -> str:
    return "".join(state_snapshot_chunks(state, token))


def state_snapshot_chunks(state: State, token: str) -> Iterator[str]:
    """``state`` as a snapshot under the journal token ``token``, in pieces."""
    fields = state._fields_json()
    fields = {**{k: fields[k] for k in ("format_version", "tool_version", "lineage", "serial")},
              "journal": token, **fields}
    records = state.records
    return snapshot_chunks(fields, (
        record_line(address, dumps(records[address].to_json(compact=True)))
        for address in sorted(records)
    ))
