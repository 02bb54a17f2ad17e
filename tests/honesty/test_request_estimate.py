"""The request estimate tells the truth (#19): what ``plan`` says an apply will take is
within 10 % of the requests the emulator counted while that apply ran, for a plan of each
action: its reads (made again), marker properties, batches, reads back, association
changes, label reads, calendar meetings and the searches while search catches up."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import write_project
from tests.honesty.conftest import edit, generated_project
from tests.schema.portal import PROJECT as SCHEMA_PROJECT
from tests.schema.portal import SPEC as SCHEMA_SPEC

Run = Callable[..., tuple[int, str, str]]
ESTIMATE = re.compile(r"Apply will take about ([\d,]+) request\(s\)")
SENT = re.compile(r"\((\d+) HTTP requests\)")


def _estimate(run: Run, root: Path, *args: str) -> tuple[int, str]:
    """The text plan's estimate; the JSON plan's ``estimate``, made from the same files
    (a plan leaves the refresh log the next one starts from), says the same."""
    files, kept = root / ".reconciler", root.parent / "kept"
    shutil.rmtree(kept, ignore_errors=True)
    if files.exists():
        shutil.copytree(files, kept)
    code, document, err = run("plan", "--project", root, "--json", *args)
    shutil.rmtree(files, ignore_errors=True)
    if kept.exists():
        shutil.copytree(kept, files)
    code, out, err = run("plan", "--project", root, *args)
    assert code in (0, 2), out + err
    found = ESTIMATE.search(out)
    assert found is not None, out
    assert code in (0, 2), document + err
    estimate = int(found.group(1).replace(",", ""))
    assert json.loads(document)["estimate"] == {"requests": estimate}, document
    return estimate, out


def _sent_by_apply(run: Run, emulator: Any, root: Path, *args: str) -> int:
    """What the emulator counted while apply ran; apply reports the same count, and the
    estimate it prints (when it prints one) is the plan's."""
    emulator.clear_requests()
    code, out, err = run("apply", "--project", root, "--auto-approve", *args)
    assert code == 0, out + err
    sent = len(emulator.requests())
    reported = SENT.search(out)
    assert reported is not None and int(reported.group(1)) == sent, (sent, out)
    return sent


def _honest(
    run: Run, emulator: Any, root: Path, expect: str, *args: str, apply: tuple[str, ...] = (),
    exact: bool = True,
) -> None:
    """The plan holds ``expect``; its estimate is what its apply sent (``exact``), or
    within 10 % of it."""
    estimate, out = _estimate(run, root, *args)
    assert expect in out, out
    sent = _sent_by_apply(run, emulator, root, *args, *apply)
    if exact:
        assert estimate == sent, (estimate, sent, out)
    assert abs(estimate - sent) <= sent / 10, (estimate, sent, out)


def _apply(run: Run, root: Path) -> None:
    code, out, err = run("apply", "--project", root, "--auto-approve")
    assert code == 0, out + err


