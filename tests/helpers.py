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
    """A ``reconciler.clock.Clock`` on which a wait takes no real time, and still counts as
    that long for whatever reads the clock (a request's deadline, the emulator's search lag).

    Standing (the default, for the arithmetic of one wait at a time), time moves only when
    something waits, or a test moves ``now``. ``running``, it also passes as real time does
    (for whole runs of the CLI against the emulator, where work takes time and records
    modified one after the other carry later times); a wait then skips ahead instead of
    waiting. With several threads, a sleeping thread moves the clock to when it wakes only
    once every thread that uses the clock and is not asleep has been quiet (not read it) for
    ``quiet_seconds`` of real time: a request in flight is not charged for the waits of the
    threads beside it, and waits that several threads make together (every worker waiting
    for the rate limiter's window to free) overlap, as real ones do. ``slept`` lists every
    wait asked for.
    """

    def __init__(
        self, start: float = 1000.0, *, running: bool = False, quiet_seconds: float = 0.05
    ) -> None:
        self.running = running
        self.quiet_seconds = quiet_seconds
        self._offset = start - self._real()  # now = real time (0 when standing) + offset
        #: ``time()`` is ``epoch + now``: it starts at the real time, so dates look current
        self.epoch = time.time() - start
        self.slept: list[float] = []
        self._changed = threading.Condition()
        #: thread → when (real monotonic time) it last read the clock, while not asleep
        self._used: dict[int, float] = {}
        #: sleeping thread → when (on this clock) it wakes
        self._waking: dict[int, float] = {}

    def _real(self) -> float:
        return time.monotonic() if self.running else 0.0

    @property
    def now(self) -> float:
        """What ``monotonic()`` reads (a test may set it)."""
        return self._real() + self._offset

    @now.setter
    def now(self, value: float) -> None:
        self._offset = value - self._real()

    def monotonic(self) -> float:
        with self._changed:
            self._used[threading.get_ident()] = time.monotonic()
            return self.now

    def time(self) -> float:
        return self.epoch + self.monotonic()

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        with self._changed:
            self.slept.append(seconds)
            self._used.pop(me, None)
            self._waking[me] = self.now + max(0.0, seconds)
            try:
                while (now := self.now) < self._waking[me]:
                    quiet = self._quiet_for()
                    if quiet >= self.quiet_seconds:  # to the next wake-up still ahead
                        self.now = min(w for w in self._waking.values() if w > now)
                        self._changed.notify_all()
                    else:
                        self._changed.wait(self.quiet_seconds - quiet)
            finally:
                del self._waking[me]
                self._used[me] = time.monotonic()

    def _quiet_for(self) -> float:
        """Real seconds since a thread that is not asleep last read the clock."""
        if not self._used:
            return float("inf")
        return time.monotonic() - max(self._used.values())


def write_unsealed_cache_entry(root: Path, key: str, payload: Any) -> None:
    """Store ``payload`` in ``root``'s parse cache under ``key`` as someone without this
    user's seal key would: a valid header and digest, a JSON body, no seal."""
    import hashlib
    import json

    from reconciler.loading.cache import CACHE_DIR, FORMAT, SUFFIX

    body = json.dumps(payload, separators=(",", ":")).encode()
    digest = hashlib.sha256(key.encode() + body).hexdigest()
    header = json.dumps({"format": FORMAT, "key": key, "sha256": digest}).encode()
    (root / CACHE_DIR).mkdir(parents=True, exist_ok=True)
    (root / CACHE_DIR / f"{key}{SUFFIX}").write_bytes(header + b"\n" + body)
