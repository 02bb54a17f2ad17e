"""`reconciler init [DIR]` scaffolds a project; commands find the project from a sub-folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.base import main
from reconciler.loading.project_settings import load_project_settings
from reconciler.workflow.scaffold import workflow_template
from tests.helpers import Run, stored, write_project
from tests.manage.test_gitops import (
    GITOPS,
    WORKFLOW,
    _yaml,
    check_command_line,
    reconciler_commands,
)

REQUIREMENTS = GITOPS / "requirements.txt"


@pytest.fixture
def offline(capsys: pytest.CaptureFixture[str]) -> Run:
    """The CLI for commands that talk to no portal (init, validate)."""

    def invoke(*args: str | Path) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def test_init_scaffolds_a_project_that_validates_and_applies(
    run: Run, offline: Run, tmp_path: Path, emulator: Any
) -> None:
    root = tmp_path / "new" / "acme"
    code, out, err = offline("init", root, "--name", "Acme Demo")
    assert code == 0, err
    settings = load_project_settings(root)
    assert settings.name == "Acme Demo"
    assert settings.id is not None and re.fullmatch(r"acme-demo-[0-9a-f]{8}", settings.id)
    assert f"id: {settings.id}" in out and "Commit reconciler.yaml" in out
    assert (root / ".gitignore").read_text() == ".reconciler/\n"
    example = (root / "example.yaml").read_text()
    assert example.startswith("# yaml-language-server: $schema=schemas/spec.schema.json\n")
    assert (root / "reconciler.yaml").read_text().startswith(
        "# yaml-language-server: $schema=schemas/project.schema.json\n"
    )
    assert (root / "schemas" / "spec.schema.json").is_file()
    assert (root / "schemas" / "project.schema.json").is_file()
    assert not (root / ".github").exists()

    code, out, err = offline("validate", root)
    assert code == 0 and "OK: 3 records" in out, out + err
    code, out, err = run("apply", "--project", root, "--auto-approve")
    assert code == 0, out + err
    (contact,) = stored(emulator, "contacts")
    assert contact["properties"]["reconciler_project"] == settings.id

    # a second init: the project has its id; nothing to do
    code, _, err = offline("init", root)
    assert code == 1 and "already has an id" in err


def test_init_gitops_writes_the_one_workflow_for_any_number_of_targets(
    tmp_path: Path, offline: Run
) -> None:
    root = tmp_path / "fresh"
    code, out, err = offline("init", "--project", root, "--gitops")
    assert code == 0, err
    workflow = root / ".github" / "workflows" / "reconcile.yml"
    assert workflow.read_text() == WORKFLOW.read_text()
    assert (root / "requirements.txt").read_text() == REQUIREMENTS.read_text()
    assert "SANDBOX_READ_TOKEN" in out and "HUBSPOT_PRODUCTION_TOKEN" in out, out
    targets = load_project_settings(root).targets
    assert targets["production"]["protected"] is True and "sandbox" in targets
    assert offline("validate", root)[0] == 0

    # the workflow's matrix comes from reconciler.yaml: the same file for any targets
    other = write_project(tmp_path / "other", {"reconciler.yaml": """\
        name: other
        targets:
          staging-a:
            token_env: STAGING_A_TOKEN
          staging-b:
            token_env: STAGING_B_TOKEN
          staging-c:
            token_env: STAGING_C_TOKEN
          live:
            token_env: LIVE_TOKEN
            protected: true
        """})
    code, out, err = offline("init", other, "--gitops")
    assert code == 0, err
    assert (other / ".github" / "workflows" / "reconcile.yml").read_text() == workflow_template()
    for name in ("STAGING_A", "STAGING_B", "STAGING_C", "LIVE"):
        assert f"{name}_READ_TOKEN" in out and f"{name}_TOKEN (write" in out, out
    assert "live, reconcile-approval" in out
    for argv in reconciler_commands(_yaml(other / ".github" / "workflows" / "reconcile.yml")):
        check_command_line(argv)
    # already there: kept; the id stays
    project_id = load_project_settings(other).id
    code, out, err = offline("init", other, "--gitops")
    assert code == 0 and "Kept" in out and f"keeps its id: {project_id}" in out, out + err


def test_init_gitops_refuses_a_target_ci_cannot_name_a_secret_for(
    tmp_path: Path, offline: Run
) -> None:
    root = write_project(tmp_path / "p", {"reconciler.yaml": """\
        name: p
        targets:
          a-b:
            token_env: A_TOKEN
          a_b:
            token_env: B_TOKEN
        """})
    code, _, err = offline("init", root, "--gitops")
    assert code == 1 and "would share the secret A_B_READ_TOKEN" in err, err
    located, summary = err.strip().splitlines()  # the problem at its line, then the count
    assert "reconciler.yaml:5:3: targets.a_b: " in located and summary.startswith("Error: ")
    assert not (root / ".github").exists() and "id:" not in (root / "reconciler.yaml").read_text()


def test_the_packaged_workflow_is_the_example_one() -> None:
    assert workflow_template() == WORKFLOW.read_text()


def test_commands_find_the_project_above_as_git_does(
    run: Run, offline: Run, project: Path, monkeypatch: pytest.MonkeyPatch, emulator: Any
) -> None:
    deep = project / "sub" / "deeper"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    code, out, err = run("apply", "--auto-approve")
    assert code == 0, out + err
    assert (project / ".reconciler" / "state" / "local.json").is_file()
    assert not (deep / ".reconciler").exists()
    code, out, err = run("plan", "--detailed-exitcode")
    assert code == 0, out + err
    code, out, err = offline("validate")
    assert code == 0 and "../.." in out, out + err
    # a folder with no project file above keeps the old meaning: this folder
    lonely = project.parent / "lonely"
    lonely.mkdir()
    monkeypatch.chdir(lonely)
    code, out, err = offline("validate")
    assert code == 0 and "0 records" in out, out + err
