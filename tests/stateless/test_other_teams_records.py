"""Another team's records beside a project with an id: a record carrying this project's id
marker always wins, and records marked the first release's way (``<name>:<address>``, no
``reconciler_project``) are never claimed by a name, a rebuild, an adoption or a stateless
run.

The other team's project was called ``acme`` in the first release; this project is also
called ``acme``, but was made with its own id. Every test drives the real CLI against the
emulator (search lag off, so the grace is 0: lag is not what is under test here).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.hubspot.records import CreateInput
from reconciler.identity.marker_writes import ensure_markers
from reconciler.identity.markers import MARKER_PROPERTY
from tests.helpers import write_project
from tests.resilience.conftest import STATE, CliRun, read_state

Cli = Callable[..., CliRun]
PROJECT_ID = "acme-3f9a1c2b"
PROJECT = f"name: acme\nid: {PROJECT_ID}\n"
SPEC = """\
companies:
  acme:
    name: Acme GmbH
    domain: acme.example
meetings:
  acme-kickoff:
    title: Kickoff
    start: 2026-12-01T10:00:00Z
    duration: 30m
"""
#: what the other team's first release left: name-only markers, no reconciler_project
KICKOFF = "meetings/acme-kickoff"
THEIRS = {
    "companies/acme": {"name": "Other Acme", "domain": "other.example"},
    "companies/legacy-x": {"name": "Legacy X", "domain": "legacy-x.example"},
    "meetings/acme-kickoff": {"hs_meeting_title": "Their kickoff",
                              "hs_timestamp": "2026-10-01T09:00:00Z",
                              "hs_meeting_start_time": "2026-10-01T09:00:00Z",
                              "hs_meeting_end_time": "2026-10-01T10:00:00Z"},
}


@pytest.fixture
def hub(emulator: Emulator) -> Iterator[HubSpotClient]:
    settings = ClientSettings(base_url=emulator.base_url, token=emulator.token,
                              requests_per_10s=None, search_per_second=None)
    with HubSpotClient(settings) as client:
        yield client


def _their_records(hub: HubSpotClient, name: str = "acme") -> dict[str, str]:
    """The other team's records, made before this project's (so theirs are older)."""
    ensure_markers(hub, ["companies", "meetings"])
    ids: dict[str, str] = {}
    for address, properties in THEIRS.items():
        object_type = address.partition("/")[0]
        (made,) = hub.batch_create(object_type, [CreateInput(
            "t", {**properties, MARKER_PROPERTY: f"{name}:{address}"})]).results
        ids[address] = made.id
    return ids


def _snapshot(emulator: Emulator, ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What the other team's records hold now (every property but HubSpot's own dates)."""
    held: dict[str, dict[str, Any]] = {}
    for address, hubspot_id in ids.items():
        object_type = address.partition("/")[0]
        (record,) = [r for r in emulator.records(object_type) if str(r["id"]) == hubspot_id]
        held[address] = {k: v for k, v in record["properties"].items()
                         if k not in ("hs_lastmodifieddate", "lastmodifieddate")}
    return held


def _apply(cli: Cli, project: Path, *extra: str) -> CliRun:
    run = cli("apply", "--project", project, "--auto-approve", *extra, grace=0.0)
    assert run.code == 0, run.out + run.err
    return run


def _forget_state(project: Path) -> None:
    shutil.rmtree(project / ".reconciler", ignore_errors=True)


def _ours(project: Path) -> dict[str, str]:
    return {a: r["id"] for a, r in read_state(project)["records"].items()}


@pytest.fixture
def applied(emulator: Emulator, hub: HubSpotClient, cli: Cli,
            tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    """(project, this project's ids, the other team's ids), this project applied once."""
    theirs = _their_records(hub)
    project = write_project(tmp_path / "acme", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC})
    _apply(cli, project)
    ours = _ours(project)
    assert sorted(ours) == ["companies/acme", "meetings/acme-kickoff"]
    assert not set(ours.values()) & set(theirs.values())
    return project, ours, theirs


def test_rebuild_finds_only_the_records_carrying_this_projects_id(
    applied: tuple[Path, dict[str, str], dict[str, str]], emulator: Emulator, cli: Cli
) -> None:
    project, ours, theirs = applied
    before = _snapshot(emulator, theirs)
    _forget_state(project)
    run = cli("state", "rebuild", "--project", project, grace=0.0)
    assert run.code == 0, run.out + run.err
    assert _ours(project) == ours
    assert read_state(project)["project_id"] == PROJECT_ID
    assert "also carry the marker" not in run.err, run.err
    assert "Rebuilt the state with 2 record(s)." in run.out
    # the next apply has nothing to do, and their records are as they were
    run = _apply(cli, project)
    assert "No changes." in run.out, run.out
    assert _snapshot(emulator, theirs) == before


