"""Records → plain spec YAML: what ``reconciler render`` writes.

Every record of a project (generated or hand-written) is written as a hand-written record
would be, with its values as the target's state pinned them where a state exists (so the
rendered folder plans exactly like the generators). Friendly fields are used where the
schema needs them (a meeting's title and start, a call's timestamp); every other value is
a raw property. Strings are written JSON-quoted (valid YAML, and never re-typed by YAML),
with every character YAML would not read back as it is escaped (``yaml_text``), so that
whatever a value, a variable or a name holds, the files hold exactly the project's records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.associations import default_type_id
from reconciler.errors import SpecError, SpecIssue
from reconciler.generate.inputs import PICK_PREFIX
from reconciler.model import (
    ASSOCIATION_TARGET_NAMES,
    SECTION_OBJECT_TYPES,
    AssociationRef,
    DesiredRecord,
    DesiredState,
    ProjectSettings,
)

_SINGULAR = {plural: singular for singular, plural in ASSOCIATION_TARGET_NAMES.items()}
#: Friendly fields a rendered record keeps (the schema requires them), by type:
#: field → property.
_KEPT_FIELDS: Mapping[str, Mapping[str, str]] = {
    "meetings": {"title": "hs_meeting_title", "start": "hs_meeting_start_time",
                 "end": "hs_meeting_end_time"},
    "calls": {"timestamp": "hs_timestamp"},
    "notes": {"timestamp": "hs_timestamp"},
    "tasks": {"subject": "hs_task_subject", "due": "hs_timestamp"},
    "emails": {"subject": "hs_email_subject", "timestamp": "hs_timestamp"},
}
#: Properties a kept friendly field sets besides its own.
_ALSO_SET = {("meetings", "start"): ("hs_timestamp",)}


@dataclass(frozen=True)
class Pinned:
    """What a state recorded for one record: pins (name → (expr, value))."""

    pins: Mapping[str, tuple[str, str]]


def rendered_values(
    record: DesiredRecord, pinned: Pinned | None
) -> tuple[dict[str, str], dict[int, str]]:
    """The record's properties with pinned values applied, and pinned picks by index."""
    properties = dict(record.properties)
    picks: dict[int, str] = {}
    if pinned is None:
        return properties, picks
    for name, expr in record.relative_times.items():
        pin = pinned.pins.get(name)
        if pin is None or pin[0] != expr:
            continue
        if name.startswith(PICK_PREFIX):
            picks[int(name[len(PICK_PREFIX):])] = pin[1]
        elif name in properties:
            properties[name] = pin[1]
    if "hs_meeting_start_time" in record.relative_times and "hs_timestamp" in properties:
        properties["hs_timestamp"] = properties["hs_meeting_start_time"]
    return properties, picks


def record_body(
    record: DesiredRecord, pinned: Pinned | None, known: Mapping[str, DesiredRecord]
) -> dict[str, Any]:
    """A hand-written record's body for ``record`` (plain data)."""
    properties, picks = rendered_values(record, pinned)
    body: dict[str, Any] = {}
    for name, prop in _KEPT_FIELDS.get(record.object_type, {}).items():
        if prop in properties:
            body[name] = properties.pop(prop)
            for other in _ALSO_SET.get((record.object_type, name), ()):
                properties.pop(other, None)
    if record.owner_email is not None:
        body["owner"] = record.owner_email
        properties.pop("hubspot_owner_id", None)
    if properties:
        body["properties"] = dict(sorted(properties.items()))
    if record.calendar is not None:
        calendar = record.calendar
        body["calendar"] = {
            "organizer": calendar.organizer,
            "timezone": calendar.timezone,
            "reminders": [
                {"before": r.number_of_time_units, "unit": r.time_unit} for r in calendar.reminders
            ],
            "include_description": calendar.include_description,
        }
    associations = []
    for index, ref in enumerate(record.associations):
        to_key = picks.get(index, ref.to_key)
        if to_key is not None and f"{ref.to_type}/{to_key}" not in known:
            to_key = ref.to_key
        associations.append(_association(record.object_type, ref, to_key))
    if associations:
        body["associations"] = associations
    return body


