"""The planner: desired state + state file (+ what the portal holds) → a ``Plan``. No I/O.

Rules:
- in the spec, not in state → create;
- in both → update of only the properties whose value differs, and of the associations
  added or removed; with a refresh the portal's values are the baseline, so edits made in
  the HubSpot UI to a managed property show as drift and are put back;
- in state, not in the spec → archive, unless a ``removed:`` entry names it (→ release:
  its markers are cleared and it is forgotten; the portal keeps it);
- a ``moved:`` entry whose old address the state manages → move (its markers are
  rewritten to the new address), and the record is then planned at its new address; onto
  an address the state maps already (or that another managed record moves to) it is
  refused, located at the entry, as ``state mv`` refuses it;
- a property the spec does not set is never touched, whatever the portal holds;
- relative times pinned in the state at first creation are reused while their expression
  is unchanged, so a re-plan a day later does not move every meeting.

Creates and updates are ordered so that what a record points at is written first
(companies, contacts, deals, other types, then meetings and calls); archives run in the
reverse order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, cast

from reconciler.errors import SpecError, SpecIssue
from reconciler.model import (
    AssociationRef,
    CalendarSpec,
    DesiredRecord,
    DesiredState,
    Refactor,
    Reminder,
    Source,
    address_of,
    write_rank,
)
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY, marker_properties
from reconciler.state.store import AppliedAssociation, Pin, RecordState, State

#: 2: the actions move and release (``moved:``/``removed:``, ``state mv``/``state rm``);
#: 3: the actions adopt and dedupe, and the plan's ``duplicates``
PLAN_FORMAT_VERSION = 3

Action = Literal["create", "update", "archive", "remark", "move", "release", "adopt", "dedupe"]
#: Every action a plan may hold ("remark": rewrite a managed record's markers; "move":
#: rewrite them to a new address; "release": clear them and stop managing the record;
#: "adopt": map a record carrying the marker of one the state does not map, instead of
#: creating it, with the update it needs; "dedupe": archive an extra record carrying a
#: marker another record keeps; see ``reconciler.identity.scan``).
ACTIONS: tuple[Action, ...] = (
    "create", "update", "archive", "remark", "move", "release", "adopt", "dedupe",
)
#: Actions that write only a record's markers (apply runs them first).
MARKER_ACTIONS: frozenset[str] = frozenset({"remark", "move", "release"})


@dataclass(frozen=True, slots=True)
class PropertyDiff:
    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class RemoteSnapshot:
    """What the portal holds for one managed record (managed properties only)."""

    id: str
    properties: Mapping[str, str | None]
    #: to_type → the (to_id, type_id) the portal holds, for the associated types a full
    #: refresh read (None: associations not read; the last applied ones are assumed)
    associations: Mapping[str, frozenset[tuple[str, int]]] | None = None
    #: (``reconciler_key``, ``reconciler_project``) as the refresh read them, "" for none (None: not read; an incremental refresh reads only what changed, and counts
    #: the rest by ``reconciler_project``, so those carry this project's id)
    markers: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One thing apply will do to one record."""

    action: Action
    object_type: str
    key: str
    reason: str
    hubspot_id: str | None = None
    #: create/update: every managed property as it will be after the change
    after: Mapping[str, str] = field(default_factory=dict)
    #: the properties whose value changes (update: exactly what is sent)
    diffs: tuple[PropertyDiff, ...] = ()
    #: differences found between the portal and the last apply (refresh only)
    drift: tuple[PropertyDiff, ...] = ()
    add_associations: tuple[AssociationRef, ...] = ()
    remove_associations: tuple[AppliedAssociation, ...] = ()
    #: every association the record wants (recorded in state once applied)
    associations: tuple[AssociationRef, ...] = ()
    pins: Mapping[str, Pin] = field(default_factory=dict)
    calendar: CalendarSpec | None = None
    source: Source | None = None
    #: move: the address the record had (the change's own address is the new one)
    moved_from: str | None = None

    @property
    def address(self) -> str:
        return f"{self.object_type}/{self.key}"

    @property
    def properties_to_send(self) -> dict[str, str]:
        if self.action == "create":
            return dict(self.after)
        return {d.name: d.after for d in self.diffs if d.after is not None}


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything apply needs, and nothing it must look up again in the spec."""

    changes: tuple[Change, ...]
    unchanged: tuple[str, ...]
    target: str | None
    project: str | None
    state_lineage: str
    state_serial: int
    refreshed: bool
    reference_time: str
    format_version: int = PLAN_FORMAT_VERSION
    #: owner email → owner id, as resolved when the plan was made (saved with the plan so
    #: that ``apply --plan`` records them in the state)
    owners: Mapping[str, str] = field(default_factory=dict)
    #: the project's timezone: the text plan shows times in it
    timezone: str = "UTC"
    #: address → ids of every portal record carrying its marker, the kept one first (only
    #: markers carried more than once; ``dedupe`` changes archive the others)
    duplicates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> dict[str, int]:
        counts = {
            "create": self.count("create"),
            "update": self.count("update"),
            "archive": self.count("archive"),
            "unchanged": len(self.unchanged),
        }
        if self.count("remark"):  # only while markers migrate: the usual shape stays as it was
            counts["remark"] = self.count("remark")
        for action in ("move", "release", "adopt", "dedupe"):  # only when there are any
            if self.count(action):
                counts[action] = self.count(action)
        return counts


def plan(
    desired: DesiredState,
    state: State,
    remote: Mapping[str, RemoteSnapshot | None] | None = None,
    *,
    owners: Mapping[str, str] | None = None,
    target: str | None = None,
) -> Plan:
    """Compare what the spec wants with what was applied (and what the portal holds).

    ``remote`` maps each managed address to what the portal holds, or None when the
    record is gone from the portal; pass None to plan from the state alone (offline).
    ``owners`` maps owner emails to owner ids (from the owners API or the state's cache).
    """
    owner_ids = {**state.owners, **(owners or {})}
    project_id = desired.project.marker_id
    # With a refresh, a state of this project's id maps only records carrying that id
    # marker; one that does not (another team's, mapped by an earlier release's rebuild)
    # is forgotten without a write, never updated, remarked, moved or archived.
    checking = remote is not None and state.project_id == project_id
    changes: list[Change] = refactor_changes(desired, state, remote)
    if checking and changes:
        changes = [_unless_unproven(c, state, remote, project_id) for c in changes]
    if changes:  # plan the rest as if the moves and releases were done
        state, remote = refactored(state, remote, changes)
    unchanged: list[str] = []

    for address, record in desired.records.items():
        recorded = state.records.get(address)
        snapshot = remote.get(address) if (remote is not None and recorded) else None
        replacing = False
        if checking and recorded is not None and not_provably_ours(recorded, snapshot, project_id):
            assert snapshot is not None
            changes.append(unproven_release(address, recorded, snapshot, source=record.source))
            recorded, snapshot, replacing = None, None, True  # then created as if unmapped
        gone_from_portal = remote is not None and recorded is not None and snapshot is None
        after, pins = _desired_properties(record, recorded, owner_ids)
        associations, picks = _picked_associations(record, recorded, desired.records)

        if recorded is None or gone_from_portal:
            pins = {**_fresh_pins(record, after), **picks}
            changes.append(
                Change(
                    action="create",
                    object_type=record.object_type,
                    key=record.key,
                    reason="deleted in the portal" if gone_from_portal else (
                        "the record the state mapped is not this project's" if replacing
                        else "new in the spec"),
                    after=after,
                    diffs=tuple(PropertyDiff(k, None, v) for k, v in sorted(after.items())),
                    add_associations=associations,
                    associations=associations,
                    pins=pins,
                    calendar=record.calendar,
                    source=record.source,
                )
            )
            continue

        baseline: Mapping[str, str | None] = (
            snapshot.properties if snapshot is not None else recorded.properties
        )
        # Most records are unchanged: one C-level dict comparison settles those before
        # the per-property walk (which also treats "5" and "5.0" as one value).
        diffs = () if after == baseline else tuple(
            PropertyDiff(name, baseline.get(name), value)
            for name, value in sorted(after.items())
            if not same_value(baseline.get(name), value)
        )
        drift = (
            tuple(
                PropertyDiff(name, applied, snapshot.properties.get(name))
                for name, applied in sorted(recorded.properties.items())
                if not same_value(applied, snapshot.properties.get(name))
            )
            if snapshot is not None
            else ()
        )
        pins.update(picks)
        added, removed = _association_changes(associations, recorded.associations)
        restored = _removed_in_portal(associations, recorded.associations, snapshot)
        added += restored
        if not diffs and not added and not removed and _same_pins(pins, recorded, record):
            unchanged.append(address)
            continue
        reason = "changed in the portal" if (
            (drift or restored) and not _spec_changed(after, recorded)
        ) else "changed in the spec"
        changes.append(
            Change(
                action="update",
                object_type=record.object_type,
                key=record.key,
                reason=reason,
                hubspot_id=recorded.id,
                after=after,
                diffs=diffs,
                drift=drift,
                add_associations=added,
                remove_associations=removed,
                associations=associations,
                pins=pins,
                source=record.source,
            )
        )

    for address, recorded in state.records.items():
        if address in desired.records:
            continue
        object_type, _, key = address.partition("/")
        snapshot = remote.get(address) if remote is not None else None
        if checking and not_provably_ours(recorded, snapshot, project_id):
            assert snapshot is not None
            changes.append(unproven_release(address, recorded, snapshot))
            continue
        gone = remote is not None and snapshot is None
        changes.append(
            Change(
                action="archive",
                object_type=recorded.object_type or object_type,
                key=key,
                reason="already gone from the portal" if gone else "removed from the spec",
                hubspot_id=recorded.id,
                diffs=tuple(
                    PropertyDiff(k, v, None) for k, v in sorted(recorded.properties.items())
                ),
            )
        )

    moved = {c.address for c in changes if c.action == "move"}
    changes.extend(c for c in _remarks(desired, state, remote) if c.address not in moved)
    changes.sort(key=_change_order)
    return Plan(
        changes=tuple(changes),
        unchanged=tuple(sorted(unchanged)),
        target=target,
        project=desired.project.name,
        state_lineage=state.lineage,
        state_serial=state.serial,
        refreshed=remote is not None,
        reference_time=desired.reference_time,
    )


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


def _unless_unproven(
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


def _remarks(
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


def _change_order(change: Change) -> tuple[int, int, str, str]:
    rank = write_rank(change.object_type)
    if change.action in ("move", "release"):  # first: the rest is planned on their result
        return (-1, rank, change.object_type, change.key)
    if change.action == "archive":  # archive activities before what they hang on
        return (1, -rank, change.object_type, change.key)
    return (0, rank, change.object_type, change.key)


def _desired_properties(
    record: DesiredRecord, recorded: RecordState | None, owner_ids: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, Pin]]:
    """The record's properties with pinned relative times and resolved owner applied."""
    properties = record.properties
    # (runs for every record of every plan: a mapping proxy's copy() is the C dict copy,
    # dict() of one goes key by key)
    after = (
        cast("MappingProxyType[str, str]", properties).copy()
        if type(properties) in _COPIES else dict(properties)
    )
    pins: dict[str, Pin] = {}
    relative = record.relative_times
    if relative:
        recorded_pins = recorded.pinned if recorded is not None else _NO_PINS
        for name, expr in relative.items():
            if name.startswith(PICK_PREFIX):
                continue
            pinned = recorded_pins.get(name)
            if pinned is not None and pinned.expr == expr:
                after[name] = pinned.value
                pins[name] = pinned
            elif name in after:
                pins[name] = Pin(expr=expr, value=after[name])
        if "hs_meeting_start_time" in relative and "hs_timestamp" in after:
            # hs_timestamp mirrors the start time; keep them pinned together.
            after["hs_timestamp"] = after["hs_meeting_start_time"]
    if record.owner_email is not None:
        owner_id = owner_ids.get(record.owner_email.lower())
        after["hubspot_owner_id"] = owner_id if owner_id else f"<owner {record.owner_email}>"
    return after, pins


#: ``relative_times`` entries named ``@association:<index>`` pin a generated record's
#: association chosen at random among records (``random_reference``, reconciler.generate):
#: the expression is a digest of the pick's definition, the value the chosen key.
PICK_PREFIX = "@association:"
_COPIES = (dict, MappingProxyType)
_NO_PINS: Mapping[str, Pin] = MappingProxyType({})


def _picked_associations(
    record: DesiredRecord, recorded: RecordState | None, known: Mapping[str, DesiredRecord]
) -> tuple[tuple[AssociationRef, ...], dict[str, Pin]]:
    """The record's associations with pinned random picks kept, and the picks' pins.

    A pick applied once stays while its definition is unchanged and its target is still
    in the spec, however many candidates were added since.
    """
    for name in record.relative_times:
        if name.startswith(PICK_PREFIX):
            break
    else:  # no picks (a loop, not any() over a generator: this runs for every record)
        return record.associations, {}
    associations = list(record.associations)
    pins: dict[str, Pin] = {}
    for name, expr in record.relative_times.items():
        if not name.startswith(PICK_PREFIX):
            continue
        index = int(name[len(PICK_PREFIX):])
        if not 0 <= index < len(associations) or associations[index].to_key is None:
            continue
        chosen = associations[index]
        pinned = recorded.pinned.get(name) if recorded else None
        if (
            pinned is not None and pinned.expr == expr and pinned.value != chosen.to_key
            and address_of(chosen.to_type, pinned.value) in known
        ):
            chosen = replace(chosen, to_key=pinned.value)
            associations[index] = chosen
        value = str(chosen.to_key)
        # the recorded pin itself when it is the same: the plan compares pins as dicts,
        # and an identical object compares without calling Pin.__eq__
        same = pinned is not None and pinned.expr == expr and pinned.value == value
        pins[name] = pinned if same and pinned is not None else Pin(expr=expr, value=value)
    return tuple(associations), pins


def _same_pins(pins: Mapping[str, Pin], recorded: RecordState, record: DesiredRecord) -> bool:
    """The pins the record uses are those recorded (a pin the spec no longer uses, say a
    relative time written out as the time it was pinned to, changes nothing)."""
    if pins == recorded.pinned:  # the common case, one C-level comparison
        return True
    return pins == {k: v for k, v in recorded.pinned.items() if k in record.relative_times}


def _fresh_pins(record: DesiredRecord, after: Mapping[str, str]) -> dict[str, Pin]:
    return {
        name: Pin(expr=expr, value=after[name])
        for name, expr in record.relative_times.items()
        if name in after
    }


def _spec_changed(after: Mapping[str, str], recorded: RecordState) -> bool:
    return any(not same_value(recorded.properties.get(k), v) for k, v in after.items())


def association_identity(ref: AssociationRef) -> tuple[str, str, str, str]:
    return ref.identity()


def applied_identity(applied: AppliedAssociation) -> tuple[str, str, str, str]:
    target = f"key:{applied.to_key}" if applied.to_key is not None else f"id:{applied.to_id}"
    # One made from a `label:` is the spec's by that label (the id it resolved to is the
    # portal's), as AssociationRef.identity() names it.
    kind = f"label:{applied.label}" if applied.label is not None else str(applied.type_id)
    return (applied.to_type, target, applied.category, kind)


def _association_changes(
    wanted: tuple[AssociationRef, ...], applied: tuple[AppliedAssociation, ...]
) -> tuple[tuple[AssociationRef, ...], tuple[AppliedAssociation, ...]]:
    if len(wanted) == len(applied) and all(map(_same_association, wanted, applied)):
        return (), ()  # the common case, settled without building identity strings
    applied_by_identity = {applied_identity(a): a for a in applied}
    wanted_ids = {association_identity(w) for w in wanted}
    added = tuple(w for w in wanted if association_identity(w) not in applied_by_identity)
    removed = tuple(a for ident, a in applied_by_identity.items() if ident not in wanted_ids)
    return added, removed


def _removed_in_portal(
    wanted: tuple[AssociationRef, ...], applied: tuple[AppliedAssociation, ...],
    snapshot: RemoteSnapshot | None,
) -> tuple[AssociationRef, ...]:
    """Declared associations an apply made that the portal no longer holds (a full refresh
    read them): added again. Associations the spec does not declare are never touched."""
    if snapshot is None or snapshot.associations is None or not applied:
        return ()
    declared = {association_identity(w): w for w in wanted}
    restored = []
    for association in applied:
        present = snapshot.associations.get(association.to_type)
        if present is None or (association.to_id, association.type_id) in present:
            continue
        ref = declared.get(applied_identity(association))
        if ref is not None:
            restored.append(ref)
    return tuple(restored)


def _same_association(ref: AssociationRef, applied: AppliedAssociation) -> bool:
    """True only if the two identities are equal (False may still mean equal: full check)."""
    return (
        ref.type_id is not None
        and ref.type_id == applied.type_id
        and ref.to_key == applied.to_key
        and (ref.to_key is not None or ref.to_id == applied.to_id)
        and ref.to_type == applied.to_type
        and ref.category == applied.category
    )


def same_value(before: str | None, after: str | None) -> bool:
    """Equal as HubSpot means it: "5" and "5.0" are one number; datetimes compare as instants."""
    if before == after:
        return True
    if before is None or after is None:
        return before in (None, "") and after in (None, "")
    try:
        return float(before) == float(after)
    except ValueError:
        pass
    if "T" in before and "T" in after:
        try:
            return _instant(before) == _instant(after)
        except ValueError:
            return False
    return False


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- saving and loading plans -------------------------------------------------------------
#
# A saved plan is applied exactly as written, so it is read with suspicion: every field's
# type is checked, and a digest over the canonical JSON of the body, bound to the state
# lineage and serial it was made from, catches any edit made after it was saved. (The
# digest is no signature: it stops silent edits and damage, and ``apply --plan`` also checks
# that every change follows from the state it names, see ``workflow.check_plan_against``.)


class PlanFileError(ValueError):
    """A saved plan that cannot be trusted: edited, damaged, or not a plan at all."""


def plan_to_json(plan_: Plan) -> dict[str, Any]:
    """The documented, versioned JSON form (``plan --json`` and ``plan --out``)."""
    body: dict[str, Any] = {
        "format_version": plan_.format_version,
        "target": plan_.target,
        "project": plan_.project,
        "refreshed": plan_.refreshed,
        "reference_time": plan_.reference_time,
        "state": {"lineage": plan_.state_lineage, "serial": plan_.state_serial},
        "summary": plan_.summary(),
        "changes": [_change_to_json(c) for c in plan_.changes],
        "unchanged": list(plan_.unchanged),
        "owners": dict(sorted(plan_.owners.items())),
        "timezone": plan_.timezone,
    }
    if plan_.duplicates:
        body["duplicates"] = {a: list(ids) for a, ids in sorted(plan_.duplicates.items())}
    body["digest"] = plan_digest(body)
    return body


def plan_digest(body: Mapping[str, Any]) -> str:
    """sha256 over the state it was made from and the canonical JSON of everything else."""
    rest = {k: v for k, v in body.items() if k != "digest"}
    state = rest.get("state")
    bound = f"{state.get('lineage')}:{state.get('serial')}:" if isinstance(state, Mapping) else ":"
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256((bound + canonical).encode("ascii")).hexdigest()


def _change_to_json(change: Change) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": change.action,
        "type": change.object_type,
        "key": change.key,
        "address": change.address,
        "reason": change.reason,
        "id": change.hubspot_id,
        "changes": [{"property": d.name, "before": d.before, "after": d.after} for d in change.diffs],
    }
    if change.action not in ("archive", "dedupe"):
        data["after"] = dict(change.after)
        data["associations"] = [_ref_to_json(a) for a in change.associations]
        data["add_associations"] = [_ref_to_json(a) for a in change.add_associations]
        data["remove_associations"] = [a.to_json() for a in change.remove_associations]
    if change.drift:
        data["drift"] = [
            {"property": d.name, "applied": d.before, "portal": d.after} for d in change.drift
        ]
    if change.pins:
        data["pins"] = {k: {"expr": p.expr, "value": p.value} for k, p in change.pins.items()}
    if change.calendar is not None:
        cal = change.calendar
        data["calendar"] = {
            "organizer": cal.organizer,
            "timezone": cal.timezone,
            "reminders": [[r.number_of_time_units, r.time_unit] for r in cal.reminders],
            "include_description": cal.include_description,
        }
    if change.moved_from is not None:
        data["from"] = change.moved_from
    if change.source is not None:
        data["source"] = {
            "file": change.source.file,
            "line": change.source.line,
            "column": change.source.column,
        }
    return data


