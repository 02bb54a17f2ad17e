"""The README's own examples work: every YAML block loads, every command line parses.

A user copies from the README first; a block that does not parse (the flow-style `calls:`
example once did not) is the first thing they meet.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime, timezone
from pathlib import Path

import click
import pytest
from ruamel.yaml import YAML

from reconciler.cli.base import cli
from reconciler.loading.project import load_project
from reconciler.loading.project_settings import load_project_settings

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text(encoding="utf-8")) if lang == language]


def _kind(text: str) -> str:
    data = YAML(typ="safe").load(text)
    if isinstance(data, list):
        return "pre-commit"
    if isinstance(data, dict) and set(data) & {"targets", "default_target", "timezone", "name", "id"}:
        return "project"
    return "spec"


def _yaml_blocks() -> list[tuple[str, str]]:
    return [(_kind(body), body) for body in _blocks("yaml")]


@pytest.mark.parametrize(("kind", "text"), _yaml_blocks(), ids=lambda v: v if v in {"spec", "project", "pre-commit"} else "")
def test_every_yaml_block_in_the_readme_loads(kind: str, text: str, tmp_path: Path) -> None:
    if kind == "pre-commit":
        entries = YAML(typ="safe").load(text)
        assert all("repo" in entry and "hooks" in entry for entry in entries)
        return
    name = "reconciler.yaml" if kind == "project" else "spec.yaml"
    (tmp_path / name).write_text(text, encoding="utf-8")
    if kind == "spec" and "story:" in text:  # a story places its steps on a calendar
        (tmp_path / "reconciler.yaml").write_text("name: readme\ncalendar: {}\n", encoding="utf-8")
    if kind == "project":
        load_project_settings(tmp_path)  # raises SpecError with file:line:column
    else:
        load_project(tmp_path, reference_time=datetime.now(timezone.utc))


def _command_lines() -> list[str]:
    lines: list[str] = []
    for language in ("sh", "console", "bash", ""):
        for body in _blocks(language):
            for raw in body.splitlines():
                line = raw.strip().removeprefix("$ ").strip()
                if line.startswith(".venv/bin/"):
                    line = line.removeprefix(".venv/bin/")
                if line.startswith("reconciler "):
                    lines.append(line)
    return lines


def check_command_line(args: list[str]) -> None:
    """Resolve a command line against the real click tree; a bad command or option raises."""
    command: click.Command = cli
    path = ["reconciler"]
    rest = list(args)
    while isinstance(command, click.Group):
        while rest and rest[0].startswith("-"):  # group options such as --debug
            rest.pop(0)
        assert rest, f"{' '.join(path)} needs a sub-command"
        name = rest.pop(0)
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"{' '.join(path)} has no command {name!r}"
        command, path = sub, [*path, name]
    try:
        command.make_context(" ".join(path), rest)  # raises click.UsageError on a bad option
    except click.BadParameter as error:
        # An example's file (plan.json) need not exist here: the option itself is right.
        if "does not exist" not in error.message:
            raise


@pytest.mark.parametrize("line", _command_lines())
def test_every_command_line_in_the_readme_parses(line: str) -> None:
    words = shlex.split(line, comments=True)
    if any(w in {"[", "|"} or w.startswith("[") or "..." in w for w in words):
        pytest.skip("a synopsis, not a command line")
    check_command_line(words[1:])


def test_the_readme_has_examples_to_check() -> None:
    kinds = {kind for kind, _ in _yaml_blocks()}
    assert {"spec", "project"} <= kinds
    assert len(_command_lines()) >= 10
