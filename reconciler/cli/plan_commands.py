"""`plan`, `apply` and `state`: compare the spec with a portal and make it so."""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from reconciler.cli.base import EXIT_ERROR, EXIT_INTERRUPTED, cli
from reconciler.clock import SYSTEM_CLOCK
from reconciler.hubspot.budget import estimate_requests
from reconciler.errors import ConfigError
from reconciler.planning.planner import Plan
from reconciler.identity.refresh import MODES, refresh_mode
from reconciler.cli.output import (
    apply_result_json,
    full_plan_hint,
    render_apply_summary,
    render_plan_json,
    render_plan_markdown,
    render_plan_text,
    render_scope_notes,
    summary_line,
)
from reconciler.state.store import StateStore
from reconciler.workflow.runs import RunOptions, run_apply, run_plan, save_plan

EXIT_CHANGES = 2


def var_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--var name=value (repeatable): the values of the generators' variables for this run.

    Kept in the click context (``vars_given``), so commands need no parameter for it.
    """
    return click.option(
        "--var", "variables", multiple=True, metavar="NAME=VALUE", expose_value=False,
        callback=lambda ctx, _param, value: ctx.meta.__setitem__("reconciler.vars", value),
        help="Set a variable of the project's generators (vars: in reconciler.yaml); repeatable.",
    )(func)


def vars_given() -> tuple[tuple[str, str], ...]:
    """The --var values of the running command, as (name, value) pairs."""
    from reconciler.generate.loading import parse_var_option

    context = click.get_current_context(silent=True)
    raw = context.meta.get("reconciler.vars", ()) if context is not None else ()
    return tuple(parse_var_option(text) for text in raw)


def find_project() -> Path:
    """The default of --project: the nearest folder, here or above, with a reconciler.yaml
    (``reconciler.loading.find_project``; imported when needed, the spec loader is heavy)."""
    from reconciler.loading.files import find_project as nearest

    return nearest()


def _once(default: Any = None) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback for an option given at most once: ``--target a --target b`` is refused
    instead of quietly meaning ``b`` (the option is declared ``multiple`` to see repeats)."""
    def callback(ctx: click.Context, param: click.Parameter, values: Any) -> Any:
        values = tuple(values or ())
        if len(values) > 1:
            raise click.BadParameter(
                f"given {len(values)} times ({', '.join(map(str, values))}); give it once",
                ctx=ctx, param=param,
            )
        if values:
            return values[0]
        return default() if callable(default) else default  # (computed only when needed)

    return callback


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--project, --target, --state, --base-url and --var, shared by every command that needs a portal."""
    return _target_option_set(func, many=False)


def many_target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``target_options`` for plan and apply: --target may be repeated, --all-targets takes
    every unprotected target, --only limits the run to some records."""
    func = click.option(
        "--only", "only", multiple=True, metavar="ADDRESS",
        help="Limit the run to this record (type/key, or a glob like 'meetings/*') and the "
        "records it needs that are not created yet; repeatable. Nothing else is touched.",
    )(func)
    func = click.option(
        "--all-targets", is_flag=True,
        help="Every target of reconciler.yaml that is not protected (with any --target given).",
    )(func)
    return _target_option_set(func, many=True)


def _target_option_set(func: Callable[..., Any], *, many: bool) -> Callable[..., Any]:
    func = var_option(func)
    func = click.option(
        "--base-url",
        envvar="HUBSPOT_BASE_URL",
        help="Use this server instead of the target's (for `local`: start no emulator). "
        "Also HUBSPOT_BASE_URL.",
    )(func)
    func = click.option(
        "--state", "state_path", type=click.Path(path_type=Path), multiple=True,
        callback=_once(), metavar="FILE",
        help="State file to use (default: .reconciler/state/<target>.json in the project).",
    )(func)
    func = click.option(
        "--target", "-t", "target_names" if many else "target_name", multiple=True,
        callback=None if many else _once(), metavar="NAME",
        help="Target portal from reconciler.yaml (default: the project's default_target, "
        "`local`)" + ("; repeat it for several, which run side by side." if many else "."),
    )(func)
    func = click.option(
        "--project", "-p", "project_dir",
        # (readable=False: an unreadable folder is the loader's to report, as for validate)
        type=click.Path(path_type=Path, file_okay=False, readable=False),
        multiple=True, callback=_once(find_project), metavar="DIR",
        help="The project folder.  [default: the nearest folder, here or above, with a "
        "reconciler.yaml, as git finds its repository]",
    )(func)
    return func


