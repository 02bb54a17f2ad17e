"""Notes, tasks and emails (0-46, 0-27, 0-49): every path of their v3 and 2026-03 specs,
their built-in properties and options, the required hs_timestamp, an email's sender and
recipients filled from its headers, their default association types, and their scopes.
Every exchange is contract-checked against crm-{notes,tasks,emails}-*.json."""

from __future__ import annotations

import json

import httpx
import pytest

from reconciler.associations import DEFAULT_ASSOCIATION_TYPE_IDS
from reconciler.emulator.embedded import Emulator

WHEN = "2026-01-05T10:00:00Z"
#: One valid record of each type, with every documented property.
SAMPLES: dict[str, dict[str, str]] = {
    "notes": {"hs_timestamp": WHEN, "hs_note_body": "Met the buyer; wants a demo."},
    "tasks": {"hs_timestamp": WHEN, "hs_task_subject": "Send proposal", "hs_task_body": "v2 pricing",
              "hs_task_status": "NOT_STARTED", "hs_task_priority": "HIGH", "hs_task_type": "EMAIL",
              "hs_task_reminders": "1767600000000", "hubspot_owner_id": "1001"},
    "emails": {"hs_timestamp": WHEN, "hs_email_subject": "Next steps", "hs_email_text": "Hi Jane",
               "hs_email_html": "<p>Hi Jane</p>", "hs_email_direction": "EMAIL", "hs_email_status": "SENT"},
}
TITLE = {"notes": "hs_note_body", "tasks": "hs_task_subject", "emails": "hs_email_subject"}
PREFIXES = ("/crm/v3/objects", "/crm/objects/2026-03")


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("kind", ["notes", "tasks", "emails"])
def test_every_path_of_the_spec(api: httpx.Client, emulator: Emulator, kind: str, prefix: str) -> None:
    base = f"{prefix}/{kind}"
    title = TITLE[kind]
    one = api.post(base, json={"properties": SAMPLES[kind], "associations": []})
    assert one.status_code == 201, one.text
    assert one.json()["properties"][title] == SAMPLES[kind][title]
    inputs = [{"properties": {**SAMPLES[kind], title: f"{kind} {i}"}, "associations": [], "objectWriteTraceId": f"t{i}"}
              for i in range(3)]
    created = api.post(f"{base}/batch/create", json={"inputs": inputs})
    assert created.status_code == 201, created.text
    by_title = {r["properties"][title]: r["id"] for r in created.json()["results"]}  # results are shuffled
    ids = [by_title[f"{kind} {i}"] for i in range(3)]
    read = api.post(f"{base}/batch/read", json={"inputs": [{"id": i} for i in ids], "properties": [title]})
    assert sorted(r["properties"][title] for r in read.json()["results"]) == [f"{kind} {i}" for i in range(3)]
    updated = api.post(f"{base}/batch/update", json={"inputs": [{"id": ids[0], "properties": {title: "changed"}}]})
    assert updated.status_code == 200 and updated.json()["results"][0]["properties"][title] == "changed"
    found = api.post(f"{base}/search", json={
        "filterGroups": [{"filters": [{"propertyName": title, "operator": "EQ", "value": "changed"}]}]})
    assert found.json()["total"] == 1 and found.json()["results"][0]["id"] == ids[0]
    got = api.get(f"{base}/{ids[1]}", params={"properties": title})
    assert got.json()["properties"][title] == f"{kind} 1"
    default = api.get(f"{base}/{ids[1]}").json()["properties"]
    assert default["hs_timestamp"] == "2026-01-05T10:00:00.000Z"  # what a read shows unasked
    patched = api.patch(f"{base}/{ids[1]}", json={"properties": {title: "patched"}})
    assert patched.status_code == 200 and patched.json()["properties"][title] == "patched"
    listed = api.get(base, params={"limit": 2, "properties": title})
    assert len(listed.json()["results"]) == 2 and "paging" in listed.json()
    assert api.delete(f"{base}/{ids[2]}").status_code == 204
    assert api.post(f"{base}/batch/archive", json={"inputs": [{"id": ids[1]}]}).status_code == 204
    assert len(emulator.records(kind)) == 2 and len(emulator.records(kind, archived=True)) == 2


@pytest.mark.parametrize(("type_id", "kind"), [("0-46", "notes"), ("0-27", "tasks"), ("0-49", "emails")])
def test_object_type_ids_name_the_types(api: httpx.Client, emulator: Emulator, type_id: str, kind: str) -> None:
    response = api.post(f"/crm/v3/objects/{type_id}", json={"properties": SAMPLES[kind], "associations": []})
    assert response.status_code == 201
    assert len(emulator.records(kind)) == 1


