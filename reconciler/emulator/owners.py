"""``GET /crm/v3/owners`` (and ``/crm/owners/2026-03``): the portal's owners, filterable by
email.

Deactivated users are owners with ``archived``; the owners guide: "add the ``archived``
parameter with the value ``true``. For archived users, there is still an ``id`` value, but
the ``userId`` value will be ``null``. The user ID is instead stored in the
``userIdIncludingInactive`` field." ``archived=true`` lists only them, as the spec words it
("only results that have been archived"), and the guide's example of one has no ``teams``.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.config import Owner
from reconciler.emulator.http_types import ApiRequest, Reply, not_found
from reconciler.emulator.portal import Portal

_SINCE = "2024-01-01T00:00:00.000Z"


def owner_shape(owner: Owner) -> dict[str, Any]:
    """HubSpot's ``PublicOwner``."""
    shaped: dict[str, Any] = {
        "id": owner.id,
        "email": owner.email,
        "firstName": owner.first_name,
        "lastName": owner.last_name,
        "userId": None if owner.archived else owner.user_id,
        "userIdIncludingInactive": owner.user_id,
        "type": "PERSON",
        "createdAt": _SINCE,
        "updatedAt": _SINCE,
        "archived": owner.archived,
    }
    if not owner.archived:
        shaped["teams"] = []
    return shaped


def list_owners(portal: Portal, request: ApiRequest) -> Reply:
    email = request.query_one("email")
    archived = request.query_bool("archived")
    found = [
        owner for owner in portal.config.owners
        if owner.archived == archived and (email is None or owner.email.lower() == email.lower())
    ]
    return Reply(200, {"results": [owner_shape(owner) for owner in found]})


def get_owner(portal: Portal, request: ApiRequest) -> Reply:
    wanted = request.params["ownerId"]
    by_user = (request.query_one("idProperty") or "id") == "userId"
    archived = request.query_bool("archived")
    for owner in portal.config.owners:
        if owner.archived != archived:
            continue
        key = (None if owner.archived else str(owner.user_id)) if by_user else owner.id
        if key == wanted:
            return Reply(200, owner_shape(owner))
    raise not_found()
