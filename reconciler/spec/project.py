"""Loading a project folder: ``reconciler.yaml`` plus every spec file below it.

Per file: read bytes → cache hit, or parse (``yamlfile``), check against the schema
(``schema``) and build record drafts (``records``). Then, across files: one owner of each
local key, references that exist, the default owner, relative times resolved against the
reference time. Every problem is collected; the first one never hides the others. Only
when there is something to report are files re-read for line and column.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reconciler import __version__
from reconciler.errors import SpecError, SpecIssue
from reconciler.gc_pause import gc_paused
from reconciler.generate.loading import (
    Generated,
    HandRecord,
    file_sections,
    generate,
    resolve_variables,
    sections_are_sound,
    seed_text,
    variable_issues,
)
from reconciler.model import (
    SECTION_OBJECT_TYPES,
    AssociationRef,
    CalendarSpec,
    DesiredRecord,
    DesiredState,
    ProjectSettings,
    Reminder,
    Source,
)
from reconciler.spec import schema as schemas
from reconciler.spec.cache import DraftCache
from reconciler.spec.issues import PathPart, PendingIssue, did_you_mean, render_path
from reconciler.spec.records import Draft, build_drafts, parse_owner
from reconciler.spec.refactors import check_refactors, refactor_rows, rows_are_sound
from reconciler.spec.files import PROJECT_FILES, check_root, read_file, spec_files
from reconciler.spec.times import format_wire_time, resolve_time, zone
from reconciler.spec.yamlfile import ParsedFile, decode, parse



@dataclass
class _FileResult:
    display: str
    path: Path
    rows: list[list[Any]] = field(default_factory=list)  # see _row
    keys: list[list[Any]] = field(default_factory=list)  # [type, key, line, column]
    issues: list[PendingIssue] = field(default_factory=list)
    parsed: ParsedFile | None = None  # kept only when issues need positions
    sections: dict[str, Any] | None = None  # generate:/patch: (reconciler.generate.loading)
    #: Records with schema errors, built only to check their references and times too:
    #: (row, the fields the schema flagged). They never become records.
    check_rows: list[tuple[list[Any], set[PathPart]]] = field(default_factory=list)
    #: moved:/removed: entries (reconciler.spec.refactors)
    refactors: list[list[Any]] = field(default_factory=list)


def _display(root: str | Path, relative: Path) -> str:
    # Paths are shown as the user would type them from where they ran the command.
    return str(Path(root) / relative)


# -- reconciler.yaml --------------------------------------------------------------------


def load_project_settings(root: str | Path) -> ProjectSettings:
    """The project's settings from ``reconciler.yaml`` (all defaults when it is absent)."""
    settings, issues = _project_settings(check_root(root), root)
    if issues:
        raise SpecError(issues)
    return settings


def _project_settings(path: Path, given: str | Path) -> tuple[ProjectSettings, list[SpecIssue]]:
    name = path.resolve().name or "project"
    defaults = ProjectSettings(root=str(given), name=name)
    # lexists, not is_file: a FIFO or a dangling link named reconciler.yaml is refused,
    # not silently taken for "no project file".
    project_file = next((path / n for n in PROJECT_FILES if os.path.lexists(path / n)), None)
    if project_file is None:
        return defaults, []
    display = _display(given, Path(project_file.name))
    raw, refused = read_file(project_file, display, path)
    if raw is None:
        assert refused is not None
        return defaults, _locate_all([refused], {})
    text, pending = decode(raw, display)
    parsed = ParsedFile(None, pending)
    if text is not None:
        parsed = parse(text, display) if text.strip() else ParsedFile({}, [])
        pending = list(parsed.issues)
    data = parsed.data if parsed.data is not None else {}
    if not pending and not schemas.is_valid("project", data):
        pending = schemas.validation_issues("project", data, display)
    if pending:
        return defaults, _locate_all(pending, {display: parsed})
    assert isinstance(data, dict)
    checks: list[PendingIssue] = []
    timezone_name = str(data.get("timezone", "UTC"))
    try:
        zone(timezone_name)
    except ValueError as exc:
        checks.append(PendingIssue(display, ("timezone",), str(exc)))
    default_owner = data.get("default_owner")
    if default_owner is not None and parse_owner(default_owner) is None:
        message = f'{default_owner!r} is not an owner; use an owner id like "1001" or an email'
        checks.append(PendingIssue(display, ("default_owner",), message))
    targets = data.get("targets") or {}
    default_target = str(data.get("default_target", "local"))
    if default_target != "local" and default_target not in targets:
        known = ", ".join(["local", *targets])
        message = f"{default_target!r} is not defined under targets; known: {known}"
        checks.append(PendingIssue(display, ("default_target",), message))
    checks.extend(variable_issues(data, display))
    if checks:
        return defaults, _locate_all(checks, {display: parsed})
    settings = ProjectSettings(
        root=str(given),
        name=str(data.get("name") or name),
        timezone=timezone_name,
        default_owner=str(default_owner).strip() if default_owner is not None else None,
        default_target=default_target,
        targets=MappingProxyType({str(k): dict(v or {}) for k, v in targets.items()}),
        source_file=display,
        id=str(data["id"]) if data.get("id") is not None else None,
        generation=MappingProxyType(
            {k: data[k] for k in ("vars", "seed", "max_generated") if k in data}
        ),
    )
    return settings, []


