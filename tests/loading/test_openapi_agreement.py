"""What the loader produces for calendar meetings fits HubSpot's scheduler API (its OpenAPI spec)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.loading.project import load_project
from reconciler.loading.records import FRIENDLY_FIELDS

from .conftest import EXAMPLES, REPO, SMALL_VARS

OPENAPI = Path(REPO).parent / "shared" / "hubspot-openapi"
SCHEDULER = OPENAPI / "scheduler-meetings-2026-03.json"


@pytest.fixture(scope="module")
def scheduler_schemas() -> dict[str, Any]:
    if not SCHEDULER.is_file():
        pytest.skip(f"HubSpot's OpenAPI specs are not at {OPENAPI} (../shared/hubspot-openapi)")
    schemas: dict[str, Any] = json.loads(SCHEDULER.read_text(encoding="utf-8"))["components"][
        "schemas"
    ]
    return schemas


def test_reminder_units_are_the_schedulers(scheduler_schemas: dict[str, Any]) -> None:
    units = set(scheduler_schemas["ExternalReminder"]["properties"]["timeUnit"]["enum"])
    assert units == {"MINUTES", "HOURS", "DAYS", "WEEKS"}
    spec_units = json.loads((REPO / "schemas" / "spec.schema.json").read_text())["$defs"][
        "reminder"
    ]["anyOf"][1]["properties"]["unit"]["enum"]
    assert {u.upper() for u in spec_units} == units


def test_meeting_fields_are_scheduler_properties(scheduler_schemas: dict[str, Any]) -> None:
    known = set(scheduler_schemas["ExternalCalendarMeetingEventCreateProperties"]["properties"])
    ours = {prop for prop, _ in FRIENDLY_FIELDS["meetings"].values()}
    assert ours <= known, ours - known


def test_example_calendar_meeting_has_what_the_scheduler_requires(
    scheduler_schemas: dict[str, Any], reference: datetime
) -> None:
    required = set(scheduler_schemas["ExternalCalendarMeetingEventCreateProperties"]["required"])
    desired = load_project(EXAMPLES, reference_time=reference, use_cache=False,
                           variables=SMALL_VARS)
    (meeting,) = [r for r in desired.records.values() if r.calendar is not None]
    have = set(meeting.properties) | ({"hubspot_owner_id"} if meeting.owner_email else set())
    assert required <= have, required - have