def _options(project_dir: Path, target_name: str | None, state_path: Path | None,
             base_url: str | None, offline: bool = False, *,
             allow_archives: int | None = None, migrate_markers: bool = False,
             only: tuple[str, ...] = (), refresh: str = "incremental",
             ignore_daily_budget: bool = False, dedupe: bool = False) -> RunOptions:
    return RunOptions(
        project_dir=project_dir,
        environ=dict(os.environ),
        clock=(click.get_current_context().obj or {}).get("clock", SYSTEM_CLOCK),
        target_name=target_name,
        state_path=state_path,
        base_url=base_url,
        offline=offline,
        allow_archives=allow_archives,
        migrate_markers=migrate_markers,
        variables=vars_given(),
        only=tuple(only),
        refresh=refresh_mode(refresh),
        ignore_daily_budget=ignore_daily_budget,
        dedupe=dedupe,
    )


def dedupe_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dedupe", is_flag=True,
        help="Archive the extra records of every marker carried by more than one record "
        "(keeping the one the state maps, else the oldest); the plan shows them first.",
    )(func)


def allow_archives_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--allow-archives", type=click.IntRange(min=0), metavar="N",
        help="Archive up to N records even past the target's max_archives (default 50) or "
        "max_archive_percent (default 10% of the managed records, when over 5).",
    )(func)


def refresh_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--refresh", type=click.Choice(MODES), default="incremental", show_default=True,
        help="incremental: read only the records HubSpot says changed since the last "
        "refresh (falls back to full when that cannot be trusted); full: read every "
        "managed record and its associations (finds removed associations).",
    )(func)


def _colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


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
def plan(project_dir: Path, target_names: tuple[str, ...], all_targets: bool,
         only: tuple[str, ...], state_path: Path | None,
         base_url: str | None, offline: bool, as_json: bool, fmt: str | None,
         out_file: Path | None, detailed_exitcode: bool, refresh: str, dedupe: bool) -> int:
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
    names = _target_names(project_dir, target_names, all_targets)
    if names is not None:
        from reconciler.cli.many_commands import plan_many

        _refuse_with_many(state_path, base_url, out_file)
        return plan_many(
            [_options(project_dir, n, None, None, offline, only=only, refresh=refresh,
                      dedupe=dedupe)
             for n in names],
            fmt=fmt, detailed_exitcode=detailed_exitcode,
        )
    target_name = target_names[0] if target_names else None
    outcome = run_plan(_options(project_dir, target_name, state_path, base_url, offline,
                                only=only, refresh=refresh, dedupe=dedupe))
    the_plan = outcome.plan
    if fmt == "json":
        click.echo(render_plan_json(the_plan, released=outcome.released, needed=outcome.needed))
    elif fmt == "markdown":
        click.echo(render_plan_markdown(
            the_plan, released=outcome.released, needed=outcome.needed,
            full_plan_hint=full_plan_hint(os.environ),
        ), nl=False)
    else:
        if outcome.in_flight:
            click.echo(
                f"Note: {outcome.in_flight} record(s) from an interrupted apply will be looked "
                "up by marker and adopted by the next apply before anything is created.\n"
            )
        for line in render_scope_notes(outcome.released, outcome.needed, outcome.target.name):
            click.echo(line + "\n")
        click.echo(render_plan_text(the_plan, colour=_colour()))
        if outcome.refresh is not None:
            click.echo(outcome.refresh.describe())
        if the_plan.has_changes:
            click.echo(estimate_requests(the_plan).describe(outcome.daily_remaining))
    if out_file is not None:
        save_plan(the_plan, out_file, StateStore(outcome.target.state_path))
        if fmt == "text":
            command = _apply_command(out_file, project_dir, target_name, state_path)
            click.echo(f"\nSaved the plan to {out_file}; run `{command}`.")
    if detailed_exitcode and the_plan.has_changes:
        return EXIT_CHANGES
    return 0