# -- spec files -------------------------------------------------------------------------


def _record_prefix(path: tuple[PathPart, ...]) -> tuple[str, ...] | None:
    if len(path) >= 3 and path[0] == "objects":
        return tuple(str(p) for p in path[:3])
    if len(path) >= 2 and path[0] in SECTION_OBJECT_TYPES:
        return tuple(str(p) for p in path[:2])
    return None


def _load_file(
    root: Path, path: Path, display: str, settings: ProjectSettings, cache: DraftCache
) -> _FileResult:
    result = _FileResult(display, path)
    raw, refused = read_file(path, display, root)
    if raw is None:
        assert refused is not None
        result.issues.append(refused)
        return result
    key = cache.key(raw)
    cached = cache.get(key)
    if (
        cached is not None and _rows_are_sound(cached.get("rows"))
        and sections_are_sound(cached.get("generate"))
        and rows_are_sound(cached.get("refactors", []))
    ):
        result.sections = cached.get("generate")
        result.refactors = cached.get("refactors", [])
        result.rows = cached["rows"]
        result.keys = [row[:4] for row in result.rows]
        return result
    text, decode_issues = decode(raw, display)
    if text is None:
        result.issues = decode_issues
        return result
    parsed = parse(text, display)
    result.issues = list(parsed.issues)
    document = parsed.data
    if parsed.root is None or document is None:
        return result
    if not isinstance(document, dict):
        message = (
            f"a spec file must be a mapping of sections (meetings:, calls:, contacts:, "
            f"companies:, deals:, objects:), not {_kind(document)}"
        )
        result.issues.append(PendingIssue(display, (), message, line=1, column=1))
        result.parsed = parsed
        return result
    skip: set[tuple[str, ...]] = set()
    if result.issues or not schemas.is_valid("spec", document):
        result.issues.extend(schemas.validation_issues("spec", document, display))
    if parsed.lossy:
        result.issues = _lossy_numbers(result.issues, parsed.lossy, display)
    if result.issues:
        skip = {p for p in (_record_prefix(i.path) for i in result.issues) if p is not None}
    drafts, keys, build_issues = build_drafts(document, display, settings.timezone, skip)
    result.issues.extend(build_issues)
    if skip:
        more, checked = _more_issues(document, display, settings.timezone, result.issues)
        result.issues.extend(more)
    index = parsed.positions()
    positions = index.records() if index is not None else {}
    if skip:  # (checked is set above whenever skip is)
        result.check_rows = [
            (_row(draft, positions.get(tuple(draft["path"]), (1, 1))), fields)
            for draft, fields in checked
        ]
    result.rows = [_row(d, positions.get(tuple(d["path"]), (1, 1))) for d in drafts]
    result.keys = [[t, k, *positions.get(p, (1, 1))] for t, k, p in keys]
    result.sections = file_sections(document, index)
    if "moved" in document or "removed" in document:
        result.refactors = refactor_rows(
            document, lambda at: index.locate(at, at_key=False) if index is not None else None
        )
    if result.issues:
        result.parsed = parsed
    else:
        cache.put(key, {"rows": result.rows, "generate": result.sections,
                        "refactors": result.refactors})
    return result


