"""The schema planner is pure: the spec's schema + the portal's + the state's ids in,
schema changes and this target's ids out."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from reconciler.errors import SpecError
from reconciler.model import DesiredState
from reconciler.planning.catalogue import Catalogue, PropertyInfo, find_problems
from reconciler.planning.catalogue.overlay import overlaid
from reconciler.planning.planner import plan
from reconciler.planning.schema_planner import SchemaPlan, plan_schema
from reconciler.planning.schema_remote import (
    RemoteLabel,
    RemoteOption,
    RemoteProperty,
    RemoteSchema,
    RemoteStage,
    pipeline_from_body,
)
from reconciler.planning.schema_resolution import fill_placeholders, resolve_records
from reconciler.planning.schema_step import SchemaStep
from reconciler.planning.schema_usage import usage_questions
from reconciler.state.model import AppliedAssociation, RecordState, State
from reconciler.state.plan_document import plan_from_json, plan_to_json
from reconciler.state.saved_plans import check_plan_against
from reconciler.state.schema_ids import LabelIds, PipelineIds, SchemaIds, StageIds
from tests.schema.conftest import Load

SPEC = """\
schema:
  groups:
    companies:
      demo_info: {label: Demo info}
  properties:
    companies:
      demo_segment:
        label: Demo segment
        type: enumeration
        group: demo_info
        options:
          - {value: smb, label: SMB}
          - {value: ent, label: Enterprise}
  pipelines:
    deals:
      emea:
        label: EMEA Sales
        stages:
          discovery: {label: Discovery, probability: 0.2}
          won: {label: Won, probability: 1.0}
          lost: {label: Lost, probability: 0}
  labels:
    champion: {between: contacts/companies, label: Champion, inverse: Championed by}
companies:
  acme: {name: Acme, properties: {demo_segment: ent}}
deals:
  big: {name: Big deal, pipeline: emea, stage: discovery}
contacts:
  jane:
    email: jane@example.com
    associations: [{company: acme, label: champion}]
"""


def _empty_portal() -> RemoteSchema:
    """A fresh portal: HubSpot's own properties and groups, the default pipeline."""
    builtin = {"name": RemoteProperty("name", "Name", "string", "text", "companyinformation",
                                      builtin=True)}
    return RemoteSchema(
        properties={"companies": dict(builtin), "contacts": {}, "deals": {}},
        groups={"companies": {"companyinformation": "Company information"}},
        pipelines={"deals": (pipeline_from_body({"id": "default", "label": "Sales Pipeline",
                                                 "stages": [{"id": "closedwon",
                                                             "label": "Closed won",
                                                             "metadata": {"probability": "1.0"}}]}),)},
        labels={("contacts", "companies"): (RemoteLabel(279, None, "HUBSPOT_DEFINED"),),
                ("companies", "contacts"): (RemoteLabel(280, None, "HUBSPOT_DEFINED"),)},
    )


def _made_portal() -> RemoteSchema:
    """The portal once the spec's schema exists in it (ids of its own)."""
    remote = _empty_portal()
    remote.groups["companies"]["demo_info"] = "Demo info"
    remote.properties["companies"]["demo_segment"] = RemoteProperty(
        "demo_segment", "Demo segment", "enumeration", "select", "demo_info",
        options=(RemoteOption("smb", "SMB", 0), RemoteOption("ent", "Enterprise", 1)))
    remote.pipelines["deals"] = (*remote.pipelines["deals"], pipeline_from_body({
        "id": "777", "label": "EMEA Sales", "displayOrder": 1, "stages": [
            {"id": "s1", "label": "Discovery", "displayOrder": 0,
             "metadata": {"probability": "0.2"}},
            {"id": "s2", "label": "Won", "displayOrder": 1, "metadata": {"probability": 1}},
            {"id": "s3", "label": "Lost", "displayOrder": 2, "metadata": {"probability": "0.0"}},
        ]}))
    remote.labels[("contacts", "companies")] += (RemoteLabel(1001, "Champion", "USER_DEFINED"),)
    remote.labels[("companies", "contacts")] += (
        RemoteLabel(1002, "Championed by", "USER_DEFINED"),)
    return remote


