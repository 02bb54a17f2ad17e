"""`reconciler export`: a golden portal copied into spec files, and seeded into another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from tests.export.conftest import Cli
from tests.helpers import Run, stored


def export(run: Run, golden: Path, out: Path, *extra: str) -> str:
    assert run("apply", "--project", golden, "--auto-approve")[0] == 0
    code, stdout, stderr = run("export", "--project", golden, "--out", out, *extra)
    assert code == 0, stdout + stderr
    return stdout


def test_export_writes_readable_spec_that_validates(
    run: Run, cli: Cli, golden: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    stdout = export(run, golden, out)
    assert "Exported" in stdout
    for name in ("meetings.yaml", "calls.yaml", "contacts.yaml"):
        print((out / name).read_text())
    code, o, e = cli("validate", out)
    assert code == 0, o + e


#: Properties that differ between an original and its copy by nature.
_OWN_PROPERTIES = {
    "hs_object_id", "hs_createdate", "hs_lastmodifieddate", "createdate", "lastmodifieddate",
    "reconciler_key", "reconciler_project", "reconciler_applied",
}


def _client(emu: Emulator) -> HubSpotClient:
    return HubSpotClient(ClientSettings(base_url=emu.base_url, token=emu.token,
                                        requests_per_10s=None, search_per_second=None))


def _portal(emu: Emulator, ids: dict[str, str]) -> dict[str, Any]:
    """Every record of the export's types, by address (``ids``: address → id), with its
    properties (less the ones a copy cannot share) and its associations by address."""
    from reconciler.export.reading import DECLARED_PAIRS, EXPORT_TYPES

    address_of = {(a.split("/")[0], i): a for a, i in ids.items()}
    view: dict[str, Any] = {}
    for object_type in EXPORT_TYPES:
        for record in stored(emu, object_type):
            address = address_of.get((object_type, record["id"]))
            if address is None:
                continue
            view[address] = {
                "properties": {k: v for k, v in record["properties"].items()
                               if k not in _OWN_PROPERTIES and v not in (None, "")},
                "associations": set(),
            }
    with _client(emu) as client:
        for from_type, to_type in DECLARED_PAIRS:
            from_ids = [i for (t, i) in address_of if t == from_type]
            for from_id, pairs in client.read_associations(from_type, to_type, from_ids).items():
                for to_id, type_id in pairs:
                    target = address_of.get((to_type, to_id), f"{to_type}/outside")
                    view[address_of[(from_type, from_id)]]["associations"].add((target, type_id))
    return view


def _state_ids(project: Path) -> dict[str, str]:
    state = json.loads((project / ".reconciler" / "state" / "local.json").read_text("utf-8"))
    return {address: entry["id"] for address, entry in state["records"].items()}


def test_the_export_seeds_an_equal_copy_in_another_portal(
    run: Run, cli: Cli, golden: Path, tmp_path: Path, emulator: Emulator, second: Emulator
) -> None:
    out = tmp_path / "copy"
    stdout = export(run, golden, out)
    assert "reconciler import" in stdout
    sources = json.loads((out / "sources.json").read_text("utf-8"))["records"]

    code, o, e = cli("apply", "--project", out, "--auto-approve", "--base-url", second.base_url)
    assert code == 0, o + e
    copied = _state_ids(out)
    assert sorted(copied) == sorted(sources)

    original, copy = _portal(emulator, sources), _portal(second, copied)
    # Initech is associated with no activity, so it is not exported, nor is Jane's link to it
    assert "Left out 1 association(s) to records outside the export." in stdout
    assert original["contacts/jane-doe"]["associations"] >= {("companies/outside", 279)}
    original["contacts/jane-doe"]["associations"].discard(("companies/outside", 279))
    assert copy == original
    # the loner contact is associated with no activity: not exported
    assert len([a for a in original if a.startswith("contacts/")]) == 2
    assert ("companies/acme-gmbh", 1) in original["contacts/jane-doe"]["associations"]

    code, o, e = cli("plan", "--project", out, "--base-url", second.base_url)
    assert code == 0 and "No changes." in o, o + e


def _one_line_error(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 1, out + err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_out_inside_the_project_is_refused(run: Run, golden: Path) -> None:
    message = _one_line_error(run("export", "--project", golden, "--out", golden / "copy"))
    assert "is inside the project" in message and "loaded as this project's spec" in message
    assert not (golden / "copy").exists()
    assert "is inside the project" in _one_line_error(
        run("export", "--project", golden, "--out", golden)
    )


def test_a_non_empty_out_is_refused_unless_forced(
    run: Run, golden: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    message = _one_line_error(run("export", "--project", golden, "--out", out))
    assert "is not empty" in message and "--force" in message
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]

    export(run, golden, out, "--force")
    assert (out / "notes.txt").read_text() == "mine\n"
    assert (out / "calls.yaml").exists()


def test_force_replaces_an_earlier_export(
    run: Run, cli: Cli, golden: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    export(run, golden, out)
    (out / "reconciler.yaml").write_text("name: kept\ntimezone: Europe/Berlin\n")
    code, stdout, stderr = run("export", "--project", golden, "--out", out, "--force",
                               "--types", "calls")
    assert code == 0, stdout + stderr
    # meetings.yaml of the first export would otherwise stay and be loaded with the rest
    assert sorted(p.name for p in out.glob("*.yaml")) == [
        "calls.yaml", "companies.yaml", "contacts.yaml", "reconciler.yaml"
    ]
    assert (out / "reconciler.yaml").read_text() == "name: kept\ntimezone: Europe/Berlin\n"
    assert cli("validate", out)[0] == 0


def test_unknown_type_is_refused(run: Run, golden: Path, tmp_path: Path) -> None:
    message = _one_line_error(
        run("export", "--project", golden, "--out", tmp_path / "x", "--types", "meetings,quotes")
    )
    assert ("--types: unknown type 'quotes'; export takes meetings, calls, notes, tasks, "
            "emails, contacts, companies, deals, tickets") in message
    assert not (tmp_path / "x").exists()


def test_types_and_since_choose_the_activities(
    run: Run, golden: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    export(run, golden, out, "--types", "calls", "--since", "2026-11-01")
    records = json.loads((out / "sources.json").read_text("utf-8"))["records"]
    assert sorted(records) == [
        "calls/intro-call-1", "companies/globex", "contacts/jane-doe",
    ]
    assert not (out / "meetings.yaml").exists()

    message = _one_line_error(run("export", "--project", golden, "--out", tmp_path / "y",
                                  "--since", "last tuesday-ish"))
    assert message.startswith("Error: --since: ") or "--since: " in message


def test_since_takes_a_task_by_its_due_date(run: Run, golden: Path, tmp_path: Path) -> None:
    """A task's ``hs_timestamp`` is its due date (facts §14): ``--since`` reads it so."""
    (golden / "tasks.yaml").write_text(
        "tasks:\n"
        "  made-last-week-due-before:\n"
        "    subject: Overdue follow-up\n"
        "    due: 2026-10-20T10:00:00+02:00\n"
        "    associations: [{contact: jane}]\n"
        "  due-after:\n"
        "    subject: Send the contract\n"
        "    due: 2026-11-25T10:00:00+01:00\n"
        "    associations: [{contact: jane}]\n",
        "utf-8",
    )
    out = tmp_path / "copy"
    export(run, golden, out, "--types", "tasks", "--since", "2026-11-01")
    records = json.loads((out / "sources.json").read_text("utf-8"))["records"]
    # (the copy names records by their subject)
    assert [a for a in records if a.startswith("tasks/")] == ["tasks/send-the-contract"]


