"""Owners' calendars: activities placed so that one owner's never overlap.

A scheduled activity (a generated meeting, call, note, task or email, with ``calendar:``
in ``reconciler.yaml``) is a *request*: its owner, its window (days around today) or the
activity it follows (a story's step: so many business days, or minutes, after it), its own
random draws (which day, which hour), and how long it keeps its owner busy. ``place``
turns requests into start times, pure and deterministic:

1. each request's preferred moment: a business day of its window drawn through the
   weekday weights, an hour drawn through the hour weights within business hours;
2. requests are taken in the order of their preferred moments (a heap; ties by the
   request's own seed), a step once the one it follows is placed;
3. each owner has a grid of the business days' slots (``grid`` minutes each, a sentinel
   after each day so nothing runs past the evening); a request takes the first run of
   free slots long enough for it and the ``gap`` after it, from its preferred slot on
   to the end of its window, else the first one from the start of its window (a search
   for a run of zero bytes: C speed). Activities already fixed (applied and pinned, or
   hand-written) are marked busy first, with the gap after them, so a new one never
   lands on them or closer than ``gap``.

Activities that keep nobody busy (notes, tasks, emails: ``busy`` 0) take the first free
slot from their preferred one (they do not land inside a meeting) but block nothing.

Cost: O(n log n) for the heap plus, per request, a search that skips taken slots in C.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from itertools import accumulate
from typing import Any

from reconciler.loading.business_days import BusinessDays
from reconciler.loading.calendar_settings import CalendarSettings

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(slots=True)
class Request:
    """One activity to place. Days are offsets from today in the project's timezone."""

    name: str  # its address, for messages
    owner: str  # lower-case email, "id:<owner id>", or "" (no owner: one shared calendar)
    first_day: int
    last_day: int
    u_day: float
    u_hour: float
    busy: int  # minutes its owner is busy (0: it blocks nothing)
    tie: int = 0  # breaks ties between equal preferences (from the record's seed)
    after: int = -1  # the request it follows (index), -1: none
    after_days: tuple[int, int] | None = None  # business days after the other's start
    after_minutes: tuple[int, int] | None = None  # minutes after the other's end
    u_after: float = 0.0


@dataclass
class Placed:
    """Start times in minutes since 1970 (UTC), by request; the problems found."""

    starts: list[int | None]
    problems: list[tuple[int, str]] = field(default_factory=list)  # (request index, message)


