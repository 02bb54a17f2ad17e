"""The terminal a command runs on: colour, the confirmation prompt, Ctrl-C, progress."""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from reconciler.planning.changes import Plan


def colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


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
def graceful_interrupt(interrupts: Interrupts) -> Iterator[None]:
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
        click.echo(
            "\nStopping after the batches in flight (Ctrl-C again to abort now)...", err=True
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def progress_bar(
    enabled: bool,
) -> tuple[Callable[[Plan], Callable[[int], None]], Callable[[], None]]:
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
