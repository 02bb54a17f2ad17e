"""Deactivated owners, as HubSpot's owners guide documents them: listed only with
``archived=true``, with ``userId: null`` and ``userIdIncludingInactive`` holding their user id."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator.config import DEFAULT_OWNERS, Owner
from reconciler.emulator.embedded import Emulator

GONE = Owner("1004", "dave@example.com", "Dave", "Dorn", 5004, archived=True)


@pytest.fixture
def with_deactivated(emulator: Emulator) -> Emulator:
    emulator.set_config(owners=(*DEFAULT_OWNERS, GONE))
    return emulator


def test_active_owners_carry_both_user_ids(api: httpx.Client) -> None:
    alice = api.get("/crm/v3/owners").json()["results"][0]
    assert alice["userId"] == alice["userIdIncludingInactive"] == 5001
    assert alice["archived"] is False and alice["teams"] == []


def test_archived_true_lists_only_the_deactivated(api: httpx.Client, with_deactivated: Emulator) -> None:
    active = api.get("/crm/v3/owners", params={"archived": "false"}).json()["results"]
    assert [o["email"] for o in active] == ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert [o["email"] for o in api.get("/crm/v3/owners").json()["results"]] == [o["email"] for o in active]
    archived = api.get("/crm/owners/2026-03", params={"archived": "true"}).json()["results"]
    assert archived == [{
        "id": "1004", "email": "dave@example.com", "firstName": "Dave", "lastName": "Dorn", "type": "PERSON",
        "userId": None, "userIdIncludingInactive": 5004, "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2024-01-01T00:00:00.000Z", "archived": True,
    }]
    by_email = api.get("/crm/v3/owners", params={"archived": "true", "email": "DAVE@example.com"}).json()
    assert [o["id"] for o in by_email["results"]] == ["1004"]


def test_a_deactivated_owner_is_read_only_when_archived_is_asked(api: httpx.Client, with_deactivated: Emulator) -> None:
    assert api.get("/crm/v3/owners/1004").status_code == 404
    assert api.get("/crm/v3/owners/1004", params={"archived": "true"}).json()["userIdIncludingInactive"] == 5004
    assert api.get("/crm/v3/owners/1001", params={"archived": "true"}).status_code == 404  # "only archived"
    # their userId is null, so they cannot be found by it
    assert api.get("/crm/v3/owners/5004", params={"idProperty": "userId", "archived": "true"}).status_code == 404
    assert api.get("/crm/v3/owners/5001", params={"idProperty": "userId"}).json()["id"] == "1001"


def test_records_cannot_be_given_to_a_deactivated_owner(api: httpx.Client, with_deactivated: Emulator) -> None:
    """Whether HubSpot refuses it is undocumented: the emulator refuses (the cautious side)."""
    response = api.post("/crm/v3/objects/calls", json={
        "properties": {"hs_timestamp": "2026-01-05T10:00:00Z", "hubspot_owner_id": "1004"}, "associations": []})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_OPTION"


def test_owners_are_a_runtime_knob(api: httpx.Client, emulator: Emulator) -> None:
    """A test (or a demo) deactivates an owner over the inspection API."""
    owners = [{"id": "1001", "email": "alice@example.com", "first_name": "Alice", "last_name": "Anders",
               "user_id": 5001},
              {"id": "1002", "email": "bob@example.com", "first_name": "Bob", "last_name": "Berg",
               "user_id": 5002, "archived": True}]
    patched = httpx.patch(emulator.base_url + "/__emulator/config", json={"owners": owners})
    assert patched.status_code == 200, patched.text
    assert patched.json()["owners"][1] == {**owners[1]}
    assert [o["id"] for o in api.get("/crm/v3/owners").json()["results"]] == ["1001"]
    assert [o["id"] for o in api.get("/crm/v3/owners", params={"archived": "true"}).json()["results"]] == ["1002"]
    bad = httpx.patch(emulator.base_url + "/__emulator/config", json={"owners": [{"id": "1"}]})
    assert bad.status_code == 400