def _ids() -> SchemaIds:
    return SchemaIds(
        pipelines={"deals/emea": PipelineIds("777", "EMEA Sales", "created", {
            "discovery": StageIds("s1", "Discovery"), "won": StageIds("s2", "Won"),
            "lost": StageIds("s3", "Lost")})},
        labels={"champion": LabelIds("contacts", "companies", 1001, "Champion", "created",
                                     1002, "Championed by")},
        properties={"companies/demo_segment": "created"},
        groups={"companies/demo_info": "created"},
    )


def _lines(planned: SchemaPlan) -> list[str]:
    return [f"{c.action} {c.kind} {c.address}" for c in planned.changes]


def test_an_empty_portal_gets_everything_in_the_order_apply_makes_it(load: Load) -> None:
    desired = load(SPEC)
    planned = plan_schema(desired.schema, _empty_portal(), SchemaIds(), records=desired.records)
    assert _lines(planned) == [
        "create group companies/demo_info", "create property companies/demo_segment",
        "create pipeline deals/emea", "create label champion",
    ]
    create = planned.changes[2]
    assert create.body["stages"][0] == {"label": "Discovery", "displayOrder": 0,
                                        "metadata": {"probability": "0.2"}}
    assert planned.changes[1].body["options"][1] == {
        "value": "ent", "label": "Enterprise", "displayOrder": 1, "hidden": False}
    # the records wait for the ids: placeholders, filled by apply
    resolved = resolve_records(desired, planned)
    assert resolved.records["deals/big"].properties["pipeline"] == "<pipeline deals/emea>"
    assert resolved.records["deals/big"].properties["dealstage"] == "<stage deals/emea/discovery>"
    ref = resolved.records["contacts/jane"].associations[0]
    assert (ref.label, ref.type_id, ref.category) == ("<label champion>", None, "USER_DEFINED")
    # the markers come with the first records written to each type
    step = SchemaStep(planned, resolved, _empty_portal())
    whole = step.attach(plan(resolved, State.empty()))
    assert [(c.action, c.kind, c.address) for c in whole.schema_changes][:3] == [
        ("create", "group", "companies/demo_info"),
        ("create", "marker", "companies/reconciler_key"),
        ("create", "marker", "contacts/reconciler_key"),
    ]


def test_the_same_spec_and_state_against_the_made_portal_plans_nothing(load: Load) -> None:
    desired = load(SPEC)
    planned = plan_schema(desired.schema, _made_portal(), _ids(), records=desired.records)
    assert planned.changes == ()
    resolved = resolve_records(desired, planned)
    assert dict(resolved.records["deals/big"].properties) == {
        "dealname": "Big deal", "pipeline": "777", "dealstage": "s1"}
    ref = resolved.records["contacts/jane"].associations[0]
    assert (ref.type_id, ref.category, ref.label) == (1001, "USER_DEFINED", None)


def test_a_lost_state_adopts_everything_by_label(load: Load) -> None:
    desired = load(SPEC)
    planned = plan_schema(desired.schema, _made_portal(), SchemaIds(), records=desired.records)
    assert _lines(planned) == [
        "adopt group companies/demo_info", "adopt property companies/demo_segment",
        "adopt pipeline deals/emea", "adopt label champion",
    ]
    pipeline, label = planned.changes[2], planned.changes[3]
    assert (pipeline.id, pipeline.body["stages"]["won"]) == ("777", ["s2", "Won"])
    assert dict(label.body) == {"type_id": 1001, "inverse_type_id": 1002, "label": "Champion",
                                "inverse": "Championed by"}
    # from the companies side, a label resolves to its inverse
    companies = load(SPEC.replace(
        "contacts:\n  jane:\n    email: jane@example.com\n    associations: [{company: acme, "
        "label: champion}]\n",
        "contacts:\n  jane: {email: jane@example.com}\n",
    ).replace("acme: {name: Acme, properties: {demo_segment: ent}}",
              "acme: {name: Acme, associations: [{contact: jane, label: champion}]}"))
    resolved = resolve_records(companies, planned)
    assert resolved.records["companies/acme"].associations[0].type_id == 1002


