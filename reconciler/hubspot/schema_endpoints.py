"""A portal's schema: properties and their groups, pipelines and stages, association labels
(``/crm/properties``, ``/crm/pipelines``, ``/crm/associations/.../labels``; v3/v4 and the
dated versions).

Creates are ``kind="create"``: a create whose answer is lost is "outcome unknown"
(``AmbiguousWriteError``), never resent blind, since a resent pipeline or label would be a
second one (and a resent property a 409); the caller settles it by reading back (a
property by name, a pipeline or label by its label). Changes (PATCH, PUT) are retried like
reads. An archive or delete of what is already gone (404) is done, not an error: a DELETE
whose answer was lost is sent again and finds nothing. Pipeline and stage deletes always
ask HubSpot to refuse them while records are in them (``validate``; the default in
2026-09).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from reconciler.errors import ApiError
from reconciler.hubspot.endpoints import Endpoints
from reconciler.hubspot.records import (
    BATCH_LIMIT,
    AnswerShapeError,
    AssociationLabel,
    BatchItemError,
    as_object,
    batch_error_from_api,
    label_from_api,
    results_list,
)
from reconciler.hubspot.schema_records import (
    Pipeline,
    PipelineStage,
    PropertyChanges,
    PropertyGroup,
    PropertySchema,
    StageDraft,
    group_from_api,
    group_to_api,
    pipeline_from_api,
    property_changes_to_api,
    property_schema_from_api,
    property_schema_to_api,
    stage_from_api,
    stage_to_api,
)

_VALIDATE = {"validateReferencesBeforeDelete": "true"}
_VALIDATE_DEALS = {**_VALIDATE, "validateDealStageUsagesBeforeDelete": "true"}


Named = TypeVar("Named", PropertySchema, PropertyGroup)


def _named(name: str, parse: Callable[[Any], Named]) -> Callable[[Any], Named]:
    """``parse``, checking the answer describes ``name`` (a property or group)."""
    def check(data: Any) -> Named:
        found = parse(data)
        if found.name != name:
            raise AnswerShapeError(f"it describes {found.name!r}, not {name!r}")
        return found
    return check


class SchemaEndpoints(Endpoints):
    """``/crm/properties`` (definitions, groups), ``/crm/pipelines`` and association labels."""

    # ---- properties ----------------------------------------------------------------------

    def property_schemas(
        self, object_type: str, *, archived: bool = False
    ) -> list[PropertySchema]:
        """The type's properties with their options (``archived``: only the archived ones)."""
        return self._call(
            "GET", self.paths.properties(object_type),
            lambda data: [property_schema_from_api(p, f"results[{n}]")
                          for n, p in enumerate(results_list(data))],
            params={"archived": "true" if archived else "false"},
        )

    def read_property_schema(
        self, object_type: str, name: str, *, archived: bool = False
    ) -> PropertySchema | None:
        """One property, or None when the portal has none of that name (archived ones only
        with ``archived``)."""
        try:
            return self._call(
                "GET", f"{self.paths.properties(object_type)}/{name}",
                _named(name, property_schema_from_api),
                params={"archived": "true" if archived else "false"},
            )
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def create_property_schema(self, object_type: str, prop: PropertySchema) -> PropertySchema:
        """Create a property (an archived one of the name is restored). A name taken is an
        ApiError 409."""
        return self._call(
            "POST", self.paths.properties(object_type),
            _named(prop.name, property_schema_from_api),
            json=property_schema_to_api(prop), kind="create",
        )

    def create_property_schemas(
        self, object_type: str, props: Sequence[PropertySchema]
    ) -> tuple[tuple[PropertySchema, ...], tuple[BatchItemError, ...]]:
        """Create properties in batches (``batch/create``): those made, and HubSpot's
        refusals (a 207 names each refused input)."""
        made: list[PropertySchema] = []
        refused: list[BatchItemError] = []

        def parse(data: Any) -> tuple[list[PropertySchema], list[BatchItemError]]:
            body = as_object(data, "the body")
            errors = body.get("errors") or []
            if not isinstance(errors, list):
                raise AnswerShapeError("'errors' is not a list")
            return (
                [property_schema_from_api(p, f"results[{n}]")
                 for n, p in enumerate(results_list(data))],
                [batch_error_from_api(e, f"errors[{n}]") for n, e in enumerate(errors)],
            )

        for start in range(0, len(props), BATCH_LIMIT):
            batch = props[start : start + BATCH_LIMIT]
            results, errors = self._call(
                "POST", f"{self.paths.properties(object_type)}/batch/create", parse,
                json={"inputs": [property_schema_to_api(p) for p in batch]}, kind="create",
            )
            made.extend(results)
            refused.extend(errors)
        return tuple(made), tuple(refused)

    def update_property_schema(
        self, object_type: str, name: str, changes: PropertyChanges
    ) -> PropertySchema:
        return self._call(
            "PATCH", f"{self.paths.properties(object_type)}/{name}",
            _named(name, property_schema_from_api),
            json=property_changes_to_api(changes), kind="write",
        )

    def archive_property(self, object_type: str, name: str) -> None:
        """Move a property to the recycling bin (its values are kept)."""
        self._gone_is_done("DELETE", f"{self.paths.properties(object_type)}/{name}")

    # ---- property groups -----------------------------------------------------------------

    def property_groups(self, object_type: str) -> list[PropertyGroup]:
        return self._call(
            "GET", f"{self.paths.properties(object_type)}/groups",
            lambda data: [group_from_api(g, f"results[{n}]")
                          for n, g in enumerate(results_list(data))],
        )

    def create_property_group(self, object_type: str, group: PropertyGroup) -> PropertyGroup:
        """Create a group (a name taken is an ApiError 409)."""
        return self._call(
            "POST", f"{self.paths.properties(object_type)}/groups",
            _named(group.name, group_from_api), json=group_to_api(group), kind="create",
        )

    def update_property_group(
        self, object_type: str, name: str, *, label: str | None = None,
        display_order: int | None = None,
    ) -> PropertyGroup:
        body: dict[str, Any] = {}
        if label is not None:
            body["label"] = label
        if display_order is not None:
            body["displayOrder"] = display_order
        return self._call(
            "PATCH", f"{self.paths.properties(object_type)}/groups/{name}",
            _named(name, group_from_api), json=body, kind="write",
        )

    def archive_property_group(self, object_type: str, name: str) -> None:
        self._gone_is_done("DELETE", f"{self.paths.properties(object_type)}/groups/{name}")

    # ---- pipelines and stages ------------------------------------------------------------

    def pipelines(self, object_type: str) -> list[Pipeline]:
        """The type's pipelines (not archived), each with its stages."""
        return self._call(
            "GET", self.paths.pipelines(object_type),
            lambda data: [pipeline_from_api(p, f"results[{n}]")
                          for n, p in enumerate(results_list(data))],
        )

    def read_pipeline(self, object_type: str, pipeline_id: str) -> Pipeline | None:
        """A pipeline, or None when it is archived or was never there (HubSpot's 404)."""
        try:
            return self._call(
                "GET", f"{self.paths.pipelines(object_type)}/{pipeline_id}", pipeline_from_api
            )
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def create_pipeline(
        self, object_type: str, label: str, display_order: int, stages: Sequence[StageDraft]
    ) -> Pipeline:
        """Create a pipeline with its stages in one request; HubSpot gives the ids."""
        return self._call(
            "POST", self.paths.pipelines(object_type), pipeline_from_api,
            json={"label": label, "displayOrder": display_order,
                  "stages": [stage_to_api(stage) for stage in stages]},
            kind="create",
        )

    def update_pipeline(
        self, object_type: str, pipeline_id: str, *, label: str | None = None,
        display_order: int | None = None,
    ) -> Pipeline:
        """Change a pipeline's label or order (PATCH: its stages are left as they are)."""
        body: dict[str, Any] = {}
        if label is not None:
            body["label"] = label
        if display_order is not None:
            body["displayOrder"] = display_order
        return self._call(
            "PATCH", f"{self.paths.pipelines(object_type)}/{pipeline_id}", pipeline_from_api,
            json=body, kind="write",
        )

    def restore_pipeline(self, object_type: str, pipeline_id: str) -> Pipeline:
        """Bring an archived pipeline back (the only PATCH that may send ``archived``)."""
        return self._call(
            "PATCH", f"{self.paths.pipelines(object_type)}/{pipeline_id}", pipeline_from_api,
            json={"archived": False}, kind="write",
        )

    def archive_pipeline(self, object_type: str, pipeline_id: str) -> None:
        """Archive a pipeline; HubSpot refuses (an ApiError 400) while records are in it."""
        params = _VALIDATE_DEALS if object_type in ("deals", "0-3") else _VALIDATE
        self._gone_is_done(
            "DELETE", f"{self.paths.pipelines(object_type)}/{pipeline_id}", params=params
        )

    def create_stage(self, object_type: str, pipeline_id: str, stage: StageDraft) -> PipelineStage:
        return self._call(
            "POST", f"{self.paths.pipelines(object_type)}/{pipeline_id}/stages", stage_from_api,
            json=stage_to_api(stage), kind="create",
        )

    def update_stage(
        self, object_type: str, pipeline_id: str, stage_id: str, stage: StageDraft
    ) -> PipelineStage:
        """Change a stage's label, order and metadata (PATCH; HubSpot requires the
        metadata in it, so all three are sent)."""
        return self._call(
            "PATCH", f"{self.paths.pipelines(object_type)}/{pipeline_id}/stages/{stage_id}",
            stage_from_api, json=stage_to_api(stage), kind="write",
        )

    def archive_stage(self, object_type: str, pipeline_id: str, stage_id: str) -> None:
        """Archive a stage; HubSpot refuses (an ApiError 400) while records are in it."""
        self._gone_is_done(
            "DELETE", f"{self.paths.pipelines(object_type)}/{pipeline_id}/stages/{stage_id}",
            params=_VALIDATE,
        )

    # ---- association labels --------------------------------------------------------------
    # (listing them: ``AssociationEndpoints.association_labels``)

    def create_association_label(
        self, from_type: str, to_type: str, name: str, label: str,
        inverse_label: str | None = None,
    ) -> tuple[AssociationLabel, ...]:
        """Create a USER_DEFINED label: the label's type (first) and, with an
        ``inverse_label``, the inverse's. A name the pair has is an ApiError 409."""
        body: dict[str, Any] = {"name": name, "label": label}
        if inverse_label:
            body["inverseLabel"] = inverse_label
        return self._call(
            "POST", self.paths.association_labels(from_type, to_type),
            lambda data: tuple(label_from_api(item, f"results[{n}]")
                               for n, item in enumerate(results_list(data))),
            json=body, kind="create",
        )

    def update_association_label(
        self, from_type: str, to_type: str, type_id: int, label: str,
        inverse_label: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"associationTypeId": int(type_id), "label": label}
        if inverse_label:
            body["inverseLabel"] = inverse_label
        self._call("PUT", self.paths.association_labels(from_type, to_type), lambda _data: None,
                   json=body, kind="write")

    def delete_association_label(self, from_type: str, to_type: str, type_id: int) -> None:
        """Delete a label (both directions); HubSpot removes it from the associations."""
        self._gone_is_done(
            "DELETE", f"{self.paths.association_labels(from_type, to_type)}/{int(type_id)}"
        )

    def _gone_is_done(self, method: str, path: str, **send: Any) -> None:
        try:
            self._call(method, path, lambda _data: None, kind="write", **send)
        except ApiError as error:
            if error.status != 404:
                raise
