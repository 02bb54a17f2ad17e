"""The contract checker itself: it catches a response that breaks HubSpot's spec, and the
spec-vs-real-traffic exceptions stay in one visible list."""

from __future__ import annotations

import hubspot_contract


def test_checker_flags_a_response_that_breaks_the_spec(contract_checker) -> None:
    entry = {
        "method": "POST", "path": "/crm/v3/objects/meetings/batch/create", "query": "",
        "request_body": {"inputs": [{"properties": {"hs_timestamp": "1"}}]},
        "status": 201, "response_body": {"status": "COMPLETE", "results": [{"id": 5}]},
        "response_headers": {}, "dropped": None,
    }
    problems = contract_checker.check(entry)
    assert problems and "response 201" in problems[0]


def test_checker_flags_a_request_that_breaks_the_spec(contract_checker) -> None:
    entry = {"method": "POST", "path": "/crm/v3/objects/meetings/batch/create", "query": "",
             "request_body": {"inputs": [{"properties": {"hs_timestamp": 1}}]}, "status": None}
    assert any("request" in p for p in contract_checker.check(entry, responses=False))


def test_specific_spec_wins_over_generic(contract_checker) -> None:
    assert contract_checker.spec_for("POST", "/crm/v3/objects/meetings/batch/create").name == "crm-meetings-v3.json"
    assert contract_checker.spec_for("POST", "/crm/v3/objects/contacts/batch/create").name == "crm-objects-v3.json"
    assert contract_checker.spec_for("GET", "/__emulator/records") is None


def test_the_specs_as_patched_are_valid_openapi(contract_checker) -> None:
    assert contract_checker.invalid_specs() == []


def test_exceptions_are_one_documented_list() -> None:
    assert len(hubspot_contract.SPEC_EXCEPTIONS) >= 5
    assert all(e.reason for e in hubspot_contract.SPEC_EXCEPTIONS)


def _request(path: str, body: object, method: str = "POST", query: str = "") -> dict[str, object]:
    return {"method": method, "path": path, "query": query, "request_body": body, "status": None}


def test_requests_with_fields_the_schema_does_not_define_fail(contract_checker) -> None:
    """No spec sets additionalProperties: false, but HubSpot ignores undefined fields (it drops
    associations sent on a batch upsert): the checker closes request schemas itself."""
    link = [{"to": {"id": "1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 280}]}]
    upsert = _request("/crm/v3/objects/companies/batch/upsert", {"inputs": [
        {"id": "k1", "idProperty": "external_key", "properties": {"name": "A"}, "associations": link}]})
    problems = contract_checker.check(upsert, responses=False)
    assert problems and "associations" in " ".join(problems)
    del upsert["request_body"]["inputs"][0]["associations"]  # type: ignore[index]
    assert contract_checker.check(upsert, responses=False) == []
    nested = _request("/crm/v3/objects/meetings/batch/create", {"inputs": [
        {"properties": {"hs_timestamp": "1"}, "associations": [{**link[0], "label": "x"}]}]})
    assert contract_checker.check(nested, responses=False)
    calendar = _request("/scheduler/2026-03/meetings/calendar", {
        "associations": [], "timezone": "UTC",
        "emailReminderSchedule": {"reminders": [], "shouldIncludeInviteDescription": False},
        "properties": {"hs_meeting_title": "t", "hs_meeting_start_time": "2026-01-05T10:00:00Z",
                       "hs_meeting_end_time": "2026-01-05T11:00:00Z", "hs_timestamp": "2026-01-05T10:00:00Z",
                       "hs_meeting_outcome": "SCHEDULED", "hubspot_owner_id": "1001", "reconciler_key": "k"},
    }, query="organizerUserId=5001")
    assert any("reconciler_key" in p for p in contract_checker.check(calendar, responses=False))


def test_property_maps_stay_open(contract_checker) -> None:
    entry = _request("/crm/v3/objects/contacts/batch/update", {"inputs": [
        {"id": "1", "properties": {"any_custom_property": "x", "email": "a@example.com"}}]})
    assert contract_checker.check(entry, responses=False) == []


def test_docs_only_paths_are_not_covered_and_not_exceptions(contract_checker) -> None:
    entry = {"method": "POST", "path": "/oauth/v2/private-apps/get/access-token-info", "query": "",
             "request_body": {"tokenKey": "t"}, "status": 200, "response_body": {"hubId": 1},
             "response_headers": {}, "dropped": None}
    assert contract_checker.check(entry) == []
    assert not any("access-token-info" in e.reason for e in hubspot_contract.SPEC_EXCEPTIONS)
    assert contract_checker.check({**entry, "path": "/oauth/v2/private-apps/get/nope"})  # others still fail


def test_account_info_is_checked_against_its_spec_now(contract_checker) -> None:
    """account-info-{v3,2026-03}.json exist: account details are no longer docs-only."""
    assert hubspot_contract.docs_only("/account-info/v3/details") is None
    entry = {"method": "GET", "path": "/account-info/2026-03/details", "query": "", "request_body": None,
             "status": 200, "response_body": {"portalId": 1}, "response_headers": {}, "dropped": None}
    assert any("required" in problem for problem in contract_checker.check(entry))
