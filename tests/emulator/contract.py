"""Contract checks: every exchange with the emulator against HubSpot's published OpenAPI specs.

The specs are HubSpot's (github.com/HubSpot/HubSpot-public-api-spec-collection), published
for reference and not licensed for redistribution: they are read from
``../shared/hubspot-openapi/`` next to the repository and never copied into it. Where
they are absent (a user's clone) the checks are skipped.

Where the specs are stricter than HubSpot's real traffic, we follow real traffic; every
such exception is in ``SPEC_EXCEPTIONS`` below, the one list, each with its reason.

Requests are checked more strictly than the specs say: none of them sets
``additionalProperties: false``, yet HubSpot silently ignores a field its schema does not
define (inline ``associations`` on a batch upsert input are dropped, not created). So every
request-body object schema that lists ``properties`` is closed here (``_strict_request_bodies``),
and a request with a field the schema lacks fails the check. Free-form maps (the values of
``properties``) stay open.

Paths HubSpot documents but no spec here covers (``DOCS_ONLY_PATHS``) are not checked at all;
they are neither exceptions nor failures.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO_ROOT.parent / "shared" / "hubspot-openapi"
SKIP_REASON = (
    f"HubSpot's OpenAPI specs not found in {SPEC_DIR} (they are not shipped with the project; "
    "copy them from github.com/HubSpot/HubSpot-public-api-spec-collection to run contract checks)"
)

Schemas = dict[str, Any]
Document = dict[str, Any]


def _on_schemas(patch: Callable[[Schemas], None]) -> Callable[[Document], None]:
    return lambda document: patch(document.get("components", {}).get("schemas", {}))


def _json_error_responses(document: Document) -> None:
    for response in document.get("components", {}).get("responses", {}).values():
        content = response.get("content", {})
        if "*/*" in content:
            content["application/json"] = content.pop("*/*")


def _relax_required(schema_names: tuple[str, ...], fields: tuple[str, ...]) -> Callable[[Schemas], None]:
    def patch(schemas: Schemas) -> None:
        for name in schema_names:
            schema = schemas.get(name)
            if schema and "required" in schema:
                schema["required"] = [f for f in schema["required"] if f not in fields]
                if not schema["required"]:
                    del schema["required"]
    return patch


def _nullable_property_values(schemas: Schemas) -> None:
    for name, schema in schemas.items():
        props = (schema.get("properties") or {}).get("properties")
        if name.startswith("SimplePublic") and props and isinstance(props.get("additionalProperties"), dict):
            props["additionalProperties"] = {**props["additionalProperties"], "nullable": True}


def _object_sorts(schemas: Schemas) -> None:
    schema = schemas.get("PublicObjectSearchRequest")
    if schema and "sorts" in schema.get("properties", {}):
        schema["properties"]["sorts"]["items"] = {
            "oneOf": [
                {"type": "string"},
                {"type": "object", "properties": {"propertyName": {"type": "string"},
                                                  "direction": {"type": "string"}}},
            ]
        }


def _nullable_label(schemas: Schemas) -> None:
    schema = schemas.get("AssociationSpecWithLabel")
    if schema and "label" in schema.get("properties", {}):
        schema["properties"]["label"] = {**schema["properties"]["label"], "nullable": True}


def _any_sub_category(schemas: Schemas) -> None:
    for name in ("StandardError", "ErrorDetail", "Error"):
        schema = schemas.get(name)
        if schema and "subCategory" in schema.get("properties", {}):
            schema["properties"]["subCategory"] = {}


def _search_errors_without_category(document: Document) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    error = schemas.get("Error")
    if not error:
        return
    relaxed = {**error, "required": [f for f in error.get("required", []) if f != "category"]}
    for template, item in document.get("paths", {}).items():
        operation = item.get("post") if template.endswith("/search") else None
        if isinstance(operation, dict) and "default" in (operation.get("responses") or {}):
            operation["responses"]["default"] = {
                "description": "an error", "content": {"application/json": {"schema": relaxed}}}


def _nullable_owner_user_id(schemas: Schemas) -> None:
    schema = schemas.get("PublicOwner")
    if schema and "userId" in schema.get("properties", {}):
        schema["properties"]["userId"] = {**schema["properties"]["userId"], "nullable": True}


@dataclass(frozen=True)
class SpecException:
    """One place where real HubSpot traffic differs from the spec, and how we relax it."""

    reason: str
    patch: Callable[[Document], None] | None = None  # applied to each spec document
    skip_response_status: int | None = None  # responses with this status are not checked


def _no_empty_content(document: Document) -> None:
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for response in (operation.get("responses") or {}).values() if isinstance(operation, dict) else ():
                if isinstance(response, dict) and response.get("content") == {}:
                    del response["content"]


SPEC_EXCEPTIONS: tuple[SpecException, ...] = (
    SpecException(
        "204 responses declare an empty content map; the validator then demands a body that "
        "HubSpot (rightly) never sends",
        _no_empty_content,
    ),
    SpecException(
        "Error responses are declared for */*; HubSpot answers application/json, and the "
        "validator only parses bodies declared as JSON",
        _json_error_responses,
    ),
    SpecException(
        "associations is marked required on create inputs, but HubSpot's guides treat it as "
        "optional and the official Python SDK leaves it out when None",
        _on_schemas(_relax_required(
            ("SimplePublicObjectInputForCreate", "SimplePublicObjectBatchInputForCreate"),
            ("associations",),
        )),
    ),
    SpecException(
        "PublicObjectSearchRequest marks after/limit/properties/sorts/filterGroups required; "
        "real searches send any subset",
        _on_schemas(_relax_required(
            ("PublicObjectSearchRequest",), ("after", "limit", "properties", "sorts", "filterGroups")
        )),
    ),
    SpecException(
        "PublicObjectSearchRequest types sorts items as strings; the documented form is "
        '{"propertyName": ..., "direction": "ASCENDING"}',
        _on_schemas(_object_sorts),
    ),
    SpecException(
        "StandardError (207 errors[]) marks errors and links required; HubSpot's documented 207 "
        "example has neither",
        _on_schemas(_relax_required(("StandardError",), ("errors", "links"))),
    ),
    SpecException(
        "subCategory is typed as an object in StandardError and as a string in ErrorDetail; "
        "HubSpot sends strings",
        _on_schemas(_any_sub_category),
    ),
    SpecException(
        "BatchReadInputSimplePublicObjectId marks properties and propertiesWithHistory required; "
        "HubSpot reads without them",
        _on_schemas(_relax_required(
            ("BatchReadInputSimplePublicObjectId",), ("properties", "propertiesWithHistory")
        )),
    ),
    SpecException(
        "Property values are typed string, but reads return null for a requested property that "
        "is unset (as HubSpot does)",
        _on_schemas(_nullable_property_values),
    ),
    SpecException(
        "AssociationSpecWithLabel.label is a string, but the unlabeled HUBSPOT_DEFINED type "
        "comes back with label null (facts §6)",
        _on_schemas(_nullable_label),
    ),
    SpecException(
        "The 429 body (status, message, errorType, correlationId, policyName, requestId) has no "
        "category, so it fails the default Error schema",
        skip_response_status=429,
    ),
    SpecException(
        "Search answers a filter it cannot read (an unknown property, a value on HAS_PROPERTY, a "
        "non-numeric value for a number) with a 400 that has no category (observed: 'There was a "
        "problem with the request.', and the 'Invalid input JSON ... Filter' form), though Error "
        "requires one; only search operations are relaxed",
        _search_errors_without_category,
    ),
    SpecException(
        "PublicOwner.userId is an integer, but HubSpot's owners guide documents userId: null for "
        "deactivated (archived) owners, whose id is in userIdIncludingInactive",
        _on_schemas(_nullable_owner_user_id),
    ),
)

_SKIPPED_STATUSES = {e.skip_response_status for e in SPEC_EXCEPTIONS if e.skip_response_status}


@dataclass(frozen=True)
class DocsOnlyPath:
    """An endpoint HubSpot documents on its developer site but no spec in SPEC_DIR covers."""

    pattern: re.Pattern[str]
    source: str


DOCS_ONLY_PATHS: tuple[DocsOnlyPath, ...] = (
    DocsOnlyPath(
        re.compile(r"^/oauth/v2/private-apps/get/access-token-info/?$"),
        "https://developers.hubspot.com/docs/api/private-apps (its last section; quoted in "
        "HubSpot/hubspot-api-php#171): a private app token's scopes and hub id",
    ),
)


def docs_only(path: str) -> DocsOnlyPath | None:
    return next((entry for entry in DOCS_ONLY_PATHS if entry.pattern.match(path)), None)


def _strict(schema: Any, components: Schemas, expanding: frozenset[str]) -> Any:
    """A copy of ``schema`` with its ``$ref``s resolved and every object schema that lists
    ``properties`` closed with ``additionalProperties: false`` (unless it sets its own)."""
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        if name in expanding or name not in components:
            return schema  # a recursive schema: leave the inner reference as it is
        return _strict(components[name], components, expanding | {name})
    closed = dict(schema)
    if isinstance(closed.get("properties"), dict):
        closed["properties"] = {
            key: _strict(value, components, expanding) for key, value in closed["properties"].items()
        }
        closed.setdefault("additionalProperties", False)
    elif isinstance(closed.get("additionalProperties"), dict):  # a map: its values may be objects
        closed["additionalProperties"] = _strict(closed["additionalProperties"], components, expanding)
    if isinstance(closed.get("items"), dict):
        closed["items"] = _strict(closed["items"], components, expanding)
    for combinator in ("oneOf", "anyOf"):
        if isinstance(closed.get(combinator), list):
            closed[combinator] = [_strict(part, components, expanding) for part in closed[combinator]]
    return closed


def _strict_request_bodies(document: Document) -> None:
    """Close every request body's object schemas (see the module docstring); responses keep
    the shared component schemas as they are."""
    components = document.get("components", {}).get("schemas", {})
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for media in ((operation.get("requestBody") or {}).get("content") or {}).values():
                if isinstance(media, dict) and "schema" in media:
                    media["schema"] = _strict(media["schema"], components, frozenset())


def specs_available() -> bool:
    return SPEC_DIR.is_dir() and any(SPEC_DIR.glob("*.json"))


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    parameters: Any
    content_type: str
    body: bytes | None

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


@dataclass
class _Response:
    status_code: int
    content_type: str
    headers: Any
    data: bytes | None


@dataclass
class _SpecFile:
    name: str
    document: Document  # as patched
    openapi: Any
    patterns: list[tuple[re.Pattern[str], int, set[str]]]  # path regex, params, methods


class ContractChecker:
    """Parsed specs (once per session) and the check of one logged exchange.

    An exchange checked before is not checked again: its problems are remembered under
    what the check reads of it (the same method, path, query, bodies and status, and the
    response headers some spec defines), so the same answer read in test after test (a
    type's property list) costs one validation.
    """

    def __init__(self, spec_dir: Path = SPEC_DIR) -> None:
        from openapi_core import Config, OpenAPI

        # The patched specs are checked to be valid OpenAPI once, by their own test
        # (``invalid_specs``), not by every test process that parses them.
        unchecked = Config(spec_validator_cls=None)

        self._files: list[_SpecFile] = []
        self._checked: dict[str, list[str]] = {}
        #: response headers some spec defines (lowercase): the only ones a check reads
        self._spec_headers: set[str] = set()
        for path in sorted(spec_dir.glob("*.json")):
            document = json.loads(path.read_text())
            for exception in SPEC_EXCEPTIONS:
                if exception.patch is not None:
                    exception.patch(document)
            _strict_request_bodies(document)
            document.pop("security", None)
            for item in document.get("paths", {}).values():
                for operation in item.values():
                    if isinstance(operation, dict):
                        operation.pop("security", None)  # auth is tested on its own
            self._spec_headers |= _response_headers(document)
            patterns = []
            for template, item in document.get("paths", {}).items():
                regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
                methods = {m.upper() for m in item if m in ("get", "post", "put", "patch", "delete")}
                patterns.append((re.compile(f"^{regex}$"), template.count("{"), methods))
            openapi = OpenAPI.from_dict(document, config=unchecked)
            self._files.append(_SpecFile(path.name, document, openapi, patterns))

    def invalid_specs(self) -> list[str]:
        """Each spec, as patched, that is not valid OpenAPI, and why."""
        from openapi_spec_validator import validate
        from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

        problems = []
        for spec in self._files:
            try:
                validate(spec.document)
            except OpenAPIValidationError as error:
                problems.append(f"{spec.name}: {error}")
        return problems

    def spec_for(self, method: str, path: str) -> _SpecFile | None:
        """The spec with the most literal path template for this call (meetings before objects)."""
        best: tuple[int, _SpecFile] | None = None
        for spec in self._files:
            for regex, params, methods in spec.patterns:
                if method in methods and regex.match(path) and (best is None or params < best[0]):
                    best = (params, spec)
        return best[1] if best else None

    def check(self, entry: dict[str, Any], *, requests: bool = True, responses: bool = True) -> list[str]:
        """Problems with one logged exchange (empty: it matches the spec)."""
        headers = {k.lower(): v for k, v in (entry.get("response_headers") or {}).items()}
        read = [requests, responses] + [entry.get(name) for name in (
            "method", "path", "query", "request_body", "status", "dropped", "response_body",
        )] + [sorted((k, v) for k, v in headers.items() if k in self._spec_headers)]
        key = hashlib.sha256(json.dumps(read, sort_keys=True, default=str).encode()).hexdigest()
        if key not in self._checked:
            self._checked[key] = self._check(entry, requests=requests, responses=responses)
        return list(self._checked[key])

    def _check(self, entry: dict[str, Any], *, requests: bool, responses: bool) -> list[str]:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        method, path = entry["method"], entry["path"]
        if docs_only(path) is not None:
            return []  # documented by HubSpot's docs only: nothing to check against
        spec = self.spec_for(method, path)
        if spec is None:
            return [f"{method} {path}: no HubSpot spec covers this path"]
        query = parse_qs(entry.get("query") or "", keep_blank_values=True)
        body = entry.get("request_body")
        raw = json.dumps(body).encode() if body is not None else None
        request = _Request(
            host_url="https://api.hubapi.com",
            path=path,
            method=method.lower(),
            parameters=RequestParameters(
                query=ImmutableMultiDict([(k, v) for k, values in query.items() for v in values]),
                header=Headers({"Content-Type": "application/json"}),
                cookie=ImmutableMultiDict(),
            ),
            content_type="application/json" if raw is not None else "",
            body=raw,
        )
        where = f"{method} {path}{'?' + entry['query'] if entry.get('query') else ''} [{spec.name}]"
        problems = []
        if requests:
            problems += [f"{where} request: {_describe(e)}" for e in spec.openapi.iter_request_errors(request)]
        status = entry.get("status")
        if responses and status is not None and not entry.get("dropped") and status not in _SKIPPED_STATUSES:
            data = entry.get("response_body")
            response = _Response(
                status_code=int(status),
                content_type="application/json" if data is not None else "",
                headers=Headers(entry.get("response_headers") or {}),
                data=json.dumps(data).encode() if data is not None else b"",
            )
            problems += [
                f"{where} response {status}: {_describe(e)}"
                for e in spec.openapi.iter_response_errors(request, response)
            ]
        return problems


def _response_headers(document: Document) -> set[str]:
    """The names (lowercase) of every response header the document defines."""
    found: set[str] = set()
    responses = list(document.get("components", {}).get("responses", {}).values())
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                responses += list((operation.get("responses") or {}).values())
    for response in responses:
        if isinstance(response, dict):
            found |= {name.lower() for name in response.get("headers") or {}}
    return found


def _describe(error: Exception) -> str:
    details = []
    cause = error.__cause__ or error
    for sub in getattr(cause, "schema_errors", None) or []:
        location = "/".join(str(p) for p in getattr(sub, "absolute_path", []))
        details.append(f"{location or '<root>'}: {getattr(sub, 'message', sub)}")
    text = str(error)
    if str(cause) != text:
        text += f" ({cause})"
    return text + ("; " + "; ".join(details[:5]) if details else "")


@lru_cache(maxsize=1)
def session_checker() -> ContractChecker | None:
    """The checker, parsed once per process; None when the specs are absent."""
    return ContractChecker() if specs_available() else None