@pytest.mark.parametrize(("kind", "word"), [("notes", "NOTE"), ("tasks", "TASK"), ("emails", "EMAIL")])
def test_hs_timestamp_is_required_on_create(api: httpx.Client, emulator: Emulator, kind: str, word: str) -> None:
    properties = {k: v for k, v in SAMPLES[kind].items() if k != "hs_timestamp"}
    response = api.post(f"/crm/v3/objects/{kind}", json={"properties": properties, "associations": []})
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"] == f"Error creating {word}. Some required properties were not set."
    assert body["context"] == {"properties": ["hs_timestamp"]}
    assert emulator.records(kind) == []


@pytest.mark.parametrize(("kind", "name", "value"), [
    ("tasks", "hs_task_status", "IN_PROGRESS"),  # shown by some portals, not documented
    ("tasks", "hs_task_priority", "URGENT"),
    ("tasks", "hs_task_type", "MEETING"),
    ("emails", "hs_email_direction", "OUTGOING"),
    ("emails", "hs_email_status", "DELIVERED"),
])
def test_values_outside_the_documented_options_are_invalid(api: httpx.Client, kind: str, name: str, value: str) -> None:
    response = api.post(f"/crm/v3/objects/{kind}", json={"properties": {**SAMPLES[kind], name: value}, "associations": []})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "INVALID_OPTION" and error["context"]["propertyName"] == [name]


def test_the_catalogue_lists_the_built_in_properties(api: httpx.Client) -> None:
    tasks = {p["name"]: p for p in api.get("/crm/v3/properties/tasks").json()["results"]}
    assert [o["value"] for o in tasks["hs_task_status"]["options"]] == ["NOT_STARTED", "COMPLETED"]
    assert tasks["hs_task_reminders"]["type"] == "number"
    emails = {p["name"]: p for p in api.get("/crm/properties/2026-03/emails").json()["results"]}
    assert [o["value"] for o in emails["hs_email_direction"]["options"]] == ["EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"]
    assert emails["hs_email_from_email"]["modificationMetadata"]["readOnlyValue"] is True
    notes = {p["name"] for p in api.get("/crm/v3/properties/0-46").json()["results"]}
    assert {"hs_note_body", "hs_timestamp", "hubspot_owner_id", "hs_attachment_ids"} <= notes


def _headers(**sides: object) -> str:
    return json.dumps({"from": {}, "to": [], "cc": [], "bcc": [], **sides})


def test_email_headers_fill_the_sender_and_recipients(api: httpx.Client) -> None:
    headers = _headers(**{"from": {"email": "alice@example.com", "firstName": "Alice", "lastName": "Anders"},
                          "to": [{"email": "jane@acme.com", "firstName": "Jane"}, {"email": "joe@acme.com"}]})
    created = api.post("/crm/v3/objects/emails", json={
        "properties": {**SAMPLES["emails"], "hs_email_headers": headers}, "associations": []})
    assert created.status_code == 201, created.text
    props = created.json()["properties"]
    assert props["hs_email_headers"] == headers
    assert (props["hs_email_from_email"], props["hs_email_from_firstname"], props["hs_email_from_lastname"]) == (
        "alice@example.com", "Alice", "Anders")
    assert props["hs_email_to_email"] == "jane@acme.com;joe@acme.com"
    assert props["hs_email_to_firstname"] == "Jane" and "hs_email_to_lastname" not in props
    email_id = created.json()["id"]
    patched = api.patch(f"/crm/v3/objects/emails/{email_id}", json={"properties": {
        "hs_email_headers": _headers(to=[{"email": "max@acme.com"}])}})
    props = patched.json()["properties"]
    assert props["hs_email_to_email"] == "max@acme.com"
    assert "hs_email_from_email" not in props and "hs_email_to_firstname" not in props
    cleared = api.patch(f"/crm/v3/objects/emails/{email_id}", json={"properties": {"hs_email_headers": ""}})
    assert "hs_email_to_email" not in cleared.json()["properties"]


def test_email_sender_properties_are_read_only_and_headers_must_be_json(api: httpx.Client, emulator: Emulator) -> None:
    direct = api.post("/crm/v3/objects/emails", json={
        "properties": {**SAMPLES["emails"], "hs_email_from_email": "x@example.com"}, "associations": []})
    assert direct.status_code == 400 and direct.json()["errors"][0]["code"] == "READ_ONLY_VALUE"
    broken = api.post("/crm/v3/objects/emails", json={
        "properties": {**SAMPLES["emails"], "hs_email_headers": "From: x@example.com"}, "associations": []})
    assert broken.status_code == 400
    assert broken.json()["errors"][0] == {
        "message": "hs_email_headers must be a JSON object with from, to, cc and bcc",
        "code": "INVALID_JSON", "context": {"propertyName": ["hs_email_headers"]}}
    assert emulator.records("emails") == []


