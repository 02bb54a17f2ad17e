"""Property groups (``/crm/v3/properties/{type}/groups`` and 2026-03): list, read, create,
rename or reorder, archive.

Each type has its built-in group (``schema_model.BUILTIN_GROUPS``), which cannot be changed
or archived [I]; groups made through the API can. ``PropertyGroupCreate`` needs ``name`` and
``label``; ``PropertyGroupUpdate`` has only ``label`` and ``displayOrder`` (the name is the
id). DELETE moves a group to the recycling bin; a name archived can be made again (observed
by a third party). A group that still holds live properties is not archived (400 [I]: the
body is ours, as are all this module's refusals).
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.emulator.http_types import (
    ApiRequest,
    HubSpotError,
    Reply,
    as_int,
    error_body,
    not_found,
    validation_error,
)
from reconciler.emulator.portal import Portal
from reconciler.emulator.schema_model import builtin_group

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _shape(group: dict[str, Any]) -> dict[str, Any]:
    """HubSpot's ``PropertyGroup``."""
    return {"name": group["name"], "label": group["label"],
            "displayOrder": group.get("displayOrder", -1), "archived": bool(group["archived"])}


def _live(portal: Portal, object_type: str, name: str) -> dict[str, Any]:
    group = portal.groups_of(object_type).get(name)
    if group is None or group["archived"]:
        raise not_found(f"Unable to find property group {name}")
    return dict(group)


def _custom(portal: Portal, object_type: str, name: str, doing: str) -> dict[str, Any]:
    group = _live(portal, object_type, name)
    if name == builtin_group(object_type)[0]:
        raise validation_error(f"{name} is a HubSpot-defined property group and cannot be {doing}")
    return group


def list_groups(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    groups = [g for g in portal.groups_of(object_type).values() if not g["archived"]]
    return Reply(200, {"results": [_shape(group) for group in groups]})


def get_group(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    return Reply(200, _shape(_live(portal, object_type, request.params["groupName"])))


def create_group(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    body = request.body
    if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
        raise validation_error("A property group needs a name and a label")
    name = str(body["name"])
    if not _NAME.match(name):
        raise validation_error(
            f"Property group name {name!r} must start with a letter and use lowercase "
            "letters, digits and _"
        )
    order = as_int(body.get("displayOrder"))
    with portal.store.lock:
        existing = portal.groups_of(object_type).get(name)
        if existing is not None and not existing["archived"]:
            raise HubSpotError(409, error_body(
                "OBJECT_ALREADY_EXISTS", f"A property group named '{name}' already exists."
            ))
        group = {"name": name, "label": str(body["label"]),
                 "displayOrder": -1 if order is None else order, "archived": False}
        portal.store.put_property_group(object_type, name, group)
    return Reply(201, _shape(group))


def update_group(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    body = request.body if isinstance(request.body, dict) else {}
    with portal.store.lock:
        group = _custom(portal, object_type, request.params["groupName"], "changed")
        if "label" in body:
            if not body["label"]:
                raise validation_error("A property group's label cannot be empty")
            group["label"] = str(body["label"])
        if "displayOrder" in body:
            order = as_int(body["displayOrder"])
            if order is None:
                raise validation_error("displayOrder must be an integer")
            group["displayOrder"] = order
        portal.store.put_property_group(object_type, group["name"], group)
    return Reply(200, _shape(group))


def archive_group(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    name = request.params["groupName"]
    with portal.store.lock:
        group = _custom(portal, object_type, name, "archived")
        members = sorted(p.name for p in portal.properties_of(object_type).values()
                         if p.group_name == name)
        if members:
            raise validation_error(
                f"Property group {name} still holds properties ({', '.join(members)}); "
                "move or archive them first"
            )
        portal.store.put_property_group(object_type, name, {**group, "archived": True})
    return Reply(204)