def test_an_existing_pipeline_of_that_label_is_adopted_with_its_differences(load: Load) -> None:
    desired = load(SPEC)
    remote = _made_portal()
    emea = remote.pipelines["deals"][1]
    remote.pipelines["deals"] = (remote.pipelines["deals"][0], replace(emea, stages=(
        RemoteStage("s1", "Discovery", 0, "0.3"), RemoteStage("s9", "Won", 1, "1.0"),
    )))
    planned = plan_schema(desired.schema, remote, SchemaIds(), records=desired.records)
    pipeline_lines = [line for line in _lines(planned) if "emea" in line]
    assert pipeline_lines == [
        "update stage deals/emea/discovery", "create stage deals/emea/lost",
        "adopt pipeline deals/emea",
    ]
    update = planned.changes[[c.address for c in planned.changes].index(
        "deals/emea/discovery")]
    assert [(d.field, d.before, d.after) for d in update.diffs] == [("probability", "0.3",
                                                                     "0.2")]
    assert (update.id, update.parent_id) == ("s1", "777")
    assert planned.stages["deals/emea/won"] == "s9"
    assert planned.stages["deals/emea/lost"] == "<stage deals/emea/lost>"


def test_a_renamed_pipeline_is_renamed_back_by_its_id(load: Load) -> None:
    desired = load(SPEC)
    remote = _made_portal()
    remote.pipelines["deals"] = (remote.pipelines["deals"][0],
                                 replace(remote.pipelines["deals"][1], label="EMEA (old)"))
    planned = plan_schema(desired.schema, remote, _ids(), records=desired.records)
    assert _lines(planned) == ["update pipeline deals/emea"]
    assert dict(planned.changes[0].body) == {"label": "EMEA Sales"}


def test_an_added_option_sends_the_whole_list_and_keeps_the_portals_own(load: Load) -> None:
    desired = load(SPEC.replace("- {value: ent, label: Enterprise}",
                                "- {value: ent, label: Enterprise}\n          - {value: mid, "
                                "label: Mid-market}"))
    remote = _made_portal()
    segment = remote.properties["companies"]["demo_segment"]
    remote.properties["companies"]["demo_segment"] = replace(segment, options=(
        *segment.options, RemoteOption("ui_made", "Made in the UI", 5)))
    planned = plan_schema(desired.schema, remote, _ids(), records=desired.records)
    assert _lines(planned) == ["update property companies/demo_segment"]
    change = planned.changes[0]
    assert [(d.field, d.before, d.after) for d in change.diffs] == [
        ("option mid", None, "Mid-market (order 2)")]
    assert [o["value"] for o in change.body["options"]] == ["smb", "ent", "mid", "ui_made"]


def _with_removed(spec: str, *entries: str) -> str:
    return spec.replace("  labels:\n", "  removed:\n" + "".join(
        f"    - {e}\n" for e in entries) + "  labels:\n")


def test_an_option_still_used_is_never_removed(load: Load) -> None:
    spec = SPEC.replace("- {value: smb, label: SMB}\n", "")
    desired = load(_with_removed(spec, "{option: companies/demo_segment/smb}"))
    remote = _made_portal()
    questions = usage_questions(desired.schema, remote, _ids())
    assert [(q.key, dict(q.filter)) for q in questions] == [(
        "option:companies/demo_segment/smb",
        {"propertyName": "demo_segment", "operator": "EQ", "value": "smb"})]
    remote.usage["option:companies/demo_segment/smb"] = 3
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, remote, _ids(), records=desired.records)
    assert [i.message for i in raised.value.issues] == [
        "option companies/demo_segment/smb is still used by 3 record(s) in the portal; move "
        "them to another option first"]
    remote.usage["option:companies/demo_segment/smb"] = 0
    planned = plan_schema(desired.schema, remote, _ids(), records=desired.records)
    change = planned.changes[0]
    assert [(d.field, d.before, d.after) for d in change.diffs] == [
        ("option ent", "Enterprise (order 1)", "Enterprise (order 0)"),  # (now the first)
        ("option smb", "SMB", None)]
    assert [o["value"] for o in change.body["options"]] == ["ent"]


def test_a_property_holding_data_is_archived_only_when_allowed(load: Load) -> None:
    desired = load(_with_removed(SPEC, "{property: companies/old_segment}"))
    remote = _made_portal()
    remote.properties["companies"]["old_segment"] = RemoteProperty(
        "old_segment", "Old", "string", "text", "demo_info")
    remote.usage["property:companies/old_segment"] = 12
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, remote, _ids())
    assert raised.value.issues[0].render() == (
        "spec.yaml:23:7: schema.removed: companies/old_segment holds data in 12 record(s); "
        "archiving it loses that: run apply --allow-schema-data-loss to do it anyway")
    allowed = plan_schema(desired.schema, remote, _ids(), allow_data_loss=True)
    assert [(c.action, c.address, c.loses_data) for c in allowed.changes] == [
        ("archive", "companies/old_segment", True)]
    kept = plan_schema(desired.schema, remote, _ids(), protected=True, allow_data_loss=True)
    assert [(c.action, c.address, c.runs) for c in kept.changes] == [
        ("keep", "companies/old_segment", False)]


