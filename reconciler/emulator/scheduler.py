"""``POST /scheduler/2026-03/meetings/calendar?organizerUserId=``: a calendar event + meeting.

Facts §8: all four body keys are required (``associations``, ``emailReminderSchedule``,
``timezone``, ``properties`` with six required properties); the answer is **200** with
the scheduler's own shape (``id, createdAt, lastUpdatedAt, properties``). The emulator
creates an ordinary meeting record and keeps the calendar event (organizer, timezone,
reminders) for inspection at ``/__emulator/calendar-events``.

Refused with 400 VALIDATION_ERROR, as the scheduler's schema types them: a
``hs_meeting_location_type`` outside ADDRESS|CUSTOM|PHONE, a time zone that does not exist,
times that are not ISO 8601 date-times (Unix ms is CRM-only), and an end before the start.
The messages are ours (HubSpot's are not documented).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.emulator.http_types import ApiRequest, HubSpotError, Reply, as_int, validation_error
from reconciler.emulator.portal import Portal
from reconciler.emulator.writes import create_records

REQUIRED_PROPERTIES = (
    "hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp",
    "hs_meeting_outcome", "hubspot_owner_id",
)
TIME_UNITS = ("MINUTES", "HOURS", "DAYS", "WEEKS")
LOCATION_TYPES = ("ADDRESS", "CUSTOM", "PHONE")  # the scheduler's enum (facts §4; no VCE here)
DATE_TIME_PROPERTIES = ("hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
#: ExternalCalendarMeetingEventCreateProperties: the only properties the endpoint takes;
#: any other key (a custom property, say) is ignored, not written to the meeting.
SCHEDULER_PROPERTIES = (
    *REQUIRED_PROPERTIES, "hs_activity_type", "hs_attachment_ids", "hs_attendee_owner_ids",
    "hs_internal_meeting_notes", "hs_meeting_body", "hs_meeting_location",
    "hs_meeting_location_type",
)


def _check_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected a calendar meeting request")
    missing = [k for k in ("associations", "emailReminderSchedule", "timezone", "properties")
               if k not in body]
    if missing:
        raise validation_error(f"Missing required field(s): {', '.join(missing)}")
    props = body["properties"]
    if not isinstance(props, dict):
        raise validation_error("properties must be an object")
    absent = [name for name in REQUIRED_PROPERTIES if props.get(name) in (None, "")]
    if absent:
        raise validation_error(f"Missing required properties: {', '.join(absent)}")
    schedule = body["emailReminderSchedule"]
    if not isinstance(schedule, dict) or not isinstance(schedule.get("reminders"), list) or \
            not isinstance(schedule.get("shouldIncludeInviteDescription"), bool):
        raise validation_error(
            "emailReminderSchedule needs reminders (array) and "
            "shouldIncludeInviteDescription (boolean)"
        )
    for reminder in schedule["reminders"]:
        if not isinstance(reminder, dict) or as_int(reminder.get("numberOfTimeUnits")) is None \
                or reminder.get("timeUnit") not in TIME_UNITS:
            raise validation_error(
                f"Each reminder needs numberOfTimeUnits and timeUnit in {list(TIME_UNITS)}"
            )
    if not isinstance(body["timezone"], str) or not body["timezone"]:
        raise validation_error("timezone must be a non-empty string")
    _check_timezone(body["timezone"])
    _check_properties(props)
    return body


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise validation_error(
            f"timezone {name!r} is not a known time zone (an IANA name such as Europe/Berlin)",
            context={"timezone": [name]},
        ) from None


def _check_properties(props: dict[str, Any]) -> None:
    """What ``ExternalCalendarMeetingEventCreateProperties`` types: date-time strings (not
    Unix ms), the ADDRESS|CUSTOM|PHONE location types, arrays for id lists; and an end that
    is not before the start."""
    moments = {}
    for name in DATE_TIME_PROPERTIES:
        value = props.get(name)
        moment = _date_time(value)
        if moment is None:
            raise validation_error(
                f"{name} must be an ISO 8601 date-time such as 2026-01-05T10:00:00Z, not {value!r}",
                context={"propertyName": [name]},
            )
        moments[name] = moment
    if moments["hs_meeting_end_time"] < moments["hs_meeting_start_time"]:
        raise validation_error(
            "hs_meeting_end_time must not be before hs_meeting_start_time",
            context={"propertyName": ["hs_meeting_end_time"]},
        )
    location_type = props.get("hs_meeting_location_type")
    if location_type is not None and location_type not in LOCATION_TYPES:
        raise validation_error(
            f"hs_meeting_location_type {location_type!r} is not one of {', '.join(LOCATION_TYPES)}",
            context={"propertyName": ["hs_meeting_location_type"]},
        )
    for name in ("hs_attachment_ids", "hs_attendee_owner_ids"):
        if name in props and not isinstance(props[name], list):
            raise validation_error(
                f"{name} must be an array of strings", context={"propertyName": [name]}
            )


def _date_time(value: Any) -> datetime | None:
    """An RFC 3339 date-time (OpenAPI ``format: date-time``), or None."""
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def _wire(value: Any) -> Any:
    """The scheduler takes arrays for id lists; CRM stores them ``;``-joined."""
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    return value


def create_calendar_meeting(portal: Portal, request: ApiRequest) -> Reply:
    organizer = request.query_one("organizerUserId")
    if not organizer:
        raise validation_error("organizerUserId is required")
    if organizer not in {str(owner.user_id) for owner in portal.config.owners}:
        raise validation_error(f"organizerUserId {organizer} is not a user of this portal")
    body = _check_body(request.body)
    schedule = body["emailReminderSchedule"]
    props = {name: _wire(value) for name, value in body["properties"].items()
             if name in SCHEDULER_PROPERTIES}
    associations = [
        {key: item[key] for key in ("to", "types") if key in item}
        if isinstance(item, dict) else item
        for item in body["associations"]
    ] if isinstance(body["associations"], list) else body["associations"]
    props["hs_engagement_source"] = "MEETINGS"
    props["hs_engagement_source_id"] = str(uuid.uuid4())
    props["hs_include_description_in_reminder"] = schedule["shouldIncludeInviteDescription"]
    good, _bad = create_records(
        portal, "meetings", [{"properties": props, "associations": associations}]
    )
    record = good[0].record
    if record is None:  # pragma: no cover - create_records raises for a bad input
        raise HubSpotError(
            500, {"status": "error", "message": "create failed", "category": "INTERNAL_ERROR"}
        )
    event = {
        "meetingId": str(record.id),
        "organizerUserId": organizer,
        "timezone": body["timezone"],
        "reminders": schedule["reminders"],
        "includeDescription": schedule["shouldIncludeInviteDescription"],
        "associations": associations,
        "createdAt": record.created_at,
    }
    with portal.store.transaction() as conn:
        portal.store.add_calendar_event(conn, record.id, event)
    shown: dict[str, Any] = {
        name: record.properties.get(name)
        for name in (*REQUIRED_PROPERTIES, "hs_engagement_source", "hs_engagement_source_id",
                     "hs_include_description_in_reminder", "hs_meeting_body", "hs_meeting_location",
                     "hs_meeting_location_type", "hs_internal_meeting_notes", "hs_activity_type")
        if record.properties.get(name) is not None
    }
    for name in ("hs_attachment_ids", "hs_attendee_owner_ids"):
        if record.properties.get(name):
            shown[name] = record.properties[name].split(";")
    return Reply(200, {"id": str(record.id), "createdAt": record.created_at,
                       "lastUpdatedAt": record.updated_at, "properties": shown})
