"""Repairing a state file by hand: ``state rm``, ``state mv`` and ``state rebind``.

- ``run_state_rm`` / ``run_state_mv``: stop managing a record (its markers are cleared,
  it stays in the portal, released) or give it a new address (its markers are rewritten),
  in the portal and the state, so a state rebuilt from the portal (a stateless CI) keeps
  them; a plan is shown and confirmed first, as with apply.
- ``remove_from_state`` / ``move_in_state`` (``--offline``): edit only the state file; a
  state rebuilt from the portal undoes them.
- ``rebind_state``: make a state file of another project, target or portal this one's.

Each holds the state lock and copies the previous file to a backup before it writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ConfigError, StateError
from reconciler.model import ProjectSettings
from reconciler.planning.changes import Change, Plan
from reconciler.planning.refactors import move_change, move_conflict, release_change
from reconciler.settings import Target
from reconciler.state.model import State
from reconciler.state.renames import rename_record
from reconciler.workflow.manage import RunOutcome, confirm_and_apply, now_iso, recover_first
from reconciler.workflow.options import RunOptions, resolve
from reconciler.workflow.portal import connect
from reconciler.workflow.runs import Confirm, ProgressFactory


@dataclass(frozen=True, slots=True)
class StateEditOutcome:
    target: Target
    changed: tuple[str, ...]
    backup: Path | None


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
        reference_time=now_iso(options), timezone=project.timezone,
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
    project = options.project
    target, store = resolve(options)
    with store.locked(command=command):
        state = store.load()
        changes = changes_for(project, target, state)  # refused here, before any request
        with connect(target, options.environ, state=state, clock=options.clock) as client:
            if state.in_flight:  # settle an interrupted apply first: it may own these records
                recover_first(client, store, state, options, target, stop)
                changes = changes_for(project, target, state)
            the_plan = _edit_plan(project, target, state, changes, options)
            return confirm_and_apply(
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
    target, store = resolve(options)
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
    target, store = resolve(options)
    with store.locked(command="state mv"):
        state = store.load()
        _check_movable(source, destination, state)
        backup = store.backup()
        rename_record(state, source, destination)  # associations follow the rename
        store.save(state)
    return StateEditOutcome(target, (source, destination), backup)


# -- state rebind ---------------------------------------------------------------------------


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
    project = options.project
    target, store = resolve(options)
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
