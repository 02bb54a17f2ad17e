"""Living with a state file for years: import, destroy, state repair, refresh-times.

Each function takes resolved ``RunOptions`` (and callbacks for what needs a human), does
its reads, then its writes, and returns a frozen outcome; the CLI renders it.

- adopting records that already exist in the portal (``import``, ``state rebuild``) lives
  in ``reconciler.identity.adoption``.
- ``run_state_rm`` / ``run_state_mv``: stop managing a record (its markers are cleared,
  it stays in the portal, released) or give it a new address (its markers are rewritten),
  in the portal and the state, so a state rebuilt from the portal (a stateless CI) keeps
  them; a plan is shown and confirmed first, as with apply.
- ``remove_from_state`` / ``move_in_state`` (``--offline``): edit only the state file; a
  state rebuilt from the portal undoes them.
- ``run_destroy``: archive every record the state manages (the cleanup of a sandbox).
- ``run_refresh_times``: re-resolve relative times against now and apply what moved.

Every command that changes the state holds the state lock and copies the previous file
to a backup first. A target with ``protected: true`` never has records archived.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import timezone
from pathlib import Path

from reconciler.applying.apply import ApplyResult, apply_plan
from reconciler.hubspot.client import HubSpotClient
from reconciler.errors import ConfigError, StateError
from reconciler.generate.inputs import is_generated_pin
from reconciler.model import DesiredState, ProjectSettings
from reconciler.planning.changes import Change, Plan
from reconciler.planning.planner import plan
from reconciler.planning.refactors import move_change, move_conflict, release_change
from reconciler.state.model import rename_record
from reconciler.workflow.portal import connect, refresh, resolve_owners
from reconciler.identity.recovery import recover_in_flight
from reconciler.settings import Target, resolve_target
from reconciler.state.model import State
from reconciler.state.store import StateStore
from reconciler.targets import scope
from reconciler.workflow.runs import (
    RunOptions,
    check_owners,
    load_target,
    refuse_before_writing,
    release_excluded,
    store_for,
    with_context,
)

Confirm = Callable[[Plan], bool]
ProgressFactory = Callable[[Plan], Callable[[int], None]]


@dataclass(frozen=True, slots=True)
class StateEditOutcome:
    target: Target
    changed: tuple[str, ...]
    backup: Path | None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A destroy or refresh-times run: the plan shown, and what applying it did."""

    plan: Plan
    target: Target
    result: ApplyResult | None  # None: nothing to do, or the user declined
    declined: bool = False
    backup: Path | None = None
    #: refresh-times: the records whose relative times moved
    moved: tuple[str, ...] = ()


# -- loading ----------------------------------------------------------------------------


def _now_iso(options: RunOptions) -> str:
    return options.reference_time.astimezone(timezone.utc).isoformat()


def _target(options: RunOptions, project: ProjectSettings) -> tuple[Target, StateStore]:
    target = resolve_target(
        project,
        target_name=options.target_name,
        state_path=options.state_path,
        base_url=options.base_url,
        environ=options.environ,
    )
    return target, store_for(project, target)


def load_with_spec(options: RunOptions) -> tuple[DesiredState, Target, StateStore]:
    from reconciler.loading import load_project

    desired = load_project(
        options.project_dir, reference_time=options.reference_time,
        target=options.target_name, variables=options.variables,
    )
    target, store = _target(options, desired.project)
    return scope(desired, target.name).desired, target, store  # its include/exclude, owners


def load_settings_only(options: RunOptions) -> tuple[ProjectSettings, Target, StateStore]:
    from reconciler.loading import load_project_settings

    project = load_project_settings(options.project_dir)
    target, store = _target(options, project)
    return project, target, store


def check_address(address: str) -> tuple[str, str]:
    """``"<type>/<key>"`` → (type, key), or a ConfigError saying what an address is."""
    object_type, slash, key = address.partition("/")
    if not slash or not object_type or not key:
        raise ConfigError(
            f"{address!r} is not an address; write <type>/<key>, e.g. meetings/kickoff"
        )
    return object_type, key


# -- state rm / state mv: in the portal and the state ------------------------------------


def _edit_plan(project: ProjectSettings, target: Target, state: State,
               changes: list[Change], options: RunOptions) -> Plan:
    return Plan(
        changes=tuple(changes), unchanged=(), target=target.name, project=project.name,
        state_lineage=state.lineage, state_serial=state.serial, refreshed=False,
        reference_time=_now_iso(options), timezone=project.timezone,
    )


