"""``GET|POST /crm/v3/properties/{type}``: the catalogue, and custom properties.

``hasUniqueValue`` is accepted where HubSpot documents unique properties (contacts,
companies, deals, tickets, custom objects) and refused for meetings and calls, where no
source says it exists (facts §7). At most ten unique properties per type (PROPS guide).
"""

from __future__ import annotations

import re

from reconciler.emulator.catalogue import UNIQUE_VALUE_TYPES
from reconciler.emulator.http_types import (
    ApiRequest,
    HubSpotError,
    Reply,
    error_body,
    not_found,
    validation_error,
)
from reconciler.emulator.portal import Portal

_TYPES = {"string", "number", "datetime", "date", "bool", "enumeration"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_UNIQUE = 10
#: PropertyCreate's fields (properties specs): anything else in the body is ignored.
PROPERTY_CREATE_FIELDS = frozenset({
    "calculationFormula", "currencyPropertyName", "dataSensitivity", "description", "displayOrder",
    "externalOptions", "fieldType", "formField", "groupName", "hasUniqueValue", "hidden", "label",
    "name", "numberDisplayHint", "options", "referencedObjectType", "showCurrencySymbol",
    "textDisplayHint", "type",
})


def list_properties(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    props = portal.properties_of(object_type).values()
    return Reply(200, {"results": [prop.to_api() for prop in props]})


def get_property(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    prop = portal.properties_of(object_type).get(request.params["propertyName"])
    if prop is None:
        raise not_found(f"Unable to find property {request.params['propertyName']}")
    return Reply(200, prop.to_api())


def create_property(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    body = request.body
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected a property definition")
    missing = [
        key for key in ("name", "label", "type", "fieldType", "groupName") if not body.get(key)
    ]
    if missing:
        raise validation_error(f"Missing required field(s): {', '.join(missing)}")
    name = str(body["name"])
    if not _NAME.match(name):
        raise validation_error(
            f"Property name {name!r} must start with a letter and use lowercase letters, "
            "digits and _"
        )
    if body["type"] not in _TYPES:
        raise validation_error(f"Invalid property type {body['type']!r}; one of {sorted(_TYPES)}")
    if body["type"] == "enumeration" and not body.get("options"):
        raise validation_error(f"Enumeration property {name} needs options")
    with portal.store.lock:
        if name in portal.properties_of(object_type):
            raise HubSpotError(
                409,
                error_body("OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists."),
            )
        if body.get("hasUniqueValue"):
            if (
                object_type not in UNIQUE_VALUE_TYPES
                and object_type not in portal.config.custom_object_types
            ):
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
        prop = portal.add_custom_property(
            object_type,
            {key: value for key, value in body.items() if key in PROPERTY_CREATE_FIELDS},
        )
    return Reply(201, prop.to_api())
