"""The timeline at a glance (``reconciler render --stats``): records per type, per owner
and per week, weekday and hour, deals by outcome, and overlaps of one owner's meetings and
calls, as text (with ``#`` bars), markdown or JSON.

It counts the records a plan would write, with the values the target's state pinned (as
``render`` uses them), in one pass (O(n), and O(n log n) for the overlaps), without I/O.
"Past" and "future" are against the run's time; weeks are ISO weeks, days and hours in the
project's timezone.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from reconciler.generate.render import Pinned, rendered_values
from reconciler.model import DesiredRecord, DesiredState

#: Activity types, in the order they are shown, with the property that says when each
#: happens (a task's is its due time).
ACTIVITIES: Mapping[str, str] = {
    "meetings": "hs_meeting_start_time", "calls": "hs_timestamp", "emails": "hs_timestamp",
    "notes": "hs_timestamp", "tasks": "hs_timestamp",
}
#: What blocks an owner's time: meetings (start to end) and calls (for their duration).
_BUSY = ("meetings", "calls")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BAR_WIDTH = 40
NO_OWNER = "(no owner)"


@dataclass
class Timeline:
    project: str
    target: str
    timezone: str
    reference_time: str
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    by_owner: dict[str, Counter[str]] = field(default_factory=dict)
    by_week: dict[str, Counter[str]] = field(default_factory=dict)
    owner_weeks: Counter[tuple[str, str]] = field(default_factory=Counter)
    weekday: Counter[str] = field(default_factory=Counter)
    hour: Counter[str] = field(default_factory=Counter)
    deals: Counter[str] = field(default_factory=Counter)
    overlaps: int = 0
    overlap_examples: list[tuple[str, str]] = field(default_factory=list)
    first_day: date | None = None
    last_day: date | None = None

    @property
    def activities(self) -> int:
        return sum(c["records"] for t, c in self.by_type.items() if t in ACTIVITIES)

    def weeks(self) -> list[str]:
        """Every ISO week from the first activity's to the last's, empty ones too."""
        if self.first_day is None or self.last_day is None:
            return []
        found = []
        day = self.first_day - timedelta(days=self.first_day.weekday())
        while day <= self.last_day:
            found.append(_week(day))
            day += timedelta(days=7)
        return found


def timeline(
    desired: DesiredState, pins: Mapping[str, Pinned], target: str,
) -> Timeline:
    """Count the project's records as the target would get them."""
    from reconciler.loading.times import zone

    tz = zone(desired.project.timezone)
    now = desired.reference_time
    found = Timeline(desired.project.name, target, desired.project.timezone, now)
    busy: dict[str, list[tuple[str, str, str]]] = {}
    for record in desired.records.values():
        kind = record.object_type
        counts = found.by_type.setdefault(kind, {"records": 0, "past": 0, "future": 0})
        counts["records"] += 1
        properties = record.properties
        if record.relative_times:
            properties, _ = rendered_values(record, pins.get(record.address))
        if kind == "deals":
            stage = properties.get("dealstage", "")
            found.deals[stage if stage in ("closedwon", "closedlost") else "open"] += 1
        when = properties.get(ACTIVITIES.get(kind, ""), "")
        if not when:
            continue
        counts["past" if when <= now else "future"] += 1
        owner = _owner(record, properties)
        found.by_owner.setdefault(owner, Counter())[kind] += 1
        local = _instant(when).astimezone(tz)
        day = local.date()
        week = _week(day)
        found.by_week.setdefault(week, Counter())[kind] += 1
        found.owner_weeks[(owner, week)] += 1
        found.weekday[_WEEKDAYS[day.weekday()]] += 1
        found.hour[f"{local.hour:02d}"] += 1
        found.first_day = day if found.first_day is None else min(found.first_day, day)
        found.last_day = day if found.last_day is None else max(found.last_day, day)
        if kind in _BUSY:
            end = _end(kind, when, properties)
            if end > when:
                busy.setdefault(owner, []).append((when, end, record.address))
    for owner, intervals in sorted(busy.items()):
        if owner != NO_OWNER:
            _count_overlaps(found, intervals)
    return found


def _owner(record: DesiredRecord, properties: Mapping[str, str]) -> str:
    if record.owner_email:
        return record.owner_email.lower()
    owner_id = properties.get("hubspot_owner_id")
    return f"owner {owner_id}" if owner_id else NO_OWNER


