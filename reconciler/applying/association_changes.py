"""The association changes of updated records, in HubSpot's v4 batches: every removal of one
pair of types in requests of 100 (``batch/labels/archive``), then every addition
(``batch/create``), instead of one request per association.

A batch HubSpot refuses is sent again record by record, so one bad association fails only
its own record; a record is recorded as updated, with the associations it now has, only
when all of its removals and additions went through.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from reconciler.applying.run import ApplyRun
from reconciler.errors import ReconcilerError
from reconciler.hubspot.records import BATCH_LIMIT
from reconciler.planning.changes import Change
from reconciler.state.model import AppliedAssociation

#: one association to write: the change it belongs to, the record's id, the association
_Item = tuple[Change, str, AppliedAssociation]
_Send = Callable[[str, str, list[tuple[str, str, str, int]]], None]


def apply_association_changes(run: ApplyRun, changes: Sequence[Change]) -> None:
    """Remove, then add, the associations of ``changes`` (records whose properties were
    just updated), and record each change whose associations all went through."""
    failed: set[str] = set()
    removals: list[_Item] = []
    additions: list[_Item] = []
    for change in changes:
        recorded = run.state.records.get(change.address)
        if recorded is None:
            failed.add(change.address)
            continue
        removals += [(change, recorded.id, applied) for applied in change.remove_associations]
        for ref in change.add_associations:
            target = run.applied(change.object_type, ref)
            if target is None:
                run.fail(change, f"association target {ref.to_type}/{ref.to_key} has no "
                         "HubSpot id yet")
                failed.add(change.address)
                break
            additions.append((change, recorded.id, target))
    _send(run, removals, run.client.dissociate, failed)
    _send(run, [item for item in additions if item[0].address not in failed],
          run.client.associate, failed)
    for change in changes:
        if change.address in failed:
            continue
        recorded = run.state.records[change.address]
        associations = [a for a in recorded.associations
                        if a not in change.remove_associations]
        for change_, _, target in additions:
            if change_ is change and target not in associations:
                associations.append(target)  # (one a full refresh found removed: restored)
        run.record_updated(change, tuple(associations))
    run.save()


def _send(run: ApplyRun, items: list[_Item], send: _Send, failed: set[str]) -> None:
    """Send ``items`` grouped by (record type, associated type), 100 a request; a refused
    request is sent again record by record. A failed record is added to ``failed``."""
    groups: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    for item in items:
        groups[(item[0].object_type, item[2].to_type)].append(item)
    for (from_type, to_type), group in sorted(groups.items()):
        for start in range(0, len(group), BATCH_LIMIT):
            run.check_stop()
            chunk = [item for item in group[start:start + BATCH_LIMIT]
                     if item[0].address not in failed]
            try:
                _write(send, from_type, to_type, chunk)
            except ReconcilerError:
                by_record: dict[str, list[_Item]] = defaultdict(list)
                for item in chunk:
                    by_record[item[0].address].append(item)
                for address, own in by_record.items():
                    try:
                        _write(send, from_type, to_type, own)
                    except ReconcilerError as error:
                        run.fail(own[0][0], str(error))
                        failed.add(address)


def _write(send: _Send, from_type: str, to_type: str, items: list[_Item]) -> None:
    if items:
        send(from_type, to_type, [(record_id, applied.to_id, applied.category,
                                   applied.type_id) for _, record_id, applied in items])
