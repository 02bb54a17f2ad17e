"""Generated activities on their owners' calendars: requests made by the expansion, placed
for each run, and placed again around what a target's state has applied.

With ``calendar:`` in ``reconciler.yaml``, a generated activity's time field (a meeting's
``start``, the ``timestamp`` of a call, note or email, a task's ``due``) is not resolved on
its own: the expansion stores a request (``inputs.E_SCHEDULE``) and its pin expression
reads the calendar's settings, the owner and how long the activity lasts, so that a change
to any of them re-places exactly the activities it concerns. Each run places them
(``reconciler.generate.calendar.place``):

- when the spec is loaded, with no state: every request is placed, around the
  hand-written activities (``load_placements``; cached per day);
- before a plan, against the target's state (``settle``): an activity whose pinned time
  has the same expression keeps it (the planner would keep it anyway) and blocks its
  owner's time; only the others are placed, around them. With nothing to place, or nothing
  applied yet, the load's placement stands and ``settle`` costs a lookup per activity.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from reconciler.generate.calendar import Request, minutes_of, place
from reconciler.generate.inputs import (
    E_BY_TIME,
    E_COLUMN,
    E_FILE,
    E_KEY,
    E_LINE,
    E_OWNED,
    E_OWNER_EMAIL,
    E_OWNS,
    E_PROPS,
    E_SCHEDULE,
    E_STORY,
    E_TIMES,
    E_TYPE,
    TIME_PIN,
)
from reconciler.generate.shapes import digest_of, pin_for
from reconciler.loading.business_days import BusinessDays
from reconciler.loading.calendar_settings import CalendarSettings

#: The time field an activity is placed by, and the property it sets first.
SCHEDULED_FIELDS: Mapping[str, tuple[str, str]] = {
    "meetings": ("start", "hs_meeting_start_time"),
    "calls": ("timestamp", "hs_timestamp"),
    "notes": ("timestamp", "hs_timestamp"),
    "tasks": ("due", "hs_timestamp"),
    "emails": ("timestamp", "hs_timestamp"),
}
#: E_SCHEDULE: [time property, busy minutes, hour draw, tie-break, generator name,
#: after: None or [address followed, "d" (business days after its start) or "m" (minutes
#: after its end), low, high, draw], last day allowed (None: the window's)]
S_PROP, S_BUSY, S_HOUR, S_TIE, S_GENERATOR, S_AFTER, S_LAST = range(7)


def owner_key(
    props: Mapping[str, str], owner_email: str | None, owns: bool, default_owner: str | None
) -> str:
    """Whose calendar an activity is on: a lower-case email, ``id:<id>``, or ``""``."""
    if owner_email:
        return owner_email.lower()
    owner_id = props.get("hubspot_owner_id")
    if owner_id:
        return f"id:{owner_id}"
    if not owns and default_owner:
        text = default_owner.strip()
        return f"id:{text}" if text.isdigit() else text.lower()
    return ""


def busy_minutes(section: str, props: Mapping[str, str], offsets: Mapping[str, int]) -> int:
    """How long an activity keeps its owner busy: a meeting its length, a call its
    duration, the rest nothing."""
    if section == "meetings":
        return -(-max(offsets.values(), default=0) // 60_000)
    if section == "calls":
        text = props.get("hs_call_duration", "0")
        return -(-int(text) // 60_000) if text.isdigit() else 0
    return 0


def schedule_entry(
    *, seed: str, generator: str, section: str, key: str, field_name: str,
    props: Mapping[str, str], rel: dict[str, str], times: Mapping[str, list[Any]],
    by_time: Mapping[str, list[Any]], owner: str, fingerprint: str,
    after: list[Any] | None = None, after_pin: str = "", last_day: int | None = None,
) -> tuple[list[Any], str] | None:
    """The request of a generated activity (``E_SCHEDULE``), with its time pins rewritten
    to read what its placement depends on; and the digest that names its placement (what
    a step that follows it reads). None when it has no generated time of its own."""
    main = SCHEDULED_FIELDS[section][1]
    slot = times.get(main)
    if slot is None:
        return None
    offsets = {p: s[5] for p, s in times.items() if s[:5] == slot[:5]}
    busy = busy_minutes(section, props, offsets)
    # (not ``last_day``: how long a whole story is moves it; what it depends on is in
    # ``after_pin``)
    placement = digest_of(rel.get(main, ""), fingerprint, owner, busy, after, after_pin)
    for prop, offset_ms in offsets.items():
        if prop in rel:
            rel[prop] = pin_for(TIME_PIN + placement, prop, timedelta(milliseconds=offset_ms))
    for prop, (time_prop, _) in by_time.items():
        if time_prop in offsets and prop in rel:
            rel[prop] = pin_for(TIME_PIN + digest_of(placement, rel[prop]), prop, None)
    from reconciler.generate.values import seed_of

    draw = seed_of(seed, generator, key, field_name, "@hour")
    request = [
        main, busy, (draw >> 11) / float(1 << 53), draw & 0xFFFFFFFF, generator, after, last_day,
    ]
    return request, placement


def u_of(*parts: object) -> float:
    """A draw in [0, 1) from a stable hash (the same on every Python)."""
    from reconciler.generate.values import seed_of

    return random.Random(seed_of(*parts)).random()


# -- placing them for a run -------------------------------------------------------------


def requests_of(
    entries: list[list[Any]], default_owner: str | None, *, only: Iterable[int] | None = None
) -> tuple[list[int], list[Request], dict[str, int]]:
    """The scheduled entries' indexes, their requests (in that order), and each one's
    position among them by address."""
    indexes = [i for i in (range(len(entries)) if only is None else only)
               if entries[i][E_SCHEDULE] is not None]
    position = {f"{entries[i][E_TYPE]}/{entries[i][E_KEY]}": n for n, i in enumerate(indexes)}
    requests: list[Request] = []
    for entry_index in indexes:
        entry = entries[entry_index]
        schedule = entry[E_SCHEDULE]
        window = entry[E_TIMES][schedule[S_PROP]]
        last = window[1] if schedule[S_LAST] is None else min(window[1], schedule[S_LAST])
        request = Request(
            f"{entry[E_TYPE]}/{entry[E_KEY]}",
            owner_key(entry[E_PROPS], entry[E_OWNER_EMAIL], entry[E_OWNS],
                      default_owner if entry[E_OWNED] else None),
            window[0], last, float(window[3]), float(schedule[S_HOUR]), int(schedule[S_BUSY]),
            tie=int(schedule[S_TIE]),
        )
        after = schedule[S_AFTER]
        if after is not None:
            request.after = position.get(after[0], -1)
            bounds = (int(after[2]), int(after[3]))
            if after[1] == "m":
                request.after_minutes = bounds
            else:
                request.after_days = bounds
            request.u_after = float(after[4])
        requests.append(request)
    return indexes, requests, position


def load_placements(
    entries: list[list[Any]],
    busy: list[tuple[str, int, int]],
    *,
    reference_time: datetime,
    tz: Any,
    settings: CalendarSettings,
    days: BusinessDays,
    default_owner: str | None,
    cache: Any,
    key: str,
) -> tuple[list[int | None], list[tuple[int, str]]]:
    """Start times (minutes since 1970) of the scheduled entries, in entry order (None:
    not scheduled), placed around ``busy`` for the run's day; problems by entry index."""
    today = reference_time.astimezone(tz).date()
    content = json.dumps([key, today.isoformat(), sorted(busy), default_owner],
                         separators=(",", ":")).encode()
    cache_key = cache.key(b"calendar\x00" + content) if cache is not None else ""
    payload = None
    if cache is not None:
        payload = cache.get(cache_key, lambda found: _starts_are_sound(found, len(entries)))
    if payload is not None:
        return payload["starts"], []
    indexes, requests, _ = requests_of(entries, default_owner)
    placed = place(requests, today=today, tz=tz, settings=settings, days=days, busy=busy)
    starts: list[int | None] = [None] * len(entries)
    for entry_index, start in zip(indexes, placed.starts, strict=True):
        starts[entry_index] = start
    problems = [(indexes[i], message) for i, message in placed.problems]
    if not problems and cache is not None:
        cache.put(cache_key, {"starts": starts})
    return starts, problems


