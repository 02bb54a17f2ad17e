"""A small project, the CLI against the emulator, and a client to seed the portal with.

Everything talks real HTTP to the emulator fixture on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from tests.helpers import Run, stored, write_project  # noqa: F401  (re-exported to the tests)

PROJECT = """\
name: demo
id: demo-5k2m9q
timezone: Europe/Berlin
default_owner: alice@example.com
targets:
  production:
    protected: true
"""

ACCOUNTS = """\
companies:
  acme:
    name: Acme GmbH
    domain: acme.example
contacts:
  jane-doe:
    email: jane@acme.example
    properties:
      firstname: Jane
      lastname: Doe
    associations:
      - company: acme
"""

ACTIVITIES = """\
meetings:
  kickoff:
    title: Kickoff
    start: +3d 10:00
    duration: 45m
    outcome: scheduled
    associations:
      - contact: jane-doe
      - company: acme
calls:
  intro-call:
    title: Intro call
    timestamp: 2026-11-20T15:00:00+01:00
    direction: outbound
    duration: 5m
    associations:
      - contact: jane-doe
"""

ADDRESSES = ["calls/intro-call", "companies/acme", "contacts/jane-doe", "meetings/kickoff"]



@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "proj",
        {"reconciler.yaml": PROJECT, "accounts.yaml": ACCOUNTS, "activities.yaml": ACTIVITIES},
    )


@pytest.fixture
def hub(emulator: Any) -> Iterator[HubSpotClient]:
    """Our HTTP client against the emulator, to make records "by hand in HubSpot"."""
    settings = ClientSettings(
        base_url=emulator.base_url, token=emulator.token,
        requests_per_10s=None, search_per_second=None,
    )
    with HubSpotClient(settings) as client:
        yield client


def state_of(project: Path, target: str = "local") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (project / ".reconciler" / "state" / f"{target}.json").read_text(encoding="utf-8")
    )
    return data


def backups(project: Path, target: str = "local") -> list[Path]:
    return sorted((project / ".reconciler" / "state").glob(f"{target}.json.*.backup"))


def one_line_error(code: int, out: str, err: str) -> str:
    """Assert the run failed as a user error: exit 1, one line, no traceback."""
    assert code == 1, out + err
    assert "Traceback" not in err and "Internal error" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]
