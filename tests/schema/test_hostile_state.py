"""A state whose schema ids were edited by hand (or copied from another portal) is checked
against the portal before the planner acts on them: the pipeline or label of the state's id
must carry the state's label or the spec's, or, renamed in HubSpot since, keep the state's
stage ids (a label: its inverse). Another team's pipeline or label is never renamed,
restaged or archived through such a state (H3)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.errors import SpecError
from reconciler.planning.schema_planner import plan_schema
from reconciler.planning.schema_remote import RemoteLabel, RemoteSchema, pipeline_from_body
from reconciler.state.schema_ids import LabelIds, PipelineIds, SchemaIds, StageIds
from tests.schema.conftest import Load
from tests.schema.test_planner import SPEC, _ids, _made_portal, _with_removed


def _with_team_b(remote: RemoteSchema) -> RemoteSchema:
    """Another team's pipeline and label in the same portal."""
    remote.pipelines["deals"] = (*remote.pipelines["deals"], pipeline_from_body({
        "id": "888", "label": "Team B", "displayOrder": 2, "stages": [
            {"id": "b1", "label": "B one", "displayOrder": 0,
             "metadata": {"probability": "0.1"}}]}))
    remote.labels[("contacts", "companies")] += (RemoteLabel(2001, "Team B buyer", "USER_DEFINED"),)
    remote.labels[("companies", "contacts")] += (RemoteLabel(2002, "Team B seller", "USER_DEFINED"),)
    return remote


def _pointing_at_team_b(ids: SchemaIds, *, stages: bool) -> SchemaIds:
    emea = ids.pipelines["deals/emea"]
    ids.pipelines["deals/emea"] = replace(
        emea, id="888", stages={"discovery": StageIds("b1", "Discovery")} if stages
        else emea.stages)
    return ids


@pytest.mark.parametrize("stages", [False, True], ids=["id", "id-and-stage-ids"])
def test_a_state_pointing_at_another_teams_pipeline_is_refused(load: Load, stages: bool) -> None:
    # (planned "~ pipeline deals/emea label: 'Team B' → 'EMEA Sales'" and restaged it)
    desired = load(SPEC)
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, _with_team_b(_made_portal()),
                    _pointing_at_team_b(_ids(), stages=stages), records=desired.records)
    (issue,) = raised.value.issues
    assert issue.path == "schema.pipelines.deals.emea"
    assert issue.message.startswith(
        "the state maps deals/emea to pipeline 888, which the portal calls 'Team B', without "
        "the state's stages: it is not provably this spec's, so nothing is done to it")


def test_removing_a_pipeline_the_state_points_elsewhere_archives_nothing(load: Load) -> None:
    desired = load(_with_removed(SPEC, "{pipeline: deals/old}", "{stage: deals/old/x}"))
    ids = _ids()
    ids.pipelines["deals/old"] = PipelineIds("888", "Old pipeline", "created",
                                             {"x": StageIds("b1", "X")})
    remote = _with_team_b(_made_portal())
    remote.usage.update({"pipeline:deals/888": 0, "stage:deals/b1": 0})
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, remote, ids, records=desired.records)
    assert len(raised.value.issues) == 2
    assert all("not provably this spec's" in i.message for i in raised.value.issues)


def test_a_state_pointing_at_another_teams_label_is_refused(load: Load) -> None:
    desired = load(SPEC)
    ids = _ids()
    ids.labels["champion"] = replace(ids.labels["champion"], type_id=2001, inverse_type_id=2002)
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, _with_team_b(_made_portal()), ids, records=desired.records)
    (issue,) = raised.value.issues
    assert issue.message.startswith("the state maps label champion to type id 2001, which the "
                                    "portal calls 'Team B buyer': it is not provably")


def test_removing_a_label_the_state_points_elsewhere_archives_nothing(load: Load) -> None:
    desired = load(_with_removed(SPEC, "{label: old}"))
    ids = _ids()
    ids.labels["old"] = LabelIds("contacts", "companies", 2001, "Old", "created", 2002, "Old by")
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, _with_team_b(_made_portal()), ids, records=desired.records)
    (issue,) = raised.value.issues
    assert "not provably this spec's" in issue.message


def test_a_pipeline_or_label_renamed_in_hubspot_is_still_the_states(load: Load) -> None:
    desired = load(SPEC)
    remote = _made_portal()
    remote.pipelines["deals"] = (remote.pipelines["deals"][0],
                                 replace(remote.pipelines["deals"][1], label="EMEA (old)"))
    remote.labels[("contacts", "companies")] = (
        *remote.labels[("contacts", "companies")][:-1], RemoteLabel(1001, "Champ", "USER_DEFINED"))
    planned = plan_schema(desired.schema, remote, _ids(), records=desired.records)
    assert [f"{c.action} {c.kind} {c.address}" for c in planned.changes] == [
        "update pipeline deals/emea", "update label champion"]


def test_a_stage_of_hubspots_default_pipeline_is_never_removed(load: Load) -> None:
    # (an adopted default pipeline, as export writes it: its closedwon stage was archived)
    desired = load(_with_removed(SPEC, "{stage: deals/main/closedwon}"))
    ids = _ids()
    ids.pipelines["deals/main"] = PipelineIds("default", "Sales Pipeline", "adopted",
                                              {"closedwon": StageIds("closedwon", "Closed won")})
    remote = _made_portal()
    remote.usage["stage:deals/closedwon"] = 0
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, remote, ids, records=desired.records)
    assert [i.message for i in raised.value.issues] == [
        "deals/main/closedwon is a stage of HubSpot's default deals pipeline; it is never "
        "removed"]
