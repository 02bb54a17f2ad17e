"""`state`: inspect and repair the state file (list, show, rm, mv, rebuild, rebind)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import click

from reconciler.cli.base import cli
from reconciler.cli.manage_commands import run_with_plan
from reconciler.cli.options import read_project, run_options, target_options
from reconciler.cli.outcomes import echo_adopted, echo_state_edit
from reconciler.cli.terminal import confirm_on_terminal
from reconciler.errors import ConfigError
from reconciler.identity.adoption import rebuild_state
from reconciler.workflow.options import resolve
from reconciler.workflow.state_edits import (
    Rebinding,
    move_in_state,
    rebind_state,
    remove_from_state,
    run_state_mv,
    run_state_rm,
)


@cli.group()
def state() -> None:
    """Inspect and repair the state file: which HubSpot id each local key became."""


@state.command("list")
@target_options
def state_list(project_dir: Path, target_name: str | None, state_path: Path | None,
               base_url: str | None) -> int:
    """List every managed record as ADDRESS  HUBSPOT-ID.

    \b
    Example:
      reconciler state list --project examples
    """
    target, store = resolve(run_options(read_project(project_dir), target_name, state_path,
                                        base_url))
    loaded = store.load()
    if not loaded.records:
        click.echo(f"No records in {target.state_path}.")
        return 0
    width = max(len(a) for a in loaded.records)
    for address, recorded in sorted(loaded.records.items()):
        click.echo(f"{address:<{width}}  {recorded.id}")
    click.echo(f"{len(loaded.records)} records in {target.state_path}.")
    return 0


@state.command("show")
@target_options
@click.argument("address")
def state_show(project_dir: Path, target_name: str | None, state_path: Path | None,
               base_url: str | None, address: str) -> int:
    """Show what the state holds for one record, as JSON.

    \b
    Example:
      reconciler state show meetings/kickoff --project examples
    """
    _, store = resolve(run_options(read_project(project_dir), target_name, state_path, base_url))
    loaded = store.load()
    recorded = loaded.records.get(address)
    if recorded is None:
        raise ConfigError(f"{address} is not in the state; `reconciler state list` shows what is")
    click.echo(json.dumps({"address": address, **recorded.to_json()}, indent=2))
    return 0


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
    options = run_options(read_project(project_dir), target_name, state_path, base_url)
    if offline:
        outcome = remove_from_state(options, addresses)
        echo_state_edit(outcome, f"Removed {', '.join(outcome.changed)} from the state.")
        click.echo(_OFFLINE_EDIT)
        return 0
    _, code = run_with_plan(partial(run_state_rm, addresses=addresses), options, auto_approve,
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
    options = run_options(read_project(project_dir), target_name, state_path, base_url)
    if offline:
        outcome = move_in_state(options, source, destination)
        echo_state_edit(outcome, f"Moved {source} to {destination}.")
        click.echo(_OFFLINE_EDIT)
        return 0
    _, code = run_with_plan(partial(run_state_mv, source=source, destination=destination),
                             options, auto_approve, "Move this record?")
    return code


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
    outcome = rebuild_state(
        run_options(read_project(project_dir), target_name, state_path, base_url)
    )
    echo_adopted(outcome, "Found", f"Rebuilt the state with {len(outcome.adopted)} record(s).")
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

    outcome = rebind_state(
        run_options(read_project(project_dir), target_name, state_path, base_url), confirm=confirm
    )
    if not outcome.changed:
        click.echo("Cancelled.")
        return 0
    echo_state_edit(outcome, f"Rebound {outcome.target.state_path} to this project.")
    return 0
