"""The portal an emulator pretends to be: its object types, properties, owners and labels.

``Portal`` is the state every handler shares: the store, the current configuration
(swapped whole at runtime), the properties catalogue including custom properties, the
schema (property groups, pipelines: ``properties``, ``pipelines``), the seeded random
source that shuffles batch results, and the clock (``reconciler.clock``) that dates
records and times the search index's lag. It also turns stored records into HubSpot's
object shape and checks property values the way HubSpot does, a record's stage against
its pipeline included.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.emulator import association_types
from reconciler.emulator.catalogue import (
    ALWAYS_RETURNED,
    BUILTIN_PROPERTIES,
    CUSTOM_OBJECT_PROPERTIES,
    DEFAULT_READ_PROPERTIES,
    PropertyDef,
    ValueProblem,
    format_timestamp,
    normalize_value,
    property_def_from_api,
)
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.http_types import HubSpotError, error_body
from reconciler.emulator.limits import RateLimiter
from reconciler.emulator.schema_model import (
    builtin_group,
    default_pipelines,
    pipeline_properties,
    stage_problem,
)
from reconciler.emulator.store import Store, StoredRecord

#: objectTypeIds HubSpot accepts in place of names (meetings/calls: facts §6, unverified;
#: notes, tasks, emails: facts §14, HubSpot's object type id table).
OBJECT_TYPE_IDS = {
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-5": "tickets",
    "0-47": "meetings",
    "0-48": "calls",
    "0-46": "notes",
    "0-27": "tasks",
    "0-49": "emails",
}
TYPE_ID_OF = {name: type_id for type_id, name in OBJECT_TYPE_IDS.items()}
SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "tickets": "ticket",
    "meetings": "meeting",
    "calls": "call",
    "notes": "note",
    "tasks": "task",
    "emails": "email",
}

#: Singular names in v3 association type names (meetings are "meeting_event" there).
V3_SINGULAR = {**SINGULAR, "meetings": "meeting_event"}

#: Activities: their own specs (crm-{meetings,calls,notes,tasks,emails}-*.json) name the
#: contacts scopes for reads and writes (facts §10, §14).
ENGAGEMENT_TYPES = ("meetings", "calls", "notes", "tasks", "emails")

#: The OAuth scope family of each type; engagements use the contacts scopes (facts §10).
_SCOPE_FAMILY = {**{name: "contacts" for name in ENGAGEMENT_TYPES}, "tickets": "tickets"}

#: The emails specs add ``sales-email-read`` to every operation's any-of list, writes too.
_EMAIL_SCOPE = "sales-email-read"


class Portal:
    """Shared state of one emulator; thread-safe (store lock + a small lock for the RNG)."""

    def __init__(
        self, config: EmulatorConfig, store: Store, clock: Clock = SYSTEM_CLOCK,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        #: the request counts (the API usage endpoint reads today's)
        self.limiter = limiter if limiter is not None else RateLimiter(clock)
        self._rng = random.Random(config.seed)
        self._rng_lock = threading.Lock()
        self._custom: dict[str, dict[str, PropertyDef]] = {}  # per type, archived ones too
        self._catalogue: dict[str, dict[str, PropertyDef]] = {}  # per type, built-ins + custom
        self._load_schema()

    def _load_schema(self) -> None:
        self._custom = {}
        self._catalogue = {}
        for object_type, definition in self.store.custom_properties():
            prop = property_def_from_api(object_type, definition, definition.get("createdAt", ""))
            self._custom.setdefault(object_type, {})[prop.name] = prop
        for object_type, pipeline in default_pipelines().items():
            if not self.store.pipelines(object_type):
                self.store.put_pipeline(object_type, pipeline)

    def reset(self) -> None:
        self.store.reset()
        self._load_schema()
        with self._rng_lock:
            self._rng = random.Random(self.config.seed)

    def now_iso(self) -> str:
        """Now on the portal's clock, in HubSpot's wire form."""
        return format_timestamp(datetime.fromtimestamp(self.clock.time(), timezone.utc))

    # types and scopes -----------------------------------------------------------------

    @property
    def object_types(self) -> tuple[str, ...]:
        return (*BUILTIN_PROPERTIES.keys(), *self.config.custom_object_types)

    def resolve_type(self, raw: str) -> str:
        """A path's object type as our canonical name; 400 like HubSpot when unknown.
        Custom objects also answer to the ``2-…`` id ``object_type_id`` gives them."""
        name = OBJECT_TYPE_IDS.get(raw, raw)
        if name in BUILTIN_PROPERTIES or name in self.config.custom_object_types:
            return name
        for custom in self.config.custom_object_types:
            if raw == self.object_type_id(custom):
                return custom
        for singular_type, singular in SINGULAR.items():
            if raw == singular:
                return singular_type
        raise HubSpotError(
            400, error_body("VALIDATION_ERROR", f"Unable to infer object type from: {raw}")
        )

    def scope_family(self, object_type: str) -> str:
        if object_type in self.config.custom_object_types:
            return "custom"
        return _SCOPE_FAMILY.get(object_type, object_type)

    def scopes_for(self, object_type: str, write: bool) -> tuple[str, ...]:
        """The scopes any one of which lets a token read (write) records of a type.

        From the specs' ``security`` any-of lists: activities (meetings, calls, notes, tasks,
        emails) have their own specs, which name ``crm.objects.contacts.read`` / ``.write``
        (the generic objects spec adds ``crm.objects.<type>.read`` for reads; the emails specs
        add ``sales-email-read`` to every operation); the generic spec lists, per type, the
        plain, ``sensitive`` and ``highly_sensitive`` scopes (and for tickets the legacy
        ``tickets`` ones). A read is also allowed by the type's write scopes, as the generic
        lists name both for every operation; a write needs a write scope.
        """
        if object_type in ENGAGEMENT_TYPES:
            extra = (_EMAIL_SCOPE,) if object_type == "emails" else ()
            if write:
                return ("crm.objects.contacts.write", *extra)
            return ("crm.objects.contacts.read", f"crm.objects.{object_type}.read", *extra)
        family = self.scope_family(object_type)
        if family == "tickets":
            return ("tickets", "tickets.highly_sensitive.v2", "tickets.sensitive.v2")
        writes = (
            f"crm.objects.{family}.write",
            f"crm.objects.{family}.sensitive.write.v2",
            f"crm.objects.{family}.highly_sensitive.write.v2",
        )
        if write:
            return writes
        return (
            f"crm.objects.{family}.read",
            f"crm.objects.{family}.sensitive.read.v2",
            f"crm.objects.{family}.highly_sensitive.read.v2",
            *writes,
        )

    def object_type_id(self, object_type: str) -> str:
        if object_type in TYPE_ID_OF:
            return TYPE_ID_OF[object_type]
        index = self.config.custom_object_types.index(object_type) if object_type in \
            self.config.custom_object_types else 0
        return f"2-{1000 + index}"

    # properties -------------------------------------------------------------------------

    def properties_of(self, object_type: str) -> dict[str, PropertyDef]:
        """Every property of a type (built-in and custom, not archived); do not mutate the
        result. Built-ins sit in the type's built-in group; the pipeline and stage
        properties' options are the type's pipelines and their stages."""
        cached = self._catalogue.get(object_type)
        if cached is None:
            builtin = BUILTIN_PROPERTIES.get(object_type, CUSTOM_OBJECT_PROPERTIES)
            group = builtin_group(object_type)[0]
            cached = {
                prop.name: replace(prop, group_name=group) if prop.group_name == "default"
                else prop
                for prop in builtin
            }
            cached.update(
                pipeline_properties(object_type, self.pipelines_of(object_type), cached)
            )
            cached.update({
                name: prop for name, prop in self._custom.get(object_type, {}).items()
                if not (prop.definition or {}).get("archived")
            })
            self._catalogue[object_type] = cached
        return cached

    def archived_properties(self, object_type: str) -> dict[str, PropertyDef]:
        return {
            name: prop for name, prop in self._custom.get(object_type, {}).items()
            if (prop.definition or {}).get("archived")
        }

    def put_custom_property(self, object_type: str, definition: dict[str, Any]) -> PropertyDef:
        """Create, update, archive or restore a custom property (its whole stored body)."""
        self.store.put_custom_property(object_type, str(definition["name"]), definition)
        prop = property_def_from_api(object_type, definition, str(definition["createdAt"]))
        self._custom.setdefault(object_type, {})[prop.name] = prop
        self._catalogue.pop(object_type, None)
        return prop

    # property groups and pipelines -------------------------------------------------------

    def groups_of(self, object_type: str) -> dict[str, dict[str, Any]]:
        """Every property group of a type (archived ones too), by name: the built-in group
        first, then those made through the API."""
        name, label = builtin_group(object_type)
        groups = {name: {"name": name, "label": label, "displayOrder": -1, "archived": False}}
        for group_type, definition in self.store.property_groups():
            if group_type == object_type:
                groups[str(definition["name"])] = definition
        return groups

    def pipelines_of(self, object_type: str, *, archived: bool = False) -> list[dict[str, Any]]:
        """The type's pipelines as stored (each with every stage, archived ones too);
        archived pipelines only with ``archived``."""
        return [p for p in self.store.pipelines(object_type) if archived or not p["archived"]]

    def put_pipeline(self, object_type: str, pipeline: dict[str, Any]) -> None:
        self.store.put_pipeline(object_type, pipeline)
        self._catalogue.pop(object_type, None)

    def new_schema_id(self) -> str:
        """A fresh pipeline or stage id: a numeric string, from a counter that starts where
        the portal id puts it, so two portals give the same pipeline different ids (as
        HubSpot does: ids are never portable)."""
        first = 10_000_000 + (self.config.portal_id % 89_989) * 1_000
        return str(self.store.next_meta_counter("next_schema_id", first))

    def unique_properties(self, object_type: str) -> list[str]:
        names = [
            name for name, prop in self.properties_of(object_type).items() if prop.has_unique_value
        ]
        if object_type == "contacts":
            names.append("email")  # HubSpot dedupes contacts by email
        return names

    @property
    def owner_ids(self) -> frozenset[str]:
        """The ids ``hubspot_owner_id`` takes: active owners only (whether HubSpot refuses a
        deactivated owner's id is undocumented; refusing is the cautious side)."""
        return frozenset(owner.id for owner in self.config.owners if not owner.archived)

    def check_properties(
        self, object_type: str, values: Any, *, creating: bool,
        current: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, str], list[ValueProblem]]:
        """Normalize a ``properties`` object; return the stored strings and every problem.
        ``current``: what an updated record holds now (its stage is checked against it)."""
        if values is None:
            values = {}
        if not isinstance(values, dict):
            return {}, [ValueProblem("properties", "INVALID_VALUE", "properties must be an object")]
        known = self.properties_of(object_type)
        owners = self.owner_ids
        clean: dict[str, str] = {}
        problems: list[ValueProblem] = []
        for name, value in values.items():
            prop = known.get(name)
            if prop is None:
                problems.append(
                    ValueProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if prop.read_only:
                problems.append(
                    ValueProblem(name, "READ_ONLY_VALUE",
                                 f'"{name}" is a read only property; its value cannot be set.')
                )
                continue
            stored, problem = normalize_value(prop, value, owners)
            if problem is not None:
                problems.append(problem)
            elif stored is not None:
                clean[name] = stored
        if not problems:
            stage = stage_problem(object_type, self.pipelines_of(object_type), clean, current)
            if stage is not None:
                problems.append(stage)
        return clean, problems

    def property_error(self, problems: list[ValueProblem]) -> dict[str, Any]:
        """HubSpot's body for bad property values: a JSON array inside ``message`` (§10)."""
        listed = [
            {
                "isValid": False,
                "message": problem.message,
                "error": problem.error,
                "name": problem.name,
                "localizedErrorMessage": problem.message,
                "portalId": self.config.portal_id,
            }
            for problem in problems
        ]
        return error_body(
            "VALIDATION_ERROR",
            "Property values were not valid: " + json.dumps(listed, separators=(",", ":")),
            errors=[
                {"message": p.message, "code": p.error, "context": {"propertyName": [p.name]}}
                for p in problems
            ],
        )

    # records ----------------------------------------------------------------------------

    def search_lag(self) -> float:
        return self.config.search_lag_seconds

    def new_record(
        self, object_type: str, record_id: int, props: dict[str, str], now: str
    ) -> StoredRecord:
        stored = {k: v for k, v in props.items() if v != ""}
        stored["hs_object_id"] = str(record_id)
        stored["hs_createdate"] = now
        stored["hs_lastmodifieddate"] = now
        known = self.properties_of(object_type)
        if "createdate" in known:
            stored["createdate"] = now
        if "lastmodifieddate" in known:
            stored["lastmodifieddate"] = now
        lag = self.search_lag()
        return StoredRecord(
            type=object_type,
            id=record_id,
            properties=stored,
            created_at=now,
            updated_at=now,
            archived=False,
            archived_at=None,
            visible_at=self.clock.time() + lag if lag > 0 else 0.0,
            indexed=None,
        )

    def apply_update(self, record: StoredRecord, props: dict[str, str], now: str) -> None:
        lag = self.search_lag()
        if lag > 0:
            # Search keeps seeing what it had indexed until the lag has passed.
            moment = self.clock.time()
            seen = record.properties if moment >= record.visible_at else record.indexed
            record.indexed = dict(seen) if seen is not None else None
            record.visible_at = moment + lag
        for name, value in props.items():
            if value == "":
                record.properties.pop(name, None)
            else:
                record.properties[name] = value
        record.properties["hs_lastmodifieddate"] = now
        if "lastmodifieddate" in self.properties_of(record.type):
            record.properties["lastmodifieddate"] = now
        record.updated_at = now

    def to_api(
        self,
        record: StoredRecord,
        wanted: Iterable[str] | None = None,
        *,
        trace_id: str | None = None,
    ) -> dict[str, Any]:
        """HubSpot's ``SimplePublicObject``: the wanted properties (``None`` = all stored),
        plus the always-returned ones, with ``null`` for a wanted property that is unset."""
        if wanted is None:
            properties: dict[str, Any] = dict(record.properties)
        else:
            properties = {name: record.properties.get(name) for name in wanted}
            for name in ALWAYS_RETURNED:
                properties[name] = record.properties.get(name)
        shaped: dict[str, Any] = {
            "id": str(record.id),
            "properties": properties,
            "createdAt": record.created_at,
            "updatedAt": record.updated_at,
            "archived": record.archived,
        }
        if record.archived_at:
            shaped["archivedAt"] = record.archived_at
        if trace_id is not None and self.config.echo_trace_ids:
            shaped["objectWriteTraceId"] = trace_id
        return shaped

    def read_properties(self, object_type: str, requested: list[str]) -> list[str]:
        """What a read returns: the requested names, else the type's defaults."""
        if requested:
            return requested
        return list(DEFAULT_READ_PROPERTIES.get(object_type, ("name",)))

    def shuffled(self, items: list[Any]) -> list[Any]:
        """HubSpot does not promise batch result order (facts §3): neither do we."""
        if self.config.shuffle_results and len(items) > 1:
            with self._rng_lock:
                self._rng.shuffle(items)
        return items

    def roll(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    def choice(self, options: list[Any]) -> Any:
        with self._rng_lock:
            return self._rng.choice(options)

    # associations -----------------------------------------------------------------------

    def association_target(self, from_type: str, category: str, type_id: int) -> str | None:
        """The object type an association type id points at from ``from_type``."""
        return association_types.target(self.store.labels(), from_type, category, type_id)

    def inverse_type(self, from_type: str, to_type: str, category: str, type_id: int) -> int | None:
        """The type id of the same association seen from the other side."""
        return association_types.inverse(
            self.store.labels(), from_type, to_type, category, type_id
        )

    def v3_association_name(self, from_type: str, to_type: str, category: str, type_id: int) -> str:
        """The ``type`` a v3 read shows for an association: ``<from>_to_<to>`` in v3's
        singular names (meetings are ``meeting_event`` there); where HubSpot also defines a
        "Primary" type for the pair (contact/company, deal/company, ticket/company), the
        unlabeled default is ``..._unlabeled``; a USER_DEFINED label shows its internal name.
        (Unverified beyond the spec's ``deal_to_contact`` example.)"""
        if category != "HUBSPOT_DEFINED":
            name = association_types.internal_name(
                self.store.labels(), from_type, to_type, type_id
            )
            if name is not None:
                return name
        base = f"{V3_SINGULAR.get(from_type, from_type)}_to_{V3_SINGULAR.get(to_type, to_type)}"
        defined = association_types.hubspot_defined(from_type, to_type)
        if len(defined) > 1 and defined[0][0] == type_id:  # the unlabeled one beside a Primary
            return base + "_unlabeled"
        return base

    def label_of(self, from_type: str, to_type: str, category: str, type_id: int) -> str | None:
        return association_types.label(self.store.labels(), from_type, to_type, category, type_id)
