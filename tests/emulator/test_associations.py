"""Associations: inline on create, v4 batch create/read/archive, labels, reads with associations=."""

from __future__ import annotations

import httpx

from reconciler.emulator.embedded import Emulator


def _create(api: httpx.Client, object_type: str, properties: dict[str, str], associations: list[object] | None = None) -> str:
    response = api.post(f"/crm/v3/objects/{object_type}", json={"properties": properties, "associations": associations or []})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _to(record_id: str, type_id: int, category: str = "HUBSPOT_DEFINED") -> dict[str, object]:
    return {"to": {"id": record_id}, "types": [{"associationCategory": category, "associationTypeId": type_id}]}


def test_inline_associations_are_stored_both_ways(api: httpx.Client) -> None:
    contact = _create(api, "contacts", {"email": "a@example.com"})
    company = _create(api, "companies", {"name": "Acme"})
    meeting = _create(api, "meetings", {"hs_timestamp": "2026-01-05T10:00:00Z"}, [_to(contact, 200), _to(company, 188)])
    read = api.get(f"/crm/v3/objects/meetings/{meeting}", params={"associations": "contacts,companies"}).json()
    assert read["associations"]["contacts"]["results"][0]["id"] == contact
    assert read["associations"]["companies"]["results"][0]["id"] == company
    back = api.post("/crm/v4/associations/contacts/meetings/batch/read", json={"inputs": [{"id": contact}]}).json()
    assert back["results"][0]["to"][0]["toObjectId"] == meeting
    assert back["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 199


def test_association_to_missing_record_or_wrong_type_is_refused(api: httpx.Client, emulator: Emulator) -> None:
    response = api.post("/crm/v3/objects/meetings", json={
        "properties": {"hs_timestamp": "2026-01-05T10:00:00Z"}, "associations": [_to("424242", 200)]})
    assert response.status_code == 400
    assert response.json()["context"]["INVALID_OBJECT_IDS"] == ["CONTACT=424242 is not valid"]
    contact = _create(api, "contacts", {"email": "a@example.com"})
    wrong = api.post("/crm/v3/objects/meetings", json={
        "properties": {"hs_timestamp": "2026-01-05T10:00:00Z"}, "associations": [_to(contact, 194)]})
    assert wrong.status_code == 400 and "194" in wrong.json()["message"]
    assert emulator.records("meetings") == []


def test_v4_batch_create_read_archive(api: httpx.Client) -> None:
    call = _create(api, "calls", {"hs_timestamp": "2026-01-05T10:00:00Z"})
    deal = _create(api, "deals", {"dealname": "Big", "dealstage": "qualifiedtobuy", "pipeline": "default"})
    created = api.post("/crm/v4/associations/calls/deals/batch/create", json={"inputs": [
        {"from": {"id": call}, "to": {"id": deal}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 206}]}]})
    assert created.status_code == 201
    assert created.json()["results"][0]["toObjectId"] == deal
    read = api.post("/crm/v4/associations/calls/deals/batch/read", json={"inputs": [{"id": call}]}).json()
    assert read["results"][0]["to"][0]["associationTypes"] == [{"category": "HUBSPOT_DEFINED", "typeId": 206, "label": None}]
    archived = api.post("/crm/v4/associations/calls/deals/batch/archive", json={"inputs": [
        {"from": {"id": call}, "to": [{"id": deal}]}]})
    assert archived.status_code == 204
    again = api.post("/crm/v4/associations/deals/calls/batch/read", json={"inputs": [{"id": deal}]})
    assert again.status_code == 207 and again.json()["results"] == []
    versioned = api.post("/crm/associations/2026-03/calls/deals/batch/archive", json={"inputs": [
        {"from": {"id": call}, "to": [{"id": deal}]}]})
    assert versioned.status_code == 200


def test_labels(api: httpx.Client) -> None:
    labels = api.get("/crm/associations/v4/meetings/contacts/labels").json()["results"]
    assert {"category": "HUBSPOT_DEFINED", "typeId": 200, "label": None} in labels
    created = api.post("/crm/associations/v4/meetings/contacts/labels",
                       json={"name": "organizer", "label": "Organizer", "inverseLabel": "Organized"})
    assert created.status_code == 200
    type_id = created.json()["results"][0]["typeId"]
    assert any(label["label"] == "Organizer" for label in api.get("/crm/associations/v4/meetings/contacts/labels").json()["results"])
    contact = _create(api, "contacts", {"email": "b@example.com"})
    meeting = _create(api, "meetings", {"hs_timestamp": "2026-01-05T10:00:00Z"},
                      [_to(contact, type_id, "USER_DEFINED")])
    read = api.post("/crm/v4/associations/meetings/contacts/batch/read", json={"inputs": [{"id": meeting}]}).json()
    assert read["results"][0]["to"][0]["associationTypes"][0]["label"] == "Organizer"


