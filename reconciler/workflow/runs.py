"""The library functions behind ``plan`` and ``apply``: reads, then plan, then writes.

The CLI resolves flags into ``RunOptions`` and calls one of these; they never print.
Interaction (the confirmation prompt, progress) comes in as callbacks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from reconciler.applying.apply import ApplyResult, apply_plan
from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.errors import ConfigError, SpecError, SpecIssue
from reconciler.model import DesiredState, ProjectSettings, slug
from reconciler.planning.planner import Plan, plan
from reconciler.hubspot.budget import check_daily_budget, daily_remaining
from reconciler.identity.scan import plan_with_portal, scan_portal
from reconciler.workflow.portal import connect, refresh, refresh_log_path, resolve_owners
from reconciler.identity.recovery import SEARCH_LAG_GRACE_SECONDS, recover_in_flight
from reconciler.identity.refresh import RefreshMode, RefreshReport
from reconciler.settings import ARCHIVE_PERCENT_FLOOR, Target, resolve_target
from reconciler.state.store import State, StateBinding, StateStore
from reconciler.state.saved_plans import (  # (saved plans live there; importable from here too)
    check_plan_against as check_plan_against,
    load_saved_plan,
    looks_like_state as looks_like_state,
    save_plan as save_plan,
)
from reconciler.targets import limit, matches_only, release, scope

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
    #: the clock of the client's waits (and the embedded emulator's); tests pass a fake one
    clock: Clock = SYSTEM_CLOCK

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
    #: managed records this target no longer includes: forgotten, never archived
    released: tuple[str, ...] = ()
    #: creates --only did not name but the records it names need
    needed: tuple[str, ...] = ()
    #: how the refresh went (None: offline)
    refresh: RefreshReport | None = None
    #: X-HubSpot-RateLimit-Daily-Remaining as last seen (None: not said)
    daily_remaining: int | None = None


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    plan: Plan
    target: Target
    result: ApplyResult | None  # None: nothing to do, or the user declined
    recovered: tuple[str, ...] = ()
    declined: bool = False
    #: Ctrl-C stopped the run before anything was applied (during recovery)
    interrupted: bool = False
    #: address → HubSpot id of every record this run created or recovered
    new_ids: Mapping[str, str] = field(default_factory=dict)
    #: managed records this target no longer includes: forgotten, never archived
    released: tuple[str, ...] = ()
    #: creates --only did not name but the records it names need
    needed: tuple[str, ...] = ()


def binding_for(project: ProjectSettings, target: Target) -> StateBinding:
    """What a state file must belong to for this project and target (see ``StateBinding``)."""
    return StateBinding(
        target=target.name, project=project.name, project_id=project.marker_id,
        name_slug=slug(project.name),
    )


def store_for(project: ProjectSettings, target: Target) -> StateStore:
    """The target's state file, refusing (on load) one of another project or target."""
    return StateStore(target.state_path, binding=binding_for(project, target))


#: Spec loading shares the project's parse cache: targets running in threads load one at
#: a time (loading is CPU-bound; the portals' round trips are what runs side by side).
_LOADING = threading.Lock()


@dataclass(frozen=True, slots=True)
class LoadedTarget:
    desired: DesiredState  # what this target takes of the spec (its include/exclude, owners)
    target: Target
    store: StateStore
    excluded: frozenset[str]  # in the spec, not taken by this target


def load_target(options: RunOptions) -> LoadedTarget:
    """The spec as the target takes it, the target, and its state store."""
    from reconciler.loading import load_project

    with _LOADING:
        desired = load_project(
            options.project_dir, reference_time=options.reference_time,
            target=options.target_name, variables=options.variables,
        )
    target = resolve_target(
        desired.project,
        target_name=options.target_name,
        state_path=options.state_path,
        base_url=options.base_url,
        environ=options.environ,
    )
    scoped = scope(desired, target.name)
    return LoadedTarget(scoped.desired, target, store_for(desired.project, target), scoped.excluded)


def release_excluded(state: State, loaded: LoadedTarget, options: RunOptions) -> tuple[str, ...]:
    """Forget (never archive) the managed records the target no longer includes; with
    --only, only those it names."""
    excluded = loaded.excluded
    if options.only:
        excluded = frozenset(a for a in excluded if matches_only(a, options.only))
    return release(state, excluded)


