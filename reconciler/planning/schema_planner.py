"""The schema planner: the spec's ``schema:`` + what the portal's schema holds + the ids the
target's state keeps → the schema changes of a plan, and what each key resolves to in this
target. No I/O (``reconciler.workflow.schema_reads`` reads the portal first).

Rules (design-20 §3; each refusal is a located ``SpecError``, before anything is sent):
- what the spec declares and the portal lacks is created; what differs is updated; what
  the portal has under the same label (pipelines, stages, labels) or name (properties,
  groups) is adopted: mapped to the spec's key in this target's state, not made again;
- nothing is deleted unless ``schema.removed`` names it; schema the spec does not mention
  is never read into a change (an option the portal has and the spec does not list is kept);
- a property holding data is never archived or retyped without ``allow_data_loss``, nor
  one this target did not make retyped; an option, stage or pipeline records still use is never
  removed, nor a label managed records use, nor HubSpot's own properties, default pipelines
  and labels; a protected target never deletes schema (its removals are shown as kept);
  ``unique`` cannot change once a property is made (PropertyUpdate has no hasUniqueValue).

Offline, the plan comes from the state alone: what it does not know is created, the rest
resolves to its ids, removals wait. Pipelines, stages and labels: ``schema_pipelines``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.errors import SpecError, SpecIssue
from reconciler.identity.markers import MARKER_GROUP, MARKER_PROPERTY
from reconciler.model import DesiredRecord, DesiredSchema, PropertySpec, Source
from reconciler.planning.schema_changes import FieldDiff, SchemaChange, schema_issue
from reconciler.planning.schema_pipelines import LabelTarget, label_changes, pipeline_changes
from reconciler.planning.schema_remote import RemoteProperty, RemoteSchema
from reconciler.state.model import RecordState
from reconciler.state.schema_ids import SchemaIds


@dataclass(frozen=True, slots=True)
class SchemaPlan:
    """The schema changes, and what the spec's keys are in this target: pipeline and stage
    ids (or placeholders until apply makes them), label type ids, and each declared
    property's options as they will be (for the catalogue's checks)."""

    changes: tuple[SchemaChange, ...] = ()
    pipelines: Mapping[str, str] = field(default_factory=dict)
    stages: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, LabelTarget] = field(default_factory=dict)
    options: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


def default_group(object_type: str, remote: RemoteSchema | None) -> str:
    """The group a property goes to when the spec names none: the type's information
    group (``companyinformation``), or the group its properties are in."""
    name = MARKER_GROUP.get(object_type, f"{object_type.rstrip('s')}information")
    groups = remote.groups.get(object_type) if remote is not None else None
    if groups is None or name in groups:
        return name
    existing = remote.properties.get(object_type, {}) if remote is not None else {}
    return next((p.group for p in existing.values() if p.group), name)


def plan_schema(
    schema: DesiredSchema,
    remote: RemoteSchema | None,
    known: SchemaIds,
    *,
    records: Mapping[str, DesiredRecord] | None = None,
    managed: Mapping[str, RecordState] | None = None,
    protected: bool = False,
    allow_data_loss: bool = False,
) -> SchemaPlan:
    """Plan the schema; ``SpecError`` with every refusal. ``records``: the spec's (an
    option they use is not removed); ``managed``: the state's (a label they use is not
    deleted)."""
    planner = _Planner(schema, remote, known, protected, allow_data_loss)
    planner.groups()
    planner.properties(records or {})
    pipelines = pipeline_changes(schema, remote, known, protected=protected)
    labels = label_changes(schema, remote, known, managed or {}, protected=protected)
    issues = [*planner.issues, *pipelines.issues, *labels.issues]
    if issues:
        raise SpecError(issues)
    return SchemaPlan(
        changes=(*planner.changes, *pipelines.changes, *labels.changes, *planner.removals,
                 *pipelines.removals, *labels.removals),
        pipelines=pipelines.ids, stages=pipelines.stage_ids, labels=labels.targets,
        options=planner.options,
    )


def marker_changes(written: set[str], remote: RemoteSchema | None) -> tuple[SchemaChange, ...]:
    """The tool's marker properties on each type records will be written to, where the
    portal does not have them yet (apply makes them first: ``marker_writes.ensure_markers``)."""
    if remote is None:
        return ()
    return tuple(
        SchemaChange("create", "marker", object_type, MARKER_PROPERTY,
                     "the tool's own marker properties, made on the first apply to "
                     f"{object_type}")
        for object_type in sorted(written)
        if object_type in remote.properties
        and MARKER_PROPERTY not in remote.properties[object_type]
    )


class _Planner:
    def __init__(self, schema: DesiredSchema, remote: RemoteSchema | None, known: SchemaIds,
                 protected: bool, allow_data_loss: bool) -> None:
        self.schema, self.remote, self.known = schema, remote, known
        self.protected, self.allow = protected, allow_data_loss
        self.changes: list[SchemaChange] = []
        self.removals: list[SchemaChange] = []
        self.issues: list[SpecIssue] = []
        self.options: dict[str, tuple[tuple[str, str], ...]] = {}

    # -- groups ----------------------------------------------------------------------------

    def groups(self) -> None:
        for address, group in self.schema.groups.items():
            existing = (self.remote.groups.get(group.object_type)
                        if self.remote is not None else None)
            body = {"name": group.name, "label": group.label}
            if group.order is not None:
                body["displayOrder"] = group.order  # type: ignore[assignment]
            if existing is None or group.name not in existing:  # (offline: the state's)
                if self.remote is not None or address not in self.known.groups:
                    self.changes.append(SchemaChange("create", "group", group.object_type,
                                                     group.name, "new in the spec", body=body,
                                                     source=group.source))
                continue
            assert self.remote is not None
            if any(p.builtin and p.group == group.name  # (HubSpot's groups have no flag)
                   for p in self.remote.properties.get(group.object_type, {}).values()):
                where = "schema.groups." + address.replace("/", ".")
                self.issues.append(schema_issue(group.source, where, (
                    f"{group.name} is HubSpot's own group (it holds HubSpot's properties); the "
                    "spec declares only its own: name it as a property's group: alone")))
                continue
            diffs = []
            if existing[group.name] != group.label:
                diffs.append(FieldDiff("label", existing[group.name], group.label))
            order = self.remote.group_orders.get(group.object_type, {}).get(group.name)
            if group.order is not None and order is not None and order != group.order:
                diffs.append(FieldDiff("order", str(order), str(group.order)))
            if diffs:
                update = {("displayOrder" if d.field == "order" else d.field): (
                    group.order if d.field == "order" else group.label) for d in diffs}
                self.changes.append(SchemaChange("update", "group", group.object_type,
                                                 group.name, _changed(address, self.known.groups),
                                                 diffs=tuple(diffs), body=update,
                                                 source=group.source))
            elif address not in self.known.groups:
                self.changes.append(SchemaChange("adopt", "group", group.object_type,
                                                 group.name, "exists in the portal",
                                                 source=group.source))
        for removal in self.schema.removed:
            if removal.kind == "group":
                self._remove_group(removal.path, removal.source)

    def _remove_group(self, address: str, source: Source) -> None:
        object_type, _, name = address.partition("/")
        groups = self.remote.groups.get(object_type) if self.remote is not None else None
        if groups is None or name not in groups:
            return
        if self._kept("group", object_type, name, source):
            return
        assert self.remote is not None
        inside = sorted(p.name for p in self.remote.properties.get(object_type, {}).values()
                        if p.group == name)
        inside += sorted(p.name for p in self.schema.properties.values()
                         if p.object_type == object_type and p.group == name)
        if inside:
            self.issues.append(schema_issue(source, "schema.removed", (
                f"group {address} still holds {', '.join(inside[:5])}; move or remove those "
                "properties first")))
            return
        self.removals.append(SchemaChange("archive", "group", object_type, name,
                                          "listed in schema.removed", source=source))

    # -- properties ------------------------------------------------------------------------

    def properties(self, records: Mapping[str, DesiredRecord]) -> None:
        removed_options: dict[str, set[str]] = {}
        for removal in self.schema.removed:
            if removal.kind == "option" and not self.protected:
                head, _, value = removal.path.rpartition("/")
                removed_options.setdefault(head, set()).add(value)
        for address, prop in self.schema.properties.items():
            self._property(address, prop, removed_options.get(address, set()))
        for removal in self.schema.removed:
            if removal.kind == "property":
                self._remove_property(removal.path, removal.source)
            elif removal.kind == "option":
                self._remove_option(removal.path, removal.source, records)

    def _property(self, address: str, prop: PropertySpec, removed: set[str]) -> None:
        group = prop.group or default_group(prop.object_type, self.remote)
        remote = self.remote
        existing = remote.properties.get(prop.object_type, {}).get(prop.name) if remote else None
        options = _merged_options(prop, existing, removed)
        self.options[address] = tuple((str(o["value"]), str(o["label"])) for o in options)
        where = f"schema.properties.{prop.object_type}.{prop.name}"
        if remote is not None and prop.object_type in remote.groups:
            planned = {g.name for g in self.schema.groups.values()
                       if g.object_type == prop.object_type}
            if group not in remote.groups[prop.object_type] and group not in planned:
                self.issues.append(schema_issue(prop.source, where, (
                    f"group {group!r} does not exist for {prop.object_type} in this portal; "
                    f"declare it under schema.groups.{prop.object_type}")))
                return
        if existing is None:
            if remote is None and address in self.known.properties:
                return
            self.changes.append(SchemaChange("create", "property", prop.object_type, prop.name,
                                             "new in the spec", body=_create_body(prop, group,
                                                                                  options),
                                             source=prop.source))
            return
        if existing.builtin:
            self.issues.append(schema_issue(prop.source, where, (
                f"{prop.name} is HubSpot's own property of {prop.object_type}; the spec "
                "declares only custom properties")))
            return
        if existing.unique != prop.unique:
            self.issues.append(schema_issue(prop.source, where, (
                f"unique cannot change once a property is made ({prop.name} is "
                f"{'' if existing.unique else 'not '}unique in this portal); set unique: "
                f"{'true' if existing.unique else 'false'}")))
            return
        diffs, body = _property_diffs(prop, existing, group, options)
        if existing.type != prop.type:
            self._retype(prop, existing, diffs, body, where)
        elif diffs:
            self.changes.append(SchemaChange("update", "property", prop.object_type, prop.name,
                                             _changed(address, self.known.properties),
                                             diffs=tuple(diffs), body=body, source=prop.source))
        elif address not in self.known.properties:
            self.changes.append(SchemaChange("adopt", "property", prop.object_type, prop.name,
                                             "exists in the portal", source=prop.source))

    def _retype(self, prop: PropertySpec, existing: RemoteProperty, diffs: list[FieldDiff],
                body: dict[str, object], where: str) -> None:
        holding = self._usage(f"property:{prop.object_type}/{prop.name}")
        change = f"changing its type from {existing.type} to {prop.type}"
        count = "an unknown number of" if holding is None else str(holding)
        refusal = (
            f"the target is protected: {change} is refused (it can lose the values records "
            "hold); change it in a sandbox, or keep the type" if self.protected
            else None if self.allow
            else f"{prop.name} exists in this portal as {existing.type} and this target did not "
            f"make it; {change} changes it for all who use it: give the spec's property another "
            "name, or run apply --allow-schema-data-loss to do it anyway"
            if f"{prop.object_type}/{prop.name}" not in self.known.properties
            else f"{prop.name} holds data in {count} record(s); {change} can lose it: run apply "
            "--allow-schema-data-loss to do it anyway" if holding != 0 else None)
        if refusal is not None:
            self.issues.append(schema_issue(prop.source, where, refusal))
            return
        diffs.insert(0, FieldDiff("type", existing.type, prop.type))
        body = {"type": prop.type, "fieldType": prop.field_type, **body}
        self.changes.append(SchemaChange("retype", "property", prop.object_type, prop.name,
                                         _holding(holding), diffs=tuple(diffs), body=body,
                                         source=prop.source, loses_data=holding != 0))

    def _remove_property(self, address: str, source: Source) -> None:
        object_type, _, name = address.partition("/")
        existing = (self.remote.properties.get(object_type, {}).get(name)
                    if self.remote is not None else None)
        if existing is None:
            return
        if existing.builtin or not existing.archivable:
            self.issues.append(schema_issue(source, "schema.removed", (
                f"{address} is HubSpot's own property; it is never removed")))
            return
        if self._kept("property", object_type, name, source):
            return
        holding = self._usage(f"property:{address}")
        if holding != 0 and not self.allow:
            count = "an unknown number of" if holding is None else str(holding)
            self.issues.append(schema_issue(source, "schema.removed", (
                f"{address} holds data in {count} record(s); archiving it loses that: run "
                "apply --allow-schema-data-loss to do it anyway")))
            return
        self.removals.append(SchemaChange("archive", "property", object_type, name,
                                          f"listed in schema.removed; {_holding(holding)}",
                                          source=source, loses_data=holding != 0))

    def _remove_option(self, path: str, source: Source,
                       records: Mapping[str, DesiredRecord]) -> None:
        head, _, value = path.rpartition("/")
        object_type, _, name = head.partition("/")
        existing = (self.remote.properties.get(object_type, {}).get(name)
                    if self.remote is not None else None)
        if existing is None or all(o.value != value for o in existing.options):
            return
        if existing.builtin or not existing.archivable:
            self.issues.append(schema_issue(source, "schema.removed", (
                f"{head} is HubSpot's own property; its options are never removed")))
            return
        if self._kept("option", object_type, f"{name}/{value}", source):
            return
        in_spec = sorted(
            r.address for r in records.values()
            if r.object_type == object_type and value in (r.properties.get(name) or "").split(";")
        )
        holding = self._usage(f"option:{path}")
        if in_spec or holding != 0:
            users = [f"{holding} record(s) in the portal"] if holding else []
            if holding is None:
                users = ["records in the portal (they could not be counted)"]
            if in_spec:
                users.append(", ".join(in_spec[:3]) + (" ..." if len(in_spec) > 3 else "")
                             + " in the spec")
            self.issues.append(schema_issue(source, "schema.removed", (
                f"option {path} is still used by {' and '.join(users)}; move them to another "
                "option first")))
            return
        if self.schema.properties.get(head) is None:  # (else the property's update drops it)
            kept = [o for o in existing.options if o.value != value]
            body = {"options": [_option_body(o.value, o.label, o.order if o.order is not None
                                             else i, o.hidden) for i, o in enumerate(kept)]}
            diffs = (FieldDiff(f"option {value}", existing.options[
                [o.value for o in existing.options].index(value)].label, None),)
            self.removals.append(SchemaChange("update", "property", object_type, name,
                                              "an option listed in schema.removed",
                                              diffs=diffs, body=body, source=source))

    # -- shared ----------------------------------------------------------------------------

    def _usage(self, key: str) -> int | None:
        return self.remote.usage.get(key) if self.remote is not None else None

    def _kept(self, kind: str, object_type: str, key: str, source: Source) -> bool:
        if not self.protected:
            return False
        self.removals.append(SchemaChange("keep", kind, object_type, key,  # type: ignore[arg-type]
                                          "kept: the target is protected, it never deletes "
                                          "schema", source=source))
        return True


def _holding(count: int | None) -> str:
    if count is None:
        return "holds data in an unknown number of records"
    return f"holds data in {count} record(s)" if count else "holds no data"


def _changed(address: str, known: Mapping[str, str]) -> str:
    return "changed in the spec" if address in known else "differs in the portal"


def _option_body(value: str, label: str, order: int, hidden: bool,
                 description: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"value": value, "label": label, "displayOrder": order,
                               "hidden": hidden}
    if description:
        body["description"] = description
    return body


def _merged_options(prop: PropertySpec, existing: RemoteProperty | None,
                    removed: set[str]) -> list[dict[str, object]]:
    """The options a property will have: the spec's, in its order, then those the portal
    has and the spec does not list (kept: nothing is deleted unless schema.removed says)."""
    if prop.type == "bool":
        return [_option_body("true", "Yes", 0, False), _option_body("false", "No", 1, False)]
    merged = [_option_body(o.value, o.label, o.order, o.hidden, o.description)
              for o in prop.options]
    declared = {o.value for o in prop.options}
    if existing is not None and prop.type == "enumeration":
        for index, option in enumerate(existing.options):
            if option.value not in declared and option.value not in removed:
                order = option.order if option.order is not None else len(prop.options) + index
                merged.append(_option_body(option.value, option.label, order, option.hidden,
                                           option.description))
    return merged


def _create_body(prop: PropertySpec, group: str,
                 options: list[dict[str, object]]) -> dict[str, object]:
    body: dict[str, object] = {"name": prop.name, "label": prop.label, "type": prop.type,
                               "fieldType": prop.field_type, "groupName": group}
    if options:
        body["options"] = options
    if prop.unique:
        body["hasUniqueValue"] = True
    for key, value in (("description", prop.description), ("hidden", prop.hidden),
                       ("displayOrder", prop.order)):
        if value is not None:
            body[key] = value
    return body


def _option_text(option: Mapping[str, object]) -> str:
    extras = [f"order {option['displayOrder']}"] + (["hidden"] if option["hidden"] else [])
    return f"{option['label']} ({', '.join(extras)})"


def _property_diffs(prop: PropertySpec, existing: RemoteProperty, group: str,
                    options: list[dict[str, object]]) -> tuple[list[FieldDiff], dict[str, object]]:
    """What differs between the spec and the portal, and the PATCH body that fixes it."""
    diffs: list[FieldDiff] = []
    body: dict[str, object] = {}
    wanted: list[tuple[str, str, object, object]] = [
        ("label", "label", existing.label, prop.label),
        ("group", "groupName", existing.group, group),
        ("field", "fieldType", existing.field_type, prop.field_type),
    ]
    if prop.description is not None:
        wanted.append(("description", "description", existing.description, prop.description))
    if prop.hidden is not None:
        wanted.append(("hidden", "hidden", existing.hidden, prop.hidden))
    if prop.order is not None and existing.order is not None:
        wanted.append(("order", "displayOrder", existing.order, prop.order))
    for name, wire, before, after in wanted:
        if before != after:
            diffs.append(FieldDiff(name, _show(before), _show(after)))
            body[wire] = after
    if prop.type == "enumeration":
        now = {o.value: o for o in existing.options}
        changed = False
        for option in options:
            value = str(option["value"])
            was = now.pop(value, None)
            if was is None:
                diffs.append(FieldDiff(f"option {value}", None, _option_text(option)))
                changed = True
                continue
            before = _option_text({"label": was.label, "hidden": was.hidden,
                                   "displayOrder": was.order if was.order is not None
                                   else option["displayOrder"]})
            if before != _option_text(option):
                diffs.append(FieldDiff(f"option {value}", before, _option_text(option)))
                changed = True
        for value, was in now.items():  # only those schema.removed names are left here
            diffs.append(FieldDiff(f"option {value}", was.label, None))
            changed = True
        if changed:
            body["options"] = options
    return diffs, body


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = [
    "SchemaPlan", "default_group", "marker_changes", "plan_schema",
]