def test_a_type_change_of_a_property_with_data_is_refused(load: Load) -> None:
    desired = load(SPEC.replace("demo_segment:\n        label: Demo segment\n        type: "
                                "enumeration", "demo_segment:\n        label: Demo segment\n"
                                "        type: string\n        field: text").replace(
        "        options:\n          - {value: smb, label: SMB}\n          - {value: ent, "
        "label: Enterprise}\n", ""))
    remote = _made_portal()
    remote.usage["property:companies/demo_segment"] = 2
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, remote, _ids())
    assert "holds data in 2 record(s); changing its type from enumeration to string" in (
        raised.value.issues[0].message)
    remote.usage["property:companies/demo_segment"] = 0
    retyped = plan_schema(desired.schema, remote, _ids()).changes[0]
    assert (retyped.action, retyped.body["type"], retyped.loses_data) == ("retype", "string",
                                                                         False)


def test_a_type_change_of_a_property_this_target_did_not_make_is_refused(load: Load) -> None:
    """Another team's empty property of the same name is theirs to type: adopting it by name
    is fine, retyping it needs the flag."""
    desired = load(SPEC.replace("type: enumeration", "type: string\n        field: text").replace(
        "        options:\n          - {value: smb, label: SMB}\n          - {value: ent, "
        "label: Enterprise}\n", ""))
    remote = _made_portal()
    remote.usage["property:companies/demo_segment"] = 0
    theirs = replace(_ids(), properties={})
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, remote, theirs)
    assert "demo_segment exists in this portal as enumeration and this target did not make " \
        "it" in raised.value.issues[0].message
    retyped = plan_schema(desired.schema, remote, theirs, allow_data_loss=True).changes[0]
    assert (retyped.action, retyped.body["type"]) == ("retype", "string")


def test_unique_cannot_change_and_hubspot_properties_are_not_the_specs(load: Load) -> None:
    desired = load("""\
        schema:
          properties:
            companies:
              name: {label: Name, type: string}
              code: {label: Code, type: string, unique: true}
        """)
    remote = _made_portal()
    remote.properties["companies"]["code"] = RemoteProperty("code", "Code", "string", "text",
                                                            "companyinformation")
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, remote, SchemaIds())
    assert [i.message for i in raised.value.issues] == [
        "name is HubSpot's own property of companies; the spec declares only custom properties",
        "unique cannot change once a property is made (code is not unique in this portal); "
        "set unique: false",
    ]


def test_the_default_pipeline_and_labels_in_use_are_never_removed(load: Load) -> None:
    desired = load(_with_removed(SPEC, "{pipeline: deals/main}", "{label: old}"))
    ids = _ids()
    ids.pipelines["deals/main"] = PipelineIds("default", "Sales Pipeline", "adopted")
    ids.labels["old"] = LabelIds("contacts", "companies", 1001, "Champion", "adopted")
    managed = {"contacts/x": RecordState("5", "contacts", {}, (
        AppliedAssociation("companies", "9", "USER_DEFINED", 1001),))}
    with pytest.raises(SpecError) as raised:
        plan_schema(desired.schema, _made_portal(), ids, managed=managed)
    assert [i.message for i in raised.value.issues] == [
        "deals/main is HubSpot's default deals pipeline; it is never removed",
        "label old is still used by contacts/x; remove those associations first",
    ]


def test_offline_the_state_alone_decides(load: Load) -> None:
    desired = load(SPEC)
    assert plan_schema(desired.schema, None, _ids()).changes == ()
    fresh = plan_schema(desired.schema, None, SchemaIds())
    assert [c.action for c in fresh.changes] == ["create"] * 4


