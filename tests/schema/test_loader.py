"""The schema: section as the loader reads it: what HubSpot would refuse, located."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.loading import load_project
from reconciler.model import DesiredState

REFERENCE = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # (files are shown relative to where the command runs)


def _load(tmp_path: Path, spec: str) -> DesiredState:
    (tmp_path / "reconciler.yaml").write_text("name: demo\nid: demo-1\n", encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec), encoding="utf-8")
    return load_project(".", reference_time=REFERENCE, use_cache=False)


def _problems(tmp_path: Path, spec: str) -> list[str]:
    with pytest.raises(SpecError) as raised:
        _load(tmp_path, spec)
    return [issue.render() for issue in raised.value.issues]


GOOD = """\
schema:
  groups:
    companies:
      demo_info: {label: Demo info, order: 1}
  properties:
    companies:
      demo_segment:
        label: Demo segment
        type: enumeration
        group: demo_info
        options:
          - {value: smb, label: SMB}
          - {value: ent, label: Enterprise}
          - {value: legacy, label: Legacy, hidden: true}
    deals:
      demo_external_id: {label: External id, type: string, unique: true}
  pipelines:
    deals:
      emea:
        label: EMEA Sales
        stages:
          discovery: {label: Discovery, probability: 0.2}
          won: {label: Won, probability: 1.0}
          lost: {label: Lost, probability: 0}
    tickets:
      escalations:
        label: Escalations
        stages:
          open: {label: Open, state: open}
          closed: {label: Closed, state: closed}
  labels:
    champion: {between: contacts/companies, label: Champion, inverse: Championed by}
  removed:
    - property: companies/old_segment
    - option: companies/demo_segment/retired
companies:
  acme: {name: Acme, properties: {demo_segment: ent}}
deals:
  big: {name: Big deal, pipeline: emea, stage: discovery}
contacts:
  jane:
    email: jane@example.com
    associations:
      - company: acme
        label: champion
