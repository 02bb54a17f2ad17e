"""Loading a project folder: ``reconciler.yaml`` plus every spec file below it.

Per file (``spec_file``): read bytes → cache hit, or parse, check against the schema and
build record drafts. Then the generators (``reconciler.generate``), the checks across
files (``assembly``) and the refactors (``refactors``). Every problem is collected; the
first one never hides the others. Only when there is something to report are files
re-read for line and column (``locating``). ``reconciler.yaml`` is read by
``project_settings``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reconciler import __version__
from reconciler.errors import SpecError
from reconciler.gc_pause import gc_paused, kept_until_exit
from reconciler.generate.inputs import HandRecord
from reconciler.generate.loading import Generated, generate, resolve_variables, seed_text
from reconciler.loading import schema as schemas
from reconciler.loading.assembly import BusinessCalendar, assemble
from reconciler.loading.business_days import HolidayProblem
from reconciler.loading.cache import DraftCache
from reconciler.loading.calendar_settings import calendar_of
from reconciler.loading.files import check_root, spec_files
from reconciler.loading.issues import PendingIssue
from reconciler.loading.locating import locate_all
from reconciler.loading.project_settings import (
    display_path,
    load_project_settings,
    project_settings,
)
from reconciler.loading.refactors import check_refactors
from reconciler.loading.rows import ASSOC, COLUMN, KEY, LINE, OWNER_EMAIL, PROPS, REL, TYPE
from reconciler.loading.schema_references import reference_issues
from reconciler.loading.schema_section import assemble_schema
from reconciler.loading.spec_file import FileResult, load_file
from reconciler.loading.times import format_wire_time, resolve_time
from reconciler.model import DesiredState, ProjectSettings

__all__ = ["load_project", "load_project_settings"]


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
    settings: ProjectSettings | None = None,
) -> DesiredState:
    """Load and check every file of the project at ``root`` into a ``DesiredState``.

    Relative times are resolved against ``reference_time`` (naive means UTC). Raises
    ``SpecError`` with every problem found, or ``ConfigError`` if ``root`` is not a folder.
    Parsed files are cached under ``<root>/.reconciler/cache/`` unless ``use_cache`` is off.
    Generators (``generate:``) use the variables of ``target`` (default: the project's
    default target) overridden by ``variables`` (``--var name=value``); with
    ``every_target`` (validate), also with every other target's variables. ``settings``:
    the project's settings, when the command has read ``reconciler.yaml`` already (it is
    then not read again).
    """
    with gc_paused():
        return kept_until_exit(_load_project(  # (freed by the process's end: gc_pause)
            root, reference_time=reference_time, use_cache=use_cache, target=target,
            variables=tuple(variables), every_target=every_target, settings=settings,
        ))


def _load_project(
    root: str | Path,
    *,
    reference_time: datetime,
    use_cache: bool,
    target: str | None = None,
    variables: tuple[tuple[str, str], ...] = (),
    every_target: bool = False,
    settings: ProjectSettings | None = None,
) -> DesiredState:
    path = check_root(root)
    if reference_time.tzinfo is None:
        reference_time = reference_time.replace(tzinfo=timezone.utc)
    if settings is None:
        settings, settings_issues = project_settings(path, root)
        if settings_issues:
            raise SpecError(settings_issues)
    cache = DraftCache(path, enabled=use_cache, salt=_salt(settings))
    results = [
        load_file(path, path / relative, display_path(root, relative), settings, cache)
        for relative in spec_files(path)
    ]
    issues = [issue for result in results for issue in result.issues]
    business, calendar_issues = _business_calendar(settings, cache, reference_time)
    issues.extend(calendar_issues)
    generated: list[FileResult] = []
    schedule = None
    if not issues and any(result.sections for result in results):
        made = _generated(results, settings, reference_time, cache, target, variables, business)
        issues.extend(made.issues)
        schedule = made.schedule
        if every_target and not made.issues:
            issues.extend(
                _other_targets(results, settings, reference_time, cache, target, business)
            )
        paths = {r.display: r.path for r in results}
        for display, rows in made.by_file.items():
            extra = FileResult(display, paths[display], generated=True)
            extra.rows = rows
            extra.keys = [row[:4] for row in extra.rows]
            generated.append(extra)
    records, cross_issues = assemble([*results, *generated], settings, reference_time, business)
    issues.extend(cross_issues)
    refactors, refactor_issues = check_refactors(
        ((r.display, r.refactors) for r in results if r.refactors),
        {address: record.source for address, record in records.items()},
    )
    issues.extend(refactor_issues)
    schema, schema_issues = assemble_schema((r.display, r.schema) for r in results if r.schema)
    issues.extend(schema_issues)
    issues.extend(reference_issues(schema, records))
    if issues:
        parsed = {r.display: r.parsed for r in results}
        files = {r.display: r.path for r in results}
        if settings.source_file is not None:
            files[settings.source_file] = path / Path(settings.source_file).name
        raise SpecError(locate_all(issues, parsed, files, path))
    cache.prune()
    return DesiredState(
        project=settings,
        records=MappingProxyType(records),
        reference_time=format_wire_time(reference_time),
        refactors=refactors,
        schedule=schedule,
        schema=schema,
    )


def _business_calendar(
    settings: ProjectSettings, cache: DraftCache, reference_time: datetime
) -> tuple[BusinessCalendar, list[PendingIssue]]:
    """The project's business days (``calendar:``), its holidays' country checked."""
    calendar = calendar_of(settings.generation)
    if calendar is None:
        return None, []
    days = calendar.business_days(cache)
    try:
        days.days_off(reference_time.year)  # a country the package does not know: said here
    except HolidayProblem as exc:
        field = "subdiv" if "subdivision" in str(exc) else "country"
        where = ("calendar", "holidays", field)
        return None, [PendingIssue(settings.source_file or "reconciler.yaml", where, str(exc))]
    return (days, calendar.roll), []


def _generated(
    results: list[FileResult], settings: ProjectSettings, reference_time: datetime,
    cache: DraftCache, target: str | None, variables: tuple[tuple[str, str], ...],
    business: BusinessCalendar,
) -> Generated:
    """The records of the project's generators (``reconciler.generate``), for this run."""
    hand = [
        HandRecord(
            row[TYPE], row[KEY], row[PROPS], f"{r.display}:{row[LINE]}:{row[COLUMN]}",
            row[OWNER_EMAIL], tuple((a[0], a[1]) for a in row[ASSOC] if a[1] is not None),
        )
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
        **_calendar_inputs(results, settings, reference_time, business),
    )


