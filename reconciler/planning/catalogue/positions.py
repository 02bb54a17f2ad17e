"""Findings → located ``SpecIssue``s: the line and column of the field that set a property.

A ``DesiredRecord`` knows only where its key was written. The files are re-read only when
there is something to report, and each finding points at what the user wrote: the entry
under ``properties:``, or the friendly field that set the property (``stage:`` for
``dealstage``), or the association item's ``label:`` or target; ``default_owner`` in
``reconciler.yaml`` for an owner the record inherited; else the record's key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import SpecIssue
from reconciler.loading.files import read_file
from reconciler.loading.friendly import FRIENDLY_FIELDS
from reconciler.loading.issues import PathPart, render_path
from reconciler.loading.yaml_positions import locate
from reconciler.loading.yamlfile import ParsedFile, decode, parse
from reconciler.model import (
    ASSOCIATION_TARGET_NAMES,
    SECTION_OBJECT_TYPES,
    AssociationRef,
    DesiredRecord,
    DesiredState,
)
from reconciler.planning.catalogue.rules import Finding

#: Fields that set a property although the table of friendly fields names another one.
_EXTRA_FIELDS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("meetings", "hs_timestamp"): ("start",),
    ("meetings", "hs_meeting_end_time"): ("duration",),
}


def locate_findings(findings: list[Finding], desired: DesiredState) -> list[SpecIssue]:
    """One located issue per finding (duplicates, such as one ``default_owner``, merged)."""
    files = _Files(Path(desired.project.root))
    located = {_locate(finding, desired, files) for finding in findings}
    return sorted(located)


class _Files:
    """Each file re-read at most once, for its data and its nodes, as the loader reads it
    (``read_file``: no link out of the project, FIFO or device; a refusal means no position)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._parsed: dict[str, ParsedFile | None] = {}

    def get(self, display: str) -> ParsedFile | None:
        if display not in self._parsed:
            parsed: ParsedFile | None = None
            raw, _ = read_file(Path(display), display, self._root)
            text = decode(raw, display)[0] if raw is not None else None
            if text is not None:
                parsed = parse(text, display)
                if parsed.root is None:
                    parsed = None
            self._parsed[display] = parsed
        return self._parsed[display]


def record_path(object_type: str, key: str) -> tuple[str, ...]:
    """Where a record is written: ``(section, key)`` or ``("objects", type, key)``."""
    if object_type in SECTION_OBJECT_TYPES:
        return (object_type, key)
    return ("objects", object_type, key)


def _locate(finding: Finding, desired: DesiredState, files: _Files) -> SpecIssue:
    record = desired.records[finding.address]
    base = record_path(record.object_type, record.key)
    parsed = files.get(record.source.file)
    body = _at(parsed.data, base) if parsed is not None else None

    def issue(suffix: tuple[PathPart, ...], *, found: bool) -> SpecIssue:
        path = (*base, *suffix)
        line, column = record.source.line, record.source.column
        if found and parsed is not None and parsed.root is not None:
            position = locate(parsed.root, path, at_key=finding.at_key)
            if position is not None:
                line, column = position
        return SpecIssue(record.source.file, line, column, render_path(path), finding.message)

    if finding.prop is not None:
        candidates = _candidates(record.object_type, finding.prop)
        for suffix in candidates:
            if _at(body, suffix) is not None:
                return issue(suffix, found=True)
        if finding.prop == "hubspot_owner_id":
            inherited = _default_owner_issue(desired, files, finding.message)
            if inherited is not None:
                return inherited
        return issue(candidates[-1], found=False)
    if finding.association is not None:
        index = _association_index(body, record, finding.association)
        item = _at(body, ("associations", index))
        if finding.about_target:
            names = [n for n in ASSOCIATION_TARGET_NAMES if isinstance(item, dict) and n in item]
            field = names[0] if names else "id"
        else:  # a label that does not exist, or a type id the pair does not have
            field = "type_id" if isinstance(item, dict) and "type_id" in item else "label"
        where: tuple[PathPart, ...] = ("associations", index, field)
        return issue(where, found=_at(body, where) is not None)
    return SpecIssue(
        record.source.file, record.source.line, record.source.column, render_path(base),
        finding.message,
    )


def _candidates(object_type: str, prop: str) -> list[tuple[PathPart, ...]]:
    """The places a property can be set in a record, the raw ``properties:`` entry first
    and the most likely friendly field last (the fallback when none is found)."""
    found: list[tuple[PathPart, ...]] = [("properties", prop)]
    found.extend((f,) for f in _EXTRA_FIELDS.get((object_type, prop), ()))
    if prop == "hubspot_owner_id":
        found.append(("owner",))
    found.extend(
        (field,) for field, (name, _kind) in FRIENDLY_FIELDS.get(object_type, {}).items()
        if name == prop
    )
    return found


def _default_owner_issue(desired: DesiredState, files: _Files, message: str) -> SpecIssue | None:
    project = desired.project
    if project.default_owner is None or project.source_file is None:
        return None
    parsed = files.get(project.source_file)
    position = None
    if parsed is not None and parsed.root is not None:
        position = locate(parsed.root, ("default_owner",), at_key=False)
    line, column = position or (1, 1)
    return SpecIssue(project.source_file, line, column, "default_owner", message)


def _association_index(body: Any, record: DesiredRecord, number: int) -> int:
    """The item of ``associations:`` that became ``record.associations[number]``."""
    items = _at(body, ("associations",))
    ref = record.associations[number]
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict) and _describes(item, ref):
                return index
    return number


def _describes(item: Mapping[str, Any], ref: AssociationRef) -> bool:
    label = item.get("label")
    if (str(label) if label is not None else None) != ref.label:
        return False
    if "type_id" in item and item["type_id"] != ref.type_id:
        return False
    for name, to_type in ASSOCIATION_TARGET_NAMES.items():
        if name in item:
            target = item[name]
            if to_type != ref.to_type:
                return False
            if isinstance(target, dict):
                return str(target.get("id")) == ref.to_id
            return str(target) == ref.to_key
    if "object" in item:
        to_id, to_key = item.get("id"), item.get("key")
        return (str(to_id) if to_id is not None else None) == ref.to_id and (
            str(to_key) if to_key is not None else None
        ) == ref.to_key
    return False


def _at(data: Any, path: tuple[PathPart, ...]) -> Any:
    """The value at ``path`` in plain data, or None when the path is not there."""
    node = data
    for part in path:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node
