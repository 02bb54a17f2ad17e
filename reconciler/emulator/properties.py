"""Properties (``/crm/v3/properties/{type}`` and ``/crm/properties/2026-03/{type}``): the
catalogue, and custom properties made, changed and archived through the API.

HubSpot's rules, where it documents them (design-20 §1.1–1.3, design-19 row 8):

- ``PropertyCreate`` needs ``name, label, type, fieldType, groupName``; ``type`` is one of
  seven (``phone_number`` included) and ``fieldType`` must suit it (the properties guide's
  table: ``number`` takes ``number`` or ``calculation_equation``, never ``checkbox``);
  ``groupName`` must be a group of the type (``property_groups``).
- An enumeration needs options; option values and labels are unique within a property;
  at most 5,000 options, each (label, value and description) at most 3,000 characters; on
  2026-03 every option needs ``displayOrder`` (its ``OptionInput`` requires it).
- ``hasUniqueValue`` only for contacts, companies, deals, tickets and custom objects (not
  meetings or calls: facts §7), at most ten per type; "once set, this can't be changed":
  ``PropertyUpdate`` has no ``hasUniqueValue`` (nor ``name``), so PATCH ignores both, as
  HubSpot ignores fields a request schema does not define.
- HubSpot-defined properties have a read-only definition and cannot be archived (their
  ``modificationMetadata``): PATCH and DELETE answer 400.
- DELETE moves a property to the recycling bin: it is listed with ``archived=true`` only,
  record writes refuse it (``PROPERTY_DOESNT_EXIST``) and stored values are kept; creating
  the name again restores it (observed by a third party). ``batch/archive`` answers 204
  whatever the names were.

Unverified (HubSpot documents no body for these; category 400 ``VALIDATION_ERROR``, the
messages ours): a fieldType that does not suit the type, an unknown group, duplicate
options, a PATCH or DELETE of a built-in; the restore on re-create; ``batch/create`` and
``batch/read`` answering 207 for the inputs they refuse.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.emulator.catalogue import UNIQUE_VALUE_TYPES, PropertyDef
from reconciler.emulator.http_types import (
    ApiRequest,
    HubSpotError,
    Reply,
    as_int,
    error_body,
    not_found,
    validation_error,
)
from reconciler.emulator.objects import batch_inputs
from reconciler.emulator.portal import Portal

#: type → the fieldTypes that suit it (properties guide; ``phone_number``: ours).
FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "bool": ("booleancheckbox", "calculation_equation"),
    "enumeration": ("booleancheckbox", "checkbox", "radio", "select", "calculation_equation"),
    "date": ("date",),
    "datetime": ("date",),
    "string": ("file", "text", "textarea", "calculation_equation", "html", "phonenumber"),
    "number": ("number", "calculation_equation"),
    "phone_number": ("phonenumber",),
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 100
MAX_UNIQUE = 10
MAX_OPTIONS = 5000
MAX_OPTION_CHARS = 3000
#: A new bool property's options when none are given (HubSpot's checkbox pair) [I].
BOOL_OPTIONS = (
    {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
    {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
)
#: Fields of ``PropertyCreate`` kept as given (the rest are checked and shaped below).
_PASSED_THROUGH = (
    "calculationFormula", "currencyPropertyName", "dataSensitivity", "externalOptions",
    "numberDisplayHint", "referencedObjectType", "showCurrencySymbol", "textDisplayHint",
)
#: ``PropertyUpdate``'s fields: anything else in a PATCH body is ignored.
UPDATE_FIELDS = (
    "calculationFormula", "currencyPropertyName", "description", "displayOrder", "fieldType",
    "formField", "groupName", "hidden", "label", "numberDisplayHint", "options",
    "showCurrencySymbol", "textDisplayHint", "type",
)


def _dated(request: ApiRequest) -> bool:
    return "/2026-03/" in request.path


def _object(body: Any, what: str = "a property definition") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation_error(f"Invalid input JSON: expected {what}")
    return body


def _options(raw: Any, *, dated: bool) -> list[dict[str, Any]]:
    """A request's options, checked and in the stored ``Option`` shape."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation_error("options must be an array of options")
    if len(raw) > MAX_OPTIONS:
        raise validation_error(f"A property can have at most {MAX_OPTIONS} options")
    options: list[dict[str, Any]] = []
    values: set[str] = set()
    labels: set[str] = set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("label") or item.get("value") in (None, ""):
            raise validation_error(f"options[{index}] needs a label and a value")
        value, label = str(item["value"]), str(item["label"])
        description = str(item.get("description") or "")
        if dated and as_int(item.get("displayOrder")) is None:
            raise validation_error(f"options[{index}] ({value}) needs a displayOrder")
        if value in values:
            raise validation_error(f"Option values must be unique: {value!r} is there twice")
        if label in labels:
            raise validation_error(f"Option labels must be unique: {label!r} is there twice")
        if len(value) + len(label) + len(description) > MAX_OPTION_CHARS:
            raise validation_error(
                f"Option {value!r} is longer than {MAX_OPTION_CHARS} characters "
                "(label, value and description together)"
            )
        values.add(value)
        labels.add(label)
        order = as_int(item.get("displayOrder"))
        option: dict[str, Any] = {
            "label": label, "value": value, "displayOrder": index if order is None else order,
            "hidden": bool(item.get("hidden", False)),
        }
        if description:
            option["description"] = description
        options.append(option)
    return options


