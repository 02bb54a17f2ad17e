"""`validate --var/--target` and `render` to stdout, without a portal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli.base import main

from .conftest import PROJECT


def test_validate_uses_the_target_s_and_the_command_line_s_variables(
    gen_project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = gen_project(project=PROJECT + "targets:\n  sandbox:\n    vars: {accounts: 1}\n")
    assert main(["validate", "--no-cache", str(root)]) == 0
    assert "4 companies" in capsys.readouterr().out
    assert main(["validate", "--no-cache", "--target", "sandbox", str(root)]) == 0
    assert "1 companies" in capsys.readouterr().out
    assert main(["validate", "--target", "sandbox", "--var", "accounts=2", str(root)]) == 0
    assert "2 companies" in capsys.readouterr().out
    assert main(["validate", "--var", "accounts=many", str(root)]) == 1
    assert "--var accounts=many: 'many' is not a whole number" in capsys.readouterr().err
    assert main(["validate", "--var", "accounts", str(root)]) == 1
    assert "write it as name=value" in capsys.readouterr().err


def test_render_prints_one_spec_that_validates(
    gen_project: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = gen_project()
    assert main(["render", "--project", str(root), "--var", "accounts=2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Rendered by `reconciler render` from the project 'gen-demo'")
    assert '"acct-002"' in text and '"acct-003"' not in text
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "all.yaml").write_text(text)
    (copy / "reconciler.yaml").write_text("timezone: Europe/Berlin\n")
    assert main(["validate", "--no-cache", str(copy)]) == 0
    assert main(["validate", "--no-cache", "--var", "accounts=2", str(root)]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first.split(" in ")[0] == second.split(" in ")[0]


def test_validate_checks_the_generators_with_every_target_s_vars(
    gen_project: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = gen_project(project=PROJECT + "max_generated: 100\ntargets:\n"
                       "  sandbox:\n    vars: {accounts: 500}\n  staging: {}\n")
    assert main(["validate", "--no-cache", str(root)]) == 1
    err = capsys.readouterr().err
    assert (
        "gen.yaml:12:12: generate.contacts.count: with the vars of target 'sandbox': the "
        "generators would make up to 3,500 records, over the limit of 100 (this one up to "
        "2,000); lower the counts, or raise max_generated in reconciler.yaml"
    ) in err
    assert main(["validate", "--no-cache", "--target", "staging", str(root)]) == 0
    assert main(["plan", "--offline", "--project", str(root)]) == 0  # plan: its target's only


def test_rendered_notes_tasks_and_emails_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rendered record keeps the friendly fields its section requires."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "reconciler.yaml").write_text("name: demo\ntimezone: Europe/Berlin\n")
    (root / "gen.yaml").write_text("""\
contacts: {jane: {email: jane@example.com}}
generate:
  notes:
    key: "note-{n}"
    count: 2
    fields:
      body: "Note {{ n }}"
      timestamp: {datetime_between: {start: -3d, end: -1d, business_hours: true}}
    associations: [{contact: jane}]
  tasks:
    key: "task-{n}"
    count: 2
    fields:
      subject: "Call back {{ n }}"
      due: {datetime_between: {start: +1d, end: +3d}}
      reminders: {datetime_between: {start: +0d, end: +1d}}
      priority: {random_choice: [low, high]}
  emails:
    key: "email-{n}"
    count: 2
    fields:
      subject: "Hello {{ n }}"
      to: "jane@example.com"
      timestamp: "-1d 10:00"
""")
    assert main(["render", "--project", str(root)]) == 0
    text = capsys.readouterr().out
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "all.yaml").write_text(text)
    (copy / "reconciler.yaml").write_text("timezone: Europe/Berlin\n")
    assert main(["validate", "--no-cache", str(copy)]) == 0, capsys.readouterr().err
    assert "2 emails, 2 notes, 2 tasks" in capsys.readouterr().out
