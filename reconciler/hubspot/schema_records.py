"""Our frozen values for a portal's schema (properties with their options, property groups,
pipelines and stages), and their wire forms (``crm-properties-*.json``,
``crm-pipelines-*.json``).

As in ``reconciler.hubspot.records``: only the client (``schema_endpoints``) uses the
``*_from_api``/``*_to_api`` functions; every field HubSpot sends is optional when parsed,
except what we rely on (a property's ``name``, a pipeline's or stage's ``id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from reconciler.hubspot.records import AnswerShapeError, as_integer, as_object

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class PropertyOption:
    """One option of an enumeration (HubSpot's ``Option``/``OptionInput``)."""

    value: str
    label: str
    display_order: int = 0
    hidden: bool = False
    description: str = ""


@dataclass(frozen=True)
class PropertySchema:
    """A property as the schema knows it: what to create, and what a read describes (the
    read-only fields at the end are HubSpot's, never sent)."""

    name: str
    label: str
    type: str  # string | number | date | datetime | enumeration | bool | phone_number
    field_type: str  # text | textarea | number | date | select | radio | checkbox | ...
    group_name: str
    description: str = ""
    options: tuple[PropertyOption, ...] = ()
    display_order: int | None = None
    has_unique_value: bool = False
    hidden: bool = False
    form_field: bool = False
    # read only
    hubspot_defined: bool = False
    archivable: bool = True
    read_only_definition: bool = False
    archived: bool = False


@dataclass(frozen=True)
class PropertyChanges:
    """A PATCH of a property (``PropertyUpdate``): the fields that are not None are sent and
    replace what the portal has (``options``: the whole list). ``name`` and
    ``hasUniqueValue`` cannot change, so they are not here."""

    label: str | None = None
    description: str | None = None
    group_name: str | None = None
    type: str | None = None
    field_type: str | None = None
    options: tuple[PropertyOption, ...] | None = None
    display_order: int | None = None
    hidden: bool | None = None
    form_field: bool | None = None


@dataclass(frozen=True)
class PropertyGroup:
    name: str
    label: str
    display_order: int = -1
    archived: bool = False


@dataclass(frozen=True)
class StageDraft:
    """A stage to make: ``metadata`` as HubSpot takes it, strings (``deal_stage`` and
    ``ticket_stage`` build it)."""

    label: str
    display_order: int
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


def deal_stage(label: str, display_order: int, probability: float) -> StageDraft:
    """A deal stage: its probability (0.0 to 1.0 in steps of 0.1) sent as a string."""
    return StageDraft(label, display_order, {"probability": f"{probability:.1f}"})


def ticket_stage(label: str, display_order: int, state: str = "OPEN") -> StageDraft:
    """A ticket stage: ``state`` OPEN or CLOSED."""
    return StageDraft(label, display_order, {"ticketState": state.upper()})


@dataclass(frozen=True)
class PipelineStage:
    id: str
    label: str
    display_order: int
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    archived: bool = False

    @property
    def probability(self) -> float | None:
        """A deal stage's probability (None: not a deal stage, or not a number)."""
        try:
            return float(self.metadata["probability"])
        except (KeyError, ValueError):
            return None

    @property
    def ticket_state(self) -> str | None:
        return self.metadata.get("ticketState")


@dataclass(frozen=True)
class Pipeline:
    id: str
    label: str
    display_order: int
    stages: tuple[PipelineStage, ...] = ()
    archived: bool = False


# ---- wire forms --------------------------------------------------------------------------


def option_to_api(option: PropertyOption) -> dict[str, Any]:
    body: dict[str, Any] = {
        "label": option.label, "value": option.value, "displayOrder": option.display_order,
        "hidden": option.hidden,
    }
    if option.description:
        body["description"] = option.description
    return body


def property_schema_to_api(prop: PropertySchema) -> dict[str, Any]:
    """A ``PropertyCreate``."""
    body: dict[str, Any] = {
        "name": prop.name, "label": prop.label, "type": prop.type, "fieldType": prop.field_type,
        "groupName": prop.group_name, "hasUniqueValue": prop.has_unique_value,
        "hidden": prop.hidden, "formField": prop.form_field,
    }
    if prop.description:
        body["description"] = prop.description
    if prop.options:
        body["options"] = [option_to_api(option) for option in prop.options]
    if prop.display_order is not None:
        body["displayOrder"] = prop.display_order
    return body


def property_changes_to_api(changes: PropertyChanges) -> dict[str, Any]:
    """A ``PropertyUpdate`` of the fields given."""
    fields: dict[str, Any] = {
        "label": changes.label, "description": changes.description,
        "groupName": changes.group_name, "type": changes.type, "fieldType": changes.field_type,
        "displayOrder": changes.display_order, "hidden": changes.hidden,
        "formField": changes.form_field,
    }
    body = {key: value for key, value in fields.items() if value is not None}
    if changes.options is not None:
        body["options"] = [option_to_api(option) for option in changes.options]
    return body


def _text(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return default if value is None else str(value)


def _order(value: Any, where: str, default: int) -> int:
    return default if value is None else as_integer(value, where)


def property_schema_from_api(data: Any, where: str = "the property") -> PropertySchema:
    data = as_object(data, where)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise AnswerShapeError(f"{where}.name is missing or empty")
    options = []
    for n, raw in enumerate(data.get("options") or []):
        option = as_object(raw, f"{where}.options[{n}]")
        options.append(PropertyOption(
            value=_text(option, "value"), label=_text(option, "label"),
            display_order=_order(option.get("displayOrder"), f"{where}.options[{n}]", n),
            hidden=bool(option.get("hidden", False)), description=_text(option, "description"),
        ))
    metadata = data.get("modificationMetadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    display_order = data.get("displayOrder")
    return PropertySchema(
        name=name, label=_text(data, "label", name), type=_text(data, "type", "string"),
        field_type=_text(data, "fieldType", "text"), group_name=_text(data, "groupName"),
        description=_text(data, "description"), options=tuple(options),
        display_order=None if display_order is None else as_integer(
            display_order, f"{where}.displayOrder"),
        has_unique_value=bool(data.get("hasUniqueValue", False)),
        hidden=bool(data.get("hidden", False)), form_field=bool(data.get("formField", False)),
        hubspot_defined=bool(data.get("hubspotDefined", False)),
        archivable=bool(metadata.get("archivable", True)),
        read_only_definition=bool(metadata.get("readOnlyDefinition", False)),
        archived=bool(data.get("archived", False)),
    )


def group_to_api(group: PropertyGroup) -> dict[str, Any]:
    return {"name": group.name, "label": group.label, "displayOrder": group.display_order}


def group_from_api(data: Any, where: str = "the group") -> PropertyGroup:
    data = as_object(data, where)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise AnswerShapeError(f"{where}.name is missing or empty")
    return PropertyGroup(
        name=name, label=_text(data, "label", name),
        display_order=_order(data.get("displayOrder"), f"{where}.displayOrder", -1),
        archived=bool(data.get("archived", False)),
    )


def stage_to_api(stage: StageDraft) -> dict[str, Any]:
    return {"label": stage.label, "displayOrder": stage.display_order,
            "metadata": dict(stage.metadata)}


def _id_of(data: Mapping[str, Any], where: str) -> str:
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
        raise AnswerShapeError(f"{where}.id is missing or not an id")
    return str(value)


def stage_from_api(data: Any, where: str = "the stage") -> PipelineStage:
    data = as_object(data, where)
    metadata = data.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return PipelineStage(
        id=_id_of(data, where), label=_text(data, "label"),
        display_order=_order(data.get("displayOrder"), f"{where}.displayOrder", 0),
        # strings, as the spec types them; a number (the guide's examples) read as one
        metadata=MappingProxyType({str(k): str(v) for k, v in metadata.items() if v is not None}),
        archived=bool(data.get("archived", False)),
    )


def pipeline_from_api(data: Any, where: str = "the pipeline") -> Pipeline:
    data = as_object(data, where)
    stages = data.get("stages") or []
    if not isinstance(stages, list):
        raise AnswerShapeError(f"{where}.stages is not a list")
    return Pipeline(
        id=_id_of(data, where), label=_text(data, "label"),
        display_order=_order(data.get("displayOrder"), f"{where}.displayOrder", 0),
        stages=tuple(stage_from_api(s, f"{where}.stages[{n}]") for n, s in enumerate(stages)),
        archived=bool(data.get("archived", False)),
    )
