"""A hostile spec against the schema step, through the CLI and the emulator (H3): what
``schema.removed`` names that is not the spec's to delete is refused, located, with nothing
sent; what the portal does not have is nothing to do, never a search HubSpot refuses."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.emulator.embedded import Emulator
from reconciler.state.plan_document import plan_digest
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


_HAND_MADE = """\
schema:
  pipelines:
    deals:
      theirs:
        label: EMEA Sales
        stages:
          one: {label: Discovery, probability: 0.2}
  labels:
    theirs: {between: contacts/companies, label: Champion}
"""


def test_a_saved_plan_whose_schema_was_made_since_no_longer_holds(
    run: Run, project: Path, emulator: Emulator, tmp_path: Path
) -> None:
    # (--check said "still holds"; apply then failed half-way on HubSpot's 409 for the
    # pipeline, having sent the rest)
    saved = tmp_path / "plan.json"
    assert run("plan", "--project", project, "--out", saved)[0] == 0
    other = write_project(tmp_path / "other", {
        "reconciler.yaml": "name: other\nid: other-1\n", "spec.yaml": _HAND_MADE})
    assert run("apply", "--project", other, "--auto-approve")[0] == 0
    emulator.clear_requests()
    for extra in (("--check",), ("--auto-approve",)):
        code, out, err = run("apply", "--project", project, "--plan", saved, *extra)
        assert code == 1, out + err
        assert "no longer holds" in err and "pipeline deals/emea was created since (id" in err
        assert "label champion was created since (type id" in err
        assert "Traceback" not in err
    assert _writes(emulator) == []


def test_a_saved_plan_with_forged_schema_changes_is_refused(
    run: Run, project: Path, emulator: Emulator, tmp_path: Path
) -> None:
    # (a forged plan, digest recomputed, made group 'hacked' and archived another team's
    # property their_prop)
    other = write_project(tmp_path / "other", {
        "reconciler.yaml": "name: other\nid: other-team-1\n",
        "spec.yaml": "schema:\n  properties:\n    companies:\n"
                     "      their_prop: {label: Theirs, type: string}\n"})
    assert run("apply", "--project", other, "--auto-approve")[0] == 0
    saved = tmp_path / "plan.json"
    assert run("plan", "--project", project, "--out", saved)[0] == 0
    document = json.loads(saved.read_text())
    group = next(c for c in document["schema_changes"] if c["kind"] == "group")
    group["body"]["name"] = "hacked"
    document["schema_changes"].append({
        "action": "archive", "kind": "property", "type": "companies", "key": "their_prop",
        "address": "companies/their_prop", "reason": "listed in schema.removed", "id": None,
        "changes": [], "body": {}})
    document["digest"] = plan_digest(document)
    saved.write_text(json.dumps(document))
    emulator.clear_requests()
    code, out, err = run("apply", "--project", project, "--plan", saved, "--auto-approve")
    assert code == 1, out + err
    assert err.startswith(
        f"Error: {saved} does not follow from the spec, so nothing was applied: the create of "
        "group companies/demo_info sends name other than the spec declares, the archive of "
        "property companies/their_prop, which schema.removed does not name.")
    assert _writes(emulator) == []


def test_a_label_between_a_type_hubspot_does_not_know_is_located(
    run: Run, tmp_path: Path
) -> None:
    # (plan ended on "HubSpot answered 400 ... Unable to infer object type", no location)
    project = write_project(tmp_path / "proj", {
        "reconciler.yaml": PROJECT,
        "spec.yaml": "schema:\n  labels:\n    odd: {between: deals/unknowntype, label: Odd}\n"})
    code, out, err = run("plan", "--project", project)
    assert code == 1, out + err
    assert err.splitlines()[0] == (
        f"{project / 'spec.yaml'}:3:5: schema.labels.odd: HubSpot has no association labels "
        "between deals and unknowntype in this portal (Unable to infer object type from: "
        "unknowntype); check the types in between:")


def test_properties_of_a_type_hubspot_does_not_know_are_located_at_plan(
    run: Run, tmp_path: Path, emulator: Emulator
) -> None:
    # (plan passed; apply sent both and failed on HubSpot's 400)
    project = write_project(tmp_path / "proj", {
        "reconciler.yaml": PROJECT,
        "spec.yaml": "schema:\n  groups:\n    widgets:\n      g: {label: G}\n"
                     "  properties:\n    widgets:\n      x: {label: X, type: string}\n"})
    emulator.clear_requests()
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 1, out + err
    assert [line.split(": HubSpot")[0] for line in err.splitlines()[:2]] == [
        f"{project / 'spec.yaml'}:4:7: schema.groups.widgets.g",
        f"{project / 'spec.yaml'}:7:7: schema.properties.widgets.x"]
    assert "does not know the object type widgets" in err and _writes(emulator) == []


def test_hubspots_own_group_declared_in_the_spec_is_refused(
    run: Run, tmp_path: Path, emulator: Emulator
) -> None:
    # (planned "~ group companies.companyinformation label: 'Company information' →
    # 'Hacked info'": HubSpot's own group renamed)
    project = write_project(tmp_path / "proj", {
        "reconciler.yaml": PROJECT,
        "spec.yaml": "schema:\n  groups:\n    companies:\n"
                     "      companyinformation: {label: Hacked info}\n"})
    emulator.clear_requests()
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 1, out + err
    assert err.splitlines()[0] == (
        f"{project / 'spec.yaml'}:4:7: schema.groups.companies.companyinformation: "
        "companyinformation is HubSpot's own group (it holds HubSpot's properties); the spec "
        "declares only its own: name it as a property's group: alone")
    assert _writes(emulator) == []


def test_a_stage_or_pipeline_label_never_gets_a_placeholder_as_advice(
    run: Run, tmp_path: Path
) -> None:
    # (said "write <stage deals/emea/discovery>": a placeholder is no value to write)
    project = write_project(tmp_path / "proj", {
        "reconciler.yaml": PROJECT,
        "spec.yaml": "schema:\n  pipelines:\n    deals:\n      emea:\n        label: EMEA Sales\n"
                     "        stages:\n          discovery: {label: Discovery, probability: 0.2}\n"
                     "deals:\n  b: {name: B, pipeline: EMEA Sales, stage: discovery}\n"})
    code, out, err = run("plan", "--project", project)
    assert code == 1, out + err
    assert [line.split(": ", 2)[2] for line in err.splitlines()[:2]] == [
        "'EMEA Sales' is the label of pipeline emea; write its key, emea",
        "'discovery' is a stage of pipeline emea in the spec, not of this record's pipeline; "
        "name that pipeline too (emea)"]
