"""Moves and releases in saved plans (`plan --out`, `apply --plan`), in every rendering,
and the planner's rules for them (pure)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from reconciler.errors import SpecError
from reconciler.model import DesiredRecord, DesiredState, ProjectSettings, Refactor, Source
from reconciler.planning.changes import PLAN_FORMAT_VERSION, RemoteSnapshot
from reconciler.planning.planner import plan
from reconciler.state.model import RecordState, State
from reconciler.state.plan_document import plan_digest
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


def _refused(desired: DesiredState, state: State) -> list[str]:
    with pytest.raises(SpecError) as caught:
        plan(desired, state)
    return [issue.render() for issue in caught.value.issues]


def test_a_move_onto_an_address_the_state_maps_is_refused_never_dropped() -> None:
    desired = _desired(["contacts/vera"], {"contacts/old": "contacts/vera"})
    # both addresses managed, two records: refused (it used to archive the moved record)
    assert _refused(desired, _state("contacts/old", "contacts/vera")) == [
        "spec.yaml:1:1: moved: cannot move contacts/old to contacts/vera: contacts/vera is "
        "already in the state (HubSpot id 101), another record; run `reconciler state rm "
        "contacts/vera` first (the portal keeps it, released), or move to another address",
    ]
    # both addresses mapped to one record: nothing to move, nothing to archive either
    one = _state("contacts/old", "contacts/vera")
    one.records["contacts/vera"] = one.records["contacts/old"]
    assert _refused(desired, one) == [
        "spec.yaml:1:1: moved: cannot move contacts/old to contacts/vera: the state maps "
        "contacts/vera to this very record (HubSpot id 100) already; run `reconciler state "
        "rm --offline contacts/old` to forget its old address",
    ]
    # the moved record is gone from the portal: nothing to move, it is forgotten
    gone = plan(desired, _state("contacts/old", "contacts/vera"),
                remote={"contacts/vera": RemoteSnapshot("101", {}), "contacts/old": None})
    assert _actions(gone.changes) == [("archive", "contacts/old")]
    assert gone.changes[0].reason == "already gone from the portal"


def test_chains_of_moves_refuse_two_managed_records_on_one_address() -> None:
    # a → b → c, as the loader resolves it: both a and b end at c
    desired = _desired(["contacts/c"], {"contacts/a": "contacts/c", "contacts/b": "contacts/c"})
    desired = replace(desired, refactors=MappingProxyType({
        "contacts/a": Refactor("contacts/a", "contacts/c", Source("spec.yaml", 2, 5)),
        "contacts/b": Refactor("contacts/b", "contacts/c", Source("spec.yaml", 3, 5)),
    }))
    # either end of the chain alone: one move to where the record is now
    assert _actions(plan(desired, _state("contacts/a")).changes) == [("move", "contacts/c")]
    assert _actions(plan(desired, _state("contacts/b")).changes) == [("move", "contacts/c")]
    # both managed: two records cannot become one, whichever entry is read
    assert _refused(desired, _state("contacts/a", "contacts/b")) == [
        "spec.yaml:2:5: moved: cannot move contacts/a to contacts/c: contacts/b, which the "
        "state also maps (HubSpot id 101), moves there too (moved: at spec.yaml:3:5); two "
        "records cannot become one: run `reconciler state rm` on one of them first (the "
        "portal keeps it, released)",
        "spec.yaml:3:5: moved: cannot move contacts/b to contacts/c: contacts/a, which the "
        "state also maps (HubSpot id 100), moves there too (moved: at spec.yaml:2:5); two "
        "records cannot become one: run `reconciler state rm` on one of them first (the "
        "portal keeps it, released)",
    ]
    # the end of the chain managed as well: each is refused on the address itself
    problems = _refused(desired, _state("contacts/a", "contacts/c"))
    assert problems == [
        "spec.yaml:2:5: moved: cannot move contacts/a to contacts/c: contacts/c is already in "
        "the state (HubSpot id 101), another record; run `reconciler state rm contacts/c` "
        "first (the portal keeps it, released), or move to another address",
    ]


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
