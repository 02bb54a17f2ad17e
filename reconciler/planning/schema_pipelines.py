"""Pipelines, stages and association labels in the schema plan: each declared key mapped to
this target's id, found by the state's id or else by label, or made.

Ids differ from portal to portal (design-20 §1.5: "never assume a form"), so the state of
each target maps the spec's keys to its own ids. Every run checks them: the state's id if
the portal still lists it; else the one item of that label (trimmed, case-insensitive),
adopted; none: created; several: refused (labels are documented unique, so someone
renamed around us). Stages likewise inside their pipeline; undeclared stages are left
alone. Pipelines are never replaced (PUT drops the stages it omits): label and order are
patched, stages patched or added one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import SpecIssue
from reconciler.model import DesiredSchema, PipelineSpec, StageSpec
from reconciler.planning.schema_changes import (
    FieldDiff,
    SchemaChange,
    pipeline_placeholder,
    schema_issue,
    stage_placeholder,
)
from reconciler.planning.schema_remote import RemoteLabel, RemotePipeline, RemoteSchema, RemoteStage
from reconciler.state.model import RecordState
from reconciler.state.schema_ids import SchemaIds

#: HubSpot's default pipelines (design-20 §1.5): never archived.
DEFAULT_PIPELINES = {"deals": "default", "tickets": "0"}


@dataclass(frozen=True, slots=True)
class LabelTarget:
    """A label key in this target: its pair and type ids (None: made by this apply)."""

    key: str
    from_type: str
    to_type: str
    type_id: int | None = None
    inverse_type_id: int | None = None

    def type_id_from(self, from_type: str) -> int | None:
        if from_type == self.from_type:
            return self.type_id
        return self.inverse_type_id


@dataclass(slots=True)
class Planned:
    changes: list[SchemaChange] = field(default_factory=list)
    removals: list[SchemaChange] = field(default_factory=list)
    issues: list[SpecIssue] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # pipeline address → id
    stage_ids: dict[str, str] = field(default_factory=dict)  # "<pipeline>/<stage>" → id
    targets: dict[str, LabelTarget] = field(default_factory=dict)


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def _metadata(object_type: str, stage: StageSpec) -> dict[str, str]:
    if object_type == "deals":
        return {"probability": stage.probability or "0.0"}
    return {"ticketState": stage.state or "OPEN"}


def _stage_body(object_type: str, stage: StageSpec) -> dict[str, Any]:
    return {"label": stage.label, "displayOrder": stage.order,
            "metadata": _metadata(object_type, stage)}


# -- pipelines ----------------------------------------------------------------------------


def pipeline_changes(
    schema: DesiredSchema, remote: RemoteSchema | None, known: SchemaIds, *, protected: bool
) -> Planned:
    planned = Planned()
    for address, spec in schema.pipelines.items():
        _pipeline(planned, address, spec, remote, known)
    for removal in schema.removed:
        if removal.kind in ("pipeline", "stage") and remote is not None:
            _remove(planned, removal.kind, removal.path, removal.source, remote, known,
                    protected)
    return planned


def _pipeline(planned: Planned, address: str, spec: PipelineSpec, remote: RemoteSchema | None,
              known: SchemaIds) -> None:
    object_type = spec.object_type
    where = f"schema.pipelines.{object_type}.{spec.key}"
    mapped = known.pipelines.get(address)
    listed = remote.pipelines.get(object_type) if remote is not None else None
    if listed is None:  # offline: the state's ids, or made
        if mapped is None:
            _create(planned, address, spec, 0)
            return
        planned.ids[address] = mapped.id
        for stage in spec.stages:
            known_stage = mapped.stages.get(stage.key)
            if known_stage is not None:
                planned.stage_ids[f"{address}/{stage.key}"] = known_stage.id
            else:
                _create_stage(planned, address, spec, stage, mapped.id)
        return
    found = next((p for p in listed if mapped is not None and p.id == mapped.id), None)
    if found is not None and mapped is not None and not _provably_mapped(found, mapped,
                                                                         spec.label):
        planned.issues.append(_not_provable(spec.source, where, address, found))
        return
    adopting = None
    if found is None:
        same = [p for p in listed if _same(p.label, spec.label)]
        if len(same) > 1:
            planned.issues.append(schema_issue(spec.source, where, (
                f"the portal has {len(same)} {object_type} pipelines labelled {spec.label!r} "
                f"(ids {', '.join(p.id for p in same)}); rename all but one in HubSpot")))
            return
        if not same:
            _create(planned, address, spec, len(listed))
            return
        found = same[0]
        adopting = "the state's pipeline is gone; one of its label exists" if mapped else (
            f"{found.label!r} exists (id {found.id})")
    planned.ids[address] = found.id
    diffs = []
    if found.label != spec.label:
        diffs.append(FieldDiff("label", found.label, spec.label))
    if spec.order is not None and found.order is not None and found.order != spec.order:
        diffs.append(FieldDiff("order", str(found.order), str(spec.order)))
    if diffs:
        body: dict[str, Any] = {"label": spec.label}
        if spec.order is not None:
            body["displayOrder"] = spec.order
        planned.changes.append(SchemaChange(
            "update", "pipeline", object_type, spec.key, "differs in the portal", id=found.id,
            diffs=tuple(diffs), body=body, source=spec.source))
    stage_map = _stages(planned, address, spec, found,
                        mapped.stages if mapped is not None and mapped.id == found.id else {})
    if adopting is None and mapped is not None and {
        k: s.id for k, s in mapped.stages.items() if k in stage_map
    } != {k: v[0] for k, v in stage_map.items()}:
        adopting = "stages found again by label"
    if adopting is not None or mapped is None:
        planned.changes.append(SchemaChange(
            "adopt", "pipeline", object_type, spec.key, adopting or "exists", id=found.id,
            body={"label": spec.label, "stages": stage_map}, source=spec.source))


def _provably_mapped(found: RemotePipeline, mapped: Any, label: str | None) -> bool:
    """Whether the portal's pipeline of the state's id is the one the state made or adopted:
    it has the state's label (or the spec's), or, renamed in HubSpot since, still every
    stage the state holds, by id and label (a rename keeps them). Another team's pipeline,
    reached by a state edited by hand or copied from another portal, has neither: it is
    never acted on. (A state edited consistently, ids and labels, is the user's own.)"""
    if _same(found.label, mapped.label) or (label is not None and _same(found.label, label)):
        return True
    labels = {s.id: s.label for s in found.stages}
    return bool(mapped.stages) and all(
        s.id in labels and _same(labels[s.id], s.label) for s in mapped.stages.values())


def _not_provable(source: Any, where: str, address: str, found: RemotePipeline) -> SpecIssue:
    return schema_issue(source, where, (
        f"the state maps {address} to pipeline {found.id}, which the portal calls "
        f"{found.label!r}, without the state's stages: it is not provably this spec's, "
        "so nothing is done to it; if the state was edited or copied from another portal, "
        "restore its backup or remove its schema ids (the plan then finds the pipeline by "
        "label)"))


def _stages(planned: Planned, address: str, spec: PipelineSpec, found: RemotePipeline,
            known: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each declared stage found (by the state's id, else by label), updated or made; the
    [id, label] found, by key."""
    by_id = {s.id: s for s in found.stages}
    taken: set[str] = set()
    mapping: dict[str, list[str]] = {}
    for stage in spec.stages:
        known_stage = known.get(stage.key)
        current: RemoteStage | None = by_id.get(known_stage.id) if known_stage else None
        if current is None:
            current = next((s for s in found.stages
                            if _same(s.label, stage.label) and s.id not in taken), None)
        if current is None:
            _create_stage(planned, address, spec, stage, found.id)
            continue
        taken.add(current.id)
        mapping[stage.key] = [current.id, stage.label]
        planned.stage_ids[f"{address}/{stage.key}"] = current.id
        diffs = []
        if current.label != stage.label:
            diffs.append(FieldDiff("label", current.label, stage.label))
        if stage.explicit_order and current.order is not None and current.order != stage.order:
            diffs.append(FieldDiff("order", str(current.order), str(stage.order)))
        if stage.probability is not None and current.probability != stage.probability:
            diffs.append(FieldDiff("probability", current.probability, stage.probability))
        if stage.state is not None and current.state != stage.state:
            diffs.append(FieldDiff("state", current.state, stage.state))
        if diffs:
            body = _stage_body(spec.object_type, stage)
            if not stage.explicit_order and current.order is not None:
                body["displayOrder"] = current.order
            if stage.state is None and current.state is not None and spec.object_type != "deals":
                body["metadata"] = {"ticketState": current.state}
            planned.changes.append(SchemaChange(
                "update", "stage", spec.object_type, f"{spec.key}/{stage.key}",
                "differs in the portal", id=current.id, parent_id=found.id,
                diffs=tuple(diffs), body=body, source=stage.source))
    return mapping


def _create(planned: Planned, address: str, spec: PipelineSpec, count: int) -> None:
    planned.ids[address] = pipeline_placeholder(address)
    for stage in spec.stages:
        planned.stage_ids[f"{address}/{stage.key}"] = stage_placeholder(address, stage.key)
    planned.changes.append(SchemaChange(
        "create", "pipeline", spec.object_type, spec.key, "new in the spec",
        body={"label": spec.label,
              "displayOrder": spec.order if spec.order is not None else count,
              "stages": [_stage_body(spec.object_type, s) for s in spec.stages],
              "stage_keys": [s.key for s in spec.stages]},
        source=spec.source))


def _create_stage(planned: Planned, address: str, spec: PipelineSpec, stage: StageSpec,
                  pipeline_id: str) -> None:
    planned.stage_ids[f"{address}/{stage.key}"] = stage_placeholder(address, stage.key)
    planned.changes.append(SchemaChange(
        "create", "stage", spec.object_type, f"{spec.key}/{stage.key}", "new in the spec",
        parent_id=pipeline_id, body=_stage_body(spec.object_type, stage), source=stage.source))


def _remove(planned: Planned, kind: str, path: str, source: Any, remote: RemoteSchema,
            known: SchemaIds, protected: bool) -> None:
    parts = path.split("/")
    object_type = parts[0]
    mapped = known.pipelines.get(f"{object_type}/{parts[1]}")
    listed = {p.id: p for p in remote.pipelines.get(object_type, ())}
    if mapped is None or mapped.id not in listed:
        return  # this target never made it (or it is gone): nothing to delete
    pipeline = listed[mapped.id]
    if not _provably_mapped(pipeline, mapped, None):
        planned.issues.append(_not_provable(source, "schema.removed",
                                            f"{object_type}/{parts[1]}", pipeline))
        return
    target_id = mapped.id
    key = parts[1]
    if kind == "stage":
        stage = mapped.stages.get(parts[2])
        if stage is None or all(s.id != stage.id for s in pipeline.stages):
            return
        target_id, key = stage.id, f"{parts[1]}/{parts[2]}"
    if mapped.id == DEFAULT_PIPELINES.get(object_type):  # (its stages are HubSpot's too)
        what = "a stage of " if kind == "stage" else ""
        planned.issues.append(schema_issue(source, "schema.removed", (
            f"{path} is {what}HubSpot's default {object_type} pipeline; it is never removed")))
        return
    if protected:
        planned.removals.append(SchemaChange(
            "keep", kind, object_type, key,  # type: ignore[arg-type]
            "kept: the target is protected, it never deletes schema", id=target_id,
            source=source))
        return
    using = remote.usage.get(f"{kind}:{object_type}/{target_id}")
    if using != 0:
        count = "records" if using is None else f"{using} record(s)"
        planned.issues.append(schema_issue(source, "schema.removed", (
            f"{kind} {path} still holds {count}; move them to another {kind} first")))
        return
    planned.removals.append(SchemaChange(
        "archive", kind, object_type, key, "listed in schema.removed",  # type: ignore[arg-type]
        id=target_id, parent_id=mapped.id if kind == "stage" else None, source=source))


# -- labels -------------------------------------------------------------------------------


def _user_defined(labels: tuple[RemoteLabel, ...]) -> list[RemoteLabel]:
    return [label for label in labels if label.category != "HUBSPOT_DEFINED" and label.label]


def label_changes(
    schema: DesiredSchema, remote: RemoteSchema | None, known: SchemaIds,
    managed: Mapping[str, RecordState], *, protected: bool,
) -> Planned:
    planned = Planned()
    for key, spec in schema.labels.items():
        where = f"schema.labels.{key}"
        mapped = known.labels.get(key)
        pair = (spec.from_type, spec.to_type)
        forward = remote.labels.get(pair) if remote is not None else None
        backward = remote.labels.get((spec.to_type, spec.from_type)) if remote else None
        create = SchemaChange(
            "create", "label", spec.from_type, key, "new in the spec", to_type=spec.to_type,
            body={"name": spec.name, "label": spec.label,
                  **({"inverseLabel": spec.inverse} if spec.inverse else {})},
            source=spec.source)
        placeholder = LabelTarget(key, spec.from_type, spec.to_type)
        if forward is None:
            if mapped is not None and (mapped.from_type, mapped.to_type) == pair:
                planned.targets[key] = LabelTarget(key, *pair, mapped.type_id,
                                                   mapped.inverse_type_id)
            else:
                planned.targets[key] = placeholder
                planned.changes.append(create)
            continue
        candidates = _user_defined(forward)
        found = next((x for x in candidates if mapped is not None
                      and (mapped.from_type, mapped.to_type) == pair
                      and x.type_id == mapped.type_id), None)
        reason = None
        if found is not None and mapped is not None and not _label_provably_mapped(
                found, mapped, spec.label, spec.inverse, backward or ()):
            planned.issues.append(_label_not_provable(spec.source, where, key, found))
            continue
        if found is None:
            same = [x for x in candidates if _same(x.label, spec.label)]
            if len(same) > 1:
                planned.issues.append(schema_issue(spec.source, where, (
                    f"the portal has {len(same)} {spec.from_type}→{spec.to_type} labels "
                    f"{spec.label!r} (type ids {', '.join(str(x.type_id) for x in same)})")))
                continue
            if not same:
                planned.targets[key] = placeholder
                planned.changes.append(create)
                continue
            found = same[0]
            reason = f"{found.label!r} exists (type id {found.type_id})"
        inverse = _inverse(spec.inverse or spec.label, found, backward or (), mapped)
        target = LabelTarget(key, *pair, found.type_id,
                             inverse.type_id if inverse is not None else None)
        planned.targets[key] = target
        diffs = []
        if found.label != spec.label:
            diffs.append(FieldDiff("label", found.label, spec.label))
        if spec.inverse and inverse is not None and inverse.label != spec.inverse:
            diffs.append(FieldDiff("inverse", inverse.label, spec.inverse))
        if diffs:
            planned.changes.append(SchemaChange(
                "update", "label", spec.from_type, key, "differs in the portal",
                id=str(found.type_id), to_type=spec.to_type, diffs=tuple(diffs),
                body={"associationTypeId": found.type_id, "label": spec.label,
                      **({"inverseLabel": spec.inverse} if spec.inverse else {})},
                source=spec.source))
        if mapped is None or mapped.type_id != target.type_id or (
                mapped.inverse_type_id != target.inverse_type_id):
            planned.changes.append(SchemaChange(
                "adopt", "label", spec.from_type, key,
                reason or "the state's label is gone; one of its text exists",
                id=str(found.type_id),
                to_type=spec.to_type,
                body={"type_id": target.type_id, "inverse_type_id": target.inverse_type_id,
                      "label": spec.label, "inverse": spec.inverse},
                source=spec.source))
    for removal in schema.removed:
        if removal.kind == "label" and remote is not None:
            _remove_label(planned, removal.path, removal.source, remote, known, managed,
                          protected)
    return planned


def _label_provably_mapped(found: RemoteLabel, mapped: Any, label: str | None,
                           inverse: str | None, backward: tuple[RemoteLabel, ...]) -> bool:
    """As ``_provably_mapped``: the state's label (or the spec's) on the label of the state's
    type id, or, renamed in HubSpot since, on the inverse of the state's inverse type id."""
    if _same(found.label, mapped.label) or (label is not None and _same(found.label, label)):
        return True
    back = next((x for x in backward if x.type_id == mapped.inverse_type_id), None)
    return back is not None and back.type_id != found.type_id and any(
        text is not None and _same(back.label, text) for text in (mapped.inverse, inverse))


def _label_not_provable(source: Any, where: str, key: str, found: RemoteLabel) -> SpecIssue:
    return schema_issue(source, where, (
        f"the state maps label {key} to type id {found.type_id}, which the portal calls "
        f"{found.label!r}: it is not provably this spec's, so nothing is done to it; if the "
        "state was edited or copied from another portal, restore its backup or remove its "
        "schema ids (the plan then finds the label by its text)"))


def _inverse(text: str, found: RemoteLabel, backward: tuple[RemoteLabel, ...],
             mapped: Any) -> RemoteLabel | None:
    candidates = _user_defined(backward)
    if mapped is not None and mapped.inverse_type_id is not None:
        by_id = next((x for x in candidates if x.type_id == mapped.inverse_type_id), None)
        if by_id is not None:
            return by_id
    same = [x for x in candidates if _same(x.label, text) and x.type_id != found.type_id]
    if not same:  # a pair of one type: its inverse may be the same type
        same = [x for x in candidates if _same(x.label, text)]
    return same[0] if same else None


def _remove_label(planned: Planned, key: str, source: Any, remote: RemoteSchema,
                  known: SchemaIds, managed: Mapping[str, RecordState], protected: bool) -> None:
    mapped = known.labels.get(key)
    if mapped is None:
        return
    listed = remote.labels.get((mapped.from_type, mapped.to_type))
    if listed is None or all(x.type_id != mapped.type_id for x in _user_defined(listed)):
        return
    found = next(x for x in _user_defined(listed) if x.type_id == mapped.type_id)
    backward = remote.labels.get((mapped.to_type, mapped.from_type)) or ()
    if not _label_provably_mapped(found, mapped, None, None, backward):
        planned.issues.append(_label_not_provable(source, "schema.removed", key, found))
        return
    if protected:
        planned.removals.append(SchemaChange(
            "keep", "label", mapped.from_type, key, "kept: the target is protected, it never "
            "deletes schema", id=str(mapped.type_id), to_type=mapped.to_type, source=source))
        return
    ids = {mapped.type_id, mapped.inverse_type_id}
    users = sorted(address for address, record in managed.items()
                   if any(a.type_id in ids and a.category != "HUBSPOT_DEFINED"
                          for a in record.associations))
    if users:
        planned.issues.append(schema_issue(source, "schema.removed", (
            f"label {key} is still used by {', '.join(users[:3])}"
            f"{' ...' if len(users) > 3 else ''}; remove those associations first")))
        return
    planned.removals.append(SchemaChange(
        "archive", "label", mapped.from_type, key, "listed in schema.removed",
        id=str(mapped.type_id), to_type=mapped.to_type, source=source))
