"""Bearer auth (401), scopes (403 MISSING_SCOPES), burst/daily/search rate limits (429)."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator.embedded import Emulator

CREATE = "/crm/v3/objects/meetings/batch/create"
ONE = {"inputs": [{"properties": {"hs_timestamp": "2026-01-05T10:00:00Z"}, "associations": []}]}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}])
def test_missing_or_wrong_token_is_401(emulator: Emulator, headers: dict[str, str]) -> None:
    response = httpx.post(emulator.base_url + CREATE, json=ONE, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found.")
    assert body["correlationId"] == response.headers["X-HubSpot-Correlation-Id"]
    assert emulator.records("meetings") == []


def test_limited_scopes_give_403_missing_scopes(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(scopes=("crm.objects.contacts.read",))
    response = api.post(CREATE, json=ONE)
    assert response.status_code == 403
    body = response.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]
    assert api.get("/crm/v3/objects/meetings").status_code == 200  # reads are allowed
    assert api.get("/crm/v3/objects/deals").status_code == 403


def test_ten_second_window_gives_429_with_headers(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(rate_limit_per_10s=3)
    remaining = []
    for _ in range(3):
        response = api.get("/crm/v3/objects/meetings")
        assert response.status_code == 200
        assert response.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        remaining.append(response.headers["X-HubSpot-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    refused = api.get("/crm/v3/objects/meetings")
    assert refused.status_code == 429
    body = refused.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_daily_limit(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(daily_limit=2)
    first = api.get("/crm/v3/objects/meetings")
    assert first.headers["X-HubSpot-RateLimit-Daily"] == "2"
    assert first.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "1"
    api.get("/crm/v3/objects/meetings")
    refused = api.get("/crm/v3/objects/meetings")
    assert refused.status_code == 429 and refused.json()["policyName"] == "DAILY"


def test_search_has_its_own_per_second_limit(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(search_per_second=2, rate_limit_per_10s=1)
    statuses = [api.post("/crm/v3/objects/meetings/search", json={}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = api.post("/crm/v3/objects/meetings/search", json={})
    assert refused.json()["policyName"] == "SECONDLY"
    assert api.get("/crm/v3/objects/meetings").status_code == 200  # the 10 s bucket is separate


def test_inspection_api_needs_no_token_and_is_never_limited(emulator: Emulator) -> None:
    emulator.set_config(rate_limit_per_10s=1)
    for _ in range(3):
        assert httpx.get(emulator.base_url + "/__emulator/health").json()["status"] == "ok"


def test_rate_limit_headers_come_on_every_non_search_answer_even_with_limits_off(api: httpx.Client) -> None:
    """So a client's header handling runs in every test, as it would against HubSpot."""
    answers = [
        api.get("/crm/v3/objects/meetings"),
        api.post(CREATE, json=ONE),
        api.get("/crm/v3/objects/meetings/424242"),  # a 404 from the handler
        api.get("/crm/v3/owners"),
        api.get("/account-info/v3/details"),
    ]
    for response in answers:
        assert int(response.headers["X-HubSpot-RateLimit-Max"]) >= 1_000_000, response.request.url
        assert int(response.headers["X-HubSpot-RateLimit-Remaining"]) > 0
        assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert int(response.headers["X-HubSpot-RateLimit-Daily-Remaining"]) > 0
        assert int(response.headers["X-HubSpot-RateLimit-Daily"]) >= int(response.headers["X-HubSpot-RateLimit-Daily-Remaining"])
    search = api.post("/crm/v3/objects/meetings/search", json={})
    assert not [h for h in search.headers if h.lower().startswith("x-hubspot-ratelimit")]


def test_scopes_follow_the_specs_any_of_lists(api: httpx.Client, emulator: Emulator) -> None:
    """Any one scope of an operation's security list is enough: no false 403s."""
    contact = {"properties": {"email": "s@example.com"}, "associations": []}
    emulator.set_config(scopes=("crm.objects.contacts.sensitive.write.v2",))
    assert api.post("/crm/v3/objects/contacts", json=contact).status_code == 201
    assert api.get("/crm/v3/objects/contacts").status_code == 200  # a write scope reads too
    emulator.set_config(scopes=("crm.objects.contacts.read", "automation"))
    assert api.get("/crm/v3/properties/contacts").status_code == 200  # no crm.schemas.* needed
    assert api.get("/crm/v3/owners").status_code == 200  # automation is on the owners list
    refused = api.post("/crm/v3/objects/companies", json={"properties": {"name": "A"}, "associations": []})
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["context"]["requiredGranularScopes"] == [
        "crm.objects.companies.write", "crm.objects.companies.sensitive.write.v2",
        "crm.objects.companies.highly_sensitive.write.v2"]
    emulator.set_config(scopes=("tickets.sensitive.v2",))
    assert api.get("/crm/v3/objects/tickets").status_code == 200
    assert api.post("/crm/v3/properties/contacts", json={
        "name": "x", "label": "X", "type": "string", "fieldType": "text", "groupName": "g"}).status_code == 403


def test_meetings_and_calls_take_the_contacts_scopes_or_their_own_read(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(scopes=("crm.objects.meetings.read",))
    assert api.get("/crm/v3/objects/meetings").status_code == 200
    assert api.get("/crm/v3/objects/calls").status_code == 403
    refused = api.post(CREATE, json=ONE)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]
