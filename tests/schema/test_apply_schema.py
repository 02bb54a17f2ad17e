"""The schema section applied over real HTTP to the emulator: an empty portal gets the
property, the second deal pipeline and the label, then the same spec plans nothing; a
second portal gets its own ids; a lost state finds them again by label; a pipeline made by
hand is adopted; a saved plan applies the schema it shows; an option added keeps the ones
the portal has."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.base import main
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from reconciler.hubspot.client import PropertyChanges, PropertyOption, deal_stage
from tests.helpers import Run, stored
from tests.schema.portal import PROJECT, portal_client, state_of


def _made(emulator: Emulator) -> tuple[str, dict[str, str], int]:
    """The portal's EMEA pipeline id, its stage ids by label, and the Champion type id."""
    with portal_client(emulator) as portal:
        emea = next(p for p in portal.pipelines("deals") if p.label == "EMEA Sales")
        champion = next(x for x in portal.association_labels("contacts", "companies")
                        if x.label == "Champion")
    return emea.id, {s.label: s.id for s in emea.stages}, champion.type_id


def test_an_empty_portal_gets_the_schema_then_no_changes(
    run: Run, project: Path, emulator: Emulator
) -> None:
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "+ group companies.demo_info" in out
    assert "+ pipeline deals/emea (3 stages)" in out
    assert "+ pipeline tickets/escalations (2 stages)" in out
    assert '+ label champion: contacts→companies "Champion"' in out
    assert 'dealstage: "<stage deals/emea/discovery>"' in out  # the id is HubSpot's to give

    pipeline_id, stages, champion = _made(emulator)
    with portal_client(emulator) as portal:
        segment = portal.read_property_schema("companies", "demo_segment")
        assert segment is not None and [o.value for o in segment.options] == ["smb", "ent"]
        (deal,) = stored(emulator, "deals")
        assert deal["properties"]["pipeline"] == pipeline_id
        assert deal["properties"]["dealstage"] == stages["Discovery"]
        (company,) = stored(emulator, "companies")
        assert company["properties"]["demo_segment"] == "ent"
        (contact,) = stored(emulator, "contacts")
        pairs = portal.read_associations("contacts", "companies", [contact["id"]])
        assert (company["id"], champion) in pairs[contact["id"]]

        assert "demo_info" in {g.name for g in portal.property_groups("companies")}
        assert segment.group_name == "demo_info"
        escalations = next(p for p in portal.pipelines("tickets") if p.label == "Escalations")
        assert [(s.label, s.ticket_state) for s in escalations.stages] == [
            ("Open", "OPEN"), ("Closed", "CLOSED")]
        (ticket,) = stored(emulator, "tickets")
        assert ticket["properties"]["hs_pipeline"] == escalations.id
        assert ticket["properties"]["hs_pipeline_stage"] == escalations.stages[0].id

    schema = state_of(project)["schema"]
    assert schema["pipelines"]["deals/emea"]["id"] == pipeline_id
    assert schema["pipelines"]["tickets/escalations"]["id"] == escalations.id
    assert schema["labels"]["champion"]["type_id"] == champion

    code, out, err = run("plan", "--project", project)
    assert code == 0, out + err
    assert "No changes." in out


