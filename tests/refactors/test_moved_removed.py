"""``moved:`` and ``removed:`` in the spec, applied per target, against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import Run, stored
from tests.manage.conftest import state_of

ID = "demo-5k2m9q"


def _marker(emulator: Any, object_type: str, hubspot_id: str) -> tuple[str | None, str | None]:
    for record in stored(emulator, object_type):
        if str(record["id"]) == hubspot_id:
            props = record["properties"]
            return props.get("reconciler_key") or None, props.get("reconciler_project") or None
    raise AssertionError(f"{object_type} {hubspot_id} is not in the portal")


def _rename_jane(project: Path, *, moved: bool = True) -> None:
    for name in ("accounts.yaml", "activities.yaml"):
        path = project / name
        path.write_text(path.read_text().replace("jane-doe", "jane"))
    if moved:
        with open(project / "accounts.yaml", "a") as handle:
            handle.write("moved:\n  - from: contacts/jane-doe\n    to: contacts/jane\n")


def test_moved_keeps_the_record_and_rewrites_its_marker(
    run: Run, project: Path, emulator: Any
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    jane_id = state_of(project)["records"]["contacts/jane-doe"]["id"]
    _rename_jane(project)

    code, out, err = run("plan", "--project", project)
    assert code == 0, err
    assert "> contacts/jane" in out and "move from contacts/jane-doe" in out
    assert "to create" in out and "0 to create" in out and "0 to archive" in out
    assert "1 to move" in out

    code, out, err = run("plan", "--project", project, "--json")
    changes = json.loads(out)["changes"]
    move = next(c for c in changes if c["action"] == "move")
    assert move["from"] == "contacts/jane-doe" and move["address"] == "contacts/jane"
    assert move["id"] == jane_id

    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "1 moved" in out
    state = state_of(project)
    assert state["records"]["contacts/jane"]["id"] == jane_id
    assert "contacts/jane-doe" not in state["records"]
    assert _marker(emulator, "contacts", jane_id) == (f"{ID}:contacts/jane", ID)
    assert len(stored(emulator, "contacts")) == 1
    # associations that named the old key follow it
    meeting = state["records"]["meetings/kickoff"]
    assert {a.get("to_key") for a in meeting["associations"]} >= {"jane"}

    # the entry stays in the spec: a no-op from now on, with or without a state file
    code, out, err = run("plan", "--project", project, "--detailed-exitcode")
    assert code == 0, out + err
    (project / ".reconciler" / "state" / "local.json").unlink()
    assert run("state", "rebuild", "--project", project)[0] == 0
    code, out, err = run("plan", "--project", project, "--detailed-exitcode")
    assert code == 0, out + err


def test_removed_releases_the_record_never_archives_it(
    run: Run, project: Path, emulator: Any
) -> None:
    assert run("apply", "--project", project, "--auto-approve", "--target", "production")[0] == 0
    call_id = state_of(project, "production")["records"]["calls/intro-call"]["id"]
    activities = project / "activities.yaml"
    text = activities.read_text()
    activities.write_text(text[: text.index("calls:")] + "removed: [calls/intro-call]\n")

    code, out, err = run("plan", "--project", project, "--target", "production")
    assert code == 0, err
    assert "/ calls/intro-call" in out and "release" in out and "1 to release" in out

    code, out, err = run("apply", "--project", project, "--target", "production", "--auto-approve")
    assert code == 0, out + err
    assert "1 released" in out
    assert "calls/intro-call" not in state_of(project, "production")["records"]
    assert _marker(emulator, "calls", call_id) == (None, None)
    assert len(stored(emulator, "calls")) == 1  # never archived

    # stateless: a rebuild no longer finds it, and the protected target keeps working
    (project / ".reconciler" / "state" / "production.json").unlink()
    assert run("state", "rebuild", "--project", project, "--target", "production")[0] == 0
    code, out, err = run(
        "apply", "--project", project, "--target", "production", "--auto-approve"
    )
    assert code == 0, out + err
    assert "No changes" in out


def _stateless(project: Path, target: str = "local") -> None:
    """What a CI runner starts from: no state file, then a rebuild from the portal."""
    (project / ".reconciler" / "state" / f"{target}.json").unlink()


def test_state_mv_then_a_stateless_apply_neither_fails_nor_duplicates(
    run: Run, project: Path, emulator: Any
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    jane_id = state_of(project)["records"]["contacts/jane-doe"]["id"]
    _rename_jane(project, moved=False)
    code, out, err = run("state", "mv", "contacts/jane-doe", "contacts/jane", "--project", project,
                         "--auto-approve")
    assert code == 0, out + err
    assert "> contacts/jane" in out and "1 moved" in out
    assert _marker(emulator, "contacts", jane_id) == (f"{ID}:contacts/jane", ID)

    for _ in range(2):  # two CI runs, each from nothing
        _stateless(project)
        assert run("state", "rebuild", "--project", project)[0] == 0
        code, out, err = run("apply", "--project", project, "--auto-approve")
        assert code == 0, out + err
        assert "No changes" in out, out
    assert [c["id"] for c in stored(emulator, "contacts")] == [jane_id]


def test_state_rm_then_stateless_applies_to_the_protected_target_keep_working(
    run: Run, project: Path, emulator: Any
) -> None:
    args = ("--project", project, "--target", "production")
    assert run("apply", *args, "--auto-approve")[0] == 0
    activities = project / "activities.yaml"
    text = activities.read_text()
    activities.write_text(text[: text.index("calls:")])
    code, out, err = run("state", "rm", "calls/intro-call", *args, "--auto-approve")
    assert code == 0, out + err
    for _ in range(2):
        _stateless(project, "production")
        assert run("state", "rebuild", *args)[0] == 0
        code, out, err = run("apply", *args, "--auto-approve")
        assert code == 0, out + err
        assert "No changes" in out, out
    assert len(stored(emulator, "calls")) == 1


def test_state_rm_offline_is_undone_by_the_next_rebuild_as_it_says(
    run: Run, project: Path
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    code, out, err = run("state", "rm", "calls/intro-call", "--project", project, "--offline")
    assert code == 0, err
    assert "Only the state file changed (--offline)" in out and "undoes this" in out
    assert "calls/intro-call" not in state_of(project)["records"]
    assert run("state", "rebuild", "--project", project)[0] == 0
    assert "calls/intro-call" in state_of(project)["records"]
