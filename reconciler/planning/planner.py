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
  is unchanged, so a re-plan a day later does not move every meeting;
- a pin whose definition changed while the value it gives did not (one option of a
  ``random_choice`` renamed: the records that drew another keep their value) → repin:
  the state records the new pin, nothing is sent.

Creates and updates are ordered so that what a record points at is written first
(companies, contacts, deals, other types, then meetings and calls); archives run in the
reverse order.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.model import DesiredState, write_rank
from reconciler.planning.changes import Change, Plan, PropertyDiff, RemoteSnapshot
from reconciler.planning.comparing import (
    association_changes,
    removed_in_portal,
    same_value,
    spec_changed,
)
from reconciler.planning.ownership import (
    not_provably_ours,
    remark_changes,
    unless_unproven,
    unproven_release,
)
from reconciler.planning.pins import (
    desired_properties,
    fresh_pins,
    picked_associations,
    repin_change,
    same_pins,
)
from reconciler.planning.refactors import refactor_changes, refactored
from reconciler.state.model import State


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
        changes = [unless_unproven(c, state, remote, project_id) for c in changes]
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
        after, pins = desired_properties(record, recorded, owner_ids)
        associations, picks = picked_associations(record, recorded, desired.records)

        if recorded is None or gone_from_portal:
            pins = {**fresh_pins(record, after), **picks}
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
        added, removed = association_changes(associations, recorded.associations)
        restored = removed_in_portal(associations, recorded.associations, snapshot)
        added += restored
        if not diffs and not added and not removed:
            if same_pins(pins, recorded, record):
                unchanged.append(address)
            else:  # a pin's definition changed, not the value it gives: the state only
                changes.append(repin_change(record, recorded, after, pins, associations))
            continue
        reason = "changed in the portal" if (
            (drift or restored) and not spec_changed(after, recorded)
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
    changes.extend(c for c in remark_changes(desired, state, remote) if c.address not in moved)
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


def _change_order(change: Change) -> tuple[int, int, str, str]:
    rank = write_rank(change.object_type)
    if change.action in ("move", "release"):  # first: the rest is planned on their result
        return (-1, rank, change.object_type, change.key)
    if change.action == "archive":  # archive activities before what they hang on
        return (1, -rank, change.object_type, change.key)
    return (0, rank, change.object_type, change.key)
