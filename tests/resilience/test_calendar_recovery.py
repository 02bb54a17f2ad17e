"""A calendar meeting whose answer was lost is found by what the scheduler stores, never
made twice: adopted when exactly one unmarked meeting matches, otherwise reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.emulator.config import FaultConfig
from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.hubspot.records import CreateInput
from tests.helpers import write_project

from .conftest import CliRun, RewritingTransport, apply_library, assert_exactly, read_state

pytestmark = [
    pytest.mark.contract(False),  # a dropped answer is no HubSpot exchange
    pytest.mark.fake_clock,  # the recovery grace is waited out in no time
]

PROJECT = "name: Cal-Demo\ndefault_owner: alice@example.com\n"
SPEC = """\
meetings:
  demo:
    title: Product demo
    start: 2026-12-02T14:00:00+01:00
    duration: 1h
    calendar:
      organizer: "5001"
      timezone: Europe/Berlin
      reminders: [15m]
"""


def _scheduler(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/meetings/calendar")


def _dropped_after_commit(emulator: Emulator) -> RewritingTransport:
    """The emulator's drop_after_commit fault, on the scheduler request only."""

    def drop(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
             ) -> httpx.Response:
        emulator.set_faults(FaultConfig(drop_after_commit=1.0))
        try:
            return send(request)
        finally:
            emulator.set_faults(FaultConfig())

    return RewritingTransport(_scheduler, drop)


def _events(emulator: Emulator) -> int:
    return len(emulator.calendar_events())


def test_a_calendar_meeting_whose_answer_was_lost_is_adopted_not_made_again(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "cal", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC})
    emulator.set_config(search_lag_seconds=0.5)
    transport = _dropped_after_commit(emulator)

    result = apply_library(emulator, project, transport, grace=2.0)

    assert transport.hits == 1
    assert result.ok, [f.render() for f in result.failures]
    assert _events(emulator) == 1  # one scheduler request: never resent
    (meeting,) = emulator.records("meetings")
    assert meeting["properties"]["reconciler_key"] == "cal-demo:meetings/demo"
    assert meeting["properties"]["reconciler_project"] == "cal-demo"
    assert read_state(project)["records"]["meetings/demo"]["via_calendar"] is True
    assert_exactly(emulator, project, {"meetings": 1})
    again = cli("apply", "--project", project, "--auto-approve")
    assert again.code == 0 and "No changes." in again.out, again.out + again.err


def test_two_meetings_that_could_be_it_are_reported_and_nothing_is_made(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "cal", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC})
    settings = ClientSettings(base_url=emulator.base_url, token=emulator.token,
                              requests_per_10s=None, search_per_second=None)
    with HubSpotClient(settings) as hub:  # someone booked the same demo by hand
        (by_hand,) = hub.batch_create("meetings", [CreateInput("h1", {
            "hs_meeting_title": "Product demo", "hubspot_owner_id": "1001",
            "hs_meeting_start_time": "2026-12-02T13:00:00Z",
            "hs_timestamp": "2026-12-02T13:00:00Z",
        })]).results

    result = apply_library(emulator, project, _dropped_after_commit(emulator), grace=1.0)

    (failure,) = result.failures
    assert "ambiguous" in failure.message and by_hand.id in failure.message
    assert len(emulator.records("meetings")) == 2  # nothing more was made
    assert "meetings/demo" not in read_state(project)["records"]

    # the next apply reports it again and still makes nothing
    again = cli("apply", "--project", project, "--auto-approve", grace=0.5)
    assert again.code == 1
    assert "meetings/demo: failed:" in again.err and by_hand.id in again.err
    assert _events(emulator) == 1 and len(emulator.records("meetings")) == 2

    # the user settles it: adopt the right one; the entry in flight is then dropped
    ours = next(str(m["id"]) for m in emulator.records("meetings") if str(m["id"]) != by_hand.id)
    assert cli("import", "meetings/demo", ours, "--project", project, "--auto-approve").code == 0
    final = cli("apply", "--project", project, "--auto-approve", grace=0.5)
    assert final.code == 0, final.out + final.err
    assert read_state(project)["in_flight"] == {}
    assert _events(emulator) == 1


def test_a_meeting_the_scheduler_never_made_is_booked_by_the_next_apply_once(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "cal", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC})

    def lost_before(request: httpx.Request, send: Callable[[httpx.Request], httpx.Response]
                    ) -> httpx.Response:
        emulator.set_faults(FaultConfig(drop_before_write=1.0))
        try:
            return send(request)
        finally:
            emulator.set_faults(FaultConfig())

    result = apply_library(emulator, project, RewritingTransport(_scheduler, lost_before),
                           grace=0.5)
    (failure,) = result.failures
    assert "not created" in failure.message and "looks once more" in failure.message
    assert _events(emulator) == 0 and emulator.records("meetings") == []
    assert read_state(project)["in_flight"]  # kept: the next apply looks once more

    again = cli("apply", "--project", project, "--auto-approve", grace=0.5)
    assert again.code == 0, again.out + again.err
    assert _events(emulator) == 1
    assert_exactly(emulator, project, {"meetings": 1})
