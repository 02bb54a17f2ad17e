"""`reconciler state rm | mv | rebuild`: repair the state by hand, each keeping a backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.manage.conftest import ADDRESSES, Run, backups, one_line_error, state_of, stored


def test_state_rm_forgets_a_record_and_keeps_a_backup(run: Run, project: Path, emulator: Any) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    before = (project / ".reconciler/state/local.json").read_text()

    code, out, err = run("state", "rm", "calls/intro-call", "--project", project, "--auto-approve")
    assert code == 0, err
    assert "/ calls/intro-call" in out and "1 released" in out
    assert "calls/intro-call" not in state_of(project)["records"]
    (backup,) = backups(project)
    assert backup.read_text() == before and str(backup) in out
    (call,) = stored(emulator, "calls")  # the portal keeps it, released: no markers
    assert not call["properties"].get("reconciler_key")
    assert not call["properties"].get("reconciler_project")

    code, out, _ = run("plan", "--project", project)
    assert "Plan: 1 to create, 0 to update, 0 to archive." in out


def test_state_rm_unknown_address_is_a_one_line_error(run: Run, project: Path) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    line = one_line_error(*run("state", "rm", "calls/nope", "--project", project,
                               "--auto-approve"))
    assert "calls/nope is not in the state" in line
    assert backups(project) == []
    assert sorted(state_of(project)["records"]) == ADDRESSES


def test_state_mv_follows_a_renamed_key(run: Run, project: Path) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    for name in ("accounts.yaml", "activities.yaml"):
        path = project / name
        path.write_text(path.read_text().replace("jane-doe", "jane"))
    code, out, _ = run("plan", "--project", project)
    assert "1 to create" in out and "1 to archive" in out

    code, out, err = run("state", "mv", "contacts/jane-doe", "contacts/jane", "--project", project,
                         "--offline")
    assert code == 0, err
    assert "Moved contacts/jane-doe to contacts/jane." in out
    assert "a state rebuilt from the portal" in out and "undoes this" in out
    records = state_of(project)["records"]
    assert "contacts/jane" in records and "contacts/jane-doe" not in records
    assert {a.get("to_key") for a in records["meetings/kickoff"]["associations"]} == {"jane", "acme"}
    assert len(backups(project)) == 1

    code, out, _ = run("plan", "--project", project)
    assert "No changes." in out, out


def test_state_mv_refusals(run: Run, project: Path) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    line = one_line_error(*run("state", "mv", "contacts/jane-doe", "companies/jane", "-p", project))
    assert "a record keeps its type (contacts)" in line
    line = one_line_error(*run("state", "mv", "contacts/nobody", "contacts/jane", "-p", project))
    assert "contacts/nobody is not in the state" in line
    line = one_line_error(*run("state", "mv", "meetings/kickoff", "meetings/kickoff", "-p", project))
    assert "cannot move meetings/kickoff to itself" in line
    line = one_line_error(*run("state", "mv", "contacts/jane-doe", "contacts/jane-doe2", "-p",
                               project))
    assert "this needs confirmation but there is no terminal" in line
    line = one_line_error(*run("state", "mv", "calls/intro-call", "meetings/kickoff", "-p", project))
    assert "a record keeps its type (calls)" in line

    line = one_line_error(*run("state", "mv", "kickoff", "meetings/x", "-p", project))
    assert "'kickoff' is not an address" in line
    assert backups(project) == []


def test_state_rebuild_restores_a_damaged_state_from_the_portal(run: Run, project: Path) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    original = state_of(project)["records"]
    path = project / ".reconciler/state/local.json"
    path.write_text("{ this is not json")

    line = one_line_error(*run("state", "list", "--project", project))
    assert "state rebuild" in line

    code, out, err = run("state", "rebuild", "--project", project)
    assert code == 0, out + err
    assert "Rebuilt the state with 4 record(s)." in out
    (backup,) = backups(project)
    assert backup.read_text() == "{ this is not json"
    records = state_of(project)["records"]
    assert {a: r["id"] for a, r in records.items()} == {a: r["id"] for a, r in original.items()}
    code, out, _ = run("plan", "--project", project)
    assert "No changes." in out, out


def test_state_rebuild_finds_records_removed_from_the_spec(run: Run, project: Path, emulator: Any) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    (project / ".reconciler/state/local.json").unlink()
    path = project / "activities.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("calls:")])

    assert run("state", "rebuild", "--project", project)[0] == 0
    assert sorted(state_of(project)["records"]) == ADDRESSES
    code, out, _ = run("apply", "--project", project, "--auto-approve")
    assert code == 0 and "Plan: 0 to create, 0 to update, 1 to archive." in out
    assert stored(emulator, "calls") == []


def test_after_rebind_the_marker_rewrites_show_what_the_records_carry(
    run: Run, project: Path, tmp_path: Path, emulator: Any
) -> None:
    """A state rebound from another project keeps no record of that project's id (its
    binding would refuse it), so a plan shows the markers each record carries as the
    refresh read them, not ones made up from this project's name."""
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    moved = tmp_path / "moved"
    moved.mkdir()
    for item in project.iterdir():
        if item.is_file():
            (moved / item.name).write_text(item.read_text())
    (moved / "reconciler.yaml").write_text((project / "reconciler.yaml").read_text().replace(
        "name: demo\nid: demo-5k2m9q", "name: moved\nid: moved-7h3k2p"))
    state = moved / ".reconciler/state/local.json"
    state.parent.mkdir(parents=True)
    state.write_bytes((project / ".reconciler/state/local.json").read_bytes())
    code, out, err = run("state", "rebind", "--project", moved, "--yes")
    assert code == 0, out + err

    code, out, err = run("plan", "--project", moved)
    assert code == 0, out + err
    assert "4 marker rewrites" in out, out
    assert "markers of project demo-5k2m9q → moved-7h3k2p" in out, out
    assert ('reconciler_key: "demo-5k2m9q:companies/acme" → "moved-7h3k2p:companies/acme"'
            in out), out
    assert 'reconciler_project: "demo-5k2m9q" → "moved-7h3k2p"' in out, out
    assert "moved:companies/acme" not in out and "(none) →" not in out, out
    assert run("apply", "--project", moved, "--auto-approve")[0] == 0
    assert {r["properties"]["reconciler_project"] for r in stored(emulator, "companies")} == {
        "moved-7h3k2p"}
    code, out, _ = run("plan", "--project", moved)
    assert "No changes." in out, out
