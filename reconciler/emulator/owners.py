"""``GET /crm/v3/owners`` (and ``/crm/owners/2026-03``): the portal's owners, filterable by
email."""

from __future__ import annotations

from typing import Any

from reconciler.emulator.config import Owner
from reconciler.emulator.http_types import ApiRequest, Reply, not_found
from reconciler.emulator.portal import Portal

_SINCE = "2024-01-01T00:00:00.000Z"


def owner_shape(owner: Owner) -> dict[str, Any]:
    """HubSpot's ``PublicOwner``."""
    return {
        "id": owner.id,
        "email": owner.email,
        "firstName": owner.first_name,
        "lastName": owner.last_name,
        "userId": owner.user_id,
        "type": "PERSON",
        "createdAt": _SINCE,
        "updatedAt": _SINCE,
        "archived": False,
        "teams": [],
    }


def list_owners(portal: Portal, request: ApiRequest) -> Reply:
    email = request.query_one("email")
    if request.query_bool("archived"):
        return Reply(200, {"results": []})
    found = [o for o in portal.config.owners if email is None or o.email.lower() == email.lower()]
    return Reply(200, {"results": [owner_shape(owner) for owner in found]})


def get_owner(portal: Portal, request: ApiRequest) -> Reply:
    wanted = request.params["ownerId"]
    by_user = (request.query_one("idProperty") or "id") == "userId"
    for owner in portal.config.owners:
        if (str(owner.user_id) if by_user else owner.id) == wanted:
            return Reply(200, owner_shape(owner))
    raise not_found()
