"""Moves and releases: the marker writes behind ``moved:``/``removed:``, ``state mv`` and
``state rm``.

The portal is the record of what a project manages (a stateless CI rebuilds its state from
the markers), so renaming or forgetting a record must change its markers, not only the
state file: a move rewrites ``reconciler_key`` to the new address, a release clears both
markers (the record stays in the portal, no longer this project's). Each is recorded in
the state only once HubSpot has accepted it; they run before every other phase, since the
rest of the plan names records where these leave them.
"""

from __future__ import annotations

from functools import partial

from reconciler.applying.run import ApplyRun
from reconciler.applying.update import by_type, split_by_owner, update_by_id
from reconciler.planning.changes import Change
from reconciler.planning.ownership import carried_markers
from reconciler.state.renames import rename_record


def refactor(run: ApplyRun, changes: list[Change]) -> None:
    """Carry out the plan's moves and releases (by the state's id for each record)."""
    sending: list[Change] = []
    for change in changes:
        source = change.moved_from if change.action == "move" else change.address
        recorded = run.state.records.get(str(source))
        if recorded is None or recorded.id != change.hubspot_id:
            run.fail(change, f"not done: the state does not map {source} to id {change.hubspot_id}")
        elif change.action == "move" and change.address in run.state.records:
            run.fail(change, f"not moved: {change.address} is already managed")
        elif not change.after:  # a release of a record already gone from the portal
            _record(run, change)
        else:
            sending.append(change)
    for object_type, group in by_type(sending):
        # a record the state maps without this project's id marker (an earlier release's
        # rebuild took it) is never written: a release forgets it, a move fails, named
        group, foreign = split_by_owner(run, object_type, group, "changed")
        for change, markers in foreign:
            if change.action == "release":
                _record(run, change)
                run.result.notes.append(
                    f"{change.address} (id {change.hubspot_id}) carries "
                    f"{carried_markers(markers)}, not this project's id: forgotten, its "
                    "markers left as they are")
            else:
                run.fail(change, (
                    f"not moved: {object_type} {change.hubspot_id} carries "
                    f"{carried_markers(markers)}, not this project's id, so it is not "
                    "provably this project's; `reconciler state rm --offline "
                    f"{change.moved_from}` forgets it without a write"))
        update_by_id(run, object_type, [(c, dict(c.after)) for c in group],
                     partial(_record, run),
                     failure=lambda change, message: f"{change.action} failed: {message}")


def _record(run: ApplyRun, change: Change) -> None:
    with run.lock:
        if change.action == "move" and change.moved_from is not None:
            rename_record(run.state, change.moved_from, change.address)
            run.result.moved.append(change.address)
        else:
            run.state.records.pop(change.address, None)
            run.result.released.append(change.address)


__all__ = ["refactor"]
