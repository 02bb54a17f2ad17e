"""Lost answers and a lagging search index never give a duplicate or a lost mapping.

On a fake clock (``tests/helpers.FakeClock``): the emulator's search lag and the CLI's
recovery grace, 429 pauses and backoff all move the same clock, so a storm that waits
minutes on a real one runs in seconds and makes the same checks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator.config import FaultConfig
from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.hubspot.records import CreateInput
from reconciler.identity.marker_writes import ensure_markers
from reconciler.identity.markers import marker_properties, marker_value
from reconciler.state.model import State
from reconciler.state.store import StateStore

from .conftest import STATE, CliRun, assert_exactly, bulk_spec, markers, read_state, write_project

pytestmark = [
    pytest.mark.contract(False),  # HubSpot's 429 body is not in its own spec
    pytest.mark.fake_clock,
]


@pytest.mark.slow
def test_fault_storm_converges_within_three_applies(
    faulty: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "storm", {
        "reconciler.yaml": "name: storm\n", "bulk.yaml": bulk_spec(1000, 1000),
    })
    faulty.set_faults(
        FaultConfig(rate_limit_429=0.30, error_5xx=0.10, drop_after_commit=0.05), seed=1234
    )
    faulty.set_config(search_lag_seconds=1.5)
    runs: list[CliRun] = []
    for _ in range(3):
        runs.append(cli("apply", "--project", project, "--auto-approve", grace=3.0))
        if runs[-1].code == 0:
            break
    assert runs[-1].code == 0, runs[-1].err[-2000:]
    assert "Traceback" not in "".join(r.err for r in runs)
    faulty.set_faults(FaultConfig())
    assert_exactly(faulty, project, {"meetings": 1000, "calls": 1000})
    # and the state says what the portal holds: nothing left to do
    assert cli("plan", "--project", project, "--detailed-exitcode").code == 0
    assert cli("plan", "--project", project, "--offline", "--detailed-exitcode").code == 0


def _committed_but_unanswered(emulator: Emulator, project: Path, count: int) -> None:
    """What a crash right after HubSpot committed a batch leaves: records with their
    marker in the portal, and the batch still in flight in the state."""
    settings = ClientSettings(base_url=emulator.base_url, token=emulator.token,
                              requests_per_10s=None, search_per_second=None,
                              clock=emulator.clock)
    addresses = [f"meetings/m{i}" for i in range(count)]
    with HubSpotClient(settings) as client:
        ensure_markers(client, ["meetings"])
        client.batch_create("meetings", [
            CreateInput(f"t{i}", {"hs_meeting_title": f"Meeting {i}",
                                  "hs_timestamp": "2026-12-01T10:00:00Z",
                                  **marker_properties("lag", address)})
            for i, address in enumerate(addresses)
        ])
    store = StateStore(project / STATE)
    state = State.empty(target="local", project="lag")
    state.in_flight["t0"] = {"object_type": "meetings", "addresses": addresses,
                             "started_at": emulator.clock.time(),
                             "markers": {a: marker_value("lag", a) for a in addresses}}
    store.save(state)


def _searches(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests() if r["path"].endswith("/search"))


def test_recovery_waits_for_the_search_index(
    faulty: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "lag", {
        "reconciler.yaml": "name: lag\n", "bulk.yaml": bulk_spec(5, 0),
    })
    faulty.set_config(search_lag_seconds=1.5)
    _committed_but_unanswered(faulty, project, 5)
    faulty.clear_requests()

    run = cli("apply", "--project", project, "--auto-approve", grace=5.0)

    assert run.code == 0, run.err
    assert "Recovered 5 record(s)" in run.out or "5 recovered" in run.out
    assert _searches(faulty) >= 2  # the first search came back empty, and was not believed
    assert_exactly(faulty, project, {"meetings": 5})
    # adopted with what was sent, so the plan after it is exact, even offline
    assert cli("plan", "--project", project, "--offline", "--detailed-exitcode").code == 0


def test_without_a_grace_one_empty_search_would_duplicate(
    faulty: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    """The control for the test above: it is the grace that prevents the duplicates."""
    project = write_project(tmp_path / "lag", {
        "reconciler.yaml": "name: lag\n", "bulk.yaml": bulk_spec(5, 0),
    })
    faulty.set_config(search_lag_seconds=1.5)
    _committed_but_unanswered(faulty, project, 5)
    assert cli("apply", "--project", project, "--auto-approve", grace=0.0).code == 0
    assert max(markers(faulty, "meetings").values()) == 2
    assert len(read_state(project)["records"]) == 5


def _accounts_spec(companies: int, calendar: int) -> str:
    """Companies, a contact at each, a deal for every other one, and calendar meetings."""
    lines = ["companies:"]
    for i in range(companies):
        lines += [f"  co{i}:", f"    name: Company {i}", f"    domain: co{i}.example"]
    lines.append("contacts:")
    for i in range(companies):
        lines += [f"  p{i}:", f"    email: p{i}@co{i}.example", "    associations:",
                  f"      - company: co{i}"]
    lines.append("deals:")
    for i in range(0, companies, 2):
        lines += [f"  d{i}:", f"    name: Deal {i}", "    pipeline: default",
                  "    stage: appointmentscheduled", "    associations:",
                  f"      - company: co{i}", f"      - contact: p{i}"]
    lines.append("meetings:")
    for i in range(calendar):
        lines += [f"  cal{i}:", f"    title: Demo {i}", f"    start: 2026-12-0{1 + i % 9}T1{i % 8}:00:00Z",
                  "    duration: 30m", "    calendar:", '      organizer: "5001"',
                  "      timezone: Europe/Berlin", "      reminders: [15m]"]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_fault_storm_with_upserts_associations_and_calendar_meetings_converges(
    faulty: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "Storm-Accounts", {
        "reconciler.yaml": "name: Storm-Accounts\ndefault_owner: alice@example.com\n",
        "accounts.yaml": _accounts_spec(60, 12),
    })
    faulty.set_faults(
        FaultConfig(rate_limit_429=0.10, error_5xx=0.10, drop_after_commit=0.08), seed=77
    )
    faulty.set_config(search_lag_seconds=1.0)
    runs: list[CliRun] = []
    for _ in range(5):
        runs.append(cli("apply", "--project", project, "--auto-approve", grace=2.5))
        if runs[-1].code == 0:
            break
    assert runs[-1].code == 0, "\n".join(r.err[-1500:] for r in runs)
    assert "Traceback" not in "".join(r.err for r in runs)
    faulty.set_faults(FaultConfig())
    assert_exactly(faulty, project, {"companies": 60, "contacts": 60, "deals": 30, "meetings": 12})
    assert len(faulty.calendar_events()) == 12  # no meeting booked twice
    assert cli("plan", "--project", project, "--detailed-exitcode").code == 0
    ids = {a: r["id"] for a, r in read_state(project)["records"].items()}
    settings = ClientSettings(base_url=faulty.base_url, token=faulty.token,
                              requests_per_10s=None, search_per_second=None,
                              clock=faulty.clock)
    with HubSpotClient(settings) as hub:  # every association is in the portal
        linked = hub.read_associations("contacts", "companies",
                                       [ids[f"contacts/p{i}"] for i in range(60)])
        deals = hub.read_associations("deals", "contacts",
                                      [ids[f"deals/d{i}"] for i in range(0, 60, 2)])
    for i in range(60):
        assert {to for to, _ in linked[ids[f"contacts/p{i}"]]} == {ids[f"companies/co{i}"]}
    for i in range(0, 60, 2):
        assert {to for to, _ in deals[ids[f"deals/d{i}"]]} == {ids[f"contacts/p{i}"]}
    print("exit codes:", [r.code for r in runs], "scheduler answers lost:",
          sum(1 for r in faulty.requests()
              if r["path"].endswith("/meetings/calendar") and (r.get("dropped") or r.get("fault"))))
