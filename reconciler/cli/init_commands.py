"""`init`: scaffold a project, or give an existing one its identity
(``reconciler.workflow.scaffold``)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.base import cli
from reconciler.workflow.target_list import ListedTarget


def _echo_secrets(ci_targets: tuple[ListedTarget, ...]) -> None:
    """What the workflow needs in the repository's settings, per target."""
    if not ci_targets:
        click.echo("reconciler.yaml has no target but local yet: every target you add gets its "
                   "own jobs in the workflow.")
        return
    click.echo("Repository secrets the workflow reads (a private app's token each; see the "
               "README's scopes):")
    for target in ci_targets:
        click.echo(f"  {target.name}: {target.read_secret} (read scopes: pull-request plans, "
                   f"drift), {target.write_secret} (write scopes: applies)")
    environments = sorted({t.approval_environment for t in ci_targets})
    click.echo(f"GitHub environments to give required reviewers: {', '.join(environments)} "
               "(a protected target applies only once approved there; a plan made again on "
               "merge, not the one the pull request showed, waits there for approval)")


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), required=False)
@click.option(
    "--project", "-p", "project_dir", type=click.Path(path_type=Path, file_okay=False),
    default=None, help="The project folder (the same as DIR).  [default: .]",
)
@click.option("--name", default=None,
              help="The project's name (default: the folder's). Only for a new reconciler.yaml.")
@click.option("--gitops", is_flag=True,
              help="Also write .github/workflows/reconcile.yml, the CI workflow of "
              "examples/gitops (a job per target of reconciler.yaml), and requirements.txt.")
def init(directory: Path | None, project_dir: Path | None, name: str | None,
         gitops: bool) -> int:
    """Scaffold a project in DIR (default: the current folder; created if missing).

    Writes reconciler.yaml with the project's name and its id (the project's name as a
    slug plus 8 random hex digits: what its records carry in HubSpot, so two folders of
    the same name never share records), a .gitignore for .reconciler/ (state, caches),
    and, when the folder has no spec yet, a commented example.yaml with schema modelines
    (the schemas go to schemas/). With --gitops, also the CI workflow, whose jobs run for
    every target of reconciler.yaml (a new project gets a sandbox and a protected
    production target), and the requirements.txt that pins the reconciler's version. An
    existing project gets only what it lacks: its id, the .gitignore entry, the
    workflow; nothing is overwritten. Commit reconciler.yaml; never change the id or copy
    it to another project.

    \b
    Example:
      reconciler init acme --gitops
      git -C acme add -A && git -C acme commit -m "acme: scaffolded by reconciler init"
    """
    from reconciler.errors import ConfigError
    from reconciler.workflow.scaffold import init_project

    if directory is not None and project_dir is not None and directory != project_dir:
        raise ConfigError(f"two project folders given ({directory} and --project "
                          f"{project_dir}); give one")
    root = directory or project_dir or Path(".")
    outcome = init_project(root, name=name, gitops=gitops)
    for path, what in outcome.written:
        if path == outcome.project_file and what == "created":
            click.echo(f"Created {path}: id: {outcome.project_id} (project {outcome.name})")
        elif path == outcome.project_file:
            click.echo(f"Updated {path}: id: {outcome.project_id} (project {outcome.name})")
        elif path.name == ".gitignore":
            verb = "Created" if what == "created" else "Added .reconciler/ to"
            click.echo(f"{verb} {path}" + (" with .reconciler/ (state and caches)"
                                           if what == "created" else ""))
        else:
            click.echo(f"Created {path}")
    for path in outcome.kept:
        click.echo(f"Kept {path} as it is (delete it to have init write it again)")
        if path.name == "requirements.txt":
            click.echo("  (the workflow installs the reconciler from it: make sure it pins "
                       "hubspot-reconciler)")
    if outcome.had_id:
        click.echo(f"{outcome.project_file} keeps its id: {outcome.project_id}")
    else:
        click.echo(
            f"Commit {outcome.project_file.name} now: the id is this project's identity in "
            "every portal, and must never change or be copied to another project."
        )
    if any(path.name == "requirements.txt" for path, _ in outcome.written):
        click.echo(
            "In requirements.txt, put your reconciler repository URL and a reviewed commit "
            "where it says so: the workflow and everyone working here install that one version."
        )
    if gitops:
        _echo_secrets(outcome.ci_targets)
    return 0
