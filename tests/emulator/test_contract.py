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


def test_exceptions_are_one_documented_list() -> None:
    assert len(hubspot_contract.SPEC_EXCEPTIONS) >= 5
    assert all(e.reason for e in hubspot_contract.SPEC_EXCEPTIONS)
