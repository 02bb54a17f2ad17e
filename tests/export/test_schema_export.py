"""A golden portal with custom properties, a second deal pipeline and a paired association
label, exported and applied to an empty portal of another id: the copy ends equal to it
(records, values, associations, labels, schema; ids differ, labels do not), and the next
plan against it says `No changes.`"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from tests.export.conftest import Cli
from tests.export.test_export import _client, _portal, _state_ids
from tests.helpers import Run, write_project

GOLDEN = """\
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
        description: Which market the company is in
        options:
          - {value: smb, label: SMB}
          - {value: ent, label: Enterprise}
          - {value: old, label: Old, hidden: true}
    contacts:
      demo_score: {label: Demo score, type: number}
  pipelines:
    deals:
      emea:
        label: EMEA Sales
        stages:
          discovery: {label: Discovery, probability: 0.2}
          won: {label: Won, probability: 1.0}
          lost: {label: Lost, probability: 0.0}
  labels:
    champion: {between: contacts/companies, label: Champion, inverse: Championed by}
companies:
  acme: {name: Acme, properties: {demo_segment: ent}}
  globex: {name: Globex, properties: {demo_segment: smb}}
contacts:
  jane:
    email: jane@acme.example
    properties: {demo_score: 42}
    associations:
      - company: acme
      - {company: acme, label: champion}
deals:
  big: {name: Big deal, pipeline: emea, stage: discovery, associations: [{company: acme}]}
  small: {name: Small deal, stage: qualifiedtobuy, associations: [{company: globex}]}
"""


@pytest.fixture
def empty() -> Iterator[Emulator]:
    """An empty portal of another id (its pipelines and labels get other ids)."""
    from tests.conftest import EMULATOR_TOKEN

    config = EmulatorConfig(token=EMULATOR_TOKEN, portal_id=7654321)
    with start_emulator(config, host="127.0.0.1", port=0) as emu:
        yield emu


def _by_label(emu: Emulator, view: dict[str, Any]) -> dict[str, Any]:
    """``view`` with pipeline, stage and association type ids as the portal labels them."""
    with _client(emu) as client:
        pipelines = {p.id: p for p in client.pipelines("deals")}
        labels = {(pair, label.type_id): label.label or "" for pair in (
            ("contacts", "companies"), ("deals", "companies"))
            for label in client.association_labels(*pair)}
    for address, record in view.items():
        props = record["properties"]
        if address.startswith("deals/"):
            pipeline = pipelines[props.get("pipeline", "default")]
            props["pipeline"] = pipeline.label
            props["dealstage"] = next(s.label for s in pipeline.stages
                                      if s.id == props["dealstage"])
        pair = tuple(address.split("/")[:1]) + ("companies",)
        record["associations"] = {(to, labels.get((pair, t), t)) for to, t in
                                  record["associations"]}
    return view


def _schema(emu: Emulator) -> dict[str, Any]:
    """The custom schema the portal holds, without ids."""
    with _client(emu) as client:
        props = {
            f"{t}.{p.name}": (p.label, p.type, p.field_type, p.group_name, p.description,
                              [(o.value, o.label, o.hidden) for o in p.options])
            for t in ("companies", "contacts") for p in client.property_schemas(t)
            if not p.hubspot_defined and not p.name.startswith("reconciler_")
        }
        groups = {g.name: g.label for g in client.property_groups("companies")}
        pipelines = {p.label: [(s.label, s.metadata.get("probability")) for s in p.stages]
                     for p in client.pipelines("deals")}
        labels = {pair: sorted(label.label or "" for label in client.association_labels(*pair)
                               if label.category == "USER_DEFINED")
                  for pair in (("contacts", "companies"), ("companies", "contacts"))}
    return {"properties": props, "group": groups.get("demo_info"), "pipelines": pipelines,
            "labels": labels}


def test_a_golden_portal_with_schema_is_copied_into_an_empty_one(
    run: Run, cli: Cli, tmp_path: Path, emulator: Emulator, empty: Emulator
) -> None:
    golden = write_project(tmp_path / "golden", {
        "reconciler.yaml": "name: golden\nid: golden-7b3c1d2e\ntimezone: Europe/Berlin\n",
        "spec.yaml": GOLDEN,
    })
    assert run("apply", "--project", golden, "--auto-approve")[0] == 0
    out = tmp_path / "copy"
    code, stdout, stderr = run("export", "--project", golden, "--out", out,
                               "--types", "contacts,companies,deals")
    assert code == 0, stdout + stderr
    schema = (out / "schema.yaml").read_text("utf-8")
    for line in ("    companies:\n      demo_info:\n        label: Demo info\n",
                 "      emea-sales:\n        label: EMEA Sales\n",
                 "      between: contacts/companies\n      label: Champion\n"
                 "      inverse: Championed by\n"):
        assert line in schema, schema
    assert "    stage: discovery\n    pipeline: emea-sales\n" in (out / "deals.yaml").read_text()

    code, o, e = cli("apply", "--project", out, "--auto-approve", "--base-url", empty.base_url)
    assert code == 0, o + e
    sources = json.loads((out / "sources.json").read_text("utf-8"))["records"]
    original = _by_label(emulator, _portal(emulator, sources))
    copy = _by_label(empty, _portal(empty, _state_ids(out)))
    assert copy == original
    assert original["deals/big-deal"]["properties"]["pipeline"] == "EMEA Sales"
    assert ("companies/acme", "Champion") in original["contacts/jane-acme.example"]["associations"]
    assert _schema(empty) == _schema(emulator)

    code, o, e = cli("plan", "--project", out, "--base-url", empty.base_url)
    assert code == 0 and "No changes." in o, o + e
