"""The schema part of a plan as a value: ``SchemaChange`` (one thing apply will do to the
portal's schema: a property, group, pipeline, stage or label made, changed, adopted or
archived) and the placeholders records carry for ids a target does not have yet.

A change carries the exact body apply sends (``body``), so a saved plan applies as it was
shown; ``reconciler.planning.schema_planner`` makes them, ``reconciler.applying.schema``
runs them, ``reconciler.state.plan_document`` saves and reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.errors import SpecIssue
from reconciler.model import Source

SchemaAction = Literal["create", "update", "adopt", "retype", "archive", "keep"]
#: create: made in the portal; update: changed there (label, options, order...); adopt: an
#: existing one mapped to the spec's key (no request: the state learns its id); retype: a
#: property's type changed (guarded); archive: deleted, only from ``schema.removed``;
#: keep: a ``schema.removed`` entry a protected target does not carry out (shown, not run).
SCHEMA_ACTIONS: tuple[SchemaAction, ...] = (
    "create", "update", "adopt", "retype", "archive", "keep",
)
SchemaKind = Literal["group", "marker", "property", "pipeline", "stage", "label"]
#: in the order apply makes them (removals run last, after the records)
SCHEMA_KINDS: tuple[SchemaKind, ...] = (
    "group", "marker", "property", "pipeline", "stage", "label",
)
#: actions that delete from the portal (run after the records, never on a protected target)
DESTRUCTIVE = frozenset({"archive"})


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One field of a schema item as the portal has it (``before``) and as it will be."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """One thing apply will do to the portal's schema.

    ``key``: a property's or group's name, a pipeline's key, ``<pipeline key>/<stage key>``
    for a stage, a label's key. ``id``: the portal's id of what is changed (pipeline, stage,
    label type id), when it exists; ``parent_id``: a stage's pipeline id (None when the
    pipeline is created by the same apply). ``to_type``: a label's second type. ``body``:
    what apply sends (create: the whole definition; update: the fields that change), or
    for an adopt the ids the state learns.
    """

    action: SchemaAction
    kind: SchemaKind
    object_type: str
    key: str
    reason: str
    id: str | None = None
    parent_id: str | None = None
    to_type: str | None = None
    diffs: tuple[FieldDiff, ...] = ()
    body: Mapping[str, Any] = field(default_factory=dict)
    source: Source | None = None
    #: a retype or archive of a property that holds data (made with allow_data_loss):
    #: ``apply`` refuses it without ``--allow-schema-data-loss``, even from a saved plan
    loses_data: bool = False

    @property
    def address(self) -> str:
        """``companies/demo_segment``, ``deals/emea``, ``deals/emea/won``; a label's key."""
        return self.key if self.kind == "label" else f"{self.object_type}/{self.key}"

    @property
    def runs(self) -> bool:
        """Whether apply does something for it (a ``keep`` is only shown)."""
        return self.action != "keep"


def schema_issue(source: Source | None, path: str, message: str) -> SpecIssue:
    """A refusal of the schema planner, located at the spec item it is about."""
    where = source or Source("(spec)", 1, 1)
    return SpecIssue(where.file, where.line, where.column, path, message)


# -- placeholders: ids a target does not have until apply makes the schema ---------------

_PLACEHOLDER = re.compile(r"<(pipeline|stage|label) ([^<>\s]+)>")


def pipeline_placeholder(address: str) -> str:
    return f"<pipeline {address}>"


def stage_placeholder(pipeline_address: str, stage_key: str) -> str:
    return f"<stage {pipeline_address}/{stage_key}>"


def label_placeholder(key: str) -> str:
    return f"<label {key}>"


def placeholder_of(value: str | None) -> tuple[str, str] | None:
    """``("stage", "deals/emea/won")`` for ``<stage deals/emea/won>``; None for a value."""
    if not value or value[0] != "<":
        return None
    found = _PLACEHOLDER.fullmatch(value)
    return (found.group(1), found.group(2)) if found else None


__all__ = [
    "DESTRUCTIVE", "SCHEMA_ACTIONS", "SCHEMA_KINDS", "FieldDiff", "SchemaAction",
    "SchemaChange", "SchemaKind", "label_placeholder", "pipeline_placeholder",
    "placeholder_of", "schema_issue", "stage_placeholder",
]
