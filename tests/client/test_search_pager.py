"""``HubSpotClient.search`` pages by ``hs_object_id``, never by ``after``.

Search refuses to page past 10,000 results with ``after`` (facts §7); asking each next page
for the ids above the last one seen keeps every query a first page, however many match.
"""

from __future__ import annotations

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import CreateInput

from .conftest import api_requests


def meeting(trace: str, title: str) -> CreateInput:
    return CreateInput(trace, {"hs_timestamp": "1700000000000", "hs_meeting_title": title})


def test_search_asks_each_next_page_for_ids_above_the_last(
    client: HubSpotClient, hub: Emulator
) -> None:
    created = client.batch_create("meetings", [meeting(f"k{i}", "keyset") for i in range(7)])
    ids = sorted((r.id for r in created.results), key=int)
    hub.clear_requests()
    title = {"propertyName": "hs_meeting_title", "operator": "EQ", "value": "keyset"}
    found = list(client.search("meetings", [{"filters": [title]}], ["hs_meeting_title"],
                               limit=3))
    assert [r.id for r in found] == ids  # each once, oldest first
    bodies = [r["request_body"] for r in api_requests(hub, "/search")]
    assert len(bodies) == 3
    assert not any("after" in body for body in bodies)
    above = [[f for f in body["filterGroups"][0]["filters"] if f["propertyName"] == "hs_object_id"]
             for body in bodies]
    assert above == [
        [],
        [{"propertyName": "hs_object_id", "operator": "GT", "value": ids[2]}],
        [{"propertyName": "hs_object_id", "operator": "GT", "value": ids[5]}],
    ]
    assert all(body["filterGroups"][0]["filters"][0] == title for body in bodies)


def test_search_without_filters_pages_by_id_too(client: HubSpotClient, hub: Emulator) -> None:
    client.batch_create("meetings", [meeting(f"k{i}", "any") for i in range(4)])
    hub.clear_requests()
    assert len(list(client.search("meetings", [], [], limit=3))) == 4
    bodies = [r["request_body"] for r in api_requests(hub, "/search")]
    assert [len(b["filterGroups"]) for b in bodies] == [0, 1]
    assert bodies[1]["filterGroups"][0]["filters"][0]["operator"] == "GT"
