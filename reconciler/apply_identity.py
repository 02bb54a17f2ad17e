"""Applying ``adopt`` and ``dedupe`` changes (see ``reconciler.portal_identity``).

Neither trusts the plan blindly (a saved plan may be old): each id is read back first
(reads by id see writes at once; search lags) and must carry the marker of the change's
address. An adopted record is mapped in the state as the plan found it, then updated like
any other record when its change holds differences (its digest is written with them). A
dedupe archives an extra record, never the one the state maps.
"""

from __future__ import annotations

from reconciler.apply_archive import archive_by_id
from reconciler.apply_run import ApplyRun
from reconciler.apply_update import by_type
from reconciler.errors import ReconcilerError
from reconciler.planner import Change
from reconciler.recovery import MARKER_PROPERTY, marker_value
from reconciler.state import AppliedAssociation, RecordState


def _carrying(run: ApplyRun, object_type: str, changes: list[Change]) -> list[Change]:
    """The changes whose id exists and carries the marker of their address; fail the rest."""
    ids = sorted({str(c.hubspot_id) for c in changes if c.hubspot_id})
    try:
        found = run.client.read_all(object_type, ids, [MARKER_PROPERTY]) if ids else {}
    except ReconcilerError as error:
        for change in changes:
            run.fail(change, f"could not read {object_type} {change.hubspot_id}: {error}")
        return []
    checked: list[Change] = []
    for change in changes:
        remote = found.get(str(change.hubspot_id))
        carried = str(remote.properties.get(MARKER_PROPERTY) or "").lower() if remote else ""
        if remote is None:
            run.fail(change, f"{object_type} {change.hubspot_id} is no longer in the portal")
        elif carried != marker_value(run.project, change.address):
            run.fail(change, f"{object_type} {change.hubspot_id} does not carry the marker of "
                     f"{change.address}; make a new plan")
        else:
            checked.append(change)
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
    """Archive the extra records of duplicated markers (activities first)."""
    for object_type, group in by_type(changes, reverse=True):
        run.check_stop()
        mapped = {r.id for r in run.state.records.values() if r.object_type == object_type}
        safe: list[Change] = []
        for change in group:
            if change.hubspot_id in mapped:
                run.fail(change, f"not archived: the state maps {object_type} "
                         f"{change.hubspot_id}")
            else:
                safe.append(change)
        archive_by_id(run, object_type, _carrying(run, object_type, safe), run.record_deduped)

__all__ = ["adopt", "dedupe"]