def _lossy_numbers(
    issues: list[PendingIssue], lossy: Mapping[tuple[PathPart, ...], str], display: str
) -> list[PendingIssue]:
    """One issue per number whose text YAML does not keep: ``phone: 0301234`` is 301234.

    It replaces the schema's "expected text, got a whole number" at the same place, which
    does not say why: YAML 1.1 habits (and YAML 1.2 too) read digits as a number.
    """
    kept = [i for i in issues if not (i.path in lossy and i.message.startswith("expected "))]
    for path, text in lossy.items():
        lost = "plus sign" if text.startswith("+") else "leading zero"
        number = re.sub(r"^\+?(-?)0*(?=[0-9])", r"\1", text)
        message = (
            f"{text} is read by YAML as the number {number}, which drops the {lost}; "
            f'quote it ("{text}") to keep it as written, or write {number}'
        )
        kept.append(PendingIssue(display, path, message))
    return kept


def _more_issues(
    document: dict[str, Any], display: str, timezone_name: str, found: list[PendingIssue]
) -> tuple[list[PendingIssue], list[tuple[Draft, set[PathPart]]]]:
    """The problems of records with schema errors that the schema does not see.

    Such records are skipped when drafts are built (the builder relies on valid input), so
    a bad time next to a misspelt field would only show after the first fix. Here each is
    built on its own, and what it finds in fields the schema did not already flag is
    reported too: every problem of a record in one pass. Also returns the drafts, with
    their flagged fields, for the checks across files (``_assemble``).
    """
    flagged: dict[tuple[str, ...], set[PathPart]] = {}
    for issue in found:
        prefix = _record_prefix(issue.path)
        if prefix is None:
            continue
        fields = flagged.setdefault(prefix, set())
        if len(issue.path) > len(prefix):
            fields.add(issue.path[len(prefix)])
        elif not issue.message.startswith("missing required field"):
            fields.add("")  # the record itself is wrong: nothing else to check
    more: list[PendingIssue] = []
    checked: list[tuple[Draft, set[PathPart]]] = []
    for prefix, fields in flagged.items():
        body: Any = document
        for part in prefix:
            body = body.get(part) if isinstance(body, dict) else None
        if "" in fields or not isinstance(body, dict):
            continue
        single: dict[str, Any] = {}
        nest = single
        for part in prefix[:-1]:
            nest = nest.setdefault(part, {})
        nest[prefix[-1]] = body
        try:
            drafts, _, issues = build_drafts(single, display, timezone_name, set())
        except Exception:  # noqa: BLE001 - a record the schema refused can break the builder
            continue
        more.extend(
            issue
            for issue in issues
            if len(issue.path) > len(prefix) and issue.path[len(prefix)] not in fields
        )
        checked.extend((draft, fields) for draft in drafts)
    return more, checked


# A record as the cache stores it: a compact row, since warm loads read 50k of them.
_TYPE, _KEY, _LINE, _COLUMN, _PROPS, _REL, _ASSOC, _CAL, _OWNER_EMAIL, _FLAGS = range(10)
_OWNS, _OWNED = 1, 2  # _FLAGS bits: sets its owner; takes the default owner


def _row(draft: Draft, position: tuple[int, int]) -> list[Any]:
    associations = [
        # [to_type, to_key, to_id, category (None: HUBSPOT_DEFINED), type_id, label,
        #  index in associations:, the field naming the target]
        [a[0], a[1], a[2], None if a[3] == "HUBSPOT_DEFINED" else a[3], a[4], a[5], a[6][-1], a[7]]
        for a in draft["assoc"]
    ]
    flags = (_OWNS if draft["owns"] else 0) | (_OWNED if draft["owned"] else 0)
    return [
        draft["type"], draft["key"], position[0], position[1], draft["props"], draft["rel"],
        associations, draft["cal"], draft["owner_email"], flags,
    ]  # fmt: skip


def _rows_are_sound(rows: Any) -> bool:
    """True if cached ``rows`` have exactly the shape ``_row`` writes (else: parse again).

    The cache checks each entry's digest; this check makes sure that even an entry that
    passes it can never crash the load or put a non-text value into a property.
    """
    if type(rows) is not list:
        return False
    try:
        for row in rows:
            if type(row) is not list or len(row) != 10:
                return False
            object_type, key, line, column, props, rel, assoc, cal, email, flags = row
            if not (
                type(object_type) is str and type(key) is str
                and type(line) is int and type(column) is int
                and type(props) is dict and type(rel) is dict
                and type(assoc) is list and type(flags) is int and 0 <= flags <= 3
                and (email is None or type(email) is str)
                and all(type(v) is str for v in props.values())
                and all(type(v) is str for v in rel.values())
                and all(_association_is_sound(a) for a in assoc)
                and (cal is None or _calendar_is_sound(cal))
            ):
                return False
    except (TypeError, ValueError):
        return False
    return True