def test_search_past_its_cap_pages_by_object_id(
    run: Run, golden: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search stops at 10,000 results; export starts a new query after the last id seen.
    (The page size is made tiny here rather than creating 10,000 meetings.)"""
    from reconciler.export import reading

    monkeypatch.setattr(reading, "_RESULTS_PER_QUERY", 1)
    out = tmp_path / "copy"
    export(run, golden, out)
    records = json.loads((out / "sources.json").read_text("utf-8"))["records"]
    assert len([a for a in records if a.startswith(("meetings/", "calls/"))]) == 4


def _create_label(emu: Emulator, name: str, label: str) -> None:
    import httpx

    answer = httpx.post(
        f"{emu.base_url}/crm/associations/v4/meetings/contacts/labels",
        json={"name": name, "label": label}, headers={"Authorization": f"Bearer {emu.token}"},
    )
    assert answer.status_code == 200, answer.text


def test_a_user_defined_label_is_exported_by_key_not_by_its_portal_type_id(
    run: Run, cli: Cli, tmp_path: Path, emulator: Emulator, second: Emulator
) -> None:
    from tests.helpers import write_project

    golden = write_project(tmp_path / "labelled", {
        "reconciler.yaml": "name: labelled\n",
        "spec.yaml": """\
            contacts: {ann: {email: ann@example.com}}
            meetings:
              demo:
                title: Demo
                start: 2026-11-23T10:00:00Z
                associations:
                  - contact: ann
                    label: Decision maker
                    category: USER_DEFINED
            """,
    })
    _create_label(emulator, "decision_maker", "Decision maker")
    _create_label(second, "champion", "Champion")  # the second portal numbers labels otherwise
    _create_label(second, "decision_maker", "Decision maker")
    out = tmp_path / "copy"
    export(run, golden, out)
    text = (out / "meetings.yaml").read_text("utf-8")
    assert "- contact: ann-example.com\n        label: decision_maker\n" in text
    schema = (out / "schema.yaml").read_text("utf-8")
    assert "  labels:\n    decision_maker:\n      between: meetings/contacts\n" in schema

    assert cli("apply", "--project", out, "--auto-approve", "--base-url", second.base_url)[0] == 0
    copied = _state_ids(out)
    with _client(second) as client:
        linked = client.read_associations("meetings", "contacts", [copied["meetings/demo"]])
        labels = {label.type_id: label.label for label in
                  client.association_labels("meetings", "contacts")}
    assert {labels[t] for _to, t in linked[copied["meetings/demo"]]} == {"Decision maker"}


def test_a_labelled_association_plans_no_changes_after_apply(
    run: Run, tmp_path: Path, emulator: Emulator
) -> None:
    from tests.helpers import write_project

    project = write_project(tmp_path / "labelled", {
        "reconciler.yaml": "name: labelled\n",
        "spec.yaml": """\
            contacts: {ann: {email: ann@example.com}}
            meetings:
              demo:
                title: Demo
                start: 2026-11-23T10:00:00Z
                associations:
                  - {contact: ann, label: Decision maker, category: USER_DEFINED}
            """,
    })
    _create_label(emulator, "decision_maker", "Decision maker")
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    code, out, err = run("plan", "--project", project)
    assert code == 0 and "No changes." in out, out + err


def test_the_files_say_what_exported_them_and_times_carry_the_project_offset(
    run: Run, golden: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    export(run, golden, out, "--types", "meetings")
    lines = (out / "meetings.yaml").read_text("utf-8").splitlines()
    assert lines[0] == "# yaml-language-server: $schema=schemas/spec.schema.json"
    assert (out / "schemas" / "spec.schema.json").is_file()
    assert lines[1].startswith("# Exported by `reconciler export` (hubspot-reconciler ")
    assert "from target local (portal 1234567) at 20" in lines[1]
    text = "\n".join(lines)
    assert 'start: "2026-11-23T10:00:00+01:00"' in text  # Europe/Berlin, as the project says
    assert "owner: bob@example.com" in text  # the owners API's email, not the id 1002
    assert "reconciler_key" not in text and "hs_createdate" not in text


def test_an_original_can_be_adopted_by_import_with_its_source_id(
    run: Run, golden: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    export(run, golden, out)
    sources = json.loads((out / "sources.json").read_text("utf-8"))["records"]
    code, stdout, stderr = run("import", "meetings/kickoff", sources["meetings/kickoff"],
                               "--project", out, "--auto-approve")
    assert code == 1 and "--from-project golden-5k2m9q" in stderr, stdout + stderr
    code, stdout, stderr = run("import", "meetings/kickoff", sources["meetings/kickoff"],
                               "--project", out, "--from-project", "golden-5k2m9q",
                               "--auto-approve")  # the golden project's record, on purpose
    assert code == 0, stdout + stderr
    assert f"Imported meetings/kickoff (HubSpot id {sources['meetings/kickoff']})" in stdout


def test_a_portal_target_needs_the_project_id(run: Run, tmp_path: Path) -> None:
    from tests.helpers import write_project

    project = write_project(tmp_path / "noid", {
        "reconciler.yaml": "name: noid\ntargets:\n  golden: {}\n",
    })
    message = _one_line_error(
        run("export", "--project", project, "--target", "golden", "--out", tmp_path / "x")
    )
    assert "needs the project's id: run `reconciler init" in message


@pytest.mark.slow
@pytest.mark.contract(False)  # the same kinds of exchange are checked above, 10,000 times fewer
def test_more_calls_than_search_returns_are_all_exported(
    run: Run, tmp_path: Path, emulator: Emulator
) -> None:
    """Search stops at 10,000 results (facts §7): 10,050 calls still all come out."""
    from reconciler.hubspot.records import CreateInput
    from tests.helpers import write_project

    project = write_project(tmp_path / "big", {"reconciler.yaml": "name: big\n"})
    inputs = [
        CreateInput(f"c{n}", {"hs_timestamp": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
                              "hs_call_title": "Check-in"})
        for n in range(10_050)
    ]
    with _client(emulator) as client:
        for start in range(0, len(inputs), 100):
            assert not client.batch_create("calls", inputs[start:start + 100]).errors
    out = tmp_path / "copy"
    code, stdout, stderr = run("export", "--project", project, "--out", out, "--types", "calls")
    assert code == 0, stdout + stderr
    assert "Exported 10050 calls" in stdout
    records = json.loads((out / "sources.json").read_text("utf-8"))["records"]
    assert len(records) == 10_050 and "calls/check-in-10050" in records
    assert sorted(p.name for p in out.glob("calls*.yaml")) == [
        "calls.part2.yaml", "calls.part3.yaml", "calls.yaml"
    ]
