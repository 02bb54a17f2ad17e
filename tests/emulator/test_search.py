"""Search: filter groups, operators, one sort, paging, query, archived, indexing lag."""

from __future__ import annotations

import time

import httpx
import pytest

from reconciler.emulator.embedded import Emulator

SEARCH = "/crm/v3/objects/contacts/search"


def _contacts(api: httpx.Client) -> list[str]:
    people = [
        ("ada@example.com", "Ada", "Lovelace", "customer"),
        ("alan@example.com", "Alan", "Turing", "lead"),
        ("grace@example.com", "Grace", "Hopper", "customer"),
        ("linus@example.org", "Linus", "Torvalds", "lead"),
    ]
    inputs = [
        {"properties": {"email": e, "firstname": f, "lastname": last, "lifecyclestage": s}, "associations": []}
        for e, f, last, s in people
    ]
    results = api.post("/crm/v3/objects/contacts/batch/create", json={"inputs": inputs}).json()["results"]
    by_email = {r["properties"]["email"]: r["id"] for r in results}  # results are shuffled
    return [by_email[e] for e, *_ in people]


def _emails(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(r["properties"]["email"] for r in response.json()["results"])


def test_filter_groups_are_or_of_ands(api: httpx.Client) -> None:
    _contacts(api)
    body = {"filterGroups": [
        {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"},
                     {"propertyName": "firstname", "operator": "NEQ", "value": "Ada"}]},
        {"filters": [{"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*example.org"}]},
    ], "properties": ["email"]}
    assert _emails(api.post(SEARCH, json=body)) == ["grace@example.com", "linus@example.org"]


def test_operators(api: httpx.Client) -> None:
    ids = _contacts(api)

    def find(*filters: dict[str, object]) -> list[str]:
        return _emails(api.post(SEARCH, json={"filterGroups": [{"filters": list(filters)}], "properties": ["email"]}))

    assert find({"propertyName": "firstname", "operator": "IN", "values": ["ada", "alan"]}) == [
        "ada@example.com", "alan@example.com"]
    assert len(find({"propertyName": "firstname", "operator": "NOT_IN", "values": ["ada"]})) == 3
    assert find({"propertyName": "phone", "operator": "HAS_PROPERTY"}) == []
    assert len(find({"propertyName": "phone", "operator": "NOT_HAS_PROPERTY"})) == 4
    assert find({"propertyName": "hs_object_id", "operator": "EQ", "value": ids[0]}) == ["ada@example.com"]
    assert len(find({"propertyName": "hs_object_id", "operator": "BETWEEN", "value": ids[1], "highValue": ids[2]})) == 2
    assert len(find({"propertyName": "hs_object_id", "operator": "GT", "value": ids[0]})) == 3
    assert len(find({"propertyName": "hs_object_id", "operator": "LTE", "value": ids[0]})) == 1


def test_sort_paging_and_total(api: httpx.Client) -> None:
    _contacts(api)
    body = {"sorts": [{"propertyName": "lastname", "direction": "DESCENDING"}], "limit": 3,
            "properties": ["lastname"]}
    first = api.post(SEARCH, json=body).json()
    assert first["total"] == 4
    assert [r["properties"]["lastname"] for r in first["results"]] == ["Turing", "Torvalds", "Lovelace"]
    second = api.post(SEARCH, json={**body, "after": first["paging"]["next"]["after"]}).json()
    assert [r["properties"]["lastname"] for r in second["results"]] == ["Hopper"]
    assert "paging" not in second


def test_query_and_archived(api: httpx.Client) -> None:
    ids = _contacts(api)
    assert _emails(api.post(SEARCH, json={"query": "grace"})) == ["grace@example.com"]
    api.post("/crm/v3/objects/contacts/batch/archive", json={"inputs": [{"id": ids[2]}]})
    assert _emails(api.post(SEARCH, json={"query": "grace"})) == []


