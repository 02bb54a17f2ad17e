"""Applying ``adopt`` and ``dedupe`` changes (see ``reconciler.identity.scan``).

Neither trusts the plan blindly (a saved plan may be old): each id is read back first
(reads by id see writes at once; search lags) and must carry both id markers of the
change's address (``reconciler_key`` and ``reconciler_project``; a key alone, like the
first release's ``<name>:<address>``, is not enough). An adopted record is mapped in the
state as the plan found it, then updated like any other record when its change holds
differences (its digest is written with them). A dedupe archives an extra record, never
the one the state maps, and only while that one carries the markers itself: a record with
this project's id marker is never archived in favour of one without.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.applying.archive import archive_by_id
from reconciler.applying.run import ApplyRun
from reconciler.applying.update import by_type
from reconciler.errors import ReconcilerError
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY, marker_value
from reconciler.planning.changes import Change
from reconciler.state.model import AppliedAssociation, RecordState


def _not_carrying(run: ApplyRun, object_type: str, changes: list[Change]) -> dict[str, str]:
    """id → why, for the changes' ids that do not exist or do not carry both id markers of
    their change's address (the key alone, e.g. the first release's ``<name>:<address>``,
    is not enough). Raises ``ReconcilerError`` when they cannot be read."""
    ids = sorted({str(c.hubspot_id) for c in changes if c.hubspot_id})
    found = run.client.read_all(
        object_type, ids, [MARKER_PROPERTY, PROJECT_PROPERTY]) if ids else {}
    problems: dict[str, str] = {}
    for change in changes:
        remote = found.get(str(change.hubspot_id))
        if remote is None:
            problems[str(change.hubspot_id)] = (
                f"{object_type} {change.hubspot_id} is no longer in the portal")
            continue
        carried = str(remote.properties.get(MARKER_PROPERTY) or "").lower()
        owner = str(remote.properties.get(PROJECT_PROPERTY) or "").lower()
        if carried != marker_value(run.project, change.address) or owner != run.project.lower():
            problems[str(change.hubspot_id)] = (
                f"{object_type} {change.hubspot_id} does not carry this project's marker of "
                f"{change.address}")
    return problems


def _carrying(run: ApplyRun, object_type: str, changes: list[Change]) -> list[Change]:
    """The changes whose id exists and carries both id markers of their address; fail the
    rest."""
    try:
        problems = _not_carrying(run, object_type, changes)
    except ReconcilerError as error:
        for change in changes:
            run.fail(change, f"could not read {object_type} {change.hubspot_id}: {error}")
        return []
    checked: list[Change] = []
    for change in changes:
        problem = problems.get(str(change.hubspot_id))
        if problem is None:
            checked.append(change)
        else:
            run.fail(change, f"{problem}; make a new plan")
    return checked


def adopt(run: ApplyRun, changes: list[Change]) -> list[Change]:
    """Map each found record in the state; return the adopt changes that hold an update
    (sent with the other updates, once what they point at exists)."""
    to_update: list[Change] = []
    for object_type, group in by_type(changes):
        run.check_stop()
        unmapped = [c for c in group if c.address not in run.state.records]
        for change in group:
            if change.address in run.state.records:
                run.fail(change, "not adopted: the state maps this address already")
        for change in _carrying(run, object_type, unmapped):
            added = {a.identity() for a in change.add_associations}
            kept: list[AppliedAssociation] = [
                a for a in (run.applied(object_type, r) for r in change.associations
                            if r.identity() not in added)
                if a is not None
            ]
            kept.extend(a for a in change.remove_associations if a not in kept)
            before = {d.name: d.before for d in change.diffs}
            properties = {
                name: value for name, value in
                ((n, before[n] if n in before else v) for n, v in change.after.items())
                if value is not None
            }
            run.record_adopted(change, RecordState(
                id=str(change.hubspot_id), object_type=object_type, properties=properties,
                associations=tuple(kept), pinned=dict(change.pins),
            ))
            if change.diffs or change.add_associations or change.remove_associations:
                to_update.append(change)
        run.save()
    return to_update


def dedupe(run: ApplyRun, changes: list[Change]) -> None:
    """Archive the extra records of duplicated markers (activities first), each only while
    the record the state keeps for its address carries this project's id markers itself:
    a record with them is never archived in favour of one without."""
    for object_type, group in by_type(changes, reverse=True):
        run.check_stop()
        mapped = {r.id for r in run.state.records.values() if r.object_type == object_type}
        safe: list[Change] = []
        for change in group:
            kept = run.state.records.get(change.address)
            if change.hubspot_id in mapped:
                run.fail(change, f"not archived: the state maps {object_type} "
                         f"{change.hubspot_id}")
            elif kept is None:
                run.fail(change, f"not archived: the state keeps no record of {change.address}")
            else:
                safe.append(change)
        keeping = [replace(c, hubspot_id=run.state.records[c.address].id) for c in safe]
        try:
            problems = _not_carrying(run, object_type, keeping)
        except ReconcilerError as error:
            problems = {str(c.hubspot_id): f"could not read it: {error}" for c in keeping}
        sending = []
        for change, kept_change in zip(safe, keeping, strict=True):
            problem = problems.get(str(kept_change.hubspot_id))
            if problem is None:
                sending.append(change)
            else:
                run.fail(change, f"not archived: the record kept for {change.address} (id "
                         f"{kept_change.hubspot_id}) must carry this project's marker: "
                         f"{problem}; make a new plan")
        archive_by_id(run, object_type, _carrying(run, object_type, sending), run.record_deduped)

__all__ = ["adopt", "dedupe"]
