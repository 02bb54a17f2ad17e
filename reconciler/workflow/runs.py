"""One target's ``plan`` and ``apply``: reads, then plan, then writes.

``reconciler.workflow.many_targets`` calls these for each target of a run (one target is
the run over one): it has loaded the target (``load_target``) and, for apply, holds the
state's lock. They never print; interaction (the confirmation prompt, progress) comes in
as callbacks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.applying.apply import apply_plan
from reconciler.applying.run import ApplyResult
from reconciler.applying.still_holds import portal_changes
from reconciler.hubspot.budget import check_daily_budget, daily_remaining, with_saved_plan_reads
from reconciler.identity.recovery import recover_in_flight
from reconciler.identity.refresh import RefreshReport
from reconciler.identity.refresh_log import log_path_for
from reconciler.identity.refresh_watermark import leave_watermark
from reconciler.planning.changes import Plan
from reconciler.settings import Target
from reconciler.state.saved_plans import load_saved_plan, refuse_stale
from reconciler.workflow.options import LoadedTarget, RunOptions
from reconciler.workflow.plans import make_plan, release_excluded
from reconciler.workflow.portal import connect
from reconciler.workflow.refusals import refuse_before_writing

Confirm = Callable[[Plan], bool]
ProgressFactory = Callable[[Plan], Callable[[int], None]]


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
    #: located warning lines about the target's settings (``LoadedTarget.warnings``)
    warnings: tuple[str, ...] = ()


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
    #: located warning lines about the target's settings (``LoadedTarget.warnings``)
    warnings: tuple[str, ...] = ()
    #: apply --plan --check: the saved plan still holds; nothing was applied
    checked: bool = False


def plan_target(loaded: LoadedTarget, options: RunOptions) -> PlanOutcome:
    """Plan from the state (offline) or from the state and the portal (refresh)."""
    target, store = loaded.target, loaded.store
    state = store.load()
    in_flight = sum(len(e.get("addresses", [])) for e in state.in_flight.values())
    released = release_excluded(state, loaded, options)
    if options.offline:
        made = make_plan(loaded, state, options, None, released=released)
    else:
        with connect(target, options.environ, state=state, clock=options.clock) as client:
            made = make_plan(loaded, state, options, client, released=released)
    return PlanOutcome(made.plan, target, in_flight, released, made.needed, made.refresh,
                       made.daily_remaining, loaded.warnings)


def apply_target(
    loaded: LoadedTarget,
    options: RunOptions,
    *,
    confirm: Confirm,
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
    saved_plan: Path | None = None,
    check_only: bool = False,
) -> ApplyOutcome:
    """Recover an interrupted apply, plan (or load a saved plan, refused unless it still
    holds on the state and the portal), confirm, and apply. The caller holds the state's
    lock; the state is saved after every batch. ``check_only`` (with ``saved_plan``): stop
    once the plan is known to hold, before anything is written."""
    outcome = _apply_target(loaded, options, confirm=confirm, progress=progress, stop=stop,
                            saved_plan=saved_plan, check_only=check_only)
    return replace(outcome, warnings=loaded.warnings) if loaded.warnings else outcome


def _apply_target(
    loaded: LoadedTarget,
    options: RunOptions,
    *,
    confirm: Confirm,
    progress: ProgressFactory | None,
    stop: threading.Event | None,
    saved_plan: Path | None,
    check_only: bool,
) -> ApplyOutcome:
    desired, target, store = loaded.desired, loaded.target, loaded.store
    grace = options.grace_seconds(target)
    stopped = stop.is_set if stop is not None else (lambda: False)
    state = store.load()
    known = (state.portal_id, dict(state.owners))
    with connect(target, options.environ, state=state, clock=options.clock) as client:
        recovered: list[str] = []
        if state.in_flight:
            recovered = recover_in_flight(
                client, store, state, desired.project.marker_id, grace_seconds=grace,
                stopped=stopped,
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
            before_check = client.requests_sent
            refuse_stale(saved_plan, portal_changes(
                client, the_plan, state, desired, grace_seconds=grace, stopped=stopped,
            ))
            # (its estimate counts these reads, not the plan's: they are not made again)
            the_plan = with_saved_plan_reads(the_plan, client.requests_sent - before_check)
            state.owners.update(the_plan.owners)
        else:
            made = make_plan(loaded, state, options, client, released=released, stopped=stopped)
            the_plan, needed = made.plan, made.needed
        refuse_before_writing(target, the_plan, state, options)
        check_daily_budget(
            the_plan, daily_remaining(client, the_plan),
            ignore=options.ignore_daily_budget, target=target.name,
        )
        if check_only:
            return ApplyOutcome(the_plan, target, None, tuple(recovered), checked=True)
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
        # the next plan need not read again what this apply wrote (it knows what it wrote)
        leave_watermark(log_path_for(target.state_path), state, result.written,
                        marker=desired.project.marker_id, now=client.clock.time())
    new_ids = {
        address: state.records[address].id
        for address in [*result.created, *result.adopted] if address in state.records
    }
    return ApplyOutcome(
        the_plan, target, result, tuple(recovered), new_ids=new_ids, released=released,
        needed=needed,
    )
