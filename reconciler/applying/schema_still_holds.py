"""Whether a saved plan's schema changes still hold on the portal (``apply --plan``), checked
with the records' (``still_holds``) before anything is written.

A property, group, pipeline, stage or label the plan creates must not have been made since
(by hand, or by another project): applying it would fail half-way on HubSpot's conflict, or
make a second pipeline of one label. What the plan updates, adopts or archives by id or name
must still be there. One read per type or pair touched; nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.schema_wire import SchemaWire
from reconciler.planning.schema_changes import SchemaChange
from reconciler.planning.schema_remote import RemotePipeline, pipeline_from_body


def _same(a: object, b: object) -> bool:
    return str(a or "").strip().casefold() == str(b or "").strip().casefold()


class _Portal:
    """The portal's schema, read once per type or pair the plan touches."""

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        self.wire = SchemaWire(client)
        self._properties: dict[str, set[str]] = {}
        self._groups: dict[str, set[str]] = {}
        self._pipelines: dict[str, tuple[RemotePipeline, ...]] = {}
        self._labels: dict[tuple[str, str], list[tuple[int, str]]] = {}

    def properties(self, object_type: str) -> set[str]:
        if object_type not in self._properties:
            self._properties[object_type] = {
                str(b.get("name")) for b in self.client.property_bodies(object_type)}
        return self._properties[object_type]

    def groups(self, object_type: str) -> set[str]:
        if object_type not in self._groups:
            self._groups[object_type] = {
                str(g.get("name")) for g in self.wire.property_groups(object_type)}
        return self._groups[object_type]

    def pipelines(self, object_type: str) -> tuple[RemotePipeline, ...]:
        if object_type not in self._pipelines:
            self._pipelines[object_type] = tuple(
                pipeline_from_body(b) for b in self.wire.pipeline_bodies(object_type))
        return self._pipelines[object_type]

    def pipeline(self, object_type: str, pipeline_id: str | None) -> RemotePipeline | None:
        return next((p for p in self.pipelines(object_type) if p.id == pipeline_id), None)

    def labels(self, from_type: str, to_type: str) -> list[tuple[int, str]]:
        pair = (from_type, to_type)
        if pair not in self._labels:
            self._labels[pair] = [
                (x.type_id, x.label or "") for x in self.client.association_labels(*pair)
                if x.category != "HUBSPOT_DEFINED" and x.label]
        return self._labels[pair]


def schema_changes_since(client: HubSpotClient, changes: Sequence[SchemaChange]) -> list[str]:
    """One line per schema change of the plan that does not hold any more (empty: all do)."""
    portal = _Portal(client)
    problems: list[str] = []
    for change in changes:
        if change.runs and change.kind != "marker":
            problem = _problem(portal, change)
            if problem:
                problems.append(f"{change.kind} {change.address} {problem}")
    return problems


def _problem(portal: _Portal, change: SchemaChange) -> str | None:
    creating = change.action == "create"
    body: Mapping[str, Any] = change.body
    kind, object_type = change.kind, change.object_type
    if kind in ("property", "group"):
        names = (portal.properties if kind == "property" else portal.groups)(object_type)
        if creating and change.key in names:
            return "was created since"
        if not creating and change.key not in names:
            return "is gone from the portal"
        return None
    if kind == "pipeline":
        if creating:
            made = next((p for p in portal.pipelines(object_type)
                         if _same(p.label, body.get("label"))), None)
            return None if made is None else f"was created since (id {made.id})"
        return None if portal.pipeline(object_type, change.id) else "is gone from the portal"
    if kind == "stage":
        if change.parent_id is None:  # its pipeline is made by the same plan
            return None
        parent = portal.pipeline(object_type, change.parent_id)
        if parent is None:
            return f"cannot be: its pipeline {change.parent_id} is gone from the portal"
        if creating:
            made_stage = next((s for s in parent.stages if _same(s.label, body.get("label"))),
                              None)
            return None if made_stage is None else f"was created since (id {made_stage.id})"
        return (None if any(s.id == change.id for s in parent.stages)
                else "is gone from the portal")
    labels = portal.labels(object_type, change.to_type or "")
    if creating:
        made_label = next((i for i, text in labels if _same(text, body.get("label"))), None)
        return None if made_label is None else f"was created since (type id {made_label})"
    return (None if any(str(i) == str(change.id) for i, _text in labels)
            else "is gone from the portal")


__all__ = ["schema_changes_since"]