def test_a_second_portal_gets_its_own_ids(
    project: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = EmulatorConfig(token=emulator.token)
    with start_emulator(config, host="127.0.0.1", port=0) as second:
        with portal_client(second) as portal:  # the second portal's ids run ahead of the first's
            portal.create_pipeline("deals", "Partners", 5, [deal_stage("Signed", 0, 1.0)])
            portal.create_association_label("contacts", "companies", "partner", "Partner")
        (project / "reconciler.yaml").write_text(
            f"{PROJECT}targets:\n"
            f"  one: {{base_url: '{emulator.base_url}', token_env: TOKEN_ONE}}\n"
            f"  two: {{base_url: '{second.base_url}', token_env: TOKEN_TWO}}\n")
        monkeypatch.setenv("TOKEN_ONE", emulator.token)
        monkeypatch.setenv("TOKEN_TWO", second.token)
        monkeypatch.setenv("NO_COLOR", "1")
        for target in ("one", "two"):
            code = main(["apply", "--project", str(project), "--target", target,
                         "--auto-approve"])
            assert code == 0, capsys.readouterr()
        ids = {"one": _made(emulator), "two": _made(second)}
        assert ids["one"][0] != ids["two"][0] and ids["one"][2] != ids["two"][2]
        for target, (pipeline_id, _stages, champion) in ids.items():
            schema = state_of(project, target)["schema"]
            assert schema["pipelines"]["deals/emea"]["id"] == pipeline_id
            assert schema["labels"]["champion"]["type_id"] == champion
        (deal,) = stored(second, "deals")
        assert deal["properties"]["pipeline"] == ids["two"][0]
        assert deal["properties"]["dealstage"] == ids["two"][1]["Discovery"]
        capsys.readouterr()
        code = main(["plan", "--project", str(project), "--target", "two"])
        assert code == 0 and "No changes." in capsys.readouterr().out
        second.reset()


def test_a_lost_state_finds_the_schema_by_label(
    run: Run, project: Path, emulator: Emulator
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    before = state_of(project)["schema"]
    (project / ".reconciler/state/local.json").unlink()

    code, out, err = run("plan", "--project", project)
    assert code == 0, out + err
    assert "+ pipeline" not in out and "+ label" not in out and "+ property companies.demo" not in out
    assert "= pipeline deals/emea" in out and "= label champion" in out  # not made twice

    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    after = state_of(project)["schema"]
    assert after["pipelines"]["deals/emea"]["id"] == before["pipelines"]["deals/emea"]["id"]
    assert after["pipelines"]["deals/emea"]["stages"] == before["pipelines"]["deals/emea"]["stages"]
    assert after["labels"]["champion"]["type_id"] == before["labels"]["champion"]["type_id"]
    with portal_client(emulator) as portal:
        assert [p.label for p in portal.pipelines("deals")].count("EMEA Sales") == 1
    assert "No changes." in run("plan", "--project", project)[1]


def test_a_saved_plan_makes_the_schema_it_shows(
    run: Run, project: Path, emulator: Emulator, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    code, out, err = run("plan", "--project", project, "--out", saved)
    assert code == 0, out + err
    document = json.loads(saved.read_text())
    assert document["format_version"] == 4
    assert {(c["action"], c["kind"]) for c in document["schema_changes"]} >= {
        ("create", "pipeline"), ("create", "label"), ("create", "property")}
    code, out, err = run("apply", "--project", project, "--plan", saved, "--check")
    assert code == 0, out + err  # the portal still bears it out (nothing is there yet)
    code, out, err = run("apply", "--project", project, "--plan", saved, "--auto-approve")
    assert code == 0, out + err
    pipeline_id, stages, _champion = _made(emulator)
    (deal,) = stored(emulator, "deals")
    assert (deal["properties"]["pipeline"], deal["properties"]["dealstage"]) == (
        pipeline_id, stages["Discovery"])
    assert "No changes." in run("plan", "--project", project)[1]


def test_an_option_added_later_keeps_the_portals_own(
    run: Run, project: Path, emulator: Emulator
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    with portal_client(emulator) as portal:  # someone adds an option by hand
        segment = portal.read_property_schema("companies", "demo_segment")
        assert segment is not None
        portal.update_property_schema("companies", "demo_segment", PropertyChanges(
            options=(*segment.options, PropertyOption("gov", "Government", 5))))
    spec = project / "spec.yaml"
    spec.write_text(spec.read_text().replace(
        "          - {value: ent, label: Enterprise}\n",
        "          - {value: ent, label: Enterprise}\n          - {value: mid, label: Mid-market}\n"))

    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "~ property companies.demo_segment" in out
    assert 'options: + mid "Mid-market (order 2)"' in out
    segment = _segment(emulator)
    assert [o.value for o in segment.options] == ["smb", "ent", "mid", "gov"]
    assert "No changes." in run("plan", "--project", project)[1]


def _segment(emulator: Emulator) -> Any:
    with portal_client(emulator) as portal:
        return portal.read_property_schema("companies", "demo_segment")


def test_a_pipeline_the_portal_has_is_adopted_and_given_the_missing_stage(
    run: Run, project: Path, emulator: Emulator
) -> None:
    with portal_client(emulator) as portal:  # made by hand, one stage short, one renamed
        made = portal.create_pipeline("deals", "EMEA Sales", 3, [
            deal_stage("Discovery", 0, 0.2), deal_stage("Won", 1, 0.9)])
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "= pipeline deals/emea" in out and "+ stage deals/emea/lost" in out
    assert "~ stage deals/emea/won" in out and "+ pipeline deals/emea" not in out
    pipeline_id, stages, _champion = _made(emulator)
    assert pipeline_id == made.id and list(stages) == ["Discovery", "Won", "Lost"]
    assert stages["Discovery"] == made.stages[0].id
    with portal_client(emulator) as portal:
        emea = next(p for p in portal.pipelines("deals") if p.id == made.id)
    won = next(s for s in emea.stages if s.label == "Won")
    assert won.probability == 1.0  # the spec's, sent with the stage's update
    assert state_of(project)["schema"]["pipelines"]["deals/emea"]["stages"]["lost"]["id"] == (
        stages["Lost"])
    assert "No changes." in run("plan", "--project", project)[1]
