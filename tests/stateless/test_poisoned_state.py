"""A state of this project's id that maps another team's records (as an earlier release's
``state rebuild`` wrote it): with a refresh, a mapped record that does not carry this
project's id marker is not provably this project's, so the plan forgets it without a
write (saying so, with the way to take it on purpose) and never updates, remarks or
archives it; apply, given a plan it did not check (a saved offline plan), reads the
records back and refuses to write to such a record.

The fixtures are those of ``test_other_teams_records`` (shared through ``conftest``): the
other team's first-release records (``acme:<address>``, no ``reconciler_project``) beside
this project ``acme``, made with its own id and applied once.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import UpdateInput
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY
from tests.resilience.conftest import STATE, read_state
from tests.stateless.test_other_teams_records import (
    KICKOFF,
    PROJECT_ID,
    Cli,
    _apply,
    _ours,
    _snapshot,
    _write_state,
)

Applied = tuple[Path, dict[str, str], dict[str, str]]
LEGACY = "companies/legacy-x"


def _poison(project: Path, theirs: dict[str, str]) -> None:
    """Map every address to their record, and their legacy-x too, keeping this project's
    id (what the rebuild of the release before #17 left)."""
    data = read_state(project)
    assert data["project_id"] == PROJECT_ID
    for address in ("companies/acme", KICKOFF):
        data["records"][address]["id"] = theirs[address]
    data["records"][LEGACY] = {**data["records"]["companies/acme"], "id": theirs[LEGACY],
                               "properties": {"name": "Legacy X"}}
    path = project / STATE
    path.unlink()
    _write_state(path, data)


def test_a_refreshed_plan_forgets_their_records_and_adopts_ours(
    applied: Applied, emulator: Emulator, hub: HubSpotClient, cli: Cli
) -> None:
    project, ours, theirs = applied
    # one of theirs carries another project's id instead of a name-only key
    hub.batch_update("companies", [UpdateInput(theirs[LEGACY], {
        MARKER_PROPERTY: f"beta-77:{LEGACY}", PROJECT_PROPERTY: "beta-77"})])
    before = _snapshot(emulator, theirs)
    _poison(project, theirs)
    run = cli("plan", "--project", project, grace=0.0)
    assert run.code == 0, run.out + run.err
    for address, why in (("companies/acme", "no reconciler_project (reconciler_key "
                                            "acme:companies/acme), not this project's id"),
                         (KICKOFF, "no reconciler_project"),
                         (LEGACY, "reconciler_project beta-77, not this project's id")):
        (line,) = [ln for ln in run.out.splitlines() if ln.startswith(f"  / {address}  ")]
        assert f"id {theirs[address]}" in line and why in line, line
        if address in ours:  # a record carrying this project's marker is adopted instead
            assert f"id {ours[address]} does" in line, line
    (line,) = [ln for ln in run.out.splitlines() if ln.startswith(f"  / {LEGACY}  ")]
    assert "not provably this project's, so forgotten without a write" in line, line
    assert f"`reconciler import {LEGACY} {theirs[LEGACY]}`" in line, line
    assert "~ " not in run.out and "- companies" not in run.out, run.out
    assert "marker rewrite" not in run.out, run.out
    assert "0 to create, 0 to update, 0 to archive, 3 to release, 2 to adopt." in run.out
    run = _apply(cli, project)
    assert _ours(project) == ours
    assert _snapshot(emulator, theirs) == before
    assert "No changes." in _apply(cli, project).out


def test_without_a_record_of_ours_theirs_is_forgotten_and_ours_created(
    applied: Applied, emulator: Emulator, hub: HubSpotClient, cli: Cli
) -> None:
    """Nothing carries this project's marker of the address: it is created anew, and
    their record (which the state mapped) is left exactly as it is."""
    project, ours, theirs = applied
    hub.batch_archive("companies", [ours["companies/acme"]])
    before = _snapshot(emulator, theirs)
    _poison(project, theirs)
    run = cli("plan", "--project", project, grace=0.0)
    assert run.code == 0, run.out + run.err
    assert "+ companies/acme  (the record the state mapped is not this project's" in run.out
    assert "1 to create, 0 to update, 0 to archive, 3 to release, 1 to adopt." in run.out
    _apply(cli, project)
    mine = _ours(project)
    assert mine["companies/acme"] not in (ours["companies/acme"], theirs["companies/acme"])
    assert LEGACY not in mine
    assert _snapshot(emulator, theirs) == before


def test_apply_reads_back_what_a_saved_offline_plan_would_write(
    applied: Applied, emulator: Emulator, cli: Cli
) -> None:
    """Offline nothing can be seen, so the plan is as before; apply reads the records
    back and refuses to update or archive those without this project's id marker."""
    project, ours, theirs = applied
    (project / "spec.yaml").write_text(
        (project / "spec.yaml").read_text().replace("Acme GmbH", "Acme AG"))
    before = _snapshot(emulator, theirs)
    _poison(project, theirs)
    saved = project / "plan.json"
    run = cli("plan", "--project", project, "--offline", "--out", saved, grace=0.0)
    assert run.code == 0, run.out + run.err
    assert "~ companies/acme" in run.out and f"- {LEGACY}" in run.out, run.out
    run = cli("apply", "--project", project, "--plan", saved, grace=0.0)
    assert run.code == 1, run.out + run.err
    for address, verb in (("companies/acme", "updated"), (LEGACY, "archived")):
        assert (f"{address}: failed: not {verb}: companies {theirs[address]} carries no "
                "reconciler_project") in run.err, run.err
    assert f"`reconciler import {LEGACY} {theirs[LEGACY]}`" in run.err
    assert _snapshot(emulator, theirs) == before
    # a plan with a refresh then forgets them, and the rename reaches this project's own
    _apply(cli, project)
    assert _ours(project) == ours
    (company,) = [r for r in emulator.records("companies") if r["id"] == ours["companies/acme"]]
    assert company["properties"]["name"] == "Acme AG"
    assert _snapshot(emulator, theirs) == before


def test_state_rm_and_mv_never_write_to_their_records(
    applied: Applied, emulator: Emulator, cli: Cli
) -> None:
    """``state rm`` clears the markers of a record it releases, and ``state mv`` rewrites
    them: neither ever writes to a record without this project's id marker. A release
    forgets it (saying so), a move fails naming it."""
    project, ours, theirs = applied
    before = _snapshot(emulator, theirs)
    _poison(project, theirs)
    run = cli("state", "mv", "--project", project, KICKOFF, "meetings/renamed",
              "--auto-approve", grace=0.0)
    assert run.code == 1, run.out + run.err
    assert f"not moved: meetings {theirs[KICKOFF]} carries no reconciler_project" in (
        run.out + run.err)
    run = cli("state", "rm", "--project", project, LEGACY, "--auto-approve", grace=0.0)
    assert run.code == 0, run.out + run.err
    assert (f"{LEGACY} (id {theirs[LEGACY]}) carries no reconciler_project") in run.out, run.out
    assert "forgotten, its markers left as they are" in run.out
    assert LEGACY not in _ours(project)
    assert _snapshot(emulator, theirs) == before
