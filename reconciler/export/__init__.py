"""``export``: copy a golden portal's activities (and what they hang on) into spec.

    export_portal(ExportRequest(options, out, types, since, force)) -> ExportOutcome

Reads the target's portal (``reading``), turns its records into spec bodies with readable
local keys (``convert``), and writes one spec file per type plus ``sources.json``, each
key's HubSpot id in the source portal (``writing``). Applying the folder to another target
seeds a copy; ``reconciler import ADDRESS ID`` adopts an original instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from reconciler import __version__
from reconciler.errors import ConfigError
from reconciler.export.convert import SYSTEM_PROPERTIES, convert
from reconciler.export.reading import ACTIVITY_TYPES, EXPORT_TYPES, read_portal
from reconciler.export.schema import read_schema
from reconciler.export.writing import (
    SCHEMA_PATH,
    SOURCES_FILE,
    SOURCES_FORMAT_VERSION,
    check_out_folder,
    dump,
    spec_files,
    write_export,
)
from reconciler.loading.records import FRIENDLY_FIELDS
from reconciler.loading.times import resolve_time
from reconciler.settings import Target
from reconciler.workflow.options import RunOptions
from reconciler.workflow.portal import connect


@dataclass(frozen=True, slots=True)
class ExportRequest:
    options: RunOptions
    out: Path
    types: tuple[str, ...] = ACTIVITY_TYPES
    #: only activities whose hs_timestamp is at or after this (ISO date/time or "-30d")
    since: str | None = None
    #: replace an earlier export in ``out`` (else ``out`` must be empty)
    force: bool = False
    #: write times relative to this moment (``--relative-to now``), else absolute
    relative_to: str | None = None


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    target: Target
    out: Path
    counts: Mapping[str, int]  # object type → records written
    files: tuple[Path, ...]
    sources: Mapping[str, str]  # address → HubSpot id in the source portal
    notes: tuple[str, ...]
    dropped_associations: int
    portal_id: int | None


def parse_types(text: str | None) -> tuple[str, ...]:
    """``"meetings,calls"`` → ("meetings", "calls"); an unknown type is a ConfigError.
    None: every activity type (meetings, calls, notes, tasks, emails)."""
    if text is None:
        return ACTIVITY_TYPES
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in EXPORT_TYPES]
    if unknown or not names:
        what = f"unknown type {unknown[0]!r}" if unknown else "no type given"
        raise ConfigError(
            f"--types: {what}; export takes {', '.join(EXPORT_TYPES)} (the contacts, "
            "companies, deals and tickets the activities are associated with come along)"
        )
    return tuple(t for t in EXPORT_TYPES if t in names)


def parse_since(text: str, now: datetime, tz: str, option: str = "--since") -> datetime:
    """``2026-11-01``, an ISO time, or a relative time (``-30d``) → an aware datetime."""
    try:
        return resolve_time(text.strip(), now, tz)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _header(target: Target, portal_id: int | None, when: datetime, tz: str,
            relative_to: datetime | None = None) -> str:
    portal = f" (portal {portal_id})" if portal_id is not None else ""
    stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    times = f"Times are in {tz}" if relative_to is None else (
        f"Times are relative to {relative_to.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ} "
        f"(apply resolves them against its own now, in {tz}, and pins them)"
    )
    return (
        f"# yaml-language-server: $schema={SCHEMA_PATH}\n"
        f"# Exported by `reconciler export` (hubspot-reconciler {__version__}) from target "
        f"{target.name}{portal} at {stamp}.\n"
        f"# {times}. Each key's HubSpot id in that portal is in {SOURCES_FILE}.\n"
    )


def _settings_text(name: str, target: Target, tz: str) -> str:
    return (
        f"# Written by `reconciler export` from project {name} (target {target.name}).\n"
        "# Before applying this folder to any target but `local`, add the target under\n"
        "# targets: and run `reconciler init` here: the copy needs an id of its own.\n"
        f"name: {json.dumps(name + '-export')}\n"
        f"timezone: {json.dumps(tz)}\n"
    )


def export_portal(request: ExportRequest) -> ExportOutcome:
    """Export the target's activities of ``request.types`` (and the contacts, companies,
    deals and tickets they hang on, or every one of those types ``request.types`` names)."""
    from reconciler.workflow.options import resolve

    options = request.options
    project = options.project
    target, _store = resolve(options)
    check_out_folder(request.out, Path(options.project_dir), force=request.force)
    since: datetime | None = None
    relative_to: datetime | None = None
    if request.since is not None:
        since = parse_since(request.since, options.reference_time, project.timezone)
    if request.relative_to is not None:
        relative_to = parse_since(request.relative_to, options.reference_time,
                                  project.timezone, "--relative-to")
    friendly = {
        section: [prop for prop, _kind in fields.values()]
        for section, fields in FRIENDLY_FIELDS.items()
    }
    with connect(target, options.environ, clock=options.clock) as client:
        snapshot = read_portal(client, request.types, since, friendly=friendly,
                               skip=SYSTEM_PROPERTIES)
        schema = read_schema(client, snapshot)
    converted = convert(snapshot, project.timezone, relative_to=relative_to,
                        schema=schema.keys)
    header = _header(target, snapshot.portal_id, options.reference_time, project.timezone,
                     relative_to)
    files = spec_files(converted.sections, header)
    if schema.section:
        files["schema.yaml"] = header + dump({"schema": schema.section})
    sources = {
        "format_version": SOURCES_FORMAT_VERSION,
        "exported_by": f"hubspot-reconciler {__version__}",
        "project": project.name,
        "target": target.name,
        "portal_id": snapshot.portal_id,
        "exported_at": options.reference_time.astimezone(timezone.utc).isoformat(),
        "since": since.isoformat() if since is not None else None,
        "relative_to": relative_to.isoformat() if relative_to is not None else None,
        "files": sorted(files),
        "records": dict(sorted(converted.sources.items())),
    }
    written = write_export(
        request.out, files, sources, _settings_text(project.name, target, project.timezone)
    )
    counts = {section: len(records) for section, records in converted.sections.items()}
    return ExportOutcome(
        target=target, out=request.out, counts=counts, files=tuple(written),
        sources=converted.sources, notes=(*schema.notes, *converted.notes),
        dropped_associations=converted.dropped_associations, portal_id=snapshot.portal_id,
    )


__all__ = ["ExportOutcome", "ExportRequest", "export_portal", "parse_since", "parse_types"]
