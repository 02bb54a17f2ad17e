"""Large plans keep the detail (#19): text and markdown plans open with what they do per
type and property, then the detail as far as it fits; updates keep their properties above
200 changes, and the markdown comment's summary is never cut."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.cli.output import MarkdownTarget, render_plans_markdown
from reconciler.planning.changes import Change, Plan, PropertyDiff
from tests.honesty.conftest import edit, generated_project

Run = Callable[..., tuple[int, str, str]]


def test_a_template_edit_over_210_calls_shows_the_summary_and_every_update(
    run: Run, emulator: Any, tmp_path: Path
) -> None:
    root = generated_project(tmp_path / "p", contacts=210, meetings=0)
    code, out, err = run("apply", "--project", root, "--auto-approve")
    assert code == 0, out + err
    edit(root, '"Call with {{ parent.first_name }}"', '"Call to {{ parent.first_name }}"')

    code, out, err = run("plan", "--project", root)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:2] == ["Summary:", "  calls: 210 to update: 210 × hs_call_title"], lines[:3]
    details = [line for line in lines if line.startswith('      hs_call_title: "Call with ')]
    assert len(details) == 210
    assert all(' → "Call to ' in line for line in details)

    code, out, err = run("plan", "--project", root, "--format", "markdown")
    assert code == 0, err
    lines = out.splitlines()
    assert "- calls: 210 to update: 210 × `hs_call_title`" in lines
    assert lines.index("- calls: 210 to update: 210 × `hs_call_title`") < lines.index(
        "<details><summary>calls: 210 to update</summary>")
    rows = [line for line in lines if line.startswith("| \\~ | calls/")]
    assert len(rows) == 210
    assert all("`hs_call_title`: Call with " in row and "→ Call to " in row for row in rows)


def _update(object_type: str, n: int, prop: str) -> Change:
    return Change(
        action="update", object_type=object_type, key=f"k{n:04}", reason="changed in the spec",
        hubspot_id=str(1000 + n), diffs=(PropertyDiff(prop, f"old {n}", f"new {n}"),),
    )


def test_the_markdown_summary_is_never_cut() -> None:
    """However little of the detail fits, the summary of every type is there."""
    changes = (
        *(_update("calls", n, "hs_call_title") for n in range(3200)),
        *(_update("meetings", n, "hs_meeting_body") for n in range(900)),
        *(Change(action="create", object_type="contacts", key=f"c{n}", reason="new in the spec")
          for n in range(40)),
    )
    plan = Plan(changes=changes, unchanged=(), target="demo", project="p", state_lineage="",
                state_serial=0, refreshed=True, reference_time="2026-01-01T00:00:00Z")
    text = render_plans_markdown([MarkdownTarget("demo", plan)], limit=6_000)
    assert len(text) <= 6_000
    lines = text.splitlines()
    assert "- calls: 3,200 to update: 3,200 × `hs_call_title`" in lines
    assert "- meetings: 900 to update: 900 × `hs_meeting_body`" in lines
    assert "- contacts: 40 to create" in lines
    (note,) = [line for line in lines if "not shown" in line]
    shown = sum(1 for line in lines if line.startswith("| \\~ |") or line.startswith("| \\+ |"))
    assert note.startswith(f"**{len(changes) - shown} more changes not shown**")
