"""What a plan reads of the portal's schema before the (pure) schema planner runs, and the
schema step of making a plan: read → plan the schema → records resolved to this target's
ids (``reconciler.planning.schema_step``, which does no I/O).

Reads (each one request): the property definitions of every type the records or the
schema name (shared with the catalogue's checks, which do not read them again); the
property groups of each type the schema declares properties or groups for; the pipelines
of each type the schema declares pipelines for; the labels of each declared pair, both
directions; and one search (``limit: 1``, its ``total``) per guarded change: records
holding a property about to be archived or retyped, an option, stage or pipeline about to
be removed (design-20 §3.5). Nothing is read for a spec without ``schema:`` beyond the
property definitions the catalogue reads anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import ApiError, SpecError, SpecIssue
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.failures import UNKNOWN_TYPE_STATUSES
from reconciler.hubspot.schema_wire import SchemaWire
from reconciler.model import DesiredState
from reconciler.planning.schema_changes import schema_issue
from reconciler.planning.schema_remote import (
    RemoteLabel,
    RemoteSchema,
    pipeline_from_body,
    property_from_body,
)
from reconciler.planning.schema_step import SchemaStep, plan_schema_step
from reconciler.planning.schema_usage import usage_questions
from reconciler.state.model import State


def schema_step(
    client: HubSpotClient | None, desired: DesiredState, state: State, *,
    protected: bool, allow_data_loss: bool,
) -> SchemaStep:
    """Read (unless ``client`` is None), plan the schema, resolve the records' keys."""
    if client is None:
        return plan_schema_step(desired, state, None, protected=protected,
                                allow_data_loss=allow_data_loss)
    remote, bodies = read_portal_schema(client, desired, state)
    return plan_schema_step(desired, state, remote, bodies, protected=protected,
                            allow_data_loss=allow_data_loss)


def read_portal_schema(
    client: HubSpotClient, desired: DesiredState, state: State
) -> tuple[RemoteSchema, dict[str, Sequence[Mapping[str, Any]]]]:
    schema = desired.schema
    remote = RemoteSchema()
    wire = SchemaWire(client)
    removed = {kind: [r.path.split("/") for r in schema.removed if r.kind == kind]
               for kind in ("property", "option", "group", "pipeline", "stage", "label")}
    grouped = ({p.object_type for p in schema.properties.values()}
               | {g.object_type for g in schema.groups.values()}
               | {parts[0] for parts in removed["group"]})
    types = ({r.object_type for r in desired.records.values()} | grouped
             | {parts[0] for parts in (*removed["property"], *removed["option"])})
    bodies: dict[str, Sequence[Mapping[str, Any]]] = {}
    unknown: dict[str, str] = {}  # a type HubSpot does not know here → what it said
    for object_type in sorted(types):
        try:
            bodies[object_type] = client.property_bodies(object_type)
        except ApiError as error:
            if error.status not in UNKNOWN_TYPE_STATUSES:
                raise
            unknown[object_type] = error.api_message
            continue
        remote.properties[object_type] = {
            str(b.get("name")): property_from_body(b) for b in bodies[object_type]
        }
    for object_type in sorted(grouped & set(bodies)):
        groups = wire.property_groups(object_type)
        remote.groups[object_type] = {str(g.get("name")): str(g.get("label") or "")
                                      for g in groups}
        remote.group_orders[object_type] = {
            str(g.get("name")): g.get("displayOrder") if type(g.get("displayOrder")) is int
            else None for g in groups
        }
    piped = ({p.object_type for p in schema.pipelines.values()}
             | {parts[0] for parts in (*removed["pipeline"], *removed["stage"])})
    for object_type in sorted(piped):
        remote.pipelines[object_type] = tuple(
            pipeline_from_body(b) for b in wire.pipeline_bodies(object_type)
        )
    pairs = {(label.from_type, label.to_type) for label in schema.labels.values()}
    pairs |= {(known.from_type, known.to_type) for key, known in state.schema.labels.items()
              if [key] in removed["label"]}
    refused: list[SpecIssue] = [
        schema_issue(item.source, f"schema.{kind}.{item.object_type}.{item.name}", (
            f"HubSpot does not know the object type {item.object_type} in this portal "
            f"({unknown[item.object_type]}); check the type's name"))
        for kind, items in (("groups", schema.groups), ("properties", schema.properties))
        for item in items.values() if item.object_type in unknown
    ]
    for from_type, to_type in sorted(pairs | {(b, a) for a, b in pairs}):
        try:
            listed = client.association_labels(from_type, to_type)
        except ApiError as error:
            if error.status not in UNKNOWN_TYPE_STATUSES:
                raise
            refused.extend(
                schema_issue(label.source, f"schema.labels.{label.key}", (
                    f"HubSpot has no association labels between {from_type} and {to_type} in "
                    f"this portal ({error.api_message}); check the types in between:"))
                for label in schema.labels.values()
                if (label.from_type, label.to_type) == (from_type, to_type))
            continue
        remote.labels[(from_type, to_type)] = tuple(
            RemoteLabel(x.type_id, x.label, x.category) for x in listed
        )
    if refused:
        raise SpecError(refused)
    for question in usage_questions(schema, remote, state.schema):
        if question.object_type not in remote.properties:
            continue  # an unknown type holds nothing
        page = client.search_page(question.object_type, [{"filters": [dict(question.filter)]}],
                                  [], limit=1)
        remote.usage[question.key] = page.total
    return remote, bodies
