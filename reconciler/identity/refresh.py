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

The bookkeeping (``RefreshLog``) lives beside the state file (``<state>.refresh.json``):
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
  later (local elapsed time, never compared with HubSpot's times), has searched the window
  again: only then does the cutoff move up to the newest time itself. After a full refresh
  every record has been read by id, so no margin is needed.
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

import json
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Literal

from reconciler.hubspot.client import HubSpotClient, RemoteRecord
from reconciler.errors import ReconcilerError
from reconciler.model import DesiredState
from reconciler.planning.changes import RemoteSnapshot
from reconciler.planning.comparing import applied_identity, association_identity
from reconciler.planning.ownership import not_provably_ours
from reconciler.identity.recovery import MARKER_PROPERTY, PROJECT_PROPERTY
from reconciler.state.model import State
from reconciler.state.journal import write_atomically

RefreshMode = Literal["incremental", "full"]
MODES: tuple[RefreshMode, ...] = ("incremental", "full")
LOG_FORMAT_VERSION = 1
MODIFIED = "hs_lastmodifieddate"
#: read with every record (no extra request): whose it is (``planning.ownership.not_provably_ours``)
MARKERS = (MARKER_PROPERTY, PROJECT_PROPERTY)
#: Search counts at most 10,000 matches (facts §7): a counted range holds fewer ids.
RANGE_SIZE = 9_000
#: A range this small (state ids plus known extras) is listed rather than split again.
LIST_AT = 400
#: Search pages hold at most 200 records; past 10,000 results HubSpot answers 400.
PAGE = 200
SEARCH_CAP = 10_000
#: More changed records than this share of a type: one batch read per 100 of all of them
#: costs less than search pages (5 a second) plus batch reads of the changed ones.
FULL_SHARE = 0.4
#: At most this many drifting records are listed in the log (read by id next time); with
#: more, the cutoff stays below the oldest of them instead.
KEEP_DRIFTING = 1000


class _Untrusted(Exception):
    """The cheap path cannot be trusted for a type: read it in full (the message says why)."""


@dataclass(frozen=True, slots=True)
class RefreshLog:
    """What the last refresh learned, to make the next one incremental (a cache)."""

    lineage: str
    serial: int
    project_id: str
    #: every record modified before this (epoch ms, from HubSpot's hs_lastmodifieddate) has
    #: been compared with the state
    since_ms: int
    #: True: ``since_ms`` needs no margin (a full refresh read every record by id, or a
    #: refresh at least a margin later searched the window again)
    settled: bool
    #: local wall-clock time the refresh that set ``since_ms`` ran (elapsed time only)
    seen_at: float
    counts: Mapping[str, int] = field(default_factory=dict)
    #: marked records of this project the state does not map, by type (their ids)
    extras: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ids modified exactly at ``since_ms`` that were read and matched the state (a batch
    #: shares one time: without this, the last batch an apply wrote is read every time)
    at_since: tuple[str, ...] = ()
    #: records whose portal values differed from the state, by type: read again by id by
    #: every refresh until they match (an apply puts them back)
    drifting: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": LOG_FORMAT_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "project_id": self.project_id,
            "since": _iso(self.since_ms),
            "since_ms": self.since_ms,
            "settled": self.settled,
            "seen_at": self.seen_at,
            "counts": dict(sorted(self.counts.items())),
            "extras": {k: list(v) for k, v in sorted(self.extras.items()) if v},
            "at_since": list(self.at_since),
            "drifting": {k: list(v) for k, v in sorted(self.drifting.items()) if v},
        }

    @classmethod
    def from_json(cls, data: Any) -> RefreshLog | None:
        """None for anything that is not a log of this format (it is only a cache)."""
        try:
            if data.get("format_version") != LOG_FORMAT_VERSION:
                return None
            log = cls(
                lineage=data["lineage"], serial=data["serial"], project_id=data["project_id"],
                since_ms=data["since_ms"], settled=data["settled"], seen_at=data["seen_at"],
                counts=dict(data.get("counts", {})),
                extras={
                    str(k): tuple(str(i) for i in v) for k, v in data.get("extras", {}).items()
                },
                at_since=tuple(str(i) for i in data.get("at_since", [])),
                drifting={
                    str(k): tuple(str(i) for i in v) for k, v in data.get("drifting", {}).items()
                },
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        kinds = (
            (log.lineage, str), (log.serial, int), (log.project_id, str), (log.since_ms, int),
            (log.settled, bool), (log.seen_at, (int, float)),
        )
        if not all(isinstance(v, k) and not (k is int and isinstance(v, bool)) for v, k in kinds):
            return None
        return log


def refresh_mode(text: str) -> RefreshMode:
    """``--refresh`` as given (click has checked it is one of ``MODES``)."""
    for mode in MODES:
        if text == mode:
            return mode
    raise ValueError(f"--refresh={text}: use one of {', '.join(MODES)}")


def log_path_for(state_path: Path) -> Path:
    """The refresh log beside a state file."""
    return state_path.with_name(state_path.name + ".refresh.json")


def load_log(path: Path) -> RefreshLog | None:
    try:
        return RefreshLog.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def save_log(path: Path, log: RefreshLog) -> None:
    write_atomically(path, json.dumps(log.to_json(), indent=2) + "\n")


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
        #: (read by ``portal_identity.scan_portal``: no second count search)
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
    now = time.time()
    work = _Work(client, marker, state)
    if reason is not None or log is None:
        vouch = log_path is not None and state.project_id == marker
        for object_type, by_id in ids_by_type.items():
            if vouch:
                try:
                    work.survey(object_type, by_id, cutoff_ms=None, extras=())
                except _Untrusted:
                    vouch = False  # read all the same; the next refresh is full again
            work.read(object_type, by_id, props_by_type[object_type], list(by_id))
        associations = _read_associations(client, desired, state, work.snapshots)
        report = RefreshReport(
            "full", reason or "asked for", len(work.snapshots), work.gone,
            associations_read=associations,
        )
        if vouch and log_path is not None and work.newest_ms is not None:
            since = min([work.newest_ms, *work.drift_floor()])
            save_log(log_path, work.log(state, since, settled=True, seen_at=now))
        return _counted(Refreshed(state, work.snapshots, report), work)

    cutoff = log.since_ms if log.settled else log.since_ms - int(margin_seconds * 1000)
    full_types: dict[str, str] = {}
    for object_type, by_id in ids_by_type.items():
        props = props_by_type[object_type]
        try:
            to_read = work.survey(
                object_type, by_id, cutoff_ms=cutoff, extras=log.extras.get(object_type, ()),
                skip=(log.since_ms, frozenset(log.at_since)),
            )
        except _Untrusted as why:
            full_types[object_type] = str(why)
            work.read(object_type, by_id, props, list(by_id))
            continue
        again = [i for i in log.drifting.get(object_type, ()) if i in by_id]
        to_read = sorted(set(to_read) | set(again))
        if to_read:
            work.read(object_type, by_id, props, to_read)
    report = RefreshReport(
        "incremental", "", len(work.snapshots), work.gone, full_types=full_types,
    )
    newest = work.newest_ms
    if newest is None or newest <= log.since_ms:  # nothing modified since the cutoff
        since, settled = log.since_ms, log.settled or now - log.seen_at >= margin_seconds
        seen_at = log.seen_at
    else:
        since, settled, seen_at = newest, False, now
    floor = work.drift_floor()
    if floor and floor[0] < since:
        since, settled, seen_at = floor[0], False, now
    if log_path is not None:
        save_log(log_path, work.log(state, since, settled=settled, seen_at=seen_at))
    return _counted(Refreshed(state, work.snapshots, report), work)


def _counted(refreshed: Refreshed, work: _Work) -> Refreshed:
    refreshed.counts = dict(work.counts)
    refreshed.unproven = dict(work.unproven)
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


class _Work:
    """One refresh's reads and what they found."""

    def __init__(self, client: HubSpotClient, marker: str, state: State) -> None:
        self.client = client
        self.marker = marker
        self.state = state
        self.snapshots: dict[str, RemoteSnapshot | None] = {}
        self.gone = 0
        self.newest_ms: int | None = None
        #: modification times of records whose portal values differ from the state
        self.drift_ms: list[int] = []
        #: by type, the ids of those records
        self.drifting: dict[str, set[str]] = defaultdict(set)
        self.counts: dict[str, int] = {}
        self.extras: dict[str, tuple[str, ...]] = {}
        #: id → modification time of every record read (or skipped) that matched the state
        self.matched_ms: dict[str, int] = {}
        #: address → id of records read without this project's id marker (``Refreshed``)
        self.unproven: dict[str, str] = {}
        self.checking = state.project_id == marker

    # -- reads by id

    def read(
        self, object_type: str, by_id: Mapping[str, str], props: Sequence[str],
        ids: Sequence[str],
    ) -> None:
        # Each batch is compared as it arrives and only its snapshots are kept (a type's
        # 50,000 answers are never held at once). A snapshot keeps only what the planner
        # reads: the properties asked for (not the ids and dates HubSpot always returns);
        # one that matches the state shares the state's dict (50k records: -60 MiB peak).
        wanted = frozenset(props) - {MODIFIED, *MARKERS}
        records = self.state.records
        client = self.client
        for chunk, outcome in client.run_batches(
            lambda chunk: client.batch_read(object_type, chunk, props),
            list(dict.fromkeys(ids)),
        ):
            if isinstance(outcome, ReconcilerError):
                raise outcome
            found = outcome.by_id()
            for hubspot_id in chunk:
                address = by_id[hubspot_id]
                remote = found.get(hubspot_id)
                if remote is None or remote.archived:
                    self.snapshots[address] = None
                    self.gone += 1
                    continue
                recorded = records[address].properties
                kept = {
                    k: v for k, v in remote.properties.items()
                    if k in wanted or k in recorded
                }
                markers = (str(remote.properties.get(MARKER_PROPERTY) or ""),
                           str(remote.properties.get(PROJECT_PROPERTY) or ""))
                snapshot = RemoteSnapshot(
                    remote.id, recorded if kept == recorded else kept, markers=markers
                )
                self.snapshots[address] = snapshot
                if self.checking and not_provably_ours(records[address], snapshot, self.marker):
                    self.unproven[address] = remote.id
                self._note_drift(address, remote)

    def _note_drift(self, address: str, remote: RemoteRecord) -> None:
        from reconciler.planning.comparing import same_value

        recorded = self.state.records[address]
        modified = _ms(remote.properties.get(MODIFIED))
        if all(same_value(v, remote.properties.get(k)) for k, v in recorded.properties.items()):
            if modified is not None:
                self.matched_ms[remote.id] = modified
            return
        self.drifting[recorded.object_type].add(remote.id)
        if modified is not None:
            self.drift_ms.append(modified)
        else:
            self.drift_ms.append(0)  # no time to vouch for: the next refresh starts over

    # -- searches

    def _group(self, lo: int | None, hi: int | None) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [
            {"propertyName": PROJECT_PROPERTY, "operator": "EQ", "value": self.marker}
        ]
        if lo is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "GTE", "value": str(lo)})
        if hi is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "LT", "value": str(hi)})
        return [{"filters": filters}]

    def survey(
        self, object_type: str, by_id: Mapping[str, str], *, cutoff_ms: int | None,
        extras: Sequence[str], skip: tuple[int, frozenset[str]] = (0, frozenset()),
    ) -> list[str]:
        """Count this project's records of the type, range by range, note the newest
        modification time, and (with a cutoff) return the managed ids to read: those
        modified since the cutoff and those the counts say are missing."""
        known = sorted(int(i) for i in by_id if i.isdigit())
        if len(known) != len(by_id):
            raise _Untrusted("an id that is not a number")
        extra_ids = {int(i) for i in extras if i.isdigit()} - set(known)
        changed: list[tuple[int, int]] = []
        missing: set[int] = set()
        found_extras: set[int] = set()
        total = 0
        for lo, hi, inside in _ranges(known):
            count, modified = self._count_and_changes(object_type, lo, hi, cutoff_ms)
            total += count
            changed.extend(modified)
            if cutoff_ms is None:
                continue
            inside_set = set(inside)
            new_extras = {i for i, _ in modified if i not in inside_set}
            range_extras = {i for i in extra_ids if _within(i, lo, hi)} | new_extras
            if count == len(inside) + len(range_extras):
                found_extras |= range_extras
                continue
            gone, listed_extras = self._locate(object_type, lo, hi, inside, extra_ids, count)
            missing |= gone
            found_extras |= listed_extras
        self.counts[object_type] = total
        if cutoff_ms is None:
            return []
        at, verified = skip
        wanted = set(missing)
        matched: dict[str, int] = {}
        for i, modified_ms in changed:
            if str(i) not in by_id:
                continue
            if modified_ms == at and str(i) in verified and i not in missing:
                matched[str(i)] = modified_ms  # read and matched at that time already
            else:
                wanted.add(i)
        if len(wanted) > FULL_SHARE * len(known) and len(wanted) > PAGE:
            raise _Untrusted(f"{len(wanted)} records changed")
        self.matched_ms.update(matched)
        self.extras[object_type] = tuple(str(i) for i in sorted(found_extras))
        return [str(i) for i in sorted(wanted)]

    def _count_and_changes(
        self, object_type: str, lo: int | None, hi: int | None, cutoff_ms: int | None
    ) -> tuple[int, list[tuple[int, int]]]:
        """The range's count, and the ids (with their times) modified at or after the
        cutoff (newest first, page by page until the times fall below it)."""
        changed: list[tuple[int, int]] = []
        after: str | None = None
        seen = 0
        while True:
            page = self.client.search_page(
                object_type, self._group(lo, hi), [MODIFIED],
                sort=(MODIFIED, "DESCENDING"), limit=1 if cutoff_ms is None else PAGE,
                after=after,
            )
            if after is None:
                count = page.total
            for record in page.records:
                modified = _ms(record.properties.get(MODIFIED))
                if modified is None:
                    raise _Untrusted("a record without a modification time")
                if self.newest_ms is None or modified > self.newest_ms:
                    self.newest_ms = modified
                if cutoff_ms is not None and modified >= cutoff_ms:
                    changed.append((int(record.id), modified))
            seen += len(page.records)
            last = _ms(page.records[-1].properties.get(MODIFIED)) if page.records else None
            if cutoff_ms is None or page.after is None or last is None or last < cutoff_ms:
                return count, changed
            if seen + PAGE > SEARCH_CAP:
                raise _Untrusted("more changed records than search can page")
            after = page.after

    def _locate(
        self, object_type: str, lo: int | None, hi: int | None, inside: Sequence[int],
        extra_ids: set[int], count: int,
    ) -> tuple[set[int], set[int]]:
        """Which managed ids of a range are missing, and which marked records the state
        does not map: halve the range by count searches while it is big, then list it."""
        range_extras = {i for i in extra_ids if _within(i, lo, hi)}
        if len(inside) + len(range_extras) <= LIST_AT or len(inside) < 2:
            listed = self._list(object_type, lo, hi)
            return set(inside) - listed, listed - set(inside)
        mid = inside[len(inside) // 2]
        left, _ = self._count_and_changes(object_type, lo, mid, None)
        missing: set[int] = set()
        extras: set[int] = set()
        for part_lo, part_hi, part, part_count in (
            (lo, mid, inside[: len(inside) // 2], left),
            (mid, hi, inside[len(inside) // 2 :], count - left),
        ):
            part_extras = {i for i in extra_ids if _within(i, part_lo, part_hi)}
            if part_count == len(part) + len(part_extras):
                extras |= part_extras
                continue
            gone, found = self._locate(object_type, part_lo, part_hi, part, extra_ids, part_count)
            missing |= gone
            extras |= found
        return missing, extras

    def _list(self, object_type: str, lo: int | None, hi: int | None) -> set[int]:
        """Every marked id in the range, paging by ``hs_object_id`` (never past 10,000)."""
        listed: set[int] = set()
        start = lo
        while True:
            page = self.client.search_page(
                object_type, self._group(start, hi), ["hs_object_id"], limit=PAGE,
            )
            ids = [int(r.id) for r in page.records if r.id.isdigit()]
            listed.update(ids)
            if page.after is None or not ids or len(page.records) < PAGE:
                return listed
            if len(listed) > SEARCH_CAP * 2:
                raise _Untrusted("too many marked records to list")
            start = max(ids) + 1

    def drift_floor(self) -> list[int]:
        """[the time to keep the cutoff at] when too many records drift to list them in
        the log, else [] (they are listed and read by id next time)."""
        if sum(map(len, self.drifting.values())) <= KEEP_DRIFTING:
            return []
        return [min(self.drift_ms)]

    def log(self, state: State, since_ms: int, *, settled: bool, seen_at: float) -> RefreshLog:
        at_since = sorted(i for i, ms in self.matched_ms.items() if ms == since_ms)
        listed = not self.drift_floor()
        return RefreshLog(
            lineage=state.lineage, serial=state.serial, project_id=self.marker,
            since_ms=since_ms, settled=settled, seen_at=seen_at, counts=dict(self.counts),
            extras=dict(self.extras), at_since=tuple(at_since[:KEEP_DRIFTING]),
            drifting={t: tuple(sorted(ids)) for t, ids in self.drifting.items()}
            if listed else {},
        )


def _ranges(known: Sequence[int]) -> list[tuple[int | None, int | None, Sequence[int]]]:
    """Ranges ``[lo, hi)`` of ids covering every id (the first and last open-ended), each
    holding at most ``RANGE_SIZE`` of the state's ids."""
    if len(known) <= RANGE_SIZE:
        return [(None, None, known)]
    ranges: list[tuple[int | None, int | None, Sequence[int]]] = []
    starts = list(range(0, len(known), RANGE_SIZE))
    for n, start in enumerate(starts):
        lo = known[start] if n else None
        hi = known[starts[n + 1]] if n + 1 < len(starts) else None
        ranges.append((lo, hi, known[start : start + RANGE_SIZE]))
    return ranges


def _within(value: int, lo: int | None, hi: int | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value < hi)


def _ms(text: str | None) -> int | None:
    """HubSpot's datetime (ISO 8601 or epoch ms) as epoch milliseconds."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- associations (full refresh only) -----------------------------------------------------


def _read_associations(
    client: HubSpotClient, desired: DesiredState, state: State,
    snapshots: dict[str, RemoteSnapshot | None],
) -> int:
    """Read the associations an apply made that the spec still declares (v4 batch read per
    from-type/to-type pair, 100 records a request) into the snapshots; return how many
    records were read. Associations the spec does not declare are never looked at."""
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for address, recorded in state.records.items():
        record = desired.records.get(address)
        if record is None or not recorded.associations or snapshots.get(address) is None:
            continue
        declared = {association_identity(ref) for ref in record.associations}
        for to_type in sorted({
            a.to_type for a in recorded.associations if applied_identity(a) in declared
        }):
            pairs[(recorded.object_type, to_type)].append(address)
    present: dict[str, dict[str, frozenset[tuple[str, int]]]] = defaultdict(dict)
    read = set()
    for (from_type, to_type), addresses in sorted(pairs.items()):
        by_id = {state.records[a].id: a for a in addresses}
        for chunk, outcome in client.run_batches(
            partial(client.read_associations, from_type, to_type), list(by_id)
        ):
            if isinstance(outcome, ReconcilerError):
                raise outcome
            for hubspot_id in chunk:
                present[by_id[hubspot_id]][to_type] = frozenset(outcome.get(hubspot_id, ()))
        read.update(addresses)
    for address, by_type in present.items():
        snapshot = snapshots[address]
        assert snapshot is not None
        snapshots[address] = RemoteSnapshot(
            id=snapshot.id, properties=snapshot.properties, associations=by_type,
            markers=snapshot.markers,
        )
    return len(read)
