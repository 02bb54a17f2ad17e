"""Helpers the test layers share: projects on disk, what the emulator holds, a fake clock."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: ``run(*args) -> (exit code, stdout, stderr)``: the CLI against the emulator (fixture in
#: ``tests/conftest.py``).
Run = Callable[..., tuple[int, str, str]]


def write_project(root: Path, files: dict[str, str]) -> Path:
    """A project folder with these files (paths relative to it, text dedented)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def stored(emulator: Any, object_type: str) -> list[dict[str, Any]]:
    """What the emulator holds of one object type (archived records left out)."""
    return list(emulator.records(object_type))


class FakeClock:
    """A ``reconciler.clock.Clock`` whose time moves only when something waits on it (or a
    test moves ``now``): a 10 s wait takes no time, and still counts as 10 s for whatever
    reads the clock (a request's deadline, the emulator's search lag).

    A wait ends where it would on a real clock: ``sleep(s)`` ends ``s`` after the time the
    same thread last read, so waits that several threads work out from the same moment
    (every worker waiting for the rate limiter's window to free) overlap instead of adding
    up. ``slept`` lists every wait asked for, in order.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start  # what ``monotonic()`` reads
        #: ``time()`` is ``epoch + now``: it starts at the real time, so timestamps look current
        self.epoch = time.time() - start
        self.slept: list[float] = []
        self._lock = threading.Lock()
        self._read = threading.local()

    def monotonic(self) -> float:
        with self._lock:
            self._read.at = self.now
            return self.now

    def time(self) -> float:
        return self.epoch + self.monotonic()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            since = getattr(self._read, "at", self.now)
            self.now = max(self.now, since + max(0.0, seconds))
            self._read.at = self.now
