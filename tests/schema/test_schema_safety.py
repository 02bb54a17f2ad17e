"""Safe by default, against the emulator: a property holding data is archived only with
``--allow-schema-data-loss``; an option a record still holds is not removed; a protected
target keeps what ``schema.removed`` names; every refusal is one located line, exit 1, and
nothing is written; an option no record holds is removed; ``destroy`` leaves the schema and
the tool's marker properties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import CreateInput
from tests.helpers import Run, stored
from tests.schema.portal import PROJECT, SPEC, portal_client


def _writes(emulator: Emulator) -> list[str]:
    """The requests that changed the portal (reads and searches left out)."""
    return [f"{r['method']} {r['path']}" for r in emulator.requests()
            if r["method"] != "GET" and not r["path"].endswith(("/search", "/batch/read"))]


def _without_segment(spec: str, removed: str) -> str:
    """The spec with demo_segment gone from the schema and from acme, and ``removed``."""
    kept = spec.replace(
        "      demo_segment:\n        label: Demo segment\n        type: enumeration\n"
        "        group: demo_info\n        options:\n          - {value: smb, label: SMB}\n"
        "          - {value: ent, label: Enterprise}\n", "")
    kept = kept.replace("properties:\n    companies:\n  pipelines:", "pipelines:")
    kept = kept.replace(", properties: {demo_segment: ent}", "")
    return kept.replace("schema:\n", f"schema:\n  removed:\n    - {removed}\n", 1)


def _segment(emulator: Emulator) -> Any:
    with portal_client(emulator) as portal:
        return portal.read_property_schema("companies", "demo_segment")


def test_a_property_holding_data_is_archived_only_when_allowed(
    run: Run, project: Path, emulator: Emulator
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    (project / "spec.yaml").write_text(
        _without_segment(SPEC, "{property: companies/demo_segment}"), encoding="utf-8")
    emulator.clear_requests()

    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 1, out + err
    (line,) = [x for x in err.splitlines() if "demo_segment" in x]
    assert line.startswith(f"{project / 'spec.yaml'}:3:7: schema.removed: ")
    assert "holds data in 1 record(s)" in line and "--allow-schema-data-loss" in line
    assert "Traceback" not in err and _writes(emulator) == []
    assert _segment(emulator) is not None

    code, out, err = run("apply", "--project", project, "--auto-approve",
                         "--allow-schema-data-loss")
    assert code == 0, out + err
    assert "- property companies.demo_segment" in out
    assert _segment(emulator) is None


def _removing_smb() -> str:
    return SPEC.replace(
        "schema:\n", "schema:\n  removed:\n    - {option: companies/demo_segment/smb}\n", 1
    ).replace("          - {value: smb, label: SMB}\n", "")


def test_an_option_no_record_holds_is_removed_after_the_records(
    run: Run, project: Path, emulator: Emulator
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    (project / "spec.yaml").write_text(_removing_smb(), encoding="utf-8")
    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert [o.value for o in _segment(emulator).options] == ["ent"]
    assert "No changes." in run("plan", "--project", project)[1]


def test_an_option_a_record_still_holds_is_not_removed(
    run: Run, project: Path, emulator: Emulator
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    with portal_client(emulator) as portal:  # a record the spec does not manage holds smb
        portal.batch_create("companies", [CreateInput("other-1", {"name": "Other", "demo_segment": "smb"})])
    (project / "spec.yaml").write_text(_removing_smb(), encoding="utf-8")
    emulator.clear_requests()

    code, out, err = run("plan", "--project", project)
    assert code == 1, out + err
    (line,) = [x for x in err.splitlines() if "smb" in x]
    assert line.startswith(f"{project / 'spec.yaml'}:3:7: schema.removed: ")
    assert "option companies/demo_segment/smb is still used by" in line
    assert "Traceback" not in err and _writes(emulator) == []
    segment = _segment(emulator)
    assert [o.value for o in segment.options] == ["smb", "ent"]


def test_a_protected_target_keeps_what_schema_removed_names(
    run: Run, project: Path, emulator: Emulator
) -> None:
    (project / "reconciler.yaml").write_text(
        f"{PROJECT}targets:\n  production: {{protected: true}}\n", encoding="utf-8")
    assert run("apply", "--project", project, "--target", "production", "--auto-approve")[0] == 0
    (project / "spec.yaml").write_text(
        _without_segment(SPEC, "{property: companies/demo_segment}"), encoding="utf-8")

    code, out, err = run("apply", "--project", project, "--target", "production",
                         "--auto-approve", "--allow-schema-data-loss")
    assert code == 0, out + err
    assert "companies.demo_segment" in out and "kept" in out
    assert _segment(emulator) is not None
    (company,) = stored(emulator, "companies")
    assert company["properties"]["demo_segment"] == "ent"


def test_destroy_leaves_the_schema_and_the_marker_properties(
    run: Run, project: Path, emulator: Emulator
) -> None:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    code, out, err = run("destroy", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert stored(emulator, "companies") == [] and stored(emulator, "deals") == []
    with portal_client(emulator) as portal:
        names = {p.name for p in portal.property_schemas("companies")}
        assert {"demo_segment", "reconciler_key"} <= names
        assert "EMEA Sales" in [p.label for p in portal.pipelines("deals")]
        assert "Champion" in [x.label for x in portal.association_labels("contacts", "companies")]
