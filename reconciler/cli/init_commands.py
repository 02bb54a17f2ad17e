"""`init`: give a project its identity (the ``id:`` its records' markers carry)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.base import cli


@cli.command()
@click.option(
    "--project", "-p", "project_dir", type=click.Path(path_type=Path, file_okay=False),
    default=Path("."), show_default=True, help="The project folder.",
)
def init(project_dir: Path) -> int:
    """Give the project its id: writes `id:` into reconciler.yaml (creating the file with
    `name:` and `id:` if there is none), and keeps .reconciler/ out of git.

    The id (the project's name as a slug, plus 8 random hex digits) is what this
    project's records carry in HubSpot, so two folders of the same name never share
    records. Commit reconciler.yaml; never change the id or copy it to another project.
    Every target but `local` needs it. Refused if the project already has an id.

    \b
    Example:
      reconciler init --project acme
      git add acme/reconciler.yaml acme/.gitignore && git commit -m "acme: project id"
    """
    from reconciler.identity import init_project

    outcome = init_project(project_dir)
    verb = "Created" if outcome.created_project_file else "Updated"
    click.echo(f"{verb} {outcome.project_file}: id: {outcome.project_id} (project {outcome.name})")
    if outcome.gitignore == "created":
        click.echo(f"Created {outcome.gitignore_path} with .reconciler/ (state and caches)")
    elif outcome.gitignore == "appended":
        click.echo(f"Added .reconciler/ to {outcome.gitignore_path}")
    click.echo(
        f"Commit {outcome.project_file.name} now: the id is this project's identity in every "
        "portal, and must never change or be copied to another project."
    )
    return 0
