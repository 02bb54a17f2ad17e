"""The GitOps workflow as GitHub reads it: valid against GitHub's workflow schema (the one
check-jsonschema ships, so no network is needed), and installing the reconciler the one way
the README and the example repo's README say: ``pip install -r requirements.txt``, which
pins one reviewed commit.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from reconciler.workflow.scaffold import requirements_template, workflow_template

REPO = Path(__file__).resolve().parents[2]
GITOPS = REPO / "examples" / "gitops"
WORKFLOW = GITOPS / ".github" / "workflows" / "reconcile.yml"
INSTALL = "pip install -r requirements.txt"


def check_workflow_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", str(path)],
        capture_output=True, text=True, check=False,
    )


def test_the_workflow_is_valid_against_githubs_workflow_schema(tmp_path: Path) -> None:
    done = check_workflow_schema(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    # the check has teeth: a misspelt permission scope is refused
    broken = tmp_path / "reconcile.yml"
    text = WORKFLOW.read_text()
    assert "pull-requests: write" in text
    broken.write_text(text.replace("pull-requests: write", "pull-request: write", 1))
    done = check_workflow_schema(broken)
    assert done.returncode == 1 and "pull-request" in done.stdout, done.stdout + done.stderr


def test_init_writes_the_example_workflow_and_requirements() -> None:
    assert workflow_template() == WORKFLOW.read_text()
    assert requirements_template() == (GITOPS / "requirements.txt").read_text()


def _steps(workflow: Any) -> dict[str, list[dict[str, Any]]]:
    return {name: job.get("steps", []) for name, job in workflow["jobs"].items()}


def test_every_job_installs_the_pinned_version_before_it_runs_the_reconciler() -> None:
    workflow = YAML(typ="safe", pure=True).load(WORKFLOW.read_text())
    for job, steps in _steps(workflow).items():
        scripts = [step.get("run", "") for step in steps]
        installs = [s for s in scripts if "pip" in s]
        uses = [i for i, s in enumerate(scripts) if re.search(r"^\s*(if !? ?)?reconciler ", s,
                                                              re.M)]
        if not uses:
            assert installs == [], job
            continue
        assert [s.strip() for s in installs] == [INSTALL], job
        assert scripts.index(installs[0]) < uses[0], job
    (pin,) = [line for line in requirements_template().splitlines()
              if line and not line.startswith("#")]
    assert re.fullmatch(r"hubspot-reconciler @ git\+https://\S+@[0-9a-f]{40}", pin), pin


def test_the_readmes_install_it_as_the_workflow_does() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### A demo-data repo with CI"):]
    section = section[: section.index("\n### ", 5)]
    example = (GITOPS / "README.md").read_text()
    for text in (section, example):
        assert INSTALL in text
        assert "pip install hubspot-reconciler" not in text
        assert "RECONCILER_REF" not in text
