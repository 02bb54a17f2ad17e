"""`plan` and `apply`: compare the spec with a portal and make it so.

One target or several, both go through ``reconciler.workflow.many_targets`` (one is the
run over one); ``outcomes`` shows what came of it.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.cli.base import EXIT_CHANGES, cli
from reconciler.cli.options import (
    allow_archives_option,
    allow_schema_data_loss_option,
    dedupe_option,
    many_target_options,
    read_project,
    refresh_option,
    run_options,
)
from reconciler.cli.outcomes import (
    echo_applies,
    echo_apply,
    echo_plan,
    echo_plans,
    echo_plans_to_confirm,
)
from reconciler.cli.terminal import Interrupts, graceful_interrupt, progress_bar
from reconciler.errors import ConfigError
from reconciler.hubspot.budget import estimate_requests
from reconciler.planning.changes import Plan
from reconciler.state.saved_plans import save_plan
from reconciler.state.store import StateStore
from reconciler.targets import target_names as chosen_targets
from reconciler.workflow.many_targets import apply_targets, plan_targets
from reconciler.workflow.options import RunOptions
from reconciler.workflow.runs import ApplyOutcome


@cli.command()
@many_target_options
@click.option("--offline", is_flag=True, help="Plan from the state file alone; needs no token.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as versioned JSON.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default=None,
    help="Output format (markdown: for a pull-request comment).",
)
@click.option("--out", "out_file", type=click.Path(path_type=Path),
              help="Save the plan for `apply --plan FILE`.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 with no changes, 2 with changes, 1 on error.")
@refresh_option
@dedupe_option
@allow_schema_data_loss_option
def plan(project_dir: Path, target_names: tuple[str, ...], all_targets: bool,
         only: tuple[str, ...], state_path: Path | None,
         base_url: str | None, offline: bool, as_json: bool, fmt: str | None,
         out_file: Path | None, detailed_exitcode: bool, refresh: str, dedupe: bool,
         allow_schema_data_loss: bool) -> int:
    """Show what apply would create, update and archive.

    By default the managed records are read from the portal first, so edits made in
    HubSpot since the last apply show as drift. With several targets (--target repeated,
    or --all-targets) each is planned side by side, output is grouped per target with a
    summary table at the end, and the exit code is the worst one (error 1 > interrupted
    130 > changes 2 with --detailed-exitcode > 0).

    \b
    Examples:
      reconciler plan --project examples
      reconciler plan --offline --json
      reconciler plan --target sandbox --out plan.json
      reconciler plan --target sandbox --target demo-2 --format markdown
      reconciler plan --only 'meetings/*'
      reconciler plan --dedupe --out dedupe.json
    """
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} contradict each other; pick one")
    fmt = "json" if as_json else (fmt or "text")
    runs, grouped = _runs(project_dir, target_names, all_targets, state_path, base_url,
                          out_file=out_file, offline=offline, only=only, refresh=refresh,
                          dedupe=dedupe, allow_schema_data_loss=allow_schema_data_loss)
    results = plan_targets(runs)
    if grouped:
        return echo_plans(results, fmt=fmt, detailed_exitcode=detailed_exitcode)
    outcome = results[0].unwrap()
    echo_plan(outcome, fmt)
    if out_file is not None:
        save_plan(outcome.plan, out_file, StateStore(outcome.target.state_path))
        if fmt == "text":
            command = _apply_command(out_file, project_dir, runs[0].target_name, state_path)
            click.echo(f"\nSaved the plan to {out_file}; run `{command}`.")
    if detailed_exitcode and outcome.plan.has_changes:
        return EXIT_CHANGES
    return 0


def _echo_checked(outcome: ApplyOutcome, plan_file: Path | None) -> int:
    """``apply --plan FILE --check``: the plan holds (it was refused otherwise)."""
    count = len(outcome.plan.changes)
    click.echo(
        f"{plan_file} still holds for {outcome.target.name}: the state it was made from, and "
        f"the portal where its {count} change{'s' if count != 1 else ''} touch it, are as the "
        "plan saw them. Nothing was applied."
    )
    if outcome.plan.has_changes:
        click.echo(estimate_requests(outcome.plan).describe(None))
    return 0


def _runs(
    project_dir: Path, given: tuple[str, ...], all_targets: bool, state_path: Path | None,
    base_url: str | None, *, out_file: Path | None = None, plan_file: Path | None = None,
    **flags: Any,
) -> tuple[list[RunOptions], bool]:
    """The options of each target of the run, reading ``reconciler.yaml`` once, and
    whether several were asked for (--target repeated, or --all-targets: the output is
    then grouped per target)."""
    project = read_project(project_dir)
    if len(given) <= 1 and not all_targets:
        name = given[0] if given else None
        return [run_options(project, name, state_path, base_url, **flags)], False
    names = chosen_targets(project, given, all_targets=all_targets)
    _refuse_with_many(state_path, base_url, out_file, plan_file)
    return [run_options(project, name, None, None, **flags) for name in names], True


def _refuse_with_many(state_path: Path | None, base_url: str | None,
                      out_file: Path | None = None, plan_file: Path | None = None) -> None:
    for given, flag, why in (
        (state_path, "--state", "names one target's state file"),
        (base_url, "--base-url (or HUBSPOT_BASE_URL)", "would point every target at one server"),
        (out_file, "--out", "saves one target's plan"),
        (plan_file, "--plan", "applies one target's saved plan"),
    ):
        if given is not None:
            raise ConfigError(f"{flag} {why}; give a single --target with it")


def _apply_command(out_file: Path, project_dir: Path, target_name: str | None,
                   state_path: Path | None) -> str:
    """The apply command for a saved plan, as it works from where the user is."""
    words = ["reconciler", "apply", "--plan", str(out_file)]
    if Path(project_dir) != Path("."):
        words += ["--project", str(project_dir)]
    if target_name:
        words += ["--target", target_name]
    if state_path is not None:
        words += ["--state", str(state_path)]
    return " ".join(shlex.quote(w) for w in words)


@cli.command()
@many_target_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--plan", "plan_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Apply exactly this saved plan (refused if the state changed since, or the "
              "portal where the plan touches it).")
@click.option("--check", "check_only", is_flag=True,
              help="With --plan: only check that the saved plan still holds (exit 0) or not "
              "(exit 1); nothing is written.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@allow_archives_option
@click.option("--migrate-markers", is_flag=True,
              help="On a protected target, allow the one-time rewrite of every managed "
              "record's markers that the plan shows.")
@refresh_option
@click.option("--ignore-daily-budget", is_flag=True,
              help="Start even if the requests the apply needs exceed what HubSpot's "
              "daily limit leaves for today (it stops when the limit is reached).")
@dedupe_option
@allow_schema_data_loss_option
def apply(project_dir: Path, target_names: tuple[str, ...], all_targets: bool,
          only: tuple[str, ...], state_path: Path | None,
          base_url: str | None, auto_approve: bool, plan_file: Path | None, as_json: bool,
          check_only: bool, allow_archives: int | None, migrate_markers: bool, refresh: str,
          ignore_daily_budget: bool, dedupe: bool, allow_schema_data_loss: bool) -> int:
    """Make the portal match the spec: create, update and archive records.

    Shows the plan and asks first unless --auto-approve (or --plan) is given. The
    state file is saved after every batch; run apply again after any failure or
    interruption: nothing is created twice. A plan that archives more records than the
    target allows (max_archives, max_archive_percent) is refused before anything is
    written unless --allow-archives N covers it. With several targets, every target is
    planned first, the plans are shown together with one question, and the targets are
    applied side by side; one failing does not stop the others.

    A saved plan (--plan) is applied only while it still holds: the state is the one it
    was made from (lineage and serial), every record it touches still holds what the plan
    saw, and nothing it creates has been made since; otherwise nothing is written.
    --check says which, and writes nothing.

    \b
    Examples:
      reconciler apply --project examples --auto-approve
      reconciler apply --plan plan.json
      reconciler apply --plan plan.json --check
      reconciler apply --target sandbox --allow-archives 120
      reconciler apply --all-targets --auto-approve
      reconciler apply --only meetings/kickoff
      reconciler apply --dedupe
    """
    if check_only and plan_file is None:
        raise click.UsageError("--check checks a saved plan; give it with --plan FILE")
    if plan_file is not None and not plan_file.is_file():
        # (checked here, not by click: the workflow test resolves `--plan plan.json`
        # against the click tree before any plan file exists)
        raise ConfigError(
            f"{plan_file}: no such plan file; make one with `reconciler plan --out {plan_file}`"
        )
    interactive = sys.stdin.isatty()
    if not auto_approve and plan_file is None and not interactive:
        raise ConfigError(
            "apply needs confirmation but there is no terminal to ask on; "
            "pass --auto-approve (or apply a saved plan with --plan FILE)"
        )
    runs, grouped = _runs(project_dir, target_names, all_targets, state_path, base_url,
                          plan_file=plan_file, allow_archives=allow_archives,
                          migrate_markers=migrate_markers, only=only, refresh=refresh,
                          ignore_daily_budget=ignore_daily_budget, dedupe=dedupe,
                          allow_schema_data_loss=allow_schema_data_loss)

    def confirm(plans: Sequence[tuple[str, Plan]]) -> bool:
        if plan_file is not None:  # reviewed already, when it was saved
            if not as_json:  # (what it takes now: its check's reads, not the plan's)
                for _name, the_plan in plans:
                    click.echo(estimate_requests(the_plan).describe(None))
            return True
        if not as_json:
            echo_plans_to_confirm(plans, grouped=grouped)
        if auto_approve:
            return True
        if grouped:
            count = len(plans)
            return interrupts.ask(
                f"Apply these changes to {count} target{'s' if count != 1 else ''}?"
            )
        click.echo("")
        return interrupts.ask("Apply these changes?")

    interrupts = Interrupts()
    progress_factory, finish_progress = progress_bar(
        enabled=not grouped and sys.stderr.isatty() and not as_json
    )
    with graceful_interrupt(interrupts):
        results = apply_targets(
            runs, confirm=confirm, progress=None if grouped else progress_factory,
            stop=interrupts.stop, saved_plan=plan_file, check_only=check_only,
        )
    finish_progress()
    if check_only:
        return _echo_checked(results[0].unwrap(), plan_file)
    if grouped:
        return echo_applies(results, as_json=as_json)
    return echo_apply(results[0].unwrap(), as_json=as_json)