def _association_is_sound(item: Any) -> bool:
    if type(item) is not list or len(item) != 8:
        return False
    to_type, to_key, to_id, category, type_id, label, index, field_name = item
    return (
        type(to_type) is str and type(index) is int and type(field_name) is str
        and all(v is None or type(v) is str for v in (to_key, to_id, category, label))
        and (type_id is None or type(type_id) is int)
    )  # fmt: skip


def _calendar_is_sound(cal: Any) -> bool:
    if type(cal) is not dict or set(cal) != {
        "organizer", "timezone", "reminders", "include_description"
    }:  # fmt: skip
        return False
    reminders = cal["reminders"]
    return (
        type(cal["organizer"]) is str
        and (cal["timezone"] is None or type(cal["timezone"]) is str)
        and type(cal["include_description"]) is bool
        and type(reminders) is list
        and all(
            type(r) is list and len(r) == 2 and type(r[0]) is int and type(r[1]) is str
            for r in reminders
        )
    )


def _record_path(object_type: str, key: str) -> tuple[str, ...]:
    if object_type in SECTION_OBJECT_TYPES:
        return (object_type, key)
    return ("objects", object_type, key)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return "a single value"


# -- the project ------------------------------------------------------------------------


def _salt(settings: ProjectSettings) -> str:
    schema_digest = hashlib.sha256(schemas.schema_text("spec").encode()).hexdigest()[:16]
    return f"{__version__}|{schema_digest}|{settings.timezone}"


def load_project(
    root: str | Path,
    *,
    reference_time: datetime,
    use_cache: bool = True,
    target: str | None = None,
    variables: Iterable[tuple[str, str]] = (),
    every_target: bool = False,
) -> DesiredState:
    """Load and check every file of the project at ``root`` into a ``DesiredState``.

    Relative times are resolved against ``reference_time`` (naive means UTC). Raises
    ``SpecError`` with every problem found, or ``ConfigError`` if ``root`` is not a folder.
    Parsed files are cached under ``<root>/.reconciler/cache/`` unless ``use_cache`` is off.
    Generators (``generate:``) use the variables of ``target`` (default: the project's
    default target) overridden by ``variables`` (``--var name=value``); with
    ``every_target`` (validate), also with every other target's variables.
    """
    with gc_paused():
        return _load_project(
            root, reference_time=reference_time, use_cache=use_cache, target=target,
            variables=tuple(variables), every_target=every_target,
        )


def _load_project(
    root: str | Path,
    *,
    reference_time: datetime,
    use_cache: bool,
    target: str | None = None,
    variables: tuple[tuple[str, str], ...] = (),
    every_target: bool = False,
) -> DesiredState:
    path = check_root(root)
    if reference_time.tzinfo is None:
        reference_time = reference_time.replace(tzinfo=timezone.utc)
    settings, settings_issues = _project_settings(path, root)
    if settings_issues:
        raise SpecError(settings_issues)
    cache = DraftCache(path, enabled=use_cache, salt=_salt(settings))
    results = [
        _load_file(path, path / relative, _display(root, relative), settings, cache)
        for relative in spec_files(path)
    ]
    issues = [issue for result in results for issue in result.issues]
    generated: list[_FileResult] = []
    if not issues and any(result.sections for result in results):
        made = _generated(results, settings, reference_time, cache, target, variables)
        issues.extend(made.issues)
        if every_target and not made.issues:
            issues.extend(_other_targets(results, settings, reference_time, cache, target))
        paths = {r.display: r.path for r in results}
        for display, drafts in made.by_file.items():
            extra = _FileResult(display, paths[display])
            extra.rows = [_row(draft, position) for draft, position in drafts]
            extra.keys = [row[:4] for row in extra.rows]
            generated.append(extra)
    records, cross_issues = _assemble([*results, *generated], settings, reference_time)
    issues.extend(cross_issues)
    refactors, refactor_issues = check_refactors(
        ((r.display, r.refactors) for r in results if r.refactors),
        {address: record.source for address, record in records.items()},
    )
    issues.extend(refactor_issues)
    if issues:
        parsed = {r.display: r.parsed for r in results}
        files = {r.display: r.path for r in results}
        raise SpecError(_locate_all(issues, parsed, files, path))
    cache.prune()
    return DesiredState(
        project=settings,
        records=MappingProxyType(records),
        reference_time=format_wire_time(reference_time),
        refactors=refactors,
    )


