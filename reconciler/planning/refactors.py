"""The spec's ``moved:`` and ``removed:`` entries (and ``state mv``/``state rm``) as changes:
a ``move`` rewrites a managed record's markers to its new address, a ``release`` clears
them and forgets the record (the portal keeps it). A move onto an address the state maps
already, or that another managed record moves to, is refused (``move_conflict``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from reconciler.errors import SpecError, SpecIssue
from reconciler.identity.markers import marker_properties
from reconciler.model import DesiredState, Refactor, Source
from reconciler.planning.changes import Change, PropertyDiff, RemoteSnapshot
from reconciler.state.model import RecordState, State
from reconciler.state.renames import rename_record


def refactor_changes(
    desired: DesiredState, state: State, remote: Mapping[str, RemoteSnapshot | None] | None
) -> list[Change]:
    """The moves and releases the spec's ``moved:`` and ``removed:`` entries ask of this
    state: one per entry whose old address the state manages. Once applied the state no
    longer has that address, so an entry left in the spec plans nothing. A move that
    ``move_conflict`` refuses is a ``SpecError`` located at its entry (never dropped: the
    record would be archived instead)."""
    changes: list[Change] = []
    issues: list[SpecIssue] = []
    for address, refactor in desired.refactors.items():
        recorded = state.records.get(address)
        if recorded is None:
            continue
        gone = remote is not None and remote.get(address) is None
        if refactor.to is None:
            changes.append(release_change(address, recorded, desired.project.marker_id, gone,
                                          reason="removed: in the spec", source=refactor.source))
        elif refactor.to not in desired.records:  # (a target that does not take it)
            changes.append(release_change(
                address, recorded, desired.project.marker_id, gone,
                reason=f"moved: to {refactor.to}, which this target does not include",
                source=refactor.source,
            ))
        elif not gone:  # (gone: nothing to move; it is forgotten as any record gone)
            problem = move_conflict(address, refactor.to, state, desired.refactors)
            if problem is None:
                changes.append(move_change(address, refactor.to, recorded,
                                           desired.project.marker_id,
                                           reason="moved: in the spec", source=refactor.source))
            else:
                where = refactor.source
                issues.append(SpecIssue(where.file, where.line, where.column, "moved", problem))
    if issues:
        raise SpecError(issues)
    return changes


def move_conflict(
    source: str, destination: str, state: State,
    refactors: Mapping[str, Refactor] = MappingProxyType({}),
) -> str | None:
    """Why the record the state maps at ``source`` cannot move to ``destination`` (None: it
    can): the state maps ``destination`` already, or another record it maps moves there too
    (``refactors``: the spec's entries, chains resolved). Either would leave two records on
    one address, so the move is refused, saying what to do (``state mv`` says the same)."""
    moving = state.records[source]
    holder = state.records.get(destination)
    if holder is not None:
        if holder.id == moving.id:
            return (f"cannot move {source} to {destination}: the state maps {destination} to "
                    f"this very record (HubSpot id {holder.id}) already; run `reconciler "
                    f"state rm --offline {source}` to forget its old address")
        return (f"cannot move {source} to {destination}: {destination} is already in the "
                f"state (HubSpot id {holder.id}), another record; run `reconciler state rm "
                f"{destination}` first (the portal keeps it, released), or move to another "
                "address")
    for other, refactor in refactors.items():
        if other != source and refactor.to == destination and other in state.records:
            return (f"cannot move {source} to {destination}: {other}, which the state also "
                    f"maps (HubSpot id {state.records[other].id}), moves there too (moved: at "
                    f"{refactor.source}); two records cannot become one: run `reconciler "
                    f"state rm` on one of them first (the portal keeps it, released)")
    return None


def move_change(
    address: str, to: str, recorded: RecordState, project_id: str, *, reason: str,
    source: Source | None = None,
) -> Change:
    """Rewrite a managed record's markers to its new address ``to``."""
    after = marker_properties(project_id, to)
    before = marker_properties(project_id, address)
    object_type, _, key = to.partition("/")
    return Change(
        action="move", object_type=recorded.object_type or object_type, key=key,
        reason=reason, hubspot_id=recorded.id, after=after,
        diffs=tuple(PropertyDiff(n, before.get(n), v) for n, v in sorted(after.items())
                    if before.get(n) != v),
        source=source, moved_from=address,
    )


def release_change(
    address: str, recorded: RecordState, project_id: str, gone: bool = False, *,
    reason: str, source: Source | None = None,
) -> Change:
    """Stop managing a record: its markers are cleared (``after`` holds the empty values
    sent; empty when the record is already gone from the portal), the portal keeps it."""
    before = marker_properties(project_id, address)
    after = {} if gone else {name: "" for name in before}
    object_type, _, key = address.partition("/")
    return Change(
        action="release", object_type=recorded.object_type or object_type, key=key,
        reason=f"{reason}; " + ("already gone from the portal" if gone
                                else "the portal keeps it, released"),
        hubspot_id=recorded.id, after=after,
        diffs=tuple(PropertyDiff(n, before[n], after.get(n)) for n in sorted(before)),
        source=source,
    )


def refactored(
    state: State, remote: Mapping[str, RemoteSnapshot | None] | None,
    changes: list[Change],
) -> tuple[State, Mapping[str, RemoteSnapshot | None] | None]:
    """``state`` (a copy) and ``remote`` as they will be once ``changes``' moves and
    releases are applied: released records forgotten, moved ones at their new address."""
    after = replace(state, records=dict(state.records))  # records are replaced, never edited
    moved_remote = dict(remote) if remote is not None else None
    for change in changes:
        if change.action == "release":
            after.records.pop(change.address, None)
        elif change.action == "move" and change.moved_from is not None:
            rename_record(after, change.moved_from, change.address)
            if moved_remote is not None:
                moved_remote[change.address] = moved_remote.pop(change.moved_from, None)
    return after, moved_remote
