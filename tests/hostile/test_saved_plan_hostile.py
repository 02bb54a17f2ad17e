"""`apply --plan FILE --check` (and `apply --plan`) against saved plans edited by hand:
each is exit 1 with one line, and nothing reaches the portal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.state.plan_document import plan_digest
from tests.helpers import Run, stored, write_project

PROJECT = "name: alpha\nid: alpha-7k2m9q\ndefault_owner: alice@example.com\n"
SPEC = "companies:\n  acme: {name: Acme Inc, domain: acme.example}\n"


@pytest.fixture
def saved_plan(run: Run, tmp_path: Path) -> tuple[Path, Path]:
    """A project applied once, then an update of its company saved with `plan --out`."""
    root = write_project(tmp_path / "alpha", {"reconciler.yaml": PROJECT, "s.yaml": SPEC})
    assert run("apply", "--project", root, "--auto-approve")[0] == 0
    (root / "s.yaml").write_text(SPEC.replace("Acme Inc", "Acme Corp"))
    plan_file = tmp_path / "plan.json"
    assert run("plan", "--project", root, "--out", plan_file)[0] == 0
    return root, plan_file


def _refused(run: Run, root: Path, plan_file: Path) -> str:
    for extra in (["--check"], []):
        code, out, err = run("apply", "--project", root, "--plan", plan_file, *extra)
        assert code == 1, out + err
        assert "Traceback" not in err and "Internal error" not in err, err
    return err


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000,
                                     '{"a":' * 100_000 + "1" + "}" * 100_000])
def test_a_plan_nested_past_any_plan_is_refused(
    run: Run, saved_plan: tuple[Path, Path], content: str, emulator: Any
) -> None:
    root, plan_file = saved_plan
    plan_file.write_text(content)  # was RecursionError, exit 3
    err = _refused(run, root, plan_file)
    assert "not a saved reconciler plan (nested too deeply)" in err
    assert {c["properties"]["name"] for c in stored(emulator, "companies")} == {"Acme Inc"}


def _add_to_update(name: str, before: str, value: str) -> Callable[[dict[str, Any]], None]:
    def edit(plan: dict[str, Any]) -> None:
        change = plan["changes"][0]
        before_value = change["id"] if before == "<id>" else before
        change["after"][name] = value
        change["changes"].append({"property": name, "before": before_value, "after": value})
    return edit


@pytest.mark.parametrize("edit, written", [
    (_add_to_update("reconciler_key", "alpha-7k2m9q:companies/acme",
                    "beta-0:companies/umbrella"), "reconciler_key"),
    (_add_to_update("reconciler_project", "alpha-7k2m9q", "beta-0"), "reconciler_project"),
    (_add_to_update("hs_object_id", "<id>", "1"), "hs_object_id"),
])
def test_an_update_that_writes_identity_properties_is_refused(
    run: Run, saved_plan: tuple[Path, Path], emulator: Any,
    edit: Callable[[dict[str, Any]], None], written: str,
) -> None:
    # an update never writes them (only a marker rewrite, which writes exactly ours): a
    # plan edited (digest recomputed, the portal's values as "before") to relabel our
    # record as another project's is refused
    root, plan_file = saved_plan
    data = json.loads(plan_file.read_text())
    edit(data)
    data["digest"] = plan_digest(data)
    plan_file.write_text(json.dumps(data))
    err = _refused(run, root, plan_file)
    assert f"the update of companies/acme writes {written}" in err
    (company,) = stored(emulator, "companies")
    assert company["properties"]["name"] == "Acme Inc"
    assert company["properties"]["reconciler_project"] == "alpha-7k2m9q"
