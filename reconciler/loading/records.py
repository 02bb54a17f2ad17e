"""One spec file's sections → record drafts: friendly fields mapped to HubSpot properties.

A draft is plain JSON-able data (it is what the cache stores): HubSpot properties as wire
strings, relative time expressions still unresolved (they depend on the run's reference
time), associations with their type ids. Checks that need the whole project (duplicate
keys across files, references, default owner) happen in ``reconciler.loading.project``.

The mapping from friendly fields to HubSpot properties is ``reconciler.loading.friendly``;
the object types (sections, what HubSpot requires) are ``reconciler.object_types``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from reconciler.associations import default_type_id, wrong_pair_problem
from reconciler.loading.friendly import (
    CALL_DISPOSITIONS,
    FRIENDLY_FIELDS,
    HEADER_FIELDS,
    MAX_TEXT_CHARACTERS,
    disposition,
    email_headers,
    option_value,
    wire_value,
)
from reconciler.loading.issues import PathPart, PendingIssue
from reconciler.loading.times import (
    check_range,
    format_wire_time,
    is_relative,
    parse_absolute,
    parse_duration,
    resolve_time,
    zone,
)
from reconciler.model import ASSOCIATION_TARGET_NAMES, SECTION_OBJECT_TYPES
from reconciler.object_types import OBJECT_TYPES, required_properties

Draft = dict[str, Any]

#: hs_meeting_location_type values the meetings scheduler (calendar:) accepts.
CALENDAR_LOCATION_TYPES = ("ADDRESS", "CUSTOM", "PHONE")
_REMINDER_UNITS = {"m": "MINUTES", "h": "HOURS", "d": "DAYS", "w": "WEEKS"}
_REMINDER_MINUTES = {"MINUTES": 1, "HOURS": 60, "DAYS": 1440, "WEEKS": 7 * 1440}
_MOST_REMINDER_MINUTES = 3660 * 1440
#: Sections whose records take ``owner:`` and the project's ``default_owner``.
OWNED_SECTIONS = frozenset(t.section for t in OBJECT_TYPES if t.section and t.owned)
#: Any fixed instant: relative expressions are checked for syntax here, resolved later.
_SYNTAX_REFERENCE = datetime(2026, 1, 1, tzinfo=timezone.utc)
#: How an association item may name its target.
_TARGET_WORDS = ", ".join(f"{name}:" for name in ASSOCIATION_TARGET_NAMES)


class FileBuilder:
    """Builds the drafts of one validated spec document, collecting issues."""

    def __init__(self, display: str, timezone_name: str) -> None:
        self.display = display
        self.tz = timezone_name
        self.issues: list[PendingIssue] = []

    def issue(self, path: tuple[PathPart, ...], message: str, *, at_key: bool = False) -> None:
        self.issues.append(PendingIssue(self.display, path, message, at_key=at_key))

    def record(
        self, object_type: str, section: str, path: tuple[str, ...], body: Mapping[str, Any]
    ) -> Draft:
        draft: Draft = {
            "type": object_type,
            "key": path[-1],
            "path": list(path),
            "props": {},
            "rel": {},
            "assoc": [],
            "cal": None,
            "owner_email": None,
            "owns": False,
            "owned": section in OWNED_SECTIONS,
        }
        friendly = FRIENDLY_FIELDS.get(section, {})
        set_by: dict[str, str] = {}  # HubSpot property → the friendly field that set it
        for field, (prop, kind) in friendly.items():
            if field in body and kind != "headers":
                self._friendly(draft, path, field, prop, kind, body[field], set_by)
        if section == "meetings":
            self._meeting_extras(draft, path, body, set_by)
        elif section == "emails":
            self._headers(draft, path, body, set_by)
        if "owner" in body:
            self._owner(draft, path, body["owner"], set_by)
        self._raw_properties(draft, path, body.get("properties") or {}, set_by)
        self._check_properties(draft, path, set_by, section)
        listed: dict[str, PathPart] = {}  # each association once: what it names → its item
        for index, item in enumerate(body.get("associations") or []):
            self._association(draft, (*path, "associations", index), item, listed)
        return draft

    # -- fields -------------------------------------------------------------------------

    def _friendly(
        self,
        draft: Draft,
        path: tuple[str, ...],
        field: str,
        prop: str,
        kind: str,
        value: Any,
        set_by: dict[str, str],
    ) -> None:
        where = (*path, field)
        try:
            if kind in ("time", "time_ms"):  # time_ms: milliseconds once resolved (assembly)
                self._time(draft, prop, str(value))
            elif kind == "upper":
                draft["props"][prop] = str(value).upper()
            elif kind == "option":
                draft["props"][prop] = option_value(prop, value)
            elif kind == "duration_ms":
                delta = parse_duration(str(value))
                draft["props"][prop] = str(int(delta.total_seconds() * 1000))
            elif kind == "disposition":
                draft["props"][prop] = disposition(str(value))
            else:
                draft["props"][prop] = wire_value(value)
        except ValueError as exc:
            self.issue(where, str(exc))
            return
        set_by[prop] = field

    def _time(self, draft: Draft, prop: str, text: str) -> None:
        if is_relative(text):
            resolve_time(text, _SYNTAX_REFERENCE, self.tz)  # syntax check only
            draft["rel"][prop] = text.strip()
        else:
            draft["props"][prop] = format_wire_time(parse_absolute(text, self.tz))

    def _meeting_extras(
        self, draft: Draft, path: tuple[str, ...], body: Mapping[str, Any], set_by: dict[str, str]
    ) -> None:
        props, rel = draft["props"], draft["rel"]
        # hs_timestamp is what HubSpot sorts activities by; for meetings it is the start.
        if "hs_meeting_start_time" in props:
            props["hs_timestamp"] = props["hs_meeting_start_time"]
            set_by["hs_timestamp"] = "start"
        if "hs_meeting_start_time" in rel:
            rel["hs_timestamp"] = rel["hs_meeting_start_time"]
            set_by["hs_timestamp"] = "start"
        has_start = "hs_meeting_start_time" in props or "hs_meeting_start_time" in rel
        if "duration" in body:
            if "end" in body:
                self.issue((*path, "duration"), "set end or duration, not both", at_key=True)
            else:
                self._meeting_duration(draft, path, body, has_start)
                set_by["hs_meeting_end_time"] = "duration"
        if "calendar" in body:
            self._calendar(draft, path, body)

    def _meeting_duration(
        self, draft: Draft, path: tuple[str, ...], body: Mapping[str, Any], has_start: bool
    ) -> None:
        text, body_start = str(body["duration"]), str(body.get("start"))
        try:
            delta = parse_duration(text)
        except ValueError as exc:
            self.issue((*path, "duration"), str(exc))
            return
        props, rel = draft["props"], draft["rel"]
        if "hs_meeting_start_time" in rel:
            # A stable combined expression, so apply can pin it like the start.
            rel["hs_meeting_end_time"] = f"{rel['hs_meeting_start_time']} + {text.strip()}"
        elif has_start:
            start = datetime.fromisoformat(props["hs_meeting_start_time"].replace("Z", "+00:00"))
            try:
                end = check_range(start + delta, f"{body_start} + {text.strip()}")
            except (ValueError, OverflowError):
                self.issue((*path, "duration"), "start plus duration is after the year 2999")
                return
            props["hs_meeting_end_time"] = format_wire_time(end)

    def _calendar(self, draft: Draft, path: tuple[str, ...], body: Mapping[str, Any]) -> None:
        calendar = body["calendar"]
        where = (*path, "calendar")
        timezone_name = calendar.get("timezone")
        if timezone_name is not None:
            try:
                zone(str(timezone_name))
            except ValueError as exc:
                self.issue((*where, "timezone"), str(exc))
        reminders: list[list[Any]] = []
        for index, reminder in enumerate(calendar.get("reminders") or []):
            if isinstance(reminder, dict):
                number, unit = int(reminder["before"]), str(reminder["unit"]).upper()
            else:
                text = str(reminder).strip()
                number, unit = int(text[:-1].strip()), _REMINDER_UNITS[text[-1].lower()]
            if number < 1:
                self.issue((*where, "reminders", index), "a reminder must be at least 1 unit")
                continue
            if number * _REMINDER_MINUTES[unit] > _MOST_REMINDER_MINUTES:
                # HubSpot's numberOfTimeUnits is an int: 10**23 hours is a 400 at apply
                self.issue((*where, "reminders", index), f"{number:,} {unit.lower()} is more "
                           "than ten years before the meeting")
                continue
            reminders.append([number, unit])
        draft["cal"] = {
            "organizer": str(calendar["organizer"]),
            "timezone": str(timezone_name) if timezone_name is not None else None,
            "reminders": reminders,
            "include_description": bool(calendar.get("include_description", False)),
        }
        # The scheduler's enum is shorter than the CRM property's options (which also hold
        # VCE): hubspot-api-facts.md, hs_meeting_location_type.
        for where_type, value in (
            ((*path, "location_type"), body.get("location_type")),
            ((*path, "properties", "hs_meeting_location_type"),
             (body.get("properties") or {}).get("hs_meeting_location_type")),
        ):  # fmt: skip
            if value is not None and str(value).upper() not in CALENDAR_LOCATION_TYPES:
                self.issue(
                    where_type,
                    f"{str(value)!r} is not a location type the meetings scheduler takes; "
                    f"a calendar meeting uses one of {', '.join(CALENDAR_LOCATION_TYPES)}",
                )
        props, rel = draft["props"], draft["rel"]
        has_end = "hs_meeting_end_time" in props or "hs_meeting_end_time" in rel
        if not has_end and "end" not in body and "duration" not in body:
            self.issue(where, "a calendar meeting needs an end or a duration", at_key=True)
        if "outcome" not in body and "hs_meeting_outcome" not in (body.get("properties") or {}):
            props["hs_meeting_outcome"] = "SCHEDULED"  # the scheduler requires an outcome

    def _headers(
        self, draft: Draft, path: tuple[str, ...], body: Mapping[str, Any], set_by: dict[str, str]
    ) -> None:
        """An email's ``from``/``to``/``cc``/``bcc``: one property, ``hs_email_headers``."""
        given = [name for name in HEADER_FIELDS if name in body]
        if not given:
            return
        headers, problems = email_headers(body)
        for where, message in problems:
            self.issue((*path, *where), message)
        if not problems:
            draft["props"]["hs_email_headers"] = headers
            set_by["hs_email_headers"] = given[0]

    def _owner(
        self, draft: Draft, path: tuple[str, ...], value: Any, set_by: dict[str, str]
    ) -> None:
        owner = parse_owner(value)
        if owner is None:
            self.issue(
                (*path, "owner"),
                f'{value!r} is not an owner; use an owner id like "1001" or an email',
            )
            return
        kind, text = owner
        if kind == "id":
            draft["props"]["hubspot_owner_id"] = text
            set_by["hubspot_owner_id"] = "owner"
        else:
            draft["owner_email"] = text
            set_by["hubspot_owner_id"] = "owner"
        draft["owns"] = True

    def _raw_properties(
        self,
        draft: Draft,
        path: tuple[str, ...],
        raw: Mapping[str, Any],
        set_by: Mapping[str, str],
    ) -> None:
        for name, value in raw.items():
            where = (*path, "properties", name)
            if name in set_by:
                self.issue(
                    where,
                    f"{name} is also set by the field {set_by[name]!r}; keep only one of them",
                    at_key=True,
                )
                continue
            try:
                draft["props"][name] = wire_value(value)
            except ValueError as exc:
                self.issue(where, str(exc))
            draft["rel"].pop(name, None)
            if name == "hubspot_owner_id":
                draft["owns"] = True

    def _check_properties(
        self, draft: Draft, path: tuple[str, ...], set_by: Mapping[str, str], section: str
    ) -> None:
        """What HubSpot refuses of any value, whatever the portal: a text longer than a
        text property holds, and a create without a property its type requires (the
        schema requires the friendly fields that set them in the types' own sections)."""
        for name, value in draft["props"].items():
            if len(value) > MAX_TEXT_CHARACTERS:
                field = set_by.get(name)
                where = (*path, field) if field else (*path, "properties", name)
                self.issue(where, f"{name} is {len(value):,} characters; HubSpot's text "
                                  f"properties hold at most {MAX_TEXT_CHARACTERS:,}")
        if section != "objects":
            return
        for name, hint in required_properties(draft["type"]).items():
            if name not in draft["props"] and name not in draft["rel"]:
                self.issue(path, f"{draft['type']} need {name}, {hint}; HubSpot refuses "
                                 "to create one without it", at_key=True)

    # -- associations ---------------------------------------------------------------

    def _association(
        self,
        draft: Draft,
        where: tuple[PathPart, ...],
        item: Mapping[str, Any],
        seen: dict[str, PathPart],
    ) -> None:
        from_type = draft["type"]
        names = [name for name in ASSOCIATION_TARGET_NAMES if name in item]
        targets = names + (["object"] if "object" in item else [])
        if len(targets) != 1:
            if targets:
                listed = " and ".join(targets)
                message = f"names more than one target ({listed}); use one item per target"
            else:
                message = f"name the target: {_TARGET_WORDS}, or object: with key: or id:"
            self.issue(where, message)
            return
        to_key: str | None = None
        to_id: str | None = None
        field = names[0] if names else ("key" if "key" in item else "id")
        if names:
            to_type = ASSOCIATION_TARGET_NAMES[names[0]]
            if "key" in item or "id" in item:
                self.issue(
                    where,
                    f"key: and id: go with object:; write {names[0]}: <key> or "
                    f'{names[0]}: {{id: "123"}}',
                )
                return
            target = item[names[0]]
            if isinstance(target, dict):
                to_id = str(target["id"])
            else:
                to_key = str(target)
        else:
            to_type = str(item["object"])
            if to_type in ASSOCIATION_TARGET_NAMES:
                to_type = ASSOCIATION_TARGET_NAMES[to_type]
            if ("key" in item) == ("id" in item):
                self.issue(where, "with object:, give exactly one of key: and id:")
                return
            to_key = str(item["key"]) if "key" in item else None
            to_id = str(item["id"]) if "id" in item else None
        label = item.get("label")
        type_id = item.get("type_id")
        if label is not None and type_id is not None:
            self.issue(where, "give label or type_id, not both")
            return
        if label is None and type_id is None:
            type_id = default_type_id(from_type, to_type)
            if type_id is None:
                self.issue(
                    where,
                    f"{from_type} cannot be associated to {to_type} without a type_id "
                    "(HubSpot defines no default for this pair); add type_id: or label:",
                )
                return
        category = str(item.get("category", "HUBSPOT_DEFINED"))
        if "type_id" in item and category == "HUBSPOT_DEFINED":
            problem = wrong_pair_problem(from_type, to_type, int(item["type_id"]))
            if problem is not None:
                self.issue((*where, "type_id"), problem)
                return
        entry = [to_type, to_key, to_id, category, type_id, label, list(where), field]
        # A dict, not a scan of the earlier items: 50k associations must not be quadratic.
        named = repr(entry[:6])
        if named in seen:
            self.issue(where, f"the same association is listed twice (also item {seen[named]})")
            return
        seen[named] = where[-1]
        draft["assoc"].append(entry)


