"""Pausing Python's cyclic garbage collector around bulk loads, and not freeing them one by one
when the command line's process ends."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

#: a load that left more new objects than this is frozen (``gc_paused``)
FREEZE_ABOVE = 200_000


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector while a load allocates many small, acyclic objects.

    Its repeated full passes over a growing heap were measured at 40-60% of loading a
    50k-record project and ~1/3 of loading a 50k-record state; such loads make no cycles.

    A big load (more than ``FREEZE_ABOVE`` objects still alive) is then frozen
    (``gc.freeze``): the collector would otherwise walk every one of those objects again
    as they age through its three generations (0.3 s of a 50k-record ``plan --offline``),
    only to find what was loaded still in use. Frozen objects are still freed when their
    last reference goes; only a reference cycle existing at that moment would be kept
    until the process ends, and the records loaded make none.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > FREEZE_ABOVE:
                gc.freeze()
            gc.enable()


# What big loads made, kept alive while the command line's process is to end without
# freeing it (``end_without_teardown``); None in any other caller (tests, the library).
_kept: list[object] | None = None
_exit_code: list[int] = []

T = TypeVar("T")


def kept_until_exit(loaded: T) -> T:
    """``loaded``, kept alive until the process ends when it is to end without teardown."""
    if _kept is not None:
        _kept.append(loaded)
    return loaded


def end_without_teardown() -> None:
    """Let this process end without freeing the millions of objects a big load made, one at
    a time (~0.15 s of a warm 50k-record ``plan --offline``; freeing them is the kernel's
    job once the process is gone). For the command line's own process only (``cli.base.run``).

    Big loads are kept alive (``kept_until_exit``) instead of being freed as the command
    returns. At the exit, Python first joins every non-daemon thread, then runs the atexit
    handlers, last registered first: ``_leave``, registered here before the command runs,
    comes after every handler the command registers; it runs logging's (registered when
    ``logging`` was imported, before this), flushes stdout and stderr, and only then leaves
    with ``os._exit`` (what the interpreter would do next is tear the heap down). The state
    is saved and its lock released inside the command, never by an exit handler.
    """
    global _kept
    if _kept is None:
        _kept = []
        atexit.register(_leave)


def leave_with(code: int) -> NoReturn:
    """Exit with ``code``; after ``end_without_teardown``, without tearing the heap down."""
    _exit_code.append(code)
    sys.exit(code)


def _leave() -> None:
    if not _exit_code:  # the command did not return (an exception escaped): a normal exit
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: as at a normal exit, nothing to add
            pass
    os._exit(_exit_code[-1])
