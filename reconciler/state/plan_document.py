"""The plan document: a ``Plan`` as its documented, versioned JSON (``plan --json``, ``plan
--out``) and back, with the digest that binds it to the state it was made from.

A saved plan is applied exactly as written, so it is read with suspicion: every field's
type is checked, and a digest over the canonical JSON of the body, bound to the state
lineage and serial it was made from, catches any edit made after it was saved. (The
digest is no signature: it stops silent edits and damage, and ``apply --plan`` also checks
that every change follows from the state it names, see ``saved_plans.check_plan_against``.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from reconciler.model import AssociationRef, CalendarSpec, Reminder, Source
from reconciler.planning.changes import (
    ACTIONS,
    READABLE_PLAN_FORMATS,
    Change,
    Plan,
    PropertyDiff,
)
from reconciler.state.model import AppliedAssociation, Pin
from reconciler.state.schema_document import (
    SchemaDocumentError,
    schema_change_from_json,
    schema_change_to_json,
)


class PlanFileError(ValueError):
    """A saved plan that cannot be trusted: edited, damaged, or not a plan at all."""


def plan_to_json(plan_: Plan) -> dict[str, Any]:
    """The documented, versioned JSON form (``plan --json`` and ``plan --out``)."""
    body: dict[str, Any] = {
        "format_version": plan_.format_version,
        "target": plan_.target,
        "project": plan_.project,
        "refreshed": plan_.refreshed,
        "reference_time": plan_.reference_time,
        "state": {"lineage": plan_.state_lineage, "serial": plan_.state_serial},
        "summary": plan_.summary(),
        "schema_changes": [schema_change_to_json(c) for c in plan_.schema_changes],
        "changes": [_change_to_json(c) for c in plan_.changes],
        "unchanged": list(plan_.unchanged),
        "owners": dict(sorted(plan_.owners.items())),
        "timezone": plan_.timezone,
    }
    if plan_.duplicates:
        body["duplicates"] = {a: list(ids) for a, ids in sorted(plan_.duplicates.items())}
    body["digest"] = plan_digest(body)
    return body


def plan_digest(body: Mapping[str, Any]) -> str:
    """sha256 over the state it was made from and the canonical JSON of everything else."""
    rest = {k: v for k, v in body.items() if k != "digest"}
    state = rest.get("state")
    bound = f"{state.get('lineage')}:{state.get('serial')}:" if isinstance(state, Mapping) else ":"
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256((bound + canonical).encode("ascii")).hexdigest()


def _change_to_json(change: Change) -> dict[str, Any]:
    data: dict[str, Any] = {
        "action": change.action,
        "type": change.object_type,
        "key": change.key,
        "address": change.address,
        "reason": change.reason,
        "id": change.hubspot_id,
        "changes": [
            {"property": d.name, "before": d.before, "after": d.after} for d in change.diffs
        ],
    }
    if change.action not in ("archive", "dedupe"):
        data["after"] = dict(change.after)
        data["associations"] = [_ref_to_json(a) for a in change.associations]
        data["add_associations"] = [_ref_to_json(a) for a in change.add_associations]
        data["remove_associations"] = [a.to_json() for a in change.remove_associations]
    if change.drift:
        data["drift"] = [
            {"property": d.name, "applied": d.before, "portal": d.after} for d in change.drift
        ]
    if change.pins:
        data["pins"] = {k: {"expr": p.expr, "value": p.value} for k, p in change.pins.items()}
    if change.calendar is not None:
        cal = change.calendar
        data["calendar"] = {
            "organizer": cal.organizer,
            "timezone": cal.timezone,
            "reminders": [[r.number_of_time_units, r.time_unit] for r in cal.reminders],
            "include_description": cal.include_description,
        }
    if change.moved_from is not None:
        data["from"] = change.moved_from
    if change.source is not None:
        data["source"] = {
            "file": change.source.file,
            "line": change.source.line,
            "column": change.source.column,
        }
    return data


def _ref_to_json(ref: AssociationRef) -> dict[str, Any]:
    return {
        "to_type": ref.to_type,
        "to_key": ref.to_key,
        "to_id": ref.to_id,
        "category": ref.category,
        "type_id": ref.type_id,
        "label": ref.label,
    }


_MISSING = object()


def _field(data: Any, name: str, kinds: tuple[type, ...], default: Any = _MISSING) -> Any:
    """``data[name]`` if it has one of ``kinds`` (bool is never an int here)."""
    if type(data) is not dict:
        raise PlanFileError(f"expected a JSON object where {name!r} is, found {_kind(data)}")
    value = data.get(name, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise PlanFileError(f"{name!r} is missing")
        return default
    if type(value) not in kinds:
        wanted = " or ".join(_kind_name(k) for k in kinds)
        raise PlanFileError(f"{name!r} is {_kind(value)}, not {wanted}")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else _kind_name(type(value))


def _kind_name(kind: type) -> str:
    return {
        str: "a string", int: "a whole number", float: "a number", bool: "true/false",
        list: "a list", dict: "an object", type(None): "null",
    }.get(kind, kind.__name__)


_TEXT = (str,)
_TEXT_OR_NULL = (str, type(None))


def _texts(value: Any, name: str, *, nullable: bool = False) -> dict[str, Any]:
    if type(value) is not dict:
        raise PlanFileError(f"{name!r} is {_kind(value)}, not an object")
    kinds = _TEXT_OR_NULL if nullable else _TEXT
    for k, v in value.items():
        if type(v) not in kinds:
            raise PlanFileError(f"{name}.{k} is {_kind(v)}, not a string")
    return dict(value)


def _diffs(items: Any, name: str, before: str, after: str) -> tuple[PropertyDiff, ...]:
    if type(items) is not list:
        raise PlanFileError(f"{name!r} is {_kind(items)}, not a list")
    return tuple(
        PropertyDiff(
            _field(d, "property", _TEXT),
            _field(d, before, _TEXT_OR_NULL, None),
            _field(d, after, _TEXT_OR_NULL, None),
        )
        for d in items
    )


def _ref_from_json(data: Any) -> AssociationRef:
    return AssociationRef(
        to_type=_field(data, "to_type", _TEXT),
        to_key=_field(data, "to_key", _TEXT_OR_NULL, None),
        to_id=_field(data, "to_id", _TEXT_OR_NULL, None),
        category=_field(data, "category", _TEXT, "HUBSPOT_DEFINED"),
        type_id=_field(data, "type_id", (int, type(None)), None),
        label=_field(data, "label", _TEXT_OR_NULL, None),
    )


def _applied_from_json(data: Any) -> AppliedAssociation:
    return AppliedAssociation(
        to_type=_field(data, "to_type", _TEXT),
        to_id=_field(data, "to_id", _TEXT),
        category=_field(data, "category", _TEXT),
        type_id=_field(data, "type_id", (int,)),
        to_key=_field(data, "to_key", _TEXT_OR_NULL, None),
        label=_field(data, "label", _TEXT_OR_NULL, None),
    )


def _list(data: Any, name: str) -> list[Any]:
    value: list[Any] = _field(data, name, (list,), [])
    return value


def _change_from_json(item: Any) -> Change:
    action = _field(item, "action", _TEXT)
    if action not in ACTIONS:
        raise PlanFileError(
            f"unknown action {action!r} (a plan holds only {', '.join(ACTIONS)})"
        )
    object_type = _field(item, "type", _TEXT)
    key = _field(item, "key", _TEXT)
    address = _field(item, "address", _TEXT, f"{object_type}/{key}")
    if not object_type or not key or address != f"{object_type}/{key}":
        raise PlanFileError(
            f"address {address!r} does not match type {object_type!r} and key {key!r}"
        )
    cal = _field(item, "calendar", (dict, type(None)), None)
    src = _field(item, "source", (dict, type(None)), None)
    pins = _field(item, "pins", (dict,), {})
    calendar = None
    if cal is not None:
        reminders = _list(cal, "reminders")
        for r in reminders:
            if type(r) is not list or len(r) != 2 or type(r[0]) is not int or type(r[1]) is not str:
                raise PlanFileError("calendar.reminders holds something other than [number, unit]")
        calendar = CalendarSpec(
            organizer=_field(cal, "organizer", _TEXT),
            timezone=_field(cal, "timezone", _TEXT),
            reminders=tuple(Reminder(n, u) for n, u in reminders),
            include_description=_field(cal, "include_description", (bool,)),
        )
    return Change(
        action=action,
        object_type=object_type,
        key=key,
        reason=_field(item, "reason", _TEXT, ""),
        hubspot_id=_field(item, "id", _TEXT_OR_NULL, None),
        after=_texts(_field(item, "after", (dict,), {}), "after"),
        diffs=_diffs(_field(item, "changes", (list,), []), "changes", "before", "after"),
        drift=_diffs(_field(item, "drift", (list,), []), "drift", "applied", "portal"),
        add_associations=tuple(_ref_from_json(a) for a in _list(item, "add_associations")),
        remove_associations=tuple(
            _applied_from_json(a) for a in _list(item, "remove_associations")
        ),
        associations=tuple(_ref_from_json(a) for a in _list(item, "associations")),
        pins={
            str(k): Pin(expr=_field(v, "expr", _TEXT), value=_field(v, "value", _TEXT))
            for k, v in pins.items()
        },
        calendar=calendar,
        source=Source(
            _field(src, "file", _TEXT), _field(src, "line", (int,)), _field(src, "column", (int,))
        ) if src is not None else None,
        moved_from=_moved_from(item, action, object_type),
    )


def _moved_from(item: Any, action: str, object_type: str) -> str | None:
    """A move's old address: required, and of the same type (a record keeps its type)."""
    moved_from: str | None = _field(item, "from", _TEXT_OR_NULL, None)
    if action != "move":
        if moved_from is not None:
            raise PlanFileError(f"a {action} names 'from' (only a move does)")
        return None
    if moved_from is None or moved_from.partition("/")[0] != object_type or not (
        moved_from.partition("/")[2]
    ):
        raise PlanFileError(f"a move needs 'from', an address of type {object_type!r}")
    return moved_from


