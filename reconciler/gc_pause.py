"""Pausing Python's cyclic garbage collector around bulk loads."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

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
