"""Runs that make a plan of their own and apply it: ``destroy`` (archive every record the
state manages, the cleanup of a sandbox) and ``refresh-times`` (re-resolve relative times
against now and apply what moved); and what they share with ``state rm`` / ``state mv``
(``reconciler.workflow.state_edits``): settling an interrupted apply first, and showing
the plan, asking, and applying it.

Adopting records that already exist in the portal (``import``, ``state rebuild``) lives in
``reconciler.identity.adoption``. Each run holds the state lock and copies the previous
file to a backup before it writes. A target with ``protected: true`` never has records
archived.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timezone
from pathlib import Path

from reconciler.applying.apply import apply_plan
from reconciler.applying.run import ApplyResult
from reconciler.errors import ConfigError, SpecError, SpecIssue
from reconciler.generate.inputs import is_generated_pin
from reconciler.hubspot.client import HubSpotClient
from reconciler.identity.recovery import recover_in_flight
from reconciler.identity.refresh import refresh_records
from reconciler.model import DesiredState
from reconciler.planning.changes import Change, Plan
from reconciler.planning.planner import plan
from reconciler.settings import Target
from reconciler.state.model import State
from reconciler.state.store import StateStore
from reconciler.workflow.options import RunOptions, load_target, resolve
from reconciler.workflow.plans import release_excluded, with_context
from reconciler.workflow.portal import connect, resolve_owners
from reconciler.workflow.refusals import refuse_before_writing
from reconciler.workflow.runs import Confirm, ProgressFactory


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A destroy, refresh-times or state rm / mv run: the plan shown, and what applying it
    did."""

    plan: Plan
    target: Target
    result: ApplyResult | None  # None: nothing to do, or the user declined
    declined: bool = False
    backup: Path | None = None
    #: refresh-times: the records whose relative times moved
    moved: tuple[str, ...] = ()


def now_iso(options: RunOptions) -> str:
    return options.reference_time.astimezone(timezone.utc).isoformat()


def recover_first(
    client: HubSpotClient, store: StateStore, state: State, options: RunOptions,
    target: Target, stop: threading.Event | None,
) -> None:
    """Settle what an interrupted apply left in flight before planning anything else.
    Ctrl-C during it: what it settled is saved, and nothing more is done."""
    recover_in_flight(
        client, store, state, options.project.marker_id,
        grace_seconds=options.grace_seconds(target),
        stopped=stop.is_set if stop is not None else (lambda: False),
    )
    if stop is not None and stop.is_set():
        raise KeyboardInterrupt


def confirm_and_apply(
    the_plan: Plan,
    target: Target,
    store: StateStore,
    state: State,
    client: HubSpotClient,
    project: str,
    *,
    confirm: Confirm,
    progress: ProgressFactory | None,
    stop: threading.Event | None,
    moved: tuple[str, ...] = (),
) -> RunOutcome:
    if not the_plan.has_changes:
        return RunOutcome(the_plan, target, None, moved=moved)
    if not confirm(the_plan):
        return RunOutcome(the_plan, target, None, declined=True, moved=moved)
    backup = store.backup()
    result = apply_plan(
        the_plan, client=client, store=store, state=state, project=project,
        progress=progress(the_plan) if progress else None, stop=stop,
        markers_checked=the_plan.refreshed,  # (made just now, from a refresh)
    )
    store.save(state)
    return RunOutcome(the_plan, target, result, backup=backup, moved=moved)


def run_destroy(
    options: RunOptions,
    *,
    confirm: Confirm,
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
) -> RunOutcome:
    """Archive every record the state manages, in reverse dependency order."""
    project = options.project
    target, store = resolve(options)
    if target.protected:
        raise ConfigError(
            f"target {target.name} is protected (protected: true in reconciler.yaml); "
            "destroy is refused whatever the flags"
        )
    empty = DesiredState(project=project, records={}, reference_time=now_iso(options))
    with store.locked(command="destroy"):
        state = store.load()
        with connect(target, options.environ, state=state, clock=options.clock) as client:
            if state.in_flight:  # what an interrupted apply created is ours to archive too
                recover_first(client, store, state, options, target, stop)
            remote = refresh_records(client, empty, state)
            drafted = with_context(plan(empty, state, remote, target=target.name), empty)
            the_plan = replace(drafted, changes=tuple(
                replace(c, reason="destroy")
                if c.action == "archive" and c.reason != "already gone from the portal" else c
                for c in drafted.changes  # (a release: a record not provably this project's)
            ))
            return confirm_and_apply(
                the_plan, target, store, state, client, project.marker_id,
                confirm=confirm, progress=progress, stop=stop,
            )


def run_refresh_times(
    options: RunOptions,
    *,
    confirm: Confirm,
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
) -> RunOutcome:
    """Apply, with every relative time re-resolved against ``options.reference_time``.

    The pins apply keeps (so re-plans do not churn) are set aside for this one plan; the
    records whose times move are updated and pinned anew. Other pending spec changes are
    part of the plan as with any apply.
    """
    loaded = load_target(options)
    desired, target, store = loaded.desired, loaded.target, loaded.store
    with store.locked(command="refresh-times"):
        state = store.load()
        with connect(target, options.environ, state=state, clock=options.clock) as client:
            if state.in_flight:
                recover_first(client, store, state, options, target, stop)
            release_excluded(state, loaded, options)  # no longer taken by the target: kept
            remote = refresh_records(client, desired, state)
            owners = resolve_owners(client, desired, state)
            check_owners(desired, {**state.owners, **owners})
            unpinned = state.copy()
            for address, record in desired.records.items():
                recorded = unpinned.records.get(address)
                if recorded is not None and record.relative_times:
                    unpinned.records[address] = replace(recorded, pinned={
                        k: v for k, v in recorded.pinned.items()
                        if k not in record.relative_times or is_generated_pin(v.expr)
                    })
            drafted = with_context(
                plan(desired, unpinned, remote, owners=owners, target=target.name),
                desired, owners,
            )
            the_plan, moved = _drop_pin_only_updates(drafted, state, desired)
            refuse_before_writing(target, the_plan, state, options)
            return confirm_and_apply(
                the_plan, target, store, state, client, desired.project.marker_id,
                confirm=confirm, progress=progress, stop=stop, moved=moved,
            )


def _drop_pin_only_updates(
    drafted: Plan, state: State, desired: DesiredState
) -> tuple[Plan, tuple[str, ...]]:
    """Updates that change nothing (the time re-resolved to the value already pinned)
    are no change at all; also name the records whose relative times move."""
    changes: list[Change] = []
    unchanged = list(drafted.unchanged)
    moved: list[str] = []
    for change in drafted.changes:
        recorded = state.records.get(change.address)
        if (
            change.action in ("update", "repin") and recorded is not None and not change.diffs
            and not change.add_associations and not change.remove_associations
            and dict(change.pins) == dict(recorded.pinned)
        ):
            unchanged.append(change.address)
            continue
        record = desired.records.get(change.address)
        if change.action == "update" and record is not None and any(
            d.name in record.relative_times for d in change.diffs
        ):
            moved.append(change.address)
        changes.append(change)
    return (replace(drafted, changes=tuple(changes), unchanged=tuple(sorted(unchanged))),
            tuple(moved))


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
