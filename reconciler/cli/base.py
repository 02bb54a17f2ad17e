"""The root command group, the exit codes, and the one place errors are rendered."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

import click

from reconciler import __version__
from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.errors import ReconcilerError, SpecError
from reconciler.gc_pause import end_without_teardown, leave_with

# Exit codes: 0 ok, 1 an expected error (bad spec, refused request, bad usage...), 2 plan
# has changes (with --detailed-exitcode, and nothing else), 3 a bug (unexpected
# exception), 130 interrupted.
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option(
    "--debug", is_flag=True, help="Show tracebacks for errors and log one line per HTTP request."
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Keep HubSpot CRM records (meetings, calls, contacts, companies, deals) in YAML.

    \b
    Example:
      reconciler validate examples
      reconciler plan --project examples
      reconciler apply --project examples --auto-approve
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:  # one line per HTTP request (never headers or the token) on stderr
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger = logging.getLogger("reconciler")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def render_error(error: ReconcilerError) -> None:
    """Print an expected error the way a user can act on it: one line per problem."""
    if isinstance(error, SpecError):
        for issue in error.issues:
            click.echo(issue.render(), err=True)
        click.secho(f"Error: {error}", fg="red", err=True)
        return
    click.secho(f"Error: {error}", fg="red", err=True)


def render_target_error(name: str, error: Exception) -> None:
    """The error that stopped one target of a run over several (the others went on)."""
    if isinstance(error, ReconcilerError):
        render_error(error)
    else:
        click.secho(f"Error on target {name}: {error_text(error)}", fg="red", err=True)


def error_text(error: Exception) -> str:
    """An error on one line, for a summary table, a JSON document or a pull request."""
    if isinstance(error, SpecError):
        return "; ".join(issue.render() for issue in error.issues[:5]) + (
            f"; and {len(error.issues) - 5} more" if len(error.issues) > 5 else ""
        )
    if isinstance(error, ReconcilerError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error} (run with --debug and report it)"


def error_exit_code(error: Exception) -> int:
    return error.exit_code if isinstance(error, ReconcilerError) else EXIT_BUG


def run() -> None:
    """The ``reconciler`` command and ``python -m reconciler``: ``main`` in a process that
    ends without freeing its big loads one object at a time (``gc_pause``); in-process
    callers (tests) use ``main``."""
    end_without_teardown()
    leave_with(main())


def main(argv: list[str] | None = None, *, clock: Clock = SYSTEM_CLOCK) -> int:
    """Run the CLI; map expected errors to 1, bugs to 3 and Ctrl-C to 130. ``clock``: the
    clock of the run's client (and embedded emulator) waits, in ``ctx.obj["clock"]``; tests
    pass a fake one."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        result: Any = cli.main(args=argv, prog_name="reconciler", standalone_mode=False,
                               obj={"clock": clock})
    except ReconcilerError as error:
        if debug:
            traceback.print_exc()
        render_error(error)
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as error:
        # A usage error is an error like any other: exit 1, as Terraform does; 2 means
        # "plan has changes" to scripts using --detailed-exitcode.
        error.show()
        return EXIT_ERROR
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except OSError as error:
        # The machine, not the code: a full disk, a folder we may not read, a file that
        # vanished. Say which file and why; the traceback only with --debug.
        if debug:
            traceback.print_exc()
        where = f" ({error.filename})" if error.filename else ""
        click.secho(
            f"Error: {error.strerror or error}{where}; check that the file or folder exists, "
            "can be read and written, and that the disk has room",
            fg="red", err=True,
        )
        return EXIT_ERROR
    except Exception:  # noqa: BLE001 - a bug: say so, and how to report it
        if debug:
            traceback.print_exc()
        else:
            exc_type, exc, _ = sys.exc_info()
            click.secho(
                f"Internal error: {exc_type.__name__ if exc_type else 'Exception'}: {exc}. "
                "Run again with --debug for the traceback and report it.",
                fg="red",
                err=True,
            )
        return EXIT_BUG
    return int(result) if isinstance(result, int) else 0