def problem_issue(entry: list[Any], display: str, message: str) -> Any:
    """A placement problem, located at the generator that made the activity."""
    from reconciler.loading.issues import PendingIssue

    generator = entry[E_SCHEDULE][S_GENERATOR]
    return PendingIssue(display, ("generate", generator.split(".story.")[0]), message,
                        line=entry[E_LINE], column=entry[E_COLUMN])


def entry_file(entry: list[Any]) -> int:
    return int(entry[E_FILE])


def by_time_values(
    entry: list[Any], props: dict[str, str], now: str
) -> None:
    """``by_time`` values chosen by the (placed) times in ``props``."""
    for prop, (time_prop, future_value) in entry[E_BY_TIME].items():
        when = props.get(time_prop)
        if when is not None and when > now:
            props[prop] = future_value


def hand_busy(
    rows: Iterable[list[Any]], props_of: Any, default_owner: str | None
) -> list[tuple[str, int, int]]:
    """Hand-written meetings and calls as busy time (owner, start, end in minutes)."""
    from reconciler.loading.rows import FLAGS, OWNER_EMAIL, OWNS, TYPE

    found: list[tuple[str, int, int]] = []
    for row in rows:
        kind = row[TYPE]
        if kind not in ("meetings", "calls"):
            continue
        props = props_of(row)
        owner = owner_key(props, row[OWNER_EMAIL], bool(row[FLAGS] & OWNS), default_owner)
        span = busy_span(kind, props)
        if span is not None:
            found.append((owner, *span))
    return found


