"""`validate` and `schema`: check the project's files without touching any portal."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import click

from reconciler.cli.base import cli


@cli.command()
@click.argument(
    "project", type=click.Path(path_type=Path, readable=False), default=".", required=False
)
@click.option("--no-cache", is_flag=True, help="Parse every file again (ignore .reconciler/cache).")
def validate(project: Path, no_cache: bool) -> int:
    """Check every spec file of PROJECT (default: the current folder) against the schema.

    Reports every problem, one a line, as FILE:LINE:COLUMN: path: message, and exits 1
    if there is any. Nothing is sent anywhere.

    \b
    Example:
      reconciler validate examples
    """
    from reconciler.spec import load_project

    desired = load_project(
        project, reference_time=datetime.now(timezone.utc), use_cache=not no_cache
    )
    count = len(desired.records)
    by_type = Counter(record.object_type for record in desired.records.values())
    detail = ", ".join(f"{n} {object_type}" for object_type, n in sorted(by_type.items()))
    click.echo(
        f"OK: {count} record{'s' if count != 1 else ''} in {project}"
        + (f" ({detail})" if detail else "")
    )
    return 0


@cli.command()
@click.option("--project-file", is_flag=True, help="Print the schema of reconciler.yaml instead.")
def schema(project_file: bool) -> int:
    """Print the JSON Schema of spec files (for editors and other validators).

    \b
    Example:
      reconciler schema > spec.schema.json
    """
    from reconciler.spec import schema_text

    click.echo(schema_text("project" if project_file else "spec"))
    return 0
