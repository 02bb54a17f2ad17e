"""The scheduler calendar endpoint, owners, and the properties API."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator.embedded import Emulator


def _calendar_body(contact: str, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "associations": [{"to": {"id": contact}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}]}],
        "emailReminderSchedule": {"reminders": [{"numberOfTimeUnits": 1, "timeUnit": "HOURS"}], "shouldIncludeInviteDescription": True},
        "timezone": "Europe/Berlin",
        "properties": {
            "hs_meeting_title": "Demo", "hs_meeting_start_time": "2026-01-05T10:00:00Z",
            "hs_meeting_end_time": "2026-01-05T11:00:00Z", "hs_timestamp": "2026-01-05T10:00:00Z",
            "hs_meeting_outcome": "SCHEDULED", "hubspot_owner_id": "1001", "hs_attendee_owner_ids": ["1002"],
        },
    }
    body.update(overrides)
    return body


def test_calendar_meeting(api: httpx.Client, emulator: Emulator) -> None:
    contact = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "c@example.com"}, "associations": []}).json()["id"]
    response = api.post("/scheduler/2026-03/meetings/calendar", params={"organizerUserId": "5001"}, json=_calendar_body(contact))
    assert response.status_code == 200
    body = response.json()
    assert {"id", "createdAt", "lastUpdatedAt", "properties"} <= body.keys()
    assert body["properties"]["hs_engagement_source"] and body["properties"]["hs_engagement_source_id"]
    assert body["properties"]["hs_attendee_owner_ids"] == ["1002"]
    stored = emulator.records("meetings")
    assert stored[0]["id"] == body["id"]
    event = emulator.calendar_events()[0]
    assert event["organizerUserId"] == "5001" and event["timezone"] == "Europe/Berlin"
    assert event["includeDescription"] is True
    assert httpx.get(emulator.base_url + "/__emulator/calendar-events").json()["results"] == [event]


@pytest.mark.contract(requests=False)
def test_calendar_meeting_validation(api: httpx.Client, emulator: Emulator) -> None:
    contact = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "d@example.com"}, "associations": []}).json()["id"]
    unknown_user = api.post("/scheduler/v3/meetings/calendar", params={"organizerUserId": "1001"}, json=_calendar_body(contact))
    assert unknown_user.status_code == 400 and "organizerUserId" in unknown_user.json()["message"]
    body = _calendar_body(contact)
    del body["timezone"]
    assert api.post("/scheduler/v3/meetings/calendar", params={"organizerUserId": "5001"}, json=body).status_code == 400
    assert emulator.records("meetings") == []


def test_owners(api: httpx.Client) -> None:
    owners = api.get("/crm/v3/owners").json()["results"]
    assert [o["email"] for o in owners] == ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert owners[0]["id"] == "1001" and owners[0]["userId"] == 5001
    bob = api.get("/crm/owners/2026-03", params={"email": "bob@example.com"}).json()["results"]
    assert [o["id"] for o in bob] == ["1002"]
    assert api.get("/crm/v3/owners/1003").json()["email"] == "carol@example.com"


def test_properties_catalogue_and_custom(api: httpx.Client) -> None:
    names = {p["name"]: p for p in api.get("/crm/v3/properties/meetings").json()["results"]}
    outcome = names["hs_meeting_outcome"]
    assert [o["value"] for o in outcome["options"]] == ["SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"]
    created = api.post("/crm/v3/properties/meetings", json={
        "name": "reconciler_key", "label": "Reconciler key", "type": "string", "fieldType": "text",
        "groupName": "meetinginformation"})
    assert created.status_code == 201
    made = api.post("/crm/v3/objects/meetings", json={"properties": {"reconciler_key": "k", "hs_timestamp": "0"}, "associations": []})
    assert made.status_code == 201
    again = api.post("/crm/properties/2026-03/meetings", json={
        "name": "reconciler_key", "label": "x", "type": "string", "fieldType": "text", "groupName": "meetinginformation"})
    assert again.status_code == 409


def test_unique_values_are_refused_for_engagements(api: httpx.Client) -> None:
    response = api.post("/crm/v3/properties/calls", json={
        "name": "ext_id", "label": "Ext", "type": "string", "fieldType": "text", "groupName": "callinformation",
        "hasUniqueValue": True})
    assert response.status_code == 400
    assert "hasUniqueValue is not supported for calls" in response.json()["message"]


@pytest.mark.contract(requests=False)  # sends a property the scheduler's schema does not define
def test_calendar_meeting_ignores_properties_its_schema_does_not_define(api: httpx.Client, emulator: Emulator) -> None:
    api.post("/crm/v3/properties/meetings", json={
        "name": "reconciler_key", "label": "Key", "type": "string", "fieldType": "text", "groupName": "meetinginformation"})
    contact = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "e@example.com"}, "associations": []}).json()["id"]
    body = _calendar_body(contact)
    body["properties"]["reconciler_key"] = "p:meetings/x"  # type: ignore[index]
    response = api.post("/scheduler/2026-03/meetings/calendar", params={"organizerUserId": "5001"}, json=body)
    assert response.status_code == 200, response.text
    assert "reconciler_key" not in emulator.records("meetings")[0]["properties"]


def test_account_details_in_hubspots_documented_shape(api: httpx.Client, emulator: Emulator) -> None:
    response = api.get("/account-info/v3/details")
    assert response.status_code == 200
    body = response.json()
    assert body["portalId"] == emulator.config.portal_id == 1234567
    assert set(body) == {"portalId", "accountType", "timeZone", "companyCurrency", "additionalCurrencies",
                         "dataHostingLocation", "uiDomain", "utcOffset", "utcOffsetMilliseconds"}
    assert body["accountType"] in ("APP_DEVELOPER", "DEVELOPER_TEST", "SANDBOX", "STANDARD")
    assert body["utcOffset"] in ("-05:00", "-04:00") and body["utcOffsetMilliseconds"] in (-18000000, -14400000)
    assert response.headers["X-HubSpot-Correlation-Id"]
    emulator.set_config(portal_id=2519445)
    assert api.get("/account-info/2026-03/details").json()["portalId"] == 2519445
    patched = httpx.patch(emulator.base_url + "/__emulator/config", json={"portal_id": 42})
    assert patched.status_code == 200 and patched.json()["portal_id"] == 42
    assert httpx.patch(emulator.base_url + "/__emulator/config", json={"portal_id": -1}).status_code == 400
    emulator.set_config(scopes=("crm.objects.contacts.read",))
    assert api.get("/account-info/v3/details").status_code == 403  # HubSpot's guide: scope oauth
    emulator.set_config(scopes=("oauth",))
    assert api.get("/account-info/v3/details").status_code == 200


def test_reconciler_client_reads_the_portal_id(emulator: Emulator) -> None:
    from reconciler.hubspot.client import HubSpotClient
    from reconciler.hubspot.connection import ClientSettings

    emulator.set_config(portal_id=777)
    with HubSpotClient(ClientSettings(base_url=emulator.base_url, token=emulator.token)) as client:
        assert client.account_portal_id() == 777


@pytest.mark.contract(requests=False)  # the bodies break the scheduler schema on purpose
@pytest.mark.parametrize(
    ("properties", "timezone", "expected"),
    [
        ({"hs_meeting_location_type": "VCE"}, "Europe/Berlin", "hs_meeting_location_type"),
        ({}, "Mars/Olympus_Mons", "timezone"),
        ({"hs_meeting_end_time": "2026-01-05T09:00:00Z"}, "Europe/Berlin", "before"),
        ({"hs_meeting_start_time": "1767607200000"}, "Europe/Berlin", "hs_meeting_start_time"),
        ({"hs_timestamp": "2026-01-05"}, "Europe/Berlin", "hs_timestamp"),
        ({"hs_meeting_end_time": "tomorrow"}, "Europe/Berlin", "hs_meeting_end_time"),
    ],
)
def test_scheduler_refuses_what_its_schema_does_not_allow(
    api: httpx.Client, emulator: Emulator, properties: dict[str, str], timezone: str, expected: str
) -> None:
    contact = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "f@example.com"}, "associations": []}).json()["id"]
    body = _calendar_body(contact, timezone=timezone)
    body["properties"] = {**body["properties"], **properties}  # type: ignore[dict-item]
    response = api.post("/scheduler/2026-03/meetings/calendar", params={"organizerUserId": "5001"}, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["category"] == "VALIDATION_ERROR" and expected in response.json()["message"]
    assert emulator.records("meetings") == [] and emulator.calendar_events() == []


def test_scheduler_accepts_offsets_and_the_documented_location_types(api: httpx.Client, emulator: Emulator) -> None:
    contact = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "g@example.com"}, "associations": []}).json()["id"]
    body = _calendar_body(contact, timezone="America/New_York")
    body["properties"] = {**body["properties"], "hs_meeting_location_type": "PHONE",  # type: ignore[dict-item]
                          "hs_meeting_start_time": "2026-01-05T11:00:00+01:00", "hs_meeting_end_time": "2026-01-05T10:00:00.500Z"}
    response = api.post("/scheduler/2026-03/meetings/calendar", params={"organizerUserId": "5001"}, json=body)
    assert response.status_code == 200, response.text


def test_built_in_enumerations_carry_hubspots_options(api: httpx.Client) -> None:
    def options(object_type: str, name: str) -> dict[str, str]:
        prop = api.get(f"/crm/v3/properties/{object_type}/{name}").json()
        assert prop["type"] == "enumeration", name
        return {o["value"]: o["label"] for o in prop["options"]}

    stages = options("deals", "dealstage")
    assert list(stages) == ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                            "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"]
    assert stages["closedwon"] == "Closed Won"
    assert options("deals", "dealtype") == {"newbusiness": "New Business", "existingbusiness": "Existing Business"}
    assert options("contacts", "lifecyclestage")["marketingqualifiedlead"] == "Marketing Qualified Lead"
    assert "ATTEMPTED_TO_CONTACT" in options("contacts", "hs_lead_status")
    industries = options("companies", "industry")
    assert {"ACCOUNTING", "COMPUTER_SOFTWARE", "WHOLESALE", "MOBILE_GAMES"} <= set(industries)
    assert options("meetings", "hs_meeting_outcome")["NO_SHOW"] == "No Show"
    assert options("calls", "hs_call_direction") == {"INBOUND": "Inbound", "OUTBOUND": "Outbound"}
    assert options("calls", "hs_call_disposition")["f240bbac-87c9-4f6e-bf70-924b57d47db7"] == "Connected"
    assert "MISSED" in options("calls", "hs_call_status")


@pytest.mark.parametrize(
    ("object_type", "properties", "name"),
    [
        ("companies", {"name": "A", "industry": "Software"}, "industry"),
        ("deals", {"dealname": "D", "dealstage": "closed won"}, "dealstage"),
        ("deals", {"dealname": "D", "dealtype": "brandnew"}, "dealtype"),
        ("contacts", {"email": "h@example.com", "hs_lead_status": "new"}, "hs_lead_status"),
        ("calls", {"hs_timestamp": "0", "hs_call_disposition": "Connected"}, "hs_call_disposition"),
        ("meetings", {"hs_timestamp": "0", "hs_meeting_outcome": "DONE"}, "hs_meeting_outcome"),
    ],
)
def test_values_outside_the_options_are_invalid_option(
    api: httpx.Client, object_type: str, properties: dict[str, str], name: str
) -> None:
    response = api.post(f"/crm/v3/objects/{object_type}", json={"properties": properties, "associations": []})
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "message": response.json()["errors"][0]["message"], "code": "INVALID_OPTION", "context": {"propertyName": [name]}}
    assert "was not one of the allowed options: [" in response.json()["message"]
