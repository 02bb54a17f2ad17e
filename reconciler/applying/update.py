"""Updating records, their associations, and their markers (the ``remark`` migration).

Property updates go in batches by id; association changes and the associations of records
created earlier in the run go through the v4 associations API (``associate``), and are
recorded in the state only once HubSpot has made them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial

from reconciler.applying.association_changes import apply_association_changes
from reconciler.applying.run import ApplyRun
from reconciler.errors import ReconcilerError
from reconciler.hubspot.records import UpdateInput
from reconciler.identity.applied_digest import DIGEST_PROPERTY, encode_digest
from reconciler.identity.lookup import records_carrying
from reconciler.identity.markers import (
    MARKER_PROPERTY,
    PROJECT_PROPERTY,
    marker_properties,
    marker_value,
)
from reconciler.model import AssociationRef, write_rank
from reconciler.planning.changes import Change, RemoteSnapshot
from reconciler.planning.ownership import carried_markers, not_provably_ours
from reconciler.state.model import AppliedAssociation


def by_type(changes: Sequence[Change], *, reverse: bool = False) -> list[tuple[str, list[Change]]]:
    """Changes grouped by object type, in write order (what others point at first)."""
    groups: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        groups[change.object_type].append(change)
    sign = -1 if reverse else 1
    return [(t, groups[t]) for t in sorted(groups, key=lambda t: (sign * write_rank(t), t))]


def update_by_id(
    run: ApplyRun,
    object_type: str,
    items: Sequence[tuple[Change, dict[str, str]]],
    on_success: Callable[[Change], None],
    *,
    failure: Callable[[Change, str], str] = lambda change, message: message,
) -> None:
    """Batch-update records by the state's id (100 a request), and record each one's
    outcome as its batch is answered: ``on_success`` for a record HubSpot updated, a
    failure with HubSpot's message (worded by ``failure``) otherwise; the state is saved
    after every batch."""
    by_id = {str(c.hubspot_id): c for c, _ in items}
    inputs = [UpdateInput(str(c.hubspot_id), properties) for c, properties in items]
    for chunk, outcome in run.client.run_batches(
        partial(run.client.batch_update, object_type), inputs, stop=run.stop
    ):
        chunk_changes = [by_id[i.id] for i in chunk]
        if isinstance(outcome, ReconcilerError):
            run.fail_batch(chunk_changes, outcome)
            continue
        ok_ids = {r.id for r in outcome.results}
        run.note_written(object_type, (r for r in outcome.results if r.id in by_id))
        errors = {i: e for e in outcome.errors for i in e.ids}
        for inp, change in zip(chunk, chunk_changes, strict=True):
            if inp.id in ok_ids:
                on_success(change)
            else:
                error = errors.get(inp.id)
                run.fail(change, failure(
                    change, error.message if error else "HubSpot returned no result"))
        run.save()
        run.progress(len(chunk))


def provably_ours(
    run: ApplyRun, object_type: str, changes: Sequence[Change], verb: str
) -> list[Change]:
    """The changes whose record carries this project's id marker; the others fail, named
    (see ``split_by_owner``)."""
    ours, foreign = split_by_owner(run, object_type, changes, verb)
    for change, markers in foreign:
        run.fail(change, (
            f"not {verb}: {object_type} {change.hubspot_id} carries {carried_markers(markers)}, "
            "not this project's id, so it is not provably this project's. A new plan (with a "
            "refresh) forgets it without a write; to take it on purpose: `reconciler state rm "
            f"--offline {change.address}`, then `reconciler import {change.address} "
            f"{change.hubspot_id}`"))
    return ours


def split_by_owner(
    run: ApplyRun, object_type: str, changes: Sequence[Change], verb: str
) -> tuple[list[Change], list[tuple[Change, tuple[str, str]]]]:
    """The changes whose record carries this project's id marker, and the others with the
    markers their record carries.

    A plan this run made from a refresh was checked already (``ownership.not_provably_ours``:
    such a record is forgotten, never written). Any other plan (a saved one may be old, or
    made offline) has its records read back by id first (100 a request, the two markers
    only). While a state's markers migrate to this project's id, its records may carry the
    state's previous id (or, from the first release, none). A record that cannot be read
    back fails, named."""
    if run.markers_checked or not changes:
        return list(changes), []
    ids = sorted({str(c.hubspot_id) for c in changes if c.hubspot_id})
    try:
        found = run.client.read_all(object_type, ids, [MARKER_PROPERTY, PROJECT_PROPERTY])
    except ReconcilerError as error:
        for change in changes:
            run.fail(change, f"not {verb}: could not read {object_type} {change.hubspot_id} "
                     f"back to check whose it is: {error}")
        return [], []
    # while markers migrate, records may carry the state's previous id (first release: none)
    migrating_from = (None if run.state.project_id == run.project
                      else (run.state.project_id or "").lower())
    ours: list[Change] = []
    foreign: list[tuple[Change, tuple[str, str]]] = []
    for change in changes:
        source = change.moved_from if change.action == "move" else change.address
        remote = found.get(str(change.hubspot_id))
        recorded = run.state.records.get(str(source))
        if remote is None or recorded is None:
            ours.append(change)  # gone from the portal: the write itself says so
            continue
        markers = (str(remote.properties.get(MARKER_PROPERTY) or ""),
                   str(remote.properties.get(PROJECT_PROPERTY) or ""))
        snapshot = RemoteSnapshot(remote.id, {}, markers=markers)
        if not not_provably_ours(recorded, snapshot, run.project) or (
            markers[1].lower() == migrating_from
        ):
            ours.append(change)
        else:
            foreign.append((change, markers))
    return ours, foreign


def update(run: ApplyRun, changes: list[Change]) -> None:
    """Send each change's properties with its digest (``reconciler_applied``: the pins and
    associations the record now has), so a rebuild from the portal plans what this state
    would; an association-only change sends its digest too. The records of a plan this run
    did not check are read back first (``provably_ours``); an adopted record was, by
    ``apply_identity.adopt``."""
    for object_type, group in by_type(changes):
        group = [
            *provably_ours(run, object_type, [c for c in group if c.action != "adopt"],
                           "updated"),
            *(c for c in group if c.action == "adopt"),
        ]
        with_associations: list[Change] = []
        update_by_id(run, object_type, [
            (c, {**_properties_to_send(run, c),
                 DIGEST_PROPERTY: encode_digest(c.pins, c.associations)})
            for c in group
        ], partial(_record_or_defer, run, with_associations))
        # then the associations, 100 a request per pair of types
        apply_association_changes(run, with_associations)


def _record_or_defer(run: ApplyRun, deferred: list[Change], change: Change) -> None:
    """An updated record is recorded with its batch (a crash loses nothing HubSpot
    accepted), unless its associations change: then once they are made."""
    if change.add_associations or change.remove_associations:
        deferred.append(change)
    elif (recorded := run.state.records.get(change.address)) is not None:
        run.record_updated(change, recorded.associations)


def _properties_to_send(run: ApplyRun, change: Change) -> dict[str, str]:
    """What differs; for a calendar meeting also its markers, in case the update that
    follows the scheduler's create failed (the scheduler cannot set them)."""
    recorded = run.state.records.get(change.address)
    if recorded is not None and recorded.via_calendar:
        return {**change.properties_to_send, **marker_properties(run.project, change.address)}
    return change.properties_to_send


