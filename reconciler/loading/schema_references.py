"""Records that name schema by key: ``pipeline: emea``, ``stage: discovery``,
``label: champion``. The keys stay as written in the records (each target resolves them to
its own ids when it plans: ``reconciler.planning.schema_resolution``); here the loader
checks that they can mean something: a stage of the record's declared pipeline, a label
declared for the record's pair of types.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from reconciler.loading.issues import PathPart, PendingIssue, did_you_mean
from reconciler.loading.records import FRIENDLY_FIELDS
from reconciler.model import SECTION_OBJECT_TYPES, DesiredRecord, DesiredSchema

#: object type → (its pipeline property, its stage property)
PIPELINE_PROPERTIES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "deals": ("pipeline", "dealstage"),
    "tickets": ("hs_pipeline", "hs_pipeline_stage"),
})


def reference_issues(
    schema: DesiredSchema, records: Mapping[str, DesiredRecord]
) -> list[PendingIssue]:
    """A stage key that is not a stage of the record's declared pipeline; a declared label
    used between types it is not declared for."""
    if not schema.pipelines and not schema.labels:
        return []
    issues: list[PendingIssue] = []
    for record in records.values():
        fields = PIPELINE_PROPERTIES.get(record.object_type)
        if fields is not None and schema.pipelines:
            pipeline = schema.pipelines.get(
                f"{record.object_type}/{record.properties.get(fields[0])}"
            )
            stage = record.properties.get(fields[1])
            if pipeline is not None and stage and pipeline.stage(stage) is None:
                keys = [s.key for s in pipeline.stages]
                hint = did_you_mean(stage, keys) or f"; use one of: {', '.join(keys)}"
                issues.append(PendingIssue(
                    record.source.file, _field_path(record, fields[1]),
                    f"{stage!r} is not a stage of pipeline {pipeline.key}{hint}",
                ))
        for index, ref in enumerate(record.associations):
            label = schema.labels.get(ref.label or "") if ref.type_id is None else None
            if label is None:
                continue
            pair = (record.object_type, ref.to_type)
            if pair not in ((label.from_type, label.to_type), (label.to_type, label.from_type)):
                where: tuple[PathPart, ...] = (
                    *_record_path(record), "associations", index, "label"
                )
                issues.append(PendingIssue(record.source.file, where, (
                    f"label {label.key} is declared between {label.from_type} and "
                    f"{label.to_type}, not {pair[0]} and {pair[1]}"
                )))
    return issues


def _record_path(record: DesiredRecord) -> tuple[str, ...]:
    if record.object_type in SECTION_OBJECT_TYPES:
        return (record.object_type, record.key)
    return ("objects", record.object_type, record.key)


def _field_path(record: DesiredRecord, prop: str) -> tuple[PathPart, ...]:
    """Where the record most likely set ``prop``: its friendly field, else properties:."""
    for field, (name, _kind) in FRIENDLY_FIELDS.get(record.object_type, {}).items():
        if name == prop:
            return (*_record_path(record), field)
    return (*_record_path(record), "properties", prop)
