"""What a portal's schema holds, as plain data the schema planner compares with the spec:
properties (HubSpot's ``Property`` shape, the parts that matter), groups, pipelines with
their stages, association labels per pair of types, and the usage counts of what a
guarded change would delete. ``reconciler.workflow.schema_reads`` fills it from the
portal; tests build it by hand. ``None`` anywhere means "not read": nothing is concluded
from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RemoteOption:
    value: str
    label: str
    order: int | None = None
    hidden: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteProperty:
    """A property as the portal describes it (``GET /crm/v3/properties/{type}``)."""

    name: str
    label: str
    type: str
    field_type: str
    group: str
    description: str = ""
    options: tuple[RemoteOption, ...] = ()
    unique: bool = False
    hidden: bool = False
    order: int | None = None
    #: HubSpot's own (hubspotDefined) or not to be edited (readOnlyDefinition)
    builtin: bool = False
    archivable: bool = True


@dataclass(frozen=True, slots=True)
class RemoteStage:
    id: str
    label: str
    order: int | None = None
    probability: str | None = None  # deals: metadata.probability, as "0.2"
    state: str | None = None  # tickets: metadata.ticketState, OPEN or CLOSED


@dataclass(frozen=True, slots=True)
class RemotePipeline:
    id: str
    label: str
    stages: tuple[RemoteStage, ...]
    order: int | None = None


@dataclass(frozen=True, slots=True)
class RemoteLabel:
    """One association type of a pair (``GET .../labels``)."""

    type_id: int
    label: str | None
    category: str


@dataclass(slots=True)
class RemoteSchema:
    """Everything read of one portal's schema for one plan (None: not read).

    ``properties``/``groups``: type → name → item; ``pipelines``: type → pipelines;
    ``labels``: (from type, to type) → its association types; ``usage``: a usage key
    (``schema_usage.usage_questions``) → how many records hold that value.
    """

    properties: dict[str, dict[str, RemoteProperty]] = field(default_factory=dict)
    groups: dict[str, dict[str, str]] = field(default_factory=dict)  # name → label
    group_orders: dict[str, dict[str, int | None]] = field(default_factory=dict)
    pipelines: dict[str, tuple[RemotePipeline, ...]] = field(default_factory=dict)
    labels: dict[tuple[str, str], tuple[RemoteLabel, ...]] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)


def _order(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _probability(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return f"{float(value):.1f}"
    except (TypeError, ValueError):
        return str(value)


def property_from_body(data: Mapping[str, Any]) -> RemoteProperty:
    """HubSpot's ``Property`` → ``RemoteProperty`` (missing fields read as HubSpot's
    defaults)."""
    metadata = data.get("modificationMetadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    options = tuple(
        RemoteOption(
            value=str(o.get("value")), label=str(o.get("label") or o.get("value")),
            order=_order(o.get("displayOrder")), hidden=bool(o.get("hidden", False)),
            description=o.get("description") or None,
        )
        for o in data.get("options") or [] if isinstance(o, Mapping) and "value" in o
    )
    return RemoteProperty(
        name=str(data.get("name")), label=str(data.get("label") or ""),
        type=str(data.get("type") or "string"), field_type=str(data.get("fieldType") or "text"),
        group=str(data.get("groupName") or ""), description=str(data.get("description") or ""),
        options=options, unique=bool(data.get("hasUniqueValue", False)),
        hidden=bool(data.get("hidden", False)), order=_order(data.get("displayOrder")),
        builtin=bool(data.get("hubspotDefined", False))
        or bool(metadata.get("readOnlyDefinition", False)),
        archivable=bool(metadata.get("archivable", True)),
    )


def pipeline_from_body(data: Mapping[str, Any]) -> RemotePipeline:
    """HubSpot's ``Pipeline`` (stages with their metadata) → ``RemotePipeline``."""
    stages = []
    for stage in data.get("stages") or []:
        if not isinstance(stage, Mapping) or stage.get("archived"):
            continue
        metadata = stage.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        state = metadata.get("ticketState")
        stages.append(RemoteStage(
            id=str(stage.get("id")), label=str(stage.get("label") or ""),
            order=_order(stage.get("displayOrder")),
            probability=_probability(metadata.get("probability")),
            state=str(state).upper() if state else None,
        ))
    return RemotePipeline(
        id=str(data.get("id")), label=str(data.get("label") or ""), stages=tuple(stages),
        order=_order(data.get("displayOrder")),
    )
