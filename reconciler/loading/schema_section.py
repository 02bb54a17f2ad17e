"""The ``schema:`` section: the properties, groups, pipelines and labels a project needs in
the portal, declared next to the records that use them.

Per file, ``section_of`` keeps the section (already checked against the JSON Schema) with
the position of each item, as the parse cache stores it. Across files, ``assemble_schema``
builds the ``DesiredSchema`` and reports, located, what HubSpot would refuse or what cannot
mean anything: a field type that does not go with the property's type, an enumeration
without options, options or stage labels given twice, a deal stage without a probability
in steps of 0.1, a unique property where HubSpot has none, the tool's own ``reconciler_``
properties, an item declared in two files, a ``schema.removed`` entry that names something
the spec still declares. HubSpot's rules are ``../shared/hubspot-api-facts.md`` and
design-20 §1 (PropertyCreate, PipelineStageInput, the association labels API).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from reconciler.loading import schema as schemas
from reconciler.loading.issues import PathPart, PendingIssue
from reconciler.model import (
    DesiredSchema,
    GroupSpec,
    LabelSpec,
    OptionSpec,
    PipelineSpec,
    PropertySpec,
    SchemaRemoval,
    Source,
    StageSpec,
)

#: type → the field types HubSpot takes with it (PROPS guide; design-20 §1.2), the default
#: first. calculation_equation, html and file are left to HubSpot's UI.
FIELD_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "string": ("text", "textarea", "phonenumber"),
    "number": ("number",),
    "date": ("date",),
    "datetime": ("date",),
    "bool": ("booleancheckbox",),
    "enumeration": ("select", "radio", "checkbox", "booleancheckbox"),
    "phone_number": ("phonenumber",),
})
#: HubSpot refuses a property with more options (400 "A property can have at most 5000
#: options"): refused at load, not half-way through an apply.
MAX_OPTIONS = 5000
#: Object types with unique-value properties (PROPS guide; none documented for engagements).
UNIQUE_TYPES = frozenset({"contacts", "companies", "deals", "tickets"})
_CUSTOM_TYPE = re.compile(r"p_[a-z0-9_]+|[0-9]+-[0-9]+")
#: The reconciler's own properties (markers, applied digest): apply makes them.
TOOL_PREFIX = "reconciler_"
REMOVAL_KINDS = ("property", "option", "group", "pipeline", "stage", "label")
#: how many parts each kind of ``schema.removed`` path has
_REMOVAL_PARTS = {"property": 2, "option": 3, "group": 2, "pipeline": 2, "stage": 3, "label": 1}

Cached = dict[str, Any]  # {"section": the schema: mapping, "at": {item path: [line, column]}}


def section_of(document: Mapping[str, Any], locate: Any) -> Cached | None:
    """The file's ``schema:`` section as the cache keeps it, or None (none, or invalid:
    the JSON Schema's issues say why). ``locate(path) -> (line, column) | None``."""
    section = document.get("schema")
    if not isinstance(section, dict) or not section:
        return None
    if not schemas.is_valid("spec", {"schema": section}):
        return None
    at: dict[str, list[int]] = {}

    def mark(*path: str | int) -> None:
        where = locate(("schema", *path)) or (1, 1)
        at["/".join(str(p) for p in path)] = [where[0], where[1]]

    for kind in ("groups", "properties"):
        for object_type, items in (section.get(kind) or {}).items():
            for name in items or {}:
                mark(kind, object_type, name)
    for object_type, pipelines in (section.get("pipelines") or {}).items():
        for key, body in (pipelines or {}).items():
            mark("pipelines", object_type, key)
            for stage in body["stages"]:
                mark("pipelines", object_type, key, "stages", stage)
    for key in section.get("labels") or {}:
        mark("labels", key)
    for index, _entry in enumerate(section.get("removed") or []):
        mark("removed", index)
    return {"section": section, "at": at}


def section_is_sound(value: Any) -> bool:
    """True if a cached ``section_of`` value has its shape (else: parse again)."""
    if value is None:
        return True
    if type(value) is not dict or set(value) != {"section", "at"}:
        return False
    at = value["at"]
    return (
        type(at) is dict
        and all(type(p) is list and len(p) == 2 and all(type(n) is int for n in p)
                for p in at.values())
        and type(value["section"]) is dict
        and schemas.is_valid("spec", {"schema": value["section"]})
    )


