"""The project's settings: ``reconciler.yaml`` read, checked and turned into ``ProjectSettings``."""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType

from reconciler.errors import SpecError, SpecIssue
from reconciler.generate.loading import variable_issues
from reconciler.loading import schema as schemas
from reconciler.loading.calendar_settings import read_calendar
from reconciler.loading.files import PROJECT_FILES, check_root, read_file
from reconciler.loading.issues import PendingIssue
from reconciler.loading.locating import locate_all
from reconciler.loading.records import parse_owner
from reconciler.loading.times import zone
from reconciler.loading.yamlfile import ParsedFile, decode, parse
from reconciler.model import ProjectSettings


def display_path(root: str | Path, relative: Path) -> str:
    # Paths are shown as the user would type them from where they ran the command.
    return str(Path(root) / relative)


# -- reconciler.yaml --------------------------------------------------------------------


def load_project_settings(root: str | Path) -> ProjectSettings:
    """The project's settings from ``reconciler.yaml`` (all defaults when it is absent)."""
    settings, issues = project_settings(check_root(root), root)
    if issues:
        raise SpecError(issues)
    return settings


def project_settings(path: Path, given: str | Path) -> tuple[ProjectSettings, list[SpecIssue]]:
    name = path.resolve().name or "project"
    defaults = ProjectSettings(root=str(given), name=name)
    # lexists, not is_file: a FIFO or a dangling link named reconciler.yaml is refused,
    # not silently taken for "no project file".
    project_file = next((path / n for n in PROJECT_FILES if os.path.lexists(path / n)), None)
    if project_file is None:
        return defaults, []
    display = display_path(given, Path(project_file.name))
    raw, refused = read_file(project_file, display, path)
    if raw is None:
        assert refused is not None
        return defaults, locate_all([refused], {})
    text, pending = decode(raw, display)
    parsed = ParsedFile(None, pending)
    if text is not None:
        parsed = parse(text, display) if text.strip() else ParsedFile({}, [])
        pending = list(parsed.issues)
    data = parsed.data if parsed.data is not None else {}
    if not pending and not schemas.is_valid("project", data):
        pending = schemas.validation_issues("project", data, display)
    if pending:
        return defaults, locate_all(pending, {display: parsed})
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
    _, calendar_problems = read_calendar(data.get("calendar"))
    checks.extend(PendingIssue(display, path, message) for path, message in calendar_problems)
    if checks:
        return defaults, locate_all(checks, {display: parsed})
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
            {k: data[k] for k in ("vars", "seed", "max_generated", "calendar") if k in data}
        ),
    )
    return settings, []
