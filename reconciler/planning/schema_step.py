"""The schema step of making a plan, once the portal's schema is read (or not: offline):
plan the schema, then resolve the records' keys to this target's ids. No I/O: the reads are
``reconciler.workflow.schema_reads``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.model import DesiredState
from reconciler.planning.changes import Plan
from reconciler.planning.schema_changes import SCHEMA_KINDS, SchemaChange
from reconciler.planning.schema_planner import SchemaPlan, marker_changes, plan_schema
from reconciler.planning.schema_remote import RemoteSchema
from reconciler.planning.schema_resolution import resolve_records
from reconciler.state.model import State


@dataclass(frozen=True, slots=True)
class SchemaStep:
    """The schema part of one plan: what was read (None: offline), the schema plan, the
    records resolved to this target's ids, and the property definitions read (by type,
    for the catalogue)."""

    planned: SchemaPlan
    desired: DesiredState
    remote: RemoteSchema | None = None
    bodies: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)

    def attach(self, the_plan: Plan) -> Plan:
        """The plan with its schema changes, the tool's marker properties among them
        where records are written to a type that lacks them, in the order apply runs
        them (removals last: they run after the records)."""
        written = {c.object_type for c in the_plan.changes if c.action != "archive"}
        changes = [*self.planned.changes, *marker_changes(written, self.remote)]
        if not changes:
            return the_plan
        changes.sort(key=_schema_order)
        return replace(the_plan, schema_changes=tuple(changes))


def _schema_order(change: SchemaChange) -> tuple[int, int]:
    last = change.action in ("archive", "keep") or (
        change.action == "update" and change.reason.startswith("an option listed")
    )
    return (1 if last else 0, SCHEMA_KINDS.index(change.kind))


def plan_schema_step(
    desired: DesiredState, state: State, remote: RemoteSchema | None,
    bodies: Mapping[str, Sequence[Mapping[str, Any]]] | None = None, *,
    protected: bool, allow_data_loss: bool,
) -> SchemaStep:
    """Plan the schema against what the portal holds (``remote``; None: offline) and
    resolve the records' keys; ``bodies``: the property definitions read, by type."""
    planned = plan_schema(
        desired.schema, remote, state.schema, records=desired.records, managed=state.records,
        protected=protected, allow_data_loss=allow_data_loss,
    )
    return SchemaStep(planned, resolve_records(desired, planned), remote, dict(bodies or {}))


__all__ = ["SchemaStep", "plan_schema_step"]