def test_records_using_what_the_plan_makes_pass_the_catalogue(load: Load) -> None:
    desired = load(SPEC)
    planned = plan_schema(desired.schema, _empty_portal(), SchemaIds(), records=desired.records)
    resolved = resolve_records(desired, planned)
    catalogue = Catalogue(
        properties={"companies": {"name": PropertyInfo("name", "string", "text")},
                    "deals": {n: PropertyInfo(n, t, f, o) for n, t, f, o in (
                        ("dealname", "string", "text", ()),
                        ("pipeline", "enumeration", "select", (("default", "Sales"),)),
                        ("dealstage", "enumeration", "select", (("closedwon", "Won"),)))},
                    "contacts": {"email": PropertyInfo("email", "string", "text")}},
        labels={("contacts", "companies"): ()},
    )
    assert len(find_problems(resolved, catalogue)) == 4  # property, pipeline, stage, label
    assert find_problems(resolved, overlaid(catalogue, desired.schema, planned)) == []
    bad = load(SPEC.replace("demo_segment: ent}", "demo_segment: gold}"))
    bad_planned = plan_schema(bad.schema, _empty_portal(), SchemaIds(), records=bad.records)
    findings = find_problems(resolve_records(bad, bad_planned),
                             overlaid(catalogue, bad.schema, bad_planned))
    assert [f.message for f in findings] == [
        "'gold' is not an option of demo_segment; use one of: smb, ent"]


def test_apply_fills_the_placeholders_from_the_state(load: Load) -> None:
    desired = load(SPEC)
    planned = plan_schema(desired.schema, _empty_portal(), SchemaIds(), records=desired.records)
    records = plan(resolve_records(desired, planned), State.empty())
    filled, missing = fill_placeholders(records.changes, _ids())
    assert missing == {}
    big = next(c for c in filled if c.address == "deals/big")
    assert (big.after["pipeline"], big.after["dealstage"]) == ("777", "s1")
    jane = next(c for c in filled if c.address == "contacts/jane")
    assert (jane.associations[0].type_id, jane.associations[0].label) == (1001, None)
    _, missing = fill_placeholders(records.changes, SchemaIds())
    assert missing["deals/big"] == ("stage deals/emea/discovery was not made; pipeline "
                                    "deals/emea was not made")


def test_a_saved_plan_carries_its_schema_and_refuses_a_forged_placeholder(
    load: Load,
) -> None:
    desired = load(SPEC)
    planned = plan_schema(desired.schema, _empty_portal(), SchemaIds(), records=desired.records)
    resolved = resolve_records(desired, planned)
    whole = SchemaStep(planned, resolved, _empty_portal()).attach(
        plan(resolved, State.empty()))
    document = plan_to_json(whole)
    assert document["format_version"] == 4 and document["summary"]["schema"] == 7
    again = plan_from_json(json.loads(json.dumps(document)))
    assert again.schema_changes == whole.schema_changes
    assert check_plan_against(again, State.empty(), "demo-1") == []
    # without the pipeline's create, the records' placeholders name nothing
    forged = replace(again, schema_changes=tuple(
        c for c in again.schema_changes if c.kind != "pipeline"))
    assert check_plan_against(forged, State.empty(), "demo-1") == [
        "deals/big uses <pipeline deals/emea>, which the plan does not make",
        "deals/big uses <stage deals/emea/discovery>, which the plan does not make",
    ]
    # an update naming an id the state does not map to that key
    rename = replace(again, schema_changes=(replace(
        again.schema_changes[0], action="update", kind="pipeline", key="emea",
        object_type="deals", id="999"),))
    problems = check_plan_against(rename, State(lineage="", schema=_ids()), "demo-1")
    assert problems[0] == ("the update of pipeline deals/emea names id 999, which the state "
                           "does not map to it")


def test_the_state_keeps_the_schema_ids_through_its_journal(tmp_path, load: Load) -> None:
    from reconciler.state.store import StateStore

    store = StateStore(tmp_path / "s.json")
    state = store.load()
    state.schema = _ids()
    store.save(state)  # a snapshot
    state.schema.labels.pop("champion")
    store.save(state)  # a journal line
    assert StateStore(tmp_path / "s.json").load().schema == state.schema
    store.compact()
    text = (tmp_path / "s.json").read_text()
    assert '"deals/emea"' in text and "champion" not in text
    assert StateStore(tmp_path / "s.json").load().schema == state.schema


def test_desired_schema_is_empty_without_a_section(load: Load) -> None:
    desired: DesiredState = load("contacts:\n  a: {email: a@example.com}\n")
    assert desired.schema.empty
