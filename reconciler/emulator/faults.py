"""Fault injection: which misbehaviour, if any, a request gets. Seeded, so runs repeat.

Faults apply only to HubSpot's namespace, never to ``/__emulator/``. One roll per
request picks among 5xx, drop-before-write, drop-after-commit and 429 by their shares;
a second roll decides whether the answer is slow.
"""

from __future__ import annotations

import enum
import random
import threading

from reconciler.emulator.config import FaultConfig


class Fault(enum.Enum):
    NONE = "none"
    ERROR_5XX = "5xx"
    DROP_BEFORE_WRITE = "drop_before_write"
    DROP_AFTER_COMMIT = "drop_after_commit"
    RATE_LIMIT_429 = "429"


SERVER_ERRORS = (500, 502, 503, 504)


class FaultInjector:
    """Rolls the dice for each request from one seeded RNG (thread-safe)."""

    def __init__(self, faults: FaultConfig, seed: int) -> None:
        self._lock = threading.Lock()
        self.faults = faults
        self._rng = random.Random(seed)

    def configure(self, faults: FaultConfig, seed: int | None = None) -> None:
        with self._lock:
            self.faults = faults
            if seed is not None:
                self._rng = random.Random(seed)

    def decide(self) -> tuple[Fault, float, int]:
        """The fault for one request, the extra delay in seconds, and a 5xx status."""
        with self._lock:
            faults = self.faults
            if not faults.any:
                return Fault.NONE, 0.0, 0
            roll = self._rng.random()
            delay = faults.slow_seconds if self._rng.random() < faults.slow else 0.0
            status = self._rng.choice(SERVER_ERRORS)
        edge = 0.0
        for fault, share in (
            (Fault.ERROR_5XX, faults.error_5xx),
            (Fault.DROP_BEFORE_WRITE, faults.drop_before_write),
            (Fault.DROP_AFTER_COMMIT, faults.drop_after_commit),
            (Fault.RATE_LIMIT_429, faults.rate_limit_429),
        ):
            edge += share
            if roll < edge:
                return fault, delay, status
        return Fault.NONE, delay, status
