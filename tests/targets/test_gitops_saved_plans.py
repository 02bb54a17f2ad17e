"""``apply --plan`` applies a saved plan only while it still holds: the state it names (its
lineage and serial), and the portal where it touches it (every record it names by id still
there, holding the values the plan's before-values show; nothing it creates made since).
Otherwise it is refused whole, with one line per change, and nothing is sent. This is what
lets the GitOps workflow apply on merge exactly the plan a pull request showed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Run, stored, write_project

PROJECT = """\
    name: held
    id: held-0001
"""
SPEC = """\
    companies:
      acme:
        name: Acme GmbH
        city: Berlin
    contacts:
      jane:
        email: jane@acme.example
        first_name: Jane
        associations:
          - company: acme
    meetings:
      kickoff:
        title: Kickoff
        start: 2030-01-07T10:00:00Z
        duration: 30m
        associations:
          - contact: jane
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "held", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC})


def _edit(project: Path, old: str, new: str) -> None:
    path = project / "spec.yaml"
    path.write_text(path.read_text().replace(old, new))


def _hubspot(emulator: Any, method: str, path: str, **body: Any) -> None:
    """Someone at work in HubSpot (not through the reconciler)."""
    response = httpx.request(method, f"{emulator.base_url}{path}", json=body or None,
                             headers={"Authorization": f"Bearer {emulator.token}"})
    assert response.status_code < 300, response.text


def _one(emulator: Any, object_type: str) -> dict[str, Any]:
    (record,) = stored(emulator, object_type)
    return record


def _writes(emulator: Any) -> list[str]:
    """Requests since the log was cleared that may change the portal."""
    return [f"{r['method']} {r['path']}" for r in emulator.requests()
            if r["method"] != "GET" and not r["path"].endswith(("/search", "/batch/read"))]


def _planned(run: Run, project: Path, out: Path, *extra: str) -> None:
    code, output, err = run("plan", "--project", project, "--out", out, *extra)
    assert code == 0, output + err