def test_search_has_no_rate_limit_headers(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(rate_limit_per_10s=100)
    response = api.post(SEARCH, json={})
    assert response.status_code == 200
    assert not [h for h in response.headers if h.lower().startswith("x-hubspot-ratelimit")]
    assert api.get("/crm/v3/objects/contacts").headers["X-HubSpot-RateLimit-Max"] == "100"


@pytest.mark.fake_clock
def test_search_sees_writes_only_after_the_indexing_lag(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(search_lag_seconds=0.3)
    created = api.post("/crm/v3/objects/contacts", json={
        "properties": {"email": "new@example.com", "firstname": "Old"}, "associations": []}).json()
    assert api.get(f"/crm/v3/objects/contacts/{created['id']}").status_code == 200  # reads: at once
    assert _emails(api.post(SEARCH, json={"query": "new@example.com"})) == []
    emulator.clock.sleep(0.35)
    assert _emails(api.post(SEARCH, json={"query": "new@example.com"})) == ["new@example.com"]
    api.patch(f"/crm/v3/objects/contacts/{created['id']}", json={"properties": {"firstname": "Renamed"}})
    by_name = {"filterGroups": [{"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Renamed"}]}]}
    assert _emails(api.post(SEARCH, json=by_name)) == []  # the index still has the old name
    emulator.clock.sleep(0.35)
    assert _emails(api.post(SEARCH, json=by_name)) == ["new@example.com"]


@pytest.mark.fake_clock
def test_the_indexing_lag_follows_the_emulators_clock(api: httpx.Client, emulator: Emulator) -> None:
    """The clock seam: search lag is timed on ``start_emulator(clock=...)``, not in real time."""
    emulator.set_config(search_lag_seconds=30.0)
    started = time.monotonic()
    api.post("/crm/v3/objects/contacts", json={
        "properties": {"email": "late@example.com"}, "associations": []})
    emulator.clock.sleep(29.9)
    assert _emails(api.post(SEARCH, json={"query": "late@example.com"})) == []
    emulator.clock.sleep(0.1)
    assert _emails(api.post(SEARCH, json={"query": "late@example.com"})) == ["late@example.com"]
    assert time.monotonic() - started < 10  # 30 s of lag, waited out in none


def test_search_limits(api: httpx.Client) -> None:
    assert api.post(SEARCH, json={"limit": 201}).status_code == 400
    too_many = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}] * 6}
    assert api.post(SEARCH, json=too_many).status_code == 400
    assert api.post(SEARCH, json={"after": "9950", "limit": 100}).status_code == 400


def test_in_is_case_sensitive_and_wants_lowercase(api: httpx.Client) -> None:
    """Facts §7: "IN ... is case-sensitive, so inputted values must be in lowercase"."""
    _contacts(api)

    def find(operator: str, values: list[str]) -> list[str]:
        filters = [{"propertyName": "firstname", "operator": operator, "values": values}]
        return _emails(api.post(SEARCH, json={"filterGroups": [{"filters": filters}], "properties": ["email"]}))

    assert find("IN", ["ada"]) == ["ada@example.com"]  # stored "Ada", indexed lowercased
    assert find("IN", ["Ada"]) == []  # a capital letter matches nothing
    assert find("IN", ["ADA", "Alan"]) == []
    assert len(find("NOT_IN", ["Ada"])) == 4  # ... so NOT_IN excludes nothing
    marker = {"propertyName": "email", "operator": "IN", "values": ["Ada@Example.com"]}
    assert _emails(api.post(SEARCH, json={"filterGroups": [{"filters": [marker]}]})) == []


def test_filter_limits_of_the_current_search_guide(api: httpx.Client) -> None:
    """"a maximum of five filterGroups with up to 6 filters in each group, with a maximum of
    18 filters in total" (the search guide, which replaced the 2024-08-26 changelog's 10 and
    25); beyond, a 400 VALIDATION_ERROR."""
    def body(*group_sizes: int) -> dict[str, object]:
        one = {"propertyName": "email", "operator": "HAS_PROPERTY"}
        return {"filterGroups": [{"filters": [one] * size} for size in group_sizes]}

    for allowed in ((6,), (5, 5, 5, 1, 1), (6, 6, 6), (4, 4, 4, 3, 3)):
        assert api.post(SEARCH, json=body(*allowed)).status_code == 200, allowed
    for refused in ((7,), (1, 1, 1, 1, 1, 1), (6, 6, 6, 1), (10,), (4, 4, 4, 4, 3)):
        response = api.post(SEARCH, json=body(*refused))
        assert response.status_code == 400, refused
        assert response.json()["category"] == "VALIDATION_ERROR" and response.json()["correlationId"]


