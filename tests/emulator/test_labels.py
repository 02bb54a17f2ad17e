"""Association labels (create, list, rename, delete; v4 and 2026-03), USER_DEFINED types in
association writes and reads, and HubSpot's Primary types with companies (design-19 row 7,
design-20 §1.6)."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.emulator.embedded import Emulator

LABELS = "/crm/associations/v4/contacts/companies/labels"


def _create(api: httpx.Client, object_type: str, **properties: str) -> str:
    response = api.post(f"/crm/v3/objects/{object_type}", json={"properties": properties, "associations": []})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _link(api: httpx.Client, pair: str, from_id: str, to_id: str, type_id: int,
          category: str = "USER_DEFINED") -> httpx.Response:
    return api.post(f"/crm/v4/associations/{pair}/batch/create", json={"inputs": [
        {"from": {"id": from_id}, "to": {"id": to_id},
         "types": [{"associationCategory": category, "associationTypeId": type_id}]}]})


def _types(api: httpx.Client, pair: str, from_id: str) -> list[dict[str, Any]]:
    read = api.post(f"/crm/v4/associations/{pair}/batch/read", json={"inputs": [{"id": from_id}]}).json()
    return [t for result in read["results"] for to in result["to"] for t in to["associationTypes"]]


def test_labels_are_made_in_both_directions_and_used_in_writes_and_reads(api: httpx.Client) -> None:
    made = api.post(LABELS, json={"name": "champion", "label": "Champion", "inverseLabel": "Championed by"})
    assert made.status_code == 200
    forward, inverse = (r["typeId"] for r in made.json()["results"])
    listed = api.get(LABELS).json()["results"]
    assert {"category": "USER_DEFINED", "typeId": forward, "label": "Champion"} in listed
    back = api.get("/crm/associations/2026-03/companies/contacts/labels").json()["results"]
    assert {"category": "USER_DEFINED", "typeId": inverse, "label": "Championed by"} in back
    contact, company = _create(api, "contacts", email="c@example.com"), _create(api, "companies", name="Acme")
    assert _link(api, "contacts/companies", contact, company, forward).status_code == 201
    assert _types(api, "contacts/companies", contact) == [{"category": "USER_DEFINED", "typeId": forward, "label": "Champion"}]
    assert _types(api, "companies/contacts", company) == [
        {"category": "USER_DEFINED", "typeId": inverse, "label": "Championed by"}]
    v3 = api.get(f"/crm/v3/objects/contacts/{contact}", params={"associations": "companies"}).json()
    assert v3["associations"]["companies"]["results"] == [{"id": company, "type": "champion"}]
    # a label's type id in the HUBSPOT_DEFINED category, or on another pair, is refused
    assert _link(api, "contacts/companies", contact, company, forward, "HUBSPOT_DEFINED").status_code == 207
    assert _link(api, "contacts/deals", contact, _create(api, "deals", dealname="D"), forward).status_code == 207


def test_label_rules(api: httpx.Client, emulator: Emulator) -> None:
    assert api.post(LABELS, json={"name": "champion", "label": "Champion"}).status_code == 200
    taken = api.post(LABELS, json={"name": "champion", "label": "Other"})
    assert taken.status_code == 409
    # the inverse direction shares the internal name
    assert api.post("/crm/associations/v4/companies/contacts/labels", json={"name": "champion", "label": "X"}).status_code == 409
    for n in range(49):
        assert api.post(LABELS, json={"name": f"l{n}", "label": f"L{n}"}).status_code == 200
    over = api.post(LABELS, json={"name": "one_more", "label": "One more"})
    assert over.status_code == 400 and "50 association labels" in over.json()["message"]
    emulator.set_config(scopes=("crm.objects.contacts.read",))  # the schema spec lists read scopes too
    assert api.post("/crm/associations/v4/contacts/deals/labels", json={"name": "buyer", "label": "Buyer"}).status_code == 200


def test_renaming_a_label_shows_in_reads(api: httpx.Client) -> None:
    made = api.post(LABELS, json={"name": "billing", "label": "Billing"}).json()["results"][0]["typeId"]
    contact, company = _create(api, "contacts", email="c@example.com"), _create(api, "companies", name="Acme")
    _link(api, "contacts/companies", contact, company, made)
    assert api.put(LABELS, json={"associationTypeId": made, "label": "Billing contact"}).status_code == 204
    assert _types(api, "contacts/companies", contact)[0]["label"] == "Billing contact"
    assert _types(api, "companies/contacts", company)[0]["label"] == "Billing contact"  # not paired: follows
    assert api.put(LABELS, json={"associationTypeId": 424242, "label": "x"}).status_code == 404
    assert api.put(LABELS, json={"associationTypeId": 1, "label": "x"}).status_code == 400


def test_deleting_a_label_removes_it_from_associations(api: httpx.Client) -> None:
    made = api.post(LABELS, json={"name": "champion", "label": "Champion", "inverseLabel": "Championed by"}).json()
    forward, inverse = (r["typeId"] for r in made["results"])
    contact, company = _create(api, "contacts", email="c@example.com"), _create(api, "companies", name="Acme")
    _link(api, "contacts/companies", contact, company, forward)
    _link(api, "contacts/companies", contact, company, 279, "HUBSPOT_DEFINED")
    assert api.delete(f"{LABELS}/{forward}").status_code == 204
    assert [t["typeId"] for t in _types(api, "contacts/companies", contact)] == [279]
    assert [t["typeId"] for t in _types(api, "companies/contacts", company)] == [280]
    assert all(r["typeId"] != inverse for r in api.get("/crm/associations/v4/companies/contacts/labels").json()["results"])
    assert api.delete(f"{LABELS}/{forward}").status_code == 404
    assert api.delete(f"{LABELS}/1").status_code == 400  # "Default association types ... cannot be deleted"


def test_same_type_labels(api: httpx.Client) -> None:
    pair = "/crm/associations/v4/contacts/contacts/labels"
    paired = api.post(pair, json={"name": "manager", "label": "Manager", "inverseLabel": "Employee"}).json()["results"]
    single = api.post(pair, json={"name": "peer", "label": "Peer"}).json()["results"]
    boss, report = _create(api, "contacts", email="b@example.com"), _create(api, "contacts", email="r@example.com")
    assert _link(api, "contacts/contacts", boss, report, paired[0]["typeId"]).status_code == 201
    assert _types(api, "contacts/contacts", report) == [{"category": "USER_DEFINED", "typeId": paired[1]["typeId"], "label": "Employee"}]
    assert _link(api, "contacts/contacts", boss, report, single[0]["typeId"]).status_code == 201
    assert {t["label"] for t in _types(api, "contacts/contacts", report)} == {"Employee", "Peer"}


def test_primary_types_with_companies(api: httpx.Client) -> None:
    """Primary is contact→company 1 (2), deal→company 5 (6), ticket→company 26 (25)."""
    company = _create(api, "companies", name="Acme")
    deal = _create(api, "deals", dealname="D")
    ticket = _create(api, "tickets", subject="T", hs_pipeline_stage="1")
    contact = _create(api, "contacts", email="c@example.com")
    for pair, record, primary, inverse in (("deals/companies", deal, 5, 6), ("tickets/companies", ticket, 26, 25),
                                           ("contacts/companies", contact, 1, 2)):
        assert _link(api, pair, record, company, primary, "HUBSPOT_DEFINED").status_code == 201, pair
        assert _types(api, pair, record) == [{"category": "HUBSPOT_DEFINED", "typeId": primary, "label": "Primary"}]
        back = "/".join(reversed(pair.split("/")))
        assert inverse in [t["typeId"] for t in _types(api, back, company)]
    companies_to_contacts = api.get("/crm/associations/v4/companies/contacts/labels").json()["results"]
    assert {"category": "HUBSPOT_DEFINED", "typeId": 2, "label": "Contact with Primary Company"} in companies_to_contacts
    assert [r["typeId"] for r in api.get("/crm/associations/v4/deals/companies/labels").json()["results"]] == [341, 5]
    v3 = api.get(f"/crm/v3/objects/deals/{deal}", params={"associations": "companies"}).json()
    assert v3["associations"]["companies"]["results"] == [{"id": company, "type": "deal_to_company"}]
    # a Primary id of another pair is refused
    assert _link(api, "deals/companies", deal, company, 1, "HUBSPOT_DEFINED").status_code == 207
