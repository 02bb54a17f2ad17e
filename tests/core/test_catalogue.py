"""plan checks the spec against the portal's property catalogue: through the real CLI,
over real HTTP, against the emulator. Every refusal is one located line, exit 1, and
nothing is written to the portal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Run, stored, write_project

PROJECT = "name: demo\n"


def _project(tmp_path: Path, spec: str, project: str = PROJECT) -> Path:
    return write_project(tmp_path / "proj", {"reconciler.yaml": project, "spec.yaml": spec})


def _plan_fails(run: Run, project: Path, emulator: Any, *args: str) -> list[str]:
    """``plan`` exits 1 having written nothing; return its problem lines, with the project
    folder written as ``P``."""
    before = _records(emulator)
    emulator.clear_requests()
    code, out, err = run("plan", "--project", project, *args)
    assert code == 1, out + err
    assert err.splitlines()[-1].startswith("Error: "), err
    _nothing_written(emulator, before)
    return [line.replace(str(project), "P") for line in err.splitlines()[:-1]]


def _records(emulator: Any) -> dict[str, int]:
    types = ("contacts", "companies", "deals", "meetings", "calls")
    return {object_type: len(stored(emulator, object_type)) for object_type in types}


def _nothing_written(emulator: Any, before: dict[str, int]) -> None:
    """No write request since the last ``clear_requests``, and no record more or less."""
    writes = [
        f"{r['method']} {r['path']}" for r in emulator.requests()
        if r["method"] != "GET" and not r["path"].endswith("/batch/read")
    ]
    assert writes == []
    assert _records(emulator) == before


def _api(emulator: Any) -> httpx.Client:
    return httpx.Client(
        base_url=emulator.base_url, headers={"Authorization": f"Bearer {emulator.token}"}
    )


def _requests(emulator: Any, method: str, part: str) -> list[str]:
    return [r["path"] for r in emulator.requests() if r["method"] == method and part in r["path"]]


# ---- one check each -------------------------------------------------------------------------


def test_unknown_property_suggests_the_portals_name(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
            properties:
              hs_prioritee: high
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:5:7: deals.big.properties.hs_prioritee: property 'hs_prioritee' does not "
        "exist for deals in this portal; did you mean 'hs_priority'?",
    ]


def test_an_option_label_names_its_internal_value(run: Run, tmp_path: Path, emulator: Any) -> None:
    # Needs the emulator's built-in deal stages with HubSpot's labels ("Closed Won").
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
            stage: closed won
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:4:12: deals.big.stage: 'closed won' is the label of the dealstage option "
        "'closedwon'; write closedwon",
    ]


def test_an_option_that_does_not_exist_lists_the_options(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
            properties:
              dealtype: brandnew
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:5:17: deals.big.properties.dealtype: 'brandnew' is not an option of "
        "dealtype; use one of: newbusiness, existingbusiness",
    ]


def test_an_option_in_the_wrong_case_gets_a_suggestion(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
            stage: ClosedWon
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:4:12: deals.big.stage: 'ClosedWon' is not an option of dealstage; "
        "did you mean 'closedwon'?",
    ]


def test_a_number_with_thousands_separators(run: Run, tmp_path: Path, emulator: Any) -> None:
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
            amount: "1,000"
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:4:13: deals.big.amount: amount must be a number, not '1,000'; write 1000",
    ]


def test_a_boolean_date_and_datetime_in_the_wrong_format(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(tmp_path, """\
        contacts:
          jane:
            email: jane@example.com
            properties:
              date_of_birth: 01/02/1990
        calls:
          intro:
            title: Intro
            timestamp: 2026-11-20T15:00:00Z
            properties:
              hs_call_has_voicemail: maybe
        deals:
          big:
            name: Big deal
            properties:
              closedate: 31.12.2026
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:5:22: contacts.jane.properties.date_of_birth: date_of_birth must be a "
        "date (YYYY-MM-DD), not '01/02/1990'",
        "P/spec.yaml:11:30: calls.intro.properties.hs_call_has_voicemail: hs_call_has_voicemail "
        "must be true or false, not 'maybe'",
        "P/spec.yaml:16:18: deals.big.properties.closedate: closedate must be a date and time "
        "(ISO 8601, like 2026-12-01T10:00:00Z), not '31.12.2026'",
    ]