def plan_from_json(data: Any) -> Plan:
    """Read a saved plan (``plan --out``); ``PlanFileError`` if it is not one, is damaged,
    or was edited after it was saved (its digest does not match)."""
    if type(data) is not dict:
        raise PlanFileError(f"a saved plan is a JSON object, this is {_kind(data)}")
    version = data.get("format_version")
    if version not in READABLE_PLAN_FORMATS or type(version) is not int:
        raise PlanFileError(
            f"unsupported plan format {version!r} (this reconciler reads "
            f"{', '.join(map(str, READABLE_PLAN_FORMATS))})"
        )
    digest = data.get("digest")
    if type(digest) is not str:
        raise PlanFileError(
            "it has no digest (saved by an older reconciler, or not by `plan --out`)"
        )
    if digest != plan_digest(data):
        raise PlanFileError("it was changed after it was saved (its digest does not match)")
    state = _field(data, "state", (dict,))
    changes = [_change_from_json(item) for item in _field(data, "changes", (list,))]
    unchanged = _field(data, "unchanged", (list,), [])
    if not all(type(a) is str for a in unchanged):
        raise PlanFileError("'unchanged' holds something other than addresses")
    try:
        schema_changes = tuple(
            schema_change_from_json(item) for item in _field(data, "schema_changes", (list,), [])
        )
    except SchemaDocumentError as exc:
        raise PlanFileError(str(exc)) from None
    duplicates = _field(data, "duplicates", (dict,), {})
    if not all(type(ids) is list and all(type(i) is str for i in ids)
               for ids in duplicates.values()):
        raise PlanFileError("'duplicates' holds something other than lists of ids")
    return Plan(
        changes=tuple(changes),
        unchanged=tuple(unchanged),
        target=_field(data, "target", _TEXT_OR_NULL, None),
        project=_field(data, "project", _TEXT_OR_NULL, None),
        state_lineage=_field(state, "lineage", _TEXT),
        state_serial=_field(state, "serial", (int,)),
        refreshed=_field(data, "refreshed", (bool,), False),
        reference_time=_field(data, "reference_time", _TEXT, ""),
        owners=_texts(_field(data, "owners", (dict,), {}), "owners"),
        timezone=_field(data, "timezone", _TEXT, "UTC"),
        duplicates={str(a): tuple(ids) for a, ids in duplicates.items()},
        schema_changes=schema_changes,
    )
