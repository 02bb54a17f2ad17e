"""The shipped example applies to any portal, not only the emulator's defaults: owners and
the calendar organizer are named by email, and resolve to whatever ids the portal has."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from reconciler.emulator.config import Owner
from tests.helpers import Run, stored

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: The emulator's default owners' emails, with ids and user ids no default has.
OTHER_IDS = (
    Owner("88001", "alice@example.com", "Alice", "Anders", 99001),
    Owner("88002", "bob@example.com", "Bob", "Berg", 99002),
    Owner("88003", "carol@example.com", "Carol", "Chen", 99003),
)


def test_no_example_names_an_emulator_id() -> None:
    owned = re.compile(r"^\s*(owner|organizer|hubspot_owner_id):\s*\"?\d+\"?\s*(#.*)?$")
    for path in EXAMPLES.rglob("*.yaml"):
        if "gitops" in path.parts or ".reconciler" in path.parts:
            continue  # (examples/gitops is its own project, checked by its own tests)
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not owned.match(line), f"{path}:{number}: {line.strip()}"


def test_the_example_applies_to_a_portal_with_other_owner_ids(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    emulator.set_config(owners=OTHER_IDS)
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns(".reconciler", "gitops"))
    code, out, err = run("doctor", "--project", copy, "--var", "accounts=3")
    assert code == 0, out + err
    code, out, err = run("apply", "--project", copy, "--var", "accounts=3", "--auto-approve")
    assert code == 0, out + err
    owners = {m["properties"].get("hubspot_owner_id") for m in stored(emulator, "meetings")}
    assert owners <= {"88001", "88002", "88003", None}
    calendar = [r for r in emulator.requests() if r["path"].startswith("/scheduler/")]
    assert [r["query"] for r in calendar] == ["organizerUserId=99001"]  # alice's user id here
    code, out, err = run("plan", "--project", copy, "--var", "accounts=3")
    assert code == 0 and "No changes." in out, out + err