def _generated(
    results: list[_FileResult], settings: ProjectSettings, reference_time: datetime,
    cache: DraftCache, target: str | None, variables: tuple[tuple[str, str], ...],
) -> Generated:
    """The records of the project's generators (``reconciler.generate``), for this run."""
    hand = [
        HandRecord(row[_TYPE], row[_KEY], row[_PROPS], f"{r.display}:{row[_LINE]}:{row[_COLUMN]}")
        for r in results for row in r.rows
    ]
    generation = settings.generation
    values = resolve_variables(
        generation, settings.targets, target or settings.default_target, variables
    )
    return generate(
        [(r.display, r.sections) for r in results if r.sections],
        hand,
        seed=seed_text(generation.get("seed")),
        timezone=settings.timezone,
        limit=generation.get("max_generated"),
        variables=values,
        reference_time=reference_time,
        cache=cache,
        salt=_salt(settings),
    )


def _other_targets(
    results: list[_FileResult], settings: ProjectSettings, reference_time: datetime,
    cache: DraftCache, target: str | None,
) -> list[PendingIssue]:
    """The generators' problems with each other target's ``vars:`` (validate)."""
    chosen = target or settings.default_target
    found: list[PendingIssue] = []
    for name, body in settings.targets.items():
        if name != chosen and body.get("vars"):
            made = _generated(results, settings, reference_time, cache, name, ())
            found.extend(
                replace(issue, message=f"with the vars of target {name!r}: {issue.message}")
                for issue in made.issues
            )
    return found


def _assemble(
    results: list[_FileResult],
    settings: ProjectSettings,
    reference_time: datetime,
) -> tuple[dict[str, DesiredRecord], list[PendingIssue]]:
    issues: list[PendingIssue] = []
    owners: dict[tuple[str, str], tuple[str, int, int]] = {}
    for result in results:
        for object_type, key, line, column in result.keys:
            first = owners.get((object_type, key))
            if first is None:
                owners[(object_type, key)] = (result.display, line, column)
                continue
            where = f"{first[0]}:{first[1]}:{first[2]}"
            message = f"{object_type}/{key} is already defined at {where}; local keys are unique per object type"
            path = _record_path(object_type, key)
            issues.append(PendingIssue(result.display, path, message, at_key=True))
    keys_by_type: dict[str, list[str]] = {}
    for object_type, key in owners:
        keys_by_type.setdefault(object_type, []).append(key)
    hints = _KeyHints(keys_by_type)
    default_owner = parse_owner(settings.default_owner) if settings.default_owner else None
    resolved: dict[str, str] = {}
    records: dict[str, DesiredRecord] = {}
    for result in results:
        for row in result.rows:
            record = _record(
                row,
                result.display,
                settings,
                default_owner,
                reference_time,
                resolved,
                owners,
                hints,
                issues,
            )
            if record is not None:
                records.setdefault(record.address, record)
    for result in results:
        for row, fields in result.check_rows:
            found: list[PendingIssue] = []
            _record(
                row, result.display, settings, default_owner, reference_time, resolved,
                owners, hints, found,
            )  # fmt: skip
            depth = len(_record_path(row[_TYPE], row[_KEY]))
            issues.extend(
                issue for issue in found
                if issue.path[depth : depth + 1] in (("associations",), ("end",))
                and issue.path[depth] not in fields
            )  # fmt: skip
    return records, issues


class _KeyHints:
    """Did-you-mean hints for unknown local keys, within a budget of comparisons.

    Each hint compares the key with every key of its type (difflib: ~14 µs a pair), so 16k
    misspelt references among 16k records would take an hour. Past the budget (a few
    seconds in all), references are still reported, without the hint.
    """

    BUDGET = 200_000

    def __init__(self, keys_by_type: Mapping[str, list[str]]) -> None:
        self.keys_by_type = keys_by_type
        self.left = self.BUDGET

    def hint(self, object_type: str, key: str) -> str:
        known = self.keys_by_type.get(object_type, [])
        if not known:
            return f"; the project has no {object_type}"
        if len(known) > self.left:
            return ""
        self.left -= len(known)
        return did_you_mean(key, known)


