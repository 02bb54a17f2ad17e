"""Some inputs refused by the portal, records depending on them, and the daily limit."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.hubspot.records import CreateInput

from .conftest import CliRun, assert_exactly, bulk_spec, read_state, write_project

pytestmark = [
    pytest.mark.contract(False),  # HubSpot's 429 body is not in its own spec
    pytest.mark.fake_clock,  # 429 pauses and the recovery grace are waited out in no time
]

PROJECT = "name: partial\n"

# bad@example.com passes every check a plan makes, but a contact with that email already
# exists in the portal (made by hand): only HubSpot can refuse it (it dedupes by email).
SPEC = """\
contacts:
  ok-contact:
    email: ok@example.com
  bad-contact:
    email: bad@example.com
meetings:
  good-1:
    title: Good one
    start: 2026-12-01T10:00:00Z
  good-2:
    title: Good two
    start: 2026-12-01T12:00:00Z
    associations:
      - contact: ok-contact
  needs-bad-contact:
    title: Hangs on the bad contact
    start: 2026-12-01T13:00:00Z
    associations:
      - contact: bad-contact
"""


def test_refused_inputs_are_reported_with_file_and_line_and_retried_alone(
    emulator: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "partial", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC})
    spec = project / "spec.yaml"
    settings = ClientSettings(base_url=emulator.base_url, token=emulator.token,
                              requests_per_10s=None, search_per_second=None)
    with HubSpotClient(settings) as hub:
        (by_hand,) = hub.batch_create(
            "contacts", [CreateInput("h1", {"email": "bad@example.com"})]
        ).results

    run = cli("apply", "--project", project, "--auto-approve")

    assert run.code == 1, run.out + run.err
    assert "Traceback" not in run.err
    lines = run.err.splitlines()
    bad_contact = next(line for line in lines if "contacts/bad-contact" in line)
    assert bad_contact.startswith(f"{spec}:4: contacts/bad-contact: failed: "), bad_contact
    skipped = next(line for line in lines if "meetings/needs-bad-contact" in line)
    assert skipped == (f"{spec}:15: meetings/needs-bad-contact: skipped: depends on "
                       "contacts/bad-contact, which failed")
    assert re.search(r"3 created, .*1 failed, 1 skipped", run.out), run.out

    state = read_state(project)["records"]
    assert sorted(state) == ["contacts/ok-contact", "meetings/good-1", "meetings/good-2"]
    assert len(emulator.records("meetings")) == 2 and len(emulator.records("contacts")) == 2

    # fix the file: only what is missing is created
    spec.write_text(SPEC.replace("bad@example.com", "good@example.com"))
    emulator.clear_requests()
    again = cli("apply", "--project", project, "--auto-approve")
    assert again.code == 0, again.err
    assert "Plan: 2 to create, 0 to update, 0 to archive." in again.out
    created = {
        address
        for request in emulator.requests()
        if request["path"].endswith(("/batch/create", "/batch/upsert"))
        for item in request["request_body"]["inputs"]
        for address in [item["properties"]["reconciler_key"].split(":", 1)[1]]
    }
    assert created == {"contacts/bad-contact", "meetings/needs-bad-contact"}
    hub_made = [r for r in emulator.records("contacts") if str(r["id"]) == by_hand.id]
    assert hub_made and "reconciler_key" not in hub_made[0]["properties"]  # never touched
    assert len(emulator.records("contacts")) == 3 and len(emulator.records("meetings")) == 3


def test_the_daily_limit_stops_the_apply_cleanly_and_it_resumes(
    faulty: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "daily", {
        "reconciler.yaml": "name: daily\n", "bulk.yaml": bulk_spec(1000, 0),
    })
    faulty.set_config(daily_limit=8)  # a few reads, then half of the creates

    # started anyway (the budget check up front would refuse): HubSpot stops it midway
    run = cli("apply", "--project", project, "--auto-approve", "--ignore-daily-budget")

    assert run.code == 1, run.out + run.err
    assert "daily" in run.err and "Run apply again after the daily limit resets" in run.err
    assert "Traceback" not in run.err
    state = read_state(project)
    assert 0 < len(state["records"]) < 1000
    assert state["in_flight"] == {}  # a 429 wrote nothing: nothing is left to look up
    assert len(faulty.records("meetings")) == len(state["records"])

    faulty.set_config(daily_limit=None)  # the next day
    again = cli("apply", "--project", project, "--auto-approve")
    assert again.code == 0, again.err
    assert f"Plan: {1000 - len(state['records'])} to create" in again.out
    assert_exactly(faulty, project, {"meetings": 1000})