def _filter(**fields: object) -> dict[str, object]:
    return {"filterGroups": [{"filters": [fields]}]}


@pytest.mark.parametrize("body", [
    _filter(propertyName="no_such_property", operator="EQ", value="x"),
    _filter(propertyName="no_such_property", operator="HAS_PROPERTY"),
    _filter(propertyName="hs_object_id", operator="GT", value="abc"),
    _filter(propertyName="hs_object_id", operator="BETWEEN", value="1", highValue="ten"),
    _filter(propertyName="hs_object_id", operator="IN", values=["1", "two"]),
    _filter(propertyName="createdate", operator="GTE", value="last tuesday"),
])
def test_filters_hubspot_cannot_read_are_a_400(api: httpx.Client, body: dict[str, object]) -> None:
    """An unknown property, or a value its type cannot hold, is HubSpot's generic 400
    ("There was a problem with the request.", no category; observed, not documented)."""
    _contacts(api)
    response = api.post(SEARCH, json=body)
    assert response.status_code == 400
    assert response.json()["message"] == "There was a problem with the request."
    assert "category" not in response.json() and response.json()["correlationId"]


@pytest.mark.parametrize("extra", [{"value": "x"}, {"values": ["x"]}, {"highValue": "x"}])
@pytest.mark.parametrize("operator", ["HAS_PROPERTY", "NOT_HAS_PROPERTY"])
def test_has_property_takes_no_value(api: httpx.Client, operator: str, extra: dict[str, object]) -> None:
    """"the value key must not be sent" with (NOT_)HAS_PROPERTY (appsmith#39865, observed)."""
    response = api.post(SEARCH, json=_filter(propertyName="email", operator=operator, **extra))
    assert response.status_code == 400
    assert response.json()["message"].endswith(f"problem: operator {operator} does not take a value")


def test_filters_the_search_guide_allows(api: httpx.Client) -> None:
    """Pseudo-properties HubSpot documents (hs_object_id, associations.<type>) are no error."""
    ids = _contacts(api)
    assert api.post(SEARCH, json=_filter(propertyName="hs_object_id", operator="EQ", value=ids[0])).json()["total"] == 1
    assert api.post(SEARCH, json=_filter(propertyName="associations.company", operator="EQ", value="1")).status_code == 200
    assert api.post(SEARCH, json=_filter(propertyName="createdate", operator="GT", value="1700000000000")).status_code == 200


def test_enumerations_match_case_sensitively(api: httpx.Client) -> None:
    """"When filtering for an enumeration property, search is case-sensitive for all filter
    operators"; text is not, except IN/NOT_IN, which want lowercase values (search guide)."""
    _contacts(api)  # lifecyclestage "customer" / "lead": internal values are lowercase

    def count(**fields: object) -> int:
        response = api.post(SEARCH, json=_filter(**fields))
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    assert count(propertyName="lifecyclestage", operator="EQ", value="customer") == 2
    assert count(propertyName="lifecyclestage", operator="EQ", value="CUSTOMER") == 0
    assert count(propertyName="lifecyclestage", operator="NEQ", value="CUSTOMER") == 4
    assert count(propertyName="lifecyclestage", operator="IN", values=["Lead", "customer"]) == 2
    assert count(propertyName="lifecyclestage", operator="NOT_IN", values=["LEAD"]) == 4
    assert count(propertyName="firstname", operator="EQ", value="ADA") == 1  # text: any case


def test_query_is_at_most_3000_characters(api: httpx.Client) -> None:
    assert api.post(SEARCH, json={"query": "a" * 3000}).status_code == 200
    assert api.post(SEARCH, json={"query": "a" * 3001}).status_code == 400
