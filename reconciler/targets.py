"""One spec, many portals: what each target takes of the spec, and what ``--only`` limits a
run to. Pure functions on ``DesiredState``, ``State`` and ``Plan``; no I/O.

Per target in ``reconciler.yaml``:

- ``include`` / ``exclude``: spec files (globs relative to the project, ``accounts/*.yaml``;
  a folder ``showcase/`` means every file below it) or sections (``meetings``). A record
  is taken when it matches some ``include`` (or there is none) and no ``exclude``. A record
  the target managed and no longer takes is *released*: the state forgets it, the portal
  keeps it, nothing is archived (only a record removed from the spec itself is archived).
- ``owners``: spec owner (email or id) → that portal's owner (email or id), applied after
  defaulting: to the owner a record names or takes from the project's ``default_owner``,
  and to the target's own ``default_owner``. An entry that maps no record is reported
  (``Scoped.unused_owners``: a typo must not pass silently).
- ``default_owner``: this portal's owner of records that name none, or that take the
  project's ``default_owner`` when ``owners`` does not map it.

``--only ADDRESS`` (repeatable, globs allowed: ``meetings/*``) keeps the changes of the
records it names, plus the creates of records they are associated with that do not exist
yet (a meeting cannot be associated with a contact that is not there), and nothing else
but a pending marker migration, which is all or nothing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from reconciler.errors import ConfigError
from reconciler.model import SECTION_OBJECT_TYPES, DesiredRecord, DesiredState, ProjectSettings
from reconciler.planning.changes import Change, Plan
from reconciler.state.model import State

# -- which targets ------------------------------------------------------------------------


def target_names(
    project: ProjectSettings, given: Sequence[str], *, all_targets: bool
) -> list[str]:
    """The targets of a run, in a stable order and each once: every ``--target`` given,
    plus (``--all-targets``) every target of ``reconciler.yaml`` that is not protected."""
    names: list[str] = []
    if all_targets:
        unprotected = [
            name for name, raw in project.targets.items() if not bool(raw.get("protected"))
        ]
        if not unprotected:
            raise ConfigError(
                "--all-targets: reconciler.yaml defines no target that is not protected; "
                "name the targets with --target"
            )
        names.extend(unprotected)
    for name in given:
        if name not in names:
            names.append(name)
    return names


# -- what a target takes of the spec ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scoped:
    """The desired state as one target sees it."""

    desired: DesiredState
    #: addresses in the spec that this target does not take (released if it managed them)
    excluded: frozenset[str]
    #: the keys of the target's ``owners`` (as written) that map no record it takes
    unused_owners: tuple[str, ...] = ()


def scope(desired: DesiredState, target_name: str) -> Scoped:
    """The records ``target_name`` takes (``include``/``exclude``), with its owners."""
    raw: Mapping[str, Any] = desired.project.targets.get(target_name) or {}
    if not any(raw.get(k) for k in ("include", "exclude", "owners", "default_owner")):
        return Scoped(desired, frozenset())  # the whole spec, as written
    include = _patterns(raw, "include", target_name)
    exclude = _patterns(raw, "exclude", target_name)
    records = dict(desired.records)
    excluded: set[str] = set()
    if include or exclude:
        root = Path(desired.project.root)
        types = {r.object_type for r in records.values()} | set(SECTION_OBJECT_TYPES)
        files = {r.source.file: _relative(r.source.file, root) for r in records.values()}
        for entry, field_name in [*((e, "include") for e in include),
                                  *((e, "exclude") for e in exclude)]:
            if not any(_matches(entry, t, f, types) for t in types for f in files.values()):
                raise ConfigError(
                    f"target {target_name}: {field_name}: {entry!r} matches no spec file and "
                    "no section (a glob relative to the project, like accounts/*.yaml, or a "
                    "section, like meetings)"
                )
        for address, record in desired.records.items():
            where = files[record.source.file]
            taken = (not include or any(
                _matches(e, record.object_type, where, types) for e in include
            )) and not any(_matches(e, record.object_type, where, types) for e in exclude)
            if not taken:
                excluded.add(address)
                del records[address]
        _check_references(records, excluded, target_name)
    owned, unused = _with_owners(records, desired.project, raw, target_name)
    return Scoped(
        replace(desired, records=MappingProxyType(owned)), frozenset(excluded), unused
    )


def _patterns(raw: Mapping[str, Any], name: str, target: str) -> list[str]:
    value = raw.get(name)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise ConfigError(f"target {target}: {name} must be a list of globs or sections")
    return [i.strip() for i in items]


def _relative(file: str, root: Path) -> str:
    path = Path(file)
    try:
        return PurePosixPath(path.relative_to(root)).as_posix()
    except ValueError:
        return PurePosixPath(path).as_posix()


def _matches(entry: str, object_type: str, file: str, types: Iterable[str]) -> bool:
    """A section name (``meetings``) matches its records; anything else is a glob on the
    spec file's path relative to the project (a folder matches every file below it)."""
    if entry in types:
        return object_type == entry
    pattern = entry.removeprefix("./")
    if pattern.endswith("/"):
        pattern += "*"
    return fnmatch.fnmatchcase(file, pattern) or fnmatch.fnmatchcase(file, pattern + "/*")


def _check_references(
    records: Mapping[str, DesiredRecord], excluded: set[str], target: str
) -> None:
    missing = sorted(
        f"{record.address} ({record.source.file}:{record.source.line}) is associated with "
        f"{ref.to_address}"
        for record in records.values()
        for ref in record.associations
        if ref.to_address is not None and ref.to_address in excluded
    )
    if missing:
        shown = "; ".join(missing[:5]) + (
            f"; and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ConfigError(
            f"target {target} leaves out records that the records it takes are associated "
            f"with: {shown}. Take those too (its include/exclude), or drop the associations"
        )


