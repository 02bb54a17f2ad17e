"""The spec stage's side of generators: sections out of parsed files, variables, caching.

``reconciler.loading.project`` calls these while it loads a project: ``file_sections`` per
parsed file (kept in the parse cache with the file's rows), ``variable_issues`` for
``reconciler.yaml``, ``resolve_variables`` for one run, and ``generate`` once the
hand-written records are known. The result is record drafts the loader treats like any
other; the expansion itself is cached by a digest of everything it depends on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from reconciler.errors import ConfigError
from reconciler.generate.inputs import (
    DEFAULT_LIMIT,
    E_FILE,
    FileSections,
    HandRecord,
    Options,
)
from reconciler.generate.phrases import bank_version
from reconciler.generate.times import finalize
from reconciler.model import calendar_is_sound

if TYPE_CHECKING:
    # reconciler.loading imports this module: its names are imported where they are used.
    from reconciler.loading.business_days import BusinessDays
    from reconciler.loading.calendar_settings import CalendarSettings
    from reconciler.loading.issues import PathPart, PendingIssue

#: Bump when the cached form of generated records (``expand._entry``) changes.
EXPANSION_FORMAT = 6
#: Variable types as written in ``vars:`` → what a value must be.
_TYPES = ("integer", "number", "string", "boolean")


class _Positions(Protocol):
    def locate(self, path: tuple[PathPart, ...], *, at_key: bool) -> tuple[int, int] | None: ...


class _Cache(Protocol):
    def key(self, content: bytes) -> str: ...
    def get(self, key: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None: ...
    def put(self, key: str, payload: dict[str, Any]) -> None: ...


def file_sections(
    document: Mapping[str, Any], positions: _Positions | None
) -> dict[str, Any] | None:
    """A file's ``generate:``/``patch:`` sections with each generator's position, or None."""
    generate = document.get("generate")
    patch = document.get("patch")
    if not generate and not patch:
        return None
    generate = generate if isinstance(generate, dict) else {}
    patch = patch if isinstance(patch, dict) else {}
    where: dict[str, list[int]] = {}
    for name in generate:
        found = positions.locate(("generate", name), at_key=True) if positions else None
        where[name] = list(found or (1, 1))
    return {"generate": generate, "patch": patch, "positions": where}


def sections_are_sound(value: Any) -> bool:
    """True if a cached ``file_sections`` value has its shape (else: parse again)."""
    if value is None:
        return True
    return (
        type(value) is dict and set(value) == {"generate", "patch", "positions"}
        and type(value["generate"]) is dict and type(value["patch"]) is dict
        and type(value["positions"]) is dict
        and all(
            type(p) is list and len(p) == 2 and all(type(i) is int for i in p)
            for p in value["positions"].values()
        )
    )


#: How far a generated window reaches (``values._days``: ten years), and a time's offset
#: from its slot (under one placeholder stride, ``shapes.PLACEHOLDER_STRIDE``), in ms.
_MAX_WINDOW_DAYS = 3660
_MAX_OFFSET_MS = 40 * 86_400_000


def entries_are_sound(entries: Any, files: int) -> TypeGuard[list[list[Any]]]:
    """True if cached generated records have exactly the shape ``expand._entry`` writes
    (else: expand again). The cache checks each entry's digest; this check makes sure that
    even an entry that passes it can never crash ``finalize`` or the loader after it."""
    if type(entries) is not list:
        return False
    try:
        for entry in entries:
            if not _entry_is_sound(entry, files):
                return False
    except (TypeError, ValueError):
        return False
    return True


def _entry_is_sound(entry: Any, files: int) -> bool:
    # (JSON object keys are always strings: only values are checked. This runs over 50k
    # entries on every warm load, hence plain loops inline rather than a function call per
    # value: 0.17 -> 0.12 s.)
    if type(entry) is not list or len(entry) != 17:
        return False
    (object_type, key, file, line, column, section, props, rel, assoc, cal, email, owns, owned,
     times, by_time, schedule, story) = entry
    if not (
        type(object_type) is str and type(key) is str and type(section) is str
        and type(file) is int and type(line) is int and type(column) is int
        and 0 <= file < files
        and type(props) is dict and type(rel) is dict and type(assoc) is list
        and (email is None or type(email) is str)
        and type(owns) is bool and type(owned) is bool
        and type(times) is dict and type(by_time) is dict
    ):  # fmt: skip
        return False
    for text in props.values():
        if type(text) is not str:
            return False
    for text in rel.values():
        if type(text) is not str:
            return False
    for item in assoc:
        # [to_type, to_key, to_id, category, type_id, label, its path in the spec, field];
        # of the path only the last part (the index under associations:) is used
        if type(item) is not list or len(item) != 8:
            return False
        to_type, to_key, to_id, category, type_id, label, where, field_name = item
        if not (
            type(to_type) is str and type(category) is str and type(field_name) is str
            and (to_key is None or type(to_key) is str) and (to_id is None or type(to_id) is str)
            and (label is None or type(label) is str)
            and (type_id is None or type(type_id) is int)
            and type(where) is list and len(where) > 0 and type(where[-1]) is int
        ):  # fmt: skip
            return False
    for slot_of in times.values():
        # [first day, last day, business hours, where in the window, slot, offset]
        if type(slot_of) is not list or len(slot_of) != 6:
            return False
        start, end, business, u, slot, offset_ms = slot_of
        if not (
            type(start) is int and type(end) is int
            and -_MAX_WINDOW_DAYS <= start <= end <= _MAX_WINDOW_DAYS
            and type(business) is bool and type(u) in (int, float) and 0 <= u <= 1
            and type(slot) is int and 0 <= slot < 96  # (15-minute slots of a day)
            and type(offset_ms) is int and abs(offset_ms) <= _MAX_OFFSET_MS
        ):  # fmt: skip
            return False
    for pair in by_time.values():
        # [time property, future value]
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str or type(
            pair[1]
        ) is not str:
            return False
    return (
        (cal is None or calendar_is_sound(cal))
        and (schedule is None or _schedule_is_sound(schedule, times))
        and (story is None or _story_is_sound(story))
    )


def _schedule_is_sound(value: Any, times: dict[str, Any]) -> bool:
    # [time property, busy minutes, hour draw, tie, generator, after, last day]
    if type(value) is not list or len(value) != 7:
        return False
    prop, busy, hour, tie, generator, after, last = value
    return (
        type(prop) is str and prop in times and type(busy) is int and 0 <= busy <= 1440
        and type(hour) in (int, float) and 0 <= hour <= 1 and type(tie) is int
        and type(generator) is str
        and (last is None or (type(last) is int and abs(last) <= _MAX_WINDOW_DAYS))
        and (after is None or (
            type(after) is list and len(after) == 5 and type(after[0]) is str
            and after[1] in ("d", "m") and type(after[2]) is int and type(after[3]) is int
            and 0 <= after[2] <= after[3] <= 100_000
            and type(after[4]) in (int, float) and 0 <= after[4] <= 1
        ))
    )  # fmt: skip


def _story_is_sound(value: Any) -> bool:
    # [outcome, final stage, open stage, [[address, stage], ...], [low, high, draw]]
    if type(value) is not list or len(value) != 5:
        return False
    outcome, final, opening, steps, close = value
    return (
        type(outcome) is str and (final is None or type(final) is str)
        and (opening is None or type(opening) is str) and type(steps) is list
        and all(
            type(s) is list and len(s) == 2 and type(s[0]) is str
            and (s[1] is None or type(s[1]) is str) for s in steps
        )
        and type(close) is list and len(close) == 3 and type(close[0]) is int
        and type(close[1]) is int and 0 <= close[0] <= close[1] <= 2600
        and type(close[2]) in (int, float) and 0 <= close[2] <= 1
    )  # fmt: skip


# -- variables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    default: Any


def declared_variables(data: Mapping[str, Any]) -> dict[str, Variable]:
    """``vars:`` of a (schema-valid) ``reconciler.yaml``: ``name: default`` or
    ``name: {type: integer, default: 40, description: ...}``."""
    found: dict[str, Variable] = {}
    for name, spec in (data.get("vars") or {}).items():
        if isinstance(spec, dict):
            default = spec.get("default")
            kind = str(spec.get("type") or _type_of(default))
        else:
            default, kind = spec, _type_of(spec)
        found[str(name)] = Variable(str(name), kind, default)
    return found


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _typed(variable: Variable, value: Any, *, from_text: bool) -> Any:
    """``value`` as the variable's type; ValueError says why not."""
    kind = variable.type
    if from_text and isinstance(value, str):
        text = value.strip()
        if kind == "integer":
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{value!r} is not a whole number") from None
        if kind == "number":
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
        if kind == "boolean":
            if text.lower() in ("true", "yes", "1"):
                return True
            if text.lower() in ("false", "no", "0"):
                return False
            raise ValueError(f"{value!r} is not true or false")
        return value
    ok = {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "string": isinstance(value, str),
    }[kind]
    if not ok:
        word = {"integer": "a whole number", "number": "a number", "boolean": "true or false",
                "string": "text"}[kind]
        raise ValueError(f"{value!r} is not {word}")
    return value


