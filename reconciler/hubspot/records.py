"""Our frozen values for what HubSpot sends and takes, and their wire (JSON) forms.

The client (``reconciler.hubspot.client``) is the only user of the ``*_from_api``/``to_api``
functions; everything else sees only these dataclasses, never a dict from the wire.
Every field HubSpot sends is treated as optional when parsing (facts §3, §10).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

#: HubSpot's batch limit for create, update, upsert, archive and read (facts §1).
BATCH_LIMIT = 100

_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: The scheduler endpoint's properties (spec ExternalCalendarMeetingEventCreateProperties);
#: anything else must be written by a batch update afterwards.
CALENDAR_PROPERTIES = frozenset(
    {
        "hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp",
        "hs_meeting_outcome", "hubspot_owner_id", "hs_meeting_body", "hs_internal_meeting_notes",
        "hs_meeting_location", "hs_meeting_location_type", "hs_activity_type",
        "hs_attachment_ids", "hs_attendee_owner_ids",
    }
)  # fmt: skip
_CALENDAR_TIMES = ("hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp")
_CALENDAR_LISTS = ("hs_attachment_ids", "hs_attendee_owner_ids")


@dataclass(frozen=True)
class RemoteRecord:
    """One CRM object as HubSpot returned it."""

    id: str
    properties: Mapping[str, str | None]
    created_at: str | None = None
    updated_at: str | None = None
    archived: bool = False
    object_write_trace_id: str | None = None
    #: to_type -> ((to_id, type_id), ...), only when the answer carried associations.
    associations: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=lambda: _EMPTY)
    #: batch upsert only: True if HubSpot created the record, False if it updated one.
    new: bool | None = None


@dataclass(frozen=True)
class BatchItemError:
    """One entry of a batch answer's ``errors`` (a 207): which inputs failed, and why."""

    status: str | None
    category: str | None
    message: str
    trace_ids: tuple[str, ...]  # context.objectWriteTraceId
    ids: tuple[str, ...]  # context.ids (batch read/update of missing ids)
    context: Mapping[str, tuple[str, ...]]
    #: "Property values were not valid" as one readable line per property (facts §10);
    #: ``message`` then holds them joined by "; " instead of HubSpot's raw JSON.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchOutcome:
    """A batch answer: the records that succeeded and the errors of those that did not."""

    results: tuple[RemoteRecord, ...]
    errors: tuple[BatchItemError, ...] = ()

    def by_trace_id(self) -> dict[str, RemoteRecord]:
        """Results by objectWriteTraceId. HubSpot promises no order (facts §3): never zip."""
        return {r.object_write_trace_id: r for r in self.results if r.object_write_trace_id}

    def by_id(self) -> dict[str, RemoteRecord]:
        return {r.id: r for r in self.results}


@dataclass(frozen=True)
class CreateInput:
    trace_id: str  # unique per input: objectWriteTraceId (HubSpot answers 207 only with it)
    properties: Mapping[str, str]
    associations: tuple[tuple[str, str, str, int], ...] = ()  # (to_type, to_id, category, type_id)


@dataclass(frozen=True)
class UpdateInput:
    id: str
    properties: Mapping[str, str]
    trace_id: str | None = None


@dataclass(frozen=True)
class PropertyDefinition:
    """A property of an object type (HubSpot's ``Property`` shape, the parts we use)."""

    name: str
    label: str
    type: str  # string | number | date | datetime | enumeration | bool
    field_type: str  # text | textarea | number | date | select | booleancheckbox | ...
    group_name: str
    has_unique_value: bool = False
    hidden: bool = False
    form_field: bool = False
    options: tuple[str, ...] = ()  # the option values of an enumeration
    hubspot_defined: bool = False
    read_only_value: bool = False


@dataclass(frozen=True)
class Owner:
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    user_id: str | None  # the HubSpot *user* id (what the scheduler calls organizerUserId)


@dataclass(frozen=True)
class AssociationLabel:
    category: str
    type_id: int
    label: str | None  # None: the unlabeled default type


# ---- wire forms: answers ---------------------------------------------------------------
#
# Every answer is checked where it enters: a 2xx of the wrong shape is never read as "no
# records" (a batch read without ``results`` once made every managed record look deleted).
# Fields HubSpot may leave out stay optional; what the reconciler relies on (``results``
# as a list, each result an object with an id) is required.


