"""Some inputs refused by the portal, records depending on them, and the daily limit."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator import Emulator

from .conftest import CliRun, assert_exactly, bulk_spec, read_state, write_project

pytestmark = pytest.mark.contract(False)  # HubSpot's 429 body is not in its own spec

PROJECT = "name: partial\n"

# owner "9999" passes validation (an owner id is a number) but the portal has no such
# owner: only HubSpot can refuse it.
SPEC = """\
contacts:
  ok-contact:
    email: ok@example.com
  bad-contact:
    email: bad@example.com
    owner: "9999"
meetings:
  good-1:
    title: Good one
    start: 2026-12-01T10:00:00Z
  bad-owner:
    title: Bad owner
    start: 2026-12-01T11:00:00Z
    owner: "9999"
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

    run = cli("apply", "--project", project, "--auto-approve")

    assert run.code == 1
    assert "Traceback" not in run.err
    lines = run.err.splitlines()
    bad_meeting = next(l for l in lines if "meetings/bad-owner" in l)
    assert bad_meeting.startswith(f"{spec}:11: meetings/bad-owner: failed: ")
    assert "9999" in bad_meeting  # HubSpot's own message names the refused value
    bad_contact = next(l for l in lines if "contacts/bad-contact" in l)
    assert bad_contact.startswith(f"{spec}:4: contacts/bad-contact: failed: ")
    skipped = next(l for l in lines if "meetings/needs-bad-contact" in l)
    assert skipped == (f"{spec}:20: meetings/needs-bad-contact: skipped: depends on "
                       "contacts/bad-contact, which failed")
    assert re.search(r"3 created, .*2 failed, 1 skipped", run.out), run.out

    state = read_state(project)["records"]
    assert sorted(state) == ["contacts/ok-contact", "meetings/good-1", "meetings/good-2"]
    assert len(emulator.records("meetings")) == 2 and len(emulator.records("contacts")) == 1

    # fix the file: only what is missing is created
    spec.write_text(SPEC.replace('owner: "9999"', 'owner: "1001"'))
    emulator.clear_requests()
    again = cli("apply", "--project", project, "--auto-approve")
    assert again.code == 0, again.err
    assert "Plan: 3 to create, 0 to update, 0 to archive." in again.out
    created = {
        address
        for request in emulator.requests()
        if request["path"].endswith(("/batch/create", "/batch/upsert"))
        for item in request["request_body"]["inputs"]
        for address in [item["properties"]["reconciler_key"].split(":", 1)[1]]
    }
    assert created == {"contacts/bad-contact", "meetings/bad-owner", "meetings/needs-bad-contact"}
    assert_exactly(emulator, project, {"meetings": 4, "contacts": 2})


def test_the_daily_limit_stops_the_apply_cleanly_and_it_resumes(
    faulty: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "daily", {
        "reconciler.yaml": "name: daily\n", "bulk.yaml": bulk_spec(1000, 0),
    })
    faulty.set_config(daily_limit=8)  # a few reads, then half of the creates

    run = cli("apply", "--project", project, "--auto-approve")

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
