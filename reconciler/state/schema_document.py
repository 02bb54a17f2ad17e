"""A plan's schema changes as its JSON (``"schema_changes"``) and back, read with the same
suspicion as the rest of a saved plan: every field's type checked, every action and kind
one a plan can hold, every body plain JSON."""

from __future__ import annotations

import json
from typing import Any

from reconciler.model import Source
from reconciler.planning.schema_changes import (
    SCHEMA_ACTIONS,
    SCHEMA_KINDS,
    FieldDiff,
    SchemaChange,
)
from reconciler.state.schema_ids import SchemaIds


class SchemaDocumentError(ValueError):
    """A schema change of a saved plan that cannot be trusted."""


def schema_change_to_json(change: SchemaChange) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": change.action,
        "kind": change.kind,
        "type": change.object_type,
        "key": change.key,
        "address": change.address,
        "reason": change.reason,
        "id": change.id,
        "changes": [{"field": d.field, "before": d.before, "after": d.after}
                    for d in change.diffs],
        "body": dict(change.body),
    }
    if change.parent_id is not None:
        data["parent_id"] = change.parent_id
    if change.to_type is not None:
        data["to_type"] = change.to_type
    if change.loses_data:
        data["loses_data"] = True
    if change.source is not None:
        data["source"] = {"file": change.source.file, "line": change.source.line,
                          "column": change.source.column}
    return data


def _get(data: Any, name: str, kinds: tuple[type, ...], default: Any = ...) -> Any:
    if type(data) is not dict:
        raise SchemaDocumentError(f"a schema change is {type(data).__name__}, not an object")
    if name not in data:
        if default is ...:
            raise SchemaDocumentError(f"a schema change has no {name!r}")
        return default
    value = data[name]
    if type(value) not in kinds:
        raise SchemaDocumentError(f"a schema change's {name!r} is {json.dumps(value)[:40]}")
    return value


_TEXT_OR_NULL = (str, type(None))


def schema_change_from_json(data: Any) -> SchemaChange:
    action = _get(data, "action", (str,))
    kind = _get(data, "kind", (str,))
    if action not in SCHEMA_ACTIONS or kind not in SCHEMA_KINDS:
        raise SchemaDocumentError(f"unknown schema change {action!r} of {kind!r}")
    diffs = tuple(
        FieldDiff(_get(d, "field", (str,)), _get(d, "before", _TEXT_OR_NULL, None),
                  _get(d, "after", _TEXT_OR_NULL, None))
        for d in _get(data, "changes", (list,), [])
    )
    body = _get(data, "body", (dict,), {})
    try:  # plain JSON only (it came from json.loads; this keeps it honest if built by hand)
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SchemaDocumentError(f"a schema change's body is not plain JSON ({exc})") from None
    source = _get(data, "source", (dict, type(None)), None)
    change = SchemaChange(
        action=action, kind=kind, object_type=_get(data, "type", (str,)),
        key=_get(data, "key", (str,)), reason=_get(data, "reason", (str,), ""),
        id=_get(data, "id", _TEXT_OR_NULL, None),
        parent_id=_get(data, "parent_id", _TEXT_OR_NULL, None),
        to_type=_get(data, "to_type", _TEXT_OR_NULL, None), diffs=diffs, body=body,
        source=Source(_get(source, "file", (str,)), _get(source, "line", (int,)),
                      _get(source, "column", (int,))) if source is not None else None,
        loses_data=_get(data, "loses_data", (bool,), False),
    )
    if not change.object_type or not change.key or (
        _get(data, "address", (str,), change.address) != change.address
    ):
        raise SchemaDocumentError(f"schema change {change.key!r}: its address does not match")
    return change


def schema_problems(
    schema_changes: tuple[SchemaChange, ...], placeholders: dict[str, list[str]],
    known: SchemaIds,
) -> list[str]:
    """What in a saved plan's schema part does not follow from the state: an id changed or
    archived that the state does not map to that key (nor the plan adopts), a placeholder
    that nothing in the plan makes and the state does not map."""
    problems: list[str] = []
    adopted = {(c.kind, c.address): c.id for c in schema_changes if c.action == "adopt"}
    made: set[str] = set()
    for change in schema_changes:
        if change.action == "create":
            if change.id is not None:
                problems.append(f"the create of {change.kind} {change.address} names id "
                                f"{change.id}")
            if change.kind == "pipeline":
                made.add(f"pipeline {change.address}")
                made.update(f"stage {change.address}/{key}"
                            for key in change.body.get("stage_keys") or [])
            elif change.kind in ("stage", "label"):
                made.add(f"{change.kind} {change.address}")
            continue
        if change.kind not in ("pipeline", "stage", "label") or change.action == "adopt" or (
            change.id is None
        ):
            continue
        if change.id not in (_mapped(change, known), adopted.get((change.kind, change.address))):
            problems.append(f"the {change.action} of {change.kind} {change.address} names id "
                            f"{change.id}, which the state does not map to it")
    for address, named in placeholders.items():
        for text in named:
            what = text[1:-1]
            if what not in made and _mapped_text(what, known) is None and not any(
                f"{kind} {key}" == what for kind, key in adopted
            ):
                problems.append(f"{address} uses {text}, which the plan does not make")
    return problems


def _mapped(change: SchemaChange, known: SchemaIds) -> str | None:
    if change.kind == "label":
        label = known.labels.get(change.key)
        return str(label.type_id) if label else None
    if change.kind == "pipeline":
        pipeline = known.pipelines.get(change.address)
        return pipeline.id if pipeline else None
    head, _, stage_key = change.address.rpartition("/")
    pipeline = known.pipelines.get(head)
    stage = pipeline.stages.get(stage_key) if pipeline else None
    return stage.id if stage else None


def _mapped_text(what: str, known: SchemaIds) -> str | None:
    kind, _, address = what.partition(" ")
    if kind == "label":
        return address if address in known.labels else None
    if kind == "pipeline":
        return address if address in known.pipelines else None
    head, _, stage_key = address.rpartition("/")
    pipeline = known.pipelines.get(head)
    return address if pipeline and stage_key in pipeline.stages else None
