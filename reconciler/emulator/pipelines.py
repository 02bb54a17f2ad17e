"""Pipelines and their stages (``/crm/v3/pipelines/{type}`` and ``/crm/pipelines/2026-03``),
for deals and tickets, as the pipelines spec and guide describe them (design-20 §1.5):

- Every portal starts with the deal pipeline ``default`` (seven stages with probabilities)
  and the ticket pipeline ``0`` (four stages with ``ticketState``), ``createdAt`` = 0; more
  pipelines can be made. Ids are the portal's own numeric strings (``Portal.new_schema_id``):
  two portals give the same pipeline different ids, as HubSpot's do.
- ``PipelineInput`` needs ``label``, ``displayOrder`` and at least one stage; a stage needs
  ``label``, ``displayOrder`` and ``metadata``: for deals a ``probability`` from 0.0 to 1.0
  in steps of 0.1, for tickets an optional ``ticketState`` OPEN or CLOSED. Metadata comes
  back as strings (the spec types it so), with ``isClosed``. Pipeline labels are unique in
  the type, stage labels in their pipeline.
- A pipeline or stage id that is archived or unknown is a 404 (the spec's "Pipeline ID
  validation"). PATCH changes ``label``/``displayOrder`` and never the stages; ``archived``
  in it only restores an archived pipeline (else 400, as the spec says). PUT replaces the
  pipeline, stages included: a stage input naming an existing ``stageId`` keeps it, the
  stages it leaves out are archived.
- DELETE archives. With ``validateReferencesBeforeDelete=true`` (or, for deals,
  ``validateDealStageUsagesBeforeDelete=true``) a pipeline or stage that records are in is
  refused (400): HubSpot's behaviour from 2026-09, and what the tool always asks for.

Unverified (our choice where HubSpot documents nothing): the bodies and messages of every
refusal here (400 ``VALIDATION_ERROR``, a label taken 409 ``CONFLICT``); that the default
pipelines cannot be deleted nor a pipeline's last stage; that a create ignores
``pipelineId``/``stageId``; the audit endpoints answering an empty list.
"""

from __future__ import annotations

import math
from typing import Any

from reconciler.emulator.http_types import (
    ApiRequest,
    HubSpotError,
    Reply,
    as_int,
    error_body,
    not_found,
    validation_error,
)
from reconciler.emulator.portal import Portal
from reconciler.emulator.schema_model import (
    DEFAULT_PIPELINE_IDS,
    STAGE_PROPERTIES,
    deal_stage_metadata,
    live_stages,
    stage_body,
    ticket_stage_metadata,
)

TICKET_STATES = ("OPEN", "CLOSED")


def _type(portal: Portal, request: ApiRequest) -> str:
    object_type = portal.resolve_type(request.params["objectType"])
    if object_type not in STAGE_PROPERTIES:
        raise validation_error(
            f"Pipelines are not supported for {object_type}; they are for deals and tickets"
        )
    return object_type


def _shape(pipeline: dict[str, Any]) -> dict[str, Any]:
    """HubSpot's ``Pipeline``: its live stages only."""
    return {**pipeline, "stages": live_stages(pipeline)}


def _pipeline(portal: Portal, object_type: str, pipeline_id: str,
              *, archived: bool = False) -> dict[str, Any]:
    """A pipeline by id (archived ones only with ``archived``); 404 when there is none."""
    for pipeline in portal.pipelines_of(object_type, archived=archived):
        if pipeline["id"] == pipeline_id:
            return pipeline
    raise not_found(f"Unable to find pipeline {pipeline_id} for {object_type}")


def _stage(pipeline: dict[str, Any], stage_id: str) -> dict[str, Any]:
    for stage in live_stages(pipeline):
        if stage["id"] == stage_id:
            return stage
    raise not_found(f"Unable to find stage {stage_id} in pipeline {pipeline['id']}")