def _record(
    row: list[Any],
    display: str,
    settings: ProjectSettings,
    default_owner: tuple[str, str] | None,
    reference_time: datetime,
    resolved: dict[str, str],
    owners: Mapping[tuple[str, str], Any],
    hints: _KeyHints,
    issues: list[PendingIssue],
) -> DesiredRecord | None:
    object_type, key = row[_TYPE], row[_KEY]
    props: dict[str, str] = dict(row[_PROPS])
    relative: dict[str, str] = row[_REL]
    for prop, expr in relative.items():
        if prop[0] == "@" or expr[:3] == "gen":
            continue  # a generated value (already in props) or pick (planner.PICK_PREFIX)
        value = resolved.get(expr)
        if value is None:
            try:
                value = format_wire_time(resolve_time(expr, reference_time, settings.timezone))
            except ValueError as exc:
                path = _record_path(object_type, key)
                issues.append(PendingIssue(display, (*path, prop), str(exc)))
                continue
            resolved[expr] = value
        props[prop] = value
    if object_type == "meetings":
        start, end = props.get("hs_meeting_start_time"), props.get("hs_meeting_end_time")
        # Wire strings are all UTC in one format, so they order like the instants.
        if start and end and end <= start:
            path = _record_path(object_type, key)
            message = f"end ({end}) is not after start ({start})"
            issues.append(PendingIssue(display, (*path, "end"), message))
    owner_email = row[_OWNER_EMAIL]
    if row[_FLAGS] == _OWNED and default_owner is not None:
        if default_owner[0] == "id":
            props["hubspot_owner_id"] = default_owner[1]
        else:
            owner_email = default_owner[1]
    associations: list[AssociationRef] = []
    for to_type, to_key, to_id, category, type_id, label, index, field_name in row[_ASSOC]:
        if to_key is not None and (to_type, to_key) not in owners:
            message = f"no {to_type} record has the key {to_key!r}{hints.hint(to_type, to_key)}"
            where = (*_record_path(object_type, key), "associations", index, field_name)
            issues.append(PendingIssue(display, where, message))
            continue
        associations.append(
            AssociationRef(to_type, to_key, to_id, category or "HUBSPOT_DEFINED", type_id, label)
        )
    calendar = None
    cal = row[_CAL]
    if cal is not None:
        if "hubspot_owner_id" not in props and owner_email is None:
            message = "a calendar meeting needs an owner: set owner: or the project's default_owner"
            where = (*_record_path(object_type, key), "calendar")
            issues.append(PendingIssue(display, where, message, at_key=True))
        calendar = CalendarSpec(
            organizer=cal["organizer"],
            timezone=cal["timezone"] or settings.timezone,
            reminders=tuple(Reminder(int(n), str(u)) for n, u in cal["reminders"]),
            include_description=bool(cal["include_description"]),
        )
    return DesiredRecord(
        object_type=object_type,
        key=key,
        properties=MappingProxyType(props),
        source=Source(display, row[_LINE], row[_COLUMN]),
        associations=tuple(associations),
        relative_times=MappingProxyType(relative) if relative else _NO_RELATIVE_TIMES,
        calendar=calendar,
        owner_email=owner_email,
    )


_NO_RELATIVE_TIMES: Mapping[str, str] = MappingProxyType({})


def _locate_all(
    pending: list[PendingIssue],
    parsed: Mapping[str, ParsedFile | None],
    files: Mapping[str, Path] | None = None,
    root: Path | None = None,
) -> list[SpecIssue]:
    """Give every pending issue its line and column, re-reading files only as needed.

    Each file's positions are indexed once (``ParsedFile.positions``): linear in the
    files, however many issues there are.
    """
    known: dict[str, ParsedFile | None] = dict(parsed)
    located: list[SpecIssue] = []
    for issue in pending:
        line, column = issue.line, issue.column
        if line is None or column is None:
            if known.get(issue.file) is None and files is not None and issue.file in files:
                known[issue.file] = _reparse(files[issue.file], issue.file, root)
            file = known.get(issue.file)
            positions = file.positions() if file is not None else None
            position = positions.locate(issue.path, at_key=issue.at_key) if positions else None
            line, column = position or (1, 1)
        located.append(SpecIssue(issue.file, line, column, render_path(issue.path), issue.message))
    return located


def _reparse(path: Path, display: str, root: Path | None) -> ParsedFile | None:
    raw, _ = read_file(path, display, root if root is not None else path.parent)
    text = decode(raw, display)[0] if raw is not None else None
    return parse(text, display) if text is not None else None