def test_a_stateless_job_plans_nothing_and_touches_none_of_theirs(
    applied: tuple[Path, dict[str, str], dict[str, str]], emulator: Emulator, cli: Cli
) -> None:
    """What every job of the GitOps workflow does: no state, rebuild, plan, apply."""
    project, ours, theirs = applied
    before = _snapshot(emulator, theirs)
    for _job in range(2):
        _forget_state(project)
        assert cli("state", "rebuild", "--project", project, grace=0.0).code == 0
        run = cli("plan", "--project", project, "--dedupe", "--detailed-exitcode", grace=0.0)
        assert run.code == 0 and "No changes." in run.out, run.out + run.err
        _apply(cli, project, "--dedupe")
    # without the rebuild: adopted by this project's marker, theirs left alone
    _forget_state(project)
    run = cli("plan", "--project", project, "--dedupe", grace=0.0)
    assert run.code == 0, run.err
    assert "Plan: 0 to create, 0 to update, 0 to archive, 2 to adopt." in run.out, run.out
    assert not any(i in run.out for i in theirs.values()), run.out
    _apply(cli, project, "--dedupe")
    assert _ours(project) == ours
    assert _snapshot(emulator, theirs) == before


def test_a_record_the_spec_gains_is_created_not_taken_from_them(
    applied: tuple[Path, dict[str, str], dict[str, str]], emulator: Emulator, cli: Cli
) -> None:
    """Adopt-before-create adopts only what carries this project's id marker: their
    `acme:companies/legacy-x` is no reason to skip creating ours."""
    project, ours, theirs = applied
    before = _snapshot(emulator, theirs)
    (project / "spec.yaml").write_text(
        SPEC.replace("companies:\n", "companies:\n  legacy-x:\n    name: Legacy X (ours)\n"))
    for how in ("stateless", "rebuild", "import"):
        _forget_state(project)
        if how == "rebuild":
            assert cli("state", "rebuild", "--project", project, grace=0.0).code == 0
        elif how == "import":
            run = cli("import", "--all-matching", "--project", project, grace=0.0)
            assert run.code == 0, run.out + run.err
        run = cli("plan", "--project", project, grace=0.0)
        assert run.code == 0, run.err
        assert "+ companies/legacy-x" in run.out, run.out
        assert theirs["companies/legacy-x"] not in run.out
    run = _apply(cli, project)
    assert "1 created" in run.out, run.out
    mine = _ours(project)
    assert mine["companies/legacy-x"] != theirs["companies/legacy-x"]
    assert {a: i for a, i in mine.items() if a in ours} == ours
    assert _snapshot(emulator, theirs) == before


def test_dedupe_never_archives_this_projects_record_for_one_of_theirs(
    applied: tuple[Path, dict[str, str], dict[str, str]], emulator: Emulator,
    hub: HubSpotClient, cli: Cli,
) -> None:
    """A state that maps their records (as an earlier release's rebuild wrote it: no
    project id, their ids): the records carrying this project's id win, theirs are
    forgotten without a write, and dedupe keeps ours."""
    project, ours, theirs = applied
    before = _snapshot(emulator, theirs)
    path = project / STATE
    data = read_state(project)
    data["project_id"] = None
    for address in ours:
        data["records"][address]["id"] = theirs[address]
    path.unlink()
    _write_state(path, data)
    # and a copy of this project's meeting, newer, carrying the same id markers
    (meeting,) = [r for r in emulator.records("meetings") if r["id"] == ours[KICKOFF]]
    copy = hub.batch_create("meetings", [CreateInput("c", {
        k: v for k, v in meeting["properties"].items()
        if k.startswith(("hs_meeting", "hs_timestamp", "reconciler_"))})]).results[0].id
    saved = project / "plan.json"
    run = cli("plan", "--project", project, "--dedupe", "--out", saved, grace=0.0)
    assert run.code == 0, run.err
    assert "marker rewrite" not in run.out and "~ " not in run.out, run.out
    assert (f"{KICKOFF}: {ours[KICKOFF]}, {copy}" in run.out
            and f"x {KICKOFF}  (id {copy};" in run.out), run.out
    assert "2 to release, 2 to adopt, 1 to dedupe." in run.out, run.out
    run = cli("apply", "--project", project, "--plan", saved, grace=0.0)  # as it was shown
    assert run.code == 0, run.out + run.err
    assert _ours(project) == ours
    assert {r["id"] for r in emulator.records("meetings")} == {ours[KICKOFF], theirs[KICKOFF]}
    assert read_state(project)["project_id"] == PROJECT_ID
    assert _snapshot(emulator, theirs) == before
    assert "No changes." in _apply(cli, project, "--dedupe").out


def _write_state(path: Path, data: dict[str, Any]) -> None:
    from reconciler.state.model import State
    from reconciler.state.store import StateStore

    StateStore(path).save(State.from_json(data, where=str(path)))


def test_editing_name_to_their_old_name_claims_nothing(
    emulator: Emulator, hub: HubSpotClient, cli: Cli, tmp_path: Path
) -> None:
    theirs = _their_records(hub, name="beta")
    before = _snapshot(emulator, theirs)
    project = write_project(tmp_path / "acme", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC})
    _apply(cli, project)
    ours = _ours(project)
    (project / "reconciler.yaml").write_text(PROJECT.replace("name: acme", "name: beta"))
    _forget_state(project)
    run = cli("state", "rebuild", "--project", project, grace=0.0)
    assert run.code == 0, run.out + run.err
    assert _ours(project) == ours
    run = _apply(cli, project)
    assert "No changes." in run.out, run.out
    assert _snapshot(emulator, theirs) == before
