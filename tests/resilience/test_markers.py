"""Markers are lowercase (search IN matches only lowercase), and what the first release
left behind (capitalised markers, in-flight entries without the markers they sent) is
still recovered without a duplicate."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.client import ClientSettings, CreateInput, HubSpotClient
from reconciler.emulator import Emulator, FaultConfig
from reconciler.recovery import MARKER_PROPERTY, ensure_markers
from reconciler.state import State, StateStore

from .conftest import STATE, CliRun, assert_exactly, bulk_spec, markers, read_state, write_project

pytestmark = pytest.mark.contract(False)


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
                             "started_at": time.time() - 60}
    StateStore(project / STATE).save(state)
    faulty.set_config(search_lag_seconds=0.5)

    run = cli("apply", "--project", project, "--auto-approve", grace=2.0)

    assert run.code == 0, run.out + run.err
    records = read_state(project)["records"]
    assert sorted(records) == addresses
    assert len(faulty.records("meetings")) == 5  # three adopted, two created, none twice
    seen = markers(faulty, "meetings")
    assert max(seen.values()) == 1
