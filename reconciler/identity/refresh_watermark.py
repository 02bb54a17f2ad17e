"""What an apply leaves the next refresh: it knows what it wrote.

Without it, every record an apply writes is newer than the refresh log's cutoff, so the
next plan reads them all again (and a type where more than 40 % changed is read in full);
after a first apply there is no log at all, and the next plan refreshes in full. The apply
notes, per type, which records HubSpot accepted and the modification times its answers
gave them (``Written``); ``leave_watermark`` turns that into the log's ``applied`` spans:

- with the log the apply's plan read (or wrote), the spans are added to it: the next
  refresh leaves each span out of its search for changes and checks by one more count
  that nothing else of the type was modified inside it and nothing it wrote is gone
  (``refresh_survey``);
- without a log, when every record the state maps was written by this apply (a first
  apply), a log is made: nothing was modified before the apply's first write that the
  state maps, and the spans cover the rest;
- otherwise (a state rebuilt, restored, migrating) nothing is left: the next refresh
  decides, as before.

What a span can hide, and why that is accepted: an edit made in HubSpot to a record while
the apply wrote that very record (between its write and the apply's last write). Edits to
other records inside the span change the count, and the type is read in full; a record
the apply wrote and someone deleted since is missing from it, and found as any deletion. A full
refresh (``--refresh=full``, the nightly drift job) finds anything.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.hubspot.records import RemoteRecord
from reconciler.identity.refresh_log import (
    MODIFIED,
    AppliedSpan,
    RefreshLog,
    load_log,
    modified_ms,
    save_log,
)
from reconciler.state.model import State


@dataclass(slots=True)
class WrittenSpan:
    """The records of one type an apply wrote, and the span of their modification times."""

    ids: set[str] = field(default_factory=set)
    first_ms: int | None = None
    last_ms: int | None = None


class Written:
    """What an apply wrote, noted as HubSpot's answers arrive (batches finish on worker
    threads)."""

    def __init__(self) -> None:
        self.by_type: dict[str, WrittenSpan] = defaultdict(WrittenSpan)
        self._lock = threading.Lock()

    def note(self, object_type: str, records: Iterable[RemoteRecord]) -> None:
        """Records HubSpot says it created or updated, as its answer gives them."""
        with self._lock:
            span = self.by_type[object_type]
            for record in records:
                span.ids.add(record.id)
                when = modified_ms(record.properties.get(MODIFIED)) or modified_ms(
                    record.updated_at)
                if when is None:
                    continue
                span.first_ms = when if span.first_ms is None else min(span.first_ms, when)
                span.last_ms = when if span.last_ms is None else max(span.last_ms, when)


def leave_watermark(
    path: Path, state: State, written: Written, *, marker: str, now: float
) -> bool:
    """Record in the refresh log at ``path`` what the apply wrote (see the module); True
    when it did. ``now``: the client's clock, when the apply ended."""
    if state.project_id != marker:
        return False
    mapped: dict[str, set[str]] = defaultdict(set)
    for recorded in state.records.values():
        mapped[recorded.object_type].add(recorded.id)
    spans: dict[str, AppliedSpan] = {}
    for object_type, span in written.by_type.items():
        ids = span.ids & mapped[object_type]
        if ids and span.first_ms is not None and span.last_ms is not None:
            spans[object_type] = AppliedSpan(span.first_ms, span.last_ms, tuple(sorted(ids)), now)
    if not spans:
        return False
    base = _base(load_log(path), state, marker, written, spans, now)
    if base is None:
        return False
    applied = dict(base.applied)
    for object_type, new in spans.items():
        applied[object_type] = _merged(applied.get(object_type), new, mapped[object_type])
    drifting = {
        object_type: tuple(i for i in ids if i not in written.by_type[object_type].ids)
        if object_type in written.by_type else tuple(ids)
        for object_type, ids in base.drifting.items()
    }
    save_log(path, replace(base, serial=state.serial, applied=applied, drifting=drifting))
    return True


def _base(
    log: RefreshLog | None, state: State, marker: str, written: Written,
    spans: Mapping[str, AppliedSpan], now: float,
) -> RefreshLog | None:
    """The log to add the spans to: the one the apply's plan left, if it is this state's;
    else a new one when every record the state maps was written by this apply."""
    if log is not None and (log.lineage, log.project_id) == (state.lineage, marker) and (
        log.serial <= state.serial
    ):
        return log
    for recorded in state.records.values():
        span = written.by_type.get(recorded.object_type)
        if span is None or recorded.id not in span.ids:
            return None  # a record this apply did not write: only a refresh can vouch for it
    first = min(span.first_ms for span in spans.values())
    return RefreshLog(lineage=state.lineage, serial=state.serial, project_id=marker,
                      since_ms=first, settled=True, seen_at=now)


def _merged(old: AppliedSpan | None, new: AppliedSpan, mapped: set[str]) -> AppliedSpan:
    """One span of two applies (the earlier one not yet checked by a refresh)."""
    if old is None:
        return new
    ids = (set(old.ids) | set(new.ids)) & mapped
    return AppliedSpan(min(old.first_ms, new.first_ms), max(old.last_ms, new.last_ms),
                       tuple(sorted(ids)), new.at)


__all__ = ["Written", "WrittenSpan", "leave_watermark"]
