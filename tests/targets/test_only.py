"""--only ADDRESS: a plan or apply limited to some records (and the creates they need);
everything else is left as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import stored, write_project
from tests.targets.conftest import Cli, targets_yaml
from tests.targets.test_many_targets import SPEC, managed

GLOBEX = {
    "globex.yaml": """\
        companies:
          globex:
            name: Globex
            domain: globex.example
        """,
}


def test_only_limits_apply_to_the_named_records_and_what_they_need(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(emulator, second), **SPEC, **GLOBEX,
    })
    code, out, err = cli("plan", "--project", root, "-t", "one", "--only", "meetings/kickoff")
    assert code == 0, out + err
    assert (
        "Also included, as records --only names are associated with them and they are not "
        "created yet: companies/acme, contacts/jane"
    ) in out
    assert "globex" not in out and "Plan: 3 to create" in out

    code, out, err = cli("apply", "--project", root, "-t", "one", "--only", "meetings/kickoff",
                         "--auto-approve")
    assert code == 0, out + err
    assert sorted(managed(root, "one")) == ["companies/acme", "contacts/jane", "meetings/kickoff"]
    assert [r["properties"]["name"] for r in stored(emulator, "companies")] == ["Acme Inc"]

    # a change outside --only stays in the plan, untouched
    (root / "accounts.yaml").write_text(
        (root / "accounts.yaml").read_text().replace("Acme Inc", "Acme Corp")
    )
    code, out, err = cli("apply", "--project", root, "-t", "one", "--only", "companies/glob*",
                         "--auto-approve")
    assert code == 0, out + err
    assert "1 created, 0 updated" in out, out
    assert sorted(r["properties"]["name"] for r in stored(emulator, "companies")) == [
        "Acme Inc", "Globex"
    ]
    code, out, err = cli("plan", "--project", root, "-t", "one")
    assert "Plan: 0 to create, 1 to update, 0 to archive." in out, out


def test_only_naming_nothing_is_refused(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = write_project(tmp_path / "p", {"reconciler.yaml": targets_yaml(emulator, second), **SPEC})
    code, out, err = cli("plan", "--project", root, "-t", "one", "--only", "meeting/kickoff")
    assert code == 1
    assert "--only meeting/kickoff: no record of the spec or the state has such an address" in err
    plan_file = tmp_path / "plan.json"
    assert cli("plan", "--project", root, "-t", "one", "--out", plan_file)[0] == 0
    code, out, err = cli("apply", "--project", root, "-t", "one", "--plan", plan_file,
                         "--only", "meetings/*")
    assert code == 1 and "a saved plan is applied as it is" in err, err
    assert stored(emulator, "companies") == []


def test_only_works_across_several_targets(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(emulator, second), **SPEC, **GLOBEX,
    })
    code, out, err = cli("apply", "--project", root, "--all-targets", "--only", "companies/*",
                         "--auto-approve")
    assert code == 0, out + err
    for portal in (emulator, second):
        assert len(stored(portal, "companies")) == 2 and stored(portal, "contacts") == []


def test_only_keeps_a_marker_migration_whole() -> None:
    from reconciler.planning.changes import Change, Plan
    from reconciler.targets import limit

    def change(action: str, key: str) -> Change:
        return Change(action=action, object_type="contacts", key=key, reason="r",  # type: ignore[arg-type]
                      hubspot_id=None if action == "create" else "1")

    plan = Plan(
        changes=(change("update", "a"), change("remark", "a"), change("remark", "b"),
                 change("create", "c")),
        unchanged=("contacts/d",), target="t", project="p", state_lineage="l",
        state_serial=1, refreshed=True, reference_time="2026-01-01T00:00:00Z",
    )
    limited = limit(plan, ["contacts/a"], ["contacts/a", "contacts/b", "contacts/c"])
    assert [(c.action, c.key) for c in limited.plan.changes] == [
        ("update", "a"), ("remark", "a"), ("remark", "b")
    ]
    assert limited.plan.unchanged == () and limited.needed == ()


def test_only_archives_only_what_it_names(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(emulator, second), **GLOBEX,
        "initech.yaml": "companies:\n  initech:\n    name: Initech\n    domain: initech.example\n",
    })
    assert cli("apply", "--project", root, "-t", "one", "--auto-approve")[0] == 0
    (root / "globex.yaml").unlink()
    (root / "initech.yaml").unlink()
    code, out, err = cli("apply", "--project", root, "-t", "one", "--only", "companies/initech",
                         "--auto-approve")
    assert code == 0, out + err
    assert "0 created, 0 updated, 1 archived" in out, out
    assert [r["properties"]["name"] for r in stored(emulator, "companies")] == ["Globex"]
    assert sorted(managed(root, "one")) == ["companies/globex"]
