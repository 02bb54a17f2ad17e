"""Portal records → spec bodies, from plain data (no portal)."""

from __future__ import annotations

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
