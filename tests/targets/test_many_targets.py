"""Several portals in one command: --target repeated and --all-targets on plan and apply,
side by side, output grouped per target with a summary table, the worst exit code, one
JSON document for all."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from reconciler.state.store import StateStore
from reconciler.workflow.many_targets import worst_exit_code
from tests.helpers import stored, write_project
from tests.targets.conftest import Cli, targets_yaml

SPEC = {
    "accounts.yaml": """\
        companies:
          acme:
            name: Acme Inc
            domain: acme.example
        contacts:
          jane:
            first_name: Jane
            email: jane@acme.example
            associations:
              - company: acme
        """,
    "meetings.yaml": """\
        meetings:
          kickoff:
            title: Kickoff
            start: 2026-12-01T09:00:00Z
            duration: 30m
            associations:
              - contact: jane
        """,
}


def project(tmp_path: Path, emulator: Any, second: Any, **extra: str) -> Path:
    return write_project(tmp_path / "fleet", {
        "reconciler.yaml": targets_yaml(emulator, second, **extra), **SPEC,
    })


def managed(root: Path, target: str) -> dict[str, str]:
    """The records the target's state manages: address → id."""
    state = StateStore(root / ".reconciler" / "state" / f"{target}.json").load()
    return {address: record.id for address, record in state.records.items()}


def summary_table(out: str) -> list[str]:
    lines = out.rstrip("\n").splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("target "))
    return lines[start:]


