"""Portal records → spec bodies, from plain data (no portal)."""

from __future__ import annotations

from datetime import datetime, timezone

from reconciler.export.convert import convert
from reconciler.export.reading import PortalSnapshot, PropertyInfo
from reconciler.hubspot.records import RemoteRecord


def _infos(*names: str, read_only: tuple[str, ...] = ()) -> dict[str, PropertyInfo]:
    return {n: PropertyInfo(n, "string", n not in read_only) for n in (*names, *read_only)}


def test_what_the_spec_cannot_say_is_left_out_and_the_rest_is_written_friendly() -> None:
    snapshot = PortalSnapshot(
        records={
            "meetings": {"5": RemoteRecord("5", {"hs_meeting_title": "No start"})},
            "calls": {"6": RemoteRecord("6", {
                "hs_timestamp": "2026-11-20T14:00:00.000Z",
                "hs_call_status": "VOICEMAIL_LEFT",  # a portal's own status: not an enum value
                "hs_call_disposition": "0f0f0f0f-1111-2222-3333-444444444444",
                "hubspot_owner_id": "999",
                "hs_body_preview": "set by HubSpot",
                "hs_secret_score": "7",
                "reconciler_key": "golden:calls/x",
                "my_field": "kept",
            })},
        },
        associations={("calls", "meetings"): {"6": (("5", 399),)}},
        properties={
            "calls": _infos("hs_timestamp", "hs_call_status", "hs_call_disposition",
                            "hubspot_owner_id", "hs_body_preview", "reconciler_key",
                            "my_field", read_only=("hs_secret_score",)),
        },
        owner_emails={"1001": "alice@example.com"},
    )
    converted = convert(snapshot, "UTC")
    assert converted.sections == {"calls": {"call-2026-11-20": {
        "timestamp": "2026-11-20T14:00:00+00:00",
        "disposition": "0f0f0f0f-1111-2222-3333-444444444444",
        "owner": "999",
        "properties": {"hs_call_status": "VOICEMAIL_LEFT", "my_field": "kept"},
    }}}
    assert converted.sources == {"calls/call-2026-11-20": "6"}
    # the meeting is left out, so the call's association to it is too (no unknown key)
    assert converted.dropped_associations == 1
    assert converted.notes == [
        "meetings/no-start (id 5) has no start time, which the spec requires; left out",
        "calls/call-2026-11-20: owner 999 is not in the owners API; kept as an id, which means "
        "nothing in another portal (map it with the target's owners:)",
    ]


def test_activities_without_a_time_are_left_out_and_a_tickets_owner_is_noted() -> None:
    snapshot = PortalSnapshot(
        records={
            "notes": {"7": RemoteRecord("7", {"hs_note_body": "no time"})},
            "tasks": {"8": RemoteRecord("8", {"hs_task_subject": "Call back",
                                              "hs_timestamp": "1796896800000",
                                              "hs_task_reminders": "1796893200000",
                                              "hs_task_status": "WAITING"})},
            "tickets": {"9": RemoteRecord("9", {"subject": "Jam", "hubspot_owner_id": "1001",
                                                "hs_pipeline": "0"})},
        },
        properties={"tickets": _infos("subject", "hs_pipeline", "hubspot_owner_id")},
        owner_emails={"1001": "alice@example.com"},
    )
    converted = convert(snapshot, "UTC", relative_to=datetime(2026, 12, 6, tzinfo=timezone.utc))
    assert converted.sections == {
        "tickets": {"jam": {"properties": {"hs_pipeline": "0", "subject": "Jam"}}},
        "tasks": {"call-back": {"subject": "Call back", "due": "+4d 10:00",
                                "status": "WAITING", "reminders": "+4d 09:00"}},
    }
    assert converted.notes == [
        "notes/note (id 7) has no hs_timestamp, which the spec requires; left out",
        "tickets/jam: owner 1001 left out (a spec gives tickets no owner:)",
    ]
