from __future__ import annotations

import httpx


def test_smoke(emulator):
    c = httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {emulator.token}"})
    r = c.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [{"properties": {"email": f"a{i}@x.com"}} for i in range(3)]})
    ids = [x["id"] for x in r.json()["results"]]
    r = c.post("/crm/v3/objects/meetings/batch/create", json={"inputs": [{"properties": {"hs_timestamp": "2025-01-01T10:00:00Z", "hs_meeting_title": "x", "hubspot_owner_id": "1001"}, "associations": [{"to": {"id": ids[0]}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}]}], "objectWriteTraceId": "a"}, {"properties": {"bogus": "1"}, "objectWriteTraceId": "b"}]})
    assert r.status_code == 207
    mid = r.json()["results"][0]["id"]
    c.get(f"/crm/v3/objects/meetings/{mid}", params={"associations": "contacts", "properties": "hs_meeting_title,hs_meeting_body"})
    c.post("/crm/v3/objects/contacts/search", json={"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "a1@x.com"}]}]})
    c.get("/crm/v3/objects/contacts/1")
    c.get("/crm/v3/owners")
    c.post("/crm/v3/objects/meetings/batch/read", json={"inputs": [{"id": mid}, {"id": "999"}], "properties": ["hs_meeting_title"]})
    c.post("/crm/v3/objects/meetings/batch/archive", json={"inputs": [{"id": mid}]})
