"""A demo-data repo as a team keeps it, with three sandboxes and a protected production,
each its own emulator, and its workflow as ``reconciler init --gitops`` writes it; the
runner (``actions_runner``) that drives that workflow job by job, and GitHub
(``github_fake``). Every portal lags search (``LAG``) and runs on one fake clock with the
CLI, so the lag and the waits for it take no real time.

Import the fixtures into a test module: ``from tests.targets.gitops_portals import ...``.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli.base import main
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from tests.helpers import stored
from tests.targets.actions_runner import Actions
from tests.targets.github_fake import FakeGitHub

REPO = Path(__file__).resolve().parents[2]
GITOPS = REPO / "examples" / "gitops"
LAG = 0.5
SANDBOXES = ("sandbox-east", "sandbox-west", "sandbox-north")
PORTALS = (*SANDBOXES, "production")
PORTAL_IDS = {"sandbox-east": 24681357, "sandbox-west": 24681358, "sandbox-north": 24681359,
              "production": 13579246}
TYPES = ("companies", "contacts", "deals", "meetings", "calls")
#: what a private app with read scopes only may do (the workflow's <TARGET>_READ_TOKEN)
READ_SCOPES = ("crm.objects.contacts.read", "crm.objects.companies.read",
               "crm.objects.deals.read", "crm.objects.owners.read", "oauth")
PIN = "hubspot-reconciler @ git+https://github.com/acme/hubspot-reconciler@" + "0123456789" * 4


def token_env(target: str) -> str:
    return f"HUBSPOT_{target.upper().replace('-', '_')}_TOKEN"


@pytest.fixture
def portals(emulator: Emulator) -> Iterator[dict[str, Emulator]]:
    """sandbox-east is the test's own emulator (on its fake clock), the others join it."""
    started: dict[str, Emulator] = {"sandbox-east": emulator}
    with contextlib.ExitStack() as stack:
        for name in PORTALS[1:]:
            config = EmulatorConfig(token=f"{name}-token", portal_id=PORTAL_IDS[name])
            started[name] = stack.enter_context(
                start_emulator(config, host="127.0.0.1", port=0, clock=emulator.clock))
        emulator.set_config(portal_id=PORTAL_IDS["sandbox-east"])
        for portal in started.values():
            portal.set_config(search_lag_seconds=LAG)
        yield started


@pytest.fixture
def repo(tmp_path: Path, portals: dict[str, Emulator], monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Path:
    """The example's spec files with four targets in reconciler.yaml, after `reconciler init
    --gitops` and the one edit it asks for (the pin in requirements.txt). Each target's
    ``base_url`` is its emulator: the one line a real repo does not have."""
    root = tmp_path / "demo-data"
    shutil.copytree(GITOPS, root, ignore=shutil.ignore_patterns(
        ".reconciler", ".github", "requirements.txt"))
    settings = root / "reconciler.yaml"
    head = settings.read_text().split("targets:")[0]
    lines = ["targets:", "  local: {}"]
    for name in PORTALS:
        lines += [f"  {name}:", f"    token_env: {token_env(name)}",
                  f"    portal_id: {PORTAL_IDS[name]}", f"    base_url: {portals[name].base_url}"]
    lines += ["    protected: true", "    include: [accounts/northwind.yaml]"]
    settings.write_text(head + "\n".join(lines) + "\n")
    assert main(["init", "--gitops", str(root)]) == 0
    said = capsys.readouterr().out
    assert "SANDBOX_WEST_READ_TOKEN" in said and "production, reconcile-approval" in said, said
    requirements = root / "requirements.txt"
    requirements.write_text("\n".join(
        PIN if line.startswith("hubspot-reconciler") else line
        for line in requirements.read_text().splitlines()) + "\n")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("HUBSPOT_BASE_URL", raising=False)
    return root


@pytest.fixture
def github() -> FakeGitHub:
    return FakeGitHub()


@pytest.fixture
def actions(repo: Path, tmp_path: Path, github: FakeGitHub, emulator: Emulator,
            ) -> Iterator[Actions]:
    runner = Actions(repo / ".github" / "workflows" / "reconcile.yml", repo,
                     tmp_path / "actions", github, emulator.clock)
    yield runner
    runner.close()


@pytest.fixture
def secrets(portals: dict[str, Emulator]) -> dict[str, str]:
    """Each target's token as its write secret (named like token_env) and as its read
    secret (<TARGET>_READ_TOKEN); a run with ``read_only`` takes the write scopes away."""
    found = {}
    for name, portal in portals.items():
        found[token_env(name)] = portal.token
        found[f"{name.upper().replace('-', '_')}_READ_TOKEN"] = portal.token
    return found


@contextlib.contextmanager
def read_only(portals: dict[str, Emulator]) -> Iterator[None]:
    """Every portal answers as to a private app with read scopes only."""
    for portal in portals.values():
        portal.set_config(scopes=READ_SCOPES)
    try:
        yield
    finally:
        for portal in portals.values():
            portal.set_config(scopes=None)


def records(portal: Emulator) -> dict[str, dict[str, Any]]:
    """reconciler_key → the record carrying it (each marker on one record)."""
    found: dict[str, dict[str, Any]] = {}
    for object_type in TYPES:
        for record in stored(portal, object_type):
            key = record["properties"].get("reconciler_key")
            if key:
                assert key not in found, f"{key} is carried by two records"
                found[key.split(":", 1)[1]] = record
    return found


def edit_in_hubspot(portal: Emulator, address: str, **properties: str) -> None:
    """Someone edits a managed record in HubSpot's UI (a PATCH by id)."""
    record = records(portal)[address]
    object_type = address.split("/")[0]
    response = httpx.patch(
        f"{portal.base_url}/crm/v3/objects/{object_type}/{record['id']}",
        headers={"Authorization": f"Bearer {portal.token}"},
        json={"properties": properties},
    )
    assert response.status_code == 200, response.text
