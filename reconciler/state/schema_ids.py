"""What one target's state knows of the schema it applied: the ids its portal gave the
pipelines, stages and labels the spec names by key, and which properties and groups exist
because of the spec. Pipeline and label ids differ from portal to portal, so each target
keeps its own; all of it can be found again in the portal by label (``state rebuild``, or
a plan without a state adopts by label), so losing it loses nothing.

In the state file (an optional ``schema`` key; a state without it is an empty one)::

    "schema": {
      "pipelines": {"deals/emea": {"id": "1234", "label": "EMEA Sales", "origin": "created",
                    "stages": {"discovery": {"id": "5678", "label": "Discovery"}}}},
      "labels": {"champion": {"from": "contacts", "to": "companies", "type_id": 1001,
                 "inverse_type_id": 1002, "label": "Champion", "inverse": "Championed by",
                 "origin": "adopted"}},
      "properties": {"companies/demo_segment": "created"},
      "groups": {"companies/demo_info": "created"}
    }

``origin`` (created or adopted) is for the reader; nothing is ever deleted on its strength.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ORIGINS = ("created", "adopted")


class SchemaIdsDamaged(ValueError):
    """The state's ``schema`` has the wrong shape (the state reports it as damaged)."""


@dataclass(frozen=True, slots=True)
class StageIds:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class PipelineIds:
    """A declared pipeline as this target's portal has it."""

    id: str
    label: str
    origin: str
    stages: Mapping[str, StageIds] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LabelIds:
    """A declared association label as this target's portal has it: the type id from
    ``from_type`` to ``to_type``, and the one back."""

    from_type: str
    to_type: str
    type_id: int
    label: str
    origin: str
    inverse_type_id: int | None = None
    inverse: str | None = None

    def type_id_from(self, from_type: str) -> int | None:
        """The type id from ``from_type``'s side (the inverse from the second type)."""
        if from_type == self.from_type:
            return self.type_id
        return self.inverse_type_id if from_type == self.to_type else None


@dataclass(slots=True)
class SchemaIds:
    """Per target: pipelines and labels by key, properties and groups by address."""

    pipelines: dict[str, PipelineIds] = field(default_factory=dict)
    labels: dict[str, LabelIds] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)  # address → origin
    groups: dict[str, str] = field(default_factory=dict)  # address → origin

    @property
    def empty(self) -> bool:
        return not (self.pipelines or self.labels or self.properties or self.groups)

    def to_json(self) -> dict[str, Any]:
        return {
            "pipelines": {
                address: {
                    "id": p.id, "label": p.label, "origin": p.origin,
                    "stages": {k: {"id": s.id, "label": s.label} for k, s in p.stages.items()},
                }
                for address, p in sorted(self.pipelines.items())
            },
            "labels": {
                key: {
                    "from": lab.from_type, "to": lab.to_type, "type_id": lab.type_id,
                    "inverse_type_id": lab.inverse_type_id, "label": lab.label,
                    "inverse": lab.inverse, "origin": lab.origin,
                }
                for key, lab in sorted(self.labels.items())
            },
            "properties": dict(sorted(self.properties.items())),
            "groups": dict(sorted(self.groups.items())),
        }

    @classmethod
    def from_json(cls, data: Any) -> SchemaIds:
        """The state file's form back; ``SchemaIdsDamaged`` naming what is wrong."""
        if data is None:
            return cls()
        _object(data, "schema")
        ids = cls()
        for address, body in _object(data.get("pipelines", {}), "pipelines").items():
            where = f"pipeline {address}"
            _object(body, where)
            stages = {
                str(key): StageIds(_str(s, "id", f"{where} stage {key}"),
                                   _str(s, "label", f"{where} stage {key}"))
                for key, s in _object(body.get("stages", {}), f"{where} stages").items()
            }
            ids.pipelines[str(address)] = PipelineIds(
                _str(body, "id", where), _str(body, "label", where), _origin(body, where),
                stages,
            )
        for key, body in _object(data.get("labels", {}), "labels").items():
            where = f"label {key}"
            _object(body, where)
            inverse_id = body.get("inverse_type_id")
            if inverse_id is not None and type(inverse_id) is not int:
                raise SchemaIdsDamaged(f"{where}: inverse_type_id is not a whole number")
            if type(body.get("type_id")) is not int:
                raise SchemaIdsDamaged(f"{where}: type_id is not a whole number")
            inverse = body.get("inverse")
            if inverse is not None and type(inverse) is not str:
                raise SchemaIdsDamaged(f"{where}: inverse is not a string")
            ids.labels[str(key)] = LabelIds(
                _str(body, "from", where), _str(body, "to", where), body["type_id"],
                _str(body, "label", where), _origin(body, where), inverse_id, inverse,
            )
        for name in ("properties", "groups"):
            found = _object(data.get(name, {}), name)
            if not all(type(v) is str and v in ORIGINS for v in found.values()):
                raise SchemaIdsDamaged(f"{name}: an origin is not created or adopted")
            getattr(ids, name).update(found)
        return ids


def _object(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise SchemaIdsDamaged(f"{what} is not a JSON object")
    return value


def _str(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if type(value) is not str or not value:
        raise SchemaIdsDamaged(f"{where}: {name} {json.dumps(value)} is not a string")
    return value


def _origin(data: Mapping[str, Any], where: str) -> str:
    origin = data.get("origin", "adopted")
    if origin not in ORIGINS:
        raise SchemaIdsDamaged(f"{where}: origin {json.dumps(origin)} is not created or adopted")
    return str(origin)
