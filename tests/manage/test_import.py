"""`reconciler import`: adopt records that already exist in the portal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import CreateInput, UpdateInput
from tests.manage.conftest import Run, backups, one_line_error, state_of, stored


def seed_acme(hub: HubSpotClient) -> tuple[str, str]:
    """A company and a contact made "by hand in HubSpot", associated, before any apply."""
    (company,) = hub.batch_create(
        "companies", [CreateInput("c1", {"name": "Acme GmbH", "domain": "acme.example",
                                  "hubspot_owner_id": "1001"})]
    ).results
    (contact,) = hub.batch_create(
        "contacts",
        [CreateInput("p1", {"email": "jane@acme.example", "firstname": "Janet", "lastname": "Doe",
                      "hubspot_owner_id": "1001"},
                     (("companies", company.id, "HUBSPOT_DEFINED", 279),))],
    ).results
    return company.id, contact.id


def test_import_then_plan_shows_only_the_differences(
    run: Run, project: Path, hub: HubSpotClient, emulator: Any
) -> None:
    company_id, contact_id = seed_acme(hub)
    code, out, err = run("import", "companies/acme", company_id, "--project", project,
                         "--auto-approve")
    assert code == 0, out + err
    assert f"Imported companies/acme (HubSpot id {company_id})" in out
    assert run("import", "contacts/jane-doe", contact_id, "--project", project,
               "--auto-approve")[0] == 0

    records = state_of(project)["records"]
    assert records["contacts/jane-doe"]["id"] == contact_id
    assert records["contacts/jane-doe"]["properties"]["firstname"] == "Janet"  # as the portal has it
    assert records["contacts/jane-doe"]["associations"] == [
        {"to_type": "companies", "to_id": company_id, "to_key": "acme",
         "category": "HUBSPOT_DEFINED", "type_id": 279}
    ]
    (contact,) = stored(emulator, "contacts")
    assert contact["properties"]["reconciler_key"] == "demo-5k2m9q:contacts/jane-doe"

    code, out, _ = run("plan", "--project", project, "--json")
    changes = {c["address"]: c for c in json.loads(out)["changes"]}
    assert {a: c["action"] for a, c in changes.items()} == {
        "contacts/jane-doe": "update", "meetings/kickoff": "create", "calls/intro-call": "create",
    }
    assert changes["contacts/jane-doe"]["changes"] == [
        {"property": "firstname", "before": "Janet", "after": "Jane"}
    ]
    assert changes["contacts/jane-doe"]["add_associations"] == []

    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    assert len(stored(emulator, "contacts")) == 1 and len(stored(emulator, "companies")) == 1
    assert stored(emulator, "contacts")[0]["properties"]["firstname"] == "Jane"


def test_import_keeps_a_backup_of_the_state(run: Run, project: Path, hub: HubSpotClient) -> None:
    company_id, contact_id = seed_acme(hub)
    assert run("import", "companies/acme", company_id, "--project", project,
               "--auto-approve")[0] == 0
    assert backups(project) == []  # there was no state file to keep
    before = (project / ".reconciler/state/local.json").read_text()
    assert run("import", "contacts/jane-doe", contact_id, "--project", project,
               "--auto-approve")[0] == 0
    (backup,) = backups(project)
    assert backup.read_text() == before


def test_import_all_matching_adopts_by_marker_after_the_state_is_lost(
    run: Run, project: Path, emulator: Any
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    original = state_of(project)["records"]
    (project / ".reconciler/state/local.json").unlink()

    code, out, err = run("import", "--all-matching", "--project", project)
    assert code == 0, out + err
    records = state_of(project)["records"]
    assert {a: r["id"] for a, r in records.items()} == {a: r["id"] for a, r in original.items()}
    # associations the portal has are recorded, relative times pinned as the portal holds them
    assert records["meetings/kickoff"]["associations"] == original["meetings/kickoff"]["associations"]
    assert records["meetings/kickoff"]["pinned"] == original["meetings/kickoff"]["pinned"]

    code, out, _ = run("plan", "--project", project)
    assert "No changes." in out, out
    code, out, _ = run("import", "--all-matching", "--project", project)
    assert code == 0 and "Nothing to import" in out
    assert len(stored(emulator, "meetings")) == 1


def test_import_all_matching_on_a_fresh_portal_finds_nothing(run: Run, project: Path) -> None:
    code, out, err = run("import", "--all-matching", "--project", project)
    assert code == 0, err
    assert "Nothing to import" in out
    assert not (project / ".reconciler/state/local.json").exists()


def test_import_refusals_are_one_line_errors(run: Run, project: Path, hub: HubSpotClient) -> None:
    company_id, contact_id = seed_acme(hub)
    line = one_line_error(*run("import", "companies/acme-corp", company_id, "--project", project,
                               "--auto-approve"))
    assert "companies/acme-corp is not in the spec; did you mean 'companies/acme'?" in line

    line = one_line_error(*run("import", "companies/acme", "999999", "--project", project,
                               "--auto-approve"))
    assert "companies 999999 does not exist in the portal" in line

    line = one_line_error(*run("import", "acme", company_id, "--project", project,
                               "--auto-approve"))
    assert "'acme' is not an address" in line

    line = one_line_error(*run("import", "companies/acme", "abc", "--project", project,
                               "--auto-approve"))
    assert "not a HubSpot record id" in line

    line = one_line_error(*run("import", "companies/acme", "--project", project))
    assert "import needs ADDRESS and HUBSPOT-ID" in line

    assert run("import", "companies/acme", company_id, "--project", project,
               "--auto-approve")[0] == 0
    line = one_line_error(*run("import", "companies/acme", company_id, "--project", project,
                               "--auto-approve"))
    assert "companies/acme is already managed" in line

    hub.batch_archive("contacts", [contact_id])
    line = one_line_error(*run("import", "contacts/jane-doe", contact_id, "--project", project,
                               "--auto-approve"))
    assert f"contacts {contact_id} is archived in the portal" in line


def test_import_refuses_a_record_of_another_projects_id(
    run: Run, project: Path, hub: HubSpotClient, emulator: Any
) -> None:
    """A record carrying another project's id marker is that project's: never imported
    (its markers would be taken from under it); one marked the first release's way (a key,
    no project id) is imported by its id, on purpose."""
    from reconciler.identity.marker_writes import ensure_markers

    company_id, contact_id = seed_acme(hub)
    ensure_markers(hub, ["companies", "contacts"])
    theirs = {"reconciler_key": "beta-77:companies/acme-eu", "reconciler_project": "beta-77"}
    assert not hub.batch_update("companies", [UpdateInput(company_id, theirs)]).errors
    line = one_line_error(*run("import", "companies/acme", company_id, "--project", project,
                               "--auto-approve"))
    assert (f"companies {company_id} carries reconciler_project beta-77 (reconciler_key "
            "beta-77:companies/acme-eu): it is the record of the project with id beta-77"
            in line), line
    assert (f"To take it on purpose: `reconciler import companies/acme {company_id} "
            "--from-project beta-77`" in line), line
    assert "`reconciler state rm companies/acme-eu` in that project" in line, line
    line = one_line_error(*run("import", "companies/acme", company_id, "--project", project,
                               "--from-project", "gamma-12", "--auto-approve"))
    assert "carries reconciler_project beta-77" in line, line
    (company,) = stored(emulator, "companies")
    assert {k: company["properties"][k] for k in theirs} == theirs
    assert not (project / ".reconciler/state/local.json").exists()
    code, out, err = run("import", "companies/acme", company_id, "--project", project,
                         "--from-project", "beta-77", "--auto-approve")
    assert code == 0, out + err
    (company,) = stored(emulator, "companies")
    assert company["properties"]["reconciler_project"] == "demo-5k2m9q"

    first_release = {"reconciler_key": "demo:contacts/jane-doe"}
    assert not hub.batch_update("contacts", [UpdateInput(contact_id, first_release)]).errors
    code, out, err = run("import", "contacts/jane-doe", contact_id, "--project", project,
                         "--auto-approve")
    assert code == 0, out + err
    (contact,) = stored(emulator, "contacts")
    assert contact["properties"]["reconciler_project"] == "demo-5k2m9q"


def test_another_project_of_the_same_name_is_never_adopted(
    run: Run, project: Path, tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two folders called demo: their ids differ, so their markers never meet."""
    # no search lag here: the stateless apply need not wait it out before creating
    monkeypatch.setenv("RECONCILER_RECOVERY_GRACE_SECONDS", "0")
    other = tmp_path / "elsewhere" / "proj"
    other.mkdir(parents=True)
    for item in project.iterdir():
        if item.is_file():
            (other / item.name).write_text(item.read_text())
    (other / "reconciler.yaml").write_text(
        (project / "reconciler.yaml").read_text().replace("demo-5k2m9q", "demo-0th3r1")
    )
    accounts = other / "accounts.yaml"  # HubSpot dedupes contacts by email
    accounts.write_text(accounts.read_text().replace("jane@acme.example", "jane@other.example"))
    assert run("apply", "--project", other, "--auto-approve")[0] == 0
    theirs = {r["id"] for t in ("companies", "contacts") for r in stored(emulator, t)}

    code, out, err = run("import", "--all-matching", "--project", project)
    assert code == 0 and "Nothing to import" in out, out + err
    code, out, err = run("state", "rebuild", "--project", project)
    assert code == 0, out + err
    assert state_of(project)["records"] == {}
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert {r["id"] for t in ("companies", "contacts") for r in stored(emulator, t)} > theirs
    assert len(stored(emulator, "companies")) == 2  # one each: nothing shared


