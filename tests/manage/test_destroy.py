"""`reconciler destroy`, and protected targets refusing every archive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.manage.conftest import ADDRESSES, Run, backups, one_line_error, state_of, stored

TYPES = ("companies", "contacts", "meetings", "calls")


def test_destroy_archives_everything_in_reverse_dependency_order(
    run: Run, project: Path, emulator: Any
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    emulator.clear_requests()

    code, out, err = run("destroy", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "Plan: 0 to create, 0 to update, 4 to archive." in out
    assert all(stored(emulator, t) == [] for t in TYPES)
    assert state_of(project)["records"] == {}
    assert len(backups(project)) == 1
    archived = [r["path"].split("/")[-3] for r in emulator.requests()
                if r["path"].endswith("/batch/archive")]
    assert archived == ["calls", "meetings", "contacts", "companies"]

    code, out, _ = run("destroy", "--project", project, "--auto-approve")
    assert code == 0 and "No changes." in out


def test_destroy_archives_only_what_the_state_manages(run: Run, project: Path, emulator: Any) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    assert run("state", "rm", "companies/acme", "--project", project, "--offline")[0] == 0
    assert run("destroy", "--project", project, "--auto-approve")[0] == 0
    assert len(stored(emulator, "companies")) == 1
    assert stored(emulator, "contacts") == []


def test_destroy_without_a_terminal_needs_auto_approve(run: Run, project: Path, emulator: Any) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    line = one_line_error(*run("destroy", "--project", project))
    assert "pass --auto-approve" in line
    assert len(stored(emulator, "meetings")) == 1


def test_protected_target_refuses_destroy_whatever_the_flags(
    run: Run, project: Path, emulator: Any
) -> None:
    code, out, err = run("apply", "--project", project, "--target", "production", "--auto-approve")
    assert code == 0, out + err
    for flags in (["--auto-approve"], []):
        line = one_line_error(*run("destroy", "--project", project, "-t", "production", *flags))
        assert "target production is protected" in line and "destroy is refused" in line
    assert sorted(state_of(project, "production")["records"]) == ADDRESSES
    assert len(stored(emulator, "meetings")) == 1


def test_protected_target_refuses_an_apply_that_archives(
    run: Run, project: Path, emulator: Any
) -> None:
    assert run("apply", "--project", project, "-t", "production", "--auto-approve")[0] == 0
    path = project / "activities.yaml"
    path.write_text(path.read_text().replace("title: Kickoff", "title: Kick-off"))
    text = path.read_text()
    path.write_text(text[: text.index("calls:")])

    line = one_line_error(*run("apply", "--project", project, "-t", "production", "--auto-approve"))
    assert "target production is protected: refusing to archive calls/intro-call" in line
    assert len(stored(emulator, "calls")) == 1
    assert stored(emulator, "meetings")[0]["properties"]["hs_meeting_title"] == "Kickoff"

    # not managing it any more is the way out; the portal keeps the record
    assert run("state", "rm", "calls/intro-call", "-p", project, "-t", "production",
               "--auto-approve")[0] == 0
    assert run("apply", "--project", project, "-t", "production", "--auto-approve")[0] == 0
    assert len(stored(emulator, "calls")) == 1
    assert stored(emulator, "meetings")[0]["properties"]["hs_meeting_title"] == "Kick-off"