def _limited(
    the_plan: Plan, options: RunOptions, desired: DesiredState, state: State,
    released: tuple[str, ...],
) -> tuple[Plan, tuple[str, ...]]:
    """The plan, limited to what --only names (and the creates that needs)."""
    if not options.only:
        return the_plan, ()
    limited = limit(the_plan, options.only, [*desired.records, *state.records, *released])
    return limited.plan, limited.needed


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
    loaded = load_target(options)
    desired, target, store = loaded.desired, loaded.target, loaded.store
    state = store.load()
    in_flight = sum(len(e.get("addresses", [])) for e in state.in_flight.values())
    released = release_excluded(state, loaded, options)
    from reconciler.planning.catalogue import check_against_portal, check_cached

    if options.offline:
        check_cached(desired, target)  # the catalogue cached by the last plan, if any
        offline = with_context(plan(desired, state, None, target=target.name), desired)
        offline, needed = _limited(offline, options, desired, state, released)
        return PlanOutcome(offline, target, in_flight, released, needed)
    with connect(target, options.environ, state=state, clock=options.clock) as client:
        remote = refresh(
            client, desired, state, mode=options.refresh, log_path=refresh_log_path(target),
            margin_seconds=options.grace_seconds(target),
        )
        owners = resolve_owners(client, desired, state)
        check_against_portal(client, desired, target, owners=owners)
        daily = client.daily_remaining
        found = scan_portal(client, desired, state, grace_seconds=options.grace_seconds(target),
                            counts=remote.counts, unproven=remote.unproven,
                            sleep=client.clock.sleep, clock=client.clock.time)
        result = with_context(plan_with_portal(
            desired, state, remote, found, owners=owners, target=target.name,
            dedupe=options.dedupe,
        ), desired, owners)
    result, needed = _limited(result, options, desired, state, released)
    return PlanOutcome(result, target, in_flight, released, needed, remote.report, daily)


def with_context(
    the_plan: Plan, desired: DesiredState, owners: Mapping[str, str] | None = None
) -> Plan:
    """The plan with what it was made with: the owners it resolved (saved with it, so that
    ``apply --plan`` records them) and the project's timezone (times are shown in it)."""
    return replace(the_plan, owners=dict(owners or {}), timezone=desired.project.timezone)


def run_apply(
    options: RunOptions,
    *,
    confirm: Callable[[Plan], bool],
    progress: Callable[[Plan], Callable[[int], None]] | None = None,
    stop: threading.Event | None = None,
    saved_plan: Path | None = None,
    locked: bool = False,
) -> ApplyOutcome:
    """Lock the state, recover an interrupted apply, plan (or load a saved plan), confirm,
    and apply. The state is saved after every batch. ``locked``: the caller holds the
    state's lock already (a run over several targets takes every target's lock first)."""
    if saved_plan is not None and options.only:
        raise ConfigError(
            "--only limits the plan apply makes; a saved plan is applied as it is. Make the "
            "plan with --only (`reconciler plan --only ADDRESS --out FILE`) instead"
        )
    loaded = load_target(options)
    desired, target, store = loaded.desired, loaded.target, loaded.store
    grace = options.grace_seconds(target)
    stopped = stop.is_set if stop is not None else (lambda: False)
    with nullcontext() if locked else store.locked(command="apply"):
        state = store.load()
        known = (state.portal_id, dict(state.owners))
        with connect(target, options.environ, state=state, clock=options.clock) as client:
            recovered: list[str] = []
            if state.in_flight:
                recovered = recover_in_flight(
                    client, store, state, desired.project.marker_id, grace_seconds=grace,
                    stopped=stopped, sleep=client.clock.sleep, clock=client.clock.time,
                )
                if stopped():  # Ctrl-C during recovery: what it settled is saved; stop here
                    store.save(state)
                    nothing = Plan(
                        changes=(), unchanged=(), target=target.name,
                        project=desired.project.name, state_lineage=state.lineage,
                        state_serial=state.serial, refreshed=False,
                        reference_time=desired.reference_time,
                    )
                    return ApplyOutcome(nothing, target, None, tuple(recovered), interrupted=True)
            released = release_excluded(state, loaded, options)
            needed: tuple[str, ...] = ()
            if saved_plan is not None:
                the_plan = load_saved_plan(saved_plan, state, target, desired)
                state.owners.update(the_plan.owners)
            else:
                remote = refresh(
                    client, desired, state, mode=options.refresh,
                    log_path=refresh_log_path(target), margin_seconds=grace,
                )
                owners = resolve_owners(client, desired, state)
                from reconciler.planning.catalogue import check_against_portal

                check_against_portal(client, desired, target, owners=owners)
                found = scan_portal(client, desired, state, grace_seconds=grace,
                                    counts=remote.counts, unproven=remote.unproven,
                                    stopped=stopped, sleep=client.clock.sleep,
                                    clock=client.clock.time)
                the_plan = with_context(plan_with_portal(
                    desired, state, remote, found, owners=owners, target=target.name,
                    dedupe=options.dedupe,
                ), desired, owners)
                the_plan, needed = _limited(the_plan, options, desired, state, released)
            refuse_before_writing(target, the_plan, state, options)
            check_daily_budget(
                the_plan, daily_remaining(client, the_plan),
                ignore=options.ignore_daily_budget, target=target.name,
            )
            if not the_plan.has_changes:
                learned = (state.portal_id, state.owners) != known  # kept for offline plans
                if recovered or released or (learned and store.exists()):
                    store.save(state)
                ids = {a: state.records[a].id for a in recovered if a in state.records}
                return ApplyOutcome(
                    the_plan, target, None, tuple(recovered), new_ids=ids, released=released,
                    needed=needed,
                )
            if not confirm(the_plan):
                return ApplyOutcome(
                    the_plan, target, None, tuple(recovered), declined=True, released=released,
                    needed=needed,
                )
            result = apply_plan(
                the_plan,
                client=client,
                store=store,
                state=state,
                project=desired.project.marker_id,
                progress=progress(the_plan) if progress else None,
                stop=stop,
                grace_seconds=grace,
                markers_checked=saved_plan is None,  # (a saved plan's records are read back)
            )
            result.adopted.extend(recovered)
            store.save(state)
    new_ids = {
        address: state.records[address].id
        for address in [*result.created, *result.adopted] if address in state.records
    }
    return ApplyOutcome(
        the_plan, target, result, tuple(recovered), new_ids=new_ids, released=released,
        needed=needed,
    )