def test_good_values_of_every_kind_pass(run: Run, tmp_path: Path, emulator: Any) -> None:
    project = _project(tmp_path, """\
        contacts:
          jane:
            email: jane@example.com
            owner: 1002
            properties:
              date_of_birth: 1990-01-02
              lifecyclestage: lead
        calls:
          intro:
            title: Intro
            timestamp: 2026-11-20T15:00:00Z
            direction: outbound
            properties:
              hs_call_has_voicemail: "TRUE"
        deals:
          big:
            name: Big deal
            stage: closedwon
            amount: 1500.50
            close_date: 2026-12-31
            properties:
              dealtype: newbusiness
          small:
            name: Small deal
            properties:
              closedate: "1767139200000"
        """)
    code, out, err = run("plan", "--project", project)
    assert code == 0, out + err
    assert "Plan: 4 to create" in out


def test_read_only_properties(run: Run, tmp_path: Path, emulator: Any) -> None:
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
            properties:
              createdate: 2026-01-01T00:00:00Z
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:5:19: deals.big.properties.createdate: createdate is read-only "
        "(HubSpot sets it); remove it",
    ]


def test_owner_ids_and_emails_that_do_not_exist(run: Run, tmp_path: Path, emulator: Any) -> None:
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
            owner: 9999
          small:
            name: Small deal
            owner: nobody@example.com
          fine:
            name: Fine deal
            owner: 1001
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:4:12: deals.big.owner: 9999 is not an owner id in this portal; use an "
        "owner's id or email",
        "P/spec.yaml:7:12: deals.small.owner: nobody@example.com is not an owner in this "
        "portal; use an owner's email or id",
    ]
    # one owners read, for the email and the ids alike (9999 is not an id an email resolved
    # to), and, since some owner did not resolve, one read of the deactivated owners
    reads = [r["query"] for r in emulator.requests() if r["path"].endswith("/owners")]
    assert sorted("archived=true" in query for query in reads) == [False, True]


