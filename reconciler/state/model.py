"""What the state holds: records as last applied, in-flight batches, owners, and which
project and target it belongs to (``renames.rename_record`` moves one to a new address).
``reconciler.state.store.StateStore`` reads and writes it."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler import __version__
from reconciler.errors import StateError
from reconciler.state.schema_ids import SchemaIds, SchemaIdsDamaged

#: 2: snapshot + journal (``journal``); 1: the first release's single file
FORMAT_VERSION = 2


class _Damaged(Exception):
    """A field of the state file has the wrong shape (becomes a StateError naming it)."""


def _require_object(value: Any, what: str) -> None:
    if type(value) is not dict:
        raise _Damaged(f"{what} is not a JSON object")


def _text(data: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    """``data[name]``, which must be a string (or null/absent when ``optional``)."""
    _require_object(data, "an entry")
    value = data.get(name)
    if value is None and optional:
        return None
    if type(value) is not str:
        raise _Damaged(
            f"{name} is missing" if name not in data
            else f"{name} {json.dumps(value)} is not a string"
        )
    return value


def _whole(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int:
        raise _Damaged(
            f"{name} is missing" if name not in data
            else f"{name} {json.dumps(value)} is not a whole number"
        )
    return value


def _check_in_flight(entry: Any) -> None:
    """An in-flight batch must say what it sent: its type, addresses and start time."""
    _require_object(entry, "the entry")
    _text(entry, "object_type")
    addresses = entry.get("addresses")
    if type(addresses) is not list or not all(type(a) is str for a in addresses):
        raise _Damaged(
            "addresses is missing" if "addresses" not in entry
            else "addresses is not a list of addresses"
        )
    started = entry.get("started_at")
    if type(started) not in (int, float):
        raise _Damaged(
            "started_at is missing" if "started_at" not in entry
            else f"started_at {json.dumps(started)} is not a time"
        )
    records = entry.get("records", {})
    _require_object(records, "records")
    for record in records.values():
        # sent, not yet answered: the id is "" until recovery adopts it (h5)
        _require_object(record, "record")
        RecordState.from_json({**record, "id": record.get("id") or "in-flight"})


@dataclass(frozen=True, slots=True)
class StateBinding:
    """Which project and target a state file must belong to, to be used by this run.

    A state is accepted when its target is this target and its project is this project:
    its ``project_id`` is this project's marker id (or the slug of its name: a state made
    before the project got its ``id:``), or it has no ``project_id`` and its ``project`` is
    this project's name (a file of the first release). Anything else is another project's
    state, whose records this run must never touch. The portal id is checked once the
    portal is known (``check_portal``).
    """

    target: str
    project: str
    project_id: str
    name_slug: str

    def problem(self, state: State) -> str | None:
        if state.target != self.target:
            return f"it belongs to target {state.target or '(none)'}, not {self.target}"
        if state.project_id is None:
            if state.project == self.project:
                return None
            return f"it belongs to project {state.project or '(none)'}, not {self.project}"
        if state.project_id in (self.project_id, self.name_slug):
            return None
        return (
            f"it belongs to the project with id {state.project_id}, not {self.project_id} "
            f"({self.project})"
        )


@dataclass(frozen=True, slots=True)
class AppliedAssociation:
    """An association as last applied: the target's local key (if ours) and its HubSpot id.
    ``label``: the spec's ``label:`` it was resolved from (the spec names it so, not by id)."""

    to_type: str
    to_id: str
    category: str
    type_id: int
    to_key: str | None = None
    label: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "to_type": self.to_type,
            "to_id": self.to_id,
            "category": self.category,
            "type_id": self.type_id,
        }
        if self.to_key is not None:
            data["to_key"] = self.to_key
        if self.label is not None:
            data["label"] = self.label
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppliedAssociation:
        _require_object(data, "association")
        return cls(
            to_type=_text(data, "to_type"),
            to_id=_text(data, "to_id"),
            category=_text(data, "category"),
            type_id=_whole(data, "type_id"),
            to_key=_text(data, "to_key", optional=True),
            label=_text(data, "label", optional=True),
        )


