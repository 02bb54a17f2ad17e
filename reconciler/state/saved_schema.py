"""Whether a saved plan's schema changes follow from the spec (``apply --plan``): each one
names a property, group, pipeline, stage or label the ``schema:`` section declares (or an
item ``schema.removed`` names, for an archive or an option's removal), and its body says what
the spec says where the spec says it (name, label, type, field type, the label's pair).

A plan file edited by hand could otherwise archive another team's property or make a group
the spec never named, with a digest recomputed: the digest says the file is whole, not that
it is the spec's. ``schema_document.schema_problems`` checks the ids against the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model import DesiredSchema
from reconciler.planning.schema_changes import SchemaChange

_TOOL_PREFIX = "reconciler_"


def unfollowed_schema_changes(
    changes: tuple[SchemaChange, ...], schema: DesiredSchema
) -> list[str]:
    """One line per schema change the spec does not ask for (empty: all follow from it)."""
    removed = {(r.kind, r.path) for r in schema.removed}
    option_owners = {r.path.rpartition("/")[0] for r in schema.removed if r.kind == "option"}
    problems: list[str] = []
    for change in changes:
        what = f"the {change.action} of {change.kind} {change.address}"
        if change.action == "keep":
            continue
        if change.kind == "marker":
            if change.action != "create" or not change.key.startswith(_TOOL_PREFIX):
                problems.append(f"{what} is not the tool's own marker property")
            continue
        if change.action == "archive":
            if (change.kind, change.address) not in removed:
                problems.append(f"{what}, which schema.removed does not name")
            continue
        declared = _declared(change, schema)
        if declared is None:
            if (change.kind == "property" and change.action == "update"
                    and change.address in option_owners and set(change.body) <= {"options"}):
                continue  # an option schema.removed names, dropped from the list
            problems.append(f"{what}, which the spec does not declare")
            continue
        wrong = sorted(k for k, v in declared.items()
                       if k in change.body and str(change.body[k]) != str(v))
        if wrong:
            problems.append(f"{what} sends {', '.join(wrong)} other than the spec declares")
    return problems


def _declared(change: SchemaChange, schema: DesiredSchema) -> Mapping[str, Any] | None:
    """What the spec says of the item a change names, as body fields; None: not declared."""
    if change.kind == "property":
        prop = schema.properties.get(change.address)
        if prop is None:
            return None
        return {"name": prop.name, "label": prop.label, "type": prop.type,
                "fieldType": prop.field_type, **({"groupName": prop.group} if prop.group else {})}
    if change.kind == "group":
        group = schema.groups.get(change.address)
        return None if group is None else {"name": group.name, "label": group.label}
    if change.kind == "pipeline":
        pipeline = schema.pipelines.get(change.address)
        return None if pipeline is None else {"label": pipeline.label}
    if change.kind == "stage":
        head, _, stage_key = change.address.rpartition("/")
        owner = schema.pipelines.get(head)
        stage = owner.stage(stage_key) if owner is not None else None
        return None if stage is None else {"label": stage.label}
    label = schema.labels.get(change.key)
    if label is None or (change.object_type, change.to_type) != (label.from_type, label.to_type):
        return None
    fields: dict[str, Any] = {"label": label.label}
    if change.action == "create":
        fields["name"] = label.name
    if label.inverse:
        fields["inverseLabel"] = label.inverse
    return fields


__all__ = ["unfollowed_schema_changes"]
