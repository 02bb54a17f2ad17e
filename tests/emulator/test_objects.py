"""CRM object endpoints over real HTTP: create, read, update, archive, upsert, validation."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest

from reconciler.emulator.embedded import Emulator

BATCH = "/crm/v3/objects/meetings/batch"


def _meetings(count: int, traced: bool = True) -> list[dict[str, object]]:
    inputs: list[dict[str, object]] = []
    for i in range(count):
        item: dict[str, object] = {
            "properties": {"hs_timestamp": "2026-01-05T10:00:00Z", "hs_meeting_title": f"M{i}"},
            "associations": [],
        }
        if traced:
            item["objectWriteTraceId"] = f"t{i}"
        inputs.append(item)
    return inputs


def test_batch_create_answers_201_with_hubspot_shape(api: httpx.Client, emulator: Emulator) -> None:
    response = api.post(f"{BATCH}/create", json={"inputs": _meetings(3)})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "COMPLETE" and "startedAt" in body and "completedAt" in body
    first = body["results"][0]
    assert isinstance(first["id"], str) and first["archived"] is False
    assert first["createdAt"].endswith("Z") and first["updatedAt"] == first["createdAt"]
    props = first["properties"]
    assert props["hs_timestamp"] == "2026-01-05T10:00:00.000Z"
    assert props["hs_object_id"] == first["id"]
    assert {"hs_createdate", "hs_lastmodifieddate"} <= props.keys()
    assert response.headers["X-HubSpot-Correlation-Id"]
    assert len(emulator.records("meetings")) == 3


def test_batch_results_are_shuffled_and_echo_trace_ids(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(echo_trace_ids=True)  # the switch; off by default (HubSpot's documented shape)
    orders = []
    for _ in range(3):
        body = api.post(f"{BATCH}/create", json={"inputs": _meetings(20)}).json()
        trace_ids = [r["objectWriteTraceId"] for r in body["results"]]
        assert sorted(trace_ids) == sorted(f"t{i}" for i in range(20))
        for result in body["results"]:  # correlate by trace id, never by position
            assert result["properties"]["hs_meeting_title"] == f"M{result['objectWriteTraceId'][1:]}"
        orders.append(trace_ids)
    assert any(order != [f"t{i}" for i in range(20)] for order in orders)


def test_partial_failure_with_trace_ids_is_207(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(echo_trace_ids=True)
    inputs = _meetings(3)
    inputs[1]["properties"] = {"hs_timestamp": "2026-01-05T10:00:00Z", "no_such_prop": "x"}
    response = api.post(f"{BATCH}/create", json={"inputs": inputs})
    assert response.status_code == 207
    body = response.json()
    assert body["numErrors"] == 1
    error = body["errors"][0]
    assert error["category"] == "VALIDATION_ERROR"
    assert error["context"]["objectWriteTraceId"] == ["t1"]
    assert error["message"].startswith("Property values were not valid: [")
    listed = json.loads(error["message"].split(": ", 1)[1])
    assert listed[0]["error"] == "PROPERTY_DOESNT_EXIST" and listed[0]["name"] == "no_such_prop"
    assert sorted(r["objectWriteTraceId"] for r in body["results"]) == ["t0", "t2"]
    assert len(emulator.records("meetings")) == 2


def test_bad_input_without_trace_ids_fails_the_whole_batch(api: httpx.Client, emulator: Emulator) -> None:
    inputs = _meetings(3, traced=False)
    inputs[2]["properties"] = {"hs_meeting_outcome": "MAYBE"}
    response = api.post(f"{BATCH}/create", json={"inputs": inputs})
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR" and body["correlationId"]
    assert "INVALID_OPTION" in body["message"]
    assert "MAYBE was not one of the allowed options: [SCHEDULED, COMPLETED" in body["message"]
    assert emulator.records("meetings") == []


def test_more_than_100_inputs_is_refused(api: httpx.Client, emulator: Emulator) -> None:
    response = api.post(f"{BATCH}/create", json={"inputs": _meetings(101)})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "The maximum number of inputs supported in a batch is 100. "
        "Please reduce the number of items and try again"
    )
    assert emulator.records("meetings") == []


@pytest.mark.parametrize(
    ("properties", "code"),
    [
        ({"hs_call_duration": "ten"}, "INVALID_INTEGER"),
        ({"hs_timestamp": "yesterday"}, "INVALID_DATE"),
        ({"hs_call_direction": "SIDEWAYS"}, "INVALID_OPTION"),
        ({"hubspot_owner_id": "9999"}, "INVALID_OPTION"),
        ({"hs_call_has_voicemail": "maybe"}, "INVALID_BOOLEAN"),
        ({"hs_object_id": "5"}, "READ_ONLY_VALUE"),
        ({"hs_unique_creation_key": "k1"}, "READ_ONLY_VALUE"),
    ],
)
def test_values_are_validated_like_hubspot(api: httpx.Client, properties: dict[str, str], code: str) -> None:
    response = api.post("/crm/v3/objects/calls", json={"properties": properties, "associations": []})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["context"]["propertyName"] == list(properties)


def test_values_are_normalized(api: httpx.Client) -> None:
    response = api.post("/crm/v3/objects/calls", json={"properties": {
        "hs_timestamp": "1767607200000", "hs_call_duration": "3800", "hs_call_has_voicemail": "TRUE",
        "hs_call_status": "MISSED", "hubspot_owner_id": "1002",
    }, "associations": []})
    assert response.status_code == 201
    props = response.json()["properties"]
    assert props["hs_timestamp"] == "2026-01-05T10:00:00.000Z"
    assert props["hs_call_duration"] == "3800"
    assert props["hs_call_has_voicemail"] == "true"


def test_reads_return_requested_properties_with_null_for_unset(api: httpx.Client) -> None:
    created = api.post(f"{BATCH}/create", json={"inputs": _meetings(1)}).json()["results"][0]
    response = api.get(
        f"/crm/v3/objects/meetings/{created['id']}", params={"properties": "hs_meeting_title,hs_meeting_body"}
    )
    assert response.status_code == 200
    props = response.json()["properties"]
    assert props["hs_meeting_title"] == "M0" and props["hs_meeting_body"] is None
    assert props["hs_object_id"] == created["id"]
    assert response.headers.get("X-HubSpot-Correlation-Id")


def test_batch_read_reports_missing_ids(api: httpx.Client) -> None:
    created = api.post(f"{BATCH}/create", json={"inputs": _meetings(2)}).json()["results"]
    ids = [r["id"] for r in created]
    response = api.post(f"{BATCH}/read", json={
        "inputs": [{"id": ids[0]}, {"id": ids[1]}, {"id": "424242"}], "properties": ["hs_meeting_title"],
    })
    assert response.status_code == 207
    body = response.json()
    assert sorted(r["id"] for r in body["results"]) == sorted(ids)
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"]["ids"] == ["424242"]


def test_update_and_patch(api: httpx.Client, emulator: Emulator) -> None:
    created = api.post(f"{BATCH}/create", json={"inputs": _meetings(2)}).json()["results"]
    response = api.post(f"{BATCH}/update", json={"inputs": [
        {"id": created[0]["id"], "properties": {"hs_meeting_outcome": "COMPLETED"}, "objectWriteTraceId": "u0"},
        {"id": "999999", "properties": {"hs_meeting_outcome": "COMPLETED"}, "objectWriteTraceId": "u1"},
    ]})
    assert response.status_code == 207
    body = response.json()
    assert body["results"][0]["properties"]["hs_meeting_outcome"] == "COMPLETED"
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["u1"]
    patched = api.patch(
        f"/crm/v3/objects/meetings/{created[1]['id']}", json={"properties": {"hs_meeting_title": "Renamed"}}
    )
    assert patched.status_code == 200
    assert patched.json()["properties"]["hs_meeting_title"] == "Renamed"
    stored = {r["id"]: r for r in emulator.records("meetings")}
    assert stored[created[1]["id"]]["properties"]["hs_meeting_title"] == "Renamed"


def test_archive_hides_records_except_with_archived_true(api: httpx.Client, emulator: Emulator) -> None:
    created = api.post(f"{BATCH}/create", json={"inputs": _meetings(2)}).json()["results"]
    gone = created[0]["id"]
    response = api.post(f"{BATCH}/archive", json={"inputs": [{"id": gone}]})
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/crm/v3/objects/meetings/{gone}").status_code == 404
    archived = api.get(f"/crm/v3/objects/meetings/{gone}", params={"archived": "true"}).json()
    assert archived["archived"] is True and archived["archivedAt"]
    assert [r["id"] for r in emulator.records("meetings")] == [created[1]["id"]]
    assert [r["id"] for r in emulator.records("meetings", archived=True)] == [gone]
    assert api.delete(f"/crm/v3/objects/meetings/{created[1]['id']}").status_code == 204
    assert emulator.records("meetings") == []


def test_list_pages_with_after(api: httpx.Client) -> None:
    api.post(f"{BATCH}/create", json={"inputs": _meetings(5)})
    first = api.get("/crm/v3/objects/meetings", params={"limit": 3}).json()
    assert len(first["results"]) == 3
    second = api.get("/crm/v3/objects/meetings", params={"limit": 3, "after": first["paging"]["next"]["after"]}).json()
    assert len(second["results"]) == 2 and "paging" not in second


def test_date_versioned_paths_and_type_ids(api: httpx.Client) -> None:
    response = api.post("/crm/objects/2026-03/meetings/batch/create", json={"inputs": _meetings(1)})
    assert response.status_code == 201
    record_id = response.json()["results"][0]["id"]
    assert api.get(f"/crm/objects/2026-03/meetings/{record_id}").status_code == 200
    assert api.get(f"/crm/v3/objects/0-47/{record_id}").status_code == 200


def test_custom_object_type(api: httpx.Client, emulator: Emulator) -> None:
    response = api.post("/crm/v3/objects/p_widgets", json={"properties": {"name": "Sprocket"}, "associations": []})
    assert response.status_code == 201
    assert emulator.records("p_widgets")[0]["properties"]["name"] == "Sprocket"


@pytest.mark.contract(requests=False)
def test_unknown_object_type_and_bad_json(api: httpx.Client) -> None:
    response = api.post("/crm/v3/objects/unicorns/batch/create", json={"inputs": []})
    assert response.status_code == 400 and "unicorns" in response.json()["message"]
    response = api.post(f"{BATCH}/create", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"


def test_unique_properties_conflict_and_upsert(api: httpx.Client, emulator: Emulator) -> None:
    created = api.post("/crm/v3/properties/companies", json={
        "name": "external_key", "label": "External key", "type": "string", "fieldType": "text",
        "groupName": "companyinformation", "hasUniqueValue": True,
    })
    assert created.status_code == 201 and created.json()["hasUniqueValue"] is True
    first = api.post("/crm/v3/objects/companies", json={"properties": {"name": "A", "external_key": "k1"}, "associations": []})
    assert first.status_code == 201
    duplicate = api.post("/crm/v3/objects/companies", json={"properties": {"name": "B", "external_key": "k1"}, "associations": []})
    assert duplicate.status_code == 409 and duplicate.json()["category"] == "CONFLICT"
    upsert = api.post("/crm/v3/objects/companies/batch/upsert", json={"inputs": [
        {"id": "k1", "idProperty": "external_key", "properties": {"name": "A2"}},
        {"id": "k2", "idProperty": "external_key", "properties": {"name": "C"}},
    ]})
    assert upsert.status_code == 200
    by_key = {r["properties"]["external_key"]: r for r in upsert.json()["results"]}
    assert by_key["k1"]["new"] is False and by_key["k1"]["id"] == first.json()["id"]
    assert by_key["k2"]["new"] is True
    assert sorted(r["properties"]["name"] for r in emulator.records("companies")) == ["A2", "C"]


def test_upsert_by_non_unique_property_is_refused(api: httpx.Client) -> None:
    response = api.post("/crm/v3/objects/meetings/batch/upsert", json={"inputs": [
        {"id": "x", "idProperty": "hs_meeting_title", "properties": {}}]})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Unable to perform update/upsert by non-unique 0-47 property hs_meeting_title in portal ID 1234567")
    by_id = api.post("/crm/v3/objects/companies/batch/upsert", json={"inputs": [
        {"id": "1", "idProperty": "hs_object_id", "properties": {"name": "x"}}]})
    assert by_id.status_code == 400 and by_id.json()["category"] == "VALIDATION_ERROR"
    assert by_id.json()["message"] == (  # the message seen from HubSpot (facts §7)
        "Unable to perform update/upsert by non-unique 0-2 property hs_object_id in portal ID 1234567")


@pytest.mark.contract(requests=False)  # sends fields the schemas do not define, on purpose
def test_fields_the_schemas_do_not_define_are_ignored(api: httpx.Client, emulator: Emulator) -> None:
    """HubSpot acts on no field its request schemas lack: SimplePublicObjectBatchInputUpsert has
    only id, idProperty, objectWriteTraceId and properties, so inline associations are dropped."""
    api.post("/crm/v3/properties/companies", json={
        "name": "external_key", "label": "External key", "type": "string", "fieldType": "text",
        "groupName": "companyinformation", "hasUniqueValue": True,
    })
    contact = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "u@example.com"}, "associations": []})
    contact_id = contact.json()["id"]
    link = [{"to": {"id": contact_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 280}]}]
    upsert = api.post("/crm/v3/objects/companies/batch/upsert", json={"inputs": [
        {"id": "k1", "idProperty": "external_key", "properties": {"name": "A"}, "associations": link,
         "unknownField": "x"}]})
    assert upsert.status_code == 200, upsert.text
    company_id = upsert.json()["results"][0]["id"]
    read = api.post("/crm/v4/associations/companies/contacts/batch/read", json={"inputs": [{"id": company_id}]})
    assert read.json()["results"] == []  # no association was made
    created = api.post("/crm/v3/objects/companies", json={
        "properties": {"name": "B"}, "associations": [], "objectWriteTraceId": "t", "id": "999"})
    assert created.status_code == 201 and created.json()["id"] != "999"
    assert "objectWriteTraceId" not in created.json()


def test_trace_id_echo_is_a_switch(api: httpx.Client, emulator: Emulator) -> None:
    """Off by default, as in HubSpot's documented 207 example (facts §3); on at runtime, for
    clients that read the echo the spec allows."""
    patched = httpx.patch(emulator.base_url + "/__emulator/config", json={"echo_trace_ids": True})
    assert patched.status_code == 200 and patched.json()["echo_trace_ids"] is True
    inputs = _meetings(3)
    inputs[1]["properties"] = {"hs_timestamp": "2026-01-05T10:00:00Z", "no_such_prop": "x"}
    body = api.post(f"{BATCH}/create", json={"inputs": inputs}).json()
    assert sorted(result["objectWriteTraceId"] for result in body["results"]) == ["t0", "t2"]
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["t1"]
    ids = [r["id"] for r in body["results"]]
    updated = api.post(f"{BATCH}/update", json={"inputs": [
        {"id": i, "properties": {"hs_meeting_title": "x"}, "objectWriteTraceId": f"u{i}"} for i in ids]}).json()
    assert sorted(result["objectWriteTraceId"] for result in updated["results"]) == sorted(f"u{i}" for i in ids)
    emulator.set_config(echo_trace_ids=False)
    again = api.post(f"{BATCH}/create", json={"inputs": _meetings(1)}).json()
    assert "objectWriteTraceId" not in again["results"][0]


def test_hs_timestamp_is_required_on_meetings_and_calls(api: httpx.Client, emulator: Emulator) -> None:
    """MEET-GUIDE and CALL-GUIDE: hs_timestamp is required; a meeting's defaults to its start."""
    for kind, props in (("meetings", {"hs_meeting_title": "No time"}), ("calls", {"hs_call_title": "No time"})):
        response = api.post(f"/crm/v3/objects/{kind}", json={"properties": props, "associations": []})
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["category"] == "VALIDATION_ERROR" and body["context"]["properties"] == ["hs_timestamp"]
        assert "Some required properties were not set." in body["message"]
        assert emulator.records(kind) == []
    started = api.post("/crm/v3/objects/meetings", json={"properties": {
        "hs_meeting_title": "Start only", "hs_meeting_start_time": "2026-01-05T10:00:00Z"}, "associations": []})
    assert started.status_code == 201
    assert started.json()["properties"]["hs_timestamp"] == "2026-01-05T10:00:00.000Z"
    inputs = _meetings(2)
    inputs[1]["properties"] = {"hs_meeting_title": "none"}
    partial = api.post(f"{BATCH}/create", json={"inputs": inputs})
    assert partial.status_code == 207 and partial.json()["errors"][0]["context"]["objectWriteTraceId"] == ["t1"]