def variable_issues(data: Mapping[str, Any], display: str) -> list[PendingIssue]:
    """Problems with ``vars:`` (defaults of the declared type) and every target's ``vars:``."""
    from reconciler.loading.issues import PendingIssue, did_you_mean

    issues: list[PendingIssue] = []
    declared = declared_variables(data)
    for name, variable in declared.items():
        if variable.type not in _TYPES:
            issues.append(PendingIssue(
                display, ("vars", name, "type"),
                f"{variable.type!r} is not a variable type; use {', '.join(_TYPES)}",
            ))
            continue
        try:
            _typed(variable, variable.default, from_text=False)
        except ValueError as exc:
            path: tuple[PathPart, ...] = ("vars", name, "default") if isinstance(
                (data.get("vars") or {}).get(name), dict) else ("vars", name)
            issues.append(PendingIssue(display, path, f"the default of {name}: {exc}"))
    for target, body in (data.get("targets") or {}).items():
        for name, value in ((body or {}).get("vars") or {}).items():
            where = ("targets", target, "vars", name)
            known = declared.get(name)
            if known is None:
                hint = did_you_mean(name, declared) or "; declare it under vars: first"
                issues.append(
                    PendingIssue(display, where, f"unknown variable {name!r}{hint}", at_key=True)
                )
                continue
            try:
                _typed(known, value, from_text=False)
            except ValueError as exc:
                issues.append(PendingIssue(display, where, f"{name}: {exc}"))
    return issues