def minutes_of(instant: datetime) -> int:
    return int((instant - _EPOCH).total_seconds() // 60)


def instant_of(minutes: int) -> datetime:
    return _EPOCH + timedelta(minutes=minutes)


class _Days:
    """The business days of the horizon, their slots and where each starts (UTC)."""

    def __init__(
        self, today: date, first: int, last: int, tz: Any, settings: CalendarSettings,
        days: BusinessDays,
    ) -> None:
        self.settings = settings
        self.today_ordinal = today.toordinal()
        self.slots = max((settings.day_end - settings.day_start) // settings.grid, 1)
        self.width = self.slots + 1  # a sentinel slot after each day
        self.dates = days.between(today + timedelta(days=first), today + timedelta(days=last))
        self.ordinals = [d.toordinal() for d in self.dates]
        start = time(settings.day_start // 60, settings.day_start % 60)
        self.day_starts = [
            minutes_of(datetime.combine(d, start).replace(tzinfo=tz)) for d in self.dates
        ]
        weights = [settings.weekdays[d.weekday()] for d in self.dates]
        self.day_weights = weights
        self._window_tables: dict[tuple[int, int], tuple[list[float], float]] = {}
        self._spans: dict[tuple[int, int], tuple[int, int]] = {}
        slot_weights = [
            settings.hours[min((settings.day_start + s * settings.grid) // 60, 23)]
            for s in range(self.slots)
        ]
        self.slot_table = list(accumulate(slot_weights))
        self.slot_total = self.slot_table[-1] if self.slot_table else 0.0
        # an hour of weight 0 (lunch) is never used: its slots start out closed (2), like
        # the sentinel after each day; booked slots are 1
        self.day_row = bytes(2 if w <= 0 else 0 for w in slot_weights) + b"\x02"
        self.open_slots = sum(1 for w in slot_weights if w > 0)

    def span(self, first_day: int, last_day: int) -> tuple[int, int]:
        """Indexes of the first and last business day in a window (first > last: none)."""
        found = self._spans.get((first_day, last_day))
        if found is None:
            low = bisect_left(self.ordinals, self.today_ordinal + first_day)
            high = bisect_right(self.ordinals, self.today_ordinal + last_day) - 1
            found = self._spans[(first_day, last_day)] = (low, high)
        return found

    def day_in(self, low: int, high: int, u: float) -> int:
        """A business day of [low, high] drawn through the weekday weights."""
        found = self._window_tables.get((low, high))
        if found is None:
            table = list(accumulate(self.day_weights[low:high + 1]))
            found = self._window_tables[(low, high)] = (table, table[-1])
        table, total = found
        return low + min(bisect_right(table, u * total), high - low)

    def slot_for(self, u: float, length: int) -> int:
        """A slot of the day drawn through the hour weights, leaving room for ``length``."""
        if self.slot_total <= 0:
            return 0
        slot = min(bisect_right(self.slot_table, u * self.slot_total), self.slots - 1)
        return max(min(slot, self.slots - length), 0)

    def position_at(self, minutes: int) -> int:
        """The first slot position at or after ``minutes`` (UTC), on a business day."""
        index = bisect_right(self.day_starts, minutes) - 1
        if index < 0:
            return 0
        offset = minutes - self.day_starts[index]
        slot = -(-offset // self.settings.grid)
        if slot >= self.slots:
            return (index + 1) * self.width
        return index * self.width + slot

    def minutes_at(self, position: int) -> int:
        index, slot = divmod(position, self.width)
        return self.day_starts[index] + slot * self.settings.grid

    def label(self, index: int) -> str:
        day = self.dates[min(max(index, 0), len(self.dates) - 1)]
        return f"{day:%a} {day.isoformat()}"


def place(
    requests: list[Request],
    *,
    today: date,
    tz: Any,
    settings: CalendarSettings,
    days: BusinessDays,
    fixed: dict[int, tuple[int, int]] | None = None,
    busy: list[tuple[str, int, int]] | None = None,
) -> Placed:
    """Start times for ``requests``. ``fixed``: requests already placed (start, end in
    minutes since 1970), kept as they are; ``busy``: other activities that block their
    owner's time (owner, start, end), hand-written ones among them."""
    placed = Placed([None] * len(requests))
    if requests:
        first = min(r.first_day for r in requests)
        last = max(r.last_day for r in requests)
        horizon = _Days(today, first, last, tz, settings, days)
        _Placer(requests, horizon, placed).run(fixed or {}, busy or [])
    return placed


class _Placer:
    def __init__(self, requests: list[Request], horizon: _Days, placed: Placed) -> None:
        self.requests = requests
        self.horizon = horizon
        self.placed = placed
        self.grids: dict[str, bytearray] = {}
        # one int per entry, compared in C: preferred position, then the request's rank by
        # its tie-break (its own seed); the rank names the request
        self.heap: list[int] = []
        self.by_rank = sorted(range(len(requests)), key=lambda i: (requests[i].tie, i))
        self.rank = [0] * len(requests)
        for rank, index in enumerate(self.by_rank):
            self.rank[index] = rank
        self.ends: dict[int, int] = {}
        self.exact: dict[int, int] = {}  # placed at an exact moment (minutes after another)
        self.between: dict[int, tuple[int, int]] = {}  # days after another: where they are
        self.day_row = horizon.day_row

    def run(self, fixed: dict[int, tuple[int, int]], busy: list[tuple[str, int, int]]) -> None:
        requests, starts = self.requests, self.placed.starts
        for owner, start, end in busy:
            self.block(owner, start, end)
        successors: dict[int, list[int]] = {}
        for index, request in enumerate(requests):
            if request.after >= 0:
                successors.setdefault(request.after, []).append(index)
        for index, (start, end) in fixed.items():
            starts[index] = start
            self.ends[index] = end
            self.block(requests[index].owner, start, end)
        for index, request in enumerate(requests):
            if index in fixed:
                continue
            key = None
            if request.after < 0:
                key = self.wish(index, None)
            elif request.after in fixed:
                key = self.wish(index, fixed[request.after])
            if key is not None:
                self.heap.append(key)
        heapq.heapify(self.heap)
        while self.heap:
            preferred, rank = divmod(heapq.heappop(self.heap), _RANKS)
            self.take(self.by_rank[rank], preferred, successors)

    def take(self, index: int, preferred: int, successors: dict[int, list[int]]) -> None:
        """Place one request; then what follows it: minutes after it at once (a note on a
        meeting, before anything else can take that time), days after it by the heap."""
        request = self.requests[index]
        found = self.fit(index, preferred)
        if found is None:
            return
        self.placed.starts[index] = found
        self.ends[index] = found + request.busy
        if request.busy:
            self.block(request.owner, found, found + request.busy)
        for follower in successors.get(index, ()):
            key = self.wish(follower, (found, self.ends[index]))
            if key is None:
                continue
            if self.requests[follower].after_minutes is not None:
                self.take(follower, key // _RANKS, successors)
            else:
                heapq.heappush(self.heap, key)

    def grid_of(self, owner: str) -> bytearray:
        found = self.grids.get(owner)
        if found is None:
            found = self.grids[owner] = bytearray(self.day_row * len(self.horizon.dates))
        return found

    def block(self, owner: str, start: int, end: int) -> None:
        """Mark [start, end + gap) busy on the owner's grid (every slot it touches)."""
        horizon = self.horizon
        if end <= start or not horizon.dates:
            return
        grid, starts = self.grid_of(owner), horizon.day_starts
        step, slots, width = horizon.settings.grid, horizon.slots, horizon.width
        stop = end + horizon.settings.gap
        index = max(bisect_right(starts, start) - 1, 0)
        while index < len(starts) and starts[index] < stop:
            low = max((start - starts[index]) // step, 0)
            high = min(-(-(stop - starts[index]) // step), slots)
            if low < high:
                at = index * width
                grid[at + low:at + high] = grid[at + low:at + high].replace(b"\x00", b"\x01")
            index += 1

    def wish(self, index: int, before: tuple[int, int] | None) -> int | None:
        """The request's heap key: its preferred slot position, then its rank (None: it
        cannot be placed, its problem recorded). ``before``: the one it follows."""
        request, horizon = self.requests[index], self.horizon
        low, high = horizon.span(request.first_day, request.last_day)
        if low > high:
            self.placed.problems.append((index, (
                f"{request.name}: no business day between "
                f"{_day_text(horizon, request.first_day)} and "
                f"{_day_text(horizon, request.last_day)}"
            )))
            return None
        length = _busy_slots(request, horizon.settings)
        if length > horizon.open_slots:
            self.placed.problems.append((index, (
                f"{request.name}: {request.busy} minutes and the gap do not fit in one day's "
                "business hours"
            )))
            return None
        slot = horizon.slot_for(request.u_hour, length)
        if before is None:
            position = horizon.day_in(low, high, request.u_day) * horizon.width + slot
        elif request.after_minutes is not None:
            low_m, high_m = request.after_minutes
            at = before[1] + low_m + round(request.u_after * (high_m - low_m))
            self.exact[index] = at
            position = horizon.position_at(at)
        else:
            assert request.after_days is not None
            low_d, high_d = request.after_days
            count = low_d + min(int(request.u_after * (high_d - low_d + 1)), high_d - low_d)
            origin = min(horizon.position_at(before[0]) // horizon.width, len(horizon.dates) - 1)
            day = min(origin + count, high)
            position = max(day * horizon.width + slot, horizon.position_at(before[1]))
            self.between[index] = ((origin + low_d) * horizon.width,
                                   (min(origin + high_d, high) + 1) * horizon.width)
        return position * _RANKS + self.rank[index]

    def fit(self, index: int, preferred: int) -> int | None:
        """The start of the first run of free slots for the request (minutes since 1970)."""
        request, horizon = self.requests[index], self.horizon
        exact = self.exact.pop(index, None)
        if exact is not None and not request.busy:
            return exact
        low, high = horizon.span(request.first_day, request.last_day)
        length = _length(request, horizon.settings)
        earliest = low * horizon.width
        if request.after >= 0:
            earliest = max(earliest, horizon.position_at(self.ends[request.after]))
        end = (high + 1) * horizon.width
        grid = self.grid_of(request.owner)
        start = max(preferred, earliest)
        need = (_busy_slots(request, horizon.settings), length)
        found = -1
        between = self.between.pop(index, None)
        if between is not None:  # within the business days it follows the other by, first
            low_at, high_at = max(between[0], earliest), min(between[1], end)
            if low_at < high_at:
                found = _search(grid, need, min(max(start, low_at), high_at - 1), low_at,
                                high_at, horizon.width)
        if found < 0:
            found = _search(grid, need, start, earliest, end, horizon.width)
        if found >= 0:
            return horizon.minutes_at(found)
        if not request.busy and start < end:  # it blocks nothing: keep its wish
            return horizon.minutes_at(start)
        first_day = min(earliest // horizon.width, high)
        days_there = high + 1 - first_day
        booked = grid.count(1, first_day * horizon.width, end)
        settings = horizon.settings
        self.placed.problems.append((index, (
            f"owner {request.owner or '(none)'}: no free {request.busy}m slot for "
            f"{request.name} between {horizon.label(first_day)} and {horizon.label(high)}; "
            f"{booked * settings.grid / 60:.0f} h of the "
            f"{days_there * horizon.open_slots * settings.grid / 60:.0f} h of business hours there "
            f"are booked (with {settings.gap}m after each activity): lower the counts, widen "
            "the window, shorten the gap, or add owners"
        )))
        return None


def _search(grid: bytearray, need: tuple[int, int], start: int, earliest: int, end: int,
            width: int) -> int:
    """Where a run of free slots starts: on the wished day (from the wish on, then from its
    morning), then on a day after it, then on a day before it; -1 if nowhere in
    [earliest, end). ``need``: the slots the activity takes, and those with the gap after
    it (the gap may run past the evening). (Days nearest first both ways spread no
    better, and cost twice.)"""
    day = start - start % width
    day_start, day_end = max(day, earliest), min(day + width, end)
    found = _run(grid, need, start, day_end, width)
    if found < 0 and start > day_start:
        found = _run(grid, need, day_start, min(start + need[0] - 1, day_end), width)
    if found < 0:
        found = _run(grid, need, day_end, end, width)
    if found < 0 and day_start > earliest:
        found = _run(grid, need, earliest, day_start, width)
    return found


def _run(grid: bytearray, need: tuple[int, int], low: int, high: int, width: int) -> int:
    """The first position in [low, high) with ``need[0]`` free slots, and free slots after
    them up to ``need[1]`` unless the day ends first; -1 if none."""
    busy, total = need
    pattern = bytes(busy)
    found = grid.find(pattern, low, high)
    while found >= 0 and total > busy:
        evening = found - found % width + width - 1
        # booked (1) slots in the gap after it, that day; closed ones (2) may be the gap
        taken = grid.find(1, found + busy, min(found + total, evening))
        if taken < 0:
            return found
        found = grid.find(pattern, taken + 1, high)
    return found


#: More requests than one expansion can make (``max_generated`` is checked far below it).
_RANKS = 1 << 24


def _busy_slots(request: Request, settings: CalendarSettings) -> int:
    """Slots the activity itself takes (1 if it blocks nothing)."""
    return max(-(-request.busy // settings.grid), 1)


def _length(request: Request, settings: CalendarSettings) -> int:
    """Slots a request needs: its busy time and the gap after it (1 if it blocks nothing)."""
    if not request.busy:
        return 1
    return -(-(request.busy + settings.gap) // settings.grid)


def _day_text(horizon: _Days, offset: int) -> str:
    day = date.fromordinal(horizon.today_ordinal + offset)
    return f"{day:%a} {day.isoformat()}"