@pytest.mark.contract(requests=False)  # bad query values and numeric strings, on purpose
def test_bad_limit_is_a_400_and_numeric_strings_are_integers(api: httpx.Client, emulator: Emulator) -> None:
    for params in ({"limit": "abc"}, {"limit": "0"}, {"limit": "101"}, {"after": "x"}):
        response = api.get("/crm/v3/objects/meetings", params=params)
        assert response.status_code == 400, params
        assert response.json()["category"] == "VALIDATION_ERROR" and response.json()["correlationId"]
    assert api.post("/crm/v3/objects/contacts/search", json={"limit": "abc"}).status_code == 400
    assert api.post("/crm/v3/objects/contacts/search", json={"limit": "5"}).status_code == 200
    contact = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "n@example.com"}, "associations": []}).json()["id"]
    meeting = api.post("/crm/v3/objects/meetings", json={"properties": {"hs_timestamp": "0"}, "associations": [
        {"to": {"id": int(contact)}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": "200"}]}]})
    assert meeting.status_code == 201, meeting.text
    created = api.post("/crm/v4/associations/contacts/meetings/batch/create", json={"inputs": [
        {"from": {"id": contact}, "to": {"id": meeting.json()["id"]},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": "199"}]}]})
    assert created.status_code == 201, created.text
    broken = api.post("/crm/v4/associations/contacts/meetings/batch/labels/archive", json={"inputs": [
        {"from": {"id": contact}, "to": {"id": meeting.json()["id"]},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": "x"}]}]})
    assert broken.status_code == 400


def test_batch_read_with_history_takes_at_most_50_inputs(api: httpx.Client) -> None:
    inputs = [{"id": str(i)} for i in range(1, 52)]
    refused = api.post(f"{BATCH}/read", json={"inputs": inputs, "properties": [], "propertiesWithHistory": ["hs_meeting_title"]})
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "The maximum number of inputs supported in a batch request for property histories is 50")
    allowed = api.post(f"{BATCH}/read", json={"inputs": inputs, "properties": [], "propertiesWithHistory": []})
    assert allowed.status_code == 207  # none of the ids exists


# Issue #19: where the emulator was kinder than HubSpot -------------------------------------


def test_a_ticket_needs_its_pipeline_stage(api: httpx.Client, emulator: Emulator) -> None:
    """HubSpot refuses a ticket without hs_pipeline_stage (hubspot-api-php#139) and fills
    hs_pipeline with the default pipeline, "0" (the ERRORS page's 207 example)."""
    refused = api.post("/crm/v3/objects/tickets", json={"properties": {"subject": "Printer jam"}, "associations": []})
    assert refused.status_code == 400
    body = refused.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"] == (
        "Cannot create object with type: TICKET. The following required properties were missing: [hs_pipeline_stage]")
    assert emulator.records("tickets") == []
    created = api.post("/crm/v3/objects/tickets", json={"properties": {"hs_pipeline_stage": "1"}, "associations": []})
    assert created.status_code == 201, created.text
    assert created.json()["properties"]["hs_pipeline"] == "0"  # no subject needed either
    elsewhere = api.post("/crm/v3/objects/tickets", json={"properties": {"hs_pipeline_stage": "9"}, "associations": []})
    assert elsewhere.status_code == 400 and elsewhere.json()["errors"][0]["code"] == "INVALID_OPTION"
    traced = api.post("/crm/v3/objects/tickets/batch/create", json={"inputs": [
        {"properties": {"subject": "a", "hs_pipeline_stage": "2"}, "objectWriteTraceId": "ok"},
        {"properties": {"subject": "b"}, "objectWriteTraceId": "no-stage"}]})
    assert traced.status_code == 207
    assert traced.json()["errors"][0]["context"]["objectWriteTraceId"] == ["no-stage"]
    assert len(emulator.records("tickets")) == 2


def test_contact_emails_are_one_whatever_their_case(api: httpx.Client, emulator: Emulator) -> None:
    """HubSpot keeps contact emails lowercased and answers 409 "Contact already exists" with
    no context (facts §14; hubspot-api-nodejs#545, hubspot-api-python#51)."""
    first = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "Dup@Example.com"}, "associations": []})
    assert first.status_code == 201 and first.json()["properties"]["email"] == "dup@example.com"
    existing = first.json()["id"]
    second = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "DUP@example.COM"}, "associations": []})
    assert second.status_code == 409
    body = second.json()
    assert {k: v for k, v in body.items() if k != "correlationId"} == {
        "status": "error", "message": f"Contact already exists. Existing ID: {existing}", "category": "CONFLICT"}
    found = api.get("/crm/v3/objects/contacts/DUP@EXAMPLE.com", params={"idProperty": "email"})
    assert found.status_code == 200 and found.json()["id"] == existing
    batch = api.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"properties": {"email": "pair@example.com"}}, {"properties": {"email": "Pair@example.com"}}]})
    assert batch.status_code == 409  # without trace ids the whole batch fails
    other = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "other@example.com"}, "associations": []})
    moved = api.patch(f"/crm/v3/objects/contacts/{other.json()['id']}", json={"properties": {"email": "dUp@example.com"}})
    assert moved.status_code == 409
    assert [r["properties"]["email"] for r in emulator.records("contacts")] == ["dup@example.com", "other@example.com"]


