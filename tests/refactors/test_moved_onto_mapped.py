"""``moved:`` onto an address the state already maps: refused, located, before anything is
written, the way ``state mv`` refuses it (never the moved record archived instead)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.cli.base import main
from tests.helpers import Run, stored
from tests.manage.conftest import one_line_error, state_of

ACME_KICKOFF = """\
  acme-kickoff:
    title: Acme kickoff
    start: +4d 10:00
    duration: 30m
"""


def _add_acme_kickoff(project: Path) -> None:
    activities = project / "activities.yaml"
    text = activities.read_text()
    activities.write_text(text.replace("calls:\n", ACME_KICKOFF + "calls:\n"))


def _move_acme_kickoff_onto(project: Path, to: str) -> Path:
    """Take acme-kickoff out of the spec and say it is now ``to``."""
    activities = project / "activities.yaml"
    activities.write_text(activities.read_text().replace(ACME_KICKOFF, ""))
    refactors = project / "refactors.yaml"
    refactors.write_text(f"moved:\n  - from: meetings/acme-kickoff\n    to: {to}\n")
    return refactors


def _spec_error(code: int, out: str, err: str) -> str:
    """The run failed as a spec error: exit 1, one located problem line, no traceback."""
    assert code == 1, out + err
    assert "Traceback" not in err and "Internal error" not in err
    problem, summary = err.strip().splitlines()
    assert summary == "Error: 1 problem found in the spec"
    return problem


def test_moved_onto_a_mapped_address_is_refused_at_plan_and_apply(
    run: Run, project: Path, emulator: Any
) -> None:
    _add_acme_kickoff(project)
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    records = state_of(project)["records"]
    kickoff_id = records["meetings/kickoff"]["id"]
    _move_acme_kickoff_onto(project, "meetings/kickoff")

    assert main(["validate", str(project)]) == 0  # the spec alone is sound: the state decides
    expected = (
        f"{project / 'refactors.yaml'}:2:5: moved: cannot move meetings/acme-kickoff to "
        f"meetings/kickoff: meetings/kickoff is already in the state (HubSpot id {kickoff_id}), "
        "another record; run `reconciler state rm meetings/kickoff` first (the portal keeps "
        "it, released), or move to another address"
    )
    for args in (("plan",), ("plan", "--offline"), ("apply", "--auto-approve")):
        assert _spec_error(*run(*args, "--project", project)) == expected

    # nothing was written: both meetings are still there, still mapped where they were
    assert state_of(project)["records"] == records
    assert len(stored(emulator, "meetings")) == 2


def test_state_mv_refuses_the_same_and_says_the_same(run: Run, project: Path) -> None:
    _add_acme_kickoff(project)
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    kickoff_id = state_of(project)["records"]["meetings/kickoff"]["id"]
    for offline in ((), ("--offline",)):
        line = one_line_error(*run("state", "mv", "meetings/acme-kickoff", "meetings/kickoff",
                                   "--project", project, "--auto-approve", *offline))
        assert line == (
            f"Error: cannot move meetings/acme-kickoff to meetings/kickoff: meetings/kickoff is "
            f"already in the state (HubSpot id {kickoff_id}), another record; run `reconciler "
            "state rm meetings/kickoff` first (the portal keeps it, released), or move to "
            "another address"
        )


def test_released_first_the_move_then_goes_through(
    run: Run, project: Path, emulator: Any
) -> None:
    _add_acme_kickoff(project)
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    records = state_of(project)["records"]
    old_kickoff, acme_id = records["meetings/kickoff"]["id"], records["meetings/acme-kickoff"]["id"]
    _move_acme_kickoff_onto(project, "meetings/kickoff")
    code, out, err = run("state", "rm", "meetings/kickoff", "--project", project,
                         "--auto-approve")
    assert code == 0, out + err

    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "1 moved" in out and "0 archived" in out
    assert state_of(project)["records"]["meetings/kickoff"]["id"] == acme_id
    assert {m["id"] for m in stored(emulator, "meetings")} == {old_kickoff, acme_id}
    code, out, err = run("plan", "--project", project, "--detailed-exitcode")
    assert code == 0, out + err


def test_an_applied_move_left_in_the_spec_plans_nothing(run: Run, project: Path) -> None:
    _add_acme_kickoff(project)
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    activities = project / "activities.yaml"
    activities.write_text(activities.read_text().replace("acme-kickoff:", "acme-intro:"))
    (project / "refactors.yaml").write_text(
        "moved: [{from: meetings/acme-kickoff, to: meetings/acme-intro}]\n"
    )
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0 and "1 moved" in out, out + err
    # its source is no longer in the state: a no-op, whatever else the state maps
    code, out, err = run("plan", "--project", project, "--detailed-exitcode")
    assert code == 0, out + err


def test_what_the_spec_alone_shows_is_refused_by_validate(
    project: Path, capsys: Any
) -> None:
    """Without a state: onto a removed: address, two onto one, and a chain onto a record
    still in the spec whose own address is moved away."""
    (project / "refactors.yaml").write_text(
        "moved:\n"
        "  - {from: calls/old-call, to: calls/intro-call}\n"
        "  - {from: meetings/a, to: meetings/gone}\n"
        "  - {from: meetings/b, to: meetings/kickoff}\n"
        "  - {from: meetings/c, to: meetings/kickoff}\n"
        "  - {from: meetings/kickoff, to: meetings/d}\n"
        "removed: [meetings/gone]\n"
    )
    assert main(["validate", str(project)]) == 1
    where = f"{project / 'refactors.yaml'}"
    assert capsys.readouterr().err.splitlines() == [
        f"{where}:3:28: moved[1].to: meetings/gone is removed (removed: at {where}:7:11); "
        "move it or remove it, not both",
        f"{where}:5:28: moved[3].to: meetings/kickoff is already the destination of the move "
        f"from meetings/b ({where}:4:5); two records cannot become one",
        f"{where}:6:12: moved[4].from: meetings/kickoff is still in the spec "
        f"({project / 'activities.yaml'}:2); a moved record's old address must be gone from "
        "the spec: rename it there, or drop this entry",
        "Error: 3 problems found in the spec",
    ]
