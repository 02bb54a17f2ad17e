"""Our frozen values for what HubSpot sends and takes, and their wire (JSON) forms.

The client (``reconciler.client``) is the only user of the ``*_from_api``/``to_api``
functions; everything else sees only these dataclasses, never a dict from the wire.
Every field HubSpot sends is treated as optional when parsing (facts §3, §10).
"""

from __future__ import annotations

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


# ---- wire forms ---------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)  # HubSpot's multi-value string form
    return str(value)


def record_from_api(data: Mapping[str, Any]) -> RemoteRecord:
    raw_props = data.get("properties") or {}
    properties = {str(k): _text(v) for k, v in raw_props.items()}
    associations: dict[str, tuple[tuple[str, int], ...]] = {}
    for to_type, block in (data.get("associations") or {}).items():
        pairs = []
        for item in (block or {}).get("results", []) if isinstance(block, Mapping) else []:
            type_id = item.get("typeId", item.get("associationTypeId"))
            pairs.append((str(item.get("id") or item.get("toObjectId")), int(type_id or 0)))
        associations[str(to_type)] = tuple(pairs)
    new = data.get("new")
    return RemoteRecord(
        id=str(data.get("id")),
        properties=MappingProxyType(properties),
        created_at=_text(data.get("createdAt")),
        updated_at=_text(data.get("updatedAt", data.get("lastUpdatedAt"))),
        archived=bool(data.get("archived", False)),
        object_write_trace_id=_text(data.get("objectWriteTraceId")),
        associations=MappingProxyType(associations),
        new=bool(new) if new is not None else None,
    )


def batch_error_from_api(data: Mapping[str, Any]) -> BatchItemError:
    raw_context = data.get("context") or {}
    context: dict[str, tuple[str, ...]] = {}
    if isinstance(raw_context, Mapping):
        for key, values in raw_context.items():
            if isinstance(values, list):
                context[str(key)] = tuple(str(v) for v in values)
            elif values is not None:
                context[str(key)] = (str(values),)
    return BatchItemError(
        status=_text(data.get("status")),
        category=_text(data.get("category")),
        message=str(data.get("message") or "HubSpot gave no message"),
        trace_ids=context.get("objectWriteTraceId", ()),
        ids=context.get("ids", ()),
        context=MappingProxyType(context),
    )


def outcome_from_api(data: Mapping[str, Any] | None) -> BatchOutcome:
    data = data or {}
    return BatchOutcome(
        results=tuple(record_from_api(r) for r in data.get("results") or []),
        errors=tuple(batch_error_from_api(e) for e in data.get("errors") or []),
    )


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


def property_from_api(data: Mapping[str, Any]) -> PropertyDefinition:
    metadata = data.get("modificationMetadata") or {}
    return PropertyDefinition(
        name=str(data.get("name")),
        label=str(data.get("label") or data.get("name")),
        type=str(data.get("type") or "string"),
        field_type=str(data.get("fieldType") or "text"),
        group_name=str(data.get("groupName") or ""),
        has_unique_value=bool(data.get("hasUniqueValue", False)),
        hidden=bool(data.get("hidden", False)),
        form_field=bool(data.get("formField", False)),
        options=tuple(str(o.get("value")) for o in data.get("options") or [] if isinstance(o, Mapping)),
        hubspot_defined=bool(data.get("hubspotDefined", False)),
        read_only_value=bool(metadata.get("readOnlyValue", False)) if isinstance(metadata, Mapping) else False,
    )


def owner_from_api(data: Mapping[str, Any]) -> Owner:
    return Owner(
        id=str(data.get("id")),
        email=_text(data.get("email")),
        first_name=_text(data.get("firstName")),
        last_name=_text(data.get("lastName")),
        user_id=_text(data.get("userId")),
    )


def label_from_api(data: Mapping[str, Any]) -> AssociationLabel:
    return AssociationLabel(
        category=str(data.get("category") or "HUBSPOT_DEFINED"),
        type_id=int(data.get("typeId", data.get("associationTypeId", 0)) or 0),
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
