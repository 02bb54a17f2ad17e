"""Execute a ``Plan`` against a portal, recording every outcome in the state at once.

One place sends a batch and records its outcome (``_Applier._record_creates`` and
friends): the state is saved after every batch, so a crash loses nothing HubSpot accepted.

Crash safety rests on the marker property and in-flight batches: see ``reconciler.recovery``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from reconciler.client import (
    CALENDAR_PROPERTIES,
    BatchOutcome,
    CreateInput,
    HubSpotClient,
    UpdateInput,
)
from reconciler.errors import AmbiguousWriteError, RateLimitError, ReconcilerError
from reconciler.model import AssociationRef, Source, write_rank
from reconciler.planner import Change, Plan
from reconciler.recovery import (
    CREATE_ROUNDS,
    MARKER_PROPERTY,
    SEARCH_LAG_GRACE_SECONDS,
    ensure_markers,
    find_by_marker,
    marker_properties,
    marker_value,
    recover_in_flight,
)
from reconciler.state import AppliedAssociation, RecordState, State, StateStore


@dataclass(frozen=True, slots=True)
class Failure:
    address: str
    source: Source | None
    message: str
    skipped: bool = False

    def render(self) -> str:
        where = f"{self.source.file}:{self.source.line}: " if self.source else ""
        verb = "skipped" if self.skipped else "failed"
        return f"{where}{self.address}: {verb}: {self.message}"


@dataclass(slots=True)
class ApplyResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    #: records whose markers were rewritten to this project's id (marker migration)
    remarked: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False
    stopped_reason: str | None = None
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.interrupted and self.stopped_reason is None


ProgressCallback = Callable[[int], None]


class _Stop(Exception):
    """Raised inside the apply loop when the daily limit or Ctrl-C ends it early."""


class _Applier:
    def __init__(
        self,
        plan: Plan,
        *,
        client: HubSpotClient,
        store: StateStore,
        state: State,
        project: str,
        progress: ProgressCallback | None,
        stop: threading.Event | None,
        grace_seconds: float = 30.0,
    ) -> None:
        self.plan = plan
        self.grace_seconds = grace_seconds
        self.client = client
        self.store = store
        self.state = state
        self.project = project
        self.progress = progress or (lambda n: None)
        self.stop = stop or threading.Event()
        self.result = ApplyResult()
        self.failed: set[str] = set()
        self.unique_marker: dict[str, bool] = {}
        self.labels: dict[tuple[str, str, str], int] = {}
        self.run_id = uuid.uuid4().hex[:10]
        self._trace_counter = 0
        self._lock = threading.Lock()

    # -- helpers ------------------------------------------------------------------------

    def _trace_id(self) -> str:
        self._trace_counter += 1
        return f"{self.run_id}-{self._trace_counter}"

    def _save(self) -> None:
        self.store.save(self.state)

    def _fail(self, change: Change, message: str, *, skipped: bool = False) -> None:
        self.failed.add(change.address)
        self.result.failures.append(Failure(change.address, change.source, message, skipped))

    def _check_stop(self) -> None:
        if self.stop.is_set():
            # The daily limit stops the apply too, but that is an error (exit 1), not Ctrl-C.
            self.result.interrupted = self.result.stopped_reason is None
            raise _Stop()

    def _handle_batch_error(self, changes: Sequence[Change], error: ReconcilerError) -> None:
        if isinstance(error, RateLimitError) and error.policy == "DAILY":
            for change in changes:
                self._fail(change, "not sent: HubSpot's daily API limit is reached")
            self.result.stopped_reason = (
                "HubSpot's daily API limit is reached; the state holds everything applied so "
                "far. Run apply again after the daily limit resets (midnight in the portal's "
                "time zone)."
            )
            self.stop.set()
            return
        for change in changes:
            self._fail(change, str(error))

    # -- resolution ---------------------------------------------------------------------

    def _target_id(self, ref: AssociationRef) -> str | None:
        if ref.to_id is not None:
            return ref.to_id
        recorded = self.state.records.get(f"{ref.to_type}/{ref.to_key}")
        return recorded.id if recorded else None

    def _type_id(self, from_type: str, ref: AssociationRef) -> int | None:
        if ref.type_id is not None:
            return ref.type_id
        if ref.label is None:
            return None
        key = (from_type, ref.to_type, ref.label.lower())
        if key not in self.labels:
            for label in self.client.association_labels(from_type, ref.to_type):
                if label.label:
                    self.labels[(from_type, ref.to_type, label.label.lower())] = label.type_id
        return self.labels.get(key)

    def _applied(self, from_type: str, ref: AssociationRef) -> AppliedAssociation | None:
        to_id = self._target_id(ref)
        type_id = self._type_id(from_type, ref)
        if to_id is None or type_id is None:
            return None
        return AppliedAssociation(ref.to_type, to_id, ref.category, type_id, ref.to_key)

    def _blocked_by(self, change: Change) -> str | None:
        for ref in change.associations:
            if ref.to_key is not None and f"{ref.to_type}/{ref.to_key}" in self.failed:
                return f"{ref.to_type}/{ref.to_key}"
        return None

    # -- the phases ---------------------------------------------------------------------

    def run(self) -> ApplyResult:
        try:
            types = {c.object_type for c in self.plan.changes if c.action in ("create", "remark")}
            ensure_markers(self.client, types, self.unique_marker)
            self._remark([c for c in self.plan.changes if c.action == "remark"])
            self._check_stop()
            by_type: dict[str, list[Change]] = defaultdict(list)
            for change in self.plan.changes:
                if change.action == "create":
                    by_type[change.object_type].append(change)
            deferred: list[tuple[Change, AssociationRef]] = []
            for object_type in sorted(by_type, key=lambda t: (write_rank(t), t)):
                self._check_stop()
                deferred.extend(self._create(object_type, by_type[object_type]))
            self._check_stop()
            self._update([c for c in self.plan.changes if c.action == "update"])
            self._associate_deferred(deferred)
            self._check_stop()
            self._archive([c for c in self.plan.changes if c.action == "archive"])
            self._check_stop()  # stopped during the last phase: some of it was not sent
        except _Stop:
            pass
        self._bind_project_id()
        self.result.requests = self.client.requests_sent
        return self.result

    def _remark(self, changes: list[Change]) -> None:
        """Rewrite the markers of records this state maps (by the state's id) to this
        project's id: one batch update of the two marker properties."""
        by_type: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            recorded = self.state.records.get(change.address)
            if recorded is None or recorded.id != change.hubspot_id:
                self._fail(change, "not rewritten: the state does not map this record to "
                           f"id {change.hubspot_id}")
                continue
            by_type[change.object_type].append(change)
        for object_type in sorted(by_type, key=lambda t: (write_rank(t), t)):
            by_id = {str(c.hubspot_id): c for c in by_type[object_type]}
            inputs = [UpdateInput(i, marker_properties(self.project, c.address))
                      for i, c in by_id.items()]
            for chunk, outcome in self.client.run_batches(
                partial(self.client.batch_update, object_type), inputs, stop=self.stop
            ):
                chunk_changes = [by_id[i.id] for i in chunk]
                if isinstance(outcome, ReconcilerError):
                    self._handle_batch_error(chunk_changes, outcome)
                    continue
                ok_ids = {r.id for r in outcome.results}
                errors = {i: e for e in outcome.errors for i in e.ids}
                for inp, change in zip(chunk, chunk_changes):
                    if inp.id in ok_ids:
                        self.result.remarked.append(change.address)
                    else:
                        error = errors.get(inp.id)
                        self._fail(change, "marker rewrite failed: "
                                   + (error.message if error else "HubSpot returned no result"))
                self.progress(len(chunk))

    def _bind_project_id(self) -> None:
        """The state carries this project's id once every record it maps carries its
        markers: all rewritten (or made) by this run, or the state was empty."""
        if self.state.project_id == self.project:
            return
        marked = {*self.result.remarked, *self.result.created}
        if all(address in marked for address in self.state.records):
            self.state.project_id = self.project
            self._save()

    def _create(self, object_type: str, changes: list[Change]) -> list[tuple[Change, AssociationRef]]:
        ready: list[tuple[Change, CreateInput]] = []
        deferred: list[tuple[Change, AssociationRef]] = []
        calendar: list[Change] = []
        for change in changes:
            blocker = self._blocked_by(change)
            if blocker:
                self._fail(change, f"depends on {blocker}, which failed", skipped=True)
                continue
            if any(v.startswith("<owner ") for v in change.after.values()):
                self._fail(change, "owner email could not be resolved to a HubSpot owner")
                continue
            inline: list[tuple[str, str, str, int]] = []
            for ref in change.associations:
                applied = self._applied(object_type, ref)
                if applied is None:
                    if ref.label is not None and self._type_id(object_type, ref) is None:
                        self._fail(change, f"association label {ref.label!r} does not exist in "
                                   f"the portal for {object_type} → {ref.to_type}")
                        break
                    deferred.append((change, ref))
                else:
                    inline.append((applied.to_type, applied.to_id, applied.category, applied.type_id))
            else:
                if change.calendar is not None:
                    calendar.append(change)
                    continue
                properties = dict(change.after)
                properties.update(marker_properties(self.project, change.address))
                ready.append(
                    (change, CreateInput(self._trace_id(), properties, tuple(inline)))
                )
        for change in calendar:
            self._check_stop()
            self._create_calendar(change)
        if ready:
            self._run_create_batches(object_type, ready)
        return deferred

    def _run_create_batches(
        self, object_type: str, ready: list[tuple[Change, CreateInput]]
    ) -> None:
        """Create in batches; settle batches whose answer was lost within this run.

        A batch that may or may not have committed (a 5xx, a dropped connection) is looked
        up by marker once the search index has had time to catch up; what exists is adopted
        and only the rest is sent again, for up to ``CREATE_ROUNDS`` rounds. What is still
        unsettled then (or when stopping) stays in flight for the next run.
        """
        pending = [(change, inp, self._record_state(change)) for change, inp in ready]
        for round_number in range(1, CREATE_ROUNDS + 1):
            unsettled = self._send_creates(object_type, pending)
            if not unsettled:
                return
            last = round_number == CREATE_ROUNDS or self.stop.is_set()
            if last:
                break
            try:
                found = self._settle(object_type, unsettled)
            except ReconcilerError as error:
                for change, _inp, _rs, _batch in unsettled:
                    self._fail(change, f"outcome unknown, and looking it up failed ({error}); "
                               "run apply again to recover it (nothing will be duplicated)")
                return
            pending = [
                (change, replace(inp, trace_id=self._trace_id()), rs)
                for change, inp, rs, _batch in unsettled
                if change.address not in found
            ]
            if not pending:
                return
            if self.stop.is_set():
                unsettled = [u for u in unsettled if u[0].address not in found]
                break
        for change, _inp, _rs, _batch in unsettled:
            self._fail(change, "outcome unknown (HubSpot's answer was lost); run apply again "
                       "to recover it: it is looked up by marker first, nothing is duplicated")

    def _send_creates(
        self, object_type: str, items: list[tuple[Change, CreateInput, RecordState]]
    ) -> list[tuple[Change, CreateInput, RecordState, str]]:
        """One pass of batch creates (or upserts); return the inputs whose outcome is unknown."""
        by_trace = {inp.trace_id: (change, rs) for change, inp, rs in items}
        inputs = [inp for _, inp, _ in items]
        use_upsert = self.unique_marker.get(object_type, False)
        unsettled: list[tuple[Change, CreateInput, RecordState, str]] = []

        def send(chunk: Sequence[CreateInput]) -> BatchOutcome:
            # Runs on a worker thread: the in-flight entry is saved before the request
            # leaves, so a crash at any later moment leaves a trail to the records.
            batch_id = chunk[0].trace_id
            entry = {
                "object_type": object_type,
                "addresses": [by_trace[i.trace_id][0].address for i in chunk],
                "started_at": time.time(),
                "records": {
                    by_trace[i.trace_id][0].address: by_trace[i.trace_id][1].to_json()
                    for i in chunk
                },
                # the exact marker sent: recovery searches for it, whatever the release
                "markers": {
                    by_trace[i.trace_id][0].address: i.properties[MARKER_PROPERTY]
                    for i in chunk
                },
            }
            with self._lock:
                self.state.in_flight[batch_id] = entry
                self._save()
            if use_upsert:
                return self.client.batch_upsert(object_type, MARKER_PROPERTY, chunk)
            return self.client.batch_create(object_type, chunk)

        for chunk, outcome in self.client.run_batches(send, inputs, stop=self.stop):
            batch_id = chunk[0].trace_id
            changes = [by_trace[i.trace_id][0] for i in chunk]
            with self._lock:
                if isinstance(outcome, AmbiguousWriteError):
                    # It may have committed: it stays in flight until settled by marker.
                    unsettled.extend(
                        (by_trace[i.trace_id][0], i, by_trace[i.trace_id][1], batch_id)
                        for i in chunk
                    )
                    continue
                self.state.in_flight.pop(batch_id, None)
                if isinstance(outcome, ReconcilerError):
                    self._handle_batch_error(changes, outcome)
                    self._save()
                    continue
                matched = outcome.by_trace_id()
                by_marker = {r.properties.get(MARKER_PROPERTY): r for r in outcome.results}
                errors_by_trace = {t: e for e in outcome.errors for t in e.trace_ids}
                for inp in chunk:
                    change, record = by_trace[inp.trace_id]
                    remote = matched.get(inp.trace_id) or by_marker.get(
                        inp.properties[MARKER_PROPERTY]
                    )
                    if remote is not None:
                        self._record_created(change, remote.id, record)
                    else:
                        error = errors_by_trace.get(inp.trace_id)
                        self._fail(change, error.message if error else "HubSpot returned no result")
                self._save()
            self.progress(len(chunk))
        return unsettled

    def _settle(
        self, object_type: str, unsettled: list[tuple[Change, CreateInput, RecordState, str]]
    ) -> set[str]:
        """Look up unsettled creates by marker; adopt what exists; return the addresses found."""
        batch_ids = {batch for *_, batch in unsettled}
        started = max(
            float(self.state.in_flight.get(b, {}).get("started_at", time.time())) for b in batch_ids
        )
        markers = {inp.properties[MARKER_PROPERTY]: change.address
                   for change, inp, *_ in unsettled}
        found = find_by_marker(
            self.client, object_type, markers, deadline=started + self.grace_seconds,
            sleep=self._sleep, stopped=self.stop.is_set,
        )
        with self._lock:
            for change, _inp, record, _batch in unsettled:
                remote = found.get(change.address)
                if remote is not None:
                    self._record_created(change, remote.id, record)
                    self.progress(1)
            if not self.stop.is_set():  # else the wait was cut short: proof of nothing
                for batch_id in batch_ids:
                    self.state.in_flight.pop(batch_id, None)
            self._save()
        return set(found)

    def _sleep(self, seconds: float) -> None:
        # Waiting for the search index; Ctrl-C cuts the wait short (the batch stays in flight).
        self.stop.wait(seconds)

    def _record_state(self, change: Change, *, via_calendar: bool = False) -> RecordState:
        """What the state records for ``change`` once HubSpot has created it."""
        applied = tuple(
            a for a in (self._applied(change.object_type, r) for r in change.associations)
            if a is not None
        )
        return RecordState(
            id="",
            object_type=change.object_type,
            properties=dict(change.after),
            associations=applied,
            pinned=dict(change.pins),
            via_calendar=via_calendar,
        )

    def _record_created(
        self, change: Change, hubspot_id: str, record: RecordState | None = None,
        *, via_calendar: bool = False,
    ) -> None:
        record = record or self._record_state(change, via_calendar=via_calendar)
        self.state.records[change.address] = replace(record, id=hubspot_id)
        self.result.created.append(change.address)

    def _create_calendar(self, change: Change) -> None:
        cal = change.calendar
        assert cal is not None
        inline = []
        for ref in change.associations:
            applied = self._applied(change.object_type, ref)
            if applied is not None:
                inline.append((applied.to_type, applied.to_id, applied.category, applied.type_id))
        properties = dict(change.after)
        properties.setdefault("hs_meeting_outcome", "SCHEDULED")
        batch_id = f"calendar-{self._trace_id()}"
        self.state.in_flight[batch_id] = {
            "object_type": change.object_type,
            "addresses": [change.address],
            "started_at": time.time(),
            "calendar": True,
        }
        self._save()
        try:
            remote = self.client.create_calendar_meeting(
                cal.organizer,
                properties,
                inline,
                cal.timezone,
                [(r.number_of_time_units, r.time_unit) for r in cal.reminders],
                cal.include_description,
            )
        except AmbiguousWriteError as error:
            self._fail(change, f"outcome unknown ({error}); run apply again to recover it")
            self._save()
            return
        except ReconcilerError as error:
            self.state.in_flight.pop(batch_id, None)
            self._handle_batch_error([change], error)
            self._save()
            return
        self.state.in_flight.pop(batch_id, None)
        # The scheduler takes only its own properties: send the marker and the rest now.
        rest = {k: v for k, v in properties.items() if k not in CALENDAR_PROPERTIES}
        rest.update(marker_properties(self.project, change.address))
        self._record_created(change, remote.id, via_calendar=True)
        try:
            outcome = self.client.batch_update(change.object_type, [UpdateInput(remote.id, rest)])
            if outcome.errors:
                raise ReconcilerError(outcome.errors[0].message)
        except ReconcilerError as error:
            # Mapped, but not all properties set: record what is missing so the next
            # plan shows an update for it.
            recorded = self.state.records[change.address]
            self.state.records[change.address] = RecordState(
                id=recorded.id, object_type=recorded.object_type,
                properties={k: v for k, v in recorded.properties.items() if k not in rest},
                associations=recorded.associations, pinned=recorded.pinned, via_calendar=True,
            )
            self._fail(change, f"created, but setting its other properties failed: {error}")
        self._save()
        self.progress(1)

    def _update(self, changes: list[Change]) -> None:
        by_type: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            by_type[change.object_type].append(change)
        for object_type in sorted(by_type, key=lambda t: (write_rank(t), t)):
            sending = [c for c in by_type[object_type] if c.properties_to_send]
            by_id = {c.hubspot_id: c for c in sending}
            inputs = [UpdateInput(str(c.hubspot_id), c.properties_to_send) for c in sending]
            for chunk, outcome in self.client.run_batches(
                partial(self.client.batch_update, object_type), inputs, stop=self.stop
            ):
                chunk_changes = [by_id[i.id] for i in chunk]
                if isinstance(outcome, ReconcilerError):
                    self._handle_batch_error(chunk_changes, outcome)
                    continue
                ok_ids = {r.id for r in outcome.results}
                errors = {i: e for e in outcome.errors for i in e.ids}
                for inp, change in zip(chunk, chunk_changes):
                    if inp.id in ok_ids:
                        self._record_updated(change)
                    else:
                        error = errors.get(inp.id)
                        self._fail(change, error.message if error else "HubSpot returned no result")
                self._save()
                self.progress(len(chunk))
            # association-only changes, and the association part of property updates
            for change in by_type[object_type]:
                if change.address in self.failed:
                    continue
                if not change.properties_to_send:
                    self._record_updated(change)
                    self.progress(1)
            self._save()

    def _record_updated(self, change: Change) -> None:
        recorded = self.state.records.get(change.address)
        if recorded is None:
            return
        associations = list(recorded.associations)
        try:
            for applied in change.remove_associations:
                self.client.dissociate(
                    change.object_type, applied.to_type,
                    [(recorded.id, applied.to_id, applied.category, applied.type_id)],
                )
                associations = [a for a in associations if a != applied]
            for ref in change.add_associations:
                target = self._applied(change.object_type, ref)
                if target is None:
                    self._fail(change, f"association target {ref.to_type}/{ref.to_key} has no "
                               "HubSpot id yet")
                    return
                self.client.associate(
                    change.object_type, target.to_type,
                    [(recorded.id, target.to_id, target.category, target.type_id)],
                )
                associations.append(target)
        except ReconcilerError as error:
            self._fail(change, str(error))
            return
        self.state.records[change.address] = RecordState(
            id=recorded.id,
            object_type=recorded.object_type,
            properties=dict(change.after),
            associations=tuple(associations),
            pinned=dict(change.pins),
            via_calendar=recorded.via_calendar,
        )
        if change.address not in self.result.updated:
            self.result.updated.append(change.address)

    def _associate_deferred(self, deferred: list[tuple[Change, AssociationRef]]) -> None:
        for change, ref in deferred:
            recorded = self.state.records.get(change.address)
            if recorded is None:
                continue
            target = self._applied(change.object_type, ref)
            if target is None:
                self._fail(change, f"association target {ref.to_type}/{ref.to_key} was not "
                           "created", skipped=True)
                continue
            try:
                self.client.associate(
                    change.object_type, target.to_type,
                    [(recorded.id, target.to_id, target.category, target.type_id)],
                )
            except ReconcilerError as error:
                self._fail(change, f"association to {ref.to_type}/{ref.to_key}: {error}")
                continue
            self.state.records[change.address] = RecordState(
                id=recorded.id,
                object_type=recorded.object_type,
                properties=recorded.properties,
                associations=(*recorded.associations, target),
                pinned=recorded.pinned,
                via_calendar=recorded.via_calendar,
            )
            self._save()

    def _archive(self, changes: list[Change]) -> None:
        by_type: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            by_type[change.object_type].append(change)
        for object_type in sorted(by_type, key=lambda t: (-write_rank(t), t)):
            by_id = {str(c.hubspot_id): c for c in by_type[object_type]}
            for chunk, outcome in self.client.run_batches(
                partial(self.client.batch_archive, object_type), list(by_id), stop=self.stop
            ):
                chunk_changes = [by_id[i] for i in chunk]
                if isinstance(outcome, ReconcilerError):
                    self._handle_batch_error(chunk_changes, outcome)
                    continue
                for change in chunk_changes:
                    self.state.records.pop(change.address, None)
                    self.result.archived.append(change.address)
                self._save()
                self.progress(len(chunk))


def apply_plan(
    plan: Plan,
    *,
    client: HubSpotClient,
    store: StateStore,
    state: State,
    project: str,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    grace_seconds: float = SEARCH_LAG_GRACE_SECONDS,
) -> ApplyResult:
    """Carry out ``plan``; the caller holds the state lock. Never raises for one record.

    ``grace_seconds``: how long a create whose answer was lost is looked for by marker
    before it is sent again (see ``find_by_marker``)."""
    return _Applier(
        plan, client=client, store=store, state=state, project=project,
        progress=progress, stop=stop, grace_seconds=grace_seconds,
    ).run()


__all__ = [  # the recovery names are re-exported: callers import them from here too
    "CREATE_ROUNDS",
    "MARKER_PROPERTY",
    "SEARCH_LAG_GRACE_SECONDS",
    "ApplyResult",
    "Failure",
    "apply_plan",
    "ensure_markers",
    "find_by_marker",
    "marker_value",
    "recover_in_flight",
]
