"""What a portal says about its properties, owners and association labels, as plain data.

``PropertyInfo`` keeps the parts of HubSpot's ``Property`` shape that decide whether a
value will be accepted: its type, its options (value and label), whether it is read-only
(``modificationMetadata.readOnlyValue``) or calculated, and whether its values are owner
ids. ``Catalogue`` is everything one plan checks against; it round-trips through JSON for
the per-target cache (``reconciler.workflow.catalogue_cache``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Properties whose values are owner ids although HubSpot does not always say so with
#: ``referencedObjectType: OWNER`` (the emulator does not).
OWNER_PROPERTIES = frozenset({"hubspot_owner_id", "hs_attendee_owner_ids"})


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    """One property of an object type, as far as checking a value needs it."""

    name: str
    type: str  # string | number | date | datetime | enumeration | bool | phone_number ...
    field_type: str  # text | select | checkbox (several values, separated by ;) | ...
    options: tuple[tuple[str, str], ...] = ()  # (value, label) of an enumeration
    read_only: bool = False
    calculated: bool = False
    owner: bool = False  # the values are owner ids, checked against the owners API
    external_options: bool = False  # options come from elsewhere: not checked here

    @property
    def multiple(self) -> bool:
        """Whether a value may hold several options (HubSpot's ``a;b;c``)."""
        return self.field_type == "checkbox"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type, "fieldType": self.field_type}
        if self.options:
            data["options"] = [list(option) for option in self.options]
        for key, flag in (
            ("readOnly", self.read_only),
            ("calculated", self.calculated),
            ("owner", self.owner),
            ("externalOptions", self.external_options),
        ):
            if flag:
                data[key] = True
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PropertyInfo:
        """The cache's form back (raises KeyError/TypeError/ValueError when damaged)."""
        options = tuple((str(value), str(label)) for value, label in data.get("options", []))
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            field_type=str(data["fieldType"]),
            options=options,
            read_only=bool(data.get("readOnly", False)),
            calculated=bool(data.get("calculated", False)),
            owner=bool(data.get("owner", False)),
            external_options=bool(data.get("externalOptions", False)),
        )


def property_from_api(data: Mapping[str, Any]) -> PropertyInfo:
    """HubSpot's ``Property`` (``GET /crm/v3/properties/{type}`` results) → ``PropertyInfo``."""
    name = str(data.get("name"))
    metadata = data.get("modificationMetadata")
    read_only = isinstance(metadata, Mapping) and bool(metadata.get("readOnlyValue", False))
    options: list[tuple[str, str]] = []
    for option in data.get("options") or []:
        if isinstance(option, Mapping) and option.get("value") is not None:
            value = str(option["value"])
            options.append((value, str(option.get("label") or value)))
    return PropertyInfo(
        name=name,
        type=str(data.get("type") or "string"),
        field_type=str(data.get("fieldType") or "text"),
        options=tuple(options),
        read_only=read_only,
        calculated=bool(data.get("calculated", False)),
        owner=name in OWNER_PROPERTIES or data.get("referencedObjectType") == "OWNER",
        external_options=bool(data.get("externalOptions", False)),
    )


@dataclass(slots=True)
class Catalogue:
    """What one portal holds that a spec is checked against.

    ``properties``: object type → property name → info, for the types read. ``owner_ids``:
    every owner id, or None when the owners were not read. ``labels``: ``(from type, to
    type)`` → the association labels defined for that pair, for the pairs read.
    ``unknown_types``: object types the portal answered it does not know. ``type_ids``:
    ``(from type, to type)`` → every association type the portal lists for that pair, as
    ``(category, typeId)``, for the pairs read. ``deactivated_owners``: the deactivated
    owners (id → email or ""), when they were read.
    """

    properties: dict[str, dict[str, PropertyInfo]] = field(default_factory=dict)
    owner_ids: frozenset[str] | None = None
    labels: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    unknown_types: frozenset[str] = frozenset()
    type_ids: dict[tuple[str, str], tuple[tuple[str, int], ...]] = field(default_factory=dict)
    deactivated_owners: dict[str, str] = field(default_factory=dict)

    def merged_over(self, older: Catalogue) -> Catalogue:
        """This catalogue, keeping what ``older`` knew of types and pairs not read now."""
        return Catalogue(
            properties={**older.properties, **self.properties},
            owner_ids=self.owner_ids if self.owner_ids is not None else older.owner_ids,
            labels={**older.labels, **self.labels},
            unknown_types=self.unknown_types
            | frozenset(t for t in older.unknown_types if t not in self.properties),
            type_ids={**older.type_ids, **self.type_ids},
            deactivated_owners={**older.deactivated_owners, **self.deactivated_owners},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "properties": {
                object_type: [info.to_json() for info in by_name.values()]
                for object_type, by_name in sorted(self.properties.items())
            },
            "owner_ids": sorted(self.owner_ids) if self.owner_ids is not None else None,
            "labels": [
                [from_type, to_type, list(labels)]
                for (from_type, to_type), labels in sorted(self.labels.items())
            ],
            "unknown_types": sorted(self.unknown_types),
            "type_ids": [
                [from_type, to_type, [list(pair) for pair in found]]
                for (from_type, to_type), found in sorted(self.type_ids.items())
            ],
            "deactivated_owners": dict(sorted(self.deactivated_owners.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Catalogue:
        """The cache's form back (raises KeyError/TypeError/ValueError when damaged)."""
        properties: dict[str, dict[str, PropertyInfo]] = {}
        raw_properties = data["properties"]
        if not isinstance(raw_properties, Mapping):
            raise TypeError("properties is not a mapping")
        for object_type, items in raw_properties.items():
            infos = [PropertyInfo.from_json(item) for item in items]
            properties[str(object_type)] = {info.name: info for info in infos}
        owner_ids = data.get("owner_ids")
        labels = {
            (str(from_type), str(to_type)): tuple(str(label) for label in names)
            for from_type, to_type, names in data.get("labels") or []
        }
        type_ids = {
            (str(from_type), str(to_type)): tuple(
                (str(category), int(type_id)) for category, type_id in found
            )
            for from_type, to_type, found in data.get("type_ids") or []
        }
        deactivated = data.get("deactivated_owners") or {}
        if not isinstance(deactivated, Mapping):
            raise TypeError("deactivated_owners is not a mapping")
        return cls(
            properties=properties,
            owner_ids=frozenset(str(i) for i in owner_ids) if owner_ids is not None else None,
            labels=labels,
            unknown_types=frozenset(str(t) for t in data.get("unknown_types") or []),
            type_ids=type_ids,
            deactivated_owners={str(k): str(v) for k, v in deactivated.items()},
        )
