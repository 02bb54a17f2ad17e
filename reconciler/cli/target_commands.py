"""`targets`: the targets of reconciler.yaml, for people and for CI's job matrix
(``reconciler.workflow.target_list``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.cli.base import cli
from reconciler.cli.options import find_project, once, read_project


@cli.command()
@click.option(
    "--project", "-p", "project_dir", type=click.Path(path_type=Path, file_okay=False),
    multiple=True, callback=once(find_project), metavar="DIR",
    help="The project folder.  [default: the nearest folder, here or above, with a "
    "reconciler.yaml]",
)
@click.option("--json", "as_json", is_flag=True,
              help="Print them as JSON (what the GitOps workflow builds its matrix from).")
def targets(project_dir: Path, as_json: bool) -> int:
    """List the targets of reconciler.yaml, with what CI needs for each: the token's
    environment variable, the secrets it comes from (write; read-only for plans and
    drift), its concurrency group (one per portal) and whether it is protected.

    \b
    Example:
      reconciler targets
      reconciler targets --json | jq -c '[.targets[] | select(.protected | not)]'
    """
    from reconciler.workflow.target_list import FORMAT_VERSION, list_targets

    listed = list_targets(read_project(project_dir))
    if as_json:
        click.echo(json.dumps({
            "format_version": FORMAT_VERSION,
            "targets": [target.to_json() for target in listed],
        }, indent=2))
        return 0
    rows = [("target", "protected", "portal", "token (write secret)", "read-only secret")]
    for target in listed:
        if target.local:
            rows.append((target.name, "no", "this machine (never in CI)", "-", "-"))
            continue
        rows.append((
            target.name, "yes" if target.protected else "no",
            str(target.portal_id) if target.portal_id is not None else "any",
            target.token_env, target.read_secret,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                   .rstrip())
    return 0
