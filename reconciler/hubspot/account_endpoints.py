"""The portal's setup: property definitions, owners, the account's portal id, and what
``doctor`` asks of the account: the token's scopes and the daily API usage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.errors import ApiError
from reconciler.hubspot.endpoints import Endpoints
from reconciler.hubspot.records import (
    AnswerShapeError,
    Owner,
    PropertyDefinition,
    as_integer,
    as_object,
    next_after,
    owner_from_api,
    property_from_api,
    property_to_api,
    results_list,
)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What HubSpot says of a private app's token: its portal and granted scopes."""

    hub_id: int
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """The account's private-app API calls today against its daily limit."""

    limit: int
    used: int
    resets_at: str | None  # ISO time of the next reset, as HubSpot wrote it

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


class AccountEndpoints(Endpoints):
    """``/crm/properties``, ``/crm/owners`` and ``/account-info``."""

    _owners: list[Owner] | None
    _archived_owners: list[Owner] | None
    #: type → the property names its last properties read listed (the request estimate
    #: counts the tool's properties still to be made from it)
    property_names: dict[str, frozenset[str]]

    def list_properties(self, object_type: str) -> list[PropertyDefinition]:
        found = self._call(
            "GET", self.paths.properties(object_type),
            lambda data: [
                property_from_api(p, f"results[{n}]") for n, p in enumerate(results_list(data))
            ],
        )
        self.property_names[object_type] = frozenset(p.name for p in found)
        return found

    def property_bodies(self, object_type: str) -> list[Mapping[str, Any]]:
        """The properties of a type as HubSpot describes them (option labels, ``calculated``
        and all), for the catalogue check. Checked like every answer: a list of objects,
        each with a name; anything else is an UnusableAnswerError, never "no properties"."""

        def parse(data: Any) -> list[Mapping[str, Any]]:
            bodies = []
            for n, raw in enumerate(results_list(data)):
                property_from_api(raw, f"results[{n}]")  # the shape check
                bodies.append(as_object(raw, f"results[{n}]"))
            return bodies

        bodies = self._call("GET", self.paths.properties(object_type), parse)
        self.property_names[object_type] = frozenset(str(b["name"]) for b in bodies)
        return bodies

    def create_property(
        self, object_type: str, definition: PropertyDefinition
    ) -> PropertyDefinition:
        """Create a property; if it already exists (409), return the existing one."""
        def parse(data: Any) -> PropertyDefinition:
            created = property_from_api(data)
            if created.name != definition.name:
                raise AnswerShapeError(
                    f"it describes property {created.name!r}, not {definition.name!r}"
                )
            return created

        try:
            return self._call(
                "POST", self.paths.properties(object_type), parse,
                json=property_to_api(definition), kind="write",
            )
        except ApiError as error:
            if error.status != 409:
                raise
        return self._call("GET", f"{self.paths.properties(object_type)}/{definition.name}", parse)

    def list_owners(self) -> list[Owner]:
        """Every active owner, read once per client (one run): resolving the spec's owner
        emails and checking its owner ids both need them, and they do not change with
        what a run writes."""
        if self._owners is None:
            self._owners = self._read_owners(archived=False)
        return list(self._owners)

    def list_archived_owners(self) -> list[Owner]:
        """Every deactivated owner (``archived=true``: "users that were deactivated", whose
        ``userId`` is null; HubSpot lists only those), read once per client: only asked when
        a spec's owner is not among the active ones, to say which are deactivated."""
        if self._archived_owners is None:
            self._archived_owners = self._read_owners(archived=True)
        return list(self._archived_owners)

    def _read_owners(self, *, archived: bool) -> list[Owner]:
        owners: list[Owner] = []
        after: str | None = None
        while True:
            params = {"limit": "100", "archived": "true" if archived else "false"}
            if after:
                params["after"] = after
            page, following = self._call(
                "GET", self.paths.owners(),
                lambda data: (
                    [owner_from_api(o, f"results[{n}]") for n, o in enumerate(results_list(data))],
                    next_after(data),
                ),
                params=params,
            )
            owners.extend(page)
            if following is None or following == after:
                return owners
            after = following

    def account_portal_id(self) -> int | None:
        """The portal (hub) id the token belongs to; None only when the endpoint is refused
        or absent (403, 404, 405). An answer without a usable ``portalId`` is an error."""

        def parse(data: Any) -> int:
            body = as_object(data, "the body")
            if "portalId" not in body:
                raise AnswerShapeError("'portalId' is missing")
            return as_integer(body["portalId"], "'portalId'")

        try:
            return self._call("GET", self.paths.account_details(), parse)
        except ApiError as error:
            if error.status in (403, 404, 405):
                return None
            raise

    def token_info(self) -> TokenInfo | None:
        """The token's portal and scopes (``POST /oauth/v2/private-apps/get/access-token-info``,
        HubSpot's private-apps guide; it needs no scope). The token goes in the body as
        HubSpot asks; bodies are never logged and error texts are scrubbed of it. None when
        HubSpot will not say (400: not a private-app token; 401, 403, 404, 405)."""

        def parse(data: Any) -> TokenInfo:
            body = as_object(data, "the body")
            if "hubId" not in body:
                raise AnswerShapeError("'hubId' is missing")
            scopes = body.get("scopes")
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise AnswerShapeError("'scopes' is not a list of names")
            return TokenInfo(as_integer(body["hubId"], "'hubId'"), frozenset(scopes))

        try:
            return self._call("POST", self.paths.token_info(), parse,
                              json={"tokenKey": self.settings.token})
        except ApiError as error:
            if error.status in (400, 401, 403, 404, 405):
                return None
            raise

    def daily_usage(self) -> DailyUsage | None:
        """Today's private-app calls and the daily limit (``GET /account-info/v3/api-usage/
        daily/private-apps``, account-info spec); None when refused or absent (403, 404)."""

        def parse(data: Any) -> DailyUsage | None:
            for n, raw in enumerate(results_list(data)):
                item = as_object(raw, f"results[{n}]")
                if item.get("name") == "private-apps-api-calls-daily":
                    resets = item.get("resetsAt")
                    return DailyUsage(
                        as_integer(item.get("usageLimit"), f"results[{n}].usageLimit"),
                        as_integer(item.get("currentUsage"), f"results[{n}].currentUsage"),
                        resets if isinstance(resets, str) else None,
                    )
            return None

        try:
            return self._call("GET", self.paths.api_usage(), parse)
        except ApiError as error:
            if error.status in (403, 404, 405):
                return None
            raise
