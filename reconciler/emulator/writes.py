"""Writing records as HubSpot does: every input checked, then one transaction.

Creates, updates and archives, for the batch and single-record endpoints (``objects``),
upserts and the scheduler's meetings (``scheduler``). Each input is checked the way HubSpot
checks it (property values, required properties, unique values, inline associations to
records that exist); facts §3: with ``objectWriteTraceId`` on the inputs, good inputs are
written and bad ones come back each naming its trace id, without, one bad input fails the
whole batch and nothing is written.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator.catalogue import ValueProblem
from reconciler.emulator.emails import derive_from_headers
from reconciler.emulator.http_types import HubSpotError, as_int, error_body, validation_error
from reconciler.emulator.portal import ENGAGEMENT_TYPES, SINGULAR, Portal
from reconciler.emulator.store import StoredRecord


@dataclass
class WriteInput:
    """One batch input after checking: what to write, or why not."""

    index: int
    trace_id: str | None
    properties: dict[str, str] = field(default_factory=dict)
    # (to_type, to_id, category, type_id)
    associations: list[tuple[str, int, str, int]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    status: int = 400
    record: StoredRecord | None = None
    new: bool = True


def trace_id_of(item: dict[str, Any]) -> str | None:
    value = item.get("objectWriteTraceId")
    return str(value) if value is not None else None


def parse_id(raw: Any) -> int | None:
    text = str(raw).strip()
    return int(text) if text.isdigit() else None


def check_associations(
    portal: Portal, object_type: str, raw: Any
) -> tuple[list[tuple[str, int, str, int]], dict[str, Any] | None]:
    """Validate inline ``associations``: a known type id for this type, an existing target."""
    if raw is None:
        return [], None
    if not isinstance(raw, list):
        return [], error_body("VALIDATION_ERROR", "associations must be an array")
    wanted: list[tuple[str, int, str, int]] = []
    for item in raw:
        to = item.get("to") if isinstance(item, dict) else None
        types = item.get("types") if isinstance(item, dict) else None
        to_id = parse_id(to.get("id")) if isinstance(to, dict) else None
        if to_id is None or not isinstance(types, list) or not types:
            return [], error_body(
                "VALIDATION_ERROR", "Each association needs to.id and at least one type"
            )
        for spec in types:
            category = str(spec.get("associationCategory", "")) if isinstance(spec, dict) else ""
            raw_type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
            type_id = as_int(raw_type_id)
            target = (
                portal.association_target(object_type, category, type_id)
                if type_id is not None
                else None
            )
            if target is None or type_id is None:
                return [], error_body(
                    "VALIDATION_ERROR",
                    f"{category} association type id {raw_type_id} is not valid for {object_type}",
                    errors=[{"message": "invalid association type",
                             "code": "INVALID_ASSOCIATION_TYPE",
                             "context": {"associationTypeId": [str(raw_type_id)]}}],
                )
            wanted.append((target, to_id, category, type_id))
    by_type: dict[str, set[int]] = {}
    for target, to_id, _category, _type_id in wanted:
        by_type.setdefault(target, set()).add(to_id)
    invalid: list[tuple[str, int]] = []
    for target, ids in by_type.items():
        found = portal.store.get_records(target, ids)
        invalid += [(target, i) for i in sorted(ids) if i not in found or found[i].archived]
    if invalid:
        return [], invalid_objects(invalid)
    return wanted, None


def invalid_objects(invalid: list[tuple[str, int]]) -> dict[str, Any]:
    """HubSpot's answer to associations whose records are not what the type id says
    (observed, hubspot-api-nodejs#646): HubSpot takes the object types from the type id, so
    a meeting→contact type on a deal names the deal's id as a contact that is not valid."""
    names = [SINGULAR.get(object_type, object_type).upper() for object_type, _id in invalid]
    return error_body(
        "VALIDATION_ERROR", "One or more associations are invalid",
        context={
            "INVALID_OBJECT_IDS": [f"{name}={i} is not valid"
                                   for name, (_t, i) in zip(names, invalid, strict=True)],
            "objectId": [str(i) for _t, i in invalid],
            "objectType": names,
        },
    )


def association_pair(portal: Portal, category: str, type_id: int) -> tuple[str, str] | None:
    """The (from, to) object types an association type id is defined for, whatever the path."""
    for object_type in portal.object_types:
        target = portal.association_target(object_type, category, type_id)
        if target is not None:
            return object_type, target
    return None


#: Required on create: ``hs_timestamp`` on every activity (the meetings, calls, notes,
#: tasks and emails guides: "Required"; for a task it is the due date); a ticket's stage,
#: its status (hubspot-api-php#139; the ERRORS page's example ticket has nothing else).
REQUIRED_ON_CREATE = {
    **{name: ("hs_timestamp",) for name in ENGAGEMENT_TYPES},
    "tickets": ("hs_pipeline_stage",),
}
_ENGAGEMENT_NAMES = {name: SINGULAR[name].upper() for name in ENGAGEMENT_TYPES}


def missing_required(object_type: str, props: dict[str, str]) -> dict[str, Any] | None:
    """HubSpot's answer to a create without a required property, or None. A meeting's
    ``hs_timestamp`` defaults to ``hs_meeting_start_time`` (MEET-GUIDE), filled in here.

    The body is the one observed for tasks ("Error creating TASK. Some required properties
    were not set.", context.properties); for the other activities it is unverified. A
    ticket's is HubSpot's own (hubspot-api-php#139, HubSpot/hubspot-php#380)."""
    if (
        object_type == "meetings"
        and "hs_timestamp" not in props
        and props.get("hs_meeting_start_time")
    ):
        props["hs_timestamp"] = props["hs_meeting_start_time"]
    missing = [name for name in REQUIRED_ON_CREATE.get(object_type, ()) if not props.get(name)]
    if not missing:
        return None
    if object_type == "tickets":
        return error_body(
            "VALIDATION_ERROR",
            "Cannot create object with type: TICKET. The following required properties were "
            f"missing: [{', '.join(missing)}]",
        )
    return error_body(
        "VALIDATION_ERROR",
        f"Error creating {_ENGAGEMENT_NAMES.get(object_type, object_type.upper())}. "
        "Some required properties were not set.",
        context={"properties": missing},
    )


def check_uniques(
    portal: Portal, object_type: str, inputs: list[WriteInput], unique_names: list[str]
) -> None:
    """Refuse a unique value that another record (or an earlier input) already holds."""
    claimed: dict[tuple[str, str], int] = {}
    for item in inputs:
        if item.error is not None:
            continue
        own_id = item.record.id if item.record is not None and not item.new else None
        for name in unique_names:
            value = item.properties.get(name)
            if not value:
                continue
            holder = portal.store.unique_owner(object_type, name, value)
            earlier = claimed.get((name, value))
            if (holder is not None and holder != own_id) or earlier is not None:
                existing = holder if holder is not None else earlier
                item.status = 409
                item.error = _conflict(object_type, name, value, existing)
                break
            claimed[(name, value)] = -1 if own_id is None else own_id


def _conflict(object_type: str, name: str, value: str, existing: int | None) -> dict[str, Any]:
    """HubSpot's 409 for a contact's email is observed, with no context (facts §14;
    hubspot-api-nodejs#545, hubspot-api-python#51); for other unique values it is ours."""
    if (object_type, name) == ("contacts", "email"):
        return error_body("CONFLICT", f"Contact already exists. Existing ID: {existing}")
    return error_body(
        "CONFLICT",
        f"A {SINGULAR.get(object_type, object_type)} with {name}={value} already exists. "
        f"Existing ID: {existing}",
        context={"propertyName": [name], "existingId": [str(existing)]},
    )


def unique_value(object_type: str, name: str, value: str) -> str:
    """How a unique value is held and looked up: a contact's email in lower case, as HubSpot
    keeps it (facts §14), so ``Jane@Example.com`` and ``jane@example.com`` are one contact."""
    return value.lower() if (object_type, name) == ("contacts", "email") else value


def fail_or_partial(items: list[WriteInput]) -> list[WriteInput]:
    """Whole-batch failure unless every failing input carries a trace id (facts §3)."""
    bad = [item for item in items if item.error is not None]
    if bad and any(item.trace_id is None for item in bad):
        raise HubSpotError(bad[0].status, bad[0].error or {})
    return bad


def write_associations(
    portal: Portal, conn: sqlite3.Connection, object_type: str, record_id: int,
    wanted: list[tuple[str, int, str, int]],
) -> None:
    rows = []
    for target, to_id, category, type_id in wanted:
        rows.append((object_type, record_id, target, to_id, category, type_id))
        inverse = portal.inverse_type(object_type, target, category, type_id)
        if inverse is not None:
            rows.append((target, to_id, object_type, record_id, category, inverse))
    portal.store.add_associations(conn, rows)


def _hubspot_fills(object_type: str, props: dict[str, str]) -> list[ValueProblem]:
    """What HubSpot makes of written values: a contact's email in lower case, an email's
    sender and recipients from its headers."""
    if object_type == "contacts" and props.get("email"):
        props["email"] = unique_value(object_type, "email", props["email"])
    if object_type != "emails":
        return []
    problem = derive_from_headers(props)
    return [problem] if problem is not None else []


def create_records(
    portal: Portal, object_type: str, raw_inputs: list[dict[str, Any]]
) -> tuple[list[WriteInput], list[WriteInput]]:
    """Check and write creates in one transaction; returns (written, failed)."""
    unique_names = portal.unique_properties(object_type)
    with portal.store.transaction() as conn:
        items: list[WriteInput] = []
        for index, raw in enumerate(raw_inputs):
            item = WriteInput(index, trace_id_of(raw))
            props, problems = portal.check_properties(
                object_type, raw.get("properties"), creating=True
            )
            problems += _hubspot_fills(object_type, props)
            if problems:
                item.error = portal.property_error(problems)
            elif (missing := missing_required(object_type, props)) is not None:
                item.error = missing
            else:
                item.properties = props
                item.associations, item.error = check_associations(
                    portal, object_type, raw.get("associations")
                )
            items.append(item)
        check_uniques(portal, object_type, items, unique_names)
        bad = fail_or_partial(items)
        good = [item for item in items if item.error is None]
        now = portal.now_iso()
        ids = portal.store.allocate_ids(conn, len(good))
        for item, record_id in zip(good, ids, strict=True):
            item.record = portal.new_record(object_type, record_id, item.properties, now)
        portal.store.insert_records(conn, [item.record for item in good if item.record])
        for item in good:
            assert item.record is not None
            portal.store.set_uniques(
                conn, object_type,
                [(n, item.record.properties[n], item.record.id) for n in unique_names
                 if n in item.record.properties],
            )
            if item.associations:
                write_associations(portal, conn, object_type, item.record.id, item.associations)
    return good, bad


def non_unique(portal: Portal, object_type: str, id_property: str) -> HubSpotError:
    """HubSpot's answer to an update/upsert by a property without unique values (facts §7,
    observed with ``hs_object_id`` on companies)."""
    return validation_error(
        f"Unable to perform update/upsert by non-unique {portal.object_type_id(object_type)} "
        f"property {id_property} in portal ID {portal.config.portal_id}"
    )


def lookup_ids(
    portal: Portal, object_type: str, raw_ids: list[Any], id_property: str | None
) -> dict[str, int | None]:
    """Input ids (as given) → record ids, through ``idProperty`` when one is named."""
    mapping: dict[str, int | None] = {}
    if id_property and id_property != "hs_object_id":
        if id_property not in portal.unique_properties(object_type):
            raise non_unique(portal, object_type, id_property)
        for raw in raw_ids:
            mapping[str(raw)] = portal.store.unique_owner(
                object_type, id_property, unique_value(object_type, id_property, str(raw))
            )
        return mapping
    for raw in raw_ids:
        mapping[str(raw)] = parse_id(raw)
    return mapping


def update_records(
    portal: Portal, object_type: str, raw_inputs: list[dict[str, Any]], id_property: str | None
) -> tuple[list[WriteInput], list[WriteInput]]:
    unique_names = portal.unique_properties(object_type)
    with portal.store.transaction() as conn:
        mapping = lookup_ids(portal, object_type, [r.get("id") for r in raw_inputs], id_property)
        found = portal.store.get_records(
            object_type, [i for i in mapping.values() if i is not None]
        )
        items: list[WriteInput] = []
        for index, raw in enumerate(raw_inputs):
            item = WriteInput(index, trace_id_of(raw), new=False)
            record_id = mapping.get(str(raw.get("id")))
            record = found.get(record_id) if record_id is not None else None
            if record is None or record.archived:
                item.status = 404
                item.error = error_body(
                    "OBJECT_NOT_FOUND", f"No {object_type} with id {raw.get('id')}",
                    context={"ids": [str(raw.get("id"))]},
                )
            else:
                props, problems = portal.check_properties(
                    object_type, raw.get("properties"), creating=False, current=record.properties
                )
                problems += _hubspot_fills(object_type, props)
                item.record = record
                item.properties = props
                if problems:
                    item.error = portal.property_error(problems)
            items.append(item)
        check_uniques(portal, object_type, items, unique_names)
        bad = fail_or_partial(items)
        good = [item for item in items if item.error is None]
        now = portal.now_iso()
        for item in good:
            assert item.record is not None
            portal.apply_update(item.record, item.properties, now)
            portal.store.set_uniques(
                conn, object_type,
                [(n, item.properties[n], item.record.id)
                 for n in unique_names if n in item.properties],
            )
        portal.store.update_records(conn, [item.record for item in good if item.record])
    return good, bad


def archive_ids(portal: Portal, object_type: str, ids: list[int]) -> None:
    now = portal.now_iso()
    with portal.store.transaction() as conn:
        found = portal.store.get_records(object_type, ids)
        records = [r for r in found.values() if not r.archived]
        for record in records:
            record.archived = True
            record.archived_at = now
            record.updated_at = now
        portal.store.update_records(conn, records)
        portal.store.release_uniques(conn, object_type, [r.id for r in records])
