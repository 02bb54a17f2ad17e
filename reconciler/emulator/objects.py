"""CRM object endpoints: single and batch create, read, update, archive and upsert.

Semantics follow facts §3: a batch is validated as a whole and written in one
transaction. With ``objectWriteTraceId`` on inputs, good inputs are written and bad ones
come back in ``errors`` (207), each naming its trace id; without, one bad input fails the
whole batch and nothing is written. Results are shuffled (HubSpot promises no order).

Fields HubSpot's request schemas do not define are ignored, as HubSpot ignores them: an
upsert input (``SimplePublicObjectBatchInputUpsert``: id, idProperty, objectWriteTraceId,
properties) that carries ``associations`` creates no association.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator.catalogue import ValueProblem
from reconciler.emulator.http_types import (
    ApiRequest,
    HubSpotError,
    Reply,
    as_int,
    error_body,
    not_found,
    validation_error,
)
from reconciler.emulator.portal import SINGULAR, Portal, now_iso
from reconciler.emulator.store import StoredRecord

BATCH_LIMIT = 100
HISTORY_BATCH_LIMIT = 50  # batch/read with propertiesWithHistory (facts §1, observed)
TOO_MANY_WITH_HISTORY = (
    "The maximum number of inputs supported in a batch request for property histories is 50"
)
TOO_MANY = (
    "The maximum number of inputs supported in a batch is 100. "
    "Please reduce the number of items and try again"
)


@dataclass
class _Input:
    """One batch input after checking: what to write, or why not."""

    index: int
    trace_id: str | None
    properties: dict[str, str] = field(default_factory=dict)
    associations: list[tuple[str, int, str, int]] = field(default_factory=list)  # to_type, to_id, cat, tid
    error: dict[str, Any] | None = None
    status: int = 400
    record: StoredRecord | None = None
    new: bool = True


def batch_inputs(request: ApiRequest, limit: int = BATCH_LIMIT) -> list[Any]:
    body = request.body
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input JSON: inputs is required and must be an array")
    inputs: list[Any] = body["inputs"]
    if len(inputs) > limit:
        raise validation_error(TOO_MANY)
    for item in inputs:
        if not isinstance(item, dict):
            raise validation_error("Invalid input JSON: every input must be an object")
    return inputs


#: The fields each input schema defines (objects specs); anything else is ignored.
CREATE_FIELDS = ("associations", "objectWriteTraceId", "properties")  # ...BatchInputForCreate
CREATE_ONE_FIELDS = ("associations", "properties")  # SimplePublicObjectInputForCreate
UPSERT_FIELDS = ("id", "idProperty", "objectWriteTraceId", "properties")  # ...BatchInputUpsert


def defined_fields(raw: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Only the fields a request schema defines: HubSpot acts on nothing else."""
    return {name: raw[name] for name in names if name in raw}


def _trace_id(item: dict[str, Any]) -> str | None:
    value = item.get("objectWriteTraceId")
    return str(value) if value is not None else None


def _parse_id(raw: Any) -> int | None:
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
        to_id = _parse_id(to.get("id")) if isinstance(to, dict) else None
        if to_id is None or not isinstance(types, list) or not types:
            return [], error_body(
                "VALIDATION_ERROR", "Each association needs to.id and at least one type"
            )
        for spec in types:
            category = str(spec.get("associationCategory", "")) if isinstance(spec, dict) else ""
            raw_type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
            type_id = as_int(raw_type_id)
            target = portal.association_target(object_type, category, type_id) if type_id is not None else None
            if target is None or type_id is None:
                return [], error_body(
                    "VALIDATION_ERROR",
                    f"{category} association type id {raw_type_id} is not valid for {object_type}",
                    errors=[{"message": "invalid association type", "code": "INVALID_ASSOCIATION_TYPE",
                             "context": {"associationTypeId": [str(raw_type_id)]}}],
                )
            wanted.append((target, to_id, category, type_id))
    by_type: dict[str, set[int]] = {}
    for target, to_id, _category, _type_id in wanted:
        by_type.setdefault(target, set()).add(to_id)
    for target, ids in by_type.items():
        found = portal.store.get_records(target, ids)
        missing = sorted(i for i in ids if i not in found or found[i].archived)
        if missing:
            listed = ", ".join(str(i) for i in missing)
            return [], error_body(
                "VALIDATION_ERROR",
                f"One or more associations are invalid: no {target} with id(s) {listed}",
                errors=[{"message": f"{target} {i} does not exist", "code": "INVALID_OBJECT_ID",
                         "context": {"id": [str(i)]}} for i in missing],
                context={"ids": [str(i) for i in missing]},
            )
    return wanted, None