def _metadata(object_type: str, raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise validation_error(f"{where}: metadata is required")
    if object_type == "deals":
        value = raw.get("probability")
        if value is None:
            raise validation_error(f"{where}: a deal stage needs metadata.probability")
        try:  # a string, as the spec types metadata; the guide's examples send a number
            probability = math.nan if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            probability = math.nan
        tenths = probability * 10
        if not 0.0 <= probability <= 1.0 or abs(tenths - round(tenths)) > 1e-9:
            raise validation_error(
                f"{where}: probability {value!r} must be between 0.0 and 1.0 in steps of 0.1"
            )
        return deal_stage_metadata(f"{round(tenths) / 10:.1f}")
    state = raw.get("ticketState", "OPEN")
    if state not in TICKET_STATES:
        raise validation_error(f"{where}: ticketState {state!r} must be OPEN or CLOSED")
    return ticket_stage_metadata(str(state))


def _label(raw: Any, where: str) -> str:
    if not isinstance(raw, dict) or not str(raw.get("label") or "").strip():
        raise validation_error(f"{where}: label is required")
    return str(raw["label"])


def _order(raw: dict[str, Any], where: str, *, required: bool = True) -> int | None:
    order = as_int(raw.get("displayOrder"))
    if order is None and (required or "displayOrder" in raw):
        raise validation_error(f"{where}: displayOrder must be an integer")
    return order


def _stage_from(portal: Portal, object_type: str, raw: Any, where: str,
                existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """A stage from a ``PipelineStageInput`` (a new id, or ``existing``'s)."""
    label = _label(raw, where)
    order = _order(raw, where)
    assert order is not None
    metadata = _metadata(object_type, raw.get("metadata"), where)
    now = portal.now_iso()
    if existing is not None:
        return {**existing, "label": label, "displayOrder": order, "metadata": metadata,
                "updatedAt": now}
    return stage_body(portal.new_schema_id(), label, order, metadata, now)


def _unique_labels(labels: list[str], what: str) -> None:
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise validation_error(f"{what} labels must be unique: {label!r} is there twice")
        seen.add(label)


def _label_free(portal: Portal, object_type: str, label: str, own_id: str | None = None) -> None:
    for pipeline in portal.pipelines_of(object_type):
        if pipeline["label"] == label and pipeline["id"] != own_id:
            raise HubSpotError(409, error_body(
                "CONFLICT", f"A {object_type} pipeline labelled {label!r} already exists "
                f"(id {pipeline['id']})"
            ))


def _stages_from(portal: Portal, object_type: str, raw: Any,
                 keep: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise validation_error("A pipeline needs at least one stage")
    keep = keep or {}
    stages = [
        _stage_from(portal, object_type, item, f"stages[{n}]",
                    keep.get(str(item.get("stageId"))) if isinstance(item, dict) else None)
        for n, item in enumerate(raw)
    ]
    _unique_labels([stage["label"] for stage in stages], "Stage")
    return stages


def _in_use(portal: Portal, object_type: str, pipeline_id: str,
            stage_ids: set[str] | None = None) -> int:
    """How many live records are in the pipeline (in any of ``stage_ids``, if given)."""
    pipeline_name, stage_name = STAGE_PROPERTIES[object_type]
    count = 0
    for record in portal.store.list_records(object_type):
        props = record.properties
        if (props.get(pipeline_name) or DEFAULT_PIPELINE_IDS[object_type]) != pipeline_id:
            continue
        if stage_ids is None or props.get(stage_name) in stage_ids:
            count += 1
    return count


def _validating(request: ApiRequest, object_type: str) -> bool:
    return request.query_bool("validateReferencesBeforeDelete") or (
        object_type == "deals" and request.query_bool("validateDealStageUsagesBeforeDelete")
    )


def _refuse_in_use(portal: Portal, object_type: str, pipeline_id: str, stage_ids: set[str] | None,
                   what: str) -> None:
    count = _in_use(portal, object_type, pipeline_id, stage_ids)
    if count:
        raise validation_error(
            f"{what} is in use: {count} {object_type} record(s) are in it; move them first"
        )


def _archived(item: dict[str, Any], now: str) -> dict[str, Any]:
    return {**item, "archived": True, "archivedAt": now, "updatedAt": now}


# ---- pipelines ------------------------------------------------------------------------


def list_pipelines(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    return Reply(200, {"results": [_shape(p) for p in portal.pipelines_of(object_type)]})


def get_pipeline(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    return Reply(200, _shape(_pipeline(portal, object_type, request.params["pipelineId"])))


def create_pipeline(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    body = request.body if isinstance(request.body, dict) else {}
    label = _label(body, "pipeline")
    order = _order(body, "pipeline")
    with portal.store.lock:
        _label_free(portal, object_type, label)
        stages = _stages_from(portal, object_type, body.get("stages"))
        now = portal.now_iso()
        pipeline = {"id": portal.new_schema_id(), "label": label, "displayOrder": order,
                    "archived": False, "createdAt": now, "updatedAt": now, "stages": stages}
        portal.put_pipeline(object_type, pipeline)
    return Reply(201, _shape(pipeline))


def replace_pipeline(portal: Portal, request: ApiRequest) -> Reply:
    """PUT: label, order and the whole list of stages; the stages left out are archived."""
    object_type = _type(portal, request)
    body = request.body if isinstance(request.body, dict) else {}
    label = _label(body, "pipeline")
    order = _order(body, "pipeline")
    with portal.store.lock:
        pipeline = _pipeline(portal, object_type, request.params["pipelineId"])
        _label_free(portal, object_type, label, pipeline["id"])
        current = {stage["id"]: stage for stage in live_stages(pipeline)}
        stages = _stages_from(portal, object_type, body.get("stages"), current)
        dropped = set(current) - {stage["id"] for stage in stages}
        if dropped and _validating(request, object_type):
            _refuse_in_use(portal, object_type, pipeline["id"], dropped,
                           f"A stage left out of pipeline {pipeline['id']}")
        now = portal.now_iso()
        old = [_archived(s, now) for s in pipeline["stages"] if s["archived"] or s["id"] in dropped]
        pipeline = {**pipeline, "label": label, "displayOrder": order, "updatedAt": now,
                    "stages": [*stages, *old]}
        portal.put_pipeline(object_type, pipeline)
    return Reply(200, _shape(pipeline))


def update_pipeline(portal: Portal, request: ApiRequest) -> Reply:
    """PATCH: label and order; ``archived: false`` restores an archived pipeline."""
    object_type = _type(portal, request)
    body = request.body if isinstance(request.body, dict) else {}
    pipeline_id = request.params["pipelineId"]
    with portal.store.lock:
        pipeline = _pipeline(portal, object_type, pipeline_id, archived=True)
        if "archived" in body:
            if not pipeline["archived"] or body["archived"] is not False:
                raise validation_error(
                    "archived may only be sent to restore an archived pipeline (archived: false)"
                )
            pipeline = {k: v for k, v in pipeline.items() if k != "archivedAt"}
            pipeline["archived"] = False
        elif pipeline["archived"]:
            raise not_found(f"Unable to find pipeline {pipeline_id} for {object_type}")
        if "label" in body:
            pipeline["label"] = _label(body, "pipeline")
        _label_free(portal, object_type, pipeline["label"], pipeline_id)
        if "displayOrder" in body:
            pipeline["displayOrder"] = _order(body, "pipeline")
        pipeline["updatedAt"] = portal.now_iso()
        portal.put_pipeline(object_type, pipeline)
    return Reply(200, _shape(pipeline))


def archive_pipeline(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    with portal.store.lock:
        pipeline = _pipeline(portal, object_type, request.params["pipelineId"])
        if pipeline["id"] == DEFAULT_PIPELINE_IDS[object_type]:
            raise validation_error(f"The default {object_type} pipeline cannot be deleted")
        if _validating(request, object_type):
            _refuse_in_use(portal, object_type, pipeline["id"], None,
                           f"Pipeline {pipeline['id']}")
        portal.put_pipeline(object_type, _archived(pipeline, portal.now_iso()))
    return Reply(204)


def audit(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    pipeline = _pipeline(portal, object_type, request.params["pipelineId"])
    if "stageId" in request.params:
        _stage(pipeline, request.params["stageId"])
    return Reply(200, {"results": []})


# ---- stages ---------------------------------------------------------------------------


def list_stages(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    pipeline = _pipeline(portal, object_type, request.params["pipelineId"])
    return Reply(200, {"results": live_stages(pipeline)})


def get_stage(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    pipeline = _pipeline(portal, object_type, request.params["pipelineId"])
    return Reply(200, _stage(pipeline, request.params["stageId"]))


def _save_stage(portal: Portal, object_type: str, pipeline: dict[str, Any],
                stage: dict[str, Any]) -> None:
    others = [s for s in live_stages(pipeline) if s["id"] != stage["id"]]
    if any(s["label"] == stage["label"] for s in others):
        raise HubSpotError(409, error_body(
            "CONFLICT", f"Pipeline {pipeline['id']} already has a stage labelled "
            f"{stage['label']!r}"
        ))
    stages = [stage if s["id"] == stage["id"] else s for s in pipeline["stages"]]
    if stage["id"] not in {s["id"] for s in pipeline["stages"]}:
        stages.append(stage)
    portal.put_pipeline(object_type, {**pipeline, "stages": stages,
                                      "updatedAt": portal.now_iso()})


def create_stage(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    with portal.store.lock:
        pipeline = _pipeline(portal, object_type, request.params["pipelineId"])
        stage = _stage_from(portal, object_type, request.body, "stage")
        _save_stage(portal, object_type, pipeline, stage)
    return Reply(201, stage)


def replace_stage(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    with portal.store.lock:
        pipeline = _pipeline(portal, object_type, request.params["pipelineId"])
        current = _stage(pipeline, request.params["stageId"])
        stage = _stage_from(portal, object_type, request.body, "stage", current)
        _save_stage(portal, object_type, pipeline, stage)
    return Reply(200, stage)


def update_stage(portal: Portal, request: ApiRequest) -> Reply:
    """PATCH: ``metadata`` is required (``PipelineStagePatchInput``); label and order may
    come with it."""
    object_type = _type(portal, request)
    body = request.body if isinstance(request.body, dict) else {}
    with portal.store.lock:
        pipeline = _pipeline(portal, object_type, request.params["pipelineId"])
        stage = dict(_stage(pipeline, request.params["stageId"]))
        stage["metadata"] = _metadata(object_type, body.get("metadata"), "stage")
        if "label" in body:
            stage["label"] = _label(body, "stage")
        if "displayOrder" in body:
            stage["displayOrder"] = _order(body, "stage")
        stage["updatedAt"] = portal.now_iso()
        _save_stage(portal, object_type, pipeline, stage)
    return Reply(200, stage)


def archive_stage(portal: Portal, request: ApiRequest) -> Reply:
    object_type = _type(portal, request)
    with portal.store.lock:
        pipeline = _pipeline(portal, object_type, request.params["pipelineId"])
        stage = _stage(pipeline, request.params["stageId"])
        if len(live_stages(pipeline)) == 1:
            raise validation_error(
                f"Stage {stage['id']} is the last stage of pipeline {pipeline['id']}: "
                "a pipeline always has at least one stage"
            )
        if request.query_bool("validateReferencesBeforeDelete"):
            _refuse_in_use(portal, object_type, pipeline["id"], {stage["id"]},
                           f"Stage {stage['id']}")
        _save_stage(portal, object_type, pipeline, _archived(stage, portal.now_iso()))
    return Reply(204)