"""


def test_a_full_schema_section_loads_into_the_desired_state(tmp_path: Path) -> None:
    schema = _load(tmp_path, GOOD).schema
    segment = schema.properties["companies/demo_segment"]
    assert (segment.type, segment.field_type, segment.group) == ("enumeration", "select",
                                                                  "demo_info")
    assert [(o.value, o.order, o.hidden) for o in segment.options] == [
        ("smb", 0, False), ("ent", 1, False), ("legacy", 2, True)]
    assert schema.properties["deals/demo_external_id"].unique
    emea = schema.pipelines["deals/emea"]
    assert [(s.key, s.probability, s.order) for s in emea.stages] == [
        ("discovery", "0.2", 0), ("won", "1.0", 1), ("lost", "0.0", 2)]
    assert [s.state for s in schema.pipelines["tickets/escalations"].stages] == ["OPEN",
                                                                                 "CLOSED"]
    champion = schema.labels["champion"]
    assert (champion.from_type, champion.to_type, champion.name, champion.inverse) == (
        "contacts", "companies", "champion", "Championed by")
    assert [(r.kind, r.path) for r in schema.removed] == [
        ("property", "companies/old_segment"), ("option", "companies/demo_segment/retired")]
    assert schema.groups["companies/demo_info"].order == 1
    assert segment.source.line == 7


def test_records_keep_their_keys_for_each_target_to_resolve(tmp_path: Path) -> None:
    desired = _load(tmp_path, GOOD)
    big = desired.records["deals/big"]
    assert (big.properties["pipeline"], big.properties["dealstage"]) == ("emea", "discovery")
    assert desired.records["contacts/jane"].associations[0].label == "champion"


def test_a_field_type_that_does_not_go_with_the_type_is_located(tmp_path: Path) -> None:
    assert _problems(tmp_path, """\
        schema:
          properties:
            companies:
              x: {label: X, type: number, field: radio}
        """) == ["spec.yaml:4:42: schema.properties.companies.x.field: radio is not valid "
                 "for type number; use number"]


def test_every_option_problem_is_reported_in_one_pass(tmp_path: Path) -> None:
    assert _problems(tmp_path, """\
        schema:
          properties:
            companies:
              empty: {label: E, type: enumeration}
              twice:
                label: T
                type: enumeration
                options: [{value: a, label: A}, {value: a, label: B}, {value: c, label: a}]
              text: {label: Txt, type: string, options: [{value: a, label: A}]}
        """) == [
        "spec.yaml:4:7: schema.properties.companies.empty: an enumeration needs options: "
        "[{value: ..., label: ...}]",
        "spec.yaml:8:49: schema.properties.companies.twice.options[1].value: option value "
        "'a' is also option 0; each value must be unique",
        "spec.yaml:8:81: schema.properties.companies.twice.options[2].label: option label "
        "'a' is also option 0; each label must be unique",
        "spec.yaml:9:40: schema.properties.companies.text.options: a string property has no "
        "options; options are for type enumeration",
    ]


def test_unique_only_where_hubspot_has_unique_properties(tmp_path: Path) -> None:
    assert _problems(tmp_path, """\
        schema:
          properties:
            meetings:
              m: {label: M, type: string, unique: true}
            contacts:
              ok: {label: Ok, type: string, unique: true}
              when: {label: W, type: date, unique: true}
        """) == [
        "spec.yaml:4:43: schema.properties.meetings.m.unique: HubSpot has no unique-value "
        "properties for meetings (only contacts, companies, deals, tickets and custom objects)",
        "spec.yaml:7:44: schema.properties.contacts.when.unique: a date property cannot hold "
        "unique values; use type string or number",
    ]


def test_stages_need_what_hubspot_needs(tmp_path: Path) -> None:
    assert _problems(tmp_path, """\
        schema:
          pipelines:
            deals:
              emea:
                label: EMEA
                stages:
                  a: {label: A}
                  c: {label: C, probability: 0.25}
                  d: {label: c, probability: 0.5}
                  e: {label: E, probability: 0.5, state: open}
              other:
                label: emea
                stages: {x: {label: X, probability: 1}}
              none: {label: None, stages: {}}
            tickets:
              t:
                label: T
                stages:
                  open: {label: Open, probability: 0.5}
        """) == [
        "spec.yaml:14:35: schema.pipelines.deals.none.stages: must not be empty",
    ]
    assert _problems(tmp_path, """\
        schema:
          pipelines:
            deals:
              emea:
                label: EMEA
                stages:
                  a: {label: A}
                  c: {label: C, probability: 0.25}
                  d: {label: D, probability: 0.5}
                  e: {label: d, probability: 0.5, state: open}
                  f: {label: ' D ', probability: 0.6}
              other:
                label: emea
                stages: {x: {label: X, probability: 1}}
            tickets:
              t:
                label: T
                stages:
                  open: {label: Open, probability: 0.5}
        """) == [
        "spec.yaml:7:11: schema.pipelines.deals.emea.stages.a: a deal stage needs a "
        "probability (0.0 to 1.0, e.g. 0.2; 1.0 for won, 0.0 for lost)",
        "spec.yaml:8:38: schema.pipelines.deals.emea.stages.c.probability: 0.25 is not a "
        "step of 0.1; HubSpot takes 0.0, 0.1, ... 1.0",
        "spec.yaml:10:43: schema.pipelines.deals.emea.stages.e.state: state is for ticket "
        "stages; a deal stage has a probability",
        "spec.yaml:11:22: schema.pipelines.deals.emea.stages.f.label: ' D ' is the label of "
        "stage d of emea too; stage labels are unique within a pipeline",
        "spec.yaml:13:16: schema.pipelines.deals.other.label: pipeline deals/emea has the "
        "label 'EMEA' too; pipeline labels are unique per object type",
        "spec.yaml:19:31: schema.pipelines.tickets.t.stages.open.probability: probability is "
        "for deal stages; a ticket stage may have a state (open or closed)",
    ]
    assert _problems(tmp_path, """\
        schema:
          pipelines:
            deals:
              emea: {label: E, stages: {b: {label: B, probability: 1.05}}}
            tickets:
              t: {label: T, stages: {open: {label: Open, state: pending}}}
        """) == [
        "spec.yaml:4:60: schema.pipelines.deals.emea.stages.b.probability: must be at most "
        "1, not 1.05",
        "spec.yaml:6:57: schema.pipelines.tickets.t.stages.open.state: 'pending' is not a "
        "valid state; use one of open, closed",
    ]


def test_a_stage_key_not_in_the_records_pipeline_names_its_stages(tmp_path: Path) -> None:
    assert _problems(tmp_path, """\
        schema:
          pipelines:
            deals:
              emea:
                label: EMEA
                stages:
                  discovery: {label: Discovery, probability: 0.2}
                  lost: {label: Lost, probability: 0}
        deals:
          big: {name: Big, pipeline: emea, stage: won}
          raw: {name: Raw, stage: closedwon}
        """) == ["spec.yaml:10:43: deals.big.stage: 'won' is not a stage of pipeline emea; "
                 "use one of: discovery, lost"]


def test_a_label_key_on_a_pair_it_is_not_declared_for(tmp_path: Path) -> None:
    assert _problems(tmp_path, """\
        schema:
          labels:
            champion: {between: contacts/companies, label: Champion}
        contacts:
          jane: {email: j@example.com}
        companies:
          acme:
            name: Acme
            associations: [{contact: jane, label: champion}]
        deals:
          big:
            name: Big
            associations: [{contact: jane, label: champion}]
        """) == ["spec.yaml:13:43: deals.big.associations[0].label: label champion is "
                 "declared between contacts and companies, not deals and contacts"]


def test_removed_names_what_is_not_declared_and_never_the_tools_own(tmp_path: Path) -> None:
    assert _problems(tmp_path, """\
        schema:
          properties:
            companies:
              seg: {label: Seg, type: enumeration, options: [{value: a, label: A}]}
              reconciler_key: {label: K, type: string}
          removed:
            - option: companies/seg/a
            - property: companies/reconciler_project
            - stage: contacts/x/y
            - pipeline: deals
        removed: [contacts/old]
        """) == [
        "spec.yaml:5:7: schema.properties.companies.reconciler_key: reconciler_key is the "
        "reconciler's own property (apply makes it); choose another name",
        "spec.yaml:7:15: schema.removed[0].option: option companies/seg/a is still declared "
        "at spec.yaml:4; schema.removed deletes it from the portal: drop the declaration, or "
        "this entry",
        "spec.yaml:8:17: schema.removed[1].property: companies/reconciler_project is the "
        "reconciler's own property; it is never removed",
        "spec.yaml:9:14: schema.removed[2].stage: contacts have no pipelines; only deals and "
        "tickets do",
        "spec.yaml:10:17: schema.removed[3].pipeline: 'deals' is not a pipeline to remove; "
        "write <type>/<key>",
    ]


def test_the_same_item_in_two_files_is_located_at_the_second(tmp_path: Path) -> None:
    (tmp_path / "more.yaml").write_text(
        "schema:\n  labels:\n    champion: {between: contacts/companies, label: C}\n",
        encoding="utf-8",
    )
    problems = _problems(tmp_path, """\
        schema:
          labels:
            champion: {between: contacts/companies, label: Champion}
        """)
    assert problems == ["spec.yaml:3:5: schema.labels.champion: label champion is already "
                        "declared at more.yaml:3:5"]


def test_a_cached_file_gives_the_same_schema(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("name: demo\nid: demo-1\n", encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(GOOD, encoding="utf-8")
    first = load_project(tmp_path, reference_time=REFERENCE)
    again = load_project(tmp_path, reference_time=REFERENCE)
    assert again.schema == first.schema and again.schema.pipelines
