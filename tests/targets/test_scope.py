"""What each target takes of one spec: include/exclude (records no longer included are
released, never archived), the owners map and default_owner, the generators' vars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import stored, write_project
from tests.targets.conftest import Cli, targets_yaml
from tests.targets.test_many_targets import SPEC, managed

SHOWCASE = {
    "showcase/demo.yaml": """\
        companies:
          showco:
            name: Showcase Co
            domain: showco.example
        """,
}


def names(portal: Any, object_type: str = "companies") -> list[str]:
    return sorted(r["properties"]["name"] for r in stored(portal, object_type))


def test_include_and_exclude_choose_files_and_sections_per_target(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(
            emulator, second,
            extra_one="    exclude: [meetings]\n",
            extra_two="    include: [showcase/]\n",
        ),
        **SPEC, **SHOWCASE,
    })
    code, out, err = cli("apply", "--project", root, "-t", "one", "-t", "two", "--auto-approve")
    assert code == 0, out + err
    assert names(emulator) == ["Acme Inc", "Showcase Co"] and stored(emulator, "meetings") == []
    assert names(second) == ["Showcase Co"] and stored(second, "contacts") == []
    assert sorted(managed(root, "two")) == ["companies/showco"]


def test_records_a_target_stops_including_are_released_not_archived(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(emulator, second), **SPEC, **SHOWCASE,
    })
    assert cli("apply", "--project", root, "-t", "one", "--auto-approve")[0] == 0
    (root / "reconciler.yaml").write_text(
        targets_yaml(emulator, second, extra_one="    exclude: [showcase/*.yaml, meetings]\n")
    )
    code, out, err = cli("plan", "--project", root, "-t", "one", "--detailed-exitcode")
    assert code == 0, out + err  # nothing to write in the portal
    assert (
        "Released 2 record(s) that target one no longer includes (no longer managed; the "
        "portal keeps them, nothing is archived): companies/showco, meetings/kickoff"
    ) in out
    assert "archive" not in out.replace("0 to archive", "").replace("nothing is archived", "")
    code, out, err = cli("plan", "--project", root, "-t", "one", "--json")
    assert json.loads(out)["released"] == ["companies/showco", "meetings/kickoff"]
    code, out, err = cli("apply", "--project", root, "-t", "one", "--auto-approve")
    assert code == 0, out + err
    assert "Released 2 record(s)" in out
    assert sorted(managed(root, "one")) == ["companies/acme", "contacts/jane"]
    assert names(emulator) == ["Acme Inc", "Showcase Co"]  # still in the portal
    assert len(stored(emulator, "meetings")) == 1
    # and a record removed from the spec itself is still archived as before
    (root / "showcase" / "demo.yaml").unlink()
    (root / "reconciler.yaml").write_text(targets_yaml(emulator, second))
    code, out, err = cli("plan", "--project", root, "-t", "one")
    # the meeting, again: it still carries its marker, so it is adopted, never duplicated
    assert "Plan: 0 to create, 0 to update, 0 to archive, 1 to adopt." in out, out


def test_a_record_associated_with_one_the_target_leaves_out_is_refused(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(emulator, second, extra_one="    include: [meetings]\n"),
        **SPEC,
    })
    code, out, err = cli("plan", "--project", root, "-t", "one")
    assert code == 1
    assert (
        "target one leaves out records that the records it takes are associated with: "
        f"meetings/kickoff ({root}/meetings.yaml:2) is associated with contacts/jane"
    ) in err, err
    (root / "reconciler.yaml").write_text(
        targets_yaml(emulator, second, extra_one="    include: [acounts/*.yaml]\n")
    )
    code, out, err = cli("plan", "--project", root, "-t", "one")
    assert code == 1 and "include: 'acounts/*.yaml' matches no spec file and no section" in err


def test_owners_map_and_default_owner_per_target(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    spec = {
        "a.yaml": """\
            companies:
              bobs:
                name: Bobs
                owner: bob@example.com
              alices:
                name: Alices
              carols:
                name: Carols
                owner: 1003
            """,
    }
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(
            emulator, second, head="default_owner: alice@example.com\n",
            extra_two=(
                "    owners:\n      bob@example.com: erik@second.example\n"
                "      1003: 2002\n"
                "    default_owner: dana@second.example\n"
            ),
        ),
        **spec,
    })
    code, out, err = cli("apply", "--project", root, "--all-targets", "--auto-approve")
    assert code == 0, out + err

    def owners(portal: Any) -> dict[str, str]:
        return {r["properties"]["name"]: r["properties"]["hubspot_owner_id"]
                for r in stored(portal, "companies")}

    assert owners(emulator) == {"Bobs": "1002", "Alices": "1001", "Carols": "1003"}
    assert owners(second) == {"Bobs": "2002", "Alices": "2001", "Carols": "2002"}
    code, out, err = cli("plan", "--project", root, "--all-targets", "--detailed-exitcode")
    assert code == 0, out + err


def test_each_target_generates_with_its_own_vars(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(
            emulator, second, head="vars:\n  accounts: 2\n",
            extra_two="    vars:\n      accounts: 4\n",
        ),
        "gen.yaml": """\
            generate:
              companies:
                key: "acct-{n}"
                count: "{{ vars.accounts }}"
                fields:
                  name: "Account {{ n }}"
            """,
    })
    code, out, err = cli("apply", "--project", root, "-t", "one", "-t", "two", "--auto-approve")
    assert code == 0, out + err
    assert len(stored(emulator, "companies")) == 2
    assert len(stored(second, "companies")) == 4


def test_refresh_times_never_archives_nor_creates_what_the_target_leaves_out(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(emulator, second), **SPEC,
    })
    assert cli("apply", "--project", root, "-t", "one", "--auto-approve")[0] == 0
    (root / "reconciler.yaml").write_text(
        targets_yaml(emulator, second, extra_one="    exclude: [meetings]\n")
    )
    (root / ".reconciler" / "state" / "one.json").unlink()
    code, out, err = cli("state", "rebuild", "--project", root, "-t", "one")
    assert code == 0, out + err  # (finds the meeting by its marker, as every managed record)
    code, out, err = cli("refresh-times", "--project", root, "-t", "one", "--auto-approve")
    assert code == 0, out + err
    assert len(stored(emulator, "meetings")) == 1  # neither archived nor created again
    code, out, err = cli("plan", "--project", root, "-t", "one", "--detailed-exitcode")
    assert code == 0 and "Released 1 record(s)" in out, out + err
