"""Moving a state's record to a new address (``moved:``, ``state mv``), with the
associations that name it."""

from __future__ import annotations

from dataclasses import replace

from reconciler.state.model import State


def rename_record(state: State, source: str, destination: str) -> None:
    """Move the state's record from ``source`` to ``destination``; associations name their
    target by local key, so they follow the rename."""
    source_type, _, source_key = source.partition("/")
    dest_key = destination.partition("/")[2]
    state.records[destination] = state.records.pop(source)
    for address, recorded in list(state.records.items()):
        if any(a.to_type == source_type and a.to_key == source_key for a in recorded.associations):
            state.records[address] = replace(recorded, associations=tuple(
                replace(a, to_key=dest_key)
                if a.to_type == source_type and a.to_key == source_key else a
                for a in recorded.associations
            ))