def test_plan_two_targets_groups_output_and_ends_with_a_summary_table(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = project(tmp_path, emulator, second)
    code, out, err = cli("plan", "--project", root, "-t", "one", "-t", "two",
                         "--detailed-exitcode")
    assert code == 2, out + err
    assert out.index("== target one ==") < out.index("== target two ==")
    assert summary_table(out) == [
        "target  result",
        "one     Plan: 3 to create, 0 to update, 0 to archive.",
        "two     Plan: 3 to create, 0 to update, 0 to archive.",
    ]
    code, out, err = cli("plan", "--project", root, "-t", "one", "-t", "two")
    assert code == 0, out + err  # changes make exit 2 only with --detailed-exitcode


def test_apply_two_targets_applies_each_portal_with_its_own_state(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = project(tmp_path, emulator, second)
    code, out, err = cli("apply", "--project", root, "-t", "one", "-t", "two", "--auto-approve")
    assert code == 0, out + err
    # one combined plan first, then the results, then the table
    assert out.index("== target two ==") < out.index("Apply complete")
    table = summary_table(out)
    assert table[1].startswith("one     Apply complete: 3 created, 0 updated, 0 archived"), out
    assert table[2].startswith("two     Apply complete: 3 created, 0 updated, 0 archived"), out
    for portal in (emulator, second):
        assert [r["properties"]["name"] for r in stored(portal, "companies")] == ["Acme Inc"]
        assert len(stored(portal, "meetings")) == 1
    ids = {n: managed(root, n) for n in ("one", "two")}
    assert set(ids["one"]) == set(ids["two"]) == {
        "companies/acme", "contacts/jane", "meetings/kickoff"
    }
    code, out, err = cli("plan", "--project", root, "--all-targets", "--detailed-exitcode")
    assert code == 0, out + err
    assert summary_table(out)[1:] == [
        "one     No changes. The portal matches the spec.",
        "two     No changes. The portal matches the spec.",
    ]


def test_one_target_failing_does_not_stop_the_other(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any, monkeypatch: Any
) -> None:
    root = project(tmp_path, emulator, second)
    monkeypatch.setenv("TOKEN_TWO", "a-token-the-second-portal-refuses")
    code, out, err = cli("apply", "--project", root, "-t", "one", "-t", "two", "--auto-approve")
    assert code == 1, out + err
    table = summary_table(out)
    assert table[1].startswith("one     Apply complete: 3 created"), out
    assert table[2].startswith("two     error: "), out
    assert len(stored(emulator, "companies")) == 1 and stored(second, "companies") == []
    # and in JSON: one document, an entry per target
    code, out, err = cli("plan", "--project", root, "-t", "one", "-t", "two", "--json")
    assert code == 1, err
    document = json.loads(out)
    assert document["format_version"] == 1
    one, two = document["targets"]
    assert (one["target"], one["ok"], one["error"]) == ("one", True, None)
    assert one["plan"]["changes"] == []
    assert (two["target"], two["ok"], two["plan"]) == ("two", False, None)
    assert two["error"]


def test_a_single_target_keeps_its_own_json_document(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = project(tmp_path, emulator, second)
    code, out, err = cli("plan", "--project", root, "-t", "two", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert "targets" not in document and document["target"] == "two"
    assert len(document["changes"]) == 3


def test_apply_json_for_several_targets(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = project(tmp_path, emulator, second)
    code, out, err = cli("apply", "--project", root, "-t", "one", "-t", "two",
                         "--auto-approve", "--json")
    assert code == 0, out + err
    document = json.loads(out)
    assert document["ok"] is True
    assert [(t["target"], t["exit_code"], sorted(t["result"]["created"]))
            for t in document["targets"]] == [
        (n, 0, ["companies/acme", "contacts/jane", "meetings/kickoff"]) for n in ("one", "two")
    ]


def test_all_targets_takes_every_unprotected_target(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = project(tmp_path, emulator, second, extra_two="    protected: true\n")
    code, out, err = cli("plan", "--project", root, "--all-targets")
    assert code == 0, out + err
    assert "== target one ==" in out and "== target two ==" not in out
    code, out, err = cli("plan", "--project", root, "--all-targets", "-t", "two")
    assert code == 0 and "== target two ==" in out, out + err


def test_flags_that_name_one_target_are_refused_with_several(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = project(tmp_path, emulator, second)
    for extra, flag in (
        (["--state", str(tmp_path / "s.json")], "--state"),
        (["--out", str(tmp_path / "p.json")], "--out"),
        (["--base-url", emulator.base_url], "--base-url"),
    ):
        code, out, err = cli("plan", "--project", root, "-t", "one", "-t", "two", *extra)
        assert code == 1 and f"Error: {flag}" in err, (flag, out, err)
    code, out, err = cli("plan", "--project", root, "-t", "one", "-t", "nowhere")
    assert code == 1 and "unknown target 'nowhere'" in out + err
    assert "one     No changes" not in out  # (one has changes; it is still planned)


def test_the_worst_exit_code_wins() -> None:
    assert worst_exit_code([0, 2, 130, 1]) == 1
    assert worst_exit_code([0, 2, 130]) == 130
    assert worst_exit_code([2, 0]) == 2
    assert worst_exit_code([0, 0]) == 0
    assert worst_exit_code([1, 3]) == 3
    assert worst_exit_code([]) == 0


def _interrupted_after_creating_globex(root: Path, emulator: Any) -> None:
    """What an apply cut off after HubSpot created companies/globex leaves: the record in
    the portal, with this project's markers, and the state's in-flight entry for it."""
    import httpx

    marker = "fleet-demo-01:companies/globex"
    answer = httpx.post(
        f"{emulator.base_url}/crm/v3/objects/companies",
        headers={"Authorization": f"Bearer {emulator.token}"}, timeout=10,
        json={"properties": {"name": "Globex", "reconciler_key": marker,
                             "reconciler_project": "fleet-demo-01"}},
    )
    assert answer.status_code in (200, 201), answer.text
    path = root / ".reconciler" / "state" / "one.json"
    state = json.loads(path.read_text())
    state["in_flight"] = {"batch-1": {
        "object_type": "companies", "addresses": ["companies/globex"],
        "markers": {"companies/globex": marker}, "started_at": time.time() - 3600,
    }}
    path.write_text(json.dumps(state))
    (root / "more.yaml").write_text(
        "companies:\n  globex:\n    name: Globex\n  initech:\n    name: Initech\n"
    )


def test_a_target_that_recovers_reads_alike_alone_and_beside_others(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    """Records an interrupted apply left are counted once, as recovered in the summary, by
    a run over one target and by a run over several alike (the latter also printed a
    "Recovered N record(s)" line above that summary, and only there)."""
    for run, targets in enumerate([("-t", "one"), ("-t", "one", "-t", "two")]):
        emulator.reset()
        second.reset()
        root = project(tmp_path / str(run), emulator, second)
        code, out, err = cli("apply", "--project", root, "-t", "one", "--auto-approve")
        assert code == 0, out + err
        _interrupted_after_creating_globex(root, emulator)
        code, out, err = cli("apply", "--project", root, *targets, "--auto-approve")
        assert code == 0, out + err
        assert "Apply complete: 1 created, 0 updated, 0 archived, 1 recovered" in out, out
        assert "Recovered" not in out, out
        assert [r["properties"]["name"] for r in stored(emulator, "companies")].count(
            "Globex") == 1