def _association(from_type: str, ref: AssociationRef, to_key: str | None) -> dict[str, Any]:
    target: Any = to_key if to_key is not None else {"id": ref.to_id}
    singular = _SINGULAR.get(ref.to_type)
    item: dict[str, Any] = (
        {singular: target} if singular else
        {"object": ref.to_type, **({"key": to_key} if to_key is not None else {"id": ref.to_id})}
    )
    if ref.label is not None:
        item["label"] = ref.label
    elif ref.type_id is not None and ref.type_id != default_type_id(from_type, ref.to_type):
        item["type_id"] = ref.type_id
    if ref.category != "HUBSPOT_DEFINED":
        item["category"] = ref.category
    return item


def render_header(
    project: ProjectSettings, target: str, overrides: tuple[tuple[str, str], ...]
) -> str:
    """The comment at the top of each rendered file: what made it, and with what."""
    from reconciler.generate.loading import resolve_variables, seed_text

    generation = project.generation
    variables = resolve_variables(generation, project.targets, target, overrides)
    # A comment ends at any line break YAML knows: text is shown escaped, never as it is.
    used = ", ".join(f"{name}={_shown(value)}" for name, value in sorted(variables.items()))
    seed = generation.get("seed")
    return (
        f"# Rendered by `reconciler render` from the project {project.name!r} for the target "
        f"{target!r}:\n# seed {_shown(seed) if isinstance(seed, str) else seed_text(seed)}"
        + (f", vars {used}" if used else "")
        + "; values pinned in the target's state are used.\n"
        "# Do not edit: edit the generators and render again.\n"
    )


def _shown(value: Any) -> str:
    return shown_text(value) if isinstance(value, str) else str(value)


#: Records per rendered file: spec files are read up to 16 MiB each (50k generated records
#: make ~20 MB), so a big source file is rendered into parts.
RECORDS_PER_FILE = 5000


def render_files(
    desired: DesiredState, pins: Mapping[str, Pinned], header: str, *, one_file: bool = False,
    per_file: int = RECORDS_PER_FILE,
) -> dict[str, str]:
    """Spec text per file (relative to the project), one per file the records came from
    (in parts of ``per_file``, named so that no part takes another file's name); or
    everything in one (``one_file``: key ``""``). Text that no YAML file can hold (half
    a character) is a ``SpecError`` naming the record."""
    root = Path(desired.project.root)
    grouped: dict[str, list[DesiredRecord]] = {}
    for record in desired.records.values():
        try:
            relative = str(Path(record.source.file).relative_to(root))
        except ValueError:
            relative = Path(record.source.file).name
        grouped.setdefault("" if one_file else relative, []).append(record)
    schemas = _schema_sections(desired, root, one_file=one_file)
    for relative in schemas:
        grouped.setdefault(relative, [])
    files: dict[str, str] = {}
    taken = set(grouped)
    for relative, records in sorted(grouped.items()):
        size = max(len(records), 1) if one_file else per_file
        for part, start in enumerate(range(0, max(len(records), 1), size), start=1):
            name = relative if part == 1 else _part_name(relative, part, taken)
            document: dict[str, Any] = {}
            if part == 1 and relative in schemas:
                document["schema"] = schemas[relative]
            for record in records[start:start + size]:
                body = record_body(record, pins.get(record.address), desired.records)
                if record.object_type in SECTION_OBJECT_TYPES:
                    document.setdefault(record.object_type, {})[record.key] = body
                else:
                    objects = document.setdefault("objects", {})
                    objects.setdefault(record.object_type, {})[record.key] = body
            text = dump(document)
            if _SURROGATE.search(text):  # one scan per file; the records only if it fails
                raise SpecError(_unwritable(records[start:start + size], pins, desired))
            files[name] = header + text
    return files