def test_creates_updates_association_changes_and_archives(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    root = generated_project(tmp_path / "p", contacts=150, meetings=1)
    # (the first apply also makes the marker properties on every type)
    _honest(run, emulator, root, "Plan: 450 to create")
    edit(root, '"Call with {{ parent.first_name }}"', '"Call to {{ parent.first_name }}"')
    _honest(run, emulator, root, "150 to update")
    edit(root, '    associations:\n      - contact: "{{ parent.key }}"\n  calls:', "  calls:")
    _honest(run, emulator, root, "150 to update")  # (the meetings' associations removed)
    edit(root, "  calls:", '    associations:\n      - contact: "{{ parent.key }}"\n  calls:')
    _honest(run, emulator, root, "150 to update")  # (and added again)
    config = root / "reconciler.yaml"
    config.write_text(config.read_text().replace("default: 150", "default: 120"))
    _honest(run, emulator, root, "90 to archive", apply=("--allow-archives", "90"))


def test_adopts_after_the_state_is_lost_and_dedupes(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    root = generated_project(tmp_path / "p", contacts=60, meetings=1)
    _apply(run, root)
    state_dir = root / ".reconciler" / "state"
    records = json.loads((state_dir / "local.json").read_text())["records"]
    for path in state_dir.glob("local.json*"):
        path.unlink()
    edit(root, '"Call with {{ parent.first_name }}"', '"Call to {{ parent.first_name }}"')
    _honest(run, emulator, root, "180 to adopt")

    # a copy of a call, marker and all: the extra record is archived
    call = records["calls/c001-call1"]["id"]
    headers = {"Authorization": f"Bearer {emulator.token}"}
    original = httpx.get(
        f"{emulator.base_url}/crm/v3/objects/calls/{call}", headers=headers, timeout=10,
        params={"properties": "reconciler_key,reconciler_project,hs_timestamp"},
    ).json()["properties"]
    copy = httpx.post(f"{emulator.base_url}/crm/v3/objects/calls", headers=headers, timeout=10,
                      json={"properties": {k: original[k] for k in (
                          "reconciler_key", "reconciler_project", "hs_timestamp")}})
    assert copy.status_code == 201, copy.text
    _honest(run, emulator, root, "1 to dedupe", "--dedupe")


def test_moves_and_calendar_meetings(run: Run, emulator: Any, tmp_path: Path) -> None:
    contacts = "".join(f"  c{n}: {{email: c{n}@example.com}}\n" for n in range(30))
    meetings = "".join(
        f"  demo{n}:\n    title: Demo {n}\n    start: 2026-12-0{1 + n % 5}T14:00:00+01:00\n"
        f"    duration: 1h\n    calendar: {{organizer: \"5001\", reminders: [15m]}}\n"
        f"    associations:\n      - contact: c{n}\n"
        for n in range(12)
    )
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": "name: moving\nid: moving-01\ndefault_owner: alice@example.com\n",
        "spec.yaml": f"contacts:\n{contacts}meetings:\n{meetings}",
    })
    _honest(run, emulator, root, "12 to create")
    moved = "".join(f"  - {{from: contacts/c{n}, to: contacts/renamed{n}}}\n" for n in range(20))
    spec = (root / "spec.yaml").read_text()
    for n in range(20):
        spec = spec.replace(f"  c{n}: ", f"  renamed{n}: ").replace(
            f"contact: c{n}\n", f"contact: renamed{n}\n")
    (root / "spec.yaml").write_text(spec + f"moved:\n{moved}")
    _honest(run, emulator, root, "20 to move")