def _target_names(
    project_dir: Path, given: tuple[str, ...], all_targets: bool
) -> list[str] | None:
    """The targets of a run over several (--target repeated, or --all-targets); None for
    the usual run over one."""
    if len(given) <= 1 and not all_targets:
        return None
    from reconciler.loading import load_project_settings
    from reconciler.targets import target_names

    return target_names(load_project_settings(project_dir), given, all_targets=all_targets)


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


class Interrupts:
    """Ctrl-C, as a run sees it. While a question is asked (``asking``) or before anything
    is written, Ctrl-C cancels at once; once writing, the first one stops after the batches
    in flight (``stop``) and a second aborts."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.asking = False

    def ask(self, question: str) -> bool:
        if self.stop.is_set():  # Ctrl-C while the plan was being made: cancel
            raise click.exceptions.Abort()
        self.asking = True
        try:
            return confirm_on_terminal(question)
        finally:
            self.asking = False


def confirm_on_terminal(question: str) -> bool:
    """``click.confirm(question, default=False)``, except that Ctrl-C always cancels.

    ``input()`` (which click uses) writes the prompt, then blocks in ``read()``. A SIGINT
    that lands between the two only queues its Python handler, which runs the next time
    the main thread runs Python code; the ``read()`` it missed is not interrupted, so the
    prompt hung until Enter. Waiting for the answer in short ``select()`` slices returns
    to Python often enough for a queued Ctrl-C to be acted on."""
    stdin = sys.stdin
    if sys.platform == "win32" or not stdin.isatty():  # (no select() on a console)
        return click.confirm(question, default=False)
    while True:
        click.echo(f"{question} [y/N]: ", nl=False)
        while not select.select([stdin], [], [], 0.1)[0]:
            pass
        line = stdin.readline()
        if not line:  # end of input (Ctrl-D), as click treats it
            raise click.exceptions.Abort()
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        click.echo("Error: invalid input")


@contextmanager
def _graceful_interrupt(interrupts: Interrupts) -> Iterator[None]:
    """First Ctrl-C: finish the batches in flight, record them, stop. Second: abort now.
    At a confirmation prompt: cancel (nothing written)."""
    stop = interrupts.stop
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set() or interrupts.asking:
            raise KeyboardInterrupt
        stop.set()
        click.echo("\nStopping after the batches in flight (Ctrl-C again to abort now)...", err=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@cli.command()
@many_target_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--plan", "plan_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Apply exactly this saved plan (refused if the state changed since).")
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
def apply(project_dir: Path, target_names: tuple[str, ...], all_targets: bool,
          only: tuple[str, ...], state_path: Path | None,
          base_url: str | None, auto_approve: bool, plan_file: Path | None, as_json: bool,
          allow_archives: int | None, migrate_markers: bool, refresh: str,
          ignore_daily_budget: bool, dedupe: bool) -> int:
    """Make the portal match the spec: create, update and archive records.

    Shows the plan and asks first unless --auto-approve (or --plan) is given. The
    state file is saved after every batch; run apply again after any failure or
    interruption: nothing is created twice. A plan that archives more records than the
    target allows (max_archives, max_archive_percent) is refused before anything is
    written unless --allow-archives N covers it. With several targets, every target is
    planned first, the plans are shown together with one question, and the targets are
    applied side by side; one failing does not stop the others.

    \b
    Examples:
      reconciler apply --project examples --auto-approve
      reconciler apply --plan plan.json
      reconciler apply --target sandbox --allow-archives 120
      reconciler apply --all-targets --auto-approve
      reconciler apply --only meetings/kickoff
      reconciler apply --dedupe
    """
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
    names = _target_names(project_dir, target_names, all_targets)
    if names is not None:
        from reconciler.cli.many_commands import apply_many

        _refuse_with_many(state_path, base_url, plan_file=plan_file)
        return apply_many(
            [_options(project_dir, n, None, None, allow_archives=allow_archives,
                      migrate_markers=migrate_markers, only=only, refresh=refresh,
                      ignore_daily_budget=ignore_daily_budget, dedupe=dedupe) for n in names],
            auto_approve=auto_approve, as_json=as_json,
        )
    target_name = target_names[0] if target_names else None

    def confirm(the_plan: Plan) -> bool:
        if plan_file is not None:  # reviewed already, when it was saved
            return True
        if not as_json:
            click.echo(render_plan_text(the_plan, colour=_colour()))
            if the_plan.has_changes:
                click.echo(estimate_requests(the_plan).describe(None))
        if auto_approve:
            return True
        click.echo("")
        return interrupts.ask("Apply these changes?")

    interrupts = Interrupts()
    progress_factory, finish_progress = _progress(enabled=sys.stderr.isatty() and not as_json)
    with _graceful_interrupt(interrupts):
        outcome = run_apply(
            _options(project_dir, target_name, state_path, base_url,
                     allow_archives=allow_archives, migrate_markers=migrate_markers,
                     only=only, refresh=refresh, ignore_daily_budget=ignore_daily_budget,
                     dedupe=dedupe),
            confirm=confirm,
            progress=progress_factory,
            stop=interrupts.stop,
            saved_plan=plan_file,
        )
    finish_progress()
    if outcome.interrupted:
        click.echo("Interrupted during recovery; nothing was applied. Run apply again.", err=True)
        return EXIT_INTERRUPTED
    result = outcome.result
    if as_json:
        payload: dict[str, Any] = (
            apply_result_json(result, outcome.plan, outcome.new_ids)
            if result is not None
            else {"format_version": 1, "ok": True, "declined": outcome.declined,
                  "summary": outcome.plan.summary(), "ids": dict(outcome.new_ids)}
        )
        if outcome.released:  # (only when a target released records: the usual shape stays)
            payload["released"] = list(outcome.released)
        click.echo(json.dumps(payload, indent=2))
    if result is None:
        if not as_json:
            for line in render_scope_notes(outcome.released, outcome.needed, outcome.target.name):
                click.echo(line)
            if outcome.recovered:
                click.echo(f"Recovered {len(outcome.recovered)} record(s) from an interrupted apply.")
            click.echo("Apply cancelled." if outcome.declined else summary_line(outcome.plan))
        return 0
    if not as_json:
        for failure in result.failures:
            click.secho(failure.render(), fg="red", err=True)
        if result.stopped_reason:
            click.secho(result.stopped_reason, fg="red", err=True)
        for line in render_scope_notes(outcome.released, outcome.needed, outcome.target.name):
            click.echo(line)
        click.echo(render_apply_summary(result))
        click.echo(f"State: {outcome.target.state_path}")
    if result.interrupted:
        return EXIT_INTERRUPTED
    return 0 if result.ok else EXIT_ERROR


def _progress(enabled: bool) -> tuple[Callable[[Plan], Callable[[int], None]], Callable[[], None]]:
    """A rich progress bar with counts and rate on a terminal; nothing otherwise."""
    holder: dict[str, Any] = {}

    def factory(the_plan: Plan) -> Callable[[int], None]:
        if not enabled:
            return lambda n: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(f"{task.speed or 0:.0f} records/s")

        progress = Progress(
            TextColumn("Applying"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeRemainingColumn(), transient=True,
        )
        task = progress.add_task("apply", total=len(the_plan.changes))
        progress.start()
        holder["progress"] = progress
        return lambda n: progress.advance(task, n)

    def finish() -> None:
        if "progress" in holder:
            holder["progress"].stop()

    return factory, finish


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
    from reconciler.workflow.runs import load_state

    target, loaded = load_state(_options(project_dir, target_name, state_path, base_url))
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
    from reconciler.workflow.runs import load_state

    _, loaded = load_state(_options(project_dir, target_name, state_path, base_url))
    recorded = loaded.records.get(address)
    if recorded is None:
        raise ConfigError(f"{address} is not in the state; `reconciler state list` shows what is")
    click.echo(json.dumps({"address": address, **recorded.to_json()}, indent=2))
    return 0
