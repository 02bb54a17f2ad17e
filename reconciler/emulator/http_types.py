"""The emulator's request and reply values, and HubSpot's error bodies.

Handlers take an ``ApiRequest`` and return a ``Reply`` or raise ``HubSpotError``; the
server turns both into HTTP. Error bodies follow facts §10 (``status``, ``message``,
``category``, ``correlationId`` filled in by the server, optional ``errors``/``context``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiRequest:
    method: str
    path: str
    params: dict[str, str]  # path parameters from the route
    query: dict[str, list[str]]
    body: Any  # parsed JSON (None when there was no body)

    def query_one(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def query_list(self, name: str) -> list[str]:
        """A comma-separated and/or repeated query parameter, as HubSpot accepts both."""
        items: list[str] = []
        for value in self.query.get(name, []):
            items.extend(part.strip() for part in value.split(",") if part.strip())
        return items

    def query_bool(self, name: str) -> bool:
        return (self.query_one(name, "false") or "false").lower() == "true"

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        """An integer query parameter within [low, high]; a 400 (never a 500) otherwise."""
        raw = self.query_one(name)
        if raw is None or raw == "":
            return default
        value = as_int(raw)
        if value is None or not low <= value <= high:
            raise validation_error(
                f"{name} must be a whole number from {low} to {high}, not {raw!r}"
            )
        return value


def as_int(value: Any) -> int | None:
    """An integer field as HubSpot's JSON reader takes it: a JSON integer or a numeric string
    (``"200"``). Booleans and other strings are not integers. (Coercing numeric strings is
    Jackson's default; HubSpot does not document it.)"""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, or None for no body (204)
    headers: dict[str, str] = field(default_factory=dict)


class HubSpotError(Exception):
    """An error answer in HubSpot's shape; ``body`` lacks only the correlation id."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}
        super().__init__(f"{status} {body.get('category')}: {body.get('message')}")


def error_body(
    category: str,
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, list[str]] | None = None,
    sub_category: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "message": message, "category": category}
    if sub_category:
        body["subCategory"] = sub_category
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = context
    return body


def validation_error(message: str, **kwargs: Any) -> HubSpotError:
    return HubSpotError(400, error_body("VALIDATION_ERROR", message, **kwargs))


def not_found(message: str = "resource not found") -> HubSpotError:
    return HubSpotError(404, error_body("OBJECT_NOT_FOUND", message))


def object_not_found(raw_id: str) -> HubSpotError:
    """HubSpot's 404 for a record read by id (observed, hubspot-api-nodejs#669; the two spaces
    are HubSpot's)."""
    return HubSpotError(404, error_body(
        "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
        context={"id": [raw_id]},
    ))


def bad_json(detail: str) -> HubSpotError:
    return validation_error(f"Invalid input JSON on line 1: {detail}")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
