"""Every search-lag wait of the identity step runs on the client's clock (``ClientSettings.clock``).

Recovery of in-flight creates, the calendar lookup, the pre-plan scan and the wait after an
apply each wait for HubSpot's search index (up to the grace, 30 s by default). On a clock
that moves only when something sleeps on it, each wait ends at once in real time while the
clock shows the whole grace was waited out, with the searches of a real wait; ``stopped``
(Ctrl-C) ends a wait within a tenth of a (clock) second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.identity.calendar_lookup import find_calendar_meeting
from reconciler.identity.marker_writes import ensure_markers
from reconciler.identity.recovery import recover_in_flight
from reconciler.identity.scan import scan_portal, wait_until_searchable
from reconciler.loading.project import load_project
from reconciler.state.model import RecordState, State
from reconciler.state.store import StateStore
from tests.helpers import write_project

from .conftest import bulk_spec

GRACE = 30.0


class ManualClock:
    """A clock (``reconciler.clock.Clock``) that moves only when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def client(emulator: Emulator, clock: ManualClock) -> Iterator[HubSpotClient]:
    settings = ClientSettings(base_url=emulator.base_url, token=emulator.token,
                              requests_per_10s=None, search_per_second=None, clock=clock)
    with HubSpotClient(settings) as made:
        ensure_markers(made, ["meetings"])
        yield made


def _searches(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests() if r["path"].endswith("/search"))


def _in_flight(tmp_path: Path, started_at: float) -> tuple[StateStore, State]:
    store = StateStore(tmp_path / "state.json")
    state = store.load(target="local", project="p", project_id="p")
    state.in_flight["batch-1"] = {
        "object_type": "meetings", "addresses": ["meetings/m0"], "started_at": started_at,
        "markers": {"meetings/m0": "p:meetings/m0"},
    }
    return store, state


def test_recovery_waits_out_the_grace_on_the_client_clock(
    tmp_path: Path, emulator: Emulator, client: HubSpotClient, clock: ManualClock
) -> None:
    store, state = _in_flight(tmp_path, clock.time())
    emulator.clear_requests()
    started, real = clock.now, time.monotonic()
    assert recover_in_flight(client, store, state, "p", grace_seconds=GRACE) == []
    assert GRACE <= clock.now - started < GRACE + 1  # the whole grace, on the clock
    assert time.monotonic() - real < 10  # and not in real time
    assert GRACE <= _searches(emulator) <= GRACE + 2  # searched again about once a second
    assert state.in_flight == {}  # not found after the grace: not made


def test_ctrl_c_ends_the_recovery_wait_on_the_client_clock(
    tmp_path: Path, client: HubSpotClient, clock: ManualClock
) -> None:
    store, state = _in_flight(tmp_path, clock.time())
    started = clock.now
    recover_in_flight(client, store, state, "p", grace_seconds=GRACE,
                      stopped=lambda: clock.now >= started + 5)
    assert 5 <= clock.now - started < 5.2
    assert list(state.in_flight) == ["batch-1"]  # an empty search proved nothing: kept


def test_the_calendar_lookup_waits_on_the_client_clock(
    client: HubSpotClient, clock: ManualClock
) -> None:
    attempt = {"owner": "1", "title": "Lost", "start": "2026-12-01T10:00:00Z",
               "sent_at": clock.time()}
    started = clock.now
    lookup = find_calendar_meeting(client, attempt, "p:meetings/m0",
                                   deadline=clock.time() + GRACE)
    assert lookup.meeting is None and not lookup.ambiguous
    assert GRACE <= clock.now - started < GRACE + 1


def test_the_pre_plan_scan_waits_out_the_lag_on_the_client_clock(
    tmp_path: Path, client: HubSpotClient, clock: ManualClock
) -> None:
    project = write_project(tmp_path / "p", {"reconciler.yaml": "name: p\n",
                                             "m.yaml": bulk_spec(2, 0)})
    desired = load_project(project, reference_time=datetime.now(timezone.utc))
    state = State(lineage="", serial=0, target="local", project="p",
                  project_id=desired.project.marker_id)
    started = clock.now
    found = scan_portal(client, desired, state, grace_seconds=GRACE)
    assert not found.adoptable
    assert found.waited == pytest.approx(GRACE)
    assert clock.now - started == pytest.approx(GRACE)


def test_the_wait_after_an_apply_is_on_the_client_clock(
    client: HubSpotClient, clock: ManualClock
) -> None:
    state = State(lineage="", serial=0, target="local", project="p", project_id="p")
    state.records["meetings/m0"] = RecordState(id="4242", object_type="meetings",
                                               properties={})  # search never counts it
    waited = wait_until_searchable(client, state, "p", ["meetings"], timeout_seconds=GRACE)
    assert waited.behind == {"meetings": (0, 1)}
    assert GRACE <= waited.waited < GRACE + 1
    assert waited.waited == clock.now - 1_800_000_000.0
