"""The checks across files: one owner of each local key, references that exist, the
default owner, relative times resolved against the reference time; then the records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from reconciler.loading.business_days import BusinessDays
from reconciler.loading.calendar_settings import ACTIVITY_TYPES
from reconciler.loading.friendly import FRIENDLY_FIELDS
from reconciler.loading.issues import PendingIssue, did_you_mean
from reconciler.loading.records import parse_owner
from reconciler.loading.rows import (
    ASSOC,
    CAL,
    COLUMN,
    FLAGS,
    KEY,
    LINE,
    OWNED,
    OWNER_EMAIL,
    PROPS,
    REL,
    TYPE,
)
from reconciler.loading.spec_file import FileResult
from reconciler.loading.times import format_wire_time, resolve_time
from reconciler.model import (
    SECTION_OBJECT_TYPES,
    AssociationRef,
    CalendarSpec,
    DesiredRecord,
    ProjectSettings,
    Reminder,
    Source,
)

#: The project's business days, and whether activities roll off days off (None: Mon-Fri).
BusinessCalendar = tuple[BusinessDays, bool] | None


def assemble(
    results: list[FileResult],
    settings: ProjectSettings,
    reference_time: datetime,
    business: BusinessCalendar = None,
) -> tuple[dict[str, DesiredRecord], list[PendingIssue]]:
    """The records of every file, checked across files. ``business``: the project's
    business days and whether hand-written activity times roll off days off."""
    issues: list[PendingIssue] = []
    owners: dict[tuple[str, str], tuple[str, int, int]] = {}
    for result in results:
        for object_type, key, line, column in result.keys:
            first = owners.get((object_type, key))
            if first is None:
                owners[(object_type, key)] = (result.display, line, column)
                continue
            where = f"{first[0]}:{first[1]}:{first[2]}"
            message = (f"{object_type}/{key} is already defined at {where}; "
                       "local keys are unique per object type")
            path = record_path(object_type, key)
            issues.append(PendingIssue(result.display, path, message, at_key=True))
    keys_by_type: dict[str, list[str]] = {}
    for object_type, key in owners:
        keys_by_type.setdefault(object_type, []).append(key)
    hints = _KeyHints(keys_by_type)
    default_owner = parse_owner(settings.default_owner) if settings.default_owner else None
    resolved: dict[str, str] = {}
    shared: _Shared = {}
    records: dict[str, DesiredRecord] = {}
    for result in results:
        for row in result.rows:
            record = _record(
                row,
                result.display,
                settings,
                default_owner,
                reference_time,
                resolved,
                owners,
                hints,
                issues,
                business,
                shared,
            )
            if record is not None:
                records.setdefault(record.address, record)
    issues.extend(_shared_emails(records, generated={
        row[KEY] for result in results if result.generated for row in result.rows
        if row[TYPE] == "contacts"
    }))
    for result in results:
        for row, fields in result.check_rows:
            found: list[PendingIssue] = []
            _record(
                row, result.display, settings, default_owner, reference_time, resolved,
                owners, hints, found, business,
            )  # fmt: skip
            depth = len(record_path(row[TYPE], row[KEY]))
            issues.extend(
                issue for issue in found
                if issue.path[depth : depth + 1] in (("associations",), ("end",))
                and issue.path[depth] not in fields
            )  # fmt: skip
    return records, issues


class _KeyHints:
    """Did-you-mean hints for unknown local keys, within a budget of comparisons.

    Each hint compares the key with every key of its type (difflib: ~14 µs a pair), so 16k
    misspelt references among 16k records would take an hour. Past the budget (a few
    seconds in all), references are still reported, without the hint.
    """

    BUDGET = 200_000

    def __init__(self, keys_by_type: Mapping[str, list[str]]) -> None:
        self.keys_by_type = keys_by_type
        self.left = self.BUDGET

    def hint(self, object_type: str, key: str) -> str:
        known = self.keys_by_type.get(object_type, [])
        if not known:
            return f"; the project has no {object_type}"
        if len(known) > self.left:
            return ""
        self.left -= len(known)
        return did_you_mean(key, known)


#: Equal ``Source``s and ``AssociationRef``s by their fields, shared by the records of one
#: load: a generator's records share its position and often their associations (33
#: meetings of one company), and building a frozen dataclass costs ~1 µs (its fields are
#: set through ``object.__setattr__``). They are immutable, so sharing one is safe. (Keys of
#: three fields and of six: a position never equals an association.)
_Shared = dict[tuple[Any, ...], Any]


def _record(
    row: list[Any],
    display: str,
    settings: ProjectSettings,
    default_owner: tuple[str, str] | None,
    reference_time: datetime,
    resolved: dict[str, str],
    owners: Mapping[tuple[str, str], Any],
    hints: _KeyHints,
    issues: list[PendingIssue],
    business: BusinessCalendar = None,
    shared: _Shared | None = None,
) -> DesiredRecord | None:
    object_type, key = row[TYPE], row[KEY]
    props: dict[str, str] = dict(row[PROPS])
    relative: dict[str, str] = row[REL]
    days, roll = business if business is not None else (None, False)
    roll = roll and object_type in ACTIVITY_TYPES
    for prop, expr in relative.items():
        if prop[0] == "@" or expr[:3] == "gen":
            continue  # a generated value (already in props) or pick (planning.pins.PICK_PREFIX)
        known = "\x00" + expr if roll else expr  # (rolled or not: two values of one text)
        value = resolved.get(known)
        if value is None:
            try:
                value = format_wire_time(
                    resolve_time(expr, reference_time, settings.timezone, days, roll=roll)
                )
            except ValueError as exc:
                path = record_path(object_type, key)
                issues.append(PendingIssue(display, (*path, prop), str(exc)))
                continue
            resolved[known] = value
        props[prop] = value
    if object_type == "meetings":
        start, end = props.get("hs_meeting_start_time"), props.get("hs_meeting_end_time")
        # Wire strings are all UTC in one format, so they order like the instants.
        if start and end and end <= start:
            path = record_path(object_type, key)
            message = f"end ({end}) is not after start ({start})"
            issues.append(PendingIssue(display, (*path, "end"), message))
    for prop in _EPOCH_MS.get(object_type, ()):
        if prop in props:
            props[prop] = epoch_ms(props[prop])
    owner_email = row[OWNER_EMAIL]
    if row[FLAGS] == OWNED and default_owner is not None:
        if default_owner[0] == "id":
            props["hubspot_owner_id"] = default_owner[1]
        else:
            owner_email = default_owner[1]
    associations: list[AssociationRef] = []
    for to_type, to_key, to_id, category, type_id, label, index, field_name in row[ASSOC]:
        if to_key is not None and (to_type, to_key) not in owners:
            message = f"no {to_type} record has the key {to_key!r}{hints.hint(to_type, to_key)}"
            where = (*record_path(object_type, key), "associations", index, field_name)
            issues.append(PendingIssue(display, where, message))
            continue
        fields = (to_type, to_key, to_id, category or "HUBSPOT_DEFINED", type_id, label)
        ref = shared.get(fields) if shared is not None else None
        if ref is None:
            ref = AssociationRef(*fields)
            if shared is not None:
                shared[fields] = ref
        associations.append(ref)
    calendar = None
    cal = row[CAL]
    if cal is not None:
        if "hubspot_owner_id" not in props and owner_email is None:
            message = "a calendar meeting needs an owner: set owner: or the project's default_owner"
            where = (*record_path(object_type, key), "calendar")
            issues.append(PendingIssue(display, where, message, at_key=True))
        calendar = CalendarSpec(
            organizer=cal["organizer"],
            timezone=cal["timezone"] or settings.timezone,
            reminders=tuple(Reminder(int(n), str(u)) for n, u in cal["reminders"]),
            include_description=bool(cal["include_description"]),
        )
    where = (display, row[LINE], row[COLUMN])
    source = shared.get(where) if shared is not None else None
    if source is None:
        source = Source(*where)
        if shared is not None:
            shared[where] = source
    return DesiredRecord(
        object_type=object_type,
        key=key,
        properties=MappingProxyType(props),
        source=source,
        associations=tuple(associations),
        relative_times=MappingProxyType(relative) if relative else _NO_RELATIVE_TIMES,
        calendar=calendar,
        owner_email=owner_email,
    )


_NO_RELATIVE_TIMES: Mapping[str, str] = MappingProxyType({})
#: object type → its properties sent in Unix milliseconds (``friendly.EPOCH_MS_PROPERTIES``)
_EPOCH_MS: Mapping[str, tuple[str, ...]] = {
    SECTION_OBJECT_TYPES[section]: tuple(
        prop for prop, kind in fields.values() if kind == "time_ms"
    )
    for section, fields in FRIENDLY_FIELDS.items()
    if any(kind == "time_ms" for _prop, kind in fields.values())
}


def epoch_ms(value: str) -> str:
    """A wire time (``2026-11-23T10:00:00.000Z``) → Unix milliseconds (``1795428000000``);
    anything else (digits already, or a raw value plan will judge) as it is."""
    if not value[:4].isdigit() or "T" not in value:
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return str(round(moment.timestamp() * 1000))


def _shared_emails(
    records: Mapping[str, DesiredRecord], generated: set[str]
) -> list[PendingIssue]:
    """Contacts whose emails differ at most in case: HubSpot compares contact emails
    case-insensitively and answers the second create 409 "Contact already exists"
    (facts §14)."""
    issues: list[PendingIssue] = []
    first: dict[str, DesiredRecord] = {}
    for record in records.values():
        email = record.properties.get("email") if record.object_type == "contacts" else None
        if not email or not email.strip():
            continue
        folded = email.strip().lower()
        earlier = first.setdefault(folded, record)
        if earlier is record:
            continue
        message = (
            f"{email.strip()!r} is also the email of {earlier.address} ({earlier.source}); "
            "HubSpot compares contact emails ignoring case and refuses a second contact "
            "with it"
        )
        source = record.source
        if record.key in generated:  # no field of its own in the file: the generator's place
            issues.append(PendingIssue(source.file, record_path("contacts", record.key),
                                       message, line=source.line, column=source.column))
        else:
            issues.append(PendingIssue(source.file, (*record_path("contacts", record.key),
                                                      "email"), message))
    return issues


def record_path(object_type: str, key: str) -> tuple[str, ...]:
    if object_type in SECTION_OBJECT_TYPES:
        return (object_type, key)
    return ("objects", object_type, key)

