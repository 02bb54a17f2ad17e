"""The example workflow's reconciler steps, job by job, against the emulator, with no state
kept between jobs (as in CI): the PR plan, the merge apply of a fresh saved plan and its
comparison with the PR's, and the drift report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from tests.helpers import Run, stored
from tests.manage.test_gitops import GITOPS, WORKFLOW, _shell_commands

SANDBOX_PORTAL = 24681357  # examples/gitops/reconciler.yaml: targets.sandbox.portal_id


def job_commands(job: str) -> list[list[str]]:
    """The reconciler commands of one job, in order, with their ``> FILE`` if any."""
    workflow = YAML(typ="safe", pure=True).load(WORKFLOW.read_text(encoding="utf-8"))
    found: list[list[str]] = []
    for step in workflow["jobs"][job]["steps"]:
        for argv in _shell_commands(step.get("run", "")):
            if argv[0] == "reconciler":
                found.append(argv[1:])
    return found


def normalised(plan_file: Path) -> list[dict[str, Any]]:
    """What the merge job compares (its jq filter): each change, without ids and sources."""
    keep = ("action", "address", "changes", "add_associations", "remove_associations")
    return [{k: c.get(k) for k in keep} for c in json.loads(plan_file.read_text())["changes"]]


@pytest.fixture
def repo(tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "demo-data"
    shutil.copytree(GITOPS, root, ignore=shutil.ignore_patterns(".reconciler"))
    settings = root / "reconciler.yaml"
    if "\nid:" not in settings.read_text():  # `reconciler init` writes it
        settings.write_text(settings.read_text() + "id: acme-sales-demo-01\n")
    emulator.set_config(portal_id=SANDBOX_PORTAL)
    monkeypatch.setenv("HUBSPOT_SANDBOX_TOKEN", emulator.token)
    monkeypatch.chdir(root)
    return root


def run_job(run: Run, root: Path, job: str) -> dict[str, tuple[int, str]]:
    """A fresh checkout (no .reconciler), then the job's commands; output by command."""
    shutil.rmtree(root / ".reconciler", ignore_errors=True)
    outputs: dict[str, tuple[int, str]] = {}
    for argv in job_commands(job):
        code, out, err = run(*argv)
        outputs[" ".join(argv)] = (code, out + err)
    return outputs


def test_pr_plan_merge_apply_and_drift_without_kept_state(
    run: Run, repo: Path, emulator: Any
) -> None:
    pr = run_job(run, repo, "plan")
    assert all(code == 0 for code, _ in pr.values()), pr
    markdown = pr["plan --target sandbox --format markdown"][1]
    assert markdown.startswith("### reconciler plan for sandbox\n\n| target | create |")
    pr_plan = repo / "plan.json"
    assert pr_plan.exists()
    shutil.copy(pr_plan, repo.parent / "pr-plan.json")

    merge = run_job(run, repo, "apply")
    assert all(code == 0 for code, _ in merge.values()), merge
    assert "Apply complete: 15 created" in merge["apply --target sandbox --plan plan.json"][1]
    assert normalised(repo.parent / "pr-plan.json") == normalised(repo / "plan.json")
    assert len(stored(emulator, "meetings")) == 3

    drift = run_job(run, repo, "drift")
    (check,) = [k for k in drift if "--detailed-exitcode" in k]
    assert drift[check][0] == 0, drift  # the portal matches main

    (company,) = [r for r in stored(emulator, "companies") if r["properties"]["name"] == "Globex Corporation"]
    response = httpx.patch(
        f"{emulator.base_url}/crm/v3/objects/companies/{company['id']}",
        headers={"Authorization": f"Bearer {emulator.token}"},
        json={"properties": {"city": "Springfield"}},
    )
    assert response.status_code == 200, response.text
    drift = run_job(run, repo, "drift")
    code, out = drift[check]
    assert code == 2 and "companies/globex" in out, out


def test_production_takes_only_the_showcase_account(run: Run, repo: Path) -> None:
    code, out, err = run("plan", "--target", "production", "--offline", "--json")
    assert code == 0, out + err
    files = {Path(c["source"]["file"]).name for c in json.loads(out)["changes"]}
    assert files == {"northwind.yaml"}
