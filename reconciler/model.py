"""The frozen data every stage passes on: what the spec wants (``DesiredState``).

The loader (``reconciler.loading``) produces it from YAML; the planner consumes it.
Nothing here knows about ruamel, httpx or files on disk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from reconciler.object_types import OBJECT_TYPES, OTHER_WRITE_ORDER

#: Spec sections with a HubSpot object type of their own, and that type (the object-type
#: table: ``reconciler.object_types``).
SECTION_OBJECT_TYPES: Mapping[str, str] = MappingProxyType(
    {t.section: t.name for t in OBJECT_TYPES if t.section is not None}
)

#: The singular name used in an association item (``contact: jane-doe``) → object type.
ASSOCIATION_TARGET_NAMES: Mapping[str, str] = MappingProxyType(
    {t.singular: t.name for t in OBJECT_TYPES}
)

#: Order in which object types are written: records are created after what they point at.
#: ``*`` stands for the types not named (tickets, custom objects): after companies, contacts
#: and deals, before the activities, so that activities can associate to them.
WRITE_ORDER: tuple[str, ...] = tuple(
    name for _, name in sorted(
        [(t.write_order, t.name) for t in OBJECT_TYPES if t.write_order != OTHER_WRITE_ORDER]
        + [(OTHER_WRITE_ORDER, "*")]
    )
)


def address_of(object_type: str, key: str) -> str:
    """The stable name of a managed record: ``"<object type>/<local key>"``."""
    return f"{object_type}/{key}"


def write_rank(object_type: str) -> int:
    if object_type in WRITE_ORDER:
        return WRITE_ORDER.index(object_type)
    return WRITE_ORDER.index("*")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record (or field) was written: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class AssociationRef:
    """One association a record wants.

    Exactly one of ``to_key`` (a record of this project) and ``to_id`` (an existing
    HubSpot id) is set. ``type_id`` is resolved by the loader from the default table
    (``reconciler.associations``) unless a ``label`` must be resolved in the portal.
    """

    to_type: str
    to_key: str | None = None
    to_id: str | None = None
    category: str = "HUBSPOT_DEFINED"
    type_id: int | None = None
    label: str | None = None

    @property
    def to_address(self) -> str | None:
        return address_of(self.to_type, self.to_key) if self.to_key is not None else None

    def identity(self) -> tuple[str, str, str, str]:
        """What makes two associations the same, for diffs and state."""
        target = f"key:{self.to_key}" if self.to_key is not None else f"id:{self.to_id}"
        kind = str(self.type_id) if self.type_id is not None else f"label:{self.label}"
        return (self.to_type, target, self.category, kind)


@dataclass(frozen=True, slots=True)
class Reminder:
    number_of_time_units: int
    time_unit: str  # MINUTES | HOURS | DAYS | WEEKS


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    """A meeting to be created as a calendar event through the scheduler endpoint."""

    organizer: str  # HubSpot user id (organizerUserId)
    timezone: str
    reminders: tuple[Reminder, ...] = ()
    include_description: bool = False


def calendar_is_sound(cal: Any) -> bool:
    """Whether ``cal`` is a ``CalendarSpec`` as the parse and generator caches store it (a
    dict of its four fields, reminders as ``[number, unit]``): a cache entry is checked
    before it is trusted."""
    if type(cal) is not dict or set(cal) != {
        "organizer", "timezone", "reminders", "include_description"
    }:  # fmt: skip
        return False
    reminders = cal["reminders"]
    return (
        type(cal["organizer"]) is str
        and (cal["timezone"] is None or type(cal["timezone"]) is str)
        and type(cal["include_description"]) is bool
        and type(reminders) is list
        and all(
            type(r) is list and len(r) == 2 and type(r[0]) is int and type(r[1]) is str
            for r in reminders
        )
    )


@dataclass(frozen=True, slots=True)
class DesiredRecord:
    """One record the spec wants in the portal.

    ``properties`` are HubSpot property names → wire strings (HubSpot takes every value
    as a string). ``relative_times`` names the properties whose value came from a relative
    time expression, with that expression, so apply can pin them at first creation.
    ``owner_email`` is set when ``owner:`` named an email to resolve via the owners API;
    ``hubspot_owner_id`` is then absent from ``properties``.
    """

    object_type: str
    key: str
    properties: Mapping[str, str]
    source: Source
    associations: tuple[AssociationRef, ...] = ()
    relative_times: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    calendar: CalendarSpec | None = None
    owner_email: str | None = None

    @property
    def address(self) -> str:
        return address_of(self.object_type, self.key)


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """What ``reconciler.yaml`` says (every field has a default: the file is optional).

    ``targets`` is kept as the validated raw mapping; ``reconciler.settings`` turns one
    of them into a ``Target`` when a command needs it.
    """

    root: str
    name: str
    timezone: str = "UTC"
    default_owner: str | None = None
    default_target: str = "local"
    targets: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    source_file: str | None = None
    #: The project's identity (``id:`` in ``reconciler.yaml``), written once by
    #: ``reconciler init`` and committed: it does not change when the folder moves.
    id: str | None = None
    #: ``vars``, ``seed``, ``max_generated`` and ``calendar`` of ``reconciler.yaml``, as
    #: written (for the generators: ``reconciler.generate``; ``calendar`` also for
    #: business-day times: ``reconciler.loading.calendar_settings``).
    generation: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def marker_id(self) -> str:
        """The prefix of this project's markers in the portal: its ``id``, lowercase.

        A project without an id (allowed only against the ``local`` emulator) falls back
        to its name, lowercased and slugged, as the first release did.
        """
        return (self.id or slug(self.name)).lower()


def slug(text: str) -> str:
    """``text`` as a marker-safe lowercase word (``My Demo`` → ``my-demo``)."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned or "project"


@dataclass(frozen=True, slots=True)
class Refactor:
    """A ``moved:`` entry (``to`` set: the record now lives at ``to``) or a ``removed:``
    entry (``to`` None: stop managing it, the portal keeps it) of the spec.

    ``address`` is the record's old address; chains of moves are resolved by the loader,
    so ``to`` is the address the record has in the spec now.
    """

    address: str
    to: str | None
    source: Source


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the project's files want: records by address, plus the settings."""

    project: ProjectSettings
    records: Mapping[str, DesiredRecord]
    reference_time: str  # ISO 8601 instant relative times were resolved against
    #: ``moved:`` and ``removed:`` entries by the address they move or remove
    refactors: Mapping[str, Refactor] = field(default_factory=lambda: MappingProxyType({}))
    #: where generated activities were placed on their owners' calendars, to place them
    #: again around a target's state before planning (``reconciler.generate.scheduling``)
    schedule: Any = field(default=None, compare=False, repr=False)
