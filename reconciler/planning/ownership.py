"""Whose record it is: with a refresh, a record the state maps that does not carry this
project's id marker is forgotten without a write (``not_provably_ours``,
``unproven_release``); while the state's records carry another project id's markers (a
first-release state, or a project given its ``id:`` later), each gets a ``remark``.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY, marker_properties
from reconciler.model import DesiredState, Source
from reconciler.planning.changes import Change, PropertyDiff, RemoteSnapshot
from reconciler.state.model import RecordState, State


def not_provably_ours(
    recorded: RecordState, snapshot: RemoteSnapshot | None, project_id: str
) -> bool:
    """Whether the record the state maps, as the refresh read its markers, does not carry
    this project's id marker (``reconciler_project`` = ``project_id``), so is not provably
    this project's. False when its markers were not read (offline, or an incremental
    refresh that counted it among this project's records)."""
    if snapshot is None or snapshot.markers is None:
        return False
    key, owner = snapshot.markers
    if owner.lower() == project_id.lower():
        return False
    # a calendar meeting gets its markers in the update after the scheduler's create; when
    # that failed it carries none, and its next update sends them (apply_update)
    return not (recorded.via_calendar and not key and not owner)


def unproven_release(
    address: str, recorded: RecordState, snapshot: RemoteSnapshot, *,
    source: Source | None = None,
) -> Change:
    """Forget a record that is ``not_provably_ours``: a ``release`` that writes nothing
    (``after`` empty), saying what it carries and how to take it on purpose."""
    object_type, _, local_key = address.partition("/")
    return Change(
        action="release", object_type=recorded.object_type or object_type, key=local_key,
        reason=f"carries {carried_markers(snapshot.markers)}, not this project's id: not "
               "provably this project's, so "
               "forgotten without a write (the portal keeps it as it is); to take it on "
               f"purpose: `reconciler import {address} {recorded.id}`",
        hubspot_id=recorded.id, source=source,
    )


def carried_markers(markers: tuple[str, str] | None) -> str:
    """What a record's (``reconciler_key``, ``reconciler_project``) say, for a message."""
    key, owner = markers or ("", "")
    if owner:
        return f"reconciler_project {owner}"
    return f"no reconciler_project (reconciler_key {key})" if key else "no marker"


def unless_unproven(
    change: Change, state: State, remote: Mapping[str, RemoteSnapshot | None] | None,
    project_id: str,
) -> Change:
    """A move or release of a record that is ``not_provably_ours`` writes nothing: it is
    forgotten instead (its markers are another's to keep)."""
    source = change.moved_from if change.action == "move" else change.address
    recorded = state.records.get(str(source))
    snapshot = remote.get(str(source)) if remote is not None else None
    if recorded is None or snapshot is None or not not_provably_ours(
        recorded, snapshot, project_id
    ):
        return change
    return unproven_release(str(source), recorded, snapshot, source=change.source)


def remark_changes(
    desired: DesiredState, state: State, remote: Mapping[str, RemoteSnapshot | None] | None
) -> list[Change]:
    """Marker rewrites, while the state's records carry another project id's markers.

    A state made by the first release (no ``project_id``: markers ``<name>:<address>``),
    or before the project got its ``id:``, maps records whose markers are not this
    project's. Each managed record still in the spec gets one ``remark`` (by the state's id:
    only records this state maps are claimed); those being created again, or archived,
    need none.
    """
    new_id = desired.project.marker_id
    old_id = state.project_id if state.project_id is not None else state.project
    if not state.records or old_id is None or state.project_id == new_id:
        return []  # (a state naming no project at all is not a file apply wrote)
    remarks: list[Change] = []
    for address, recorded in state.records.items():
        record = desired.records.get(address)
        snapshot = remote.get(address) if remote is not None else None
        if record is None or (remote is not None and snapshot is None):
            continue
        after = marker_properties(new_id, address)
        before: dict[str, str | None] = {MARKER_PROPERTY: f"{old_id}:{address}",
                                         PROJECT_PROPERTY: state.project_id}
        was = old_id
        if snapshot is not None and snapshot.markers is not None:
            # the refresh read what the record carries: shown as it is (a rebound state
            # knows only its new project, not whose markers its records carry)
            key, owner = snapshot.markers
            before = {MARKER_PROPERTY: key or None, PROJECT_PROPERTY: owner or None}
            was = owner or key.partition(":")[0] or "(none)"
        remarks.append(Change(
            action="remark",
            object_type=recorded.object_type,
            key=record.key,
            reason=f"markers of project {was} → {new_id}",
            hubspot_id=recorded.id,
            after=after,
            diffs=tuple(PropertyDiff(name, before[name], value)
                        for name, value in sorted(after.items())),
            source=record.source,
        ))
    return remarks
