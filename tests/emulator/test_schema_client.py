"""The client's schema endpoints (hubspot/schema_endpoints.py) against the emulator, on v3 and
2026-03: every exchange is contract-checked against crm-properties-*, crm-pipelines-* and
crm-associations-schema-*.json at teardown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.errors import ApiError
from reconciler.hubspot.client import (
    CreateInput,
    HubSpotClient,
    PropertyChanges,
    PropertyGroup,
    PropertyOption,
    PropertySchema,
    deal_stage,
    ticket_stage,
)
from reconciler.hubspot.connection import ClientSettings


@pytest.fixture(params=["v3", "2026-03"])
def client(emulator: Emulator, request: pytest.FixtureRequest) -> Iterator[HubSpotClient]:
    settings = ClientSettings(base_url=emulator.base_url, token=emulator.token, requests_per_10s=None,
                              search_per_second=None, api_version=request.param)
    with HubSpotClient(settings) as made:
        yield made


def _segment(*values: str) -> PropertySchema:
    return PropertySchema(
        name="demo_segment", label="Demo segment", type="enumeration", field_type="select",
        group_name="demo_info", description="Segment shown in demos",
        options=tuple(PropertyOption(v, v.upper(), n) for n, v in enumerate(values)),
    )


def test_properties_and_groups(client: HubSpotClient) -> None:
    group = client.create_property_group("companies", PropertyGroup("demo_info", "Demo info", 1))
    assert group == PropertyGroup("demo_info", "Demo info", 1)
    assert {g.name for g in client.property_groups("companies")} == {"companyinformation", "demo_info"}
    made = client.create_property_schema("companies", _segment("smb", "ent"))
    assert [(o.value, o.label, o.display_order) for o in made.options] == [("smb", "SMB", 0), ("ent", "ENT", 1)]
    assert not made.hubspot_defined and made.description == "Segment shown in demos"
    with pytest.raises(ApiError) as taken:
        client.create_property_schema("companies", _segment("smb"))
    assert taken.value.status == 409
    changed = client.update_property_schema("companies", "demo_segment", PropertyChanges(
        label="Segment", options=(*made.options, PropertyOption("mid", "Mid", 2, hidden=True))))
    assert changed.label == "Segment" and [o.value for o in changed.options] == ["smb", "ent", "mid"]
    assert changed.options[2].hidden
    builtin = client.read_property_schema("companies", "name")
    assert builtin is not None and builtin.hubspot_defined and builtin.read_only_definition
    assert client.read_property_schema("companies", "nope") is None
    client.archive_property("companies", "demo_segment")
    client.archive_property("companies", "demo_segment")  # gone already: done
    assert client.read_property_schema("companies", "demo_segment") is None
    assert [p.name for p in client.property_schemas("companies", archived=True)] == ["demo_segment"]
    assert client.update_property_group("companies", "demo_info", label="Demo").label == "Demo"
    client.archive_property_group("companies", "demo_info")
    assert [g.name for g in client.property_groups("companies")] == ["companyinformation"]


def test_property_batches(client: HubSpotClient) -> None:
    tier = PropertySchema("tier", "Tier", "string", "text", "dealinformation")
    bad = PropertySchema("seats", "Seats", "number", "checkbox", "dealinformation")
    made, refused = client.create_property_schemas("deals", [tier, bad])
    assert [p.name for p in made] == ["tier"]
    assert len(refused) == 1 and refused[0].context["name"] == ("seats",)
    assert "not a valid fieldType" in refused[0].message


def test_pipelines_and_stages(client: HubSpotClient) -> None:
    emea = client.create_pipeline("deals", "EMEA Sales", 1, [
        deal_stage("Discovery", 0, 0.2), deal_stage("Won", 1, 1.0)])
    assert [(s.label, s.probability) for s in emea.stages] == [("Discovery", 0.2), ("Won", 1.0)]
    assert [p.label for p in client.pipelines("deals")] == ["Sales Pipeline", "EMEA Sales"]
    assert client.update_pipeline("deals", emea.id, label="EMEA").label == "EMEA"
    lost = client.create_stage("deals", emea.id, deal_stage("Lost", 2, 0.0))
    moved = client.update_stage("deals", emea.id, lost.id, deal_stage("Lost deal", 2, 0.0))
    assert moved.label == "Lost deal" and moved.metadata["isClosed"] == "true"
    client.archive_stage("deals", emea.id, lost.id)
    assert [s.label for s in client.read_pipeline("deals", emea.id).stages] == ["Discovery", "Won"]  # type: ignore[union-attr]
    in_it = client.batch_create("deals", [CreateInput(
        "t1", {"dealname": "D", "pipeline": emea.id, "dealstage": emea.stages[0].id})])
    assert not in_it.errors  # a deal in the pipeline keeps it
    with pytest.raises(ApiError) as in_use:
        client.archive_pipeline("deals", emea.id)
    assert in_use.value.status == 400
    with pytest.raises(ApiError):
        client.archive_stage("deals", emea.id, emea.stages[0].id)
    tickets = client.create_pipeline("tickets", "Escalations", 1, [
        ticket_stage("Open", 0), ticket_stage("Closed", 1, "closed")])
    assert [s.ticket_state for s in tickets.stages] == ["OPEN", "CLOSED"]
    client.archive_pipeline("tickets", tickets.id)
    assert client.read_pipeline("tickets", tickets.id) is None
    client.archive_pipeline("tickets", tickets.id)  # gone already: done
    assert client.restore_pipeline("tickets", tickets.id).label == "Escalations"


def test_association_labels(client: HubSpotClient) -> None:
    made = client.create_association_label("contacts", "companies", "champion", "Champion", "Championed by")
    assert [(m.category, m.label) for m in made] == [("USER_DEFINED", "Champion"), ("USER_DEFINED", "Championed by")]
    forward = made[0].type_id
    client.update_association_label("contacts", "companies", forward, "Champions", "Championed")
    listed = {label.type_id: label.label for label in client.association_labels("contacts", "companies")}
    assert listed[forward] == "Champions" and listed[1] == "Primary" and listed[279] is None
    assert {lbl.label for lbl in client.association_labels("companies", "contacts")} >= {"Championed"}
    client.delete_association_label("contacts", "companies", forward)
    client.delete_association_label("contacts", "companies", forward)  # gone already: done
    assert forward not in {label.type_id for label in client.association_labels("contacts", "companies")}