def _instant(wire: str) -> datetime:
    return datetime.fromisoformat(wire.replace("Z", "+00:00"))


def _wire(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{instant.microsecond // 1000:03d}Z"
    )


def _end(kind: str, start: str, properties: Mapping[str, str]) -> str:
    if kind == "meetings":
        return properties.get("hs_meeting_end_time", start)
    try:
        duration = int(float(properties.get("hs_call_duration") or 0))
    except ValueError:
        return start
    return _wire(_instant(start) + timedelta(milliseconds=duration)) if duration > 0 else start


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _count_overlaps(found: Timeline, intervals: list[tuple[str, str, str]]) -> None:
    """Pairs of one owner's busy intervals that overlap (wire times order as instants)."""
    intervals.sort()
    open_ends: list[tuple[str, str]] = []  # (end, address) of intervals still running
    for start, end, address in intervals:
        while open_ends and open_ends[0][0] <= start:
            heapq.heappop(open_ends)
        found.overlaps += len(open_ends)
        if open_ends and len(found.overlap_examples) < 3:
            found.overlap_examples.append((open_ends[0][1], address))
        heapq.heappush(open_ends, (end, address))


# -- rendering ------------------------------------------------------------------------------


def summary(found: Timeline) -> str:
    """One line a reviewer reads first: "12 weeks, 6 owners, ~40 activities per owner-week,
    no overlaps"."""
    weeks = len(found.weeks())
    owners = [o for o in found.by_owner if o != NO_OWNER]
    if not found.activities:
        return "no activities"
    per = _per_owner_week(found)
    overlaps = "no overlaps" if not found.overlaps else (
        f"{found.overlaps:,} overlap{'s' if found.overlaps != 1 else ''} of one owner's "
        "meetings and calls"
    )
    return (
        f"{weeks} week{'s' if weeks != 1 else ''}, {len(owners)} owner"
        f"{'s' if len(owners) != 1 else ''}, ~{per[0]:.0f} activities per owner-week, {overlaps}"
    )


def _per_owner_week(found: Timeline) -> tuple[float, int, str, str]:
    """Mean and max activities per owner-week (over the weeks each owner is active in)."""
    counts = {k: v for k, v in found.owner_weeks.items() if k[0] != NO_OWNER}
    if not counts:
        return 0.0, 0, "", ""
    (owner, week), most = max(counts.items(), key=lambda item: (item[1], item[0]))
    return sum(counts.values()) / len(counts), most, owner, week


def _bar(value: int, most: int) -> str:
    return "#" * (round(value / most * BAR_WIDTH) if most else 0) or ("#" if value else "")


def _chart_lines(found: Timeline) -> list[str]:
    lines = []
    totals = {w: sum(found.by_week.get(w, Counter()).values()) for w in found.weeks()}
    most = max(totals.values(), default=0)
    empty: list[str] = []  # a run of empty weeks is one line: two meetings years apart
    for week, total in [*totals.items(), ("", -1)]:  # would be thousands of lines of 0
        if total == 0:
            empty.append(week)
            continue
        if len(empty) > 2:
            lines.append(f"{'':8}  {len(empty):>6,} weeks without activities")
        else:
            lines += [f"{w}       0" for w in empty]
        empty = []
        if total > 0:
            lines.append(f"{week}  {total:>6,}  {_bar(total, most)}".rstrip())
    lines.append("")
    most = max(found.weekday.values(), default=0)
    for day in _WEEKDAYS:
        if found.weekday[day] or day in _WEEKDAYS[:5]:
            count = found.weekday[day]
            lines.append(f"{day:<8}  {count:>6,}  {_bar(count, most)}".rstrip())
    lines.append("")
    most = max(found.hour.values(), default=0)
    for hour in sorted(found.hour):
        lines.append(f"{hour}:00     {found.hour[hour]:>6,}  {_bar(found.hour[hour], most)}")
    lines = [line.rstrip() for line in lines]
    return lines


def _type_rows(found: Timeline) -> list[list[str]]:
    kinds = [k for k in ACTIVITIES if k in found.by_type]
    kinds += sorted(k for k in found.by_type if k not in ACTIVITIES)
    owners = [o for o in found.by_owner if o != NO_OWNER]
    rows = []
    for kind in kinds:
        counts = found.by_type[kind]
        row = [kind, f"{counts['records']:,}"]
        if kind in ACTIVITIES:
            per_owner = [found.by_owner[o][kind] for o in owners] or [0]
            row += [f"{counts['past']:,}", f"{counts['future']:,}",
                    f"{min(per_owner):,}-{max(per_owner):,}"]
        elif kind == "deals":
            row += [f"won {found.deals['closedwon']:,}", f"lost {found.deals['closedlost']:,}",
                    f"open {found.deals['open']:,}"]
        else:
            row += ["", "", ""]
        rows.append(row)
    return rows


def _owner_rows(found: Timeline) -> tuple[list[str], list[list[str]]]:
    kinds = [k for k in ACTIVITIES if k in found.by_type]
    rows = []
    for owner in sorted(found.by_owner):
        counts = found.by_owner[owner]
        weeks = sum(1 for (o, _) in found.owner_weeks if o == owner)
        total = sum(counts.values())
        rows.append([owner, *(f"{counts[k]:,}" for k in kinds), f"{total:,}",
                     f"{total / weeks:.1f}" if weeks else "0"])
    return ["owner", *kinds, "all", "per week"], rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
        .rstrip()
        for r in [header, *rows]
    ]


