"""``POST /scheduler/2026-03/meetings/calendar?organizerUserId=``: a calendar event + meeting.

Facts §8: all four body keys are required (``associations``, ``emailReminderSchedule``,
``timezone``, ``properties`` with six required properties); the answer is **200** with
the scheduler's own shape (``id, createdAt, lastUpdatedAt, properties``). The emulator
creates an ordinary meeting record and keeps the calendar event (organizer, timezone,
reminders) for inspection at ``/__emulator/calendar-events``.
"""

from __future__ import annotations

import uuid
from typing import Any

from reconciler.emulator.http_types import ApiRequest, HubSpotError, Reply, validation_error
from reconciler.emulator.objects import create_records
from reconciler.emulator.portal import Portal

REQUIRED_PROPERTIES = (
    "hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp",
    "hs_meeting_outcome", "hubspot_owner_id",
)
TIME_UNITS = ("MINUTES", "HOURS", "DAYS", "WEEKS")
#: ExternalCalendarMeetingEventCreateProperties: the only properties the endpoint takes;
#: any other key (a custom property, say) is ignored, not written to the meeting.
SCHEDULER_PROPERTIES = (
    *REQUIRED_PROPERTIES, "hs_activity_type", "hs_attachment_ids", "hs_attendee_owner_ids",
    "hs_internal_meeting_notes", "hs_meeting_body", "hs_meeting_location", "hs_meeting_location_type",
)


def _check_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected a calendar meeting request")
    missing = [k for k in ("associations", "emailReminderSchedule", "timezone", "properties") if k not in body]
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
            "emailReminderSchedule needs reminders (array) and shouldIncludeInviteDescription (boolean)"
        )
    for reminder in schedule["reminders"]:
        if not isinstance(reminder, dict) or not isinstance(reminder.get("numberOfTimeUnits"), int) \
                or reminder.get("timeUnit") not in TIME_UNITS:
            raise validation_error(f"Each reminder needs numberOfTimeUnits and timeUnit in {list(TIME_UNITS)}")
    if not isinstance(body["timezone"], str) or not body["timezone"]:
        raise validation_error("timezone must be a non-empty string")
    return body


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
    props = {
        name: _wire(value) for name, value in body["properties"].items() if name in SCHEDULER_PROPERTIES
    }
    associations = [
        {key: item[key] for key in ("to", "types") if key in item} if isinstance(item, dict) else item
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
        raise HubSpotError(500, {"status": "error", "message": "create failed", "category": "INTERNAL_ERROR"})
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