class _Builder:
    """Builds the specs of every file's section, collecting issues."""

    def __init__(self) -> None:
        self.issues: list[PendingIssue] = []
        self.groups: dict[str, GroupSpec] = {}
        self.properties: dict[str, PropertySpec] = {}
        self.pipelines: dict[str, PipelineSpec] = {}
        self.labels: dict[str, LabelSpec] = {}
        self.removed: list[tuple[SchemaRemoval, tuple[PathPart, ...], str]] = []
        self.display = ""
        self.at: Mapping[str, list[int]] = {}

    def issue(self, path: tuple[PathPart, ...], message: str, *, at_key: bool = False) -> None:
        self.issues.append(PendingIssue(self.display, ("schema", *path), message, at_key=at_key))

    def source(self, *path: str) -> Source:
        line, column = self.at.get("/".join(path), [1, 1])
        return Source(self.display, line, column)

    def once(self, kind: str, address: str, known: Mapping[str, Any],
             path: tuple[PathPart, ...]) -> bool:
        """False (and an issue) if another file declares the same item already."""
        first = known.get(address)
        if first is None:
            return True
        where = f"{first.source.file}:{first.source.line}:{first.source.column}"
        self.issue(path, f"{kind} {address} is already declared at {where}", at_key=True)
        return False

    # -- groups and properties -----------------------------------------------------------

    def group(self, object_type: str, name: str, body: Mapping[str, Any]) -> None:
        path = ("groups", object_type, name)
        if self.once("group", f"{object_type}/{name}", self.groups, path):
            self.groups[f"{object_type}/{name}"] = GroupSpec(
                object_type, name, str(body["label"]), self.source(*path), body.get("order"),
            )

    def property(self, object_type: str, name: str, body: Mapping[str, Any]) -> None:
        path: tuple[PathPart, ...] = ("properties", object_type, name)
        ok = True
        if name.startswith(TOOL_PREFIX):
            self.issue(path, f"{name} is the reconciler's own property (apply makes it); "
                             "choose another name", at_key=True)
            ok = False
        elif name.startswith("hs_"):
            self.issue(path, f"{name}: names starting with hs_ are HubSpot's; choose another "
                             "name", at_key=True)
            ok = False
        kind = str(body["type"])
        allowed = FIELD_TYPES[kind]
        field_type = str(body.get("field", allowed[0]))
        if field_type not in allowed:
            use = allowed[0] if len(allowed) == 1 else "one of " + ", ".join(allowed)
            self.issue((*path, "field"), f"{field_type} is not valid for type {kind}; use {use}")
            ok = False
        options = self.options(path, kind, body.get("options"))
        ok = ok and options is not None
        if body.get("unique"):
            ok = self.unique(path, object_type, kind) and ok
        if not ok or not self.once("property", f"{object_type}/{name}", self.properties, path):
            return
        self.properties[f"{object_type}/{name}"] = PropertySpec(
            object_type=object_type, name=name, label=str(body["label"]), type=kind,
            field_type=field_type, group=str(body.get("group") or ""),
            source=self.source(*(str(p) for p in path)), options=options or (),
            unique=bool(body.get("unique", False)), description=body.get("description"),
            hidden=body.get("hidden"), order=body.get("order"),
        )

    def options(self, path: tuple[PathPart, ...], kind: str,
                items: list[Mapping[str, Any]] | None) -> tuple[OptionSpec, ...] | None:
        if kind != "enumeration":
            if items is not None:
                what = ("bool properties have the options true and false" if kind == "bool"
                        else f"a {kind} property has no options")
                self.issue((*path, "options"), f"{what}; options are for type enumeration",
                           at_key=True)
                return None
            return ()
        if not items:
            self.issue(path if items is None else (*path, "options"),
                       "an enumeration needs options: [{value: ..., label: ...}]", at_key=True)
            return None
        if len(items) > MAX_OPTIONS:
            self.issue((*path, "options"), f"{len(items)} options; HubSpot takes at most "
                       f"{MAX_OPTIONS} on a property", at_key=True)
            return None
        made: list[OptionSpec] = []
        values: dict[str, int] = {}
        labels: dict[str, int] = {}
        ok = True
        for index, item in enumerate(items):
            value = _text(item["value"])
            label = str(item["label"])
            for seen, text, what in ((values, value, "value"), (labels, label.casefold(),
                                                                "label")):
                if text in seen:
                    self.issue((*path, "options", index, what),
                               f"option {what} {item[what]!r} is also option {seen[text]}; "
                               f"each {what} must be unique")
                    ok = False
                seen.setdefault(text, index)
            made.append(OptionSpec(value, label, item.get("order", index),
                                   bool(item.get("hidden", False)), item.get("description")))
        return tuple(made) if ok else None

    def unique(self, path: tuple[PathPart, ...], object_type: str, kind: str) -> bool:
        if object_type not in UNIQUE_TYPES and not _CUSTOM_TYPE.fullmatch(object_type):
            self.issue((*path, "unique"), f"HubSpot has no unique-value properties for "
                       f"{object_type} (only contacts, companies, deals, tickets and custom "
                       "objects)")
            return False
        if kind not in ("string", "number"):
            self.issue((*path, "unique"), f"a {kind} property cannot hold unique values; "
                       "use type string or number")
            return False
        return True

    # -- pipelines -----------------------------------------------------------------------

    def pipeline(self, object_type: str, key: str, body: Mapping[str, Any]) -> None:
        path = ("pipelines", object_type, key)
        stages: list[StageSpec] = []
        labels: dict[str, str] = {}
        for index, (stage_key, stage) in enumerate(body["stages"].items()):
            where = (*path, "stages", stage_key)
            made = self.stage(object_type, where, stage_key, index, stage)
            if made is None:
                continue
            first = labels.setdefault(made.label.strip().casefold(), stage_key)
            if first != stage_key:
                self.issue((*where, "label"), f"{made.label!r} is the label of stage {first} "
                           f"of {key} too; stage labels are unique within a pipeline")
            stages.append(made)
        # (kept with its good stages even when some are wrong: records naming them are
        # checked in the same pass; the load fails on the issues anyway)
        address = f"{object_type}/{key}"
        for other in self.pipelines.values():
            if (other.object_type == object_type and other.key != key
                    and other.label.strip().casefold() == str(body["label"]).strip().casefold()):
                self.issue((*path, "label"), f"pipeline {other.address} has the label "
                           f"{other.label!r} too; pipeline labels are unique per object type")
                return
        if self.once("pipeline", address, self.pipelines, path):
            self.pipelines[address] = PipelineSpec(
                object_type, key, str(body["label"]), tuple(stages), self.source(*path),
                body.get("order"),
            )

    def stage(self, object_type: str, where: tuple[str, ...], key: str, index: int,
              body: Mapping[str, Any]) -> StageSpec | None:
        probability = body.get("probability")
        state = body.get("state")
        if object_type == "deals":
            if state is not None:
                self.issue((*where, "state"), "state is for ticket stages; a deal stage has a "
                           "probability", at_key=True)
                return None
            if probability is None:
                self.issue(where, "a deal stage needs a probability (0.0 to 1.0, e.g. 0.2; "
                           "1.0 for won, 0.0 for lost)", at_key=True)
                return None
            tenths = float(probability) * 10
            if not math.isclose(tenths, round(tenths), abs_tol=1e-9):
                self.issue((*where, "probability"), f"{probability} is not a step of 0.1; "
                           "HubSpot takes 0.0, 0.1, ... 1.0")
                return None
        elif probability is not None:
            self.issue((*where, "probability"), "probability is for deal stages; a ticket "
                       "stage may have a state (open or closed)", at_key=True)
            return None
        return StageSpec(
            key=key, label=str(body["label"]), order=body.get("order", index),
            source=self.source(*where),
            probability=f"{float(probability):.1f}" if probability is not None else None,
            state=str(state).upper() if state is not None else None,
            explicit_order="order" in body,
        )

    # -- labels and removals -------------------------------------------------------------

    def label(self, key: str, body: Mapping[str, Any]) -> None:
        path = ("labels", key)
        from_type, _, to_type = str(body["between"]).partition("/")
        name = str(body.get("name") or re.sub(r"[-.]", "_", key))
        if not re.fullmatch(r"[a-z][a-z_0-9]*", name):
            self.issue(path, f"the key {key!r} does not make an internal name; give name: "
                       "(lowercase letters, digits and _, starting with a letter)", at_key=True)
            return
        pair = {from_type, to_type}
        for other in self.labels.values():
            if {other.from_type, other.to_type} != pair or other.key == key:
                continue
            if other.name == name:
                self.issue(path, f"label {other.key} has the name {name!r} too; names are "
                           f"unique per pair of types (give name:)", at_key=True)
                return
            if other.label.casefold() == str(body["label"]).casefold() and (
                    other.from_type, other.to_type) == (from_type, to_type):
                self.issue((*path, "label"), f"label {other.key} is {other.label!r} too; "
                           "labels are unique per pair of types")
                return
        if self.once("label", key, self.labels, path):
            self.labels[key] = LabelSpec(
                key, from_type, to_type, str(body["label"]), name, self.source(*path),
                body.get("inverse"),
            )

    def removal(self, index: int, entry: Mapping[str, Any]) -> None:
        kind, text = next(iter(entry.items()))
        path = ("removed", index, kind)
        parts = str(text).split("/")
        wanted = _REMOVAL_PARTS[kind]
        if len(parts) != wanted or not all(parts):
            shape = {1: "<key>", 2: "<type>/<name>", 3: "<type>/<name>/<value>"}[wanted]
            if kind == "stage":
                shape = "<type>/<pipeline key>/<stage key>"
            elif kind == "pipeline":
                shape = "<type>/<key>"
            self.issue(path, f"{text!r} is not a {kind} to remove; write {shape}")
            return
        if kind in ("pipeline", "stage") and parts[0] not in ("deals", "tickets"):
            self.issue(path, f"{parts[0]} have no pipelines; only deals and tickets do")
            return
        self.removed.append(
            (SchemaRemoval(kind, str(text), self.source("removed", str(index))), path,
             self.display)
        )