def _title(found: Timeline) -> str:
    span = (f", {found.first_day} .. {found.last_day}" if found.first_day else "")
    return f"Timeline of {found.project} for target {found.target} ({found.timezone}){span}"


def _overlap_lines(found: Timeline) -> list[str]:
    if not found.overlaps:
        return ["Overlaps: none among one owner's meetings and calls."]
    examples = "; ".join(f"{a} x {b}" for a, b in found.overlap_examples)
    pairs = "1 pair" if found.overlaps == 1 else f"{found.overlaps:,} pairs"
    return [f"Overlaps: {pairs} of one owner's meetings and calls, e.g. {examples}."]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def render_text(found: Timeline) -> str:
    mean, most, owner, week = _per_owner_week(found)
    lines = [_title(found), _sentence(summary(found)), ""]
    lines += _table(["type", "records", "past", "future", "per owner"], _type_rows(found))
    lines.append("")
    lines += _table(*_owner_rows(found))
    lines += ["", *_overlap_lines(found)]
    if found.activities:
        lines += ["", f"Per week, all activities (per owner-week: mean {mean:.0f}, max {most}, "
                      f"{owner} in {week}):", *_chart_lines(found)]
    return "\n".join(lines) + "\n"


def render_markdown(found: Timeline) -> str:
    mean, most, owner, week = _per_owner_week(found)

    def table(header: list[str], rows: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                *("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows)]

    lines = [f"### {_title(found)}", "", f"**{_sentence(summary(found))}**", ""]
    lines += table(["type", "records", "past", "future", "per owner"], _type_rows(found))
    lines.append("")
    lines += table(*_owner_rows(found))
    lines += ["", *_overlap_lines(found)]
    if found.activities:
        lines += ["", f"Per week, all activities (per owner-week: mean {mean:.0f}, max {most}, "
                      f"{owner} in {week}):", "", "```text", *_chart_lines(found), "```"]
    return "\n".join(lines) + "\n"


def render_json(found: Timeline) -> str:
    mean, most, owner, week = _per_owner_week(found)
    document: dict[str, Any] = {
        "project": found.project, "target": found.target, "timezone": found.timezone,
        "reference_time": found.reference_time, "summary": summary(found),
        "first_day": str(found.first_day) if found.first_day else None,
        "last_day": str(found.last_day) if found.last_day else None,
        "weeks": len(found.weeks()),
        "by_type": found.by_type,
        "by_owner": {o: dict(sorted(c.items())) for o, c in sorted(found.by_owner.items())},
        "by_week": [
            {"week": w, "by_type": dict(sorted(found.by_week.get(w, Counter()).items())),
             "total": sum(found.by_week.get(w, Counter()).values())}
            for w in found.weeks()
        ],
        "per_owner_week": {"mean": round(mean, 1), "max": most, "max_owner": owner or None,
                           "max_week": week or None},
        "weekday": {d: found.weekday[d] for d in _WEEKDAYS},
        "hour": dict(sorted(found.hour.items())),
        "deals": {"won": found.deals["closedwon"], "lost": found.deals["closedlost"],
                  "open": found.deals["open"]},
        "overlaps": {"count": found.overlaps,
                     "examples": [list(pair) for pair in found.overlap_examples]},
    }
    return json.dumps(document, indent=2) + "\n"