def check_definition(portal: Portal, object_type: str, definition: dict[str, Any]) -> None:
    """What a whole definition must satisfy, made or changed: a known type with a fieldType
    that suits it, an existing group, options for an enumeration."""
    kind, field_type = definition.get("type"), definition.get("fieldType")
    name = definition["name"]
    if kind not in FIELD_TYPES:
        raise validation_error(
            f"Invalid property type {kind!r}; use one of: {', '.join(sorted(FIELD_TYPES))}"
        )
    if field_type not in FIELD_TYPES[str(kind)]:
        raise validation_error(
            f"{field_type!r} is not a valid fieldType for property {name} of type {kind}; "
            f"use one of: {', '.join(FIELD_TYPES[str(kind)])}"
        )
    if field_type == "calculation_equation" and not definition.get("calculationFormula"):
        raise validation_error(f"Property {name}: calculation_equation needs a calculationFormula")
    group = portal.groups_of(object_type).get(str(definition.get("groupName")))
    if group is None or group["archived"]:
        raise validation_error(
            f"Property group {definition.get('groupName')!r} does not exist for {object_type}"
        )
    if kind == "enumeration" and not definition.get("options"):
        raise validation_error(f"Enumeration property {name} needs options")


def _check_unique(portal: Portal, object_type: str) -> None:
    custom = portal.config.custom_object_types
    if object_type not in UNIQUE_VALUE_TYPES and object_type not in custom:
        raise validation_error(
            f"hasUniqueValue is not supported for {object_type}: unique value properties "
            "exist only for contacts, companies, deals, tickets and custom objects"
        )
    uniques = [p for p in portal.properties_of(object_type).values()
               if p.has_unique_value and p.custom]
    if len(uniques) >= MAX_UNIQUE:
        raise validation_error(
            f"You can have up to {MAX_UNIQUE} unique value properties per object"
        )


def create_one(portal: Portal, object_type: str, raw: Any, *, dated: bool) -> PropertyDef:
    """Check one ``PropertyCreate`` and make (or restore) the property; raises HubSpotError."""
    body = _object(raw)
    required = ("name", "label", "type", "fieldType", "groupName")
    missing = [key for key in required if not body.get(key)]
    if missing:
        raise validation_error(f"Missing required field(s): {', '.join(missing)}")
    name = str(body["name"])
    if not _NAME.match(name) or len(name) > MAX_NAME:
        raise validation_error(
            f"Property name {name!r} must start with a letter, use lowercase letters, digits "
            f"and _, and have at most {MAX_NAME} characters"
        )
    options = _options(body.get("options"), dated=dated)
    if body.get("type") == "bool" and not options:
        options = [dict(option) for option in BOOL_OPTIONS]
    with portal.store.lock:
        if name in portal.properties_of(object_type):
            raise HubSpotError(
                409,
                error_body("OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists."),
            )
        if body.get("hasUniqueValue"):
            _check_unique(portal, object_type)
        now = portal.now_iso()
        order = as_int(body.get("displayOrder"))
        archived = portal.archived_properties(object_type).get(name)
        definition: dict[str, Any] = {
            "name": name, "label": str(body["label"]), "type": body["type"],
            "fieldType": body["fieldType"], "groupName": str(body["groupName"]),
            "description": str(body.get("description") or ""), "options": options,
            "displayOrder": -1 if order is None else order,
            "hasUniqueValue": bool(body.get("hasUniqueValue", False)),
            "hidden": bool(body.get("hidden", False)),
            "formField": bool(body.get("formField", False)),
            "calculated": body["fieldType"] == "calculation_equation",
            "externalOptions": False,
            **{key: body[key] for key in _PASSED_THROUGH if key in body},
            "createdAt": (archived.definition or {}).get("createdAt", now) if archived else now,
            "updatedAt": now,
            "archived": False,
        }
        check_definition(portal, object_type, definition)
        return portal.put_custom_property(object_type, definition)


