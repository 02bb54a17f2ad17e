"""Answers apply must not believe blindly, and what HubSpot's schemas silently drop.

- Upsert inputs have no ``associations`` field (SimplePublicObjectBatchInputUpsert), so
  the associations of upserted records are made through the associations API.
- A create result counts only if the marker it carries is the one sent with the input it
  claims to answer, and its id is its own; otherwise the input's outcome is unknown: it is
  looked up by marker, never mapped blindly and never resent blind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from tests.helpers import write_project

from .conftest import (
    CliRun,
    RewritingTransport,
    apply_library,
    assert_exactly,
    bulk_spec,
    json_answer,
    read_state,
)

ACCOUNTS = """\
companies:
  acme:
    name: Acme GmbH
    domain: acme.example
  globex:
    name: Globex
    domain: globex.example
contacts:
  jane:
    email: jane@acme.example
    associations:
      - company: acme
  hank:
    email: hank@globex.example
    associations:
      - company: globex
deals:
  rollout:
    name: Acme rollout
    pipeline: default
    stage: appointmentscheduled
    associations:
      - company: acme
      - contact: jane
"""


def test_associations_of_upserted_records_are_made_through_the_associations_api(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "acme", {"reconciler.yaml": "name: acme\n",
                                                "accounts.yaml": ACCOUNTS})
    run = cli("apply", "--project", project, "--auto-approve")
    assert run.code == 0, run.out + run.err

    upserts = [r for r in emulator.requests() if r["path"].endswith("/batch/upsert")]
    assert upserts and not any("associations" in i for r in upserts
                               for i in r["request_body"]["inputs"])
    records = read_state(project)["records"]
    ids = {address: record["id"] for address, record in records.items()}
    settings = ClientSettings(base_url=emulator.base_url, token=emulator.token,
                              requests_per_10s=None, search_per_second=None)
    with HubSpotClient(settings) as hub:  # read back what the portal holds
        contacts = hub.read_associations("contacts", "companies",
                                         [ids["contacts/jane"], ids["contacts/hank"]])
        deal_companies = hub.read_associations("deals", "companies", [ids["deals/rollout"]])
        deal_contacts = hub.read_associations("deals", "contacts", [ids["deals/rollout"]])
    assert {to for to, _ in contacts[ids["contacts/jane"]]} == {ids["companies/acme"]}
    assert {to for to, _ in contacts[ids["contacts/hank"]]} == {ids["companies/globex"]}
    assert {to for to, _ in deal_companies[ids["deals/rollout"]]} == {ids["companies/acme"]}
    assert {to for to, _ in deal_contacts[ids["deals/rollout"]]} == {ids["contacts/jane"]}
    # recorded once made, so the next plan is exact
    assert [a["to_key"] for a in records["deals/rollout"]["associations"]] == ["acme", "jane"]
    assert "No changes." in cli("plan", "--project", project).out


def _create_answers(path_end: str = "/batch/create") -> Callable[[httpx.Request], bool]:
    return lambda request: request.method == "POST" and request.url.path.endswith(path_end)


def _one_id_for_all(answer: dict[str, Any]) -> dict[str, Any]:
    first = answer["results"][0]["id"]
    return {**answer, "results": [{**r, "id": first} for r in answer["results"]]}


def _markers_rotated(answer: dict[str, Any]) -> dict[str, Any]:
    """Each result keeps its trace id but carries the next result's properties (and id)."""
    results = answer["results"]
    turned = results[1:] + results[:1]
    return {**answer, "results": [
        {**r, "id": t["id"], "properties": t["properties"]} for r, t in zip(results, turned, strict=True)
    ]}


def _foreign_marker(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "results": [
        {**r, "properties": {**r["properties"], "reconciler_key": "other:meetings/x"}}
        for r in answer["results"]
    ]}


def _results_missing(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "results": answer["results"][:2]}


@pytest.mark.contract(False)  # the rewritten answers are not HubSpot's
@pytest.mark.parametrize("rewrite", [_one_id_for_all, _markers_rotated, _foreign_marker,
                                     _results_missing])
def test_create_results_that_do_not_add_up_are_settled_by_marker(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path,
    rewrite: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    project = write_project(tmp_path / "answers", {"reconciler.yaml": "name: answers\n",
                                                   "bulk.yaml": bulk_spec(6, 0)})

    def meddle(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
               ) -> httpx.Response:
        response = send(request)  # HubSpot committed the batch
        return json_answer(response, rewrite(json.loads(response.read())))

    transport = RewritingTransport(_create_answers(), meddle)
    result = apply_library(emulator, project, transport, grace=1.0)

    assert transport.hits == 1
    assert result.ok, [f.render() for f in result.failures]
    creates = [r for r in emulator.requests() if r["path"].endswith("/batch/create")]
    assert len(creates) == 1  # settled by marker search: nothing was sent again
    assert_exactly(emulator, project, {"meetings": 6})
    assert "No changes." in cli("plan", "--project", project).out


@pytest.mark.contract(False)
def test_an_upsert_answer_missing_results_is_settled_not_dropped(
    emulator: Emulator, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "acme", {"reconciler.yaml": "name: acme\n",
                                                "accounts.yaml": ACCOUNTS})

    def meddle(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
               ) -> httpx.Response:
        response = send(request)
        return json_answer(response, {**json.loads(response.read()), "results": []})

    transport = RewritingTransport(_create_answers("/companies/batch/upsert"), meddle)
    result = apply_library(emulator, project, transport, grace=1.0)
    assert transport.hits == 1
    assert result.ok, [f.render() for f in result.failures]
    assert_exactly(emulator, project, {"companies": 2, "contacts": 2, "deals": 1})
