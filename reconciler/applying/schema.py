"""The schema phases of an apply: before any record, the groups, properties, pipelines,
stages and labels the plan makes, changes or adopts (``apply_schema``); after every record,
what ``schema.removed`` deletes (``remove_schema``), so records are moved off a stage or an
option before it goes.

Each change is one request (none for an adopt), and the state learns the ids at once and is
saved: a crash loses nothing HubSpot accepted. A create whose answer was lost (or that
HubSpot answers "exists", 409) is settled by reading back, by name (properties, groups) or
by label (pipelines, labels), never by sending it again blindly. Once the schema is made,
the placeholders records carry for ids this target did not have (``<stage deals/emea/won>``)
are filled from the state; a record whose schema could not be made is skipped, not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.applying.run import ApplyRun
from reconciler.errors import AmbiguousWriteError, ApiError, ReconcilerError
from reconciler.hubspot.records import AssociationLabel
from reconciler.hubspot.schema_wire import SchemaWire
from reconciler.planning.schema_changes import SchemaChange
from reconciler.planning.schema_resolution import fill_placeholders
from reconciler.state.schema_ids import LabelIds, PipelineIds, SchemaIds, StageIds


def apply_schema(run: ApplyRun) -> None:
    """Make the plan's schema (removals wait for ``remove_schema``), then fill the records'
    placeholders; records whose schema is missing are skipped."""
    for change in run.plan.schema_changes:
        if change.runs and not _destructive(change):
            run.check_stop()
            _guarded(run, change, _make)
    filled, missing = fill_placeholders(run.plan.changes, run.state.schema)
    kept = []
    for record_change in filled:
        if record_change.address in missing:
            run.fail(record_change, f"not sent: {missing[record_change.address]}", skipped=True)
        else:
            kept.append(record_change)
    run.plan = replace(run.plan, changes=tuple(kept))


def remove_schema(run: ApplyRun) -> None:
    """What ``schema.removed`` deletes, once the records are written."""
    for change in run.plan.schema_changes:
        if change.runs and _destructive(change):
            run.check_stop()
            _guarded(run, change, _remove)


def _destructive(change: SchemaChange) -> bool:
    return change.action == "archive" or (
        change.action == "update" and change.reason.startswith("an option listed")
    )


def _guarded(run: ApplyRun, change: SchemaChange,
             step: Callable[[ApplyRun, SchemaWire, SchemaChange], str | None]) -> None:
    client = SchemaWire(run.client)
    try:
        done = step(run, client, change)
    except ReconcilerError as error:
        run.fail_schema(change.kind, change.address, change.source, str(error))
        return
    if done is not None:
        run.record_schema(f"{done} {change.kind} {change.address}")


def _record(run: ApplyRun, update: Callable[[SchemaIds], object]) -> None:
    with run.lock:
        update(run.state.schema)
        run.save()


def _make(run: ApplyRun, client: SchemaWire, change: SchemaChange) -> str | None:
    kind, object_type = change.kind, change.object_type
    address = change.address
    body = dict(change.body)
    if change.action == "adopt":
        _adopt(run, change)
        return "adopted"
    if kind == "marker":
        return None  # marker_writes.ensure_markers makes them, with the records' phases
    if kind == "group":
        if change.action == "create":
            _settle_create(lambda: client.create_property_group(object_type, body),
                           lambda: any(g.get("name") == change.key
                                       for g in client.property_groups(object_type)))
            _record(run, lambda ids: ids.groups.__setitem__(address, "created"))
            return "created"
        client.update_property_group(object_type, change.key, body)
        return "updated"
    if kind == "property":
        if change.action == "create":
            _settle_create(lambda: client.create_property_body(object_type, body),
                           lambda: any(p.get("name") == change.key
                                       for p in client.property_bodies(object_type)))
            _record(run, lambda ids: ids.properties.__setitem__(address, "created"))
            return "created"
        client.update_property(object_type, change.key, body)
        return "retyped" if change.action == "retype" else "updated"
    if kind == "pipeline":
        return _pipeline(run, client, change, body)
    if kind == "stage":
        return _stage(run, client, change, body)
    return _label(run, client, change, body)


def _settle_create(send: Callable[[], Any], exists: Callable[[], bool]) -> None:
    """Send a create; a lost answer or a 409 is settled by reading back."""
    try:
        send()
    except AmbiguousWriteError:
        if not exists():
            raise
    except ApiError as error:
        if error.status != 409 or not exists():
            raise


def _adopt(run: ApplyRun, change: SchemaChange) -> None:
    body, address = change.body, change.address
    if change.kind == "pipeline":
        stages = {k: StageIds(str(v[0]), str(v[1])) for k, v in dict(body["stages"]).items()}
        mapped = PipelineIds(str(change.id), str(body["label"]), "adopted", stages)
        _record(run, lambda ids: ids.pipelines.__setitem__(address, mapped))
    elif change.kind == "label":
        label = LabelIds(change.object_type, str(change.to_type), int(body["type_id"]),
                         str(body["label"]), "adopted", body.get("inverse_type_id"),
                         body.get("inverse"))
        _record(run, lambda ids: ids.labels.__setitem__(change.key, label))
    elif change.kind == "property":
        _record(run, lambda ids: ids.properties.__setitem__(address, "adopted"))
    elif change.kind == "group":
        _record(run, lambda ids: ids.groups.__setitem__(address, "adopted"))


def _pipeline(run: ApplyRun, client: SchemaWire, change: SchemaChange,
              body: dict[str, Any]) -> str:
    object_type, address = change.object_type, change.address
    if change.action == "update":
        client.update_pipeline(object_type, str(change.id), body)
        return "updated"
    keys = list(body.pop("stage_keys", []))
    try:
        made: Mapping[str, Any] = client.create_pipeline(object_type, body)
    except AmbiguousWriteError:
        found = _by_label(client.pipeline_bodies(object_type), str(body["label"]))
        if found is None:
            raise
        made = found
    labels = {str(s["label"]).strip().casefold(): key
              for key, s in zip(keys, body["stages"], strict=True)}
    stages = {}
    for stage in made.get("stages") or []:
        key = labels.get(str(stage.get("label") or "").strip().casefold())
        if key is not None:
            stages[key] = StageIds(str(stage["id"]), str(stage.get("label")))
    mapped = PipelineIds(str(made["id"]), str(body["label"]), "created", stages)
    _record(run, lambda ids: ids.pipelines.__setitem__(address, mapped))
    return "created"


def _stage(run: ApplyRun, client: SchemaWire, change: SchemaChange,
           body: dict[str, Any]) -> str:
    object_type = change.object_type
    pipeline_key, _, stage_key = change.key.partition("/")
    pipeline_address = f"{object_type}/{pipeline_key}"
    parent = change.parent_id or _pipeline_id(run, pipeline_address)
    if change.action == "update":
        client.update_stage(object_type, parent, str(change.id), body)
        return "updated"
    try:
        made: Mapping[str, Any] = client.create_stage(object_type, parent, body)
    except AmbiguousWriteError:
        pipeline = next((p for p in client.pipeline_bodies(object_type)
                         if str(p.get("id")) == parent), None)
        found = _by_label(pipeline.get("stages") or [] if pipeline else [], str(body["label"]))
        if found is None:
            raise
        made = found

    def learn(ids: SchemaIds) -> None:
        mapped = ids.pipelines[pipeline_address]
        stages = {**mapped.stages, stage_key: StageIds(str(made["id"]), str(body["label"]))}
        ids.pipelines[pipeline_address] = replace(mapped, stages=stages)

    _record(run, learn)
    return "created"


def _pipeline_id(run: ApplyRun, address: str) -> str:
    mapped = run.state.schema.pipelines.get(address)
    if mapped is None:
        raise ReconcilerError(f"its pipeline {address} was not made")
    return mapped.id


def _by_label(items: Sequence[Mapping[str, Any]], label: str) -> Mapping[str, Any] | None:
    wanted = label.strip().casefold()
    return next((i for i in items if str(i.get("label") or "").strip().casefold() == wanted),
                None)


def _label(run: ApplyRun, client: SchemaWire, change: SchemaChange,
           body: dict[str, Any]) -> str:
    from_type, to_type = change.object_type, str(change.to_type)
    if change.action == "update":
        client.update_label(from_type, to_type, body)
        return "updated"
    try:
        client.create_label(from_type, to_type, body)
    except (AmbiguousWriteError, ApiError) as error:
        if isinstance(error, ApiError) and error.status != 409:
            raise
    # The answer lists both directions without saying which is which: read them back.
    forward = _user_label(client.association_labels(from_type, to_type), str(body["label"]))
    inverse_text = str(body.get("inverseLabel") or body["label"])
    backward = [x for x in client.association_labels(to_type, from_type)
                if x.category != "HUBSPOT_DEFINED" and x.label
                and x.label.strip().casefold() == inverse_text.strip().casefold()]
    if forward is None:
        raise ReconcilerError(f"HubSpot does not list the label {body['label']!r} it was sent")
    inverse = next((x for x in backward if x.type_id != forward.type_id), None) or next(
        iter(backward), None)
    label = LabelIds(from_type, to_type, forward.type_id, str(body["label"]), "created",
                     inverse.type_id if inverse else None, body.get("inverseLabel"))
    _record(run, lambda ids: ids.labels.__setitem__(change.key, label))
    return "created"


def _user_label(labels: Sequence[AssociationLabel], text: str) -> AssociationLabel | None:
    wanted = text.strip().casefold()
    return next((x for x in labels if x.category != "HUBSPOT_DEFINED" and x.label
                 and x.label.strip().casefold() == wanted), None)


def _remove(run: ApplyRun, client: SchemaWire, change: SchemaChange) -> str:
    kind, object_type, address = change.kind, change.object_type, change.address
    if change.action == "update":  # an option listed in schema.removed
        client.update_property(object_type, change.key, dict(change.body))
        return "removed an option of"
    if kind == "property":
        client.archive_property(object_type, change.key)
        _record(run, lambda ids: ids.properties.pop(address, None))
    elif kind == "group":
        client.archive_property_group(object_type, change.key)
        _record(run, lambda ids: ids.groups.pop(address, None))
    elif kind == "pipeline":
        client.archive_pipeline(object_type, str(change.id))
        _record(run, lambda ids: ids.pipelines.pop(address, None))
    elif kind == "stage":
        client.archive_stage(object_type, str(change.parent_id), str(change.id))
        pipeline_address, _, stage_key = address.rpartition("/")

        def forget(ids: SchemaIds) -> None:
            mapped = ids.pipelines.get(pipeline_address)
            if mapped is not None:
                stages = {k: s for k, s in mapped.stages.items() if k != stage_key}
                ids.pipelines[pipeline_address] = replace(mapped, stages=stages)

        _record(run, forget)
    else:
        client.delete_label(object_type, str(change.to_type), int(str(change.id)))
        _record(run, lambda ids: ids.labels.pop(change.key, None))
    return "archived"