@dataclass(frozen=True, slots=True)
class Pin:
    """A relative time resolved at first creation, kept so re-plans do not churn."""

    expr: str
    value: str


#: the pins of every loaded record that has none (records are replaced, never edited)
_NO_PINS: dict[str, Pin] = {}


@dataclass(frozen=True, slots=True)
class RecordState:
    """What the state knows of one managed record."""

    id: str
    object_type: str
    properties: Mapping[str, str]
    associations: tuple[AppliedAssociation, ...] = ()
    pinned: Mapping[str, Pin] = field(default_factory=dict)
    via_calendar: bool = False

    def to_json(self, *, compact: bool = False) -> dict[str, Any]:
        """The record as JSON; ``compact`` (the state file's form): a pin whose value is its
        property's is written as its expression alone."""
        data: dict[str, Any] = {
            "id": self.id,
            "object_type": self.object_type,
            "properties": dict(sorted(self.properties.items())),
            "associations": [a.to_json() for a in self.associations],
        }
        if self.pinned:
            # A pin whose value is the recorded property's (nearly all: a pinned time or
            # generated text is what was applied) is saved as its expression alone; the
            # value is read back from the property (50k generated records: 48 -> 38 MB).
            properties = self.properties if compact else {}
            data["pinned"] = {
                name: pin.expr if properties.get(name) == pin.value
                else {"expr": pin.expr, "value": pin.value}
                for name, pin in sorted(self.pinned.items())
            }
        if self.via_calendar:
            data["via_calendar"] = True
        return data

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], *, owned: bool = False,
        shared: dict[tuple[Any, ...], AppliedAssociation] | None = None,
    ) -> RecordState:
        """A record as saved; every field's type is checked (``_Damaged`` if wrong).

        Called once per record on every load (50k records: ~0.3 s), hence the checks are
        plain ``type() is`` tests and list comprehensions. ``owned``: ``data`` was just
        decoded and nothing else holds it, so its properties dict is kept, not copied
        (a copy per record left ~13 MiB of freed dicts behind at 50,000 records).
        ``shared``: equal associations already read, shared (``_record_fast``).
        """
        fast = _record_fast(data, owned, shared)
        if fast is not None:
            return fast
        _require_object(data, "record")
        properties = data.get("properties", {})
        _require_object(properties, "properties")
        if not all(type(v) is str for v in properties.values()):
            raise _Damaged("a property value is not a string")
        associations = data.get("associations", [])
        if type(associations) is not list:
            raise _Damaged("associations is not a list")
        pinned = data.get("pinned", {})
        _require_object(pinned, "pinned")
        via_calendar = data.get("via_calendar", False)
        if type(via_calendar) is not bool:
            raise _Damaged("via_calendar is not true or false")
        record_id = _text(data, "id")
        if not record_id:
            raise _Damaged("a record id is empty")
        return cls(
            id=record_id,
            object_type=_text(data, "object_type"),
            properties=properties if owned else dict(properties),
            associations=tuple([AppliedAssociation.from_json(a) for a in associations]),
            pinned={
                str(k): _pin(v, properties.get(k)) for k, v in pinned.items()
            } if pinned else _NO_PINS,
            via_calendar=via_calendar,
        )


def _pin(data: Any, property_value: str | None) -> Pin:
    """A saved pin: ``{"expr", "value"}``, or its expression alone when its value is the
    record's property of the same name (``RecordState.to_json``)."""
    if type(data) is str:
        if property_value is None:
            raise _Damaged(f"pin {json.dumps(data)} has no value and no property of its name")
        return Pin(expr=data, value=property_value)
    return Pin(expr=_text(data, "expr"), value=_text(data, "value"))


