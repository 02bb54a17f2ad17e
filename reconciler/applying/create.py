"""Creating records: batch create (or upsert by the marker), never believing an answer blindly.

Each batch is saved as *in flight* (with the exact marker sent for each record) before it
leaves. Its answer is checked result by result (``attribute``): a result counts only if the
marker it carries is the one sent with the input it claims to answer (by trace id, else by
marker) and its id is unique in the answer. Inputs without such a result or an error of
their own, like whole batches whose answer was lost, are *outcome unknown*: they are looked
up by marker once the search index has caught up, and only what is not found is sent again.

Upsert inputs carry no associations: HubSpot's ``SimplePublicObjectBatchInputUpsert`` has
only ``id``, ``idProperty``, ``objectWriteTraceId`` and ``properties``, so inline associations
would be silently dropped. They are created through the associations API right after
(``apply_update.associate``) and recorded only once created.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconciler.applying.run import ApplyRun
from reconciler.applying.update import associate
from reconciler.errors import AmbiguousWriteError, ReconcilerError
from reconciler.hubspot.records import BatchItemError, BatchOutcome, CreateInput, RemoteRecord
from reconciler.identity.applied_digest import DIGEST_PROPERTY, encode_digest
from reconciler.identity.lookup import find_by_marker
from reconciler.identity.markers import MARKER_PROPERTY, marker_properties
from reconciler.model import AssociationRef
from reconciler.planning.changes import Change
from reconciler.state.model import AppliedAssociation, RecordState

#: Rounds of create → settle lost answers by marker → resend the rest, within one apply.
CREATE_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class Pending:
    """One record to create: the change, what is sent, what the state will record, and
    (upsert only) the associations to create once it exists."""

    change: Change
    input: CreateInput
    record: RecordState
    associate_after: tuple[AppliedAssociation, ...] = ()

    @property
    def marker(self) -> str:
        return self.input.properties[MARKER_PROPERTY]


@dataclass(frozen=True, slots=True)
class Unsettled:
    pending: Pending
    batch_id: str


def prepare(
    run: ApplyRun, object_type: str, changes: list[Change]
) -> tuple[list[Pending], list[Change], list[tuple[Change, AssociationRef]]]:
    """Split the creates of one type: batch inputs, calendar meetings, and associations
    to make once their target exists (deferred). Records that cannot be sent fail here."""
    upsert = run.unique_marker.get(object_type, False)
    pending: list[Pending] = []
    calendar: list[Change] = []
    deferred: list[tuple[Change, AssociationRef]] = []
    for change in changes:
        blocker = run.blocked_by(change)
        if blocker:
            run.fail(change, f"depends on {blocker}, which failed", skipped=True)
            continue
        if any(v.startswith("<owner ") for v in change.after.values()):
            run.fail(change, "owner email could not be resolved to a HubSpot owner")
            continue
        unsettled = still_in_flight(run, change.address)
        if unsettled is not None:
            run.fail(change, unsettled)
            continue
        inline: list[AppliedAssociation] = []
        later: list[tuple[Change, AssociationRef]] = []
        for ref in change.associations:
            applied = run.applied(object_type, ref)
            if applied is not None:
                inline.append(applied)
            elif ref.label is not None and run.type_id(object_type, ref) is None:
                run.fail(change, f"association label {ref.label!r} does not exist in the "
                         f"portal for {object_type} → {ref.to_type}")
                break
            else:
                later.append((change, ref))
        else:
            deferred.extend(later)
            if change.calendar is not None:
                calendar.append(change)
                continue
            properties = {
                **change.after, **marker_properties(run.project, change.address),
                DIGEST_PROPERTY: encode_digest(change.pins, change.associations),
            }
            sent = () if upsert else tuple(
                (a.to_type, a.to_id, a.category, a.type_id) for a in inline
            )
            pending.append(Pending(
                change,
                CreateInput(run.trace_id(), properties, sent),
                run.record_state(change, associations=() if upsert else inline),
                tuple(inline) if upsert else (),
            ))
    return pending, calendar, deferred


def still_in_flight(run: ApplyRun, address: str) -> str | None:
    """Why ``address`` must not be created now: an earlier create of it is still in flight
    (its outcome unknown, or a calendar meeting recovery could not tell apart)."""
    for entry in run.state.in_flight.values():
        if address in entry.get("addresses", []):
            return str(entry.get("unresolved") or (
                "an earlier create of it is still in flight (its outcome is unknown); "
                "run apply again to settle it by marker, nothing is created twice"
            ))
    return None


def create_batches(run: ApplyRun, object_type: str, pending: list[Pending]) -> None:
    """Create in batches; settle inputs whose outcome is unknown within this run.

    What may or may not have committed (a 5xx, a dropped connection, an answer that does
    not add up) is looked up by marker once the search index has had time to catch up;
    what exists is adopted and only the rest is sent again, for up to ``CREATE_ROUNDS``
    rounds. What is still unsettled then (or when stopping) stays in flight.
    """
    created: list[Pending] = []
    unsettled: list[Unsettled] = []
    for round_number in range(1, CREATE_ROUNDS + 1):
        unsettled = send_creates(run, object_type, pending, created)
        if not unsettled or round_number == CREATE_ROUNDS or run.stop.is_set():
            break
        try:
            found = settle(run, object_type, unsettled, created)
        except ReconcilerError as error:
            for item in unsettled:
                run.fail(item.pending.change, f"outcome unknown, and looking it up failed "
                         f"({error}); run apply again to recover it (nothing will be duplicated)")
            unsettled = []
            break
        unsettled = [u for u in unsettled if u.pending.change.address not in found]
        if run.stop.is_set():
            break
        pending = [replace(u.pending, input=replace(u.pending.input, trace_id=run.trace_id()))
                   for u in unsettled]
        if not pending:
            break
    for item in unsettled:
        run.fail(item.pending.change, "outcome unknown (HubSpot's answer was lost or could not "
                 "be trusted); run apply again to recover it: it is looked up by marker "
                 "first, nothing is duplicated")
    associate_upserted(run, object_type, created)


def send_creates(
    run: ApplyRun, object_type: str, items: list[Pending], created: list[Pending]
) -> list[Unsettled]:
    """One pass of batch creates (or upserts); return the inputs whose outcome is unknown."""
    by_trace = {p.input.trace_id: p for p in items}
    upsert = run.unique_marker.get(object_type, False)
    unsettled: list[Unsettled] = []

    def send(chunk: Sequence[CreateInput]) -> BatchOutcome:
        # On a worker thread: the in-flight entry is saved before the request leaves.
        group = [by_trace[i.trace_id] for i in chunk]
        run.record_in_flight(chunk[0].trace_id, {
            "object_type": object_type,
            "addresses": [p.change.address for p in group],
            "started_at": run.client.clock.time(),
            "records": {p.change.address: p.record.to_json() for p in group},
            # the exact marker sent: recovery searches for it, whatever the release
            "markers": {p.change.address: p.marker for p in group},
        })
        if upsert:
            return run.client.batch_upsert(object_type, MARKER_PROPERTY, chunk)
        return run.client.batch_create(object_type, chunk)

    for chunk, outcome in run.client.run_batches(send, [p.input for p in items], stop=run.stop):
        batch_id = chunk[0].trace_id
        group = [by_trace[i.trace_id] for i in chunk]
        with run.lock:
            if isinstance(outcome, AmbiguousWriteError):
                # It may have committed: it stays in flight until settled by marker.
                unsettled.extend(Unsettled(p, batch_id) for p in group)
                continue
            if isinstance(outcome, ReconcilerError):
                run.settled(batch_id)
                run.fail_batch([p.change for p in group], outcome)
                run.save()
                continue
            results, errors = attribute(chunk, outcome)
            for item in group:
                remote = results.get(item.input.trace_id)
                error = errors.get(item.input.trace_id)
                if remote is not None:
                    run.record_created(item.change, remote.id, item.record)
                    run.note_written(object_type, [remote])
                    created.append(item)
                elif error is not None:
                    run.fail(item.change, error.message)
                else:
                    unsettled.append(Unsettled(item, batch_id))
            if not any(u.batch_id == batch_id for u in unsettled):
                run.settled(batch_id)
            run.save()
        run.progress(len(chunk))
    return unsettled


def attribute(
    chunk: Sequence[CreateInput], outcome: BatchOutcome
) -> tuple[dict[str, RemoteRecord], dict[str, BatchItemError]]:
    """The results and errors of a batch answer that can be trusted, by input trace id.

    A result is believed only if it carries the marker sent with the input it claims to
    answer (by its trace id when echoed, else by its marker), and no other result of the
    answer has its id. An input with both a result and an error is believed neither way.
    What is left out is "outcome unknown" for the caller: never mapped, never resent blind.
    """
    by_trace = {i.trace_id: i for i in chunk}
    by_marker = {i.properties[MARKER_PROPERTY].lower(): i for i in chunk}
    claims: dict[str, list[RemoteRecord]] = {}
    for remote in outcome.results:
        marker = str(remote.properties.get(MARKER_PROPERTY) or "").lower()
        trace = remote.object_write_trace_id
        claimed = by_trace.get(trace) if trace else by_marker.get(marker)
        if claimed is None or claimed.properties[MARKER_PROPERTY].lower() != marker:
            continue  # answers no input of this batch: proof of nothing
        claims.setdefault(claimed.trace_id, []).append(remote)
    id_count: dict[str, int] = {}
    for remote in outcome.results:
        id_count[remote.id] = id_count.get(remote.id, 0) + 1
    errors = {t: e for e in outcome.errors for t in e.trace_ids if t in by_trace}
    results = {
        trace: remotes[0]
        for trace, remotes in claims.items()
        if len(remotes) == 1 and remotes[0].id.isdigit() and id_count[remotes[0].id] == 1
        and trace not in errors
    }
    contradicted = {t for t in errors if t in claims}
    return results, {t: e for t, e in errors.items() if t not in contradicted}


def settle(
    run: ApplyRun, object_type: str, unsettled: list[Unsettled], created: list[Pending]
) -> set[str]:
    """Look up unsettled creates by marker; adopt what exists; return the addresses found."""
    batch_ids = {u.batch_id for u in unsettled}
    started = max(
        float(run.state.in_flight.get(b, {}).get("started_at", run.client.clock.time()))
        for b in batch_ids
    )
    markers = {u.pending.marker: u.pending.change.address for u in unsettled}
    found = find_by_marker(
        run.client, object_type, markers, deadline=started + run.grace_seconds,
        stopped=run.stop.is_set,
    )
    with run.lock:
        for item in unsettled:
            remote = found.get(item.pending.change.address)
            if remote is not None:
                run.record_created(item.pending.change, remote.id, item.pending.record)
                run.note_written(object_type, [remote])
                created.append(item.pending)
                run.progress(1)
        if not run.stop.is_set():  # else the wait was cut short: proof of nothing
            run.settled(*batch_ids)
        run.save()
    return set(found)


def associate_upserted(run: ApplyRun, object_type: str, created: list[Pending]) -> None:
    """Associations of upserted records, through the associations API (see the module)."""
    pairs = [(p.change, a) for p in created for a in p.associate_after]
    if pairs:
        associate(run, object_type, pairs)


__all__ = ["attribute", "create_batches", "prepare", "still_in_flight"]