def busy_span(kind: str, props: Mapping[str, str]) -> tuple[int, int] | None:
    """A meeting's or call's [start, end) in minutes since 1970, if it has a time."""
    start_prop = "hs_meeting_start_time" if kind == "meetings" else "hs_timestamp"
    start_text = props.get(start_prop)
    if not start_text:
        return None
    try:
        start = minutes_of(datetime.fromisoformat(start_text.replace("Z", "+00:00")))
        if kind == "meetings":
            end_text = props.get("hs_meeting_end_time")
            end = (minutes_of(datetime.fromisoformat(end_text.replace("Z", "+00:00")))
                   if end_text else start)
        else:
            duration = props.get("hs_call_duration", "0")
            end = start + (-(-int(duration) // 60_000) if duration.isdigit() else 0)
    except ValueError:
        return None
    return (start, end) if end > start else None


def today_of(reference_time: datetime, tz: Any) -> date:
    return reference_time.astimezone(tz).date()


# -- placing them again around what a state has applied ---------------------------------


@dataclass(frozen=True, eq=False)
class Schedule:
    """What the load placed, kept with the desired state so a plan can place the
    activities again around a target's state (``settle``)."""

    entries: list[list[Any]]
    starts: list[int | None]
    settings: CalendarSettings
    days: BusinessDays
    timezone: str
    default_owner: str | None


def _starts_are_sound(payload: dict[str, Any], count: int) -> bool:
    found = payload.get("starts")
    return type(found) is list and len(found) == count and all(
        s is None or type(s) is int for s in found
    )


def settle(desired: Any, state: Any) -> Any:
    """``desired`` with its activities placed around what ``state`` has applied.

    An activity whose time is pinned with its expression keeps it (the planner keeps it
    anyway) and blocks its owner's calendar; the others are placed around them and the
    hand-written ones. Nothing to place, or nothing applied: the load's placement stands.
    Raises ``SpecError`` when an owner's calendar has no room left.
    """
    schedule: Schedule | None = getattr(desired, "schedule", None)
    if schedule is None or not state.records:
        return desired
    entries, records, applied = schedule.entries, desired.records, state.records
    taken: list[int] = []
    fresh = 0
    # first only whether anything is new, without reading a time: the warm plan of an
    # unchanged project stops here
    for index, entry in enumerate(entries):
        request = entry[E_SCHEDULE]
        if request is None:
            continue
        address = f"{entry[E_TYPE]}/{entry[E_KEY]}"
        record = records.get(address)
        if record is None:
            continue  # not taken by this target
        taken.append(index)
        recorded = applied.get(address)
        pin = None if recorded is None else recorded.pinned.get(request[S_PROP])
        if pin is None or pin.expr != record.relative_times.get(request[S_PROP]):
            fresh += 1
    if not fresh:
        return desired
    fixed_at: dict[int, int] = {}  # entry index → pinned start (minutes)
    for index in taken:
        entry = entries[index]
        address = f"{entry[E_TYPE]}/{entry[E_KEY]}"
        start = _pinned(records[address], applied.get(address), entry[E_SCHEDULE][S_PROP])
        if start is not None:
            fixed_at[index] = start
    busy, moved = _other_activities(desired, state, schedule)
    if not fixed_at and not moved:
        return desired
    return _placed_again(desired, state, schedule, taken, fixed_at, busy)


def _pinned(record: Any, recorded: Any, prop: str) -> int | None:
    """The start an applied activity keeps (its pin has the same expression), in minutes."""
    if recorded is None:
        return None
    pin = recorded.pinned.get(prop)
    if pin is None or pin.expr != record.relative_times.get(prop):
        return None
    try:
        return minutes_of(datetime.fromisoformat(pin.value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _other_activities(
    desired: Any, state: Any, schedule: Schedule
) -> tuple[list[tuple[str, int, int]], bool]:
    """Meetings and calls not placed here (hand-written ones) as busy time, with their
    pinned times; and whether a pin moved one from where the load saw it."""
    scheduled = {f"{e[E_TYPE]}/{e[E_KEY]}" for e in schedule.entries if e[E_SCHEDULE]}
    owners = {v: k for k, v in state.owners.items()}
    busy: list[tuple[str, int, int]] = []
    moved = False
    for address, record in desired.records.items():
        if record.object_type not in ("meetings", "calls") or address in scheduled:
            continue
        props = dict(record.properties)
        recorded = state.records.get(address)
        if recorded is not None:
            for name, expr in record.relative_times.items():
                pin = recorded.pinned.get(name)
                if pin is not None and pin.expr == expr and props.get(name) != pin.value:
                    props[name] = pin.value
                    moved = True
        span = busy_span(record.object_type, props)
        if span is not None:
            owner = owner_key(props, record.owner_email, True, None)
            busy.append((_same_owner(owner, owners), *span))
    return busy, moved


def _same_owner(owner: str, emails_by_id: Mapping[str, str]) -> str:
    """One name per owner: an owner id the state knows the email of is that email."""
    if owner.startswith("id:"):
        return emails_by_id.get(owner[3:], owner).lower()
    return owner


def _placed_again(
    desired: Any, state: Any, schedule: Schedule, taken: list[int],
    fixed_at: Mapping[int, int], busy: list[tuple[str, int, int]],
) -> Any:
    from dataclasses import replace
    from types import MappingProxyType

    from reconciler.errors import SpecError, SpecIssue
    from reconciler.generate.story_times import story_values
    from reconciler.generate.times import minutes_wire
    from reconciler.loading.times import zone

    entries, records = schedule.entries, desired.records
    indexes, requests, _ = requests_of(entries, schedule.default_owner, only=taken)
    owners = {v: k for k, v in state.owners.items()}
    for request in requests:
        request.owner = _same_owner(request.owner, owners)
    fixed = {
        n: (fixed_at[i], fixed_at[i] + requests[n].busy)
        for n, i in enumerate(indexes) if i in fixed_at
    }
    tz = zone(schedule.timezone)
    now = desired.reference_time
    today = datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(tz).date()
    placed = place(requests, today=today, tz=tz, settings=schedule.settings,
                   days=schedule.days, fixed=fixed, busy=busy)
    if placed.problems:
        issues = []
        for n, message in placed.problems[:10]:
            source = records[requests[n].name].source
            issues.append(SpecIssue(source.file, source.line, source.column,
                                    f"generate.{entries[indexes[n]][E_SCHEDULE][S_GENERATOR]}",
                                    message))
        raise SpecError(issues)
    changed = dict(records)
    starts: dict[str, str] = {}
    fresh: set[str] = set()
    for n, index in enumerate(indexes):
        start = placed.starts[n]
        entry = entries[index]
        address = requests[n].name
        if start is None:
            continue
        starts[address] = minutes_wire(start, 0)
        if n in fixed:
            continue
        fresh.add(address)
        if start == schedule.starts[index]:
            continue
        props = dict(records[address].properties)
        main = entry[E_TIMES][entry[E_SCHEDULE][S_PROP]]
        for prop, slot in entry[E_TIMES].items():
            if slot[:5] == main[:5]:
                props[prop] = minutes_wire(start, slot[5])
        for prop in entry[E_BY_TIME]:
            props[prop] = entry[E_PROPS][prop]  # the past value, then by the new time
        by_time_values(entry, props, now)
        changed[address] = replace(records[address], properties=MappingProxyType(props))
    for entry in entries:
        story = entry[E_STORY]
        address = f"{entry[E_TYPE]}/{entry[E_KEY]}"
        if story is None or address not in changed or not any(s[0] in fresh for s in story[3]):
            continue
        values = story_values(story, starts, now, schedule.days, tz)
        props = dict(changed[address].properties)
        if any(props.get(k) != v for k, v in values.items()):
            props.update(values)
            changed[address] = replace(changed[address], properties=MappingProxyType(props))
    return replace(desired, records=MappingProxyType(changed))
