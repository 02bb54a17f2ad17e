"""Pipelines and stages as HubSpot documents them (design-20 §1.5, §3.8): the default deal and
ticket pipelines, several pipelines per type with portal-generated ids, the validations,
archive and restore, and records whose stage must be one of their pipeline's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator

PIPES = "/crm/v3/pipelines"


def _stage(label: str, probability: str | None = "0.5", order: int = 0, **metadata: str) -> dict[str, Any]:
    meta = {"probability": probability, **metadata} if probability is not None else dict(metadata)
    return {"label": label, "displayOrder": order, "metadata": meta}


def _emea() -> dict[str, Any]:
    return {"label": "EMEA Sales", "displayOrder": 1, "stages": [
        _stage("Discovery", "0.2", 0), _stage("Won", "1.0", 1), _stage("Lost", "0.0", 2)]}


def _create(api: httpx.Client, body: dict[str, Any], object_type: str = "deals") -> dict[str, Any]:
    response = api.post(f"{PIPES}/{object_type}", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _deal(api: httpx.Client, **props: str) -> httpx.Response:
    return api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "D", **props}, "associations": []})


def test_every_portal_starts_with_the_default_pipelines(api: httpx.Client) -> None:
    deals = api.get(f"{PIPES}/deals").json()["results"]
    assert [(p["id"], p["label"], p["createdAt"]) for p in deals] == [
        ("default", "Sales Pipeline", "1970-01-01T00:00:00.000Z")]
    stages = deals[0]["stages"]
    assert [s["id"] for s in stages][:2] == ["appointmentscheduled", "qualifiedtobuy"] and len(stages) == 7
    assert stages[-2]["metadata"] == {"probability": "1.0", "isClosed": "true"}
    tickets = api.get("/crm/pipelines/2026-03/tickets").json()["results"]
    assert [(s["id"], s["metadata"]["ticketState"]) for s in tickets[0]["stages"]] == [
        ("1", "OPEN"), ("2", "OPEN"), ("3", "OPEN"), ("4", "CLOSED")]
    assert api.get(f"{PIPES}/0-3/default").json()["label"] == "Sales Pipeline"  # by type id too


def test_pipelines_are_made_with_ids_of_the_portals_own(api: httpx.Client) -> None:
    made = _create(api, _emea())
    assert made["id"].isdigit() and [s["label"] for s in made["stages"]] == ["Discovery", "Won", "Lost"]
    assert made["stages"][0]["metadata"] == {"probability": "0.2", "isClosed": "false"}
    assert len(api.get(f"{PIPES}/deals").json()["results"]) == 2
    with start_emulator(EmulatorConfig(token="t", portal_id=7654321)) as other:
        elsewhere = httpx.post(f"{other.base_url}{PIPES}/deals", json=_emea(),
                               headers={"Authorization": "Bearer t"}).json()
    assert elsewhere["id"] != made["id"]
    assert not {s["id"] for s in elsewhere["stages"]} & {s["id"] for s in made["stages"]}


@pytest.mark.contract(requests=False)  # some requests leave out what the schema requires
def test_pipeline_validations(api: httpx.Client) -> None:
    _create(api, _emea())
    taken = api.post(f"{PIPES}/deals", json=_emea())
    assert taken.status_code == 409 and "EMEA Sales" in taken.json()["message"]

    def refused(body: dict[str, Any], object_type: str = "deals") -> str:
        response = api.post(f"{PIPES}/{object_type}", json={"label": "Other", "displayOrder": 2, **body})
        assert response.status_code == 400, response.text
        return str(response.json()["message"])

    assert "needs metadata.probability" in refused({"stages": [_stage("A", None)]})
    assert "in steps of 0.1" in refused({"stages": [_stage("A", "0.25")]})
    assert "in steps of 0.1" in refused({"stages": [_stage("A", "1.05")]})
    assert "at least one stage" in refused({"stages": []})
    assert "Stage labels must be unique: 'A'" in refused({"stages": [_stage("A"), _stage("A", order=1)]})
    assert "ticketState 'PENDING'" in refused({"stages": [_stage("A", None, ticketState="PENDING")]}, "tickets")
    assert "not supported for contacts" in refused({"stages": [_stage("A")]}, "contacts")
    ticket = _create(api, {"label": "Escalations", "displayOrder": 1, "stages": [_stage("Open", None)]}, "tickets")
    assert ticket["stages"][0]["metadata"]["ticketState"] == "OPEN"


@pytest.mark.contract(requests=False)  # PATCH bodies carry stages and archived where refused
def test_patch_never_touches_stages_and_archived_is_only_for_restoring(api: httpx.Client) -> None:
    made = _create(api, _emea())
    url = f"{PIPES}/deals/{made['id']}"
    patched = api.patch(url, json={"label": "EMEA", "stages": [_stage("Only")]})
    assert patched.status_code == 200
    assert patched.json()["label"] == "EMEA" and len(patched.json()["stages"]) == 3
    assert api.patch(url, json={"archived": True}).status_code == 400
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert api.get(f"{url}/stages").status_code == 404
    assert [p["id"] for p in api.get(f"{PIPES}/deals").json()["results"]] == ["default"]
    assert api.patch(url, json={"label": "x"}).status_code == 404
    restored = api.patch(url, json={"archived": False})
    assert restored.status_code == 200 and restored.json()["archived"] is False
    assert api.delete(f"{PIPES}/deals/default").status_code == 400


def test_put_replaces_the_stages(api: httpx.Client) -> None:
    made = _create(api, _emea())
    discovery = made["stages"][0]
    replaced = api.put(f"{PIPES}/deals/{made['id']}", json={"label": "EMEA Sales", "displayOrder": 1, "stages": [
        {**_stage("Discovery call", "0.1"), "stageId": discovery["id"]}, _stage("Signed", "1.0", 1)]})
    assert replaced.status_code == 200, replaced.text
    stages = replaced.json()["stages"]
    assert [(s["label"], s["id"] == discovery["id"]) for s in stages] == [("Discovery call", True), ("Signed", False)]
    assert api.get(f"{PIPES}/deals/{made['id']}/stages/{made['stages'][1]['id']}").status_code == 404


def test_a_pipeline_with_records_is_kept_when_asked_to_check(api: httpx.Client) -> None:
    made = _create(api, _emea())
    assert _deal(api, pipeline=made["id"], dealstage=made["stages"][0]["id"]).status_code == 201
    url = f"{PIPES}/deals/{made['id']}"
    refused = api.delete(url, params={"validateDealStageUsagesBeforeDelete": "true"})
    assert refused.status_code == 400 and "1 deals record(s)" in refused.json()["message"]
    assert api.delete(url, params={"validateReferencesBeforeDelete": "true"}).status_code == 400
    assert api.delete(url).status_code == 204  # the flags default to false (v3, 2026-03)


@pytest.mark.contract(requests=False)  # the stage PATCH without metadata breaks its schema
def test_stages_one_by_one(api: httpx.Client) -> None:
    made = _create(api, {"label": "Small", "displayOrder": 1, "stages": [_stage("Only", "0.5")]})
    stages = f"{PIPES}/deals/{made['id']}/stages"
    added = api.post(stages, json=_stage("Won", "1.0", 1))
    assert added.status_code == 201 and added.json()["metadata"]["isClosed"] == "true"
    assert api.post(stages, json=_stage("Won", "1.0", 2)).status_code == 409
    only = made["stages"][0]["id"]
    assert api.patch(f"{stages}/{only}", json={"label": "First"}).status_code == 400  # metadata required
    patched = api.patch(f"{stages}/{only}", json={"label": "First", "metadata": {"probability": "0.3"}})
    assert patched.json()["label"] == "First" and patched.json()["metadata"]["probability"] == "0.3"
    replaced = api.put(f"{stages}/{only}", json=_stage("First call", "0.3", 0))
    assert replaced.status_code == 200 and replaced.json()["label"] == "First call"
    assert api.get(f"{stages}/{only}/audit").json() == {"results": []}
    assert _deal(api, pipeline=made["id"], dealstage=only).status_code == 201
    in_use = api.delete(f"{stages}/{only}", params={"validateReferencesBeforeDelete": "true"})
    assert in_use.status_code == 400
    assert api.delete(f"{stages}/{added.json()['id']}").status_code == 204
    assert api.delete(f"{stages}/{only}").status_code == 400  # the last stage stays
    assert api.get(f"{PIPES}/deals/{made['id']}/audit").json() == {"results": []}


def test_a_records_stage_must_be_its_pipelines(api: httpx.Client) -> None:
    made = _create(api, _emea())
    discovery = made["stages"][0]["id"]
    refused = _deal(api, dealstage=discovery)  # no pipeline: the default one
    assert refused.status_code == 400
    assert (f"{discovery} is not a valid pipeline stage ID. Valid options are: pipelineId=default : "
            "[appointmentscheduled, qualifiedtobuy") in refused.json()["message"]
    assert "INVALID_OPTION" in refused.json()["message"]
    defaulted = _deal(api, dealstage="closedwon")
    assert defaulted.status_code == 201 and defaulted.json()["properties"]["pipeline"] == "default"
    moved = api.patch(f"/crm/v3/objects/deals/{defaulted.json()['id']}", json={"properties": {"pipeline": made["id"]}})
    assert moved.status_code == 400 and "closedwon is not a valid pipeline stage ID" in moved.json()["message"]
    assert api.patch(f"/crm/v3/objects/deals/{defaulted.json()['id']}", json={"properties": {
        "pipeline": made["id"], "dealstage": discovery}}).status_code == 200
    options = {p["name"]: [o["value"] for o in p["options"]] for p in api.get("/crm/v3/properties/deals").json()["results"]}
    assert options["pipeline"] == ["default", made["id"]] and discovery in options["dealstage"]


def test_a_tickets_stage_must_be_its_pipelines(api: httpx.Client) -> None:
    made = _create(api, {"label": "Escalations", "displayOrder": 1, "stages": [
        _stage("Open", None, ticketState="OPEN"), _stage("Done", None, 1, ticketState="CLOSED")]}, "tickets")

    def ticket(**props: str) -> httpx.Response:
        return api.post("/crm/v3/objects/tickets", json={"properties": {"subject": "S", **props}, "associations": []})

    assert ticket(hs_pipeline_stage=made["stages"][0]["id"]).status_code == 400
    assert ticket(hs_pipeline=made["id"], hs_pipeline_stage="1").status_code == 400
    made_ticket = ticket(hs_pipeline=made["id"], hs_pipeline_stage=made["stages"][0]["id"])
    assert made_ticket.status_code == 201
    defaulted = ticket(hs_pipeline_stage="2")
    assert defaulted.json()["properties"]["hs_pipeline"] == "0"


def test_an_archived_stage_takes_no_records(api: httpx.Client) -> None:
    made = _create(api, _emea())
    won = made["stages"][1]["id"]
    assert api.delete(f"{PIPES}/deals/{made['id']}/stages/{won}").status_code == 204
    refused = _deal(api, pipeline=made["id"], dealstage=won)
    assert refused.status_code == 400 and "INVALID_OPTION" in refused.json()["message"]


def test_pipeline_writes_need_the_schema_scope(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(scopes=("crm.objects.deals.write",))
    assert api.get(f"{PIPES}/deals").status_code == 200
    refused = api.post(f"{PIPES}/deals", json=_emea())
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["context"]["requiredGranularScopes"] == ["crm.schemas.deals.write"]
    emulator.set_config(scopes=("crm.schemas.deals.write",))
    assert api.post(f"{PIPES}/deals", json=_emea()).status_code == 201
    emulator.set_config(scopes=("tickets",))
    assert api.post(f"{PIPES}/tickets", json={"label": "T", "displayOrder": 1, "stages": [
        _stage("Open", None)]}).status_code == 201
