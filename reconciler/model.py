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
        if self.type_id is not None:
            return (self.to_type, target, self.category, str(self.type_id))
        # by label: the portal says which category its label is (USER_DEFINED when made there)
        return (self.to_type, target, "", f"label:{self.label}")


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
    #: the ``schema:`` section: properties, groups, pipelines and labels the portal needs
    schema: DesiredSchema = field(default_factory=lambda: EMPTY_SCHEMA)


# -- the schema: section (reconciler.loading.schema_section reads it) ---------------------


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option of an enumeration property; ``order`` is its displayOrder."""

    value: str
    label: str
    order: int
    hidden: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """A custom property the spec declares (``schema.properties.<type>.<name>``).

    ``order``, ``hidden`` and ``description`` are None when the spec does not say: then
    the portal's value is left as it is.
    """

    object_type: str
    name: str
    label: str
    type: str  # string number date datetime bool enumeration phone_number
    field_type: str  # HubSpot's fieldType (checked against type by the loader)
    group: str
    source: Source
    options: tuple[OptionSpec, ...] = ()
    unique: bool = False
    description: str | None = None
    hidden: bool | None = None
    order: int | None = None

    @property
    def address(self) -> str:
        return f"{self.object_type}/{self.name}"


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A property group (``schema.groups.<type>.<name>``); the name is its id."""

    object_type: str
    name: str
    label: str
    source: Source
    order: int | None = None

    @property
    def address(self) -> str:
        return f"{self.object_type}/{self.name}"


@dataclass(frozen=True, slots=True)
class StageSpec:
    """A pipeline stage by local key; ``probability`` (deals, "0.0".."1.0") and ``state``
    (tickets: OPEN or CLOSED) as HubSpot's stage metadata takes them. ``order`` is the
    displayOrder: as written, or the stage's position (``explicit_order`` False)."""

    key: str
    label: str
    order: int
    source: Source
    probability: str | None = None
    state: str | None = None
    explicit_order: bool = False


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    """A deal or ticket pipeline by local key (``schema.pipelines.<type>.<key>``): each
    target maps the key to its own pipeline id (the state keeps it)."""

    object_type: str
    key: str
    label: str
    stages: tuple[StageSpec, ...]
    source: Source
    order: int | None = None

    @property
    def address(self) -> str:
        return f"{self.object_type}/{self.key}"

    def stage(self, key: str) -> StageSpec | None:
        return next((s for s in self.stages if s.key == key), None)


@dataclass(frozen=True, slots=True)
class LabelSpec:
    """An association label by local key (``schema.labels.<key>``) for one pair of types;
    HubSpot makes it in both directions (``inverse``: the other direction's text)."""

    key: str
    from_type: str
    to_type: str
    label: str
    name: str
    source: Source
    inverse: str | None = None


@dataclass(frozen=True, slots=True)
class SchemaRemoval:
    """A ``schema.removed`` entry: the only way the tool ever deletes schema. ``kind`` is
    property, option, group, pipeline, stage or label; ``path`` as written
    (``companies/demo_segment/legacy``, ``old_champion``)."""

    kind: str
    path: str
    source: Source


@dataclass(frozen=True, slots=True)
class DesiredSchema:
    """The ``schema:`` section of every file, merged: groups and properties by
    ``<type>/<name>``, pipelines by ``<type>/<key>``, labels by key."""

    groups: Mapping[str, GroupSpec] = field(default_factory=lambda: MappingProxyType({}))
    properties: Mapping[str, PropertySpec] = field(default_factory=lambda: MappingProxyType({}))
    pipelines: Mapping[str, PipelineSpec] = field(default_factory=lambda: MappingProxyType({}))
    labels: Mapping[str, LabelSpec] = field(default_factory=lambda: MappingProxyType({}))
    removed: tuple[SchemaRemoval, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.groups or self.properties or self.pipelines or self.labels
                    or self.removed)


EMPTY_SCHEMA: DesiredSchema = DesiredSchema()