def _run_edit(
    options: RunOptions,
    command: str,
    changes_for: Callable[[ProjectSettings, Target, State], list[Change]],
    *,
    confirm: Confirm,
    progress: ProgressFactory | None,
    stop: threading.Event | None,
) -> RunOutcome:
    project, target, store = load_settings_only(options)
    with store.locked(command=command):
        state = store.load()
        changes = changes_for(project, target, state)  # refused here, before any request
        with connect(target, options.environ, state=state) as client:
            if state.in_flight:  # settle an interrupted apply first: it may own these records
                recover_in_flight(
                    client, store, state, project.marker_id,
                    grace_seconds=options.grace_seconds(target), stopped=_stopped(stop),
                )
                _raise_if_stopped(stop)
                changes = changes_for(project, target, state)
            the_plan = _edit_plan(project, target, state, changes, options)
            return _confirm_and_apply(
                the_plan, target, store, state, client, project.marker_id,
                confirm=confirm, progress=progress, stop=stop,
            )


def run_state_rm(
    options: RunOptions,
    addresses: Iterable[str],
    *,
    confirm: Confirm,
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
) -> RunOutcome:
    """Stop managing records: clear their markers in the portal and forget them. They stay
    in the portal (released, never archived), and a state rebuilt from the portal no
    longer finds them, so a protected target never plans to archive them."""
    wanted = _addresses(addresses)

    def changes_for(project: ProjectSettings, target: Target, state: State) -> list[Change]:
        _check_managed(wanted, state, target.state_path)
        return [
            release_change(a, state.records[a], project.marker_id, reason="state rm")
            for a in wanted
        ]

    return _run_edit(options, "state rm", changes_for, confirm=confirm, progress=progress,
                     stop=stop)


def run_state_mv(
    options: RunOptions,
    source: str,
    destination: str,
    *,
    confirm: Confirm,
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
) -> RunOutcome:
    """Give a managed record a new address: its markers in the portal are rewritten, then
    the state follows, so a state rebuilt from the portal finds it at the new address."""
    _check_move(source, destination)

    def changes_for(project: ProjectSettings, target: Target, state: State) -> list[Change]:
        _check_movable(source, destination, state)
        return [move_change(source, destination, state.records[source], project.marker_id,
                            reason="state mv")]

    return _run_edit(options, "state mv", changes_for, confirm=confirm, progress=progress,
                     stop=stop)


def _addresses(addresses: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(addresses))
    if not wanted:
        raise ConfigError("name at least one address to remove, e.g. meetings/kickoff")
    for address in wanted:
        check_address(address)
    return wanted


def _check_managed(wanted: list[str], state: State, state_path: Path) -> None:
    missing = [a for a in wanted if a not in state.records]
    if missing:
        raise StateError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in the state "
            f"{state_path}; `reconciler state list` shows what is"
        )


def _check_move(source: str, destination: str) -> None:
    source_type, _ = check_address(source)
    dest_type, _ = check_address(destination)
    if source_type != dest_type:
        raise ConfigError(
            f"cannot move {source} to {destination}: a record keeps its type ({source_type})"
        )
    if source == destination:
        raise ConfigError(f"cannot move {source} to itself")


def _check_movable(source: str, destination: str, state: State) -> None:
    if source not in state.records:
        raise StateError(f"{source} is not in the state; `reconciler state list` shows what is")
    conflict = move_conflict(source, destination, state)
    if conflict is not None:
        raise StateError(conflict)


# -- editing only the state file (--offline) -----------------------------------------------


def remove_from_state(options: RunOptions, addresses: Iterable[str]) -> StateEditOutcome:
    """Forget records in the state file only (``state rm --offline``): the portal is not
    touched, so their markers stay and a state rebuilt from the portal finds them again."""
    wanted = _addresses(addresses)
    project, target, store = load_settings_only(options)
    with store.locked(command="state rm"):
        state = store.load()
        _check_managed(wanted, state, target.state_path)
        backup = store.backup()
        for address in wanted:
            del state.records[address]
        store.save(state)
    return StateEditOutcome(target, tuple(wanted), backup)


def move_in_state(options: RunOptions, source: str, destination: str) -> StateEditOutcome:
    """Rename a managed record's address in the state file only (``state mv --offline``):
    its markers in the portal keep the old address, so a state rebuilt from the portal
    undoes this."""
    _check_move(source, destination)
    project, target, store = load_settings_only(options)
    with store.locked(command="state mv"):
        state = store.load()
        _check_movable(source, destination, state)
        backup = store.backup()
        rename_record(state, source, destination)  # associations follow the rename
        store.save(state)
    return StateEditOutcome(target, (source, destination), backup)


@dataclass(frozen=True, slots=True)
class Rebinding:
    """What ``state rebind`` would change: the file's owner before and after."""

    path: Path
    records: int
    before: tuple[str | None, str | None, str | None, int | None]  # project, id, target, portal
    after: tuple[str, str, str]  # project, id, target


