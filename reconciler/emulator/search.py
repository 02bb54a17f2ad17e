"""``POST /crm/v3/objects/{type}/search``: filter groups, one sort, paging, query, lag.

Facts §7: filterGroups are OR-ed, filters inside a group AND-ed. The search guide
(https://developers.hubspot.com/docs/api-reference/search/guide): "Values in filters are
case-insensitive", except that enumerations match case-sensitively with every operator and
``IN``/``NOT_IN`` on text want lowercase values (text is indexed lowercased and the sent
values are compared as they are, so a capital matches nothing). Filter limits are the
guide's: "a maximum of five filterGroups with up to 6 filters in each group, with a maximum
of 18 filters in total", else 400 VALIDATION_ERROR (the messages are ours; the 2024-08-26
changelog's 10 a group and 25 in all are superseded). Page size up to 200; 10,000 results at
most. Search is eventually consistent: a write becomes visible after the configured indexing
lag (on the emulator's clock), while reads by id see it at once.

Filters HubSpot cannot read are a 400 without a category, as observed (not documented; the
messages are the observed generic one and, for a value on ``(NOT_)HAS_PROPERTY``, ours in the
form HubSpot gives ``BETWEEN`` without ``highValue``): a property the type lacks, a value on
``HAS_PROPERTY``/``NOT_HAS_PROPERTY``, and a value a number or date property cannot hold.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.catalogue import parse_datetime
from reconciler.emulator.http_types import (
    ApiRequest,
    HubSpotError,
    Reply,
    as_int,
    validation_error,
)
from reconciler.emulator.portal import Portal
from reconciler.emulator.store import StoredRecord

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_LIMIT = 200
MAX_QUERY = 3000  # characters (the spec: "up to 3000 characters")
MAX_TOTAL = 10_000
OPERATORS = {
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
}
#: Properties ``query`` matches, per HubSpot's "default searchable properties".
QUERY_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain", "website", "phone"),
    "deals": ("dealname",),
    "tickets": ("subject", "content"),
    "meetings": ("hs_meeting_title", "hs_meeting_body"),
    "calls": ("hs_call_title", "hs_call_body"),
    "notes": ("hs_note_body",),
    "tasks": ("hs_task_subject", "hs_task_body"),
    "emails": ("hs_email_subject", "hs_email_text"),
}


def _comparable(value: str, kind: str) -> Any:
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind in ("datetime", "date"):
        moment = parse_datetime(value)
        return moment.timestamp() if moment else value
    if kind == "enumeration":  # case-sensitive for every operator (search guide)
        return value
    return value.lower()


def _matches(filter_: dict[str, Any], props: dict[str, str], kinds: dict[str, str]) -> bool:
    name = str(filter_.get("propertyName", ""))
    operator = str(filter_.get("operator", "EQ"))
    actual = props.get(name)
    if name == "hs_object_id" and actual is None:
        actual = props.get("hs_object_id")
    if operator == "HAS_PROPERTY":
        return actual not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return actual in (None, "")
    kind = kinds.get(name, "string")
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(filter_.get("value", "")).lower()
        found = actual is not None and _token_match(token, actual.lower())
        return found if operator == "CONTAINS_TOKEN" else not found
    if operator in ("IN", "NOT_IN"):
        inside = actual is not None and _in_key(actual, kind) in _in_values(filter_, kind)
        return inside if operator == "IN" else not inside
    if operator == "NEQ":
        return actual is None or _comparable(actual, kind) != _comparable(
            str(filter_.get("value", "")), kind
        )
    if actual is None:
        return False
    left = _comparable(actual, kind)
    right = _comparable(str(filter_.get("value", "")), kind)
    try:
        if operator == "EQ":
            return bool(left == right)
        if operator == "LT":
            return bool(left < right)
        if operator == "LTE":
            return bool(left <= right)
        if operator == "GT":
            return bool(left > right)
        if operator == "GTE":
            return bool(left >= right)
        if operator == "BETWEEN":
            high = _comparable(str(filter_.get("highValue", "")), kind)
            return bool(right <= left <= high)
    except TypeError:
        return False
    return False


def _in_key(value: str, kind: str) -> Any:
    """How ``IN`` sees a stored value: text is indexed lowercased (facts §7); numbers, dates
    and enumerations are compared as they are."""
    if kind in ("number", "datetime", "date", "enumeration"):
        return _comparable(value, kind)
    return value.lower()


def _in_values(filter_: dict[str, Any], kind: str) -> set[Any]:
    """The sent ``IN`` values as they are: HubSpot's IN "is case-sensitive, so inputted values
    must be in lowercase" (facts §7), so ``Acme`` matches nothing, not even ``Acme``."""
    sent = [str(v) for v in filter_.get("values") or []]
    if kind in ("number", "datetime", "date", "enumeration"):
        return {_comparable(v, kind) for v in sent}
    return set(sent)


def _token_match(token: str, text: str) -> bool:
    """HubSpot tokenizes on word boundaries; ``*`` is a wildcard at either end."""
    if token.startswith("*") or token.endswith("*"):
        return token.strip("*") in text
    words = "".join(ch if ch.isalnum() or ch in "@._-" else " " for ch in text).split()
    return token in words or token == text