def _ref_to_json(ref: AssociationRef) -> dict[str, Any]:
    return {
        "to_type": ref.to_type,
        "to_key": ref.to_key,
        "to_id": ref.to_id,
        "category": ref.category,
        "type_id": ref.type_id,
        "label": ref.label,
    }


_MISSING = object()


def _field(data: Any, name: str, kinds: tuple[type, ...], default: Any = _MISSING) -> Any:
    """``data[name]`` if it has one of ``kinds`` (bool is never an int here)."""
    if type(data) is not dict:
        raise PlanFileError(f"expected a JSON object where {name!r} is, found {_kind(data)}")
    value = data.get(name, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise PlanFileError(f"{name!r} is missing")
        return default
    if type(value) not in kinds:
        raise PlanFileError(f"{name!r} is {_kind(value)}, not {' or '.join(_kind_name(k) for k in kinds)}")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else _kind_name(type(value))


def _kind_name(kind: type) -> str:
    return {
        str: "a string", int: "a whole number", float: "a number", bool: "true/false",
        list: "a list", dict: "an object", type(None): "null",
    }.get(kind, kind.__name__)


_TEXT = (str,)
_TEXT_OR_NULL = (str, type(None))


def _texts(value: Any, name: str, *, nullable: bool = False) -> dict[str, Any]:
    if type(value) is not dict:
        raise PlanFileError(f"{name!r} is {_kind(value)}, not an object")
    kinds = _TEXT_OR_NULL if nullable else _TEXT
    for k, v in value.items():
        if type(v) not in kinds:
            raise PlanFileError(f"{name}.{k} is {_kind(v)}, not a string")
    return dict(value)


def _diffs(items: Any, name: str, before: str, after: str) -> tuple[PropertyDiff, ...]:
    if type(items) is not list:
        raise PlanFileError(f"{name!r} is {_kind(items)}, not a list")
    return tuple(
        PropertyDiff(
            _field(d, "property", _TEXT),
            _field(d, before, _TEXT_OR_NULL, None),
            _field(d, after, _TEXT_OR_NULL, None),
        )
        for d in items
    )


def _ref_from_json(data: Any) -> AssociationRef:
    return AssociationRef(
        to_type=_field(data, "to_type", _TEXT),
        to_key=_field(data, "to_key", _TEXT_OR_NULL, None),
        to_id=_field(data, "to_id", _TEXT_OR_NULL, None),
        category=_field(data, "category", _TEXT, "HUBSPOT_DEFINED"),
        type_id=_field(data, "type_id", (int, type(None)), None),
        label=_field(data, "label", _TEXT_OR_NULL, None),
    )


def _applied_from_json(data: Any) -> AppliedAssociation:
    return AppliedAssociation(
        to_type=_field(data, "to_type", _TEXT),
        to_id=_field(data, "to_id", _TEXT),
        category=_field(data, "category", _TEXT),
        type_id=_field(data, "type_id", (int,)),
        to_key=_field(data, "to_key", _TEXT_OR_NULL, None),
        label=_field(data, "label", _TEXT_OR_NULL, None),
    )


def _list(data: Any, name: str) -> list[Any]:
    value: list[Any] = _field(data, name, (list,), [])
    return value


def _change_from_json(item: Any) -> Change:
    action = _field(item, "action", _TEXT)
    if action not in ACTIONS:
        raise PlanFileError(
            f"unknown action {action!r} (a plan holds only {', '.join(ACTIONS)})"
        )
    object_type = _field(item, "type", _TEXT)
    key = _field(item, "key", _TEXT)
    address = _field(item, "address", _TEXT, f"{object_type}/{key}")
    if not object_type or not key or address != f"{object_type}/{key}":
        raise PlanFileError(f"address {address!r} does not match type {object_type!r} and key {key!r}")
    cal = _field(item, "calendar", (dict, type(None)), None)
    src = _field(item, "source", (dict, type(None)), None)
    pins = _field(item, "pins", (dict,), {})
    calendar = None
    if cal is not None:
        reminders = _list(cal, "reminders")
        for r in reminders:
            if type(r) is not list or len(r) != 2 or type(r[0]) is not int or type(r[1]) is not str:
                raise PlanFileError("calendar.reminders holds something other than [number, unit]")
        calendar = CalendarSpec(
            organizer=_field(cal, "organizer", _TEXT),
            timezone=_field(cal, "timezone", _TEXT),
            reminders=tuple(Reminder(n, u) for n, u in reminders),
            include_description=_field(cal, "include_description", (bool,)),
        )
    return Change(
        action=action,
        object_type=object_type,
        key=key,
        reason=_field(item, "reason", _TEXT, ""),
        hubspot_id=_field(item, "id", _TEXT_OR_NULL, None),
        after=_texts(_field(item, "after", (dict,), {}), "after"),
        diffs=_diffs(_field(item, "changes", (list,), []), "changes", "before", "after"),
        drift=_diffs(_field(item, "drift", (list,), []), "drift", "applied", "portal"),
        add_associations=tuple(_ref_from_json(a) for a in _list(item, "add_associations")),
        remove_associations=tuple(
            _applied_from_json(a) for a in _list(item, "remove_associations")
        ),
        associations=tuple(_ref_from_json(a) for a in _list(item, "associations")),
        pins={
            str(k): Pin(expr=_field(v, "expr", _TEXT), value=_field(v, "value", _TEXT))
            for k, v in pins.items()
        },
        calendar=calendar,
        source=Source(
            _field(src, "file", _TEXT), _field(src, "line", (int,)), _field(src, "column", (int,))
        ) if src is not None else None,
        moved_from=_moved_from(item, action, object_type),
    )


def _moved_from(item: Any, action: str, object_type: str) -> str | None:
    """A move's old address: required, and of the same type (a record keeps its type)."""
    moved_from: str | None = _field(item, "from", _TEXT_OR_NULL, None)
    if action != "move":
        if moved_from is not None:
            raise PlanFileError(f"a {action} names 'from' (only a move does)")
        return None
    if moved_from is None or moved_from.partition("/")[0] != object_type or not (
        moved_from.partition("/")[2]
    ):
        raise PlanFileError(f"a move needs 'from', an address of type {object_type!r}")
    return moved_from


def plan_from_json(data: Any) -> Plan:
    """Read a saved plan (``plan --out``); ``PlanFileError`` if it is not one, is damaged,
    or was edited after it was saved (its digest does not match)."""
    if type(data) is not dict:
        raise PlanFileError(f"a saved plan is a JSON object, this is {_kind(data)}")
    version = data.get("format_version")
    if version != PLAN_FORMAT_VERSION or type(version) is not int:
        raise PlanFileError(f"unsupported plan format {version!r} (this reconciler reads {PLAN_FORMAT_VERSION})")
    digest = data.get("digest")
    if type(digest) is not str:
        raise PlanFileError("it has no digest (saved by an older reconciler, or not by `plan --out`)")
    if digest != plan_digest(data):
        raise PlanFileError("it was changed after it was saved (its digest does not match)")
    state = _field(data, "state", (dict,))
    changes = [_change_from_json(item) for item in _field(data, "changes", (list,))]
    unchanged = _field(data, "unchanged", (list,), [])
    if not all(type(a) is str for a in unchanged):
        raise PlanFileError("'unchanged' holds something other than addresses")
    duplicates = _field(data, "duplicates", (dict,), {})
    if not all(type(ids) is list and all(type(i) is str for i in ids)
               for ids in duplicates.values()):
        raise PlanFileError("'duplicates' holds something other than lists of ids")
    return Plan(
        changes=tuple(changes),
        unchanged=tuple(unchanged),
        target=_field(data, "target", _TEXT_OR_NULL, None),
        project=_field(data, "project", _TEXT_OR_NULL, None),
        state_lineage=_field(state, "lineage", _TEXT),
        state_serial=_field(state, "serial", (int,)),
        refreshed=_field(data, "refreshed", (bool,), False),
        reference_time=_field(data, "reference_time", _TEXT, ""),
        owners=_texts(_field(data, "owners", (dict,), {}), "owners"),
        timezone=_field(data, "timezone", _TEXT, "UTC"),
        duplicates={str(a): tuple(ids) for a, ids in duplicates.items()},
    )
