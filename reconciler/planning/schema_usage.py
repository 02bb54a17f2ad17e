"""The counts the schema planner needs before a guarded change (records holding a property
about to be archived or retyped, an option about to be removed, a stage or pipeline about
to be archived), asked by ``reconciler.workflow.schema_reads`` as one search each. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.loading.schema_references import PIPELINE_PROPERTIES
from reconciler.model import DesiredSchema
from reconciler.planning.schema_remote import RemoteSchema
from reconciler.state.schema_ids import SchemaIds


@dataclass(frozen=True, slots=True)
class UsageQuestion:
    """A count the reads must make before a guarded change: how many ``object_type``
    records match ``filter`` (one search, ``limit: 1``, its ``total``)."""

    key: str
    object_type: str
    filter: Mapping[str, str]



def usage_questions(
    schema: DesiredSchema, remote: RemoteSchema, known: SchemaIds
) -> list[UsageQuestion]:
    """The counts ``plan_schema`` needs: records holding a property about to be archived or
    retyped, an option about to be removed, a stage or pipeline about to be archived."""
    questions: list[UsageQuestion] = []
    for prop in schema.properties.values():
        existing = remote.properties.get(prop.object_type, {}).get(prop.name)
        if existing is not None and existing.type != prop.type:
            questions.append(_holds(prop.object_type, prop.name))
    for removal in schema.removed:
        parts = removal.path.split("/")
        if removal.kind in ("property", "option"):  # (what the portal lacks holds nothing)
            existing = remote.properties.get(parts[0], {}).get(parts[1])
            values = {o.value for o in existing.options} if existing else set()
            if existing is None or existing.builtin or (
                    removal.kind == "option" and parts[2] not in values):
                continue
        if removal.kind == "property":
            questions.append(_holds(parts[0], parts[1]))
        elif removal.kind == "option":
            operator = "CONTAINS_TOKEN" if existing and existing.field_type == "checkbox" else "EQ"
            questions.append(UsageQuestion(f"option:{removal.path}", parts[0], {
                "propertyName": parts[1], "operator": operator, "value": parts[2]}))
        elif removal.kind in ("pipeline", "stage"):
            mapped = known.pipelines.get(f"{parts[0]}/{parts[1]}")
            stage = mapped.stages.get(parts[2]) if mapped and removal.kind == "stage" else None
            target = stage.id if stage else (mapped.id if mapped and len(parts) == 2 else None)
            if target is not None:
                name = PIPELINE_PROPERTIES[parts[0]][0 if removal.kind == "pipeline" else 1]
                questions.append(UsageQuestion(f"{removal.kind}:{parts[0]}/{target}", parts[0], {
                    "propertyName": name, "operator": "EQ", "value": target}))
    return questions


def _holds(object_type: str, name: str) -> UsageQuestion:
    return UsageQuestion(f"property:{object_type}/{name}", object_type,
                         {"propertyName": name, "operator": "HAS_PROPERTY"})
