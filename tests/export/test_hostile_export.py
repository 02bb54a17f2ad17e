"""Export of hostile portal values (H3): labels with YAML and markdown specials, option
values YAML reads as something else (``null``, ``yes``, ``~``, ``0x10``), a pipeline label
with a newline. The export is valid spec, applied to an empty portal makes the same schema
and records, and re-plans ``No changes.``"""

from __future__ import annotations

from pathlib import Path

from reconciler.emulator.embedded import Emulator
from tests.export.conftest import Cli
from tests.export.test_export import _client
from tests.export.test_schema_export import _schema, empty  # noqa: F401 (a fixture)
from tests.helpers import Run, stored, write_project

HOSTILE = """\
schema:
  groups:
    companies:
      odd_info: {label: "{odd}: *group* & !stuff"}
  properties:
    companies:
      odd_choice:
        label: "Choice: # not a comment | > %"
        type: enumeration
        group: odd_info
        description: "--- \\n... [x] `code` <b>"
        options:
          - {value: "null", label: "null"}
          - {value: "yes", label: "Yes | no"}
          - {value: "~", label: "~"}
          - {value: "0x10", label: "- [ ] item"}
          - {value: "1e3", label: "'quoted' \\"double\\""}
  pipelines:
    deals:
      odd:
        label: "Line one\\nLine two: #3"
        stages:
          first: {label: "- dash: start", probability: 0.1}
          second: {label: "?question", probability: 0.9}
companies:
  acme: {name: "Acme: #1 & co", properties: {odd_choice: "null"}}
  globex: {name: Globex, properties: {odd_choice: "~"}}
  initech: {name: Initech, properties: {odd_choice: "0x10"}}
  hooli: {name: Hooli, properties: {odd_choice: "yes"}}
deals:
  big: {name: "big: deal", pipeline: odd, stage: second, associations: [{company: acme}]}
"""


def _odd(emu: Emulator) -> tuple[str, set[tuple[str, str]], set[str]]:
    """The group's label, each company's name and value, the deal pipelines' labels."""
    with _client(emu) as client:
        group = next(g.label for g in client.property_groups("companies") if g.name == "odd_info")
        pipelines = {p.label for p in client.pipelines("deals")}
    values = {(c["properties"]["name"], c["properties"]["odd_choice"])
              for c in stored(emu, "companies")}
    return group, values, pipelines


def test_hostile_schema_values_round_trip(
    run: Run, cli: Cli, tmp_path: Path, emulator: Emulator,
    empty: Emulator,  # noqa: F811
) -> None:
    golden = write_project(tmp_path / "golden", {
        "reconciler.yaml": "name: golden\nid: golden-7b3c1d2e\ntimezone: Europe/Berlin\n",
        "spec.yaml": HOSTILE,
    })
    code, out, err = run("apply", "--project", golden, "--auto-approve")
    assert code == 0, out + err
    copy = tmp_path / "copy"
    code, out, err = run("export", "--project", golden, "--out", copy,
                         "--types", "companies,deals")
    assert code == 0, out + err
    code, out, err = cli("validate", copy)
    assert code == 0, out + err
    code, out, err = cli("apply", "--project", copy, "--auto-approve",
                         "--base-url", empty.base_url)
    assert code == 0, out + err
    assert _schema(empty) == _schema(emulator)
    assert _odd(empty) == _odd(emulator)
    assert _odd(emulator)[0] == "{odd}: *group* & !stuff"
    assert {"null", "~", "0x10", "yes"} == {v for _n, v in _odd(emulator)[1]}
    code, out, err = cli("plan", "--project", copy, "--base-url", empty.base_url)
    assert code == 0 and "No changes." in out, out + err
