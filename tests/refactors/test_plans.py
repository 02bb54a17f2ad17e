"""Moves and releases in saved plans (`plan --out`, `apply --plan`), in every rendering,
and the planner's rules for them (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reconciler.model import DesiredRecord, DesiredState, ProjectSettings, Refactor, Source
from reconciler.planner import PLAN_FORMAT_VERSION, plan, plan_digest
from reconciler.state import RecordState, State
from tests.helpers import Run
from tests.manage.conftest import state_of

HERE = Source("spec.yaml", 1, 1)


def _refactor(project: Path) -> None:
    for name in ("accounts.yaml", "activities.yaml"):
        path = project / name
        path.write_text(path.read_text().replace("jane-doe", "jane"))
    activities = project / "activities.yaml"
    text = activities.read_text()
    activities.write_text(text[: text.index("calls:")] + (
        "moved: [{from: contacts/jane-doe, to: contacts/jane}]\n"
        "removed: [calls/intro-call]\n"
    ))


def test_a_saved_plan_with_a_move_and_a_release_applies_as_shown(
    run: Run, project: Path, tmp_path: Path
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    jane_id = state_of(project)["records"]["contacts/jane-doe"]["id"]
    _refactor(project)
    saved = tmp_path / "plan.json"
    code, out, err = run("plan", "--project", project, "--out", saved)
    assert code == 0, err
    data = json.loads(saved.read_text())
    assert data["format_version"] == PLAN_FORMAT_VERSION >= 2
    assert data["summary"]["move"] == 1 and data["summary"]["release"] == 1
    by_action = {c["action"]: c for c in data["changes"]}
    assert by_action["move"]["from"] == "contacts/jane-doe"
    assert by_action["release"]["after"] == {"reconciler_key": "", "reconciler_project": ""}

    code, out, _ = run("plan", "--project", project, "--format", "markdown")
    assert "1 to move, 1 to release." in out
    assert "| &gt; | contacts/jane | moved from contacts/jane\\-doe |" in out
    assert "| / | calls/intro\\-call | removed: in the spec; the portal keeps it" in out

    code, out, err = run("apply", "--project", project, "--plan", saved)
    assert code == 0, out + err
    assert "1 moved" in out and "1 released" in out
    records = state_of(project)["records"]
    assert records["contacts/jane"]["id"] == jane_id and "calls/intro-call" not in records
    code, out, _ = run("plan", "--project", project, "--detailed-exitcode")
    assert code == 0, out


def test_a_saved_move_that_does_not_follow_from_the_state_is_refused(
    run: Run, project: Path, tmp_path: Path
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    _refactor(project)
    saved = tmp_path / "plan.json"
    assert run("plan", "--project", project, "--out", saved)[0] == 0
    data = json.loads(saved.read_text())
    move = next(c for c in data["changes"] if c["action"] == "move")
    move["from"] = "contacts/someone-else"
    data["digest"] = plan_digest(data)
    saved.write_text(json.dumps(data))
    code, out, err = run("apply", "--project", project, "--plan", saved)
    assert code == 1
    assert "the move of contacts/someone-else, which the state does not manage" in err
    assert "contacts/jane-doe" in state_of(project)["records"]  # nothing applied


# -- the planner, pure --------------------------------------------------------------------


def _desired(records: list[str], refactors: dict[str, str | None]) -> DesiredState:
    project = ProjectSettings(root=".", name="p", id="p-0123abcd")
    return DesiredState(
        project=project,
        records=MappingProxyType({
            a: DesiredRecord(a.partition("/")[0], a.partition("/")[2], {}, HERE) for a in records
        }),
        reference_time="2026-11-20T09:00:00Z",
        refactors=MappingProxyType({a: Refactor(a, to, HERE) for a, to in refactors.items()}),
    )


def _state(*addresses: str) -> State:
    state = State(lineage="l", project="p", project_id="p-0123abcd")
    for n, address in enumerate(addresses):
        state.records[address] = RecordState(
            id=str(100 + n), object_type=address.split("/")[0], properties={}
        )
    return state


def _actions(changes: Any) -> list[tuple[str, str]]:
    return [(c.action, c.address) for c in changes]


def test_moves_and_releases_plan_only_what_the_state_still_has() -> None:
    desired = _desired(["contacts/vera"], {"contacts/old": "contacts/vera", "calls/x": None})
    result = plan(desired, _state("contacts/old", "calls/x"))
    assert _actions(result.changes) == [("move", "contacts/vera"), ("release", "calls/x")]
    assert result.unchanged == ("contacts/vera",)  # then planned at its new address
    # applied (or never managed): nothing
    assert plan(desired, _state("contacts/vera")).changes == ()
    # both addresses managed: no move (the old one is archived as any other)
    both = plan(desired, _state("contacts/old", "contacts/vera"))
    assert _actions(both.changes) == [("archive", "contacts/old")]


def test_a_release_of_a_record_gone_from_the_portal_writes_nothing() -> None:
    desired = _desired([], {"calls/x": None})
    (release,) = plan(desired, _state("calls/x"), remote={}).changes
    assert release.action == "release" and dict(release.after) == {}
    assert "already gone from the portal" in release.reason


def test_a_move_to_a_record_the_target_does_not_take_releases_it() -> None:
    desired = _desired([], {"contacts/old": "contacts/vera"})  # vera: excluded by the target
    (release,) = plan(desired, _state("contacts/old")).changes
    assert release.action == "release" and release.address == "contacts/old"
    assert "which this target does not include" in release.reason
