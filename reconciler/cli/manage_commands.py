"""`import`, `destroy` and `refresh-times`: living with a state for years (the `state`
group is in ``state_commands``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from reconciler.cli.base import cli
from reconciler.cli.options import allow_archives_option, read_project, run_options, target_options
from reconciler.cli.outcomes import echo_adopted, echo_run_outcome
from reconciler.cli.output import render_plan_text
from reconciler.cli.terminal import Interrupts, colour, graceful_interrupt, progress_bar
from reconciler.errors import ConfigError
from reconciler.identity.adoption import import_all_matching, import_record
from reconciler.planning.changes import Plan
from reconciler.workflow.manage import RunOutcome, run_destroy, run_refresh_times
from reconciler.workflow.options import RunOptions, load_target


def _confirmer(auto_approve: bool, question: str, interrupts: Interrupts) -> Callable[[Plan], bool]:
    def confirm(the_plan: Plan) -> bool:
        # Asked only once there is something to do, after the library's own refusals
        # (a protected target), so those are what the user sees first.
        if not auto_approve and not sys.stdin.isatty():
            raise ConfigError(
                "this needs confirmation but there is no terminal to ask on; pass --auto-approve"
            )
        click.echo(render_plan_text(the_plan, colour=colour()))
        if auto_approve:
            return True
        click.echo("")
        return interrupts.ask(question)

    return confirm


def run_with_plan(
    run: Callable[..., RunOutcome], options: RunOptions, auto_approve: bool, question: str
) -> tuple[RunOutcome, int]:
    """Run a library function that shows a plan, asks, and applies it (destroy,
    refresh-times, state rm / mv); show what it did. Returns it and the exit code."""
    interrupts = Interrupts()
    confirm = _confirmer(auto_approve, question, interrupts)
    progress_factory, finish_progress = progress_bar(enabled=sys.stderr.isatty())
    with graceful_interrupt(interrupts):
        outcome = run(options, confirm=confirm, progress=progress_factory, stop=interrupts.stop)
    finish_progress()
    return outcome, echo_run_outcome(outcome)


@cli.command("import")
@target_options
@click.argument("address", required=False)
@click.argument("hubspot_id", metavar="HUBSPOT-ID", required=False)
@click.option("--all-matching", is_flag=True,
              help="Adopt every spec record the portal has by its reconciler_key marker.")
@click.option("--auto-approve", is_flag=True, help="Set the markers without asking.")
@click.option("--from-project", "from_project", metavar="PROJECT-ID",
              help="Take the record although it carries this other project's id marker "
                   "(that project no longer finds it).")
def import_command(project_dir: Path, target_name: str | None, state_path: Path | None,
                   base_url: str | None, address: str | None, hubspot_id: str | None,
                   all_matching: bool, auto_approve: bool, from_project: str | None) -> int:
    """Adopt a record that already exists in the portal (it must be in the spec too).

    The record gets this project's markers (reconciler_key, reconciler_project) in the
    portal, so every run, a stateless CI's too, finds it as this address; its managed
    properties are recorded as the portal holds them, so the next plan shows only the
    real differences. Says what it will write and asks unless --auto-approve. A record
    carrying another project's id marker is refused unless --from-project names that
    project's id (taken on purpose, e.g. an original of an exported portal). With
    --all-matching, every spec record not in the state is looked up by its marker
    (after a state file was lost) and adopted in one go (nothing is written to the
    portal: those records carry the markers already).

    \b
    Examples:
      reconciler import contacts/jane-doe 151 --project examples
      reconciler import --all-matching --target sandbox
    """
    if all_matching and (address or hubspot_id or from_project):
        raise ConfigError("--all-matching takes no ADDRESS, HUBSPOT-ID or --from-project")
    if not all_matching and (not address or not hubspot_id):
        raise ConfigError(
            "import needs ADDRESS and HUBSPOT-ID (e.g. `reconciler import contacts/jane-doe "
            "151`), or --all-matching"
        )
    options = run_options(read_project(project_dir), target_name, state_path, base_url)
    if all_matching:
        outcome = import_all_matching(options)
        if not outcome.adopted:
            click.echo("Nothing to import: no spec record missing from the state carries a marker "
                       "in the portal.")
    else:
        assert address is not None and hubspot_id is not None
        if not _confirm_import(options, address, hubspot_id, auto_approve):
            click.echo("Cancelled.")
            return 0
        outcome = import_record(options, address, hubspot_id, from_project=from_project)
    echo_adopted(outcome, "Imported")
    return 0


def _confirm_import(options: RunOptions, address: str, hubspot_id: str,
                    auto_approve: bool) -> bool:
    from reconciler.identity.markers import marker_properties

    object_type, slash, key = address.partition("/")
    if not (slash and object_type and key and hubspot_id.strip().isdigit()):
        return True  # import_record says what is wrong
    loaded = load_target(options)
    desired, target = loaded.desired, loaded.target
    if address not in desired.records:
        return True  # (the same)
    project = desired.project
    markers = ", ".join(f"{k} = {v}" for k, v in marker_properties(project.marker_id,
                                                                   address).items())
    click.echo(
        f"Import will set {markers} on HubSpot id {hubspot_id} in the portal of target "
        f"{target.name}, and manage it as {address} in {target.state_path}."
    )
    if auto_approve:
        return True
    if not sys.stdin.isatty():
        raise ConfigError(
            "this needs confirmation but there is no terminal to ask on; pass --auto-approve"
        )
    interrupts = Interrupts()
    with graceful_interrupt(interrupts):
        return interrupts.ask("Import this record?")


@cli.command()
@target_options
@click.option("--auto-approve", is_flag=True, help="Archive without asking.")
def destroy(project_dir: Path, target_name: str | None, state_path: Path | None,
            base_url: str | None, auto_approve: bool) -> int:
    """Archive every record this state manages (the cleanup of a seeded sandbox).

    Shows the plan first and asks unless --auto-approve. Archived records go to
    HubSpot's recycle bin. A target marked `protected: true` in reconciler.yaml refuses,
    whatever the flags. Being the explicit archive-everything command, destroy is not
    held to the target's max_archives / max_archive_percent (apply is).

    \b
    Example:
      reconciler destroy --target sandbox --auto-approve
    """
    options = run_options(read_project(project_dir), target_name, state_path, base_url)
    _, code = run_with_plan(run_destroy, options, auto_approve, "Archive all these records?")
    return code


@cli.command("refresh-times")
@target_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@allow_archives_option
def refresh_times(project_dir: Path, target_name: str | None, state_path: Path | None,
                  base_url: str | None, auto_approve: bool, allow_archives: int | None) -> int:
    """Re-resolve relative times ("+3d 10:00", "next monday") against now and apply.

    Apply pins a relative time when it creates a record, so re-plans do not move it;
    this moves them again, so a demo portal's "meeting next Tuesday" stays in the
    future. Shows the plan and asks unless --auto-approve.

    \b
    Example:
      reconciler refresh-times --target sandbox --auto-approve
    """
    options = run_options(read_project(project_dir), target_name, state_path, base_url,
                       allow_archives=allow_archives)
    outcome, code = run_with_plan(run_refresh_times, options, auto_approve, "Apply these changes?")
    if outcome.moved:
        click.echo(f"Moved the times of {len(outcome.moved)} record(s).")
    return code
