"""The demo-data repo (examples/gitops), its CI workflow, and the pre-commit hook."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from reconciler.cli.base import cli, main
from reconciler.loading.project import load_project
from reconciler.loading.project_settings import load_project_settings
from reconciler.settings import resolve_target
from tests.manage.conftest import Run, state_of, stored

REPO = Path(__file__).resolve().parents[2]
GITOPS = REPO / "examples" / "gitops"
WORKFLOW = GITOPS / ".github" / "workflows" / "reconcile.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"


def _yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def _shell_commands(script: str) -> Iterator[list[str]]:
    """Each `reconciler` command of a `run:` script that starts a line (after `if`/`!`), as
    argv up to its first pipe, redirection or `;` (``"$TARGET"`` stays one word)."""
    for line in script.replace("\\\n", " ").splitlines():
        line = re.sub(r"^\s*(?:if\s+)?(?:!\s+)?", "", line)
        command = re.split(r"\s(?:\|\|?|&&|>>?|;)\s|;\s*then\b", line)[0].rstrip(";")
        if command.startswith("reconciler "):
            yield shlex.split(command, comments=True)


def reconciler_commands(workflow: Any) -> list[list[str]]:
    found = []
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            for argv in _shell_commands(step.get("run", "")):
                if argv[0] == "reconciler":
                    found.append(argv[1:])
    return found


def check_command_line(args: list[str]) -> None:
    """Resolve a command line against the real click tree; a bad command or option raises."""
    command: click.Command = cli
    path = ["reconciler"]
    rest = list(args)
    while isinstance(command, click.Group):
        assert rest, f"`{' '.join(path)}` needs a subcommand"
        name, *rest = rest
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"`{' '.join(path)} {name}`: no such command"
        command, path = sub, [*path, name]
    command.make_context(" ".join(path), rest)  # raises click.UsageError on a bad option


def test_workflow_is_valid_yaml_with_the_expected_shape() -> None:
    workflow = _yaml(WORKFLOW)
    triggers = workflow["on"]
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert "pull_request" in jobs["plan"]["if"]
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    # every job that writes to a portal: one run at a time per portal, never cancelled
    for name in ("apply", "apply-protected", "apply-replanned", "refresh-times", "reseed"):
        concurrency = jobs[name]["concurrency"]
        assert concurrency["group"] == "${{ matrix.target.concurrency_group }}"
        assert concurrency["cancel-in-progress"] is False
        assert jobs[name]["strategy"]["fail-fast"] is False
    assert "github.event_name == 'push'" in jobs["apply"]["if"]


def test_every_reconciler_command_in_the_workflow_exists_with_those_flags() -> None:
    commands = reconciler_commands(_yaml(WORKFLOW))
    assert ["validate", ".", "--format", "github"] in commands
    assert ["targets", "--json"] in commands
    assert any(c[:1] == ["apply"] and "--plan" in c and "--check" in c for c in commands)
    assert any(c[:1] == ["apply"] and "--auto-approve" in c for c in commands)
    for args in commands:
        check_command_line(args)


def test_the_command_check_catches_mistakes() -> None:
    with pytest.raises(click.UsageError):
        check_command_line(["plan", "--formatt", "markdown"])
    with pytest.raises(click.UsageError):
        check_command_line(["plan", "--format", "html"])
    with pytest.raises(AssertionError):
        check_command_line(["deploy"])
    with pytest.raises(AssertionError):
        check_command_line(["state", "nuke"])
    assert reconciler_commands({"jobs": {"j": {"steps": [{"run": (
        'reconciler plan --format markdown > plan.md\n'
        'if ! reconciler apply --target "$TARGET" \\\n --auto-approve | tee x; then'
    )}]}}}) == [["plan", "--format", "markdown"],
                ["apply", "--target", "$TARGET", "--auto-approve"]]


def test_workflow_targets_come_from_the_project_and_production_is_protected() -> None:
    workflow = _yaml(WORKFLOW)
    project = load_project_settings(GITOPS)
    for args in reconciler_commands(workflow):
        if "--target" in args:  # no target named in the workflow: the matrix's
            assert args[args.index("--target") + 1] == "$TARGET"
    targets = {
        name: resolve_target(project, target_name=name, environ={})
        for name in ("local", "sandbox", "production")
    }
    assert targets["local"].embedded and not targets["local"].protected
    assert not targets["sandbox"].protected and targets["production"].protected
    assert targets["production"].token_env == "HUBSPOT_PRODUCTION_TOKEN"


def test_gitops_project_validates_applies_and_cleans_up(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = tmp_path / "gitops"
    shutil.copytree(GITOPS, project, ignore=shutil.ignore_patterns(".reconciler"))
    assert len(load_project(project, reference_time=datetime.now(timezone.utc)).records) == 15
    assert main(["validate", str(project)]) == 0  # what the pre-commit hook runs

    code, out, err = run("apply", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert "Apply complete: 15 created" in out
    assert len(stored(emulator, "meetings")) == 3

    assert run("state", "rebuild", "--project", project)[0] == 0  # what CI does first
    code, out, _ = run("plan", "--project", project, "--format", "markdown")
    assert code == 0 and "No changes" in out, out

    code, out, err = run("destroy", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert state_of(project)["records"] == {}
    assert all(stored(emulator, t) == [] for t in ("companies", "contacts", "deals", "meetings", "calls"))


def test_pre_commit_hook_runs_an_existing_command() -> None:
    (hook,) = _yaml(HOOKS)
    assert hook["id"] == "reconciler-validate"
    argv = shlex.split(hook["entry"])
    assert argv == ["reconciler", "validate"]
    check_command_line(argv[1:])
    assert hook["pass_filenames"] is False  # validate takes the project folder, not files
    assert re.search(hook["files"], "accounts/acme.yaml") and re.search(hook["files"], "x.yml")


def test_pre_commit_accepts_the_hook_manifest() -> None:
    clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit is not installed")
    (hook,) = clientlib.load_manifest(str(HOOKS))
    assert hook["language"] == "python"
