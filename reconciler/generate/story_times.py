"""A story's subject (a deal) from its steps' times: its stage and close date.

Apart from ``stories`` so that each run's resolution of times (``times.finalize``) and the
placement against a state (``scheduling``) can use it without the expansion's modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any


def story_values(
    story: list[Any], starts: Mapping[str, str], now: str, days: Any, tz: Any
) -> dict[str, str]:
    """A subject's stage and close date from its steps' times (wire strings by address)."""
    from reconciler.loading.times import format_wire_time

    _, final_stage, open_stage, steps, (low, high, draw) = story
    # by time only: two steps at one minute (a note and a task, which block no time) keep
    # the story's order, and a step without a stage is never compared with one that has it
    placed = sorted(((starts[a], stage) for a, stage in steps if a in starts),
                    key=lambda step: step[0])
    if not placed:
        return {}
    values: dict[str, str] = {}
    last = placed[-1][0]
    if final_stage is not None:
        values["dealstage"] = final_stage
        values["closedate"] = last
        return values
    stage = open_stage
    for when, reached in placed:
        if reached and when <= now:
            stage = reached
    if stage:
        values["dealstage"] = stage
    instant = datetime.fromisoformat(last.replace("Z", "+00:00")).astimezone(tz)
    count = low + min(int(draw * (high - low + 1)), high - low)
    today = datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(tz).date()
    day: date = days.shift(max(instant.date(), today), max(count, 1))
    close = datetime.combine(day, instant.time().replace(tzinfo=None)).replace(tzinfo=tz)
    values["closedate"] = format_wire_time(close)
    return values