def _record_fast(
    data: Any, owned: bool, shared: dict[tuple[Any, ...], AppliedAssociation] | None = None
) -> RecordState | None:
    """``RecordState.from_json`` for a record of the expected shape, or None (the checked
    path then says what is wrong). The same checks, inline: a 50,000-record state made
    ~850,000 calls of ``_text`` (0.45 s of a 1 s load).

    ``shared``: the associations read so far by their fields. Records often hold equal
    ones (the 33 meetings of one company), and an ``AppliedAssociation`` is immutable: one
    is shared instead of built again (a frozen dataclass costs ~1 µs to build)."""
    if type(data) is not dict:
        return None
    get = data.get
    record_id, object_type = get("id"), get("object_type")
    properties = get("properties", {})
    associations = get("associations", [])
    pinned = get("pinned", _NO_PINS)
    via_calendar = get("via_calendar", False)
    if (
        type(record_id) is not str or not record_id or type(object_type) is not str
        or type(properties) is not dict or type(associations) is not list
        or type(via_calendar) is not bool
    ):
        return None
    for value in properties.values():
        if type(value) is not str:
            return None
    applied = []
    for a in associations:
        if type(a) is not dict:
            return None
        aget = a.get
        to_type, to_id, category = aget("to_type"), aget("to_id"), aget("category")
        type_id, to_key, label = aget("type_id"), aget("to_key"), aget("label")
        if (
            type(to_type) is not str or type(to_id) is not str or type(category) is not str
            or type(type_id) is not int or (to_key is not None and type(to_key) is not str)
            or (label is not None and type(label) is not str)
        ):
            return None
        fields = (to_type, to_id, category, type_id, to_key, label)
        association = shared.get(fields) if shared is not None else None
        if association is None:
            association = AppliedAssociation(*fields)
            if shared is not None:
                shared[fields] = association
        applied.append(association)
    if type(pinned) is not dict:
        return None
    pins: dict[str, Pin] = _NO_PINS
    if pinned:
        pins = {}
        for name, pin in pinned.items():
            if type(pin) is str:
                value = properties.get(name)
                if value is None:
                    return None
                pins[name] = Pin(pin, value)
            elif type(pin) is dict:
                expr, value = pin.get("expr"), pin.get("value")
                if type(expr) is not str or type(value) is not str:
                    return None
                pins[name] = Pin(expr, value)
            else:
                return None
    return RecordState(
        record_id, object_type, properties if owned else dict(properties), tuple(applied),
        pins, via_calendar,
    )