def test_an_inherited_default_owner_points_at_reconciler_yaml(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(
        tmp_path,
        """\
        deals:
          big:
            name: Big deal
          small:
            name: Small deal
        """,
        project="name: demo\ndefault_owner: 4242\n",
    )
    assert _plan_fails(run, project, emulator) == [
        "P/reconciler.yaml:2:16: default_owner: 4242 is not an owner id in this portal; use "
        "an owner's id or email",
    ]


def test_an_owner_id_an_email_resolved_to_needs_no_second_owners_read(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(
        tmp_path,
        """\
        deals:
          big:
            name: Big deal
            owner: 1001
          small:
            name: Small deal
        """,
        project="name: demo\ndefault_owner: alice@example.com\n",
    )
    code, out, err = run("plan", "--project", project)
    assert code == 0, out + err
    assert len(_requests(emulator, "GET", "/owners")) == 1


def test_association_labels_that_do_not_exist(run: Run, tmp_path: Path, emulator: Any) -> None:
    with _api(emulator) as api:
        api.post(
            "/crm/associations/v4/deals/contacts/labels",
            json={"name": "decision_maker", "label": "Decision maker"},
        ).raise_for_status()
    project = _project(tmp_path, """\
        contacts:
          jane:
            email: jane@example.com
        deals:
          big:
            name: Big deal
            associations:
              - contact: jane
                label: decision maker
              - contact: jane
                label: Decision makr
          small:
            name: Small deal
            associations:
              - contact: jane
                label: Champion
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:11:16: deals.big.associations[1].label: association label 'Decision makr' "
        "does not exist for deals → contacts in this portal; did you mean 'Decision maker'?",
        "P/spec.yaml:16:16: deals.small.associations[0].label: association label 'Champion' "
        "does not exist for deals → contacts in this portal; defined: Decision maker",
    ]
    assert len(_requests(emulator, "GET", "/labels")) == 1  # one read per pair using labels


def test_a_label_the_portal_made_is_sent_as_user_defined_and_stays_applied(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    """A label made in HubSpot (not in ``schema:``) is USER_DEFINED there: HubSpot refuses
    its type id under HUBSPOT_DEFINED, which a label named by its text used to be sent as."""
    with _api(emulator) as api:
        api.post(
            "/crm/associations/v4/deals/contacts/labels",
            json={"name": "decision_maker", "label": "Decision maker"},
        ).raise_for_status()
    project = _project(tmp_path, """\
        contacts:
          jane:
            email: jane@example.com
          joe:
            email: joe@example.com
        deals:
          big:
            name: Big deal
            associations:
              - contact: jane
                label: Decision maker
        """)
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    spec = project / "spec.yaml"  # an update moves it: removed, then added
    spec.write_text(spec.read_text().replace("- contact: jane", "- contact: joe"))
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    code, out, err = run("plan", "--project", project)
    assert code == 0 and "No changes." in out, out + err
    with _api(emulator) as api:
        (deal,) = api.get("/crm/v3/objects/deals").json()["results"]
        held = api.get(f"/crm/v4/objects/deals/{deal['id']}/associations/contacts").json()
    types = [(t["category"], t["label"]) for r in held["results"] for t in r["associationTypes"]]
    assert ("USER_DEFINED", "Decision maker") in types, held
    assert len(held["results"]) == 1, held  # joe only: jane's was removed


def test_a_label_named_by_its_text_is_found_again_when_the_state_is_lost(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    """`state rebuild` reads the portal's label ids, so an association made by a label's text
    is recorded again and the next plan has nothing to add (it planned it again)."""
    with _api(emulator) as api:
        api.post("/crm/associations/v4/deals/contacts/labels",
                 json={"name": "decision_maker", "label": "Decision maker"}).raise_for_status()
    project = _project(tmp_path, """\
        contacts:
          jane:
            email: jane@example.com
        deals:
          big:
            name: Big deal
            associations:
              - contact: jane
                label: Decision maker
        """, project="name: Demo-Caps\nid: demo-caps-1\n")
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    shutil.rmtree(project / ".reconciler" / "state")
    code, out, err = run("state", "rebuild", "--project", project)
    assert code == 0, out + err
    code, out, err = run("plan", "--project", project)
    assert code == 0 and "No changes." in out, out + err


def test_existing_id_associations_whose_record_does_not_exist(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    with _api(emulator) as api:
        response = api.post("/crm/v3/objects/companies", json={"properties": {"name": "Acme"}})
        response.raise_for_status()
        acme = response.json()["id"]
    project = _project(tmp_path, f"""\
        contacts:
          jane:
            email: jane@example.com
            associations:
              - company: {{id: "{acme}"}}
          john:
            email: john@example.com
            associations:
              - company: {{id: "999999"}}
              - object: companies
                id: "888888"
        """)
    lines = _plan_fails(run, project, emulator)
    assert lines == [
        "P/spec.yaml:9:18: contacts.john.associations[0].company: no companies record has the "
        "id 999999 in this portal (deleted, archived, or a typo?)",
        "P/spec.yaml:11:13: contacts.john.associations[1].id: no companies record has the id "
        "888888 in this portal (deleted, archived, or a typo?)",
    ]
    assert len(_requests(emulator, "POST", "/companies/batch/read")) == 1  # one for three ids


def test_an_object_type_the_portal_does_not_have(run: Run, tmp_path: Path, emulator: Any) -> None:
    project = _project(tmp_path, """\
        objects:
          gadgets:
            one:
              properties:
                name: One
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:3:5: objects.gadgets.one: object type 'gadgets' does not exist in this portal",
    ]


# ---- together, cheaply, and in apply --------------------------------------------------------

PROBLEMS = """\
deals:
  big:
    name: Big deal
    stage: closedwon
    amount: "1,000"
    properties:
      dealtype: brandnew
      hs_prioritee: high
"""


def test_every_problem_is_reported_at_once_with_one_read_per_type(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(tmp_path, PROBLEMS + """\
contacts:
  jane:
    email: jane@example.com
    properties:
      lifecyclestage: customer
""")
    lines = _plan_fails(run, project, emulator)
    assert [line.split(": ", 2)[1] for line in lines] == [
        "deals.big.amount", "deals.big.properties.dealtype", "deals.big.properties.hs_prioritee",
    ]
    assert sorted(_requests(emulator, "GET", "/properties/")) == [
        "/crm/v3/properties/contacts", "/crm/v3/properties/deals",
    ]
    assert _requests(emulator, "GET", "/owners") == []  # no owner in the spec: not read


def test_apply_refuses_before_writing_anything(run: Run, tmp_path: Path, emulator: Any) -> None:
    project = _project(tmp_path, PROBLEMS)
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 1, out + err
    assert "amount must be a number, not '1,000'; write 1000" in err
    assert "Error: 3 problems found in the spec" in err
    _nothing_written(emulator, dict.fromkeys(_records(emulator), 0))
    assert not (project / ".reconciler/state/local.json").exists()


def test_the_markers_the_tool_writes_are_not_checked(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
        """)
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    code, out, err = run("plan", "--project", project)
    assert code == 0 and "No changes." in out, out + err


# ---- the cache, and plan --offline ----------------------------------------------------------


def _cache(project: Path) -> Path:
    return project / ".reconciler/catalogue/local.json"


def test_offline_plan_uses_the_cached_catalogue(run: Run, tmp_path: Path, emulator: Any) -> None:
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
            stage: closedwon
        """)
    code, out, err = run("plan", "--project", project)
    assert code == 0, out + err
    cached = json.loads(_cache(project).read_text())
    assert "deals" in cached["catalogue"]["properties"]
    assert not list(_cache(project).parent.glob(".tmp-*"))

    spec = project / "spec.yaml"
    spec.write_text(spec.read_text().replace("closedwon", "closed won"))
    emulator.clear_requests()
    code, out, err = run("plan", "--project", project, "--offline")
    assert code == 1
    assert err.splitlines()[0] == (
        f"{project}/spec.yaml:4:12: deals.big.stage: 'closed won' is the label of the "
        "dealstage option 'closedwon'; write closedwon"
    )
    assert emulator.requests() == []  # offline: not one request


def test_offline_plan_without_a_cache_checks_nothing_and_says_nothing(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(tmp_path, PROBLEMS)
    code, out, err = run("plan", "--project", project, "--offline")
    assert code == 0, out + err
    assert err == ""
    assert "Plan: 1 to create" in out
    assert not _cache(project).exists()


@pytest.mark.parametrize("damage", ["", "{not json", '{"format": 1, "catalogue": []}', "[]"])
def test_a_damaged_cache_costs_speed_only(
    run: Run, tmp_path: Path, emulator: Any, damage: str
) -> None:
    project = _project(tmp_path, PROBLEMS)
    _cache(project).parent.mkdir(parents=True)
    _cache(project).write_text(damage)
    code, out, err = run("plan", "--project", project, "--offline")
    assert (code, err) == (0, ""), out + err
    # a plan against the portal re-reads the catalogue and writes a good cache
    assert len(_plan_fails(run, project, emulator)) == 3
    assert "deals" in json.loads(_cache(project).read_text())["catalogue"]["properties"]
    code, _out, err = run("plan", "--project", project, "--offline")
    assert code == 1 and "hs_prioritee" in err


def test_a_cache_made_against_another_server_is_not_used(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(tmp_path, PROBLEMS)
    assert run("plan", "--project", project)[0] == 1
    data = json.loads(_cache(project).read_text())
    data["target"]["base_url"] = "http://127.0.0.1:1"
    _cache(project).write_text(json.dumps(data))
    code, out, err = run("plan", "--project", project, "--offline")
    assert (code, err) == (0, ""), out + err


def test_the_date_versioned_api_reads_the_same_catalogue(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(
        tmp_path, PROBLEMS, project='name: demo\ntargets:\n  local:\n    api_version: "2026-03"\n'
    )
    assert len(_plan_fails(run, project, emulator)) == 3
    assert _requests(emulator, "GET", "/properties/") == ["/crm/properties/2026-03/deals"]


def test_a_property_created_since_the_cache_is_found_by_the_next_plan(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = _project(tmp_path, """\
        deals:
          big:
            name: Big deal
        """)
    assert run("plan", "--project", project)[0] == 0
    with _api(emulator) as api:
        api.post("/crm/v3/properties/deals", json={
            "name": "tier", "label": "Tier", "type": "string", "fieldType": "text",
            "groupName": "dealinformation",
        }).raise_for_status()
    spec = project / "spec.yaml"
    spec.write_text(spec.read_text() + "    properties:\n      tier: gold\n")
    code, _out, err = run("plan", "--project", project, "--offline")
    assert code == 1 and "property 'tier' does not exist for deals" in err  # the cache is old
    code, out, err = run("plan", "--project", project)
    assert code == 0, out + err
    code, out, err = run("plan", "--project", project, "--offline")
    assert code == 0, out + err