class AnswerShapeError(ValueError):
    """An answer's body is not of the shape its endpoint returns. Raised by the
    ``*_from_api`` functions; the client turns it into ``UnusableAnswerError`` (a read) or
    ``AmbiguousWriteError`` (a write), naming the endpoint."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AnswerShapeError(f"{where} is {_kind(value)}, not an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise AnswerShapeError(f"{where} is {_kind(value)}, not a list")
    return value


def _required(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise AnswerShapeError(f"{where}{key} is missing" if where else f"{key!r} is missing")
    return data[key]


def results_list(data: Any, where: str = "the body") -> list[Any]:
    """The ``results`` list every batch, search and listing answer carries."""
    body = as_object(data, where)
    if "results" not in body:
        raise AnswerShapeError("'results' is missing")
    return _list(body["results"], "'results'")


def _id(value: Any, where: str) -> str:
    """An object id: a non-empty string or an integer (never a boolean, never null)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        raise AnswerShapeError(f"{where} is {_kind(value) if value != '' else 'empty'}, not an id")
    return str(value)


def as_integer(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise AnswerShapeError(f"{where} is a boolean, not an integer")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # (OverflowError: 1e309 is infinity)
        raise AnswerShapeError(f"{where} is {_kind(value)}, not an integer") from None
    if not -_INTEGER_LIMIT < number < _INTEGER_LIMIT:  # no id or count HubSpot sends
        raise AnswerShapeError(f"{where} is out of range ({str(value)[:20]}...)")
    return number


_INTEGER_LIMIT = 2**63  # (beyond 64 bits: nothing HubSpot counts or numbers gets there)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)  # HubSpot's multi-value string form
    return str(value)


def _property_value(value: Any, where: str) -> str | None:
    if isinstance(value, Mapping) or (
        isinstance(value, list) and any(isinstance(v, (Mapping, list)) for v in value)
    ):
        raise AnswerShapeError(f"{where} is {_kind(value)}, not a property value")
    return _text(value)


def record_from_api(data: Any, where: str = "the record") -> RemoteRecord:
    """One object (a batch result, a search hit, the scheduler's answer): an id, and its
    properties as HubSpot returned them (kept whole, so a caller can check the marker)."""
    body = as_object(data, where)
    record_id = _id(_required(body, "id", f"{where}."), f"{where}.id")
    raw_props = body.get("properties")
    raw_props = {} if raw_props is None else as_object(raw_props, f"{where}.properties")
    properties = {
        str(k): _property_value(v, f"{where}.properties.{k}") for k, v in raw_props.items()
    }
    associations: dict[str, tuple[tuple[str, int], ...]] = {}
    raw_associations = body.get("associations")
    if raw_associations is not None:
        for to_type, block in as_object(raw_associations, f"{where}.associations").items():
            pairs = []
            block_where = f"{where}.associations.{to_type}"
            items = as_object(block, block_where).get("results") or []
            for n, item in enumerate(_list(items, f"{block_where}.results")):
                item_where = f"{block_where}.results[{n}]"
                item = as_object(item, item_where)
                type_id = item.get("typeId", item.get("associationTypeId"))
                to_id = item.get("id", item.get("toObjectId"))
                pairs.append((_id(to_id, f"{item_where}.id"),
                              as_integer(type_id or 0, f"{item_where}.typeId")))
            associations[str(to_type)] = tuple(pairs)
    new = body.get("new")
    return RemoteRecord(
        id=record_id,
        properties=MappingProxyType(properties),
        created_at=_text(body.get("createdAt")),
        updated_at=_text(body.get("updatedAt", body.get("lastUpdatedAt"))),
        archived=body.get("archived") is True,
        object_write_trace_id=_text(body.get("objectWriteTraceId")),
        associations=MappingProxyType(associations),
        new=bool(new) if new is not None else None,
    )


def batch_error_from_api(data: Any, where: str = "the error") -> BatchItemError:
    """One ``errors[]`` entry; every field is optional (facts §3, §10)."""
    body = as_object(data, where)
    raw_context = body.get("context") or {}
    context: dict[str, tuple[str, ...]] = {}
    if isinstance(raw_context, Mapping):
        for key, values in raw_context.items():
            if isinstance(values, list):
                context[str(key)] = tuple(str(v) for v in values)
            elif values is not None:
                context[str(key)] = (str(values),)
    message, problems = readable_message(str(body.get("message") or "HubSpot gave no message"))
    return BatchItemError(
        status=_text(body.get("status")),
        category=_text(body.get("category")),
        message=message,
        trace_ids=context.get("objectWriteTraceId", ()),
        ids=context.get("ids", ()),
        context=MappingProxyType(context),
        problems=problems,
    )


def outcome_from_api(data: Any) -> BatchOutcome:
    """A batch answer (200, 201 or 207): ``results`` is required, ``errors`` optional."""
    results = results_list(data)
    errors = data.get("errors")
    errors = [] if errors is None else _list(errors, "'errors'")
    return BatchOutcome(
        results=tuple(record_from_api(r, f"results[{n}]") for n, r in enumerate(results)),
        errors=tuple(batch_error_from_api(e, f"errors[{n}]") for n, e in enumerate(errors)),
    )


def association_errors_from_api(data: Any) -> tuple[BatchItemError, ...]:
    """The errors of an association write's answer (its results are not used); no body
    (a 204) is no error."""
    if data is None:
        return ()
    errors = as_object(data, "the body").get("errors")
    errors = [] if errors is None else _list(errors, "'errors'")
    return tuple(batch_error_from_api(e, f"errors[{n}]") for n, e in enumerate(errors))


def search_page_from_api(data: Any) -> tuple[list[RemoteRecord], str | None]:
    """One search page: its records, and the ``after`` cursor of the next page (or None)."""
    results = results_list(data)
    records = [record_from_api(r, f"results[{n}]") for n, r in enumerate(results)]
    return records, next_after(data)


def next_after(data: Mapping[str, Any]) -> str | None:
    paging = data.get("paging")
    if paging is None:
        return None
    following = as_object(paging, "'paging'").get("next")
    if following is None:
        return None
    after = as_object(following, "'paging.next'").get("after")
    if after is None or after == "":
        return None
    if isinstance(after, bool) or not isinstance(after, (str, int)):
        raise AnswerShapeError(f"'paging.next.after' is {_kind(after)}, not a cursor")
    return str(after)


def associations_from_api(data: Any) -> list[tuple[str, list[tuple[str, int]], str | None]]:
    """A v4 association batch read: ``(from_id, [(to_id, type_id)...], after)`` per result."""
    found = []
    for n, raw in enumerate(results_list(data)):
        where = f"results[{n}]"
        result = as_object(raw, where)
        source = as_object(_required(result, "from", f"{where}."), f"{where}.from")
        from_id = _id(_required(source, "id", f"{where}.from."), f"{where}.from.id")
        pairs: list[tuple[str, int]] = []
        for m, raw_target in enumerate(_list(result.get("to") or [], f"{where}.to")):
            target_where = f"{where}.to[{m}]"
            target = as_object(raw_target, target_where)
            raw_to = _required(target, "toObjectId", f"{target_where}.")
            to_id = _id(raw_to, f"{target_where}.toObjectId")
            kinds = _list(target.get("associationTypes") or [], f"{target_where}.associationTypes")
            for k, raw_kind in enumerate(kinds):
                kind = as_object(raw_kind, f"{target_where}.associationTypes[{k}]")
                type_where = f"{target_where}.associationTypes[{k}].typeId"
                type_id = as_integer(kind.get("typeId"), type_where)
                if (to_id, type_id) not in pairs:
                    pairs.append((to_id, type_id))
        found.append((from_id, pairs, next_after(result)))
    return found


def readable_message(message: str) -> tuple[str, tuple[str, ...]]:
    """HubSpot's ``Property values were not valid: [<JSON>]`` (facts §10) as one readable
    line per property (``hs_prioritee: Property "hs_prioritee" does not exist``), and the
    message with those lines joined by "; ". Any other message comes back as it is."""
    prefix, _, rest = message.partition(": [")
    if not rest or "not valid" not in prefix:
        return message, ()
    try:
        items = json.loads("[" + rest)
    except ValueError:
        return message, ()
    if not isinstance(items, list):
        return message, ()
    problems = []
    for item in items:
        if not isinstance(item, Mapping):
            return message, ()
        name = item.get("name")
        text = item.get("message") or item.get("localizedErrorMessage") or item.get("error")
        if not text:
            return message, ()
        problems.append(f"{name}: {text}" if name else str(text))
    if not problems:
        return message, ()
    return f"{prefix}: {'; '.join(problems)}", tuple(problems)


def associations_to_api(
    associations: Sequence[tuple[str, str, str, int]],
) -> list[dict[str, Any]]:
    """Inline associations: one entry per target, with every type asked for it."""
    by_target: dict[str, list[dict[str, Any]]] = {}
    for _to_type, to_id, category, type_id in associations:
        by_target.setdefault(str(to_id), []).append(
            {"associationCategory": category, "associationTypeId": int(type_id)}
        )
    return [{"to": {"id": to_id}, "types": types} for to_id, types in by_target.items()]


def create_input_to_api(item: CreateInput) -> dict[str, Any]:
    body: dict[str, Any] = {
        "properties": dict(item.properties),
        "objectWriteTraceId": item.trace_id,
    }
    if item.associations:
        body["associations"] = associations_to_api(item.associations)
    return body


def property_to_api(definition: PropertyDefinition) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": definition.name,
        "label": definition.label,
        "type": definition.type,
        "fieldType": definition.field_type,
        "groupName": definition.group_name,
        "hasUniqueValue": definition.has_unique_value,
        "hidden": definition.hidden,
        "formField": definition.form_field,
    }
    if definition.options:
        body["options"] = [
            {"label": value, "value": value, "displayOrder": index, "hidden": False}
            for index, value in enumerate(definition.options)
        ]
    return body


