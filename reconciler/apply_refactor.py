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

from reconciler.apply_run import ApplyRun
from reconciler.apply_update import by_type
from reconciler.client import UpdateInput
from reconciler.errors import ReconcilerError
from reconciler.planner import Change, rename_record


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
        by_id = {str(c.hubspot_id): c for c in group}
        inputs = [UpdateInput(i, dict(c.after)) for i, c in by_id.items()]
        for chunk, outcome in run.client.run_batches(
            partial(run.client.batch_update, object_type), inputs, stop=run.stop
        ):
            chunk_changes = [by_id[i.id] for i in chunk]
            if isinstance(outcome, ReconcilerError):
                run.fail_batch(chunk_changes, outcome)
                continue
            ok_ids = {r.id for r in outcome.results}
            errors = {i: e for e in outcome.errors for i in e.ids}
            for inp, change in zip(chunk, chunk_changes):
                if inp.id in ok_ids:
                    _record(run, change)
                else:
                    error = errors.get(inp.id)
                    run.fail(change, f"{change.action} failed: "
                             + (error.message if error else "HubSpot returned no result"))
            run.save()
            run.progress(len(chunk))


def _record(run: ApplyRun, change: Change) -> None:
    with run.lock:
        if change.action == "move" and change.moved_from is not None:
            rename_record(run.state, change.moved_from, change.address)
            run.result.moved.append(change.address)
        else:
            run.state.records.pop(change.address, None)
            run.result.released.append(change.address)


__all__ = ["refactor"]