class RecordMap(dict[str, RecordState]):
    """``State.records``: a dict that notes which addresses were set or removed since the
    store last saved it, so a save writes only those."""

    __slots__ = ("changed",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed: set[str] = set()

    def __reduce__(self) -> tuple[Any, ...]:  # copies start with nothing changed
        return (RecordMap, (dict(self),))

    def __setitem__(self, key: str, value: RecordState) -> None:
        super().__setitem__(key, value)
        self.changed.add(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changed.add(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.changed.add(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, RecordState]:
        item = super().popitem()
        self.changed.add(item[0])
        return item

    def setdefault(self, key: str, default: RecordState) -> RecordState:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> RecordMap:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        self.changed.update(self)
        super().clear()


@dataclass(slots=True)
class State:
    """The in-memory state. Mutated only by apply (through ``StateStore``)."""

    lineage: str
    serial: int = 0
    target: str | None = None
    portal_id: int | None = None
    project: str | None = None
    #: the project id its records' markers carry (``ProjectSettings.marker_id``); None in
    #: files written by the first release, whose markers carry the project name
    project_id: str | None = None
    #: a ``RecordMap`` (a plain dict given here is wrapped in one)
    records: dict[str, RecordState] = field(default_factory=RecordMap)
    owners: dict[str, str] = field(default_factory=dict)
    in_flight: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the ids this target's portal gave the spec's pipelines, stages and labels
    schema: SchemaIds = field(default_factory=SchemaIds)

    def __post_init__(self) -> None:
        if type(self.records) is not RecordMap:
            self.records = RecordMap(self.records)

    @classmethod
    def empty(
        cls, *, target: str | None = None, project: str | None = None,
        project_id: str | None = None,
    ) -> State:
        # The lineage is set at the first save, so that plans made before any apply
        # (lineage "") stay valid until something is written.
        return cls(lineage="", target=target, project=project, project_id=project_id)

    def copy(self) -> State:
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        data = self._fields_json()
        data["records"] = {addr: rec.to_json() for addr, rec in sorted(self.records.items())}
        return data

    def _fields_json(self) -> dict[str, Any]:
        """``to_json()`` with ``records`` left empty (the store encodes those one by one)."""
        fields = {
            "format_version": FORMAT_VERSION,
            "tool_version": __version__,
            "lineage": self.lineage,
            "serial": self.serial,
            "target": self.target,
            "portal_id": self.portal_id,
            "project": self.project,
            "project_id": self.project_id,
            "owners": dict(sorted(self.owners.items())),
            "records": {},
            "in_flight": self.in_flight,
        }
        # Older releases ignore the key; a state without schema ids is written as before.
        if not self.schema.empty:
            fields["schema"] = self.schema.to_json()
        return fields

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str) -> State:
        """Read a state file's JSON; anything of the wrong shape is refused as damaged,
        naming what is wrong (a wrong type is never coerced into something else)."""
        if "format_version" not in data:
            raise StateError(f"{where}: not a reconciler state file (no format_version)")
        version = data["format_version"]
        if type(version) is int and version > FORMAT_VERSION:
            raise StateError(
                f"{where}: state format {version} is newer than this reconciler understands "
                f"({FORMAT_VERSION}); upgrade hubspot-reconciler (the file was left untouched)"
            )
        where_now = "the file"
        try:
            if type(version) is not int or version < 1:
                raise _Damaged(f"format_version {json.dumps(version)} is not a version (1 or 2)")
            serial = data.get("serial", 0)
            if type(serial) is not int or serial < 0:
                raise _Damaged(f"serial {json.dumps(serial)} is not a whole number >= 0")
            portal_id = data.get("portal_id")
            if portal_id is not None and (type(portal_id) is not int or portal_id <= 0):
                raise _Damaged(f"portal_id {json.dumps(portal_id)} is not a portal id")
            records_data = data.get("records", {})
            _require_object(records_data, "records")
            records = {}
            shared: dict[tuple[Any, ...], AppliedAssociation] = {}
            for address, record in records_data.items():
                where_now = f"record {address}"
                records[address] = RecordState.from_json(record, owned=True, shared=shared)
            where_now = "owners"
            owners = data.get("owners", {})
            _require_object(owners, "owners")
            if not all(type(v) is str for v in owners.values()):
                raise _Damaged("an owner id is not a string")
            in_flight = data.get("in_flight", {})
            _require_object(in_flight, "in_flight")
            for batch_id, entry in in_flight.items():
                where_now = f"in_flight entry {batch_id}"
                _check_in_flight(entry)
            where_now = "schema"
            try:
                schema = SchemaIds.from_json(data.get("schema"))
            except SchemaIdsDamaged as exc:
                raise _Damaged(str(exc)) from None
            where_now = "the file"
            return cls(
                lineage=_text(data, "lineage"),
                serial=serial,
                target=_text(data, "target", optional=True),
                portal_id=portal_id,
                project=_text(data, "project", optional=True),
                project_id=_text(data, "project_id", optional=True),
                records=records,
                owners=dict(owners),
                in_flight=dict(in_flight),
                schema=schema,
            )
        except _Damaged as exc:
            raise StateError(
                f"{where}: state file is damaged ({where_now}: {exc}); it was left untouched. "
                "Restore it from a backup (<name>.<time>.backup next to it) or run "
                "`reconciler state rebuild`"
            ) from None