def test_rebuild_leaves_first_release_markers_to_the_state_that_maps_them(
    run: Run, project: Path, hub: HubSpotClient, emulator: Any
) -> None:
    """Markers of the first release (`<name>:<address>`, no reconciler_project) say nothing
    about whose a record is: rebuild never takes them, and says which records the previous
    state mapped; restored, that first-release state migrates them explicitly."""
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    for object_type in ("companies", "contacts", "meetings", "calls"):
        for record in stored(emulator, object_type):
            address = record["properties"]["reconciler_key"].split(":", 1)[1]
            outcome = hub.batch_update(object_type, [UpdateInput(str(record["id"]), {
                "reconciler_key": f"Demo:{address}", "reconciler_project": ""})])
            assert not outcome.errors
    path = project / ".reconciler/state/local.json"
    data = state_of(project)
    del data["project_id"]  # the state the first release wrote
    path.write_text(json.dumps(data))
    ids = {a: r["id"] for a, r in data["records"].items()}

    code, out, err = run("state", "rebuild", "--project", project)
    assert code == 0, out + err
    assert state_of(project)["records"] == {}
    assert "Warning: 4 record(s) the previous state mapped carry no marker of this " \
           "project's id and were not taken: calls/intro-call (id " in err, err
    assert "restore it from the backup" in err
    (backup,) = backups(project)

    path.write_bytes(backup.read_bytes())
    code, out, _ = run("plan", "--project", project)
    assert "4 marker rewrites" in out, out
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    (contact,) = stored(emulator, "contacts")
    assert contact["properties"]["reconciler_key"] == "demo-5k2m9q:contacts/jane-doe"
    assert contact["properties"]["reconciler_project"] == "demo-5k2m9q"
    assert "No changes." in run("plan", "--project", project)[1]
    # migrated: now a rebuild finds every one of them
    path.unlink()
    assert run("state", "rebuild", "--project", project)[0] == 0
    assert {a: r["id"] for a, r in state_of(project)["records"].items()} == ids
