"""`reconciler targets [--json]`: the targets of reconciler.yaml as the GitOps workflow's
matrix takes them (so a target added there needs no edit of the workflow), and names that
could not work in a workflow refused before CI meets them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli.base import main
from tests.helpers import write_project
from tests.manage.test_gitops import GITOPS


def _targets(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["targets", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_example_targets_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _targets(capsys, "--project", str(GITOPS), "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["format_version"] == 1
    assert [t["name"] for t in listed["targets"]] == ["local", "sandbox", "production"]
    local, sandbox, production = listed["targets"]
    assert local["local"] is True
    assert sandbox == {
        "name": "sandbox", "protected": False, "local": False, "portal_id": 24681357,
        "token_env": "HUBSPOT_SANDBOX_TOKEN", "write_secret": "HUBSPOT_SANDBOX_TOKEN",
        "read_secret": "SANDBOX_READ_TOKEN", "state": ".reconciler/state/sandbox.json",
        "concurrency_group": "hubspot-portal-24681357",
        "approval_environment": "reconcile-approval",
    }
    assert production["protected"] is True and production["read_secret"] == "PRODUCTION_READ_TOKEN"
    assert production["approval_environment"] == "production"  # its own reviewers


def test_a_table_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _targets(capsys, "--project", str(GITOPS))
    assert code == 0
    assert out.splitlines()[0].split() == ["target", "protected", "portal", "token", "(write",
                                           "secret)", "read-only", "secret"]
    assert out.splitlines()[3].split() == ["production", "yes", "13579246",
                                           "HUBSPOT_PRODUCTION_TOKEN", "PRODUCTION_READ_TOKEN"]


def test_targets_of_one_portal_share_its_concurrency_group(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = write_project(tmp_path / "p", {"reconciler.yaml": """\
        name: p
        targets:
          demo-a: {token_env: DEMO_A_TOKEN, portal_id: 42}
          demo-b: {token_env: DEMO_B_TOKEN, portal_id: 42, include: [a.yaml]}
          demo.c: {token_env: DEMO_C_TOKEN}
        """})
    code, out, err = _targets(capsys, "-p", str(root), "--json")
    assert code == 0, err
    groups = {t["name"]: t["concurrency_group"] for t in json.loads(out)["targets"]}
    assert groups["demo-a"] == groups["demo-b"] == "hubspot-portal-42"
    assert groups["demo.c"] == "hubspot-target-demo.c"


@pytest.mark.parametrize(("targets", "where", "problem"), [
    ("east: {token_env: GITHUB_EAST}", "3:21: targets.east.token_env",
     "token_env 'GITHUB_EAST' names its secret, and GitHub secret names are"),
    ("github-x: {token_env: X_TOKEN}", "3:3: targets.github-x",
     "its read-only token's secret would be GITHUB_X_READ_TOKEN"),
    ("1east: {token_env: EAST_TOKEN}", "3:3: targets.1east",
     "its read-only token's secret would be 1EAST_READ_TOKEN"),
    ("sandbox-east: {token_env: A_TOKEN}\n  sandbox_east: {token_env: B_TOKEN}",
     "4:3: targets.sandbox_east",
     "it and target sandbox-east would share the secret SANDBOX_EAST_READ_TOKEN"),
])
def test_names_a_workflow_cannot_use_are_refused_at_their_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, targets: str, where: str, problem: str
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "reconciler.yaml").write_text(f"name: p\ntargets:\n  {targets}\n")
    code, out, err = _targets(capsys, "-p", str(root), "--json")
    assert code == 1 and out == ""
    located, summary = err.strip().splitlines()
    assert located.startswith(f"{root / 'reconciler.yaml'}:{where}: cannot run in the CI "
                              "workflow: ") and problem in located, located
    assert summary == "Error: 1 problem found in the spec"


def test_every_target_a_workflow_cannot_use_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "reconciler.yaml").write_text(
        "name: p\ntargets:\n  east:\n    token_env: GITHUB_EAST\n  github-x: {}\n"
    )
    code, _, err = _targets(capsys, "-p", str(root), "--json")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 3
    assert ":4:16: targets.east.token_env: " in lines[0] and ":5:3: targets.github-x: " in lines[1]
