"""Associations v4 (and 2026-03): batch create/read/archive, labels, per-record calls.

Every association is stored in both directions with the inverse type id (facts §6),
so reading from either side sees it. The type ids of a pair (``association_types``):
HubSpot's unlabeled default and, with companies, the Primary types; and the portal's
USER_DEFINED labels, which ``POST .../labels`` makes with portal-assigned type ids, as
HubSpot assigns them, in both directions (a label on A→B also exists on B→A, KB-LABELS;
``inverseLabel`` names the other side, else it carries the same label). PUT renames a
label (204), DELETE removes it in both directions and from every association of it (204);
HubSpot-defined types cannot be changed or deleted ("Default association types, including
the Primary company label, cannot be deleted", associations-schema guide). At most
``LABEL_LIMIT`` labels per pair ("up to 50 labels per object pair", the later copy of the
KB article; an older one says 10). Unverified: the bodies of these refusals (an internal
name taken 409 ``CONFLICT``, the limit 400, an unknown type id 404), and that deleting a
label removes it from the associations that carry it.
"""

from __future__ import annotations

from typing import Any

from reconciler.associations import DEFAULT_ASSOCIATION_TYPE_IDS
from reconciler.emulator import association_types
from reconciler.emulator.http_types import (
    ApiRequest,
    HubSpotError,
    Reply,
    as_int,
    error_body,
    validation_error,
)
from reconciler.emulator.objects import batch_inputs
from reconciler.emulator.portal import Portal
from reconciler.emulator.writes import association_pair, invalid_objects, parse_id

_FIRST_LABEL_TYPE_ID = 1000
LABEL_LIMIT = 50


def _pair(portal: Portal, request: ApiRequest) -> tuple[str, str]:
    return (
        portal.resolve_type(request.params["fromObjectType"]),
        portal.resolve_type(request.params["toObjectType"]),
    )


def _valid_type(portal: Portal, from_type: str, to_type: str, category: str, type_id: Any) -> bool:
    number = as_int(type_id)
    return number is not None and portal.association_target(from_type, category, number) == to_type


def _id_of(value: Any) -> int | None:
    """``{"id": "123"}`` → 123; anything else (not an object, no numeric id) → None."""
    return parse_id(value.get("id")) if isinstance(value, dict) else None


def _existing(portal: Portal, object_type: str, ids: set[int]) -> set[int]:
    found = portal.store.get_records(object_type, ids)
    return {i for i, record in found.items() if not record.archived}


def _write(
    portal: Portal, from_type: str, to_type: str, pairs: list[tuple[int, int, str, int]]
) -> None:
    rows = []
    for from_id, to_id, category, type_id in pairs:
        rows.append((from_type, from_id, to_type, to_id, category, type_id))
        inverse = portal.inverse_type(from_type, to_type, category, type_id)
        if inverse is not None:
            rows.append((to_type, to_id, from_type, from_id, category, inverse))
    with portal.store.transaction() as conn:
        portal.store.add_associations(conn, rows)


def _spec(
    portal: Portal, from_type: str, to_type: str, category: str, type_id: int
) -> dict[str, Any]:
    return {"category": category, "typeId": type_id,
            "label": portal.label_of(from_type, to_type, category, type_id)}


def _typed_pairs(request: ApiRequest) -> list[tuple[int, int, str, Any]]:
    """The (from id, to id, category, type id) of every ``{from, to, types}`` input."""
    pairs: list[tuple[int, int, str, Any]] = []
    for item in batch_inputs(request):
        from_id = _id_of(item.get("from"))
        to_id = _id_of(item.get("to"))
        types = item.get("types")
        if from_id is None or to_id is None or not isinstance(types, list) or not types:
            raise validation_error("Each input needs from.id, to.id and at least one type")
        for spec in types:
            if not isinstance(spec, dict):
                raise validation_error(
                    "Each association type needs associationCategory and associationTypeId"
                )
            pairs.append((from_id, to_id, str(spec.get("associationCategory", "")),
                          spec.get("associationTypeId")))
    return pairs


def _pair_error(message: str, context: dict[str, list[str]]) -> dict[str, Any]:
    return {"status": "error", "category": "VALIDATION_ERROR", "message": message,
            "context": context}


