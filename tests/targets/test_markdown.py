"""`plan --format markdown` for pull-request comments: a summary table per target first,
details per object type in collapsible sections, never over GitHub's comment limit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.output import MARKDOWN_LIMIT, MarkdownTarget, render_plans_markdown
from reconciler.planning.changes import Change, Plan
from tests.helpers import write_project
from tests.targets.conftest import Cli, targets_yaml
from tests.targets.test_many_targets import SPEC


def many_companies(count: int) -> str:
    lines = ["companies:"]
    for n in range(count):
        lines += [f"  company-with-a-long-key-{n:05}:", f"    name: Company {n}",
                  f"    domain: c{n}.example"]
    return "\n".join(lines) + "\n"


def test_a_2000_record_plan_fits_a_comment_and_says_what_is_left_out(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "big", {
        "reconciler.yaml": targets_yaml(emulator, second), **SPEC,
        "many.yaml": many_companies(2000),
    })
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/demo-data")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    code, out, err = cli("plan", "--project", root, "-t", "one", "--offline",
                         "--format", "markdown")
    assert code == 0, err
    assert len(out) <= MARKDOWN_LIMIT
    lines = out.splitlines()
    assert lines[:5] == [
        "### reconciler plan for one",
        "",
        "| target | create | update | archive | unchanged | released | result |",
        "|---|---:|---:|---:|---:|---:|---|",
        "| one | 2003 | 0 | 0 | 0 | 0 | changes |",
    ]
    assert "<details><summary>companies: 2001 to create</summary>" in lines
    assert "<details><summary>meetings: 1 to create</summary>" in lines
    shown = sum(1 for line in lines if line.startswith("| \\+ |"))
    (note,) = [line for line in lines if "not shown" in line]
    left_out = int(re.match(r"\*\*(\d+) more changes not shown\*\*", note).group(1))  # type: ignore[union-attr]
    assert shown + left_out == 2003 and shown > 100
    assert "a comment holds at most 65,000 characters" in note
    assert note.endswith(
        "the full plan is in the artifacts of "
        "[this workflow run](https://github.com/acme/demo-data/actions/runs/4242)."
    )
    # every <details> is closed, even the sections whose rows were left out
    assert out.count("<details>") == out.count("</details>") == 3


def test_several_targets_in_one_markdown_plan(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "p", {"reconciler.yaml": targets_yaml(emulator, second), **SPEC})
    assert cli("apply", "--project", root, "-t", "one", "--auto-approve")[0] == 0
    monkeypatch.setenv("TOKEN_TWO", "refused")
    code, out, err = cli("plan", "--project", root, "-t", "one", "-t", "two",
                         "--format", "markdown")
    assert code == 1
    lines = out.splitlines()
    assert lines[:6] == [
        "### reconciler plan",
        "",
        "| target | create | update | archive | unchanged | released | result |",
        "|---|---:|---:|---:|---:|---:|---|",
        "| one | 0 | 0 | 0 | 3 | 0 | no changes |",
        "| two | | | | | | **error** |",
    ]
    assert "#### one" in lines and "#### two" in lines
    assert lines[lines.index("#### one") + 2] == "**No changes. The portal matches the spec.**"
    assert any(line.startswith("**Error:** ") for line in lines)


def _plan(target: str, count: int) -> Plan:
    changes = tuple(
        Change(action="create", object_type="contacts", key=f"c{n:04}", reason="new in the spec")
        for n in range(count)
    )
    return Plan(changes=changes, unchanged=(), target=target, project="p", state_lineage="",
                state_serial=0, refreshed=False, reference_time="2026-01-01T00:00:00Z")


@pytest.mark.parametrize("limit", [3_000, 5_000, 20_000])
def test_the_limit_holds_for_several_targets_and_user_text_stays_escaped(limit: int) -> None:
    entries = [
        MarkdownTarget("a|b\n**x**", _plan("a", 300)),
        MarkdownTarget("two", _plan("two", 300), released=("contacts/old",)),
        MarkdownTarget("three", None, error="refused\n| injected | row |" + "x" * 5000),
    ]
    text = render_plans_markdown(entries, limit=limit)
    assert len(text) <= limit
    assert "| a\\|b \\*\\*x\\*\\* |" in text and "\n**x**" not in text
    assert "\n| injected" not in text
    shown = text.count("| \\+ |")
    (note,) = [line for line in text.splitlines() if "not shown" in line]
    assert note.startswith(f"**{600 - shown} more changes and 1 released record not shown**")
    assert text.count("<details>") == text.count("</details>")


def test_even_hundreds_of_failing_targets_fit() -> None:
    entries = [MarkdownTarget(f"target-{n}", None, error="x" * 600) for n in range(300)]
    text = render_plans_markdown(entries)
    assert len(text) <= MARKDOWN_LIMIT
    assert text.endswith("**The rest of this plan is not shown** (a comment holds at most "
                         "65,000 characters).\n")