def assemble_schema(
    files: Iterable[tuple[str, Cached]],
) -> tuple[DesiredSchema, list[PendingIssue]]:
    """Every file's ``schema:`` section (``section_of``), merged and checked."""
    builder = _Builder()
    for display, cached in files:
        builder.display, builder.at = display, cached["at"]
        section = cached["section"]
        for object_type, items in (section.get("groups") or {}).items():
            for name, body in (items or {}).items():
                builder.group(object_type, name, body)
        for object_type, items in (section.get("properties") or {}).items():
            for name, body in (items or {}).items():
                builder.property(object_type, name, body)
        for object_type, items in (section.get("pipelines") or {}).items():
            for key, body in (items or {}).items():
                builder.pipeline(object_type, key, body)
        for key, body in (section.get("labels") or {}).items():
            builder.label(key, body)
        for index, entry in enumerate(section.get("removed") or []):
            builder.removal(index, entry)
    schema = DesiredSchema(
        groups=MappingProxyType(builder.groups),
        properties=MappingProxyType(builder.properties),
        pipelines=MappingProxyType(builder.pipelines),
        labels=MappingProxyType(builder.labels),
        removed=tuple(removal for removal, _path, _display in builder.removed),
    )
    builder.issues.extend(_removal_issues(schema, builder.removed))
    return schema, builder.issues