def resolve_variables(
    data: Mapping[str, Any], targets: Mapping[str, Mapping[str, Any]], target: str | None,
    overrides: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """The variables of one run: defaults, then the target's ``vars:``, then ``--var``."""
    from reconciler.loading.issues import did_you_mean

    declared = declared_variables(data)
    values = {name: v.default for name, v in declared.items()}
    if target is not None:
        values.update(dict((targets.get(target) or {}).get("vars") or {}))
    for name, text in overrides:
        wanted = declared.get(name)
        if wanted is None:
            hint = did_you_mean(name, declared) or (
                "; declare it under vars: in reconciler.yaml" if not declared
                else f"; declared: {', '.join(sorted(declared))}"
            )
            raise ConfigError(f"--var {name}={text}: unknown variable {name!r}{hint}")
        try:
            values[name] = _typed(wanted, text, from_text=True)
        except ValueError as exc:
            raise ConfigError(f"--var {name}={text}: {exc} ({name} is {wanted.type})") from None
    return values


def parse_var_option(text: str) -> tuple[str, str]:
    """``name=value`` from the command line."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise ConfigError(f"--var {text!r}: write it as name=value, e.g. --var accounts=200")
    return name.strip(), value


# -- the expansion --------------------------------------------------------------------------


@dataclass
class Generated:
    """Generated records by the file of their generator (rows, as ``reconciler.loading.rows``
    has them), or the problems found."""

    by_file: dict[str, list[list[Any]]] = field(default_factory=dict)
    issues: list[PendingIssue] = field(default_factory=list)
    #: where the activities were placed (``scheduling.Schedule``), with a calendar
    schedule: Any = None


def generate(
    files: Iterable[tuple[str, Mapping[str, Any]]],
    hand: Iterable[HandRecord],
    *,
    seed: str,
    timezone: str,
    limit: int | None,
    variables: Mapping[str, Any],
    reference_time: datetime,
    cache: _Cache | None,
    salt: str,
    calendar: CalendarSettings | None = None,
    business: BusinessDays | None = None,
    busy: list[tuple[str, int, int]] | None = None,
    default_owner: str | None = None,
) -> Generated:
    """Expand the generators of ``files`` (display, ``file_sections`` value) for one run.

    With ``calendar`` (the project's ``calendar:``, and its ``business`` days), generated
    activities are placed on their owners' calendars around ``busy`` (the hand-written
    meetings and calls: owner, start, end in minutes since 1970)."""
    sections = [
        FileSections(display, s["generate"], s["patch"],
                     {k: (int(v[0]), int(v[1])) for k, v in s["positions"].items()})
        for display, s in files
    ]
    if not sections:
        return Generated()
    hand = list(hand)
    fingerprint = f"{calendar.fingerprint}|{default_owner}" if calendar is not None else ""
    options = Options(seed=seed, timezone=timezone, limit=limit or DEFAULT_LIMIT,
                      variables=dict(variables), calendar=fingerprint)
    # Files by their place in the sorted list, not by how they are displayed: the same
    # project run from another folder (``-p .`` or ``-p /abs/path``) hits the same entry.
    displays = sorted({s.file for s in sections} | {h.where.rsplit(":", 2)[0] for h in hand})
    number = {display: index for index, display in enumerate(displays)}
    content = json.dumps(
        [EXPANSION_FORMAT, salt, seed, timezone, options.limit, sorted(options.variables.items()),
         fingerprint,
         [[number[s.file], s.generate, s.patch, s.positions] for s in sections],
         sorted([h.object_type, h.key, sorted(h.properties.items()), h.owner,
                 sorted(h.associations)] for h in hand),
         bank_version()],
        sort_keys=True, default=str, separators=(",", ":"),
    ).encode()
    key = cache.key(b"generate\x00" + content) if cache is not None else ""
    payload = None
    if cache is not None:
        payload = cache.get(
            key, lambda found: entries_are_sound(found.get("generated"), len(displays))
        )
    result = Generated()
    records: list[list[Any]]
    if payload is not None:
        records = payload["generated"]
    else:
        from reconciler.generate.expand import expand  # Faker and Jinja2: only when needed

        expansion = expand(sections, hand, options)
        if expansion.issues:
            result.issues = expansion.issues
            return result
        records = expansion.records
        for entry in records:
            entry[E_FILE] = number[entry[E_FILE]]
        if cache is not None:
            cache.put(key, {"generated": records})
    by_file = result.by_file
    starts: list[int | None] | None = None
    if calendar is not None and business is not None:
        from reconciler.generate.scheduling import load_placements, problem_issue
        from reconciler.loading.times import zone

        starts, problems = load_placements(
            records, busy or [], reference_time=reference_time, tz=zone(timezone),
            settings=calendar, days=business, default_owner=default_owner, cache=cache, key=key,
        )
        if problems:
            seen: set[tuple[Any, ...]] = set()
            for index, message in problems:
                issue = problem_issue(records[index], displays[records[index][E_FILE]], message)
                if issue.path not in seen:  # the first problem of each generator
                    seen.add(issue.path)
                    result.issues.append(issue)
            return result
        from reconciler.generate.scheduling import Schedule

        result.schedule = Schedule(records, starts, calendar, business, timezone, default_owner)
    rows = finalize(records, reference_time, timezone, starts, business)
    for entry, row in zip(records, rows, strict=True):
        file = displays[entry[E_FILE]]
        found = by_file.get(file)
        if found is None:
            found = by_file[file] = []
        found.append(row)
    return result


def seed_text(value: Any) -> str:
    return "0" if value is None else str(value)


__all__ = [
    "Generated",
    "HandRecord",
    "declared_variables",
    "file_sections",
    "generate",
    "parse_var_option",
    "resolve_variables",
    "sections_are_sound",
    "variable_issues",
]