def test_a_saved_plan_whose_record_changed_in_the_portal_is_refused_and_nothing_is_sent(
    run: Run, project: Path, emulator: Any, tmp_path: Path
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    _edit(project, "city: Berlin", "city: Hamburg")
    plan = tmp_path / "plan.json"
    _planned(run, project, plan)
    company = _one(emulator, "companies")
    _hubspot(emulator, "PATCH", f"/crm/v3/objects/companies/{company['id']}",
             properties={"city": "Bonn"})
    emulator.clear_requests()

    for check in (["--check"], []):
        code, out, err = run("apply", "--project", project, "--plan", plan, *check)
        assert code == 1, out + err
        assert err.strip().splitlines() == [
            f"Error: {plan} no longer holds: the portal changed where the plan touches it "
            "since it was made, so nothing was applied: companies/acme: city is 'Bonn' now, "
            "the plan saw 'Berlin'. Make a new plan with `reconciler plan --out FILE` (and "
            "have it reviewed)"
        ]
    assert _writes(emulator) == []
    assert _one(emulator, "companies")["properties"]["city"] == "Bonn"

    _planned(run, project, plan)  # a new plan sees Bonn, and holds
    assert run("apply", "--project", project, "--plan", plan)[0] == 0
    assert _one(emulator, "companies")["properties"]["city"] == "Hamburg"


def test_a_saved_plan_whose_record_was_archived_in_the_portal_is_refused(
    run: Run, project: Path, emulator: Any, tmp_path: Path
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    _edit(project, "first_name: Jane", "first_name: Janet")
    plan = tmp_path / "plan.json"
    _planned(run, project, plan)
    contact = _one(emulator, "contacts")
    _hubspot(emulator, "DELETE", f"/crm/v3/objects/contacts/{contact['id']}")
    code, out, err = run("apply", "--project", project, "--plan", plan)
    assert code == 1 and f"contacts/jane (contacts {contact['id']}) is gone from the portal" in err


def test_a_saved_plan_whose_create_was_made_since_is_refused_not_duplicated(
    run: Run, project: Path, emulator: Any, tmp_path: Path
) -> None:
    """The state a pull request's plan was made from travels with it; an apply made in
    between (another merge, a re-run) is not in it, but the portal knows."""
    plan, reviewed_state = tmp_path / "plan.json", tmp_path / "reviewed-state.json"
    _planned(run, project, plan, "--state", reviewed_state)
    assert run("apply", "--project", project, "--auto-approve")[0] == 0  # not that plan
    ids = {t: _one(emulator, t)["id"] for t in ("companies", "contacts", "meetings")}
    emulator.clear_requests()
    code, out, err = run("apply", "--project", project, "--plan", plan,
                         "--state", reviewed_state)
    assert code == 1, out + err
    for address, object_type in (("companies/acme", "companies"), ("contacts/jane", "contacts"),
                                 ("meetings/kickoff", "meetings")):
        assert f"{address} was created since (id {ids[object_type]})" in err
    assert _writes(emulator) == []
    assert {t: len(stored(emulator, t)) for t in ids} == {t: 1 for t in ids}


def test_a_saved_plan_that_holds_is_checked_without_a_write_then_applied(
    run: Run, project: Path, emulator: Any, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    _planned(run, project, plan)
    code, out, err = run("apply", "--project", project, "--plan", plan, "--check")
    assert code == 0, out + err
    held, estimate = out.strip().splitlines()
    assert held == (f"{plan} still holds for local: the state it was made from, and "
                    "the portal where its 3 changes touch it, are as the plan saw them. "
                    "Nothing was applied.")
    assert estimate.startswith("Apply will take about "), out  # (applying it now)
    assert stored(emulator, "companies") == []
    code, out, err = run("apply", "--project", project, "--plan", plan)
    assert code == 0 and "3 created" in out, out + err


def test_check_needs_a_saved_plan(run: Run, project: Path) -> None:
    code, out, err = run("apply", "--project", project, "--check", "--auto-approve")
    assert code == 1 and err.strip().splitlines()[-1] == (
        "Error: --check checks a saved plan; give it with --plan FILE")


def test_an_offline_plan_is_not_held_to_values_it_never_saw(
    run: Run, project: Path, emulator: Any, tmp_path: Path
) -> None:
    """An offline plan compares the spec with the state, not with the portal: only that
    its records are still there is checked."""
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    company = _one(emulator, "companies")
    _hubspot(emulator, "PATCH", f"/crm/v3/objects/companies/{company['id']}",
             properties={"city": "Bonn"})
    _edit(project, "city: Berlin", "city: Hamburg")
    plan = tmp_path / "plan.json"
    _planned(run, project, plan, "--offline")
    assert run("apply", "--project", project, "--plan", plan)[0] == 0
    assert _one(emulator, "companies")["properties"]["city"] == "Hamburg"


def test_a_state_rebuilt_after_a_moved_key_plans_only_the_move(
    run: Run, project: Path, emulator: Any
) -> None:
    """CI rebuilds its state on every run: the record a `moved:` entry moves is found at
    its old address, and its properties are read as those of its new one, so the pull
    request's plan (and the plan applied on merge) is the move alone, not a rewrite of
    every property from empty."""
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    _edit(project, "jane:", "jane-doe:")
    (project / "spec.yaml").write_text((project / "spec.yaml").read_text().replace(
        "contact: jane\n", "contact: jane-doe\n") + "moved:\n  - {from: contacts/jane, "
        "to: contacts/jane-doe}\n")
    for state in (project / ".reconciler" / "state").glob("local.json*"):
        state.unlink()
    assert run("state", "rebuild", "--project", project)[0] == 0
    code, out, err = run("plan", "--project", project, "--json")
    assert code == 0, err
    changes = [(c["action"], c["address"]) for c in json.loads(out)["changes"]]
    assert changes == [("move", "contacts/jane-doe")]