def test_a_first_schema_apply_then_schema_updates_removals_and_adopts(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    # a custom property in its own group, two pipelines and a label into an empty portal,
    # with the tool's marker properties on the four types written (and the label not read
    # by name: apply learns its id when it makes it)
    root = write_project(tmp_path / "p", {"reconciler.yaml": SCHEMA_PROJECT,
                                          "spec.yaml": SCHEMA_SPEC})
    _honest(run, emulator, root, "Schema: 5 to create. Plan: 4 to create")
    spec = root / "spec.yaml"
    changed = SCHEMA_SPEC.replace("label: Demo segment", "label: Segment").replace(
        "demo_info: {label: Demo info}", "demo_info: {label: Demo information}").replace(
        "label: EMEA Sales", "label: EMEA deals").replace("label: Champion,", "label: Champ,")
    changed = changed.replace(
        "          - {value: ent, label: Enterprise}\n",
        "          - {value: ent, label: Enterprise}\n          - {value: mid, label: Mid}\n",
    ).replace(
        "          lost: {label: Lost, probability: 0.0}\n",
        "          lost: {label: Lost, probability: 0.0}\n"
        "          paused: {label: Paused, probability: 0.1}\n",
    )
    spec.write_text(changed)
    _honest(run, emulator, root, "Schema: 4 to update, 1 to create.")
    removed = changed.replace("          - {value: mid, label: Mid}\n", "").replace(
        "          paused: {label: Paused, probability: 0.1}\n", "").replace(
        "schema:\n", "schema:\n  removed:\n    - option: companies/demo_segment/mid\n"
        "    - stage: deals/emea/paused\n", 1)
    spec.write_text(removed)
    _honest(run, emulator, root, "Schema: 1 to update, 1 to archive.")
    for path in (root / ".reconciler" / "state").glob("local.json*"):
        path.unlink()  # the state lost: the schema and the records are adopted
    _honest(run, emulator, root, "Schema: 5 to adopt.")
    # a retype (the property holds data), then the property archived
    retyped = removed.replace("type: enumeration", "type: string").replace(
        "        options:\n          - {value: smb, label: SMB}\n"
        "          - {value: ent, label: Enterprise}\n", "")
    spec.write_text(retyped)
    _honest(run, emulator, root, "1 to retype", "--allow-schema-data-loss")
    start, end = retyped.index("  properties:"), retyped.index("  pipelines:")
    gone = (retyped[:start] + retyped[end:]).replace(", properties: {demo_segment: ent}", "")
    spec.write_text(gone.replace(
        "  removed:\n", "  removed:\n    - property: companies/demo_segment\n"))
    _honest(run, emulator, root, "Schema: 1 to archive.", "--allow-schema-data-loss")
    code, out, err = run("plan", "--project", root)  # (removed: still names what is gone)
    assert code == 0 and "No changes." in out, out + err


def test_marker_rewrites(run: Run, emulator: Any, tmp_path: Path) -> None:
    root = generated_project(tmp_path / "p", contacts=150, meetings=1)
    _apply(run, root)
    config = root / "reconciler.yaml"
    config.write_text(config.read_text().replace("id: honest-plans", "id: honest-again"))
    code, out, err = run("state", "rebind", "--project", root, "--yes",
                         "--state", root / ".reconciler" / "state" / "local.json")
    assert code == 0, out + err
    # (the search for records carrying the new markers, then the rewrites, per type)
    _honest(run, emulator, root, "450 marker rewrites")


def test_label_reads(run: Run, emulator: Any, tmp_path: Path) -> None:
    made = httpx.post(
        f"{emulator.base_url}/crm/associations/v4/contacts/companies/labels", timeout=10,
        headers={"Authorization": f"Bearer {emulator.token}"},
        json={"label": "Partner", "name": "partner"},
    )
    assert made.status_code in (200, 201), made.text
    companies = "".join(f"  co{n}: {{name: Co {n}, domain: co{n}.example}}\n" for n in range(5))
    contacts = "".join(
        f"  c{n}:\n    email: c{n}@example.com\n    associations: "
        f"[{{company: co{n % 5}, label: Partner, category: USER_DEFINED}}]\n" for n in range(30))
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": "name: labels\nid: labels-01\n",
        "spec.yaml": f"companies:\n{companies}contacts:\n{contacts}",
    })
    _honest(run, emulator, root, "35 to create")  # (the label read once for the pair)
    spec = root / "spec.yaml"
    spec.write_text(spec.read_text().replace("company: co1,", "company: co2,"))
    _honest(run, emulator, root, "6 to update")  # (and again for the changes)


def _honest_saved(
    run: Run, emulator: Any, root: Path, expect: str, *apply: str
) -> None:
    """A saved plan holding ``expect``: what ``apply --plan --check`` and ``apply --plan``
    say applying it takes is what ``apply --plan`` sent (its check's reads, its records read
    back, its writes; not the reads the plan made)."""
    saved = root.parent / "plan.json"
    code, out, err = run("plan", "--project", root, "--out", saved)
    assert code in (0, 2) and expect in out, out + err
    code, out, err = run("apply", "--project", root, "--plan", saved, "--check", *apply)
    assert code == 0, out + err
    checked = ESTIMATE.search(out)
    assert checked is not None, out
    emulator.clear_requests()
    code, out, err = run("apply", "--project", root, "--plan", saved, *apply)
    assert code == 0, out + err
    printed, reported = ESTIMATE.search(out), SENT.search(out)
    assert printed is not None and reported is not None, out
    sent = len(emulator.requests())
    assert int(checked.group(1)) == int(printed.group(1)) == int(reported.group(1)) == sent, (
        checked.group(1), sent, out)