#: Required on create (MEET-GUIDE, CALL-GUIDE: ``hs_timestamp`` "Required").
REQUIRED_ON_CREATE = {"meetings": ("hs_timestamp",), "calls": ("hs_timestamp",)}
_ENGAGEMENT_NAMES = {"meetings": "MEETING", "calls": "CALL"}


def _missing_required(object_type: str, props: dict[str, str]) -> dict[str, Any] | None:
    """HubSpot's answer to a create without a required property, or None. A meeting's
    ``hs_timestamp`` defaults to ``hs_meeting_start_time`` (MEET-GUIDE), filled in here.

    The body is the one observed for tasks ("Error creating TASK. Some required properties
    were not set.", context.properties); for meetings and calls it is unverified."""
    if object_type == "meetings" and "hs_timestamp" not in props and props.get("hs_meeting_start_time"):
        props["hs_timestamp"] = props["hs_meeting_start_time"]
    missing = [name for name in REQUIRED_ON_CREATE.get(object_type, ()) if not props.get(name)]
    if not missing:
        return None
    return error_body(
        "VALIDATION_ERROR",
        f"Error creating {_ENGAGEMENT_NAMES.get(object_type, object_type.upper())}. "
        "Some required properties were not set.",
        context={"properties": missing},
    )


def _check_uniques(
    portal: Portal, object_type: str, inputs: list[_Input], unique_names: list[str]
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
                item.error = error_body(
                    "CONFLICT",
                    f"A {SINGULAR.get(object_type, object_type)} with {name}={value} already "
                    f"exists. Existing ID: {existing}",
                    context={"propertyName": [name], "existingId": [str(existing)]},
                )
                break
            claimed[(name, value)] = -1 if own_id is None else own_id


def _fail_or_partial(items: list[_Input]) -> list[_Input]:
    """Whole-batch failure unless every failing input carries a trace id (facts §3)."""
    bad = [item for item in items if item.error is not None]
    if bad and any(item.trace_id is None for item in bad):
        raise HubSpotError(bad[0].status, bad[0].error or {})
    return bad


def _errors_of(bad: list[_Input]) -> list[dict[str, Any]]:
    errors = []
    for item in bad:
        entry = dict(item.error or {})
        entry["context"] = {**entry.get("context", {}), "objectWriteTraceId": [item.trace_id or ""]}
        errors.append(entry)
    return errors


def _batch_reply(
    portal: Portal, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok: int, started: str
) -> Reply:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": portal.shuffled(results),
        "startedAt": started,
        "completedAt": now_iso(),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return Reply(207, body)
    return Reply(ok, body)


def _write_associations(
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


def create_records(
    portal: Portal, object_type: str, raw_inputs: list[dict[str, Any]]
) -> tuple[list[_Input], list[_Input]]:
    """Check and write creates in one transaction; returns (written, failed)."""
    unique_names = portal.unique_properties(object_type)
    with portal.store.transaction() as conn:
        items: list[_Input] = []
        for index, raw in enumerate(raw_inputs):
            item = _Input(index, _trace_id(raw))
            props, problems = portal.check_properties(object_type, raw.get("properties"), creating=True)
            if problems:
                item.error = portal.property_error(problems)
            elif (missing := _missing_required(object_type, props)) is not None:
                item.error = missing
            else:
                item.properties = props
                item.associations, item.error = check_associations(
                    portal, object_type, raw.get("associations")
                )
            items.append(item)
        _check_uniques(portal, object_type, items, unique_names)
        bad = _fail_or_partial(items)
        good = [item for item in items if item.error is None]
        now = now_iso()
        ids = portal.store.allocate_ids(conn, len(good))
        for item, record_id in zip(good, ids):
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
                _write_associations(portal, conn, object_type, item.record.id, item.associations)
    return good, bad


def batch_create(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    started = now_iso()
    inputs = [defined_fields(raw, CREATE_FIELDS) for raw in batch_inputs(request)]
    good, bad = create_records(portal, object_type, inputs)
    results = [portal.to_api(item.record, trace_id=item.trace_id) for item in good if item.record]
    return _batch_reply(portal, results, _errors_of(bad), 201, started)


def create_one(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    if not isinstance(request.body, dict):
        raise validation_error("Invalid input JSON: expected an object with properties")
    body = defined_fields(request.body, CREATE_ONE_FIELDS)
    good, _bad = create_records(portal, object_type, [body])
    assert good[0].record is not None
    return Reply(201, portal.to_api(good[0].record))


def _visible(record: StoredRecord | None, archived: bool) -> bool:
    return record is not None and record.archived == archived


def _non_unique(portal: Portal, object_type: str, id_property: str) -> HubSpotError:
    """HubSpot's answer to an update/upsert by a property without unique values (facts §7,
    observed with ``hs_object_id`` on companies)."""
    return validation_error(
        f"Unable to perform update/upsert by non-unique {portal.object_type_id(object_type)} "
        f"property {id_property} in portal ID {portal.config.portal_id}"
    )


def _lookup_ids(
    portal: Portal, object_type: str, raw_ids: list[Any], id_property: str | None
) -> dict[str, int | None]:
    """Input ids (as given) → record ids, through ``idProperty`` when one is named."""
    mapping: dict[str, int | None] = {}
    if id_property and id_property != "hs_object_id":
        if id_property not in portal.unique_properties(object_type):
            raise _non_unique(portal, object_type, id_property)
        for raw in raw_ids:
            mapping[str(raw)] = portal.store.unique_owner(object_type, id_property, str(raw))
        return mapping
    for raw in raw_ids:
        mapping[str(raw)] = _parse_id(raw)
    return mapping


def batch_read(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    started = now_iso()
    inputs = batch_inputs(request)
    body = request.body
    if body.get("propertiesWithHistory") and len(inputs) > HISTORY_BATCH_LIMIT:
        raise validation_error(TOO_MANY_WITH_HISTORY)
    archived = request.query_bool("archived")
    wanted = portal.read_properties(object_type, [str(p) for p in body.get("properties") or []])
    raw_ids = [item.get("id") for item in inputs]
    mapping = _lookup_ids(portal, object_type, raw_ids, body.get("idProperty"))
    found = portal.store.get_records(object_type, [i for i in mapping.values() if i is not None])
    results, missing = [], []
    seen: set[int] = set()
    for raw in raw_ids:
        record_id = mapping.get(str(raw))
        record = found.get(record_id) if record_id is not None else None
        if record is None or not _visible(record, archived):
            missing.append(str(raw))
        elif record.id not in seen:
            seen.add(record.id)
            results.append(portal.to_api(record, wanted))
    errors = []
    if missing:
        errors.append(error_body(
            "OBJECT_NOT_FOUND",
            f"Could not get some {object_type} objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            context={"ids": missing},
        ))
    return _batch_reply(portal, results, errors, 200, started)


def update_records(
    portal: Portal, object_type: str, raw_inputs: list[dict[str, Any]], id_property: str | None
) -> tuple[list[_Input], list[_Input]]:
    unique_names = portal.unique_properties(object_type)
    with portal.store.transaction() as conn:
        mapping = _lookup_ids(portal, object_type, [r.get("id") for r in raw_inputs], id_property)
        found = portal.store.get_records(object_type, [i for i in mapping.values() if i is not None])
        items: list[_Input] = []
        for index, raw in enumerate(raw_inputs):
            item = _Input(index, _trace_id(raw), new=False)
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
                    object_type, raw.get("properties"), creating=False
                )
                item.record = record
                item.properties = props
                if problems:
                    item.error = portal.property_error(problems)
            items.append(item)
        _check_uniques(portal, object_type, items, unique_names)
        bad = _fail_or_partial(items)
        good = [item for item in items if item.error is None]
        now = now_iso()
        for item in good:
            assert item.record is not None
            portal.apply_update(item.record, item.properties, now)
            portal.store.set_uniques(
                conn, object_type,
                [(n, item.properties[n], item.record.id) for n in unique_names if n in item.properties],
            )
        portal.store.update_records(conn, [item.record for item in good if item.record])
    return good, bad


def batch_update(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    started = now_iso()
    inputs = batch_inputs(request)
    id_property = next((str(i["idProperty"]) for i in inputs if i.get("idProperty")), None)
    good, bad = update_records(portal, object_type, inputs, id_property)
    results = [portal.to_api(item.record, trace_id=item.trace_id) for item in good if item.record]
    return _batch_reply(portal, results, _errors_of(bad), 200, started)


def batch_upsert(portal: Portal, request: ApiRequest) -> Reply:
    """Create or update by a unique ``idProperty``; each result says whether it is ``new``."""
    object_type = portal.resolve_type(request.params["objectType"])
    started = now_iso()
    inputs = [defined_fields(raw, UPSERT_FIELDS) for raw in batch_inputs(request)]
    id_property = next((str(i["idProperty"]) for i in inputs if i.get("idProperty")), None)
    if not id_property:
        raise validation_error("idProperty is required for upsert")
    if id_property == "hs_object_id":  # HubSpot: the record id is not a unique-value property
        raise _non_unique(portal, object_type, id_property)
    with portal.store.lock:
        mapping = _lookup_ids(portal, object_type, [i.get("id") for i in inputs], id_property)
        to_update = [i for i in inputs if mapping.get(str(i.get("id"))) is not None]
        to_create = []
        for raw in inputs:
            if mapping.get(str(raw.get("id"))) is None:
                props = dict(raw.get("properties") or {})
                props[id_property] = raw.get("id")
                to_create.append({**raw, "properties": props})
        updated, bad_u = update_records(portal, object_type, to_update, id_property)
        created, bad_c = create_records(portal, object_type, to_create)
    results = []
    for item in [*updated, *created]:
        assert item.record is not None
        shaped = portal.to_api(item.record, trace_id=item.trace_id)
        shaped["new"] = item.new
        results.append(shaped)
    return _batch_reply(portal, results, _errors_of([*bad_u, *bad_c]), 200, started)


def archive_ids(portal: Portal, object_type: str, ids: list[int]) -> None:
    now = now_iso()
    with portal.store.transaction() as conn:
        found = portal.store.get_records(object_type, ids)
        records = [r for r in found.values() if not r.archived]
        for record in records:
            record.archived = True
            record.archived_at = now
            record.updated_at = now
        portal.store.update_records(conn, records)
        portal.store.release_uniques(conn, object_type, [r.id for r in records])


def batch_archive(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    inputs = batch_inputs(request)
    ids = [i for i in (_parse_id(item.get("id")) for item in inputs) if i is not None]
    archive_ids(portal, object_type, ids)
    return Reply(204)


def _one(portal: Portal, request: ApiRequest, archived: bool = False) -> StoredRecord:
    object_type = portal.resolve_type(request.params["objectType"])
    raw = request.params["objectId"]
    id_property = request.query_one("idProperty")
    record_id = _lookup_ids(portal, object_type, [raw], id_property).get(raw)
    record = portal.store.get_records(object_type, [record_id]).get(record_id) if record_id else None
    if record is None or record.archived != archived:
        raise not_found()
    return record


def associations_block(
    portal: Portal, object_type: str, record_id: int, to_types: list[str]
) -> dict[str, Any]:
    """The v3 ``associations`` of a read: ``{toType: {results: [{id, type}]}}``, one entry per
    association type (a pair with a label and the unlabeled type shows twice), named as v3
    names them (``contact_to_company_unlabeled``, ``meeting_event_to_contact``)."""
    block: dict[str, Any] = {}
    for raw in to_types:
        to_type = portal.resolve_type(raw)
        rows = portal.store.associations_of(object_type, [record_id], to_type)
        if not rows:
            continue
        results = [
            {"id": str(to_id), "type": portal.v3_association_name(object_type, target, category, type_id)}
            for _f, _fid, target, to_id, category, type_id in rows
        ]
        block[raw] = {"results": results}
    return block


def get_one(portal: Portal, request: ApiRequest) -> Reply:
    record = _one(portal, request, archived=request.query_bool("archived"))
    wanted = portal.read_properties(record.type, request.query_list("properties"))
    shaped = portal.to_api(record, wanted)
    to_types = request.query_list("associations")
    if to_types:
        block = associations_block(portal, record.type, record.id, to_types)
        if block:
            shaped["associations"] = block
    return Reply(200, shaped)


def patch_one(portal: Portal, request: ApiRequest) -> Reply:
    record = _one(portal, request)
    if not isinstance(request.body, dict):
        raise validation_error("Invalid input JSON: expected an object with properties")
    good, _bad = update_records(
        portal, record.type, [{"id": str(record.id), "properties": request.body.get("properties")}], None
    )
    assert good[0].record is not None
    return Reply(200, portal.to_api(good[0].record))


def delete_one(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    record_id = _parse_id(request.params["objectId"])
    if record_id is not None:
        archive_ids(portal, object_type, [record_id])
    return Reply(204)


def list_records(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    limit = request.query_int("limit", 10, 1, 100)
    after = request.query_int("after", 0, 0, 2**63 - 1)  # our cursor is the last id seen
    records = [r for r in portal.store.list_records(object_type, request.query_bool("archived")) if r.id > after]
    wanted = portal.read_properties(object_type, request.query_list("properties"))
    page = records[:limit]
    body: dict[str, Any] = {"results": [portal.to_api(r, wanted) for r in page]}
    if len(records) > limit:
        body["paging"] = {"next": {"after": str(page[-1].id)}}
    return Reply(200, body)


def problem_text(problems: list[ValueProblem]) -> str:
    return "; ".join(f"{p.name}: {p.message}" for p in problems)