def _removal_issues(
    schema: DesiredSchema,
    removed: list[tuple[SchemaRemoval, tuple[PathPart, ...], str]],
) -> list[PendingIssue]:
    """A removed item must not be declared too; the same item is removed once."""
    issues: list[PendingIssue] = []
    seen: dict[tuple[str, str], Source] = {}
    for removal, path, display in removed:
        kind, text = removal.kind, removal.path
        first = seen.setdefault((kind, text), removal.source)
        if first is not removal.source:
            where = f"{first.file}:{first.line}:{first.column}"
            issues.append(PendingIssue(display, ("schema", *path),
                                       f"{kind} {text} is removed twice (also at {where})"))
            continue
        declared = _declared(schema, kind, text)
        if declared is not None:
            issues.append(PendingIssue(display, ("schema", *path), (
                f"{kind} {text} is still declared at {declared.file}:{declared.line}; "
                "schema.removed deletes it from the portal: drop the declaration, or this entry"
            )))
        elif (kind in ("property", "group", "option")
              and text.split("/")[1].startswith(TOOL_PREFIX)):
            owner = "/".join(text.split("/")[:2])
            issues.append(PendingIssue(display, ("schema", *path), (
                f"{owner} is the reconciler's own property; it is never removed"
                + (", nor its options" if kind == "option" else "")
            )))
    return issues


def _declared(schema: DesiredSchema, kind: str, text: str) -> Source | None:
    if kind == "property":
        found = schema.properties.get(text)
        return found.source if found else None
    if kind == "group":
        group = schema.groups.get(text)
        return group.source if group else None
    if kind == "pipeline":
        pipeline = schema.pipelines.get(text)
        return pipeline.source if pipeline else None
    if kind == "label":
        label = schema.labels.get(text)
        return label.source if label else None
    head, _, last = text.rpartition("/")
    if kind == "stage":
        pipeline = schema.pipelines.get(head)
        stage = pipeline.stage(last) if pipeline else None
        return stage.source if stage else None
    owner = schema.properties.get(head)  # an option
    if owner is not None and any(o.value == last for o in owner.options):
        return owner.source
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


__all__ = [
    "FIELD_TYPES", "TOOL_PREFIX", "UNIQUE_TYPES", "assemble_schema", "section_is_sound",
    "section_of",
]