def test_saved_plans(run: Run, emulator: Any, tmp_path: Path) -> None:
    root = generated_project(tmp_path / "p", contacts=150, meetings=1)
    _apply(run, root)
    edit(root, '"Call with {{ parent.first_name }}"', '"Call to {{ parent.first_name }}"')
    config = root / "reconciler.yaml"
    config.write_text(config.read_text().replace("default: 150", "default: 120"))
    _honest_saved(run, emulator, root, "90 to archive", "--allow-archives", "90")
    config.write_text(config.read_text().replace("default: 120", "default: 130"))
    _honest_saved(run, emulator, root, "30 to create")  # (the check scans for them)


def test_notes_tasks_emails_moves_and_releases(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    contacts = "".join(f"  c{n}: {{email: c{n}@example.com}}\n" for n in range(120))
    notes = "".join(f"  n{n}: {{body: Note {n}, timestamp: \"-2d 11:30\", "
                    f"associations: [{{contact: c{n}}}]}}\n" for n in range(120))
    tasks = "".join(f"  t{n}: {{subject: Task {n}, due: \"+1d 10:00\", status: not_started, "
                    f"associations: [{{contact: c{n}}}]}}\n" for n in range(120))
    emails = "".join(f"  e{n}: {{subject: Mail {n}, text: Hi, direction: outgoing, "
                     f"timestamp: \"-1d 10:00\", associations: [{{contact: c{n}}}]}}\n"
                     for n in range(120))
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": "name: engaged\nid: engaged-01\n",
        "spec.yaml": f"contacts:\n{contacts}notes:\n{notes}tasks:\n{tasks}emails:\n{emails}",
    })
    _honest(run, emulator, root, "480 to create")
    spec = root / "spec.yaml"
    text = spec.read_text().replace("body: Note", "body: A note").replace(
        "subject: Task", "subject: A task").replace("subject: Mail", "subject: A mail")
    spec.write_text(text)
    _honest(run, emulator, root, "360 to update")
    text = text.replace("  n0: ", "  first: ").replace("  t1: ", "  second: ")
    text = "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(("  n5:", "  t5:", "  e5:", "  e6:")))
    spec.write_text(text + "moved:\n  - {from: notes/n0, to: notes/first}\n"
                    "  - {from: tasks/t1, to: tasks/second}\n"
                    "removed: [notes/n5, tasks/t5, emails/e5]\n")
    # (a type's moves and releases go in one batch)
    _honest(run, emulator, root, "2 to move, 3 to release", apply=("--allow-archives", "1"))


LARGE = """\
generate:
  contacts:
    key: "c{n:05}"
    count: "{{ vars.contacts }}"
    fields:
      email: "contact{{ n }}@example.com"
    associations:
      - company: "{{ random_choice('north', 'south') }}"
companies:
  north: {name: North, domain: north.example}
  south: {name: South, domain: south.example}
"""


def test_a_plan_of_a_thousand_records_in_batches(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    # 11 batches of contacts, and their associations in batches of 100 (upserts carry none
    # inline). (10,050 contacts count the same, exactly, but take the emulator a minute.)
    root = generated_project(tmp_path / "p", contacts=1_050, generators=LARGE)
    _honest(run, emulator, root, "1052 to create")


def test_association_changes_go_in_batches_of_a_hundred(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    """150 meetings losing their contact, then getting it back: two batches each way (one
    request per association was 150), besides the updates' own batches and the reads."""
    root = generated_project(tmp_path / "p", contacts=150, meetings=1)
    _apply(run, root)
    edit(root, '    associations:\n      - contact: "{{ parent.key }}"\n  calls:', "  calls:")
    emulator.clear_requests()
    _apply(run, root)
    removals = [r for r in emulator.requests() if r["path"].endswith("/batch/labels/archive")]
    assert len(removals) == 2, [r["path"] for r in emulator.requests()]
    edit(root, "  calls:", '    associations:\n      - contact: "{{ parent.key }}"\n  calls:')
    emulator.clear_requests()
    _apply(run, root)
    additions = [r for r in emulator.requests()
                 if r["path"].endswith("/batch/create") and "/associations/" in r["path"]]
    assert len(additions) == 2, [r["path"] for r in emulator.requests()]