def _schema_sections(desired: DesiredState, root: Path, *, one_file: bool) -> dict[str, Any]:
    """The ``schema:`` section of each file that has one, as written there: the rendered
    records name its pipelines, stages and labels by key, so it is rendered with them."""
    from ruamel.yaml import YAML

    schema = desired.schema
    sources = {item.source.file for items in (schema.groups, schema.properties,
                                              schema.pipelines, schema.labels)
               for item in items.values()} | {r.source.file for r in schema.removed}
    sections: dict[str, Any] = {}
    for source in sorted(sources):
        try:
            relative = "" if one_file else str(Path(source).relative_to(root))
        except ValueError:
            relative = Path(source).name
        section = YAML(typ="safe").load(Path(source).read_text("utf-8")).get("schema") or {}
        merged = sections.setdefault(relative, {})
        for kind, items in section.items():  # (one file: the sections of all, merged)
            if kind == "removed":
                merged.setdefault(kind, []).extend(items or [])
            elif kind == "labels":
                merged.setdefault(kind, {}).update(items or {})
            else:  # groups, properties, pipelines: by type, then by name
                for object_type, named in (items or {}).items():
                    merged.setdefault(kind, {}).setdefault(object_type, {}).update(named or {})
    return sections


def _part_name(relative: str, part: int, taken: set[str]) -> str:
    """``big.part2.yaml``; ``big.part2-2.yaml`` if the project has a file of that name."""
    path = Path(relative)
    name = str(path.with_name(f"{path.stem}.part{part}{path.suffix}"))
    again = 1
    while name in taken:
        again += 1
        name = str(path.with_name(f"{path.stem}.part{part}-{again}{path.suffix}"))
    taken.add(name)
    return name


def _unwritable(
    records: list[DesiredRecord], pins: Mapping[str, Pinned], desired: DesiredState
) -> list[SpecIssue]:
    issues = []
    for record in records:
        body = record_body(record, pins.get(record.address), desired.records)
        for where, text in [("its key", record.key), *_texts(body, "")]:
            found = _SURROGATE.search(text)
            if found is not None:
                issues.append(SpecIssue(
                    record.source.file, record.source.line, record.source.column, "",
                    f"{record.address}: {where} holds U+{ord(found.group()):04X}, half of a "
                    "character (a lone surrogate): not valid text, and no YAML file can hold "
                    "it; it comes from a template or a --var given in another encoding than "
                    "UTF-8: fix it there",
                ))
                break
    return issues


def _texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a record body (keys too), with where it is (``properties.name``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            yield inner, str(key)
            yield from _texts(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, f"{path}[{index}]")


#: What json.dumps(ensure_ascii=False) leaves as it is but YAML would not read back so:
#: the line breaks YAML knows besides \n and \r (NEL, LS, PS: a comment ends there, a
#: quoted value folds NEL into a space), and what YAML refuses in a file (DEL, C1
#: controls, U+FFFE/U+FFFF), with the byte order mark. Each is written as \uXXXX.
_NOT_AS_IS = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
#: Half a character: not valid text, and no escape of it is valid YAML.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"


def yaml_text(value: Any) -> str:
    """``value`` as JSON on one line: valid YAML that reads back as exactly ``value``
    (surrogates aside, which ``render_files`` refuses)."""
    return _NOT_AS_IS.sub(_escape, json.dumps(value, ensure_ascii=False))


def shown_text(value: str) -> str:
    """``value`` quoted and escaped for a comment or a message: one line, every
    character printable (a surrogate too, as ``\\udce9``)."""
    return _SURROGATE.sub(_escape, yaml_text(value))


def dump(document: Mapping[str, Any]) -> str:
    """Block YAML for mappings down to record bodies; keys and values in JSON (valid YAML)
    form, escaped as ``yaml_text`` escapes them."""
    lines: list[str] = []
    _block(document, 0, lines)
    # Once over the whole text, not per value (a third of the time at 50k records): what
    # it escapes is never YAML's or JSON's own syntax, so it only ever occurs in a string.
    return _NOT_AS_IS.sub(_escape, "\n".join(lines) + "\n")


def _block(mapping: Mapping[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in mapping.items():
        name = json.dumps(str(key), ensure_ascii=False)
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{name}:")
            _block(value, indent + 2, lines)
        elif isinstance(value, list) and value:
            lines.append(f"{pad}{name}:")
            for item in value:
                lines.append(f"{pad}  - {json.dumps(item, ensure_ascii=False, sort_keys=False)}")
        else:
            lines.append(f"{pad}{name}: {json.dumps(value, ensure_ascii=False)}")
