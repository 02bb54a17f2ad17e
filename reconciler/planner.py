"""The planner: desired state + state file (+ what the portal holds) → a ``Plan``. No I/O.

Rules:
- in the spec, not in state → create;
- in both → update of only the properties whose value differs, and of the associations
  added or removed; with a refresh the portal's values are the baseline, so edits made in
  the HubSpot UI to a managed property show as drift and are put back;
- in state, not in the spec → archive;
- a property the spec does not set is never touched, whatever the portal holds;
- relative times pinned in the state at first creation are reused while their expression
  is unchanged, so a re-plan a day later does not move every meeting.

Creates and updates are ordered so that what a record points at is written first
(companies, contacts, deals, other types, then meetings and calls); archives run in the
reverse order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from reconciler.model import (
    AssociationRef,
    CalendarSpec,
    DesiredRecord,
    DesiredState,
    Reminder,
    Source,
    write_rank,
)
from reconciler.state import AppliedAssociation, Pin, RecordState, State

PLAN_FORMAT_VERSION = 1

Action = Literal["create", "update", "archive"]


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

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> dict[str, int]:
        return {
            "create": self.count("create"),
            "update": self.count("update"),
            "archive": self.count("archive"),
            "unchanged": len(self.unchanged),
        }


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
    changes: list[Change] = []
    unchanged: list[str] = []

    for address, record in desired.records.items():
        recorded = state.records.get(address)
        snapshot = remote.get(address) if (remote is not None and recorded) else None
        gone_from_portal = remote is not None and recorded is not None and snapshot is None
        after, pins = _desired_properties(record, recorded, owner_ids)

        if recorded is None or gone_from_portal:
            pins = _fresh_pins(record, after)
            changes.append(
                Change(
                    action="create",
                    object_type=record.object_type,
                    key=record.key,
                    reason="deleted in the portal" if gone_from_portal else "new in the spec",
                    after=after,
                    diffs=tuple(PropertyDiff(k, None, v) for k, v in sorted(after.items())),
                    add_associations=record.associations,
                    associations=record.associations,
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
        added, removed = _association_changes(record.associations, recorded.associations)
        if not diffs and not added and not removed and pins == dict(recorded.pinned):
            unchanged.append(address)
            continue
        reason = "changed in the portal" if drift and not _spec_changed(after, recorded) else (
            "changed in the spec"
        )
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
                associations=record.associations,
                pins=pins,
                source=record.source,
            )
        )

    for address, recorded in state.records.items():
        if address in desired.records:
            continue
        object_type, _, key = address.partition("/")
        gone = remote is not None and remote.get(address) is None
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
    if change.action == "archive":  # archive activities before what they hang on
        return (1, -rank, change.object_type, change.key)
    return (0, rank, change.object_type, change.key)


def _desired_properties(
    record: DesiredRecord, recorded: RecordState | None, owner_ids: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, Pin]]:
    """The record's properties with pinned relative times and resolved owner applied."""
    after = dict(record.properties)
    pins: dict[str, Pin] = {}
    for name, expr in record.relative_times.items():
        pinned = recorded.pinned.get(name) if recorded else None
        if pinned is not None and pinned.expr == expr:
            after[name] = pinned.value
            pins[name] = pinned
        elif name in after:
            pins[name] = Pin(expr=expr, value=after[name])
    if "hs_meeting_start_time" in record.relative_times and "hs_timestamp" in after:
        # hs_timestamp mirrors the start time; keep them pinned together.
        after["hs_timestamp"] = after["hs_meeting_start_time"]
    if record.owner_email is not None:
        owner_id = owner_ids.get(record.owner_email.lower())
        after["hubspot_owner_id"] = owner_id if owner_id else f"<owner {record.owner_email}>"
    return after, pins


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
    return (applied.to_type, target, applied.category, str(applied.type_id))


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


def plan_to_json(plan_: Plan) -> dict[str, Any]:
    """The documented, versioned JSON form (``plan --json`` and ``plan --out``)."""
    return {
        "format_version": plan_.format_version,
        "target": plan_.target,
        "project": plan_.project,
        "refreshed": plan_.refreshed,
        "reference_time": plan_.reference_time,
        "state": {"lineage": plan_.state_lineage, "serial": plan_.state_serial},
        "summary": plan_.summary(),
        "changes": [_change_to_json(c) for c in plan_.changes],
        "unchanged": list(plan_.unchanged),
    }


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
    if change.action != "archive":
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


def _ref_from_json(data: Mapping[str, Any]) -> AssociationRef:
    return AssociationRef(
        to_type=data["to_type"],
        to_key=data.get("to_key"),
        to_id=data.get("to_id"),
        category=data.get("category", "HUBSPOT_DEFINED"),
        type_id=data.get("type_id"),
        label=data.get("label"),
    )


def plan_from_json(data: Mapping[str, Any]) -> Plan:
    """Read a saved plan (``plan --out``); raises KeyError/TypeError/ValueError if malformed."""
    if data.get("format_version") != PLAN_FORMAT_VERSION:
        raise ValueError(f"unsupported plan format {data.get('format_version')!r}")
    changes = []
    for item in data["changes"]:
        cal = item.get("calendar")
        src = item.get("source")
        changes.append(
            Change(
                action=item["action"],
                object_type=item["type"],
                key=item["key"],
                reason=item.get("reason", ""),
                hubspot_id=item.get("id"),
                after=dict(item.get("after", {})),
                diffs=tuple(
                    PropertyDiff(d["property"], d.get("before"), d.get("after"))
                    for d in item.get("changes", [])
                ),
                drift=tuple(
                    PropertyDiff(d["property"], d.get("applied"), d.get("portal"))
                    for d in item.get("drift", [])
                ),
                add_associations=tuple(_ref_from_json(a) for a in item.get("add_associations", [])),
                remove_associations=tuple(
                    AppliedAssociation.from_json(a) for a in item.get("remove_associations", [])
                ),
                associations=tuple(_ref_from_json(a) for a in item.get("associations", [])),
                pins={
                    k: Pin(expr=v["expr"], value=v["value"])
                    for k, v in item.get("pins", {}).items()
                },
                calendar=CalendarSpec(
                    organizer=str(cal["organizer"]),
                    timezone=str(cal["timezone"]),
                    reminders=tuple(Reminder(int(n), str(u)) for n, u in cal["reminders"]),
                    include_description=bool(cal["include_description"]),
                )
                if cal
                else None,
                source=Source(src["file"], int(src["line"]), int(src["column"])) if src else None,
            )
        )
    return Plan(
        changes=tuple(changes),
        unchanged=tuple(data.get("unchanged", [])),
        target=data.get("target"),
        project=data.get("project"),
        state_lineage=data["state"]["lineage"],
        state_serial=int(data["state"]["serial"]),
        refreshed=bool(data.get("refreshed")),
        reference_time=str(data.get("reference_time", "")),
    )
