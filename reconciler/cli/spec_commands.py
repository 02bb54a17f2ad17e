"""`validate` and `schema`: check the project's files without touching any portal."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from reconciler.cli.base import cli
from reconciler.cli.options import var_option, vars_given
from reconciler.errors import ReconcilerError, SpecError, SpecIssue

FORMAT_VERSION = 1


@cli.command()
@click.argument(
    "project", type=click.Path(path_type=Path, readable=False), default=None, required=False
)
@click.option(
    "--project", "-p", "project_option", type=click.Path(path_type=Path, readable=False),
    default=None, help="The project folder (the same as PROJECT; default: the current folder).",
)  # fmt: skip
@click.option("--no-cache", is_flag=True, help="Parse every file again (ignore .reconciler/cache).")
@click.option(
    "--target", "-t", "target_name", default=None,
    help="Generate with this target's variables (default: the project's default_target).",
)
@var_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github"]), default=None,
    help="Output format (github: annotations on the pull request's lines).",
)  # fmt: skip
def validate(
    project: Path | None, project_option: Path | None, no_cache: bool, target_name: str | None,
    as_json: bool, fmt: str | None,
) -> int:  # fmt: skip
    """Check every spec file of PROJECT (default: the current folder) against the schema.

    Reports every problem, one a line, as FILE:LINE:COLUMN: path: message, and exits 1
    if there is any. Nothing is sent anywhere. --json prints one JSON document;
    --format github prints GitHub Actions annotations (::error file=...,line=...::).
    Generators are checked with the default variables and with every target's vars:
    (--target: with that target's only; --var overrides).

    \b
    Example:
      reconciler validate examples
      reconciler validate --project examples --format github
    """
    from reconciler.loading import find_project
    from reconciler.loading.project import load_project

    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} contradict each other; pick one")
    if project is not None and project_option is not None and project != project_option:
        raise click.UsageError(
            f"two project folders given ({project} and --project {project_option}); give one"
        )
    folder = project or project_option or find_project()
    fmt = "json" if as_json else (fmt or "text")
    try:
        desired = load_project(
            folder, reference_time=datetime.now(timezone.utc), use_cache=not no_cache,
            target=target_name, variables=vars_given(), every_target=target_name is None,
        )
    except ReconcilerError as error:
        if fmt == "text":
            raise  # rendered by the CLI's one error handler
        _render_failure(error, fmt)
        return error.exit_code
    by_type = Counter(record.object_type for record in desired.records.values())
    count = len(desired.records)
    if fmt == "json":
        click.echo(json.dumps(_result(count, by_type, []), indent=2))
        return 0
    detail = ", ".join(f"{n} {object_type}" for object_type, n in sorted(by_type.items()))
    click.echo(
        f"OK: {count} record{'s' if count != 1 else ''} in {folder}"
        + (f" ({detail})" if detail else "")
    )
    return 0


def _result(count: int, by_type: Counter[str], problems: list[SpecIssue]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "ok": not problems,
        "records": count,
        "by_type": dict(sorted(by_type.items())),
        "problems": [
            {
                "file": issue.file,
                "line": issue.line,
                "column": issue.column,
                "path": issue.path,
                "message": issue.message,
            }
            for issue in problems
        ],
    }


def _render_failure(error: ReconcilerError, fmt: str) -> None:
    issues = error.issues if isinstance(error, SpecError) else []
    if fmt == "json":
        payload = _result(0, Counter(), issues)
        payload.update(ok=False, records=None, by_type=None)
        payload["error"] = str(error)
        click.echo(json.dumps(payload, indent=2))
        return
    for issue in issues:
        message = f"{issue.path}: {issue.message}" if issue.path else issue.message
        where = (
            f"file={_property(issue.file)},line={issue.line},col={issue.column},"
            f"title={_property('reconciler validate')}"
        )
        click.echo(f"::error {where}::{_data(message)}")
    if not issues:
        click.echo(f"::error title={_property('reconciler validate')}::{_data(str(error))}")
    click.echo(f"Error: {error}", err=True)


def _data(text: str) -> str:
    """Escape a workflow command's message (GitHub's toolkit: %, CR and LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a workflow command's property value (also ':' and ',')."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


@cli.command()
@click.option("--project-file", is_flag=True, help="Print the schema of reconciler.yaml instead.")
def schema(project_file: bool) -> int:
    """Print the JSON Schema of spec files (for editors and other validators).

    \b
    Example:
      reconciler schema > spec.schema.json
    """
    from reconciler.loading.schema import schema_text

    click.echo(schema_text("project" if project_file else "spec"))
    return 0
