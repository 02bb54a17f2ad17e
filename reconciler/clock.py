"""The clock seam: every wait and every reading of the time goes through one ``Clock``.

Production runs on ``SYSTEM_CLOCK``. The client settings carry the clock to the connection,
its retries and rate limiter, recovery and the search-lag waits; the in-process emulator
takes one too (search lag, slow answers, fault timing), so a test can run a fault storm or
a search-lag wait on a clock that moves only when something waits, and a test never
calls ``time.sleep``.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Wall time (seconds since the epoch), monotonic time, and a wait."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]
