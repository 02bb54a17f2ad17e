"""CRM object endpoints: single and batch create, read, update, archive and upsert.

Semantics follow facts §3: a batch is validated as a whole and written in one
transaction (``writes``). With ``objectWriteTraceId`` on inputs, good inputs are written
and bad ones come back in ``errors`` (207), each naming its trace id; without, one bad
input fails the whole batch and nothing is written. Results are shuffled (HubSpot
promises no order).

Fields HubSpot's request schemas do not define are ignored, as HubSpot ignores them: an
upsert input (``SimplePublicObjectBatchInputUpsert``: id, idProperty, objectWriteTraceId,
properties) that carries ``associations`` creates no association.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.http_types import (
    ApiRequest,
    Reply,
    error_body,
    object_not_found,
    validation_error,
)
from reconciler.emulator.portal import Portal
from reconciler.emulator.store import StoredRecord
from reconciler.emulator.writes import (
    WriteInput,
    archive_ids,
    create_records,
    lookup_ids,
    non_unique,
    parse_id,
    update_records,
)

BATCH_LIMIT = 100
HISTORY_BATCH_LIMIT = 50  # batch/read with propertiesWithHistory (facts §1, observed)
TOO_MANY_WITH_HISTORY = (
    "The maximum number of inputs supported in a batch request for property histories is 50"
)
TOO_MANY = (
    "The maximum number of inputs supported in a batch is 100. "
    "Please reduce the number of items and try again"
)



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


def _errors_of(bad: list[WriteInput]) -> list[dict[str, Any]]:
    errors = []
    for item in bad:
        entry = dict(item.error or {})
        entry["context"] = {**entry.get("context", {}), "objectWriteTraceId": [item.trace_id or ""]}
        errors.append(entry)
    return errors


def _batch_reply(
    portal: Portal, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok: int,
    started: str,
) -> Reply:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": portal.shuffled(results),
        "startedAt": started,
        "completedAt": portal.now_iso(),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return Reply(207, body)
    return Reply(ok, body)


def batch_create(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    started = portal.now_iso()
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


def batch_read(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    started = portal.now_iso()
    inputs = batch_inputs(request)
    body = request.body
    if body.get("propertiesWithHistory") and len(inputs) > HISTORY_BATCH_LIMIT:
        raise validation_error(TOO_MANY_WITH_HISTORY)
    archived = request.query_bool("archived")
    wanted = portal.read_properties(object_type, [str(p) for p in body.get("properties") or []])
    raw_ids = [item.get("id") for item in inputs]
    mapping = lookup_ids(portal, object_type, raw_ids, body.get("idProperty"))
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


def batch_update(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    started = portal.now_iso()
    inputs = batch_inputs(request)
    id_property = next((str(i["idProperty"]) for i in inputs if i.get("idProperty")), None)
    good, bad = update_records(portal, object_type, inputs, id_property)
    results = [portal.to_api(item.record, trace_id=item.trace_id) for item in good if item.record]
    return _batch_reply(portal, results, _errors_of(bad), 200, started)


def batch_upsert(portal: Portal, request: ApiRequest) -> Reply:
    """Create or update by a unique ``idProperty``; each result says whether it is ``new``."""
    object_type = portal.resolve_type(request.params["objectType"])
    started = portal.now_iso()
    inputs = [defined_fields(raw, UPSERT_FIELDS) for raw in batch_inputs(request)]
    id_property = next((str(i["idProperty"]) for i in inputs if i.get("idProperty")), None)
    if not id_property:
        raise validation_error("idProperty is required for upsert")
    if id_property == "hs_object_id":  # HubSpot: the record id is not a unique-value property
        raise non_unique(portal, object_type, id_property)
    with portal.store.lock:
        mapping = lookup_ids(portal, object_type, [i.get("id") for i in inputs], id_property)
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


def batch_archive(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    inputs = batch_inputs(request)
    ids = [i for i in (parse_id(item.get("id")) for item in inputs) if i is not None]
    archive_ids(portal, object_type, ids)
    return Reply(204)


def _one(portal: Portal, request: ApiRequest, archived: bool = False) -> StoredRecord:
    object_type = portal.resolve_type(request.params["objectType"])
    raw = request.params["objectId"]
    id_property = request.query_one("idProperty")
    record_id = lookup_ids(portal, object_type, [raw], id_property).get(raw)
    record = (
        portal.store.get_records(object_type, [record_id]).get(record_id) if record_id else None
    )
    if record is None or record.archived != archived:
        raise object_not_found(raw)
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
            {"id": str(to_id),
             "type": portal.v3_association_name(object_type, target, category, type_id)}
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
        portal, record.type,
        [{"id": str(record.id), "properties": request.body.get("properties")}], None,
    )
    assert good[0].record is not None
    return Reply(200, portal.to_api(good[0].record))


def delete_one(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    record_id = parse_id(request.params["objectId"])
    if record_id is not None:
        archive_ids(portal, object_type, [record_id])
    return Reply(204)


def list_records(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    limit = request.query_int("limit", 10, 1, 100)
    after = request.query_int("after", 0, 0, 2**63 - 1)  # our cursor is the last id seen
    records = [r for r in portal.store.list_records(object_type, request.query_bool("archived"))
               if r.id > after]
    wanted = portal.read_properties(object_type, request.query_list("properties"))
    page = records[:limit]
    body: dict[str, Any] = {"results": [portal.to_api(r, wanted) for r in page]}
    if len(records) > limit:
        body["paging"] = {"next": {"after": str(page[-1].id)}}
    return Reply(200, body)