# -- owners -------------------------------------------------------------------------------


def _owner(value: Any, what: str, target: str) -> tuple[str, str]:
    from reconciler.loading.records import parse_owner

    parsed = parse_owner(value)
    if parsed is None:
        raise ConfigError(
            f"target {target}: {what} {value!r} is not an owner; use an owner id like "
            '"1001" or an email'
        )
    kind, text = parsed
    return kind, text.lower() if kind == "email" else text


def _with_owners(
    records: dict[str, DesiredRecord], project: ProjectSettings, raw: Mapping[str, Any],
    target: str,
) -> tuple[dict[str, DesiredRecord], tuple[str, ...]]:
    """The records with this target's owners, and the ``owners`` keys that mapped none.

    A record's owner is the one it names, else the project's ``default_owner`` (set when
    the spec was loaded). ``owners`` maps that owner; one it does not map that is none, or
    the project's default, becomes the target's ``default_owner``, itself mapped by
    ``owners`` (defaulting first, then mapping: ``owners: {alice: carol}`` reaches the
    records that took alice as the default too)."""
    mapping_raw = raw.get("owners") or {}
    if not isinstance(mapping_raw, Mapping):
        raise ConfigError(f"target {target}: owners must map spec owners to this portal's owners")
    mapping = {
        _owner(key, "owners: key", target)[1]: _owner(value, f"owners: {key}:", target)
        for key, value in mapping_raw.items()
    }
    written = {_owner(key, "owners: key", target)[1]: str(key) for key in mapping_raw}
    default = (
        _owner(raw["default_owner"], "default_owner", target)
        if raw.get("default_owner") is not None else None
    )
    if not mapping and default is None:
        return records, ()
    project_default = (
        _owner(project.default_owner, "the project's default_owner", target)[1]
        if project.default_owner else None
    )
    used: set[str] = set()
    result: dict[str, DesiredRecord] = {}
    for address, record in records.items():
        current = (
            record.owner_email.lower() if record.owner_email
            else record.properties.get("hubspot_owner_id")
        )
        new: tuple[str, str] | None = None
        if current is not None and current in mapping:
            new = mapping[current]
            used.add(current)
        elif default is not None and record.object_type in SECTION_OBJECT_TYPES and (
            current is None or current == project_default
        ):
            new = mapping.get(default[1], default)
            if default[1] in mapping:
                used.add(default[1])
        result[address] = record if new is None else _owned_by(record, new)
    unused = tuple(written[key] for key in mapping if key not in used)
    return result, unused


def _owned_by(record: DesiredRecord, owner: tuple[str, str]) -> DesiredRecord:
    kind, value = owner
    properties = {k: v for k, v in record.properties.items() if k != "hubspot_owner_id"}
    if kind == "id":
        properties["hubspot_owner_id"] = value
    return replace(
        record, properties=MappingProxyType(properties),
        owner_email=value if kind == "email" else None,
    )


# -- release ------------------------------------------------------------------------------


def release(state: State, excluded: Iterable[str]) -> tuple[str, ...]:
    """Forget the records of ``state`` that the target no longer takes (the portal keeps
    them; nothing is archived). Returns their addresses."""
    released = tuple(sorted(a for a in excluded if a in state.records))
    for address in released:
        del state.records[address]
    return released


# -- --only -------------------------------------------------------------------------------


def matches_only(address: str, only: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(address, pattern) for pattern in only)


@dataclass(frozen=True, slots=True)
class Limited:
    plan: Plan
    #: creates --only did not name, kept because a record it names is associated with them
    needed: tuple[str, ...]


def limit(the_plan: Plan, only: Sequence[str], known: Iterable[str]) -> Limited:
    """The plan's changes to the records ``only`` names, and the creates they need.

    ``known``: every address of the spec and the state, to refuse a pattern that names
    nothing (a typo must not make an empty plan that looks like "no changes").
    """
    addresses = set(known) | {c.address for c in the_plan.changes}
    unmatched = [p for p in only if not any(fnmatch.fnmatchcase(a, p) for a in addresses)]
    if unmatched:
        raise ConfigError(
            f"--only {', '.join(unmatched)}: no record of the spec or the state has such an "
            "address (type/key, e.g. meetings/kickoff, or a glob like meetings/*)"
        )
    creates = {c.address for c in the_plan.changes if c.action == "create"}
    by_address = {c.address: c for c in the_plan.changes if c.action != "remark"}
    kept = {c.address for c in the_plan.changes if matches_only(c.address, only)}
    needed: list[str] = []
    queue = list(kept)
    while queue:  # a create or update adding an association to a record not yet created
        change = by_address.get(queue.pop())
        for ref in change.add_associations if change is not None else ():
            target = ref.to_address
            if target is not None and target in creates and target not in kept:
                kept.add(target)
                needed.append(target)
                queue.append(target)
    # Marker rewrites are all or nothing: apply records the new project id in the state
    # once every rewrite in its plan succeeded, so a partial set would strand the others.
    changes: tuple[Change, ...] = tuple(
        c for c in the_plan.changes if c.address in kept or c.action == "remark"
    )
    unchanged = tuple(a for a in the_plan.unchanged if matches_only(a, only))
    return Limited(replace(the_plan, changes=changes, unchanged=unchanged), tuple(sorted(needed)))
