"""Records that name schema by key, in one target: ``pipeline: emea`` becomes this target's
pipeline id, ``stage: discovery`` its stage id, ``label: champion`` its association type id
(from the record's side of the pair). What the target does not have yet is a placeholder
(``<stage deals/emea/discovery>``, ``<label champion>``) that apply fills once the schema
phase has made it (``fill_placeholders``), before any record is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType

from reconciler.loading.schema_references import PIPELINE_PROPERTIES
from reconciler.model import AssociationRef, DesiredRecord, DesiredState
from reconciler.planning.changes import Change, PropertyDiff
from reconciler.planning.schema_changes import label_placeholder, placeholder_of
from reconciler.planning.schema_planner import SchemaPlan
from reconciler.state.schema_ids import SchemaIds

USER_DEFINED = "USER_DEFINED"


def resolve_records(desired: DesiredState, plan: SchemaPlan) -> DesiredState:
    """``desired`` with every declared key a record names replaced by this target's id
    (or a placeholder); the same ``desired`` when the spec declares no pipeline or label."""
    schema = desired.schema
    if not schema.pipelines and not schema.labels:
        return desired
    records: dict[str, DesiredRecord] = {}
    changed = False
    for address, record in desired.records.items():
        resolved = _resolved(record, desired, plan)
        changed = changed or resolved is not record
        records[address] = resolved
    return replace(desired, records=MappingProxyType(records)) if changed else desired


def _resolved(record: DesiredRecord, desired: DesiredState, plan: SchemaPlan) -> DesiredRecord:
    schema = desired.schema
    properties: dict[str, str] | None = None
    fields = PIPELINE_PROPERTIES.get(record.object_type)
    if fields is not None and schema.pipelines:
        address = f"{record.object_type}/{record.properties.get(fields[0])}"
        if address in plan.pipelines:
            properties = dict(record.properties)
            properties[fields[0]] = plan.pipelines[address]
            stage = f"{address}/{properties.get(fields[1])}"
            if stage in plan.stages:
                properties[fields[1]] = plan.stages[stage]
    associations = record.associations
    if schema.labels and any(r.type_id is None and r.label in schema.labels
                             for r in associations):
        associations = tuple(_association(record.object_type, ref, plan) for ref in associations)
    if properties is None and associations is record.associations:
        return record
    return replace(
        record,
        properties=MappingProxyType(properties) if properties is not None else record.properties,
        associations=associations,
    )


def _association(from_type: str, ref: AssociationRef, plan: SchemaPlan) -> AssociationRef:
    if ref.type_id is not None or ref.label is None or ref.label not in plan.labels:
        return ref
    target = plan.labels[ref.label]
    type_id = target.type_id_from(from_type)
    label = None if type_id is not None else label_placeholder(ref.label)
    return replace(ref, category=USER_DEFINED, type_id=type_id, label=label)


def fill_placeholders(
    changes: Iterable[Change], ids: SchemaIds
) -> tuple[list[Change], dict[str, str]]:
    """The changes with every placeholder replaced by the id the state now has; and the
    addresses whose placeholders have no id yet (their schema was not made), with why."""
    filled: list[Change] = []
    missing: dict[str, str] = {}
    for change in changes:
        if not _has_placeholder(change):
            filled.append(change)
            continue
        filler = _Filler(ids, change.object_type)
        filled.append(replace(
            change,
            after={k: filler.value(v) or "" for k, v in change.after.items()},
            diffs=tuple(PropertyDiff(d.name, d.before, filler.value(d.after))
                        for d in change.diffs),
            associations=tuple(filler.ref(r) for r in change.associations),
            add_associations=tuple(filler.ref(r) for r in change.add_associations),
        ))
        if filler.problems:
            missing[change.address] = "; ".join(dict.fromkeys(filler.problems))
    return filled, missing


class _Filler:
    """Fills the placeholders of one record's change; ``problems``: those it could not."""

    def __init__(self, ids: SchemaIds, from_type: str) -> None:
        self.ids, self.from_type = ids, from_type
        self.problems: list[str] = []

    def value(self, text: str | None) -> str | None:
        found = placeholder_of(text)
        if found is None:
            return text
        id_ = _id_of(found[0], found[1], self.ids)
        if id_ is None:
            self.problems.append(f"{found[0]} {found[1]} was not made")
            return text
        return id_

    def ref(self, item: AssociationRef) -> AssociationRef:
        found = placeholder_of(item.label)
        if found is None:
            return item
        label = self.ids.labels.get(found[1])
        type_id = label.type_id_from(self.from_type) if label else None
        if type_id is None:
            self.problems.append(f"label {found[1]} was not made")
            return item
        return replace(item, type_id=type_id, label=None)


def _has_placeholder(change: Change) -> bool:
    return any(v[:1] == "<" and placeholder_of(v) for v in change.after.values()) or any(
        placeholder_of(d.after) for d in change.diffs
    ) or any(placeholder_of(r.label) for r in (*change.associations, *change.add_associations))


def _id_of(kind: str, address: str, ids: SchemaIds) -> str | None:
    if kind == "pipeline":
        pipeline = ids.pipelines.get(address)
        return pipeline.id if pipeline else None
    head, _, stage_key = address.rpartition("/")
    pipeline = ids.pipelines.get(head)
    stage = pipeline.stages.get(stage_key) if pipeline else None
    return stage.id if stage else None


def placeholders_in(changes: Iterable[Change]) -> Mapping[str, list[str]]:
    """Every placeholder the record changes carry, by address (``apply --plan`` checks
    that each names something the plan's schema changes make, or the state maps)."""
    found: dict[str, list[str]] = {}
    for change in changes:
        texts = [*change.after.values(), *(d.after for d in change.diffs if d.after),
                 *(r.label for r in (*change.associations, *change.add_associations) if r.label)]
        named = [t for t in texts if placeholder_of(t)]
        if named:
            found[change.address] = sorted(set(named))
    return found