ENGAGEMENT_PAIRS = [(kind, target) for kind in ("notes", "tasks", "emails")
                    for target in ("contacts", "companies", "deals", "tickets")]


def test_the_default_association_types_of_every_activity() -> None:
    """HubSpot's table (facts §14, design-21 §1.4): 40 engagement entries, each with its inverse."""
    expected = {
        "calls": (194, 182, 206, 220, 193, 181, 205, 219),
        "emails": (198, 186, 210, 224, 197, 185, 209, 223),
        "meetings": (200, 188, 212, 226, 199, 187, 211, 225),
        "notes": (202, 190, 214, 228, 201, 189, 213, 227),
        "tasks": (204, 192, 216, 230, 203, 191, 215, 229),
    }
    targets = ("contacts", "companies", "deals", "tickets")
    for kind, ids in expected.items():
        assert tuple(DEFAULT_ASSOCIATION_TYPE_IDS[(kind, t)] for t in targets) == ids[:4]
        assert tuple(DEFAULT_ASSOCIATION_TYPE_IDS[(t, kind)] for t in targets) == ids[4:]
    assert all((to, source) in DEFAULT_ASSOCIATION_TYPE_IDS for source, to in DEFAULT_ASSOCIATION_TYPE_IDS)


def _record(api: httpx.Client, kind: str) -> str:
    properties = {"contacts": {"email": "jane@acme.com"}, "companies": {"name": "Acme"},
                  "deals": {"dealname": "Big", "pipeline": "default", "dealstage": "qualifiedtobuy"},
                  "tickets": {"subject": "Jam", "hs_pipeline_stage": "1"}}.get(kind, SAMPLES.get(kind, {}))
    response = api.post(f"/crm/v3/objects/{kind}", json={"properties": properties, "associations": []})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.parametrize(("kind", "target"), ENGAGEMENT_PAIRS)
def test_activities_associate_with_hubspots_default_types(api: httpx.Client, kind: str, target: str) -> None:
    to_id = _record(api, target)
    type_id = DEFAULT_ASSOCIATION_TYPE_IDS[(kind, target)]
    created = api.post(f"/crm/v3/objects/{kind}", json={"properties": SAMPLES[kind], "associations": [
        {"to": {"id": to_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}]})
    assert created.status_code == 201, created.text
    back = api.post(f"/crm/v4/associations/{target}/{kind}/batch/read", json={"inputs": [{"id": to_id}]}).json()
    assert back["results"][0]["to"][0]["associationTypes"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": DEFAULT_ASSOCIATION_TYPE_IDS[(target, kind)], "label": None}]
    labels = api.get(f"/crm/associations/v4/{kind}/{target}/labels").json()["results"]
    assert {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None} in labels


def test_v3_reads_name_activity_associations_and_v4_writes_them(api: httpx.Client) -> None:
    contact = _record(api, "contacts")
    note = _record(api, "notes")
    written = api.post("/crm/v4/associations/notes/contacts/batch/create", json={"inputs": [
        {"from": {"id": note}, "to": {"id": contact}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}]})
    assert written.status_code == 201
    default = api.put(f"/crm/objects/2026-03/tasks/{_record(api, 'tasks')}/associations/default/contacts/{contact}")
    assert default.status_code == 200
    assert default.json()["results"][0]["associationSpec"]["associationTypeId"] == 204
    read = api.get(f"/crm/v3/objects/notes/{note}", params={"associations": "contacts"}).json()
    assert read["associations"]["contacts"]["results"] == [{"id": contact, "type": "note_to_contact"}]


@pytest.mark.parametrize(("scopes", "kind", "allowed"), [
    (("crm.objects.contacts.write",), "notes", True),
    (("crm.objects.contacts.write",), "tasks", True),
    (("crm.objects.deals.write",), "notes", False),
    (("crm.objects.notes.read",), "notes", False),  # a read scope never writes
    (("sales-email-read",), "emails", True),  # the emails specs list it for every operation
    (("sales-email-read",), "tasks", False),
])
def test_activities_are_written_with_the_contacts_scope(
    api: httpx.Client, emulator: Emulator, scopes: tuple[str, ...], kind: str, allowed: bool
) -> None:
    emulator.set_config(scopes=scopes)
    response = api.post(f"/crm/v3/objects/{kind}", json={"properties": SAMPLES[kind], "associations": []})
    assert response.status_code == (201 if allowed else 403), response.text


def test_activities_are_read_with_their_own_read_scope(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(scopes=("crm.objects.tasks.read",))
    assert api.get("/crm/v3/objects/tasks").status_code == 200
    assert api.get("/crm/v3/properties/tasks").status_code == 200
    assert api.get("/crm/v3/objects/notes").status_code == 403