def _check_request(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected a search request object")
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise validation_error(f"Too many filter groups: at most {MAX_GROUPS} are allowed")
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation_error("Each filter group needs a filters array")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(
                f"Too many filters in a filter group: at most {MAX_FILTERS_PER_GROUP} are allowed"
            )
        for filter_ in filters:
            operator = filter_.get("operator") if isinstance(filter_, dict) else None
            if operator not in OPERATORS:
                raise validation_error(f"Unknown filter operator: {operator}")
            if not filter_.get("propertyName"):
                raise validation_error("Each filter needs a propertyName")
    query = body.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > MAX_QUERY):
        raise validation_error(f"query must be a string of at most {MAX_QUERY} characters")
    total = sum(len(group["filters"]) for group in groups)
    if total > MAX_FILTERS:
        raise validation_error(
            f"Too many filters: at most {MAX_FILTERS} are allowed in all filter groups together"
        )
    sorts = body.get("sorts") or []
    if not isinstance(sorts, list) or not all(isinstance(sort, (str, dict)) for sort in sorts):
        raise validation_error("sorts must be an array of sorts")
    if len(sorts) > 1:
        raise validation_error("Only one sort is supported")
    limit = as_int(body.get("limit", 10))
    if limit is None or not 0 < limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_LIMIT}")
    return {**body, "limit": limit}


#: The generic 400 HubSpot's search answers for a filter it cannot read: no category
#: (observed; nango.dev "How to fix HubSpot API 400").
PROBLEM = "There was a problem with the request."
#: Names a filter may use beside the type's properties (search guide: "Search through
#: associations", ``associations.<type>``).
_PSEUDO_PREFIX = "associations."
_VALUE_KEYS = ("value", "values", "highValue")


def _refused(message: str) -> HubSpotError:
    return HubSpotError(400, {"status": "error", "message": message})


def _sent_values(filter_: dict[str, Any]) -> list[str]:
    values = [filter_[key] for key in ("value", "highValue") if filter_.get(key) is not None]
    return [str(v) for v in [*values, *(filter_.get("values") or [])]]


def _readable(value: str, kind: str) -> bool:
    """Whether a filter value is one a property of this type can hold."""
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return False
        return True
    if kind in ("datetime", "date"):
        return parse_datetime(value) is not None
    return True


def _check_filters(groups: list[dict[str, Any]], kinds: dict[str, str]) -> None:
    """Refuse, as HubSpot does, the filters it cannot read (see the module docstring)."""
    for group in groups:
        for filter_ in group["filters"]:
            name = str(filter_["propertyName"])
            operator = str(filter_["operator"])
            if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
                if any(filter_.get(key) is not None for key in _VALUE_KEYS):
                    raise _refused(
                        "Invalid input JSON on line 1: Cannot construct instance of "
                        "`com.hubspot.inbounddb.publicobject.core.v3.search.Filter`, problem: "
                        f"operator {operator} does not take a value"
                    )
            if name.startswith(_PSEUDO_PREFIX):
                continue
            if name not in kinds:
                raise _refused(PROBLEM)
            if operator not in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN") and not all(
                _readable(value, kinds[name]) for value in _sent_values(filter_)
            ):
                raise _refused(PROBLEM)


def _searchable(record: StoredRecord, now: float) -> dict[str, str] | None:
    """What the search index holds for a record right now (None: not indexed yet)."""
    if now >= record.visible_at:
        return record.properties
    return record.indexed


def search(portal: Portal, request: ApiRequest) -> Reply:
    object_type = portal.resolve_type(request.params["objectType"])
    body = _check_request(request.body)
    after = (
        int(str(body.get("after") or "0") or "0") if str(body.get("after") or "0").isdigit() else 0
    )
    limit = int(body.get("limit", 10))
    if after + limit > MAX_TOTAL:
        raise validation_error(f"Cannot page beyond {MAX_TOTAL} results")
    kinds = {name: prop.type for name, prop in portal.properties_of(object_type).items()}
    groups = body.get("filterGroups") or []
    _check_filters(groups, kinds)
    query = str(body.get("query") or "").strip().lower()
    query_props = QUERY_PROPERTIES.get(object_type, ("name",))
    now = portal.clock.time()
    hits: list[tuple[StoredRecord, dict[str, str]]] = []
    for record in portal.store.list_records(object_type, archived=False):
        props = _searchable(record, now)
        if props is None:
            continue
        if groups and not any(
            all(_matches(f, props, kinds) for f in group.get("filters", [])) for group in groups
        ):
            continue
        if query and not any(
            _token_match(query, props.get(name, "").lower()) or query in props.get(name, "").lower()
            for name in query_props
        ):
            continue
        hits.append((record, props))
    sorts = body.get("sorts") or []
    if sorts:
        sort = sorts[0]
        if isinstance(sort, str):  # the spec types sorts as strings; accept "-name" too
            name, descending = sort.lstrip("-"), sort.startswith("-")
        else:
            name = str(sort.get("propertyName", "hs_object_id"))
            descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
        kind = kinds.get(name, "string")
        present = [h for h in hits if h[1].get(name) not in (None, "")]
        absent = [h for h in hits if h[1].get(name) in (None, "")]
        present.sort(key=lambda h: _comparable(h[1][name], kind), reverse=descending)
        hits = present + absent
    hits = hits[:MAX_TOTAL]
    page = hits[after : after + limit]
    wanted = portal.read_properties(object_type, [str(p) for p in body.get("properties") or []])
    results = []
    for record, props in page:
        shaped = portal.to_api(record, wanted)
        shaped["properties"] = {name: props.get(name) for name in shaped["properties"]}
        results.append(shaped)
    reply: dict[str, Any] = {"total": len(hits), "results": results}
    if after + limit < len(hits):
        reply["paging"] = {"next": {"after": str(after + limit)}}
    return Reply(200, reply)
