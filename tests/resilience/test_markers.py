"""Markers are lowercase (search IN matches only lowercase), and what the first release
left behind (capitalised markers, in-flight entries without the markers they sent) is
still recovered without a duplicate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.hubspot.records import CreateInput, UpdateInput
from reconciler.identity.marker_writes import ensure_markers
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY
from reconciler.state.model import State
from reconciler.state.store import StateStore
from tests.helpers import write_project

from .conftest import STATE, CliRun, assert_exactly, bulk_spec, markers, read_state

pytestmark = [pytest.mark.contract(False), pytest.mark.fake_clock]


def _client(emulator: Emulator) -> HubSpotClient:
    return HubSpotClient(ClientSettings(base_url=emulator.base_url, token=emulator.token,
                                        requests_per_10s=None, search_per_second=None))


def test_a_project_name_with_capitals_gets_lowercase_markers(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "Seed-Large", {
        "reconciler.yaml": "name: Seed-Large\n", "bulk.yaml": bulk_spec(3, 2),
    })
    run = cli("apply", "--project", project, "--auto-approve")
    assert run.code == 0, run.err
    assert set(markers(emulator, "meetings")) == {f"seed-large:meetings/m{i}" for i in range(3)}
    assert {r["properties"]["reconciler_project"] for r in emulator.records("calls")} == {
        "seed-large"
    }
    assert read_state(project)["project_id"] == "seed-large"
    assert_exactly(emulator, project, {"meetings": 3, "calls": 2})


def test_an_in_flight_batch_left_by_the_first_release_is_recovered(
    faulty: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    """The first release marked records `Seed-Large:meetings/m0` and kept no markers in
    the in-flight entry; search IN finds them only by the lowercase value."""
    project = write_project(tmp_path / "seed", {
        "reconciler.yaml": "name: Seed-Large\n", "bulk.yaml": bulk_spec(5, 0),
    })
    addresses = [f"meetings/m{i}" for i in range(5)]
    with _client(faulty) as client:
        ensure_markers(client, ["meetings"])
        client.batch_create("meetings", [
            CreateInput(f"t{i}", {"hs_meeting_title": f"Meeting {i}",
                                  "hs_timestamp": "2026-12-01T10:00:00Z",
                                  MARKER_PROPERTY: f"Seed-Large:{address}"})
            for i, address in enumerate(addresses[:3])  # the other two never committed
        ])
    state = State.empty(target="local", project="Seed-Large")  # no project_id: first release
    state.in_flight["t0"] = {"object_type": "meetings", "addresses": addresses,
                             "started_at": faulty.clock.time() - 60}
    StateStore(project / STATE).save(state)
    faulty.set_config(search_lag_seconds=0.5)

    run = cli("apply", "--project", project, "--auto-approve", grace=2.0)

    assert run.code == 0, run.out + run.err
    records = read_state(project)["records"]
    assert sorted(records) == addresses
    assert len(faulty.records("meetings")) == 5  # three adopted, two created, none twice
    seen = markers(faulty, "meetings")
    assert max(seen.values()) == 1


def test_an_in_flight_create_is_not_recovered_from_a_copied_key(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    """A meeting carrying the key an interrupted create sent, but another project's id
    (a key copied onto another team's record), is not what was sent: it is not adopted
    (nor then updated); the create is sent again once the grace has passed."""
    project = write_project(tmp_path / "seed", {
        "reconciler.yaml": "name: seed\nid: seed-4f2a9c\n", "bulk.yaml": bulk_spec(2, 0),
    })
    addresses = ["meetings/m0", "meetings/m1"]
    with _client(emulator) as client:
        ensure_markers(client, ["meetings"])
        made = client.batch_create("meetings", [
            CreateInput("t0", {"hs_meeting_title": "Meeting 0",
                               "hs_timestamp": "2026-12-01T10:00:00Z",
                               MARKER_PROPERTY: "seed-4f2a9c:meetings/m0",
                               PROJECT_PROPERTY: "seed-4f2a9c"}),
            CreateInput("t1", {"hs_meeting_title": "Their meeting",
                               "hs_timestamp": "2026-10-01T09:00:00Z",
                               MARKER_PROPERTY: "seed-4f2a9c:meetings/m1",
                               PROJECT_PROPERTY: "beta-77"}),
        ]).results
    ours, theirs = sorted((r.id for r in made), key=int)
    state = State.empty(target="local", project="seed", project_id="seed-4f2a9c")
    state.in_flight["t0"] = {
        "object_type": "meetings", "addresses": addresses,
        "started_at": emulator.clock.time() - 60,
        "markers": {a: f"seed-4f2a9c:{a}" for a in addresses},
    }
    StateStore(project / STATE).save(state)

    run = cli("apply", "--project", project, "--auto-approve", grace=0.0)

    assert run.code == 0, run.out + run.err
    assert theirs not in run.out, run.out  # never adopted (so never released either)
    assert "+ meetings/m1" in run.out, run.out
    records = read_state(project)["records"]
    assert records["meetings/m0"]["id"] == ours
    assert records["meetings/m1"]["id"] not in (ours, theirs)
    (their_meeting,) = [r for r in emulator.records("meetings") if str(r["id"]) == theirs]
    assert their_meeting["properties"]["hs_meeting_title"] == "Their meeting"
    assert their_meeting["properties"][PROJECT_PROPERTY] == "beta-77"


def _first_release_project(emulator: Emulator, cli: Callable[..., CliRun], root: Path) -> Path:
    """A project applied the way the first release did: markers `Demo:<address>` (the
    name, capitals kept), no reconciler_project, and a state without project_id."""
    project = write_project(root, {"reconciler.yaml": "name: Demo\n", "bulk.yaml": bulk_spec(3, 2)})
    assert cli("apply", "--project", project, "--auto-approve").code == 0
    state = read_state(project)
    with _client(emulator) as client:
        for object_type in ("meetings", "calls"):
            client.batch_update(object_type, [
                UpdateInput(record["id"], {MARKER_PROPERTY: f"Demo:{address}",
                                           PROJECT_PROPERTY: ""})
                for address, record in state["records"].items()
                if record["object_type"] == object_type
            ])
    path = project / STATE
    data = json.loads(path.read_text())
    del data["project_id"]
    path.write_text(json.dumps(data))
    return project


def test_markers_of_the_first_release_are_rewritten_in_one_explicit_step(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = _first_release_project(emulator, cli, tmp_path / "demo")
    emulator.clear_requests()

    shown = cli("plan", "--project", project)
    assert shown.code == 0, shown.err
    assert "5 marker rewrites" in shown.out, shown.out
    assert "Demo:meetings/m0" in shown.out and "demo:meetings/m0" in shown.out

    run = cli("apply", "--project", project, "--auto-approve")
    assert run.code == 0, run.out + run.err
    writes = [r for r in emulator.requests() if r["method"] == "POST"
              and r["path"].endswith(("/batch/create", "/batch/upsert", "/batch/archive"))]
    assert writes == []  # a rewrite of markers, nothing created or archived
    assert "Apply complete: 0 created, 0 updated, 0 archived, 5 markers rewritten" in run.out
    assert set(markers(emulator, "meetings")) == {f"demo:meetings/m{i}" for i in range(3)}
    assert read_state(project)["project_id"] == "demo"
    assert_exactly(emulator, project, {"meetings": 3, "calls": 2})

    again = cli("plan", "--project", project)
    assert "No changes." in again.out, again.out


def test_the_apply_summary_counts_records_whose_markers_were_rewritten() -> None:
    from reconciler.applying.run import ApplyResult
    from reconciler.cli.output import render_apply_summary

    one = ApplyResult(updated=["calls/c0"], remarked=["meetings/m0"], requests=2)
    assert render_apply_summary(one) == (
        "Apply complete: 0 created, 1 updated, 0 archived, 1 marker rewritten (2 HTTP requests)."
    )
    assert "rewritten" not in render_apply_summary(ApplyResult())


def test_a_first_release_record_deleted_by_hand_is_made_again_with_new_markers(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = _first_release_project(emulator, cli, tmp_path / "demo")
    state = read_state(project)
    with _client(emulator) as client:  # one record deleted by hand: its rewrite fails
        client.batch_archive("calls", [state["records"]["calls/c0"]["id"]])
    run = cli("apply", "--project", project, "--auto-approve")
    # a refresh sees calls/c0 gone: it is created again (new markers), the rest rewritten
    assert run.code == 0, run.out + run.err
    assert read_state(project)["project_id"] == "demo"
    assert_exactly(emulator, project, {"meetings": 3, "calls": 2})


def test_a_saved_plan_with_a_rewrite_and_an_update_of_one_record_applies(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = _first_release_project(emulator, cli, tmp_path / "demo")
    spec = project / "bulk.yaml"
    spec.write_text(spec.read_text().replace("title: Meeting 0", "title: Meeting zero"))
    plan_file = tmp_path / "plan.json"
    assert cli("plan", "--project", project, "--out", plan_file).code == 0
    run = cli("apply", "--project", project, "--plan", plan_file)
    assert run.code == 0, run.out + run.err
    (m0,) = [r for r in emulator.records("meetings")
             if r["properties"]["reconciler_key"] == "demo:meetings/m0"]
    assert m0["properties"]["hs_meeting_title"] == "Meeting zero"
    assert "No changes." in cli("plan", "--project", project).out


CONFLICT_SPEC = """\
companies:
  acme:
    name: Acme GmbH
  beta:
    name: Beta AG
meetings:
  kickoff:
    title: Kickoff
    start: 2026-12-01T10:00:00Z
"""


def test_a_marker_rewrite_onto_a_marker_another_record_carries_is_a_clear_error(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    """A first-release state; other records already carry the new key of companies/acme
    and meetings/kickoff (without reconciler_project, so no plan adopts them). Those two
    rewrites are refused, each naming the record that carries the marker; the rest of
    the batch is rewritten; following the message settles the plan."""
    project = write_project(tmp_path / "acme", {
        "reconciler.yaml": "name: acme\nid: acme-3f9a1c2b\n", "spec.yaml": CONFLICT_SPEC})
    assert cli("apply", "--project", project, "--auto-approve", grace=0.0).code == 0
    state = read_state(project)
    ids = {a: r["id"] for a, r in state["records"].items()}
    with _client(emulator) as client:
        for address, hubspot_id in ids.items():  # what the first release wrote
            client.batch_update(address.partition("/")[0], [UpdateInput(hubspot_id, {
                MARKER_PROPERTY: f"acme:{address}", PROJECT_PROPERTY: ""})])
        holders = {
            address: client.batch_create(address.partition("/")[0], [CreateInput("h", {
                **properties, MARKER_PROPERTY: f"acme-3f9a1c2b:{address}"})]).results[0].id
            for address, properties in (
                ("companies/acme", {"name": "Acme (someone's)"}),
                ("meetings/kickoff", {"hs_meeting_title": "Kickoff",
                                      "hs_timestamp": "2026-12-01T10:00:00Z"}),
            )
        }
    path = project / STATE
    data = json.loads(path.read_text())
    del data["project_id"]
    path.write_text(json.dumps(data))

    for _run in range(2):  # the same clear error, not a plan that never settles quietly
        run = cli("apply", "--project", project, "--auto-approve", grace=0.0)
        assert run.code == 1, run.out + run.err
        for address, holder in holders.items():
            object_type = address.partition("/")[0]
            assert (f"marker rewrite refused: {object_type} {holder} already carries "
                    f"reconciler_key acme-3f9a1c2b:{address}") in run.err, run.err
            assert f"reconciler import {address} {holder}" in run.err
        seen = {r["id"]: r["properties"][MARKER_PROPERTY] for t in ("companies", "meetings")
                for r in emulator.records(t)}
        assert seen[ids["companies/beta"]] == "acme-3f9a1c2b:companies/beta"  # its batch-mate
        assert seen[ids["companies/acme"]] == "acme:companies/acme"  # left as it was
        assert seen[ids["meetings/kickoff"]] == "acme:meetings/kickoff"  # no duplicate made
        assert max(markers(emulator, "meetings").values()) == 1

    # as the message says: the record carrying the marker is this project's
    for address, holder in holders.items():
        assert cli("state", "rm", "--offline", address, "--project", project).code == 0
        run = cli("import", address, holder, "--project", project, "--auto-approve")
        assert run.code == 0, run.out + run.err
    run = cli("apply", "--project", project, "--auto-approve", grace=0.0)
    assert run.code == 0, run.out + run.err
    assert read_state(project)["project_id"] == "acme-3f9a1c2b"
    assert "No changes." in cli("plan", "--project", project, grace=0.0).out
