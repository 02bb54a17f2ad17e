"""The plan as a value: ``Change`` (one thing apply will do to one record), ``Plan`` (all of
them, and what apply needs besides), ``PropertyDiff`` and ``RemoteSnapshot`` (what the
portal holds for a managed record). Frozen records, no behaviour beyond counting; the
planner (``planner.plan``) makes them, ``reconciler.state.plan_document`` saves and reads
them, apply runs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.model import AssociationRef, CalendarSpec, Source
from reconciler.planning.schema_changes import SchemaChange
from reconciler.state.model import AppliedAssociation, Pin

#: 2: the actions move and release (``moved:``/``removed:``, ``state mv``/``state rm``);
#: 3: the actions adopt and dedupe, and the plan's ``duplicates``;
#: 4: the action repin (a state-only change: no portal value changes); ``schema_changes``
#: (the ``schema:`` section) and placeholders for schema ids
PLAN_FORMAT_VERSION = 4
#: The formats ``apply --plan`` reads: each adds to the one before, nothing changes meaning.
READABLE_PLAN_FORMATS = (3, 4)

Action = Literal[
    "create", "update", "archive", "remark", "move", "release", "adopt", "dedupe", "repin",
]
#: Every action a plan may hold ("remark": rewrite a managed record's markers; "move":
#: rewrite them to a new address; "release": clear them and stop managing the record;
#: "adopt": map a record carrying the marker of one the state does not map, instead of
#: creating it, with the update it needs; "dedupe": archive an extra record carrying a
#: marker another record keeps, see ``reconciler.identity.scan``; "repin": a pin's
#: definition changed but the value it gives did not, so only the state changes: no
#: request, nothing written to the portal).
ACTIONS: tuple[Action, ...] = (
    "create", "update", "archive", "remark", "move", "release", "adopt", "dedupe", "repin",
)
#: Actions that write only a record's markers (apply runs them first).
MARKER_ACTIONS: frozenset[str] = frozenset({"remark", "move", "release"})
#: Actions that change nothing in the portal (apply records them in the state only).
STATE_ONLY_ACTIONS: frozenset[str] = frozenset({"repin"})


@dataclass(frozen=True, slots=True)
class PropertyDiff:
    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class RemoteSnapshot:
    """What the portal holds for one managed record (managed properties only)."""

    id: str
    properties: Mapping[str, str | None]
    #: to_type → the (to_id, type_id) the portal holds, for the associated types a full
    #: refresh read (None: associations not read; the last applied ones are assumed)
    associations: Mapping[str, frozenset[tuple[str, int]]] | None = None
    #: (``reconciler_key``, ``reconciler_project``) as the refresh read them, "" for none
    #: (None: not read; an incremental refresh reads only what changed, and counts the rest
    #: by ``reconciler_project``, so those carry this project's id)
    markers: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One thing apply will do to one record."""

    action: Action
    object_type: str
    key: str
    reason: str
    hubspot_id: str | None = None
    #: create/update: every managed property as it will be after the change
    after: Mapping[str, str] = field(default_factory=dict)
    #: the properties whose value changes (update: exactly what is sent)
    diffs: tuple[PropertyDiff, ...] = ()
    #: differences found between the portal and the last apply (refresh only)
    drift: tuple[PropertyDiff, ...] = ()
    add_associations: tuple[AssociationRef, ...] = ()
    remove_associations: tuple[AppliedAssociation, ...] = ()
    #: every association the record wants (recorded in state once applied)
    associations: tuple[AssociationRef, ...] = ()
    pins: Mapping[str, Pin] = field(default_factory=dict)
    calendar: CalendarSpec | None = None
    source: Source | None = None
    #: move: the address the record had (the change's own address is the new one)
    moved_from: str | None = None

    @property
    def address(self) -> str:
        return f"{self.object_type}/{self.key}"

    @property
    def properties_to_send(self) -> dict[str, str]:
        if self.action == "create":
            return dict(self.after)
        return {d.name: d.after for d in self.diffs if d.after is not None}


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything apply needs, and nothing it must look up again in the spec."""

    changes: tuple[Change, ...]
    unchanged: tuple[str, ...]
    target: str | None
    project: str | None
    state_lineage: str
    state_serial: int
    refreshed: bool
    reference_time: str
    format_version: int = PLAN_FORMAT_VERSION
    #: owner email → owner id, as resolved when the plan was made (saved with the plan so
    #: that ``apply --plan`` records them in the state)
    owners: Mapping[str, str] = field(default_factory=dict)
    #: the project's timezone: the text plan shows times in it
    timezone: str = "UTC"
    #: address → ids of every portal record carrying its marker, the kept one first (only
    #: markers carried more than once; ``dedupe`` changes archive the others)
    duplicates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: requests the reads before this plan took (the portal's refresh, the catalogue, the
    #: identity scan): an apply makes them again (``hubspot.budget``); 0 for a saved plan
    reads: int = 0
    #: type → the tool's marker properties the portal does not define yet (apply makes
    #: each before the first write), for the types whose properties the reads listed
    missing_properties: Mapping[str, int] = field(default_factory=dict)

    #: what apply does to the portal's schema first (``reconciler.planning.schema_planner``)
    schema_changes: tuple[SchemaChange, ...] = ()


    @property
    def has_changes(self) -> bool:
        """Whether apply has anything to do (re-pins included: the state records them)."""
        return bool(self.changes) or any(c.runs for c in self.schema_changes)

    @property
    def has_portal_changes(self) -> bool:
        """Whether apply writes anything to the portal (re-pins write nothing)."""
        return any(c.action not in STATE_ONLY_ACTIONS for c in self.changes) or any(
            c.runs for c in self.schema_changes
        )

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> dict[str, int]:
        counts = {
            "create": self.count("create"),
            "update": self.count("update"),
            "archive": self.count("archive"),
            "unchanged": len(self.unchanged),
        }
        if self.count("remark"):  # only while markers migrate: the usual shape stays as it was
            counts["remark"] = self.count("remark")
        for action in ("move", "release", "adopt", "dedupe", "repin"):  # only when any
            if self.count(action):
                counts[action] = self.count(action)
        schema = sum(1 for c in self.schema_changes if c.runs)
        if schema:
            counts["schema"] = schema
        return counts
