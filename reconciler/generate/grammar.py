"""What a ``generate:`` section says: generators read and checked, patches attached.

The JSON Schema has checked the shape; this reads each generator into a ``Generator``
(its type, key pattern, count, parent, fields in order, associations) and finds what the
schema cannot: a name used twice, a missing type, unknown fields, a bad key pattern, a
patch of no generator. Values are checked later, per field (``values.define``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.generate.inputs import FileSections
from reconciler.generate.shapes import friendly_fields, key_pattern_problem
from reconciler.loading.issues import PathPart, PendingIssue, did_you_mean
from reconciler.model import SECTION_OBJECT_TYPES


@dataclass
class Generator:
    """One generator as written; ``count`` becomes a number or a definition once read."""

    name: str
    file: str
    line: int
    column: int
    object_type: str
    section: str
    key_pattern: str
    count: Any
    for_each: str | None
    locale: str
    fields: list[tuple[str, str, Any]]  # (group "fields"/"properties"/"owner", name, raw)
    associations: list[Any]
    #: named picks, in order: (name, {random_reference: ...} or {reference: ...})
    picks: list[tuple[str, Any]] = field(default_factory=list)
    patches: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    used_patches: set[str] = field(default_factory=set)
    #: ``story:`` as written (its steps become generators: ``reconciler.generate.stories``)
    story: Mapping[str, Any] | None = None
    #: for a story's step: the step (``stories.Step``); its problems are reported at ``where``
    step: Any = None
    where: tuple[PathPart, ...] = ()

    @property
    def path(self) -> tuple[PathPart, ...]:
        """Where the generator is written: ``generate.<name>``, or a story's step."""
        return self.where or ("generate", self.name)


def read_generators(
    sections: list[FileSections], issues: list[PendingIssue]
) -> dict[str, Generator]:
    """Every file's generators by name, with the patches that name them; problems found
    in what was written (not in what it makes) go to ``issues``."""
    generators: dict[str, Generator] = {}

    def issue(file: str, path: tuple[PathPart, ...], message: str, *, at_key: bool = False) -> None:
        issues.append(PendingIssue(file, path, message, at_key=at_key))

    for section in sections:
        for name, body in section.generate.items():
            if not isinstance(body, dict):
                continue
            line, column = section.positions.get(name, (1, 1))
            first = generators.get(name)
            if first is not None:
                issue(
                    section.file, ("generate", name),
                    f"the generator {name!r} is already defined at "
                    f"{first.file}:{first.line}:{first.column}; generator names are unique "
                    "in a project",
                    at_key=True,
                )
                continue
            gen = _generator(issue, section.file, name, body, line, column)
            if gen is not None:
                generators[name] = gen
    for section in sections:
        for name, patches in section.patch.items():
            gen = generators.get(name)
            if gen is None:
                hint = did_you_mean(name, generators) or (
                    "" if generators else "; the project has no generators"
                )
                issue(
                    section.file, ("patch", name), f"no generator is named {name!r}{hint}",
                    at_key=True,
                )
                continue
            if not isinstance(patches, dict):
                continue
            for pattern, body in patches.items():
                if isinstance(body, dict):
                    gen.patches.append((pattern, {"file": section.file, **body}))
    return generators


def _generator(
    issue: Callable[..., None], file: str, name: str, body: Mapping[str, Any], line: int,
    column: int,
) -> Generator | None:
    where = ("generate", name)
    object_type = body.get("type")
    if object_type is None:
        if name not in SECTION_OBJECT_TYPES:
            issue(
                file, where, f"name the object type: type: {', '.join(SECTION_OBJECT_TYPES)}, "
                "or another type like tickets", at_key=True,
            )
            return None
        object_type = name
    object_type = str(object_type)
    section = object_type if object_type in SECTION_OBJECT_TYPES else "objects"
    fields: list[tuple[str, str, Any]] = []
    allowed = friendly_fields(section)
    for field_name, raw in (body.get("fields") or {}).items():
        if field_name not in allowed:
            hint = did_you_mean(field_name, allowed) or (
                f"; {object_type} fields are {', '.join(sorted(allowed))}" if allowed
                else f"; set {object_type} values under properties:"
            )
            issue(
                file, (*where, "fields", field_name), f"unknown field {field_name!r}{hint}",
                at_key=True,
            )
            continue
        fields.append(("fields", field_name, raw))
    for prop, raw in (body.get("properties") or {}).items():
        fields.append(("properties", prop, raw))
    if "owner" in body:
        fields.append(("owner", "owner", body["owner"]))
    key_pattern = str(body.get("key", ""))
    problem = key_pattern_problem(key_pattern)
    if problem:
        issue(file, (*where, "key"), problem)
        return None
    return Generator(
        name=name, file=file, line=line, column=column, object_type=object_type,
        section=section, key_pattern=key_pattern, count=body.get("count", 1),
        for_each=str(body["for_each"]) if body.get("for_each") is not None else None,
        locale=str(body.get("locale") or "en_US"), fields=fields,
        associations=list(body.get("associations") or []),
        story=body.get("story") if isinstance(body.get("story"), dict) else None,
        picks=[(str(k), v) for k, v in (body.get("picks") or {}).items()],
    )
