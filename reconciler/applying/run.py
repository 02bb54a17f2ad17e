"""One apply run: what it works with, and the one place that records outcomes in the state.

The phases (``apply_create``, ``apply_calendar``, ``apply_update``, ``apply_archive``) send
requests and decide what an answer means; every change they make to the state goes through
``ApplyRun.record_*`` (or ``fail``), and the state is saved after every batch, so a crash
loses nothing HubSpot accepted.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.errors import RateLimitError, ReconcilerError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import RemoteRecord
from reconciler.identity.refresh_watermark import Written
from reconciler.model import AssociationRef, Source
from reconciler.planning.changes import Change, Plan
from reconciler.state.model import AppliedAssociation, RecordState, State
from reconciler.state.store import StateStore


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
    #: records moved to a new address, and released (markers cleared, no longer managed)
    moved: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    #: extra records carrying a marker another record keeps, archived (``--dedupe``)
    deduped: list[str] = field(default_factory=list)
    #: records whose pins were refreshed in the state (no request: nothing in the portal
    #: changes, see ``planning.changes.STATE_ONLY_ACTIONS``)
    repinned: list[str] = field(default_factory=list)
    #: what the schema phases did, one line each (``created property companies/x``)
    schema: list[str] = field(default_factory=list)
    #: what apply decided on its own that the reader should know (one line each)
    notes: list[str] = field(default_factory=list)
    #: how the wait for search to list the created records went (None: nothing created)
    search_wait: str | None = None
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False
    stopped_reason: str | None = None
    requests: int = 0
    #: what HubSpot accepted, with the modification times its answers gave (the next
    #: refresh need not read it again: ``identity.refresh_watermark``)
    written: Written = field(default_factory=Written, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.interrupted and self.stopped_reason is None


ProgressCallback = Callable[[int], None]


class Stop(Exception):
    """Raised inside the apply loop when the daily limit or Ctrl-C ends it early."""


class ApplyRun:
    """The plan being applied, the client, the state, and what happened so far."""

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
        grace_seconds: float,
        markers_checked: bool = False,
    ) -> None:
        self.plan = plan
        #: True: the plan was made by this run from a refresh that read (or counted) the
        #: markers of every record it updates or archives; else they are read back first
        self.markers_checked = markers_checked
        self.client = client
        self.store = store
        self.state = state
        #: the project's marker id (``ProjectSettings.marker_id``)
        self.project = project
        self.progress = progress or (lambda n: None)
        self.stop = stop or threading.Event()
        self.grace_seconds = grace_seconds
        self.result = ApplyResult()
        self.failed: set[str] = set()
        self.unique_marker: dict[str, bool] = {}
        self.labels: dict[tuple[str, str, str], tuple[int, str]] = {}
        self.run_id = uuid.uuid4().hex[:10]
        self._trace_counter = 0
        #: batches finish on worker threads; state changes are made under this lock
        self.lock = threading.RLock()

    # -- small helpers ---------------------------------------------------------------------

    def trace_id(self) -> str:
        self._trace_counter += 1
        return f"{self.run_id}-{self._trace_counter}"

    def save(self) -> None:
        self.store.save(self.state)

    def check_stop(self) -> None:
        if self.stop.is_set():
            # The daily limit stops the apply too, but that is an error (exit 1), not Ctrl-C.
            self.result.interrupted = self.result.stopped_reason is None
            raise Stop()

    # -- resolving what a change points at -------------------------------------------------

    def target_id(self, ref: AssociationRef) -> str | None:
        if ref.to_id is not None:
            return ref.to_id
        recorded = self.state.records.get(f"{ref.to_type}/{ref.to_key}")
        return recorded.id if recorded else None

    def type_id(self, from_type: str, ref: AssociationRef) -> int | None:
        if ref.type_id is not None:
            return ref.type_id
        if ref.label is None:
            return None
        found = self._label(from_type, ref.to_type, ref.label)
        return found[0] if found else None

    def _label(self, from_type: str, to_type: str, text: str) -> tuple[int, str] | None:
        """The type id and category of the portal's label ``text`` for the pair (one read
        per pair): a label the portal made is USER_DEFINED, and HubSpot refuses its id
        under any other category."""
        key = (from_type, to_type, text.lower())
        if key not in self.labels:
            for label in self.client.association_labels(from_type, to_type):
                if label.label:
                    self.labels[(from_type, to_type, label.label.lower())] = (
                        label.type_id, label.category)
        return self.labels.get(key)

    def applied(self, from_type: str, ref: AssociationRef) -> AppliedAssociation | None:
        to_id = self.target_id(ref)
        type_id = self.type_id(from_type, ref)
        if to_id is None or type_id is None:
            return None
        label = ref.label if ref.type_id is None else None  # (the spec's name for it)
        category = ref.category
        if label is not None:
            found = self._label(from_type, ref.to_type, label)
            category = found[1] if found else category
        return AppliedAssociation(ref.to_type, to_id, category, type_id, ref.to_key, label)

    def blocked_by(self, change: Change) -> str | None:
        for ref in change.associations:
            if ref.to_key is not None and f"{ref.to_type}/{ref.to_key}" in self.failed:
                return f"{ref.to_type}/{ref.to_key}"
        return None

    def record_state(
        self, change: Change, *, associations: Iterable[AppliedAssociation] | None = None,
        via_calendar: bool = False,
    ) -> RecordState:
        """What the state records for ``change`` once HubSpot has created it (``id`` still
        empty). ``associations``: those made with the record (default: every one that
        can be resolved now, as sent inline)."""
        if associations is None:
            associations = (
                a for a in (self.applied(change.object_type, r) for r in change.associations)
                if a is not None
            )
        return RecordState(
            id="",
            object_type=change.object_type,
            properties=dict(change.after),
            associations=tuple(associations),
            pinned=dict(change.pins),
            via_calendar=via_calendar,
        )

    # -- the one place outcomes are recorded -----------------------------------------------

    def fail(self, change: Change, message: str, *, skipped: bool = False) -> None:
        with self.lock:
            self.failed.add(change.address)
            self.result.failures.append(Failure(change.address, change.source, message, skipped))

    def fail_batch(self, changes: Sequence[Change], error: ReconcilerError) -> None:
        """A whole batch was refused; the daily limit also stops the run."""
        if isinstance(error, RateLimitError) and error.policy == "DAILY":
            for change in changes:
                self.fail(change, "not sent: HubSpot's daily API limit is reached")
            self.result.stopped_reason = (
                "HubSpot's daily API limit is reached; the state holds everything applied so "
                "far. Run apply again after the daily limit resets (midnight in the portal's "
                "time zone)."
            )
            self.stop.set()
            return
        for change in changes:
            self.fail(change, str(error))

    def record_created(
        self, change: Change, hubspot_id: str, record: RecordState | None = None,
        *, via_calendar: bool = False,
    ) -> None:
        record = record or self.record_state(change, via_calendar=via_calendar)
        with self.lock:
            self.state.records[change.address] = replace(record, id=hubspot_id)
            self.result.created.append(change.address)

    def record_properties(self, change: Change, properties: dict[str, str]) -> None:
        """The record holds ``properties`` (a calendar meeting whose follow-up update failed
        records only what the scheduler set, so the next plan updates the rest)."""
        with self.lock:
            recorded = self.state.records[change.address]
            self.state.records[change.address] = replace(recorded, properties=properties)

    def record_associated(self, address: str, added: Iterable[AppliedAssociation]) -> None:
        """Associations created through the associations API (after the record existed)."""
        with self.lock:
            recorded = self.state.records[address]
            new = tuple(a for a in added if a not in recorded.associations)
            self.state.records[address] = replace(
                recorded, associations=(*recorded.associations, *new)
            )

    def record_updated(self, change: Change, associations: tuple[AppliedAssociation, ...]) -> None:
        with self.lock:
            recorded = self.state.records[change.address]
            self.state.records[change.address] = RecordState(
                id=recorded.id,
                object_type=recorded.object_type,
                properties=dict(change.after),
                associations=associations,
                pinned=dict(change.pins),
                via_calendar=recorded.via_calendar,
            )
            if change.address not in self.result.updated:
                self.result.updated.append(change.address)

    def record_repinned(self, change: Change) -> None:
        """A re-pin: the record keeps every value and association; its pins are new."""
        with self.lock:
            recorded = self.state.records.get(change.address)
            if recorded is None or recorded.id != change.hubspot_id:
                self.fail(change, f"not re-pinned: the state does not map it to id "
                          f"{change.hubspot_id}")
                return
            self.state.records[change.address] = replace(
                recorded, properties=dict(change.after), pinned=dict(change.pins),
            )
            self.result.repinned.append(change.address)

    def record_adopted(self, change: Change, record: RecordState) -> None:
        """A record carrying this address's marker, mapped instead of created."""
        with self.lock:
            self.state.records[change.address] = record
            self.result.adopted.append(change.address)

    def record_schema(self, done: str) -> None:
        """A schema change HubSpot accepted (the state was saved with its ids already)."""
        with self.lock:
            self.result.schema.append(done)

    def fail_schema(self, kind: str, address: str, source: Source | None, message: str) -> None:
        with self.lock:
            self.result.failures.append(Failure(f"{kind} {address}", source, message))

    def record_deduped(self, change: Change) -> None:
        with self.lock:
            self.result.deduped.append(f"{change.address} (id {change.hubspot_id})")

    def record_archived(self, change: Change) -> None:
        with self.lock:
            self.state.records.pop(change.address, None)
            self.result.archived.append(change.address)

    def record_remarked(self, change: Change) -> None:
        with self.lock:
            self.result.remarked.append(change.address)

    def note_written(self, object_type: str, records: Iterable[RemoteRecord]) -> None:
        """Records HubSpot's answer says it created or updated (for the refresh log)."""
        self.result.written.note(object_type, records)

    def record_in_flight(self, batch_id: str, entry: dict[str, Any]) -> None:
        """Saved before the request leaves: a crash at any later moment leaves a trail."""
        with self.lock:
            self.state.in_flight[batch_id] = entry
            self.save()

    def settled(self, *batch_ids: str) -> None:
        with self.lock:
            for batch_id in batch_ids:
                self.state.in_flight.pop(batch_id, None)

    def bind_project_id(self) -> None:
        """The state carries this project's id once every record it maps carries its
        markers: all rewritten (or made) by this run, or the state was empty."""
        if self.state.project_id == self.project:
            return
        marked = {*self.result.remarked, *self.result.created, *self.result.adopted}
        if all(address in marked for address in self.state.records):
            self.state.project_id = self.project
            self.save()
