"""A target's ``owners:`` map applies after defaulting (#19): to the owner a record takes
from the project's ``default_owner``, and to the target's own ``default_owner``; an entry
that maps no record is one located warning line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import stored, write_project
from tests.targets.conftest import Cli, targets_yaml

SPEC = {
    "a.yaml": """\
        companies:
          alices:
            name: Alices
          bobs:
            name: Bobs
            owner: bob@example.com
        """,
}


def _owners(portal: Any) -> dict[str, str]:
    return {r["properties"]["name"]: r["properties"]["hubspot_owner_id"]
            for r in stored(portal, "companies")}


def test_owners_map_the_owner_a_record_takes_by_default(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    """The project's default_owner is alice; target two maps alice to erik and names dana
    its own default_owner: the records owned by default go to erik (the map wins), not
    dana; before, the target's default_owner took them and the map was silently unused."""
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(
            emulator, second, head="default_owner: alice@example.com\n",
            extra_two=(
                "    owners:\n      alice@example.com: erik@second.example\n"
                "      bob@example.com: dana@second.example\n"
                "    default_owner: dana@second.example\n"
            ),
        ),
        **SPEC,
    })
    code, out, err = cli("apply", "--project", root, "-t", "two", "--auto-approve")
    assert code == 0, out + err
    assert _owners(second) == {"Alices": "2002", "Bobs": "2001"}
    assert "warning" not in err


def test_the_targets_default_owner_is_mapped_too(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    """``owners: {alice: erik}`` with ``default_owner: alice`` on the target: records owned
    by default go to erik."""
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": targets_yaml(
            emulator, second,
            extra_two=(
                "    owners:\n      alice@example.com: erik@second.example\n"
                "      bob@example.com: dana@second.example\n"
                "    default_owner: alice@example.com\n"
            ),
        ),
        **SPEC,
    })
    code, out, err = cli("apply", "--project", root, "-t", "two", "--auto-approve")
    assert code == 0, out + err
    assert _owners(second) == {"Alices": "2002", "Bobs": "2001"}


def test_an_owners_entry_that_maps_nothing_is_one_located_warning(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    yaml = targets_yaml(
        emulator, second, head="default_owner: alice@example.com\n",
        extra_two=(
            "    owners:\n      alice@example.com: erik@second.example\n"
            "      bob@example.com: dana@second.example\n"
            "      carol@exmaple.com: dana@second.example\n"
        ),
    )
    root = write_project(tmp_path / "p", {"reconciler.yaml": yaml, **SPEC})
    line = yaml.splitlines().index("      carol@exmaple.com: dana@second.example") + 1
    code, out, err = cli("plan", "--project", root, "-t", "two")
    assert code == 0, out + err
    warnings = [w for w in err.splitlines() if "warning" in w]
    assert warnings == [
        f"{root}/reconciler.yaml:{line}:7: warning: targets.two.owners: carol@exmaple.com maps "
        "no record this target takes (owners map the owner a record names, or the project's "
        "or the target's default_owner); check its spelling, or remove it"
    ], err
