"""A small golden project, applied to the emulator fixture, to export from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from tests.helpers import Run, write_project

Cli = Callable[..., tuple[int, str, str]]

PROJECT = """\
name: golden
id: golden-5k2m9q
timezone: Europe/Berlin
"""

ACCOUNTS = """\
companies:
  acme:
    name: Acme GmbH
    domain: acme.example
    owner: alice@example.com
    properties:
      numberofemployees: 40
  globex:
    name: Globex
  initech:
    name: Initech
contacts:
  jane:
    email: jane@acme.example
    first_name: Jane
    last_name: Doe
    properties:
      lifecyclestage: lead
    associations:
      - company: acme
      - company: acme
        type_id: 1
      - company: initech
  john:
    email: john@acme.example
    first_name: Jane
    last_name: Doe
  loner:
    email: loner@example.com
deals:
  big:
    name: Big deal
    amount: 48000
    stage: appointmentscheduled
    associations:
      - contact: jane
      - company: acme
"""

ACTIVITIES = """\
meetings:
  kickoff:
    title: Kickoff
    start: 2026-11-23T10:00:00+01:00
    duration: 45m
    outcome: scheduled
    body: |
      Agenda:
        - intro
        - next steps: pricing
    associations:
      - contact: jane
      - company: acme
      - deal: big
  kickoff-again:
    title: Kickoff
    start: 2026-11-30T10:00:00+01:00
    end: 2026-11-30T11:00:00+01:00
    location_type: vce
    owner: bob@example.com
    associations:
      - contact: john
calls:
  intro-call:
    title: "Intro: call #1"
    timestamp: 2026-11-20T15:00:00+01:00
    direction: outbound
    status: completed
    disposition: connected
    duration: 5m30s
    associations:
      - contact: jane
      - company: globex
      - meeting: kickoff
  untitled:
    timestamp: 2026-10-01T09:00:00+02:00
    properties:
      hs_call_status: NO_ANSWER
"""


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "golden",
        {"reconciler.yaml": PROJECT, "accounts.yaml": ACCOUNTS, "activities.yaml": ACTIVITIES},
    )


@pytest.fixture
def cli(run: Run, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI with no --base-url added (for validate, and for the second emulator)."""
    from reconciler.cli.base import main

    def invoke(*args: str | Path) -> tuple[int, str, str]:
        code = main([*map(str, args)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


@pytest.fixture
def second(emulator: Emulator) -> Iterator[Emulator]:
    """Another portal to seed the copy into (the same token, so one environment serves)."""
    with start_emulator(EmulatorConfig(token=emulator.token), host="127.0.0.1", port=0) as emu:
        yield emu
