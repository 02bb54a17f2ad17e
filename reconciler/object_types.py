"""The object types the tool writes, in one table: a row each, and everything else derives.

A new standard type is a row here plus its friendly fields (``loading/friendly.py``), its
default association types (``associations.py``) and its ``$defs`` in the spec schema
(ARCHITECTURE.md, "Where to add"). Types that are not rows here (custom objects such as
``p_widgets``) are written under ``objects:`` and take the defaults of ``OTHER``.

Sources: object type ids, facts §6 and §14 (meetings ``0-47`` and calls ``0-48`` are
believed, not verified); required properties, the meetings/calls/notes/tasks/emails guides
(``hs_timestamp``) and, for tickets, HubSpot's refusal "The following required properties
were missing: [hs_pipeline_stage]" (facts §14); unique properties, facts §7 (HubSpot
documents ``hasUniqueValue`` for contacts, companies, deals, tickets and custom objects,
never for engagements).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ObjectType:
    """One object type as the tool writes it."""

    #: HubSpot's object type name (the path segment: ``/crm/v3/objects/<name>``).
    name: str
    #: HubSpot's object type id (``0-1``), which the object APIs take in place of the name.
    type_id: str
    #: The spec section its records are written in; None: under ``objects: <name>:``.
    section: str | None
    #: The name of an association item that points at it (``contact: jane-doe``).
    singular: str
    #: When it is written: lower first, so that a record's associations point at records
    #: that exist already. Types that are not rows here write at ``OTHER_WRITE_ORDER``.
    write_order: int
    #: An activity on the timeline (meetings, calls, emails, tasks, notes).
    engagement: bool = False
    #: Whether ``reconciler_key`` is created as a unique property (then records are
    #: created by upsert); HubSpot documents no unique properties for engagements.
    unique_marker: bool = True
    #: Whether records take ``owner:`` and the project's ``default_owner``.
    owned: bool = True
    #: Properties HubSpot refuses a create without → what to write there (a hint).
    required: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: The property group the tool's own marker properties join when the portal has it
    #: (``identity.markers.marker_group`` takes another of the type's groups otherwise).
    marker_group: str = ""


#: Where types that are no row write: after companies, contacts and deals, before the
#: activities (so meetings and calls can point at tickets and custom objects).
OTHER_WRITE_ORDER = 3

_TIMESTAMP = MappingProxyType(
    {"hs_timestamp": "when it happened (the time on the record's timeline)"}
)

#: In the order sections are shown; ``write_order`` is the order they are written in.
OBJECT_TYPES: tuple[ObjectType, ...] = (
    ObjectType("contacts", "0-1", "contacts", "contact", 1, marker_group="contactinformation"),
    ObjectType("companies", "0-2", "companies", "company", 0,
               marker_group="companyinformation"),
    ObjectType("deals", "0-3", "deals", "deal", 2, marker_group="dealinformation"),
    ObjectType(
        "tickets", "0-5", None, "ticket", OTHER_WRITE_ORDER, owned=False,
        required=MappingProxyType({
            "hs_pipeline_stage": 'the ticket\'s status (e.g. "1": New in the default ticket '
                                 "pipeline)",
        }),
        marker_group="ticketinformation",
    ),
    ObjectType("meetings", "0-47", "meetings", "meeting", 4, engagement=True,
               unique_marker=False, required=_TIMESTAMP, marker_group="meetinginformation"),
    ObjectType("calls", "0-48", "calls", "call", 5, engagement=True, unique_marker=False,
               required=_TIMESTAMP, marker_group="callinformation"),
    ObjectType("notes", "0-46", "notes", "note", 8, engagement=True, unique_marker=False,
               required=_TIMESTAMP, marker_group="noteinformation"),
    ObjectType("tasks", "0-27", "tasks", "task", 7, engagement=True, unique_marker=False,
               required=MappingProxyType({"hs_timestamp": "the task's due time"}),
               marker_group="taskinformation"),
    ObjectType("emails", "0-49", "emails", "email", 6, engagement=True, unique_marker=False,
               required=_TIMESTAMP, marker_group="emailinformation"),
)

#: object type name → its row.
BY_NAME: Mapping[str, ObjectType] = MappingProxyType({t.name: t for t in OBJECT_TYPES})


def object_type(name: str) -> ObjectType | None:
    """The row of ``name`` (a HubSpot object type name), or None for other types."""
    return BY_NAME.get(name)


def required_properties(name: str) -> Mapping[str, str]:
    """What HubSpot refuses a create of ``name`` without (property → hint); custom types:
    nothing known."""
    row = BY_NAME.get(name)
    return row.required if row is not None else MappingProxyType({})