def property_from_api(data: Any, where: str = "the property") -> PropertyDefinition:
    data = as_object(data, where)
    name = _required(data, "name", f"{where}.")
    if not isinstance(name, str) or not name:
        raise AnswerShapeError(f"{where}.name is {_kind(name)}, not a property name")
    metadata = data.get("modificationMetadata") or {}
    return PropertyDefinition(
        name=name,
        label=str(data.get("label") or data.get("name")),
        type=str(data.get("type") or "string"),
        field_type=str(data.get("fieldType") or "text"),
        group_name=str(data.get("groupName") or ""),
        has_unique_value=bool(data.get("hasUniqueValue", False)),
        hidden=bool(data.get("hidden", False)),
        form_field=bool(data.get("formField", False)),
        options=tuple(
            str(o.get("value")) for o in data.get("options") or [] if isinstance(o, Mapping)
        ),
        hubspot_defined=bool(data.get("hubspotDefined", False)),
        read_only_value=(bool(metadata.get("readOnlyValue", False))
                         if isinstance(metadata, Mapping) else False),
    )


def owner_from_api(data: Any, where: str = "the owner") -> Owner:
    data = as_object(data, where)
    return Owner(
        id=_id(_required(data, "id", f"{where}."), f"{where}.id"),
        email=_text(data.get("email")),
        first_name=_text(data.get("firstName")),
        last_name=_text(data.get("lastName")),
        user_id=_text(data.get("userId")),
    )