def refuse_before_writing(
    target: Target, the_plan: Plan, state: State, options: RunOptions
) -> None:
    """Every refusal that must come before the first write of an apply."""
    refuse_unresolved_owners(the_plan)
    refuse_protected_archives(target, the_plan)
    refuse_protected_remarks(target, the_plan, migrate_markers=options.migrate_markers)
    refuse_mass_archives(target, the_plan, state, allow=options.allow_archives)


def refuse_protected_archives(target: Target, the_plan: Plan) -> None:
    """A target marked ``protected: true`` never has records archived, whatever the flags:
    the whole apply is refused before anything is written."""
    if not target.protected:
        return
    archives = [c.address for c in the_plan.changes if c.action == "archive"]
    if not archives:
        return
    raise ConfigError(
        f"target {target.name} is protected: refusing to archive {_some(archives)}; put "
        f"{'it' if len(archives) == 1 else 'them'} back in the spec, or stop managing "
        f"{'it' if len(archives) == 1 else 'them'} (the portal keeps the record): list "
        "the address under `removed:` in the spec, or run `reconciler state rm ADDRESS`"
    )


def refuse_protected_remarks(target: Target, the_plan: Plan, *, migrate_markers: bool) -> None:
    """Rewriting markers writes to every managed record: on a protected target only when
    asked for with ``--migrate-markers``."""
    remarks = [c.address for c in the_plan.changes if c.action == "remark"]
    if not remarks or not target.protected or migrate_markers:
        return
    raise ConfigError(
        f"target {target.name} is protected: this plan rewrites the markers of "
        f"{len(remarks)} managed record(s) ({_some(remarks)}), a write to each of them; "
        "run `reconciler apply --migrate-markers` to do it on purpose"
    )


def refuse_mass_archives(
    target: Target, the_plan: Plan, state: State, *, allow: int | None
) -> None:
    """Stop before writing when a plan archives more than the target allows: more than
    ``max_archives`` records, or (when more than 5) more than ``max_archive_percent`` of
    the records the state manages. A spec folder checked out half-way, a wrong --state or
    a renamed key type must not empty a portal; ``--allow-archives N`` says it is meant."""
    archives = the_plan.count("archive")
    managed = len(state.records)
    too_many = archives > target.max_archives
    too_large_share = (
        archives > ARCHIVE_PERCENT_FLOOR
        and archives * 100 > target.max_archive_percent * max(managed, 1)
    )
    if not (too_many or too_large_share) or (allow is not None and allow >= archives):
        return
    limit = (
        f"more than max_archives: {target.max_archives}" if too_many
        else f"more than max_archive_percent: {target.max_archive_percent:g}% of the "
        f"{managed} records the state manages"
    )
    hint = (
        f"--allow-archives {allow} is fewer than that; " if allow is not None else ""
    )
    raise ConfigError(
        f"this plan archives {archives} records on target {target.name}, {limit}; nothing "
        f"was changed. {hint}Check the plan (`reconciler plan`), and if that is meant, run "
        f"again with --allow-archives {archives}"
    )


def refuse_unresolved_owners(the_plan: Plan) -> None:
    """Never send the ``<owner email>`` placeholder a plan shows for an unresolved owner."""
    unresolved = sorted({
        f"{change.address} ({value})"
        for change in the_plan.changes
        for name, value in change.properties_to_send.items()
        if name == "hubspot_owner_id" and value.startswith("<owner ")
    })
    if unresolved:
        raise ConfigError(
            f"the owner of {_some(unresolved)} is not resolved to an owner id; nothing was "
            "changed. Make the plan against the portal (`reconciler plan --out FILE`, not "
            "--offline) so owners are looked up, then apply it"
        )


def _some(items: list[str]) -> str:
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def load_state(options: RunOptions) -> tuple[Target, State]:
    """The target and its state, from ``reconciler.yaml`` alone (the spec is not parsed)."""
    from reconciler.loading import load_project_settings

    project = load_project_settings(options.project_dir)
    target = resolve_target(
        project,
        target_name=options.target_name,
        state_path=options.state_path,
        base_url=options.base_url,
        environ=options.environ,
    )
    return target, store_for(project, target).load()
