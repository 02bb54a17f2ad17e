"""A hostile spec against the schema step, through the CLI and the emulator (H3): what
``schema.removed`` names that is not the spec's to delete is refused, located, with nothing
sent; what the portal does not have is nothing to do, never a search HubSpot refuses."""

from __future__ import annotations

from pathlib import Path

from reconciler.emulator.embedded import Emulator
from tests.helpers import Run, write_project
from tests.schema.portal import PROJECT


def _writes(emulator: Emulator) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in emulator.requests()
            if r["method"] != "GET" and not r["path"].endswith(("/search", "/batch/read"))]


def _removing(tmp_path: Path, *entries: str) -> Path:
    lines = "".join(f"    - {entry}\n" for entry in entries)
    return write_project(tmp_path / "proj", {"reconciler.yaml": PROJECT,
                                             "spec.yaml": f"schema:\n  removed:\n{lines}"})


def test_an_option_of_hubspots_own_property_is_never_removed(
    run: Run, tmp_path: Path, emulator: Emulator
) -> None:
    # (planned as "~ property companies.industry options: - ACCOUNTING" before)
    project = _removing(tmp_path, "{option: companies/industry/ACCOUNTING}")
    emulator.clear_requests()
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 1, out + err
    assert err.splitlines()[0] == (
        f"{project / 'spec.yaml'}:3:7: schema.removed: companies/industry is HubSpot's own "
        "property; its options are never removed")
    assert "Traceback" not in err and _writes(emulator) == []


def test_removing_what_the_portal_does_not_have_is_nothing_to_do(
    run: Run, tmp_path: Path, emulator: Emulator
) -> None:
    # (each asked HubSpot to search on a property it does not have: a 400, exit 1, no line)
    project = _removing(tmp_path, "{property: companies/nothing_here}",
                        "{option: companies/nothing_here/x}",
                        "{option: companies/industry/NOT_AN_OPTION}")
    code, out, err = run("plan", "--project", project)
    assert code == 0, out + err
    assert "No changes." in out
