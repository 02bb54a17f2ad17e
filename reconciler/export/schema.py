"""The schema the exported records use, as a ``schema:`` section (README, "Schema in the
spec"), so that applying the export to an empty portal makes it first.

- **Properties**: the custom properties (not HubSpot's, not the tool's ``reconciler_*``)
  that an exported record holds a value of, with their options in display order, and the
  property groups of their own they sit in.
- **Pipelines**: the deal and ticket pipelines the exported deals and tickets are in, with
  all their stages (label; a deal stage's probability, a ticket stage's state), keyed by
  the slug of their labels. HubSpot's default pipelines are declared too, by their labels:
  the copy adopts its own default pipeline by that label.
- **Labels**: the portal's own association labels (USER_DEFINED) that exported
  associations carry, keyed by the slug of the label. Its inverse (a paired label) is read
  where HubSpot keeps it: on the same association seen from the other side, which HubSpot
  stores with the other direction's type id.

Records then name pipelines, stages and labels by these keys: each target resolves them to
its own ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.associations import default_type_id
from reconciler.errors import ApiError
from reconciler.export.convert import SchemaKeys, slug
from reconciler.export.reading import PortalSnapshot, read_labels
from reconciler.hubspot.client import HubSpotClient, Pipeline, PropertySchema
from reconciler.loading.schema_references import PIPELINE_PROPERTIES
from reconciler.object_types import object_type as object_type_row

#: The field types the spec's ``schema:`` takes (others are HubSpot's or the UI's:
#: calculation_equation, file, html), and each property type's default.
_FIELD_TYPES = frozenset({"text", "textarea", "phonenumber", "number", "date", "select",
                          "radio", "checkbox", "booleancheckbox"})
_DEFAULT_FIELD = {"string": "text", "number": "number", "date": "date", "datetime": "date",
                  "bool": "booleancheckbox", "enumeration": "select",
                  "phone_number": "phonenumber"}


@dataclass
class ExportedSchema:
    """The ``schema:`` section, and the keys records name its parts by."""

    section: dict[str, Any] = field(default_factory=dict)
    keys: SchemaKeys = field(default_factory=SchemaKeys)
    notes: list[str] = field(default_factory=list)


def unique_key(text: str, taken: set[str], *, underscore: bool = False) -> str:
    base = slug(text) or "item"
    if underscore:  # a label's key is also its internal name: ^[a-z][a-z0-9_]*$
        base = "".join(c if c.isalnum() else "_" for c in base).strip("_") or "label"
        base = base if base[0].isalpha() else f"label_{base}"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}{'_' if underscore else '-'}{n}"
    taken.add(key)
    return key


def read_schema(client: HubSpotClient, snapshot: PortalSnapshot) -> ExportedSchema:
    """The schema the records of ``snapshot`` use (reads only)."""
    exported = ExportedSchema()
    properties: dict[str, Any] = {}
    groups: dict[str, Any] = {}
    for object_type, records in sorted(snapshot.records.items()):
        used = {name for record in records.values()
                for name, value in record.properties.items() if value not in (None, "")}
        if not used:
            continue
        declared, own_groups = _properties(client, object_type, used, exported.notes)
        if declared:
            properties[object_type] = declared
        if own_groups:
            groups[object_type] = own_groups
    if groups:
        exported.section["groups"] = groups
    if properties:
        exported.section["properties"] = properties
    pipelines: dict[str, Any] = {}
    for object_type, (pipeline_prop, _stage) in PIPELINE_PROPERTIES.items():
        records = snapshot.records.get(object_type, {})
        used_pipelines = {str(r.properties.get(pipeline_prop) or "")
                          for r in records.values()} - {""}
        if used_pipelines:
            declared_pipelines = _pipelines(
                object_type, client.pipelines(object_type), used_pipelines, exported
            )
            if declared_pipelines:
                pipelines[object_type] = declared_pipelines
    if pipelines:
        exported.section["pipelines"] = pipelines
    labels = _labels(client, snapshot, exported)
    if labels:
        exported.section["labels"] = labels
    return exported


def _properties(
    client: HubSpotClient, object_type: str, used: set[str], notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    found = client.property_schemas(object_type)
    builtin_groups = {p.group_name for p in found if p.hubspot_defined}
    row = object_type_row(object_type)
    default_group = row.marker_group if row is not None else ""
    declared: dict[str, Any] = {}
    group_names: set[str] = set()
    for prop in sorted(found, key=lambda p: p.name):
        if (prop.hubspot_defined or prop.name.startswith("reconciler_")
                or prop.name not in used or prop.archived):
            continue
        if prop.field_type not in _FIELD_TYPES or prop.type not in _DEFAULT_FIELD:
            notes.append(f"property {object_type}.{prop.name} ({prop.type}, "
                         f"{prop.field_type}) is not one a spec can declare; make it in the "
                         "copy by hand")
            continue
        declared[prop.name] = _property_body(prop, default_group)
        if prop.group_name and prop.group_name not in builtin_groups:
            group_names.add(prop.group_name)
    own_groups: dict[str, Any] = {}
    if group_names:
        labels = {g.name: g.label for g in client.property_groups(object_type)}
        own_groups = {name: {"label": labels.get(name) or name} for name in sorted(group_names)}
    return declared, own_groups


def _property_body(prop: PropertySchema, default_group: str) -> dict[str, Any]:
    body: dict[str, Any] = {"label": prop.label, "type": prop.type}
    if prop.field_type != _DEFAULT_FIELD[prop.type]:
        body["field"] = prop.field_type
    if prop.group_name and prop.group_name != default_group:
        body["group"] = prop.group_name
    if prop.description:
        body["description"] = prop.description
    if prop.has_unique_value:
        body["unique"] = True
    if prop.type == "enumeration":
        options = []
        for option in sorted(prop.options, key=lambda o: o.display_order):
            item: dict[str, Any] = {"value": option.value, "label": option.label}
            if option.hidden:
                item["hidden"] = True
            options.append(item)
        body["options"] = options
    return body


def _pipelines(
    object_type: str, found: Iterable[Pipeline], used: set[str], exported: ExportedSchema
) -> dict[str, Any]:
    declared: dict[str, Any] = {}
    taken: set[str] = set()
    by_id = {p.id: p for p in found if not p.archived}
    for pipeline_id in sorted(used & set(by_id), key=lambda i: (by_id[i].display_order, i)):
        pipeline = by_id[pipeline_id]
        key = unique_key(pipeline.label, taken)
        stage_keys: set[str] = set()
        stages: dict[str, Any] = {}
        stage_ids = exported.keys.stages[(object_type, pipeline_id)] = {}
        for stage in sorted(pipeline.stages, key=lambda s: s.display_order):
            if stage.archived:
                continue
            stage_key = unique_key(stage.label, stage_keys)
            body: dict[str, Any] = {"label": stage.label}
            probability = _probability(stage.metadata)
            if probability is not None and object_type == "deals":
                body["probability"] = probability
            state = str(stage.metadata.get("ticketState") or "").lower()
            if state in ("open", "closed") and object_type == "tickets":
                body["state"] = state
            stages[stage_key] = body
            stage_ids[stage.id] = stage_key
        exported.keys.pipelines[(object_type, pipeline_id)] = key
        declared[key] = {"label": pipeline.label, "stages": stages}
    for pipeline_id in sorted(used - set(by_id)):
        singular = object_type.removesuffix("s")
        exported.notes.append(f"{singular} pipeline {pipeline_id} is not one the portal lists; "
                              f"the {object_type} in it keep its id")
    return declared


def _probability(metadata: Mapping[str, str]) -> float | None:
    try:
        return round(float(metadata["probability"]), 1)
    except (KeyError, ValueError):
        return None


def _labels(client: HubSpotClient, snapshot: PortalSnapshot,
            exported: ExportedSchema) -> dict[str, Any]:
    declared: dict[str, Any] = {}
    taken: set[str] = set()
    for (from_type, to_type), by_type_id in sorted(snapshot.labels.items()):
        linked = snapshot.associations.get((from_type, to_type), {})
        for type_id, label in sorted(by_type_id.items()):
            if label.category != "USER_DEFINED" or not label.label:
                continue
            example = next(((from_id, to_id) for from_id, pairs in sorted(linked.items())
                            for to_id, used in pairs if used == type_id), None)
            if example is None:
                continue  # no exported association carries it
            key = unique_key(label.label, taken, underscore=True)
            exported.keys.labels[(from_type, to_type, type_id)] = key
            body: dict[str, Any] = {"between": f"{from_type}/{to_type}", "label": label.label}
            inverse = _inverse_label(client, from_type, to_type, example, label.label)
            if inverse is not None:
                body["inverse"] = inverse
            declared[key] = body
    return declared


def _inverse_label(client: HubSpotClient, from_type: str, to_type: str,
                   example: tuple[str, str], text: str) -> str | None:
    """The label the same association carries seen from ``to_type`` (HubSpot stores both
    directions, each with its own type id), when it differs from ``text``."""
    from_id, to_id = example
    try:
        back = client.read_associations(to_type, from_type, [to_id]).get(to_id, ())
    except ApiError:
        return None
    plain = default_type_id(to_type, from_type)
    candidates = {type_id for other, type_id in back if other == from_id and type_id != plain}
    labels = read_labels(client, to_type, from_type)
    texts = sorted({str(labels[t].label) for t in candidates
                    if t in labels and labels[t].category == "USER_DEFINED" and labels[t].label})
    if text in texts or len(texts) != 1:
        return None  # the same label both ways (or no one answer): no inverse to declare
    return texts[0]