def _calendar_inputs(
    results: list[FileResult], settings: ProjectSettings, reference_time: datetime,
    business: BusinessCalendar,
) -> dict[str, Any]:
    """What the generators' calendars need: the settings, the business days, and the
    hand-written meetings and calls (their owners' busy time this run)."""
    from reconciler.generate.scheduling import hand_busy  # (it imports reconciler.loading)

    calendar = calendar_of(settings.generation)
    if calendar is None or business is None:
        return {}
    days, roll = business
    resolved: dict[tuple[str, bool], str] = {}

    def props_of(row: list[Any]) -> dict[str, str]:
        props = dict(row[PROPS])
        for prop, expr in row[REL].items():
            if prop[0] == "@" or expr[:3] == "gen":
                continue
            value = resolved.get((expr, roll))
            if value is None:
                try:
                    instant = resolve_time(expr, reference_time, settings.timezone, days,
                                           roll=roll)
                except ValueError:
                    continue  # (reported where the records are assembled)
                value = resolved[(expr, roll)] = format_wire_time(instant)
            props[prop] = value
        return props

    rows = (row for result in results for row in result.rows)
    return {
        "calendar": calendar, "business": days, "default_owner": settings.default_owner,
        "busy": hand_busy(rows, props_of, settings.default_owner),
    }


def _other_targets(
    results: list[FileResult], settings: ProjectSettings, reference_time: datetime,
    cache: DraftCache, target: str | None, business: BusinessCalendar,
) -> list[PendingIssue]:
    """The generators' problems with each other target's ``vars:`` (validate)."""
    chosen = target or settings.default_target
    found: list[PendingIssue] = []
    for name, body in settings.targets.items():
        if name != chosen and body.get("vars"):
            made = _generated(results, settings, reference_time, cache, name, (), business)
            found.extend(
                replace(issue, message=f"with the vars of target {name!r}: {issue.message}")
                for issue in made.issues
            )
    return found
