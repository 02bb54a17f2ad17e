"""The library functions behind ``plan`` and ``apply``: reads, then plan, then writes.

The CLI resolves flags into ``RunOptions`` and calls one of these; they never print.
Interaction (the confirmation prompt, progress) comes in as callbacks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from reconciler.apply import ApplyResult, apply_plan
from reconciler.errors import ConfigError, SpecError, SpecIssue, StateError
from reconciler.model import DesiredState
from reconciler.planner import Plan, plan, plan_from_json, plan_to_json
from reconciler.portal import connect, refresh, resolve_owners
from reconciler.recovery import SEARCH_LAG_GRACE_SECONDS, recover_in_flight
from reconciler.settings import Target, resolve_target
from reconciler.state import State, StateStore

GRACE_ENV = "RECONCILER_RECOVERY_GRACE_SECONDS"


@dataclass(frozen=True, slots=True)
class RunOptions:
    project_dir: Path
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


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    plan: Plan
    target: Target
    in_flight: int  # records an interrupted apply left to recover (apply adopts them)


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    plan: Plan
    target: Target
    result: ApplyResult | None  # None: nothing to do, or the user declined
    recovered: tuple[str, ...] = ()
    declined: bool = False


def _load(options: RunOptions) -> tuple[DesiredState, Target, StateStore]:
    from reconciler.spec import load_project

    desired = load_project(options.project_dir, reference_time=options.reference_time)
    target = resolve_target(
        desired.project,
        target_name=options.target_name,
        state_path=options.state_path,
        base_url=options.base_url,
        environ=options.environ,
    )
    return desired, target, StateStore(target.state_path)


def check_owners(desired: DesiredState, owners: Mapping[str, str]) -> None:
    issues = [
        SpecIssue(
            r.source.file, r.source.line, r.source.column, f"{r.object_type}.{r.key}.owner",
            f"{r.owner_email} is not an owner in this portal; use an owner's email or id",
        )
        for r in desired.records.values()
        if r.owner_email and r.owner_email.lower() not in owners
    ]
    if issues:
        raise SpecError(issues)


def run_plan(options: RunOptions) -> PlanOutcome:
    """Plan from the state (offline) or from the state and the portal (refresh)."""
    desired, target, store = _load(options)
    state = store.load(target=target.name, project=desired.project.name,
                       project_id=desired.project.marker_id)
    in_flight = sum(len(e.get("addresses", [])) for e in state.in_flight.values())
    from reconciler.catalogue import check_against_portal, check_cached

    if options.offline:
        check_cached(desired, target)  # the catalogue cached by the last plan, if any
        return PlanOutcome(plan(desired, state, None, target=target.name), target, in_flight)
    with connect(target, options.environ) as client:
        remote = refresh(client, desired, state)
        owners = resolve_owners(client, desired, state)
        check_against_portal(client, desired, target, owners=owners)
        result = plan(desired, state, remote, owners=owners, target=target.name)
    return PlanOutcome(result, target, in_flight)


def run_apply(
    options: RunOptions,
    *,
    confirm: Callable[[Plan], bool],
    progress: Callable[[Plan], Callable[[int], None]] | None = None,
    stop: threading.Event | None = None,
    saved_plan: Path | None = None,
) -> ApplyOutcome:
    """Lock the state, recover an interrupted apply, plan (or load a saved plan), confirm,
    and apply. The state is saved after every batch."""
    desired, target, store = _load(options)
    grace = options.grace_seconds(target)
    with store.locked(command="apply"):
        state = store.load(target=target.name, project=desired.project.name,
                           project_id=desired.project.marker_id)
        with connect(target, options.environ) as client:
            recovered: list[str] = []
            if state.in_flight:
                recovered = recover_in_flight(
                    client, store, state, desired.project.marker_id, grace_seconds=grace
                )
            if saved_plan is not None:
                the_plan = load_saved_plan(saved_plan, state, target)
            else:
                remote = refresh(client, desired, state)
                owners = resolve_owners(client, desired, state)
                from reconciler.catalogue import check_against_portal

                check_against_portal(client, desired, target, owners=owners)
                the_plan = plan(desired, state, remote, owners=owners, target=target.name)
            refuse_protected_archives(target, the_plan)
            if not the_plan.has_changes:
                if recovered:
                    store.save(state)
                return ApplyOutcome(the_plan, target, None, tuple(recovered))
            if not confirm(the_plan):
                return ApplyOutcome(the_plan, target, None, tuple(recovered), declined=True)
            result = apply_plan(
                the_plan,
                client=client,
                store=store,
                state=state,
                project=desired.project.marker_id,
                progress=progress(the_plan) if progress else None,
                stop=stop,
                grace_seconds=grace,
            )
            result.adopted.extend(recovered)
            store.save(state)
    return ApplyOutcome(the_plan, target, result, tuple(recovered))


def refuse_protected_archives(target: Target, the_plan: Plan) -> None:
    """A target marked ``protected: true`` never has records archived, whatever the flags:
    the whole apply is refused before anything is written."""
    if not target.protected:
        return
    archives = [c.address for c in the_plan.changes if c.action == "archive"]
    if not archives:
        return
    shown = ", ".join(archives[:5]) + (f" and {len(archives) - 5} more" if len(archives) > 5 else "")
    raise ConfigError(
        f"target {target.name} is protected: refusing to archive {shown}; put "
        f"{'it' if len(archives) == 1 else 'them'} back in the spec, or stop managing "
        "with `reconciler state rm ADDRESS` (the portal keeps the record)"
    )


def save_plan(the_plan: Plan, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan_to_json(the_plan), indent=2) + "\n", encoding="utf-8")


def load_saved_plan(path: Path, state: State, target: Target) -> Plan:
    """A plan saved by ``plan --out``; refused if the state changed since it was made."""
    try:
        saved = plan_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a saved reconciler plan ({exc})") from exc
    if saved.target is not None and saved.target != target.name:
        raise StateError(
            f"{path} was made for target {saved.target}, not {target.name}; make a new plan"
        )
    if saved.state_lineage != state.lineage or saved.state_serial != state.serial:
        raise StateError(
            f"{path} is stale: the state changed since the plan was made "
            f"(serial {saved.state_serial} → {state.serial}); run `reconciler plan --out` again"
        )
    return saved


def load_state(options: RunOptions) -> tuple[Target, State]:
    """The target and its state, from ``reconciler.yaml`` alone (the spec is not parsed)."""
    from reconciler.spec import load_project_settings

    project = load_project_settings(options.project_dir)
    target = resolve_target(
        project,
        target_name=options.target_name,
        state_path=options.state_path,
        base_url=options.base_url,
        environ=options.environ,
    )
    return target, StateStore(target.state_path).load(
        target=target.name, project=project.name, project_id=project.marker_id
    )
