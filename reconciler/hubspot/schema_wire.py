"""The client's schema endpoints (``reconciler.hubspot.schema_endpoints``, typed values) in
the wire forms a plan carries: a ``SchemaChange`` keeps the exact JSON body apply sends, so
a saved plan shows and applies the same thing; this turns those bodies into the client's
values on the way out, and the client's answers back into bodies for the planner's reads
(``schema_remote``) and apply's bookkeeping (``applying.schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import AssociationLabel
from reconciler.hubspot.schema_records import (
    Pipeline,
    PipelineStage,
    PropertyChanges,
    PropertyGroup,
    PropertyOption,
    PropertySchema,
    StageDraft,
)


def _option(body: Mapping[str, Any]) -> PropertyOption:
    return PropertyOption(
        value=str(body["value"]), label=str(body.get("label") or body["value"]),
        display_order=int(body.get("displayOrder") or 0), hidden=bool(body.get("hidden")),
        description=str(body.get("description") or ""),
    )


def _options(body: Mapping[str, Any]) -> tuple[PropertyOption, ...] | None:
    options = body.get("options")
    return None if options is None else tuple(_option(o) for o in options)


def _stage_draft(body: Mapping[str, Any]) -> StageDraft:
    metadata = body.get("metadata") or {}
    return StageDraft(str(body["label"]), int(body.get("displayOrder") or 0),
                      {str(k): str(v) for k, v in metadata.items()})


def stage_body(stage: PipelineStage) -> dict[str, Any]:
    return {"id": stage.id, "label": stage.label, "displayOrder": stage.display_order,
            "metadata": dict(stage.metadata), "archived": stage.archived}


def pipeline_body(pipeline: Pipeline) -> dict[str, Any]:
    return {"id": pipeline.id, "label": pipeline.label, "displayOrder": pipeline.display_order,
            "stages": [stage_body(s) for s in pipeline.stages], "archived": pipeline.archived}


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


class SchemaWire:
    """One client's schema reads and writes, taking and giving the plan's JSON bodies."""

    def __init__(self, client: HubSpotClient) -> None:
        self._client = client

    # ---- reads -----------------------------------------------------------------------

    def property_bodies(self, object_type: str) -> list[Mapping[str, Any]]:
        return self._client.property_bodies(object_type)

    def property_groups(self, object_type: str) -> list[Mapping[str, Any]]:
        return [{"name": g.name, "label": g.label, "displayOrder": g.display_order}
                for g in self._client.property_groups(object_type)]

    def pipeline_bodies(self, object_type: str) -> list[Mapping[str, Any]]:
        return [pipeline_body(p) for p in self._client.pipelines(object_type)]

    def association_labels(self, from_type: str, to_type: str) -> list[AssociationLabel]:
        return self._client.association_labels(from_type, to_type)

    # ---- properties and groups -------------------------------------------------------

    def create_property_body(self, object_type: str, body: Mapping[str, Any]) -> None:
        self._client.create_property_schema(object_type, PropertySchema(
            name=str(body["name"]), label=str(body["label"]), type=str(body["type"]),
            field_type=str(body["fieldType"]), group_name=str(body["groupName"]),
            description=str(body.get("description") or ""), options=_options(body) or (),
            display_order=_optional_int(body.get("displayOrder")),
            has_unique_value=bool(body.get("hasUniqueValue")), hidden=bool(body.get("hidden")),
            form_field=bool(body.get("formField")),
        ))

    def update_property(self, object_type: str, name: str, body: Mapping[str, Any]) -> None:
        self._client.update_property_schema(object_type, name, PropertyChanges(
            label=body.get("label"), description=body.get("description"),
            group_name=body.get("groupName"), type=body.get("type"),
            field_type=body.get("fieldType"), options=_options(body),
            display_order=_optional_int(body.get("displayOrder")), hidden=body.get("hidden"),
            form_field=body.get("formField"),
        ))

    def archive_property(self, object_type: str, name: str) -> None:
        self._client.archive_property(object_type, name)

    def create_property_group(self, object_type: str, body: Mapping[str, Any]) -> None:
        order = body.get("displayOrder")
        self._client.create_property_group(object_type, PropertyGroup(
            str(body["name"]), str(body["label"]), -1 if order is None else int(order)))

    def update_property_group(self, object_type: str, name: str,
                              body: Mapping[str, Any]) -> None:
        self._client.update_property_group(object_type, name, label=body.get("label"),
                                           display_order=_optional_int(body.get("displayOrder")))

    def archive_property_group(self, object_type: str, name: str) -> None:
        self._client.archive_property_group(object_type, name)

    # ---- pipelines and stages --------------------------------------------------------

    def create_pipeline(self, object_type: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        made = self._client.create_pipeline(
            object_type, str(body["label"]), int(body.get("displayOrder") or 0),
            [_stage_draft(s) for s in body.get("stages") or []])
        return pipeline_body(made)

    def update_pipeline(self, object_type: str, pipeline_id: str,
                        body: Mapping[str, Any]) -> None:
        self._client.update_pipeline(object_type, pipeline_id, label=body.get("label"),
                                     display_order=_optional_int(body.get("displayOrder")))

    def archive_pipeline(self, object_type: str, pipeline_id: str) -> None:
        self._client.archive_pipeline(object_type, pipeline_id)

    def create_stage(self, object_type: str, pipeline_id: str,
                     body: Mapping[str, Any]) -> Mapping[str, Any]:
        return stage_body(self._client.create_stage(object_type, pipeline_id,
                                                    _stage_draft(body)))

    def update_stage(self, object_type: str, pipeline_id: str, stage_id: str,
                     body: Mapping[str, Any]) -> None:
        self._client.update_stage(object_type, pipeline_id, stage_id, _stage_draft(body))

    def archive_stage(self, object_type: str, pipeline_id: str, stage_id: str) -> None:
        self._client.archive_stage(object_type, pipeline_id, stage_id)

    # ---- association labels ----------------------------------------------------------

    def create_label(self, from_type: str, to_type: str, body: Mapping[str, Any]) -> None:
        self._client.create_association_label(from_type, to_type, str(body["name"]),
                                              str(body["label"]), body.get("inverseLabel"))

    def update_label(self, from_type: str, to_type: str, body: Mapping[str, Any]) -> None:
        self._client.update_association_label(
            from_type, to_type, int(body["associationTypeId"]), str(body["label"]),
            body.get("inverseLabel"))

    def delete_label(self, from_type: str, to_type: str, type_id: int) -> None:
        self._client.delete_association_label(from_type, to_type, type_id)