def label_from_api(data: Any, where: str = "the label") -> AssociationLabel:
    data = as_object(data, where)
    type_id = data.get("typeId", data.get("associationTypeId"))
    return AssociationLabel(
        category=str(data.get("category") or "HUBSPOT_DEFINED"),
        type_id=as_integer(type_id, f"{where}.typeId"),
        label=_text(data.get("label")),
    )


def calendar_properties(properties: Mapping[str, str]) -> dict[str, Any]:
    """CRM property strings → what the scheduler wants: ISO 8601 times, lists for the
    multi-value properties, and ``hs_timestamp`` = start when absent (facts §8)."""
    body: dict[str, Any] = {}
    for name, value in properties.items():
        if name not in CALENDAR_PROPERTIES:
            continue
        if name in _CALENDAR_TIMES:
            body[name] = iso_datetime(value)
        elif name in _CALENDAR_LISTS:
            body[name] = [part for part in str(value).split(";") if part]
        else:
            body[name] = value
    if "hs_timestamp" not in body and "hs_meeting_start_time" in body:
        body["hs_timestamp"] = body["hs_meeting_start_time"]
    return body


def iso_datetime(value: str) -> str:
    """A CRM datetime (epoch milliseconds or ISO 8601) as ISO 8601 UTC with milliseconds."""
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        moment = datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text  # let HubSpot say what is wrong with it
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )
