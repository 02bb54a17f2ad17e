"""Friendly fields: what each section's fields are called, and how a value becomes HubSpot's.

``FRIENDLY_FIELDS`` maps a section's friendly field to its HubSpot property and the kind of
conversion (``reconciler.loading.records.FileBuilder`` applies it); the spec schema
(``schemas/spec.schema.json``) describes the same fields for editors. A new object type
gets its row in ``reconciler.object_types`` and its fields here.

Options that portals can edit (meeting outcomes, task statuses, ...) are not refused here:
a documented value is written in HubSpot's upper case, anything else is passed on as
written, and ``plan`` checks it against the portal's options (``planning/catalogue``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

#: friendly field → (HubSpot property, kind). Kinds: text; upper (an enum, normalised to
#: HubSpot's upper case); option (a documented value in upper case, else as written:
#: ``DOCUMENTED_OPTIONS``); time; time_ms (a time, sent as Unix milliseconds);
#: number; duration_ms; disposition; headers (one of from/to/cc/bcc of an email, all
#: written together into ``hs_email_headers``).
FRIENDLY_FIELDS: Mapping[str, Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "meetings": {
            "title": ("hs_meeting_title", "text"),
            "start": ("hs_meeting_start_time", "time"),
            "end": ("hs_meeting_end_time", "time"),
            "body": ("hs_meeting_body", "text"),
            "notes": ("hs_internal_meeting_notes", "text"),
            "location": ("hs_meeting_location", "text"),
            "location_type": ("hs_meeting_location_type", "upper"),
            "outcome": ("hs_meeting_outcome", "option"),
        },
        "calls": {
            "title": ("hs_call_title", "text"),
            "timestamp": ("hs_timestamp", "time"),
            "body": ("hs_call_body", "text"),
            "direction": ("hs_call_direction", "upper"),
            "status": ("hs_call_status", "upper"),
            "duration": ("hs_call_duration", "duration_ms"),
            "from_number": ("hs_call_from_number", "text"),
            "to_number": ("hs_call_to_number", "text"),
            "disposition": ("hs_call_disposition", "disposition"),
            "recording_url": ("hs_call_recording_url", "text"),
        },
        "notes": {
            "body": ("hs_note_body", "text"),
            "timestamp": ("hs_timestamp", "time"),
        },
        "tasks": {
            "subject": ("hs_task_subject", "text"),
            "body": ("hs_task_body", "text"),
            "status": ("hs_task_status", "option"),
            "priority": ("hs_task_priority", "option"),
            "type": ("hs_task_type", "option"),
            "due": ("hs_timestamp", "time"),
            "reminders": ("hs_task_reminders", "time_ms"),
        },
        "emails": {
            "subject": ("hs_email_subject", "text"),
            "text": ("hs_email_text", "text"),
            "html": ("hs_email_html", "text"),
            "direction": ("hs_email_direction", "option"),
            "status": ("hs_email_status", "option"),
            "from": ("hs_email_headers", "headers"),
            "to": ("hs_email_headers", "headers"),
            "cc": ("hs_email_headers", "headers"),
            "bcc": ("hs_email_headers", "headers"),
            "timestamp": ("hs_timestamp", "time"),
        },
        "contacts": {
            "email": ("email", "text"),
            "first_name": ("firstname", "text"),
            "last_name": ("lastname", "text"),
            "phone": ("phone", "text"),
            "job_title": ("jobtitle", "text"),
        },
        "companies": {
            "name": ("name", "text"),
            "domain": ("domain", "text"),
            "industry": ("industry", "text"),
            "phone": ("phone", "text"),
            "city": ("city", "text"),
            "country": ("country", "text"),
        },
        "deals": {
            "name": ("dealname", "text"),
            "stage": ("dealstage", "text"),
            "pipeline": ("pipeline", "text"),
            "amount": ("amount", "number"),
            "close_date": ("closedate", "time"),
        },
    }
)

#: The values HubSpot documents for options a portal can edit (facts §4, §14): written in
#: upper case however they are spelt (``no show`` → ``NO_SHOW``); any other value is a
#: portal's own option, passed on as written and checked by ``plan``.
DOCUMENTED_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "hs_meeting_outcome": ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"),
        "hs_task_status": ("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
        "hs_task_priority": ("LOW", "MEDIUM", "HIGH"),
        "hs_task_type": ("EMAIL", "CALL", "TODO"),
        "hs_email_direction": ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
        "hs_email_status": ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"),
    }
)
#: Plainer words for documented options: an email's direction as a person says it.
OPTION_ALIASES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "hs_email_direction": {
            "OUTGOING": "EMAIL", "INCOMING": "INCOMING_EMAIL", "FORWARDED": "FORWARDED_EMAIL",
        },
    }
)
#: Time properties HubSpot takes in Unix milliseconds only (the tasks guide: "You must use
#: Unix timestamp in milliseconds" for ``hs_task_reminders``): drafts keep them as times
#: like any other, the loader writes the milliseconds once they are resolved.
EPOCH_MS_PROPERTIES = frozenset(
    prop for fields in FRIENDLY_FIELDS.values() for prop, kind in fields.values()
    if kind == "time_ms"
)
#: HubSpot's limit for a text property: "A plain text string, limited to 65,536
#: characters" (properties guide, type table; the notes guide says it of hs_note_body).
MAX_TEXT_CHARACTERS = 65_536

#: HubSpot's default call outcomes (hs_call_disposition GUIDs; hubspot-api-facts.md §5).
CALL_DISPOSITIONS: Mapping[str, str] = MappingProxyType(
    {
        "busy": "9d9162e7-6cf3-4944-bf63-4dff82258764",
        "connected": "f240bbac-87c9-4f6e-bf70-924b57d47db7",
        "left_live_message": "a4c4c377-d246-4b32-a13b-75a56a4cd0ff",
        "left_voicemail": "b2cf5968-551e-4856-9783-52b3da59a7d0",
        "no_answer": "73a0d17f-1163-4015-bdd5-ec830791da20",
        "wrong_number": "17b47fee-58de-441e-a44c-c6300d46f273",
    }
)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")
_NAMED_ADDRESS = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>")
#: The recipients of an email, in the order ``hs_email_headers`` holds them.
HEADER_FIELDS = ("from", "to", "cc", "bcc")


def wire_value(value: Any) -> str:
    """A YAML scalar → HubSpot's string form (``True`` → ``"true"``, ``2.0`` → ``"2"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def option_value(prop: str, value: Any) -> str:
    """A documented option in HubSpot's upper case (``no show`` → ``NO_SHOW``, an email's
    ``outgoing`` → ``EMAIL``); any other value as written, for ``plan`` to check against
    the portal's own options."""
    text = wire_value(value)
    word = re.sub(r"[\s-]+", "_", text.strip()).upper()
    if word in DOCUMENTED_OPTIONS.get(prop, ()):
        return word
    return OPTION_ALIASES.get(prop, {}).get(word, text)


def disposition(text: str) -> str:
    name = text.strip().lower().replace(" ", "_").replace("-", "_")
    if name in CALL_DISPOSITIONS:
        return CALL_DISPOSITIONS[name]
    if _GUID.fullmatch(text.strip()):
        return text.strip().lower()
    raise ValueError(
        f"{text!r} is not a call disposition; use one of {', '.join(CALL_DISPOSITIONS)} "
        "or a custom outcome's GUID"
    )


def email_address(value: Any) -> dict[str, str]:
    """One address of an email's headers, as HubSpot's ``hs_email_headers`` holds it:
    ``jane@example.com``, ``Jane Doe <jane@example.com>`` or ``{email, first_name,
    last_name}`` → ``{"email", "firstName", "lastName"}`` (names only when given)."""
    first: str | None = None
    last: str | None = None
    if isinstance(value, dict):
        unknown = [str(k) for k in value if k not in ("email", "first_name", "last_name")]
        if unknown:
            raise ValueError(
                f"unknown field {unknown[0]!r} in an address; use email, first_name, last_name"
            )
        if not isinstance(value.get("email"), str):
            raise ValueError("an address needs email: (text)")
        email = value["email"].strip()
        names = [value.get("first_name"), value.get("last_name")]
        if any(n is not None and not isinstance(n, str) for n in names):
            raise ValueError("first_name and last_name are text")
        first, last = (n.strip() or None if isinstance(n, str) else None for n in names)
    elif isinstance(value, str):
        text = value.strip()
        named = _NAMED_ADDRESS.fullmatch(text)
        email = named["email"].strip() if named else text
        if named and named["name"].strip(' "'):
            first, _, rest = named["name"].strip(' "').partition(" ")
            last = rest.strip() or None
    else:
        raise ValueError(
            "an address is text (jane@example.com or 'Jane Doe <jane@example.com>') or "
            "{email: ..., first_name: ..., last_name: ...}"
        )
    if not _EMAIL.fullmatch(email):
        raise ValueError(f"{email!r} is not an email address; write it like jane@example.com")
    address = {"email": email}
    if first:
        address["firstName"] = first
    if last:
        address["lastName"] = last
    return address


def email_headers(
    fields: Mapping[str, Any],
) -> tuple[str, list[tuple[tuple[str | int, ...], str]]]:
    """``hs_email_headers`` from an email's ``from``/``to``/``cc``/``bcc`` (those given),
    and the problems as (where: the field, and the index in its list; message). HubSpot
    fills the read-only sender and recipient
    properties (``hs_email_from_email``, ``hs_email_to_email``, ...) from it.

    The JSON is written one way only (keys in HubSpot's order, ``cc``/``bcc`` always
    there, no spaces), so the same spec always sends the same text and plans compare
    equal."""
    headers: dict[str, Any] = {}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name in HEADER_FIELDS:
        value = fields.get(name)
        if name == "from":
            if value is None:
                continue
            if isinstance(value, list):
                problems.append(((name,), "an email has one sender; write from: as one address"))
                continue
            try:
                headers["from"] = email_address(value)
            except ValueError as exc:
                problems.append(((name,), str(exc)))
            continue
        items = value if isinstance(value, list) else ([] if value is None else [value])
        listed: list[dict[str, str]] = []
        for index, item in enumerate(items):
            try:
                listed.append(email_address(item))
            except ValueError as exc:
                problems.append(((name, index) if isinstance(value, list) else (name,), str(exc)))
        headers[name] = listed
    return json.dumps(headers, separators=(",", ":"), ensure_ascii=False), problems


__all__ = [
    "CALL_DISPOSITIONS",
    "DOCUMENTED_OPTIONS",
    "EPOCH_MS_PROPERTIES",
    "FRIENDLY_FIELDS",
    "HEADER_FIELDS",
    "MAX_TEXT_CHARACTERS",
    "OPTION_ALIASES",
    "disposition",
    "email_address",
    "email_headers",
    "option_value",
    "wire_value",
]