def batch_create(portal: Portal, request: ApiRequest) -> Reply:
    """Create each valid pair; a pair with a type id that does not go from this type to that
    one, or with a record that does not exist, comes back in ``errors`` (207), as HubSpot's
    batch endpoints report partial failure; the others are written (201 when none fail)."""
    from_type, to_type = _pair(portal, request)
    started = portal.now_iso()
    typed = _typed_pairs(request)
    existing_from = _existing(portal, from_type, {p[0] for p in typed})
    existing_to = _existing(portal, to_type, {p[1] for p in typed})
    pairs: list[tuple[int, int, str, int]] = []
    errors: list[dict[str, Any]] = []
    for from_id, to_id, category, raw_type_id in typed:
        ids = {"fromObjectId": [str(from_id)], "toObjectId": [str(to_id)]}
        type_id = as_int(raw_type_id)
        if type_id is None or not _valid_type(portal, from_type, to_type, category, type_id):
            errors.append(_pair_error(
                f"{category} association type id {raw_type_id} is not valid "
                f"from {from_type} to {to_type}",
                {**ids, "associationTypeId": [str(raw_type_id)]},
            ))
        elif from_id not in existing_from or to_id not in existing_to:
            missing = [f"{from_type} {from_id}"] if from_id not in existing_from else []
            missing += [f"{to_type} {to_id}"] if to_id not in existing_to else []
            errors.append(_pair_error(f"No such record: {', '.join(missing)}", ids))
        else:
            pairs.append((from_id, to_id, category, type_id))
    if pairs:
        _write(portal, from_type, to_type, pairs)
    grouped: dict[tuple[int, int], list[tuple[str, int]]] = {}
    for from_id, to_id, category, type_id in pairs:
        grouped.setdefault((from_id, to_id), []).append((category, type_id))
    results = [
        {
            "fromObjectTypeId": portal.object_type_id(from_type),
            "fromObjectId": str(from_id),
            "toObjectTypeId": portal.object_type_id(to_type),
            "toObjectId": str(to_id),
            "labels": [
                label for c, t in types if (label := portal.label_of(from_type, to_type, c, t))
            ],
        }
        for (from_id, to_id), types in grouped.items()
    ]
    body: dict[str, Any] = {"status": "COMPLETE", "results": portal.shuffled(results),
                            "startedAt": started, "completedAt": portal.now_iso()}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return Reply(207, body)
    return Reply(201, body)


def batch_read(portal: Portal, request: ApiRequest) -> Reply:
    from_type, to_type = _pair(portal, request)
    started = portal.now_iso()
    inputs = batch_inputs(request, limit=1000)
    ids = [i for i in (parse_id(item.get("id")) for item in inputs) if i is not None]
    rows = portal.store.associations_of(from_type, ids, to_type)
    by_from: dict[int, dict[int, list[dict[str, Any]]]] = {}
    for _f, from_id, _t, to_id, category, type_id in rows:
        by_from.setdefault(from_id, {}).setdefault(to_id, []).append(
            _spec(portal, from_type, to_type, category, type_id)
        )
    results = [
        {
            "from": {"id": str(from_id)},
            "to": [
                {"toObjectId": str(to_id), "associationTypes": specs}
                for to_id, specs in targets.items()
            ],
        }
        for from_id, targets in by_from.items()
    ]
    missing = [str(i) for i in ids if i not in by_from]
    body: dict[str, Any] = {"status": "COMPLETE", "results": portal.shuffled(results),
                            "startedAt": started, "completedAt": portal.now_iso()}
    if missing:
        body["numErrors"] = len(missing)
        body["errors"] = [
            {"status": "error", "category": "OBJECT_NOT_FOUND",
             "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
             "message": f"No {to_type} is associated with {from_type} {i}.",
             "context": {"fromObjectId": [i]}}
            for i in missing
        ]
        return Reply(207, body)
    return Reply(200, body)


def batch_archive(portal: Portal, request: ApiRequest) -> Reply:
    """Remove every association between each from and its listed to's (both directions)."""
    from_type, to_type = _pair(portal, request)
    started = portal.now_iso()
    inputs = batch_inputs(request)
    pairs = []
    for item in inputs:
        from_id = _id_of(item.get("from"))
        targets = item.get("to") or []
        if from_id is None or not isinstance(targets, list):
            raise validation_error("Each input needs from.id and a to array")
        for target in targets:
            to_id = parse_id(target.get("id")) if isinstance(target, dict) else None
            if to_id is not None:
                pairs.append((from_type, from_id, to_type, to_id))
    with portal.store.transaction() as conn:
        portal.store.remove_associations(conn, pairs)
    if "/2026-03/" in request.path:  # the date-versioned API answers with a batch body
        return Reply(200, {"status": "COMPLETE", "results": [], "startedAt": started,
                           "completedAt": portal.now_iso()})
    return Reply(204)


