"""The options shared by the commands that work on a project, and how they become the
library's ``RunOptions``: ``reconciler.yaml`` is read here, once per command
(``read_project``), and handed down in the options."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler.clock import SYSTEM_CLOCK
from reconciler.identity.refresh import MODES, refresh_mode
from reconciler.model import ProjectSettings
from reconciler.workflow.options import RunOptions


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


def read_project(project_dir: Path) -> ProjectSettings:
    """``reconciler.yaml`` of the project (all defaults when there is none): read once by
    each command, then handed to the library in ``RunOptions``."""
    from reconciler.loading.project_settings import load_project_settings

    return load_project_settings(project_dir)


def once(default: Any = None) -> Callable[[click.Context, click.Parameter, Any], Any]:
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
    """--project, --target, --state, --base-url and --var, shared by every command that
    needs a portal."""
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
        callback=once(), metavar="FILE",
        help="State file to use (default: .reconciler/state/<target>.json in the project).",
    )(func)
    func = click.option(
        "--target", "-t", "target_names" if many else "target_name", multiple=True,
        callback=None if many else once(), metavar="NAME",
        help="Target portal from reconciler.yaml (default: the project's default_target, "
        "`local`)" + ("; repeat it for several, which run side by side." if many else "."),
    )(func)
    func = click.option(
        "--project", "-p", "project_dir",
        # (readable=False: an unreadable folder is the loader's to report, as for validate)
        type=click.Path(path_type=Path, file_okay=False, readable=False),
        multiple=True, callback=once(find_project), metavar="DIR",
        help="The project folder.  [default: the nearest folder, here or above, with a "
        "reconciler.yaml, as git finds its repository]",
    )(func)
    return func


def run_options(project: ProjectSettings, target_name: str | None, state_path: Path | None,
                base_url: str | None, offline: bool = False, *,
                allow_archives: int | None = None, migrate_markers: bool = False,
                only: tuple[str, ...] = (), refresh: str = "incremental",
                ignore_daily_budget: bool = False, dedupe: bool = False,
                allow_schema_data_loss: bool = False) -> RunOptions:
    """The library's options for one target of this command."""
    return RunOptions(
        project=project,
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
        allow_schema_data_loss=allow_schema_data_loss,
    )


def dedupe_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dedupe", is_flag=True,
        help="Archive the extra records of every marker carried by more than one record "
        "(keeping the one the state maps, else the oldest); the plan shows them first.",
    )(func)


def allow_schema_data_loss_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--allow-schema-data-loss", is_flag=True,
        help="Archive or retype a property of the schema: section even though records hold "
        "values in it (never on a protected target).",
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