def associate(
    run: ApplyRun, from_type: str, pairs: Sequence[tuple[Change, AppliedAssociation]]
) -> None:
    """Create associations of records that now exist (batched per target type), and
    record each once made. A refused batch is retried record by record, so one bad
    association fails only its own record."""
    by_target: dict[str, list[tuple[Change, AppliedAssociation]]] = defaultdict(list)
    for change, applied in pairs:
        if change.address in run.state.records:
            by_target[applied.to_type].append((change, applied))
    for to_type, group in sorted(by_target.items()):
        run.check_stop()
        try:
            _associate_group(run, from_type, to_type, group)
        except ReconcilerError:
            per_record: dict[str, list[tuple[Change, AppliedAssociation]]] = defaultdict(list)
            for change, applied in group:
                per_record[change.address].append((change, applied))
            for items in per_record.values():
                try:
                    _associate_group(run, from_type, to_type, items)
                except ReconcilerError as error:
                    change = items[0][0]
                    run.fail(change, f"association to {to_type}: {error}")
        run.save()


def _associate_group(
    run: ApplyRun, from_type: str, to_type: str,
    group: Sequence[tuple[Change, AppliedAssociation]],
) -> None:
    run.client.associate(from_type, to_type, [
        (run.state.records[c.address].id, a.to_id, a.category, a.type_id) for c, a in group
    ])
    made: dict[str, list[AppliedAssociation]] = defaultdict(list)
    for change, applied in group:
        made[change.address].append(applied)
    for address, applied_list in made.items():
        run.record_associated(address, applied_list)