def _custom(portal: Portal, object_type: str, name: str, doing: str) -> dict[str, Any]:
    """The stored definition of a live custom property; 404 if none, 400 for a built-in."""
    prop = portal.properties_of(object_type).get(name)
    if prop is None:
        raise not_found(f"Unable to find property {name}")
    if prop.definition is None:
        raise validation_error(
            f"{name} is a HubSpot-defined property: its definition is read-only and it "
            f"cannot be {doing}"
        )
    return dict(prop.definition)


def _archive(portal: Portal, object_type: str, definition: dict[str, Any]) -> None:
    now = portal.now_iso()
    portal.put_custom_property(
        object_type, {**definition, "archived": True, "archivedAt": now, "updatedAt": now}
    )


# ---- routes ---------------------------------------------------------------------------


def list_properties(portal: Portal, request: ApiRequest) -> Reply:
    """Live properties; with ``archived=true`` only the archived ones (the spec's wording)."""
    object_type = portal.resolve_type(request.params["objectType"])
    if request.query_bool("archived"):
        props = portal.archived_properties(object_type).values()
    else:
        props = portal.properties_of(object_type).values()
    return Reply(200, {"results": [prop.to_api() for prop in props]})


def get_property(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    name = request.params["propertyName"]
    if request.query_bool("archived"):
        prop = portal.archived_properties(object_type).get(name)
    else:
        prop = portal.properties_of(object_type).get(name)
    if prop is None:
        raise not_found(f"Unable to find property {name}")
    return Reply(200, prop.to_api())


def create_property(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    prop = create_one(portal, object_type, request.body, dated=_dated(request))
    return Reply(201, prop.to_api())


def update_property(portal: Portal, request: ApiRequest) -> Reply:
    """PATCH: the fields sent replace the stored ones (``options`` replaces the whole list)."""
    object_type = portal.resolve_type(request.params["objectType"])
    body = _object(request.body, "a property update")
    with portal.store.lock:
        definition = _custom(portal, object_type, request.params["propertyName"], "changed")
        changes = {key: body[key] for key in UPDATE_FIELDS if key in body}
        if "options" in changes:
            changes["options"] = _options(changes["options"], dated=_dated(request))
        if "fieldType" in changes:
            changes["calculated"] = changes["fieldType"] == "calculation_equation"
        definition.update(changes)
        check_definition(portal, object_type, definition)
        definition["updatedAt"] = portal.now_iso()
        prop = portal.put_custom_property(object_type, definition)
    return Reply(200, prop.to_api())


def archive_property(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    with portal.store.lock:
        _archive(portal, object_type,
                 _custom(portal, object_type, request.params["propertyName"], "archived"))
    return Reply(204)


def _batch_reply(
    portal: Portal, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok: int,
    started: str,
) -> Reply:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                            "completedAt": portal.now_iso()}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return Reply(207, body)
    return Reply(ok, body)


def batch_create(portal: Portal, request: ApiRequest) -> Reply:
    """Each input made or refused on its own: the refused come back in ``errors`` (207)."""
    object_type = portal.resolve_type(request.params["objectType"])
    started = portal.now_iso()
    results, errors = [], []
    for raw in batch_inputs(request):
        try:
            results.append(create_one(portal, object_type, raw, dated=_dated(request)).to_api())
        except HubSpotError as refused:
            errors.append({**refused.body, "context": {"name": [str(raw.get("name"))]}})
    return _batch_reply(portal, results, errors, 201, started)


def batch_read(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    started = portal.now_iso()
    body = _object(request.body, "a batch of property names")
    found = (portal.archived_properties(object_type) if body.get("archived")
             else portal.properties_of(object_type))
    names = [str(item.get("name")) for item in batch_inputs(request)]
    results = [found[name].to_api() for name in dict.fromkeys(names) if name in found]
    missing = [name for name in names if name not in found]
    errors = [error_body("OBJECT_NOT_FOUND", f"Unable to find property {name}",
                         context={"name": [name]}) for name in missing]
    return _batch_reply(portal, results, errors, 200, started)


def batch_archive(portal: Portal, request: ApiRequest) -> Reply:
    """204 "regardless of the initial state (active, already archived, non-existent)" (spec);
    HubSpot-defined properties stay as they are."""
    object_type = portal.resolve_type(request.params["objectType"])
    names = [str(item.get("name")) for item in batch_inputs(request)]
    with portal.store.lock:
        for name in dict.fromkeys(names):
            prop = portal.properties_of(object_type).get(name)
            if prop is not None and prop.definition is not None:
                _archive(portal, object_type, dict(prop.definition))
    return Reply(204)