@pytest.mark.parametrize(("kind", "name"), [
    ("meetings", "hs_meeting_body"), ("calls", "hs_call_body"), ("notes", "hs_note_body"), ("contacts", "firstname")])
def test_text_longer_than_65536_characters_is_refused(api: httpx.Client, emulator: Emulator, kind: str, name: str) -> None:
    """A string property holds at most 65,536 characters (properties guide; notes guide)."""
    base = {"contacts": {}}.get(kind, {"hs_timestamp": "2026-01-05T10:00:00Z"})
    longest = api.post(f"/crm/v3/objects/{kind}", json={"properties": {**base, name: "é" * 65_536}, "associations": []})
    assert longest.status_code == 201, longest.text[:300]
    refused = api.post(f"/crm/v3/objects/{kind}", json={"properties": {**base, name: "x" * 65_537}, "associations": []})
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["code"] == "INVALID_STRING_LENGTH" and error["context"]["propertyName"] == [name]
    assert error["message"] == f"{name} is 65,537 characters; a text property holds at most 65,536"
    updated = api.patch(f"/crm/v3/objects/{kind}/{longest.json()['id']}", json={"properties": {name: "y" * 70_000}})
    assert updated.status_code == 400
    assert len(emulator.records(kind)) == 1


def test_percent_encoded_ids_are_decoded_after_routing(api: httpx.Client) -> None:
    """SDKs percent-encode path segments (facts §14): `sdk%40example.com` is the email, and
    an encoded slash stays inside its segment."""
    for email in ("sdk@example.com", "a/b@example.com"):
        created = api.post("/crm/v3/objects/contacts", json={"properties": {"email": email}, "associations": []})
        encoded = quote(email, safe="")
        found = api.get(f"/crm/v3/objects/contacts/{encoded}", params={"idProperty": "email"})
        assert found.status_code == 200, (email, found.text)
        assert found.json()["id"] == created.json()["id"]
    missing = api.get("/crm/v3/objects/contacts/nobody%40example.com", params={"idProperty": "email"})
    assert missing.status_code == 404
    body = missing.json()
    assert body["message"] == "Object not found.  objectId are usually numeric."  # (sic: two spaces)
    assert body["category"] == "OBJECT_NOT_FOUND" and body["context"] == {"id": ["nobody@example.com"]}


def test_results_carry_no_trace_id_by_default(api: httpx.Client) -> None:
    """HubSpot's documented 207 example echoes no objectWriteTraceId on its results; the
    errors still name theirs (ERRORS page, facts §3)."""
    inputs = _meetings(3)
    inputs[1]["properties"] = {"hs_timestamp": "2026-01-05T10:00:00Z", "no_such_prop": "x"}
    body = api.post(f"{BATCH}/create", json={"inputs": inputs}).json()
    assert len(body["results"]) == 2
    assert all("objectWriteTraceId" not in result for result in body["results"])
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["t1"]
    created = api.post(f"{BATCH}/create", json={"inputs": _meetings(2)})
    assert created.status_code == 201
    assert all("objectWriteTraceId" not in result for result in created.json()["results"])