def associate_deferred(run: ApplyRun, deferred: list[tuple[Change, AssociationRef]]) -> None:
    """Associations whose target had no id when their record was created."""
    pairs: dict[str, list[tuple[Change, AppliedAssociation]]] = defaultdict(list)
    for change, ref in deferred:
        if change.address not in run.state.records:
            continue
        target = run.applied(change.object_type, ref)
        if target is None:
            run.fail(change, f"association target {ref.to_type}/{ref.to_key} was not created",
                     skipped=True)
            continue
        pairs[change.object_type].append((change, target))
    for from_type, items in sorted(pairs.items()):
        associate(run, from_type, items)


def remark(run: ApplyRun, changes: list[Change]) -> None:
    """Rewrite the markers of records this state maps (by the state's id) to this
    project's id: one batch update of the two marker properties.

    A record carrying this project's id marker always wins over one that does not: the
    new markers are looked for first, and the rewrite of a record whose new marker another
    record carries already is refused, naming that record (on companies, contacts, deals
    and tickets HubSpot would refuse it too, and with it the rest of its batch; on meetings
    and calls it would make a duplicate)."""
    checked: list[Change] = []
    for change in changes:
        recorded = run.state.records.get(change.address)
        if recorded is None or recorded.id != change.hubspot_id:
            run.fail(change, "not rewritten: the state does not map this record to "
                     f"id {change.hubspot_id}")
        else:
            checked.append(change)
    for object_type, group in by_type(checked):
        run.check_stop()
        markers = {marker_value(run.project, c.address): c for c in group}
        try:
            carrying = records_carrying(run.client, object_type, list(markers))
        except ReconcilerError as error:
            for change in group:
                run.fail(change, f"marker rewrite not sent: could not look for records "
                         f"carrying the new markers: {error}")
            continue
        taken: dict[str, str] = {}
        for other in sorted(carrying, key=lambda r: (len(r.id), r.id)):
            value = str(other.properties.get(MARKER_PROPERTY) or "").lower()
            wanted = markers.get(value)
            if wanted is not None and other.id != wanted.hubspot_id:
                taken.setdefault(wanted.address, other.id)
        sending = []
        for change in group:
            if change.address in taken:
                run.fail(change, _taken_marker(change, taken[change.address], run.project))
            else:
                sending.append(change)
        update_by_id(run, object_type,
                     [(c, marker_properties(run.project, c.address)) for c in sending],
                     run.record_remarked,
                     failure=lambda _change, message: f"marker rewrite failed: {message}")


def _taken_marker(change: Change, other_id: str, project: str) -> str:
    marker = marker_value(project, change.address)
    return (
        f"marker rewrite refused: {change.object_type} {other_id} already carries "
        f"{MARKER_PROPERTY} {marker}, so id {change.hubspot_id} (which the state maps) is not "
        f"given it. If {other_id} is this project's record, run `reconciler state rm "
        f"--offline {change.address}` and `reconciler import {change.address} {other_id}`; "
        f"if not, clear its {MARKER_PROPERTY} in HubSpot. Then apply again"
    )

__all__ = [
    "associate", "associate_deferred", "by_type", "provably_ours", "remark", "update",
    "update_by_id",
]