def parse_owner(value: Any) -> tuple[str, str] | None:
    """``1001`` / ``"1001"`` → ("id", "1001"); ``a@b.c`` → ("email", "a@b.c"); else None."""
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    if text.isdigit() and text.isascii():
        return ("id", text)
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        return ("email", text)
    return None


def build_drafts(
    document: Mapping[str, Any],
    display: str,
    timezone_name: str,
    skip: set[tuple[str, ...]],
) -> tuple[list[Draft], list[tuple[str, str, tuple[str, ...]]], list[PendingIssue]]:
    """Drafts of every record in ``document`` except those in ``skip`` (schema errors).

    Also returns every record's ``(object type, key, path)``, skipped ones included, so a
    record with a typo does not also make every reference to it "unknown".
    """
    builder = FileBuilder(display, timezone_name)
    drafts: list[Draft] = []
    keys: list[tuple[str, str, tuple[str, ...]]] = []
    for section, records in document.items():
        path: tuple[str, ...]
        if section in SECTION_OBJECT_TYPES and isinstance(records, dict):
            for key, body in records.items():
                path = (section, str(key))
                keys.append((SECTION_OBJECT_TYPES[section], str(key), path))
                if path not in skip and isinstance(body, dict):
                    drafts.append(
                        builder.record(SECTION_OBJECT_TYPES[section], section, path, body)
                    )
        elif section == "objects" and isinstance(records, dict):
            for object_type, keyed in records.items():
                if object_type in SECTION_OBJECT_TYPES:
                    builder.issue(
                        ("objects", object_type),
                        f"{object_type} have their own section: write them under "
                        f"{object_type}: instead of objects.{object_type}",
                        at_key=True,
                    )
                    continue
                if not isinstance(keyed, dict):
                    continue
                for key, body in keyed.items():
                    path = ("objects", object_type, str(key))
                    keys.append((object_type, str(key), path))
                    if path not in skip and isinstance(body, dict):
                        drafts.append(builder.record(object_type, "objects", path, body))
    return drafts, keys, builder.issues


__all__ = [
    # (the friendly fields live in ``reconciler.loading.friendly``; kept importable here)
    "CALL_DISPOSITIONS",
    "FRIENDLY_FIELDS",
    "Draft",
    "FileBuilder",
    "build_drafts",
    "parse_owner",
    "wire_value",
]
