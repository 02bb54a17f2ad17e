"""What a run starts from: its options, and the target, spec and state file they resolve to.

The CLI reads ``reconciler.yaml`` once per command (``load_project_settings``) and puts
the settings in ``RunOptions``; nothing below it reads that file again. From the options,
``resolve`` names the target and its state file (the spec is not parsed) and
``load_target`` also loads the spec as that target takes it (its include/exclude, its
owners).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.errors import ConfigError
from reconciler.identity.refresh import RefreshMode
from reconciler.identity.search_lag import SEARCH_LAG_GRACE_SECONDS
from reconciler.model import DesiredState, ProjectSettings, slug
from reconciler.settings import Target, resolve_target
from reconciler.state.model import StateBinding
from reconciler.state.store import StateStore
from reconciler.targets import scope

GRACE_ENV = "RECONCILER_RECOVERY_GRACE_SECONDS"


@dataclass(frozen=True, slots=True)
class RunOptions:
    #: ``reconciler.yaml``, as read once by the command
    project: ProjectSettings
    environ: Mapping[str, str]
    target_name: str | None = None
    state_path: Path | None = None
    base_url: str | None = None
    offline: bool = False
    reference_time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    #: How long a create whose answer was lost is looked for by marker before it counts as
    #: not created (None: RECONCILER_RECOVERY_GRACE_SECONDS, else the target's
    #: recovery_grace_seconds, else 30 s).
    recovery_grace_seconds: float | None = None
    #: apply: archive up to this many records even past the target's archive limits
    allow_archives: int | None = None
    #: apply: rewrite the markers of managed records on a protected target
    migrate_markers: bool = False
    #: --var name=value: the generators' variables for this run
    variables: tuple[tuple[str, str], ...] = ()
    #: --only ADDRESS: limit the run to these records (globs allowed) and what they need
    only: tuple[str, ...] = ()
    #: --refresh: "incremental" (what changed since the last refresh) or "full"
    refresh: RefreshMode = "incremental"
    #: apply --ignore-daily-budget: start even if today's API limit looks too small
    ignore_daily_budget: bool = False
    #: --dedupe: archive the extra records of markers carried more than once
    dedupe: bool = False
    #: --allow-schema-data-loss: archive or retype a property that holds data
    allow_schema_data_loss: bool = False
    #: the clock of the client's waits (and the embedded emulator's); tests pass a fake one
    clock: Clock = SYSTEM_CLOCK

    @property
    def project_dir(self) -> Path:
        return Path(self.project.root)

    def grace_seconds(self, target: Target | None = None) -> float:
        if self.recovery_grace_seconds is not None:
            return self.recovery_grace_seconds
        raw = self.environ.get(GRACE_ENV, "").strip()
        if not raw:
            if target is not None and target.recovery_grace_seconds is not None:
                return target.recovery_grace_seconds
            return SEARCH_LAG_GRACE_SECONDS
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{GRACE_ENV}={raw!r} is not a number of seconds") from None
        if value < 0:
            raise ConfigError(f"{GRACE_ENV}={raw!r} must not be negative")
        return value


def binding_for(project: ProjectSettings, target: Target) -> StateBinding:
    """What a state file must belong to for this project and target (see ``StateBinding``)."""
    return StateBinding(
        target=target.name, project=project.name, project_id=project.marker_id,
        name_slug=slug(project.name),
    )


def store_for(project: ProjectSettings, target: Target) -> StateStore:
    """The target's state file, refusing (on load) one of another project or target."""
    return StateStore(target.state_path, binding=binding_for(project, target))


def resolve(options: RunOptions) -> tuple[Target, StateStore]:
    """The target the options name, and its state store (the spec is not parsed)."""
    target = resolve_target(
        options.project,
        target_name=options.target_name,
        state_path=options.state_path,
        base_url=options.base_url,
        environ=options.environ,
    )
    return target, store_for(options.project, target)


@dataclass(frozen=True, slots=True)
class LoadedTarget:
    desired: DesiredState  # what this target takes of the spec (its include/exclude, owners)
    target: Target
    store: StateStore
    excluded: frozenset[str]  # in the spec, not taken by this target
    #: located warning lines (``file:line:column: warning: ...``): what the target's
    #: settings say that changes nothing, such as an ``owners`` entry that maps no record
    warnings: tuple[str, ...] = ()


def load_target(options: RunOptions) -> LoadedTarget:
    """The spec as the target takes it, the target, and its state store."""
    from reconciler.loading.project import load_project

    desired = load_project(
        options.project_dir, reference_time=options.reference_time,
        target=options.target_name, variables=options.variables, settings=options.project,
    )
    target, store = resolve(options)
    scoped = scope(desired, target.name)
    warnings = unused_owner_warnings(options.project, target.name, scoped.unused_owners)
    return LoadedTarget(scoped.desired, target, store, scoped.excluded, warnings)


def unused_owner_warnings(
    project: ProjectSettings, target_name: str, unused: tuple[str, ...]
) -> tuple[str, ...]:
    """One located line per ``owners`` entry of the target that maps no record it takes
    (a misspelt owner must not pass silently: its records keep the spec's owner)."""
    if not unused:
        return ()
    where = _positions_in(project.source_file, project.root)
    lines = []
    for key in unused:
        line, column = where(("targets", target_name, "owners", key)) if where else (1, 1)
        lines.append(
            f"{project.source_file or 'reconciler.yaml'}:{line}:{column}: warning: targets."
            f"{target_name}.owners: {key} maps no record this target takes (owners map the "
            "owner a record names, or the project's or the target's default_owner); check "
            "its spelling, or remove it"
        )
    return tuple(lines)


def _positions_in(
    display: str | None, root: str
) -> Callable[[tuple[str, ...]], tuple[int, int]] | None:
    """Where a path was written in ``reconciler.yaml`` (read as the loader reads it), or
    None when it cannot be read."""
    from reconciler.loading.files import read_file
    from reconciler.loading.yaml_positions import locate
    from reconciler.loading.yamlfile import decode, parse

    if display is None:
        return None
    raw, _ = read_file(Path(display), display, Path(root))
    text = decode(raw, display)[0] if raw is not None else None
    parsed = parse(text, display) if text is not None else None
    node = parsed.root if parsed is not None else None
    if node is None:
        return None
    return lambda path: locate(node, path, at_key=True) or (1, 1)