def test_v4_batch_create_reports_bad_pairs_in_a_207(api: httpx.Client) -> None:
    call = _create(api, "calls", {"hs_timestamp": "2026-01-05T10:00:00Z"})
    deal = _create(api, "deals", {"dealname": "Big"})
    spec = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 206}]
    response = api.post("/crm/v4/associations/calls/deals/batch/create", json={"inputs": [
        {"from": {"id": call}, "to": {"id": deal}, "types": spec},
        {"from": {"id": call}, "to": {"id": "424242"}, "types": spec},
        {"from": {"id": call}, "to": {"id": deal}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}]},
    ]})
    assert response.status_code == 207, response.text
    body = response.json()
    assert [r["toObjectId"] for r in body["results"]] == [deal]
    assert body["numErrors"] == 2
    for error in body["errors"]:
        assert error["status"] == "error" and error["category"] == "VALIDATION_ERROR"
        assert error["context"]["fromObjectId"] == [call]
    assert {tuple(e["context"]["toObjectId"]) for e in body["errors"]} == {("424242",), (deal,)}
    read = api.post("/crm/v4/associations/calls/deals/batch/read", json={"inputs": [{"id": call}]}).json()
    assert [t["typeId"] for t in read["results"][0]["to"][0]["associationTypes"]] == [206]


def test_v3_reads_name_association_types_as_v3_does(api: httpx.Client) -> None:
    contact = _create(api, "contacts", {"email": "v3@example.com"})
    company = _create(api, "companies", {"name": "Acme"}, [_to(contact, 280)])
    meeting = _create(api, "meetings", {"hs_timestamp": "2026-01-05T10:00:00Z"}, [_to(contact, 200)])
    api.put(f"/crm/v4/objects/contacts/{contact}/associations/companies/{company}",
            json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}])
    read = api.get(f"/crm/v3/objects/contacts/{contact}", params={"associations": "companies,meetings"}).json()
    assert sorted(r["type"] for r in read["associations"]["companies"]["results"]) == [
        "contact_to_company", "contact_to_company_unlabeled"]
    assert read["associations"]["meetings"]["results"] == [{"id": meeting, "type": "contact_to_meeting_event"}]
    back = api.get(f"/crm/v3/objects/meetings/{meeting}", params={"associations": "contacts"}).json()
    assert back["associations"]["contacts"]["results"] == [{"id": contact, "type": "meeting_event_to_contact"}]


def test_a_type_id_of_another_pair_names_the_type_it_belongs_to(api: httpx.Client, emulator: Emulator) -> None:
    """HubSpot reads the object types from the type id, not from the path, and answers with
    the body observed in hubspot-api-nodejs#646: a meeting→contact type (200) on a deal names
    the deal's id as a contact that is not valid."""
    deal = _create(api, "deals", {"dealname": "Big", "dealstage": "qualifiedtobuy", "pipeline": "default"})
    response = api.post("/crm/v3/objects/meetings", json={
        "properties": {"hs_timestamp": "2026-01-05T10:00:00Z"}, "associations": [_to(deal, 200)]})
    assert response.status_code == 400
    body = response.json()
    assert {k: v for k, v in body.items() if k != "correlationId"} == {
        "status": "error", "message": "One or more associations are invalid", "category": "VALIDATION_ERROR",
        "context": {"INVALID_OBJECT_IDS": [f"CONTACT={deal} is not valid"], "objectId": [deal],
                    "objectType": ["CONTACT"]},
    }
    assert emulator.records("meetings") == []
    company = _create(api, "companies", {"name": "Acme"})
    for type_id in (1, 279):  # contact→company Primary (the request of #646) and unlabeled
        put = api.put(f"/crm/v4/objects/deals/{deal}/associations/companies/{company}",
                      json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}])
        assert put.status_code == 400
        assert put.json()["context"] == {"INVALID_OBJECT_IDS": [f"CONTACT={deal} is not valid"],
                                         "objectId": [deal], "objectType": ["CONTACT"]}
