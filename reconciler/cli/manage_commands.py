"""`import`, `destroy`, `refresh-times`, and `state rm | mv | rebuild`: living with a state."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import click

from reconciler.identity.adoption import AdoptOutcome, import_all_matching, import_record, rebuild_state
from reconciler.cli.base import EXIT_ERROR, EXIT_INTERRUPTED, cli
from reconciler.cli.plan_commands import (
    Interrupts,
    _colour,
    _graceful_interrupt,
    _options,
    _progress,
    allow_archives_option,
    confirm_on_terminal,
    state,
    target_options,
)
from reconciler.errors import ConfigError
from reconciler.workflow.manage import (
    Rebinding,
    RunOutcome,
    StateEditOutcome,
    move_in_state,
    rebind_state,
    remove_from_state,
    load_with_spec,
    run_destroy,
    run_refresh_times,
    run_state_mv,
    run_state_rm,
)
from reconciler.planning.changes import Plan
from reconciler.cli.output import render_apply_summary, render_plan_text, summary_line


def _render_adopted(outcome: AdoptOutcome, verb: str, summary: str | None = None) -> None:
    for item in outcome.adopted:
        click.echo(f"{verb} {item.address} (HubSpot id {item.hubspot_id})")
    for address, ids in sorted(outcome.duplicates.items()):
        click.secho(
            f"Warning: other records also carry the marker of {address} (ids "
            f"{', '.join(ids)}); they were left alone, archive them in HubSpot if unwanted",
            fg="yellow", err=True,
        )
    if outcome.left_behind:
        shown = ", ".join(f"{a} (id {i})" for a, i in list(outcome.left_behind.items())[:10])
        more = len(outcome.left_behind) - 10
        click.secho(
            f"Warning: {len(outcome.left_behind)} record(s) the previous state mapped carry no "
            f"marker of this project's id and were not taken: {shown}"
            + (f" and {more} more" if more > 0 else "")
            + ". Records marked by the first release are migrated only from the state that "
            "maps them (restore it from the backup, then run `reconciler apply`); to adopt "
            "one on purpose, run `reconciler import ADDRESS ID`",
            fg="yellow", err=True,
        )
    if summary:
        click.echo(summary)
    _render_state_footer(outcome.target.state_path, outcome.backup)


def _render_state_footer(state_path: Path, backup: Path | None) -> None:
    click.echo(f"State: {state_path}" + (f" (previous file kept as {backup})" if backup else ""))


def _confirmer(auto_approve: bool, question: str, interrupts: Interrupts) -> Callable[[Plan], bool]:
    def confirm(the_plan: Plan) -> bool:
        # Asked only once there is something to do, after the library's own refusals
        # (a protected target), so those are what the user sees first.
        if not auto_approve and not sys.stdin.isatty():
            raise ConfigError(
                "this needs confirmation but there is no terminal to ask on; pass --auto-approve"
            )
        click.echo(render_plan_text(the_plan, colour=_colour()))
        if auto_approve:
            return True
        click.echo("")
        return interrupts.ask(question)

    return confirm


def _run_with_plan(
    run: Callable[..., RunOutcome], options: object, auto_approve: bool, question: str
) -> tuple[RunOutcome, int]:
    interrupts = Interrupts()
    confirm = _confirmer(auto_approve, question, interrupts)
    progress_factory, finish_progress = _progress(enabled=sys.stderr.isatty())
    with _graceful_interrupt(interrupts):
        outcome = run(options, confirm=confirm, progress=progress_factory, stop=interrupts.stop)
    finish_progress()
    result = outcome.result
    if result is None:
        click.echo("Cancelled." if outcome.declined else summary_line(outcome.plan))
        return outcome, 0
    for failure in result.failures:
        click.secho(failure.render(), fg="red", err=True)
    if result.stopped_reason:
        click.secho(result.stopped_reason, fg="red", err=True)
    click.echo(render_apply_summary(result))
    _render_state_footer(outcome.target.state_path, outcome.backup)
    if result.interrupted:
        return outcome, EXIT_INTERRUPTED
    return outcome, 0 if result.ok else EXIT_ERROR


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
    options = _options(project_dir, target_name, state_path, base_url)
    if all_matching:
        if address or hubspot_id or from_project:
            raise ConfigError("--all-matching takes no ADDRESS, HUBSPOT-ID or --from-project")
        outcome = import_all_matching(options)
        if not outcome.adopted:
            click.echo("Nothing to import: no spec record missing from the state carries a marker "
                       "in the portal.")
    else:
        if not address or not hubspot_id:
            raise ConfigError(
                "import needs ADDRESS and HUBSPOT-ID (e.g. `reconciler import contacts/jane-doe "
                "151`), or --all-matching"
            )
        if not _confirm_import(options, address, hubspot_id, auto_approve):
            click.echo("Cancelled.")
            return 0
        outcome = import_record(options, address, hubspot_id, from_project=from_project)
    _render_adopted(outcome, "Imported")
    return 0


def _confirm_import(options: object, address: str, hubspot_id: str, auto_approve: bool) -> bool:
    from reconciler.identity.recovery import marker_properties
    from reconciler.workflow.runs import RunOptions

    assert isinstance(options, RunOptions)
    object_type, slash, key = address.partition("/")
    if not (slash and object_type and key and hubspot_id.strip().isdigit()):
        return True  # import_record says what is wrong
    desired, target, _ = load_with_spec(options)
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
    with _graceful_interrupt(interrupts):
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
    options = _options(project_dir, target_name, state_path, base_url)
    _, code = _run_with_plan(run_destroy, options, auto_approve, "Archive all these records?")
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
    options = _options(project_dir, target_name, state_path, base_url,
                       allow_archives=allow_archives)
    outcome, code = _run_with_plan(run_refresh_times, options, auto_approve, "Apply these changes?")
    if outcome.moved:
        click.echo(f"Moved the times of {len(outcome.moved)} record(s).")
    return code


_OFFLINE_EDIT = (
    "Only the state file changed (--offline): the portal still has the markers of before, "
    "so a state rebuilt from the portal (`reconciler state rebuild`, as a stateless CI does "
    "on every run) undoes this. Run it without --offline to change the portal too."
)


def _edit_options(func: Callable[..., int]) -> Callable[..., int]:
    func = click.option("--offline", is_flag=True,
                        help="Edit only the state file; the portal keeps the markers.")(func)
    return click.option("--auto-approve", is_flag=True, help="Write without asking.")(func)


@state.command("rm")
@target_options
@click.argument("addresses", nargs=-1, required=True)
@_edit_options
def state_rm(project_dir: Path, target_name: str | None, state_path: Path | None,
             base_url: str | None, addresses: tuple[str, ...], auto_approve: bool,
             offline: bool) -> int:
    """Stop managing records; they stay in the portal (released, never archived).

    Clears their markers (reconciler_key, reconciler_project) in the portal, then
    forgets them, so a state rebuilt from the portal (a stateless CI) does not find them
    again. Shows the plan and asks unless --auto-approve. In a GitOps repository prefer
    a `removed:` entry in the spec, applied by CI. --offline edits only the state file.

    \b
    Example:
      reconciler state rm meetings/kickoff calls/intro-call --project examples
    """
    options = _options(project_dir, target_name, state_path, base_url)
    if offline:
        outcome = remove_from_state(options, addresses)
        _render_edit(outcome, f"Removed {', '.join(outcome.changed)} from the state.")
        click.echo(_OFFLINE_EDIT)
        return 0
    _, code = _run_with_plan(partial(run_state_rm, addresses=addresses), options, auto_approve,
                             "Release these records?")
    return code


@state.command("mv")
@target_options
@click.argument("source")
@click.argument("destination")
@_edit_options
def state_mv(project_dir: Path, target_name: str | None, state_path: Path | None,
             base_url: str | None, source: str, destination: str, auto_approve: bool,
             offline: bool) -> int:
    """Give a record a new address after renaming its key in the spec (no archive + create).

    Rewrites its reconciler_key marker in the portal, then the state, so a state rebuilt
    from the portal (a stateless CI) finds it at the new address. Shows the plan and
    asks unless --auto-approve. In a GitOps repository prefer a `moved:` entry in the
    spec, applied by CI. --offline edits only the state file.

    \b
    Example:
      reconciler state mv meetings/kickoff meetings/northwind-kickoff --project examples
    """
    options = _options(project_dir, target_name, state_path, base_url)
    if offline:
        outcome = move_in_state(options, source, destination)
        _render_edit(outcome, f"Moved {source} to {destination}.")
        click.echo(_OFFLINE_EDIT)
        return 0
    _, code = _run_with_plan(partial(run_state_mv, source=source, destination=destination),
                             options, auto_approve, "Move this record?")
    return code


def _render_edit(outcome: StateEditOutcome, message: str) -> None:
    click.echo(message)
    _render_state_footer(outcome.target.state_path, outcome.backup)


@state.command("rebuild")
@target_options
def state_rebuild(project_dir: Path, target_name: str | None, state_path: Path | None,
                  base_url: str | None) -> int:
    """Rebuild the state file from the portal, by this project's id markers on each record.

    For a lost or damaged state file: the old file is kept as a backup. Every record whose
    reconciler_project is this project's id is found, including those whose key is no
    longer in the spec (the next plan archives them). Markers of the first release (a
    name, no reconciler_project) are never taken: they may be another project's.

    \b
    Example:
      reconciler state rebuild --target sandbox
    """
    outcome = rebuild_state(_options(project_dir, target_name, state_path, base_url))
    _render_adopted(outcome, "Found", f"Rebuilt the state with {len(outcome.adopted)} record(s).")
    return 0


@state.command("rebind")
@target_options
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Rebind without asking.")
def state_rebind(project_dir: Path, target_name: str | None, state_path: Path | None,
                 base_url: str | None, assume_yes: bool) -> int:
    """Make a state file of another project, target or portal this project's, on purpose.

    Every command refuses a state file that belongs to another project or target (so a
    wrong --state never archives someone else's records). When the file really is meant
    for this project (a copied or moved project, a renamed target), rebind rewrites its
    project, target and portal, keeping a backup. Its records are then managed by this
    project: the next plan rewrites their markers and archives those not in the spec.

    \b
    Example:
      reconciler state rebind --state old/.reconciler/state/local.json --target sandbox
    """
    def confirm(change: Rebinding) -> bool:
        project, project_id, target, portal = change.before
        click.echo(
            f"{change.path} holds {change.records} record(s) of project {project or '(none)'}"
            f" (id {project_id or 'none'}), target {target or '(none)'}, portal "
            f"{portal or 'unknown'}.\nIt becomes the state of project {change.after[0]} "
            f"(id {change.after[1]}) for target {change.after[2]}; the next plan shows what "
            "that means for its records."
        )
        if assume_yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError("rebind needs confirmation but there is no terminal; pass --yes")
        return confirm_on_terminal("Rebind this state?")  # (Ctrl-C cancels, always)

    outcome = rebind_state(_options(project_dir, target_name, state_path, base_url),
                           confirm=confirm)
    if not outcome.changed:
        click.echo("Cancelled.")
        return 0
    _render_edit(outcome, f"Rebound {outcome.target.state_path} to this project.")
    return 0