def batch_archive_labels(portal: Portal, request: ApiRequest) -> Reply:
    """Remove only the listed association types between each pair (and their inverses)."""
    from_type, to_type = _pair(portal, request)
    started = portal.now_iso()
    rows = []
    for from_id, to_id, category, raw_type_id in _typed_pairs(request):
        type_id = as_int(raw_type_id)
        if type_id is None:
            raise validation_error(f"associationTypeId {raw_type_id!r} is not an integer")
        rows.append((from_type, from_id, to_type, to_id, category, type_id))
        inverse = portal.inverse_type(from_type, to_type, category, type_id)
        if inverse is not None:
            rows.append((to_type, to_id, from_type, from_id, category, inverse))
    with portal.store.transaction() as conn:
        portal.store.remove_association_types(conn, rows)
    if "/2026-03/" in request.path:
        return Reply(200, {"status": "COMPLETE", "results": [], "startedAt": started,
                           "completedAt": portal.now_iso()})
    return Reply(204)


def _labels_for(portal: Portal, from_type: str, to_type: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [
        {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label}
        for type_id, label in association_types.hubspot_defined(from_type, to_type)
    ]
    for source, target, type_id, label, _name in portal.store.labels():
        if (source, target) == (from_type, to_type):
            results.append({"category": "USER_DEFINED", "typeId": type_id, "label": label})
    return results


def list_labels(portal: Portal, request: ApiRequest) -> Reply:
    from_type, to_type = _pair(portal, request)
    return Reply(200, {"results": _labels_for(portal, from_type, to_type)})


def create_label(portal: Portal, request: ApiRequest) -> Reply:
    """Create a USER_DEFINED label with fresh type ids: one for each direction (a label not
    paired on a pair of one type is one type id, its own inverse)."""
    from_type, to_type = _pair(portal, request)
    body = request.body
    if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
        raise validation_error("name and label are required")
    name = str(body["name"])
    label, inverse_label = str(body["label"]), body.get("inverseLabel")
    with portal.store.lock:
        on_pair = {n for s, t, _i, _l, n in portal.store.labels() if (s, t) == (from_type, to_type)}
        if name in on_pair:
            raise HubSpotError(
                409, error_body("CONFLICT", f"An association label named {name} already exists")
            )
        if len(on_pair) >= LABEL_LIMIT:
            raise validation_error(
                f"{from_type} to {to_type} already has {LABEL_LIMIT} association labels, "
                "the most a pair of object types can have"
            )
        next_id = max(portal.store.max_label_type_id() + 1, _FIRST_LABEL_TYPE_ID)
        rows: list[tuple[str, str, int, str | None, str]] = [
            (from_type, to_type, next_id, label, name)
        ]
        if from_type != to_type or inverse_label:
            rows.append((to_type, from_type, next_id + 1, str(inverse_label or label), name))
        portal.store.add_labels(rows)
    results = [{"category": "USER_DEFINED", "typeId": next_id, "label": label}]
    if inverse_label:
        results.append(
            {"category": "USER_DEFINED", "typeId": next_id + 1, "label": str(inverse_label)}
        )
    return Reply(200, {"results": results})


def _user_defined(
    portal: Portal, from_type: str, to_type: str, raw_type_id: Any
) -> tuple[int, str | None, int | None]:
    """(type id, its label, its inverse's type id) of a USER_DEFINED label of the pair; a
    HubSpot-defined type is a 400, anything else a 404."""
    type_id = as_int(raw_type_id)
    if type_id is None:
        raise validation_error(f"associationTypeId {raw_type_id!r} is not an integer")
    if any(type_id == known for known, _l in association_types.hubspot_defined(from_type, to_type)):
        raise validation_error(
            f"{type_id} is a HubSpot-defined association type: it cannot be changed or deleted"
        )
    labels = portal.store.labels()
    label = association_types.label(labels, from_type, to_type, "USER_DEFINED", type_id)
    if association_types.target(labels, from_type, "USER_DEFINED", type_id) != to_type:
        raise HubSpotError(404, error_body(
            "OBJECT_NOT_FOUND", f"No association label {type_id} from {from_type} to {to_type}"
        ))
    inverse = association_types.inverse(labels, from_type, to_type, "USER_DEFINED", type_id)
    return type_id, label, inverse


def update_label(portal: Portal, request: ApiRequest) -> Reply:
    """PUT ``{associationTypeId, label, inverseLabel?}``: rename a label (and its inverse;
    the inverse of a label not paired follows it)."""
    from_type, to_type = _pair(portal, request)
    body = request.body
    if not isinstance(body, dict) or not body.get("label"):
        raise validation_error("associationTypeId and label are required")
    with portal.store.lock:
        type_id, old, inverse = _user_defined(
            portal, from_type, to_type, body.get("associationTypeId")
        )
        portal.store.relabel(from_type, to_type, type_id, str(body["label"]))
        if inverse is not None and inverse != type_id:
            inverse_now = association_types.label(
                portal.store.labels(), to_type, from_type, "USER_DEFINED", inverse
            )
            new_inverse = body.get("inverseLabel") or (
                body["label"] if inverse_now == old else None
            )
            if new_inverse:
                portal.store.relabel(to_type, from_type, inverse, str(new_inverse))
    return Reply(204)


def delete_label(portal: Portal, request: ApiRequest) -> Reply:
    """Remove a label in both directions, and that type from every association."""
    from_type, to_type = _pair(portal, request)
    with portal.store.lock:
        type_id, _label, inverse = _user_defined(
            portal, from_type, to_type, request.params["associationTypeId"]
        )
        types = [(from_type, to_type, type_id)]
        if inverse is not None and inverse != type_id:
            types.append((to_type, from_type, inverse))
        portal.store.delete_labels(types)
    return Reply(204)


def list_for_record(portal: Portal, request: ApiRequest) -> Reply:
    from_type, to_type = _pair(portal, request)
    from_id = int(request.params["fromObjectId"])
    rows = portal.store.associations_of(from_type, [from_id], to_type)
    grouped: dict[int, list[dict[str, Any]]] = {}
    for _f, _fid, _t, to_id, category, type_id in rows:
        grouped.setdefault(to_id, []).append(_spec(portal, from_type, to_type, category, type_id))
    return Reply(200, {"results": [{"toObjectId": str(to_id), "associationTypes": specs}
                                   for to_id, specs in grouped.items()]})


def _require(portal: Portal, object_type: str, record_id: int) -> None:
    if not _existing(portal, object_type, {record_id}):
        raise HubSpotError(
            404, error_body("OBJECT_NOT_FOUND", f"No {object_type} with id {record_id}")
        )


def put_default(portal: Portal, request: ApiRequest) -> Reply:
    from_type, to_type = _pair(portal, request)
    from_id, to_id = int(request.params["fromObjectId"]), int(request.params["toObjectId"])
    type_id = DEFAULT_ASSOCIATION_TYPE_IDS.get((from_type, to_type))
    if type_id is None:
        raise validation_error(f"No default association from {from_type} to {to_type}")
    _require(portal, from_type, from_id)
    _require(portal, to_type, to_id)
    _write(portal, from_type, to_type, [(from_id, to_id, "HUBSPOT_DEFINED", type_id)])
    return Reply(200, {"status": "COMPLETE", "results": [{
        "from": {"id": str(from_id)}, "to": {"id": str(to_id)},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
    }], "startedAt": portal.now_iso(), "completedAt": portal.now_iso()})


def put_labelled(portal: Portal, request: ApiRequest) -> Reply:
    from_type, to_type = _pair(portal, request)
    from_id, to_id = int(request.params["fromObjectId"]), int(request.params["toObjectId"])
    specs = request.body if isinstance(request.body, list) else None
    if not specs:
        raise validation_error("Expected an array of association types")
    pairs = []
    for spec in specs:
        if not isinstance(spec, dict):
            raise validation_error("Expected an array of association types")
        category = str(spec.get("associationCategory", ""))
        raw_type_id = spec.get("associationTypeId")
        type_id = as_int(raw_type_id)
        pair = association_pair(portal, category, type_id) if type_id is not None else None
        if type_id is None or pair is None:
            raise validation_error(f"{category} association type id {raw_type_id} is not valid")
        if pair != (from_type, to_type):  # a type of another pair: HubSpot's observed answer
            raise HubSpotError(400, invalid_objects(
                [(pair[0], from_id)] if pair[0] != from_type else [(pair[1], to_id)]
            ))
        pairs.append((from_id, to_id, category, type_id))
    _require(portal, from_type, from_id)
    _require(portal, to_type, to_id)
    _write(portal, from_type, to_type, pairs)
    return Reply(201, {
        "fromObjectTypeId": portal.object_type_id(from_type), "fromObjectId": str(from_id),
        "toObjectTypeId": portal.object_type_id(to_type), "toObjectId": str(to_id),
        "labels": [lbl for _f, _t, c, t in pairs
                   if (lbl := portal.label_of(from_type, to_type, c, t))],
    })


def delete_pair(portal: Portal, request: ApiRequest) -> Reply:
    from_type, to_type = _pair(portal, request)
    from_id, to_id = int(request.params["fromObjectId"]), int(request.params["toObjectId"])
    with portal.store.transaction() as conn:
        portal.store.remove_associations(conn, [(from_type, from_id, to_type, to_id)])
    return Reply(204)
