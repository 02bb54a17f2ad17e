"""Refresh: what the portal holds now for the managed records, for as few requests as can
be trusted.

Two modes (``plan``/``apply`` ``--refresh=incremental|full``; incremental by default):

* **full** reads every managed record (batch read, 100 a request) and, for every
  association the spec declares and an apply made, the associations of those records (v4
  batch read per from-type/to-type pair). Nothing can be missed; it costs about one
  request per 100 records, plus one per 100 records per associated type.
* **incremental** asks HubSpot what changed instead. Per managed type, and per range of at
  most 9,000 of the state's ids (search counts only up to 10,000, facts §7), one search
  (``reconciler_project EQ <project id>``, ``hs_object_id`` in the range, newest
  ``hs_lastmodifieddate`` first) answers three things at once: how many of this project's
  records the range holds (``total``), the newest modification time, and which records
  were modified since the last refresh (the first pages, read until the times drop below
  the cutoff). Only those records are read (batch read). A range whose count differs from
  the state's is split in two by one more count search until the ranges are small, then
  listed (paging by ``hs_object_id``), which names the deleted and archived records; each
  is confirmed by a read by id (reads see writes at once, search lags) before it counts as
  gone. Unchanged records are taken from the state: what the last apply wrote.

This module decides which mode runs, and what the result and the next log are; the
searches are ``refresh_survey``'s, the reads by id ``refresh_reads``', the log
``refresh_log``'s. The bookkeeping (``RefreshLog``) lives beside the state file
(``<state>.refresh.json``):
the newest ``hs_lastmodifieddate`` the portal returned (never the local clock), per-type
counts, and the marked records the state does not map (duplicates, interrupted creates),
bound to the state's lineage and serial. It is a cache: when it is missing, damaged, or
belongs to another state, the refresh is full.

What incremental can miss, and why that is safe:

* **Association edits.** HubSpot gives no documented signal that removing an association
  touches ``hs_lastmodifieddate``, so incremental never reads associations; the last
  applied ones are assumed. Only a full refresh puts back an association removed in the
  portal: run ``--refresh=full`` periodically (the example workflow's nightly drift job
  does).
* **Indexing lag.** A record modified moments before a search may not be in it yet. The
  cutoff is the newest modification time seen, minus a margin (the search-lag grace,
  ``recovery_grace_seconds``, 30 s by default), until a later refresh, at least that margin
  later (elapsed time on the client's clock, never compared with HubSpot's times), has
  searched the window again: only then does the cutoff move up to the newest time itself.
  After a full refresh every record has been read by id, so no margin is needed.
* **A deletion masked by an unknown extra record.** Counts are compared with the state plus
  the marked records it knows it does not map; a record that carries this project's
  marker, that the last refresh did not see and that was not modified since (so not in
  the changed search) could hide one deletion in the same range. Such a record can only
  come from a marker copied by hand; the next full refresh finds the deletion.
* **Drift not applied.** A record whose portal values differ from the state is listed in
  the log and read by id (and shown) again by every refresh until an apply puts it back;
  with more than 1,000 such records the cutoff stays below the oldest of them instead.

The refresh falls back to full automatically when the cheap path cannot be trusted: no
log (first refresh, a rebuilt or restored state, another lineage, a serial older than the
log's), the project's markers being migrated, a type with more changed records than
search can page (10,000) or more than 40 % of its records (reading all is then cheaper),
or a range that cannot be listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import BATCH_LIMIT
from reconciler.identity.refresh_log import (
    MODIFIED,
    AppliedSpan,
    RefreshLog,
    load_log,
    save_log,
)
from reconciler.identity.refresh_reads import KEEP_DRIFTING, MARKERS, Reads, read_associations
from reconciler.identity.refresh_survey import RANGE_SIZE, Survey, Untrusted
from reconciler.model import DesiredState
from reconciler.planning.changes import RemoteSnapshot
from reconciler.state.model import State

RefreshMode = Literal["incremental", "full"]
MODES: tuple[RefreshMode, ...] = ("incremental", "full")


def refresh_mode(text: str) -> RefreshMode:
    """``--refresh`` as given (click has checked it is one of ``MODES``)."""
    for mode in MODES:
        if text == mode:
            return mode
    raise ValueError(f"--refresh={text}: use one of {', '.join(MODES)}")


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """How a refresh went: shown after a plan, and counted by tests and benchmarks."""

    mode: RefreshMode
    #: why this mode ("" for an incremental refresh that ran as such)
    reason: str
    #: records read by id (changed, or every record of a type read in full)
    read: int
    #: managed records gone from the portal (deleted or archived)
    gone: int
    #: types read in full during an incremental refresh, with why
    full_types: Mapping[str, str] = field(default_factory=dict)
    associations_read: int = 0
    #: requests a refresh right after this one would take (with the log this one left: a
    #: search per type, the drifting records read again); None when it left no log
    next_requests: int | None = None

    def describe(self) -> str:
        if self.mode == "full":
            text = f"Refreshed in full ({self.reason}): {self.read} record(s) read"
            if self.associations_read:
                text += f", associations of {self.associations_read}"
        else:
            text = f"Refreshed incrementally: {self.read} changed record(s) read"
            for object_type, why in sorted(self.full_types.items()):
                text += f"; {object_type} in full ({why})"
        return text + (f", {self.gone} gone from the portal." if self.gone else ".")


class Refreshed(Mapping[str, RemoteSnapshot | None]):
    """Address → what the portal holds (None: deleted or archived), for every managed
    record. Records the refresh did not read (unchanged since the last refresh) are what
    the state says was last applied, built on demand (50,000 snapshots are not kept)."""

    def __init__(
        self, state: State, read: dict[str, RemoteSnapshot | None], report: RefreshReport
    ) -> None:
        self._records = state.records
        self._addresses = frozenset(state.records)
        self._read = read
        self.report = report
        #: type → how many records carry this project's marker, for the types counted
        #: (read by ``scan.scan_portal``: no second count search)
        self.counts: Mapping[str, int] = {}
        #: address → id of the records the state maps that were read without this
        #: project's id marker, in a state of this project's id (``not_provably_ours``)
        self.unproven: Mapping[str, str] = {}

    def __getitem__(self, address: str) -> RemoteSnapshot | None:
        if address in self._read:
            return self._read[address]
        if address not in self._addresses:
            raise KeyError(address)
        recorded = self._records[address]
        return RemoteSnapshot(id=recorded.id, properties=recorded.properties)

    def __iter__(self) -> Iterator[str]:
        return iter(self._addresses)

    def __len__(self) -> int:
        return len(self._addresses)


# -- the refresh ---------------------------------------------------------------------------


def refresh_records(
    client: HubSpotClient,
    desired: DesiredState,
    state: State,
    *,
    mode: RefreshMode = "full",
    log_path: Path | None = None,
    margin_seconds: float = 30.0,
) -> Refreshed:
    """What the portal holds now for every managed record (see the module docstring).

    Without ``log_path`` the refresh is full and learns nothing for the next one. The log is
    written (atomically) after every refresh that can vouch for a cutoff; a plan writes it
    too: it is no state, only what the portal was seen to hold.
    """
    marker = desired.project.marker_id
    ids_by_type, props_by_type = _managed(desired, state)
    log = load_log(log_path) if log_path is not None else None
    reason = _why_full(mode, log_path, log, state, marker)
    now = client.clock.time()
    survey = Survey(client, marker)
    reads = Reads(client, marker, state)
    if reason is not None or log is None:
        vouch = log_path is not None and state.project_id == marker
        for object_type, by_id in ids_by_type.items():
            if vouch:
                try:
                    survey.survey(object_type, by_id, cutoff_ms=None, extras=())
                except Untrusted:
                    vouch = False  # read all the same; the next refresh is full again
            reads.read(object_type, by_id, props_by_type[object_type], list(by_id))
        associations = read_associations(client, desired, state, reads.snapshots)
        report = RefreshReport(
            "full", reason or "asked for", len(reads.snapshots), reads.gone,
            associations_read=associations,
        )
        if vouch and log_path is not None and survey.newest_ms is not None:
            since = min([survey.newest_ms, *reads.drift_floor()])
            save_log(log_path, _next_log(state, survey, reads, since, settled=True, seen_at=now))
            report = replace(report, next_requests=_next_requests(ids_by_type, reads))
        return _counted(Refreshed(state, reads.snapshots, report), survey, reads)

    cutoff = log.since_ms if log.settled else log.since_ms - int(margin_seconds * 1000)
    # what an apply wrote since (refresh_watermark): left out of the search while it matters
    spans = {t: span for t, span in log.applied.items()
             if span.last_ms >= cutoff and t in ids_by_type}
    full_types: dict[str, str] = {}
    for object_type, by_id in ids_by_type.items():
        props = props_by_type[object_type]
        try:
            to_read, matched = survey.survey(
                object_type, by_id, cutoff_ms=cutoff, extras=log.extras.get(object_type, ()),
                skip=(log.since_ms, frozenset(log.at_since)), applied=spans.get(object_type),
            )
        except Untrusted as why:
            full_types[object_type] = str(why)
            reads.read(object_type, by_id, props, list(by_id))
            continue
        reads.matched_ms.update(matched)  # (read and matched at the log's cutoff already)
        again = [i for i in log.drifting.get(object_type, ()) if i in by_id]
        to_read = sorted(set(to_read) | set(again))
        if to_read:
            reads.read(object_type, by_id, props, to_read)
    report = RefreshReport(
        "incremental", "", len(reads.snapshots), reads.gone, full_types=full_types,
    )
    newest = survey.newest_ms
    if newest is None or newest <= log.since_ms:  # nothing modified since the cutoff
        since, settled = log.since_ms, log.settled or now - log.seen_at >= margin_seconds
        seen_at = log.seen_at
    else:
        since, settled, seen_at = newest, False, now
    since, settled, spans = _past_spans(since, settled, spans, now, margin_seconds)
    floor = reads.drift_floor()
    if floor and floor[0] < since:
        since, settled, seen_at = floor[0], False, now
    if log_path is not None:
        after = since if settled else since - int(margin_seconds * 1000)
        kept = {t: span for t, span in spans.items() if span.last_ms >= after}
        save_log(log_path, _next_log(
            state, survey, reads, since, settled=settled, seen_at=seen_at, applied=kept,
        ))
        report = replace(report, next_requests=_next_requests(ids_by_type, reads, kept))
    return _counted(Refreshed(state, reads.snapshots, report), survey, reads)


def _past_spans(
    since: int, settled: bool, spans: dict[str, AppliedSpan], now: float, margin: float
) -> tuple[int, bool, dict[str, AppliedSpan]]:
    """The cutoff past what an apply wrote, once this refresh has checked every span a
    search-lag margin after the apply: everything modified up to the last of them has then
    been compared (outside the spans by search, inside by count), so the next refresh need
    not leave them out. Else the spans stay for the next refresh."""
    if not spans or not settled or any(now - span.at < margin for span in spans.values()):
        return since, settled, spans
    past = max(span.last_ms for span in spans.values()) + 1
    return max(since, past), True, {}


def _next_requests(
    ids_by_type: Mapping[str, Mapping[str, str]], reads: Reads,
    spans: Mapping[str, AppliedSpan] | None = None,
) -> int:
    """What the next refresh costs when nothing changes meanwhile (for the request estimate
    of an apply that refreshes again right after its plan): one search per type and range
    (two where an apply's span is still checked), and the drifting records read again."""
    searches = sum(-(-len(ids) // RANGE_SIZE) * (2 if t in (spans or {}) else 1)
                   for t, ids in ids_by_type.items())
    return searches + sum(-(-len(ids) // BATCH_LIMIT) for ids in reads.drifting.values())


def _counted(refreshed: Refreshed, survey: Survey, reads: Reads) -> Refreshed:
    refreshed.counts = dict(survey.counts)
    refreshed.unproven = dict(reads.unproven)
    return refreshed


def _why_full(
    mode: RefreshMode, log_path: Path | None, log: RefreshLog | None, state: State, marker: str
) -> str | None:
    """Why this refresh must be full (None: incremental can be trusted)."""
    if mode == "full":
        return "--refresh=full"
    if log_path is None:
        return "no refresh log"
    if state.project_id != marker:
        return "the records' markers are not this project's yet"
    if log is None:
        return "no previous refresh"
    if log.lineage != state.lineage or log.project_id != marker:
        return "the last refresh was of another state"
    if state.serial < log.serial:
        return "the state is older than the last refresh (restored?)"
    return None


def _managed(
    desired: DesiredState, state: State
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Per type: HubSpot id → address of every managed record, and the properties to read."""
    wanted: dict[str, set[str]] = defaultdict(lambda: {MODIFIED, *MARKERS})
    ids_by_type: dict[str, dict[str, str]] = defaultdict(dict)
    for address, recorded in state.records.items():
        ids_by_type[recorded.object_type][recorded.id] = address
        wanted[recorded.object_type].update(recorded.properties)
        record = desired.records.get(address)
        if record is not None:
            wanted[recorded.object_type].update(record.properties)
            if record.owner_email:
                wanted[recorded.object_type].add("hubspot_owner_id")
    return dict(ids_by_type), {t: sorted(p) for t, p in wanted.items()}


def _next_log(
    state: State, survey: Survey, reads: Reads, since_ms: int, *, settled: bool,
    seen_at: float, applied: Mapping[str, AppliedSpan] | None = None,
) -> RefreshLog:
    """The log this refresh leaves for the next one."""
    at_since = sorted(i for i, ms in reads.matched_ms.items() if ms == since_ms)
    listed = not reads.drift_floor()
    return RefreshLog(
        lineage=state.lineage, serial=state.serial, project_id=survey.marker,
        since_ms=since_ms, settled=settled, seen_at=seen_at, counts=dict(survey.counts),
        extras=dict(survey.extras), at_since=tuple(at_since[:KEEP_DRIFTING]),
        drifting={t: tuple(sorted(ids)) for t, ids in reads.drifting.items()}
        if listed else {},
        applied=dict(applied or {}),
    )


__all__ = [
    "MODES",
    "RefreshMode",
    "RefreshReport",
    "Refreshed",
    "refresh_mode",
    "refresh_records",
]