def rebind_state(options: RunOptions, *, confirm: Callable[[Rebinding], bool]) -> StateEditOutcome:
    """Make a state file of another project, target or portal this project's state for
    the chosen target, on purpose (a copy, a moved folder, a renamed target).

    Its records are then this project's: the next plan shows them, rewrites their markers
    to this project's (showing the markers each record carries, as read from the portal),
    and archives those the spec does not have. The portal id is
    forgotten and recorded again at the next run. A backup is kept.
    """
    project, target, store = load_settings_only(options)
    if not store.exists():
        raise StateError(f"{target.state_path} does not exist: there is no state to rebind")
    with store.locked(command="state rebind"):
        state = store.load(check=False)
        binding = store.binding
        assert binding is not None
        if binding.problem(state) is None and state.portal_id is None:
            raise StateError(
                f"{target.state_path} already is this project's state for target {target.name}"
            )
        change = Rebinding(
            path=target.state_path,
            records=len(state.records),
            before=(state.project, state.project_id, state.target, state.portal_id),
            after=(project.name, project.marker_id, target.name),
        )
        if not confirm(change):
            return StateEditOutcome(target, (), None)
        backup = store.backup()
        if state.project_id not in (binding.project_id, binding.name_slug):
            # Its records carry another project's markers: with no project id the state is
            # this project's by name (the binding refuses any other id, so the old one
            # cannot be kept), and the next apply rewrites the markers to this project's.
            # The plan shows each as a marker rewrite from the markers the refresh read on
            # the record, which are the truth (offline, from what the state says).
            state.project_id = None
        state.project, state.target, state.portal_id = project.name, target.name, None
        store.save(state)
    return StateEditOutcome(target, (str(target.state_path),), backup)


# -- destroy and refresh-times ----------------------------------------------------------


def _stopped(stop: threading.Event | None) -> Callable[[], bool]:
    return stop.is_set if stop is not None else (lambda: False)


def _raise_if_stopped(stop: threading.Event | None) -> None:
    """Ctrl-C during recovery: what it settled is saved; nothing more is done."""
    if stop is not None and stop.is_set():
        raise KeyboardInterrupt


def run_destroy(
    options: RunOptions,
    *,
    confirm: Confirm,
    progress: ProgressFactory | None = None,
    stop: threading.Event | None = None,
) -> RunOutcome:
    """Archive every record the state manages, in reverse dependency order."""
    project, target, store = load_settings_only(options)
    if target.protected:
        raise ConfigError(
            f"target {target.name} is protected (protected: true in reconciler.yaml); "
            "destroy is refused whatever the flags"
        )
    empty = DesiredState(project=project, records={}, reference_time=_now_iso(options))
    with store.locked(command="destroy"):
        state = store.load()
        with connect(target, options.environ, state=state) as client:
            if state.in_flight:  # what an interrupted apply created is ours to archive too
                recover_in_flight(
                    client, store, state, project.marker_id,
                    grace_seconds=options.grace_seconds(target), stopped=_stopped(stop),
                )
                _raise_if_stopped(stop)
            remote = refresh(client, empty, state)
            drafted = with_context(plan(empty, state, remote, target=target.name), empty)
            the_plan = replace(drafted, changes=tuple(
                replace(c, reason="destroy")
                if c.action == "archive" and c.reason != "already gone from the portal" else c
                for c in drafted.changes  # (a release: a record not provably this project's)
            ))
            return _confirm_and_apply(
                the_plan, target, store, state, client, project.marker_id,
                confirm=confirm, progress=progress, stop=stop,
            )


def _confirm_and_apply(
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
        with connect(target, options.environ, state=state) as client:
            if state.in_flight:
                recover_in_flight(
                    client, store, state, desired.project.marker_id,
                    grace_seconds=options.grace_seconds(target), stopped=_stopped(stop),
                )
                _raise_if_stopped(stop)
            release_excluded(state, loaded, options)  # no longer taken by the target: kept
            remote = refresh(client, desired, state)
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
            return _confirm_and_apply(
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
            change.action == "update" and recorded is not None and not change.diffs
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
    return replace(drafted, changes=tuple(changes), unchanged=tuple(sorted(unchanged))), tuple(moved)


__all__ = [
    "Rebinding",
    "RunOutcome",
    "StateEditOutcome",
    "check_address",
    "load_settings_only",
    "load_with_spec",
    "move_in_state",
    "rebind_state",
    "remove_from_state",
    "run_destroy",
    "run_refresh_times",
    "run_state_mv",
    "run_state_rm",
]
