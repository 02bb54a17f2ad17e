"""The searches of an incremental refresh: which managed records changed or are gone.

Per managed type, and per range of at most 9,000 of the state's ids (search counts only up
to 10,000, facts §7), one search (``reconciler_project EQ <project id>``, ``hs_object_id``
in the range, newest ``hs_lastmodifieddate`` first) answers three things at once: how many
of this project's records the range holds (``total``), the newest modification time, and
which records were modified since the cutoff (the first pages, read until the times drop
below it). A range whose count differs from the state's is split in two by one more count
search until the ranges are small, then listed (``HubSpotClient.search``, paged by
``hs_object_id``), which names the deleted and archived records and the marked records the
state does not map. What cannot be trusted raises ``Untrusted``: that type is read in full.

After an apply, the span of modification times of what it wrote (``AppliedSpan``) is left
out of the search for changes (two filter groups: before the span, after it), so the
records it wrote are not read again; one more count of the whole range then says what the
span holds. It must be what the apply wrote and nothing modified since: more, and another
record was modified inside the span (an edit while the apply ran): the type is read in
full; fewer, and a record the apply wrote is gone, found as any deletion is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.hubspot.client import HubSpotClient
from reconciler.identity.lookup import project_group
from reconciler.identity.refresh_log import MODIFIED, AppliedSpan, modified_ms

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


#: Why a type is read in full when a span's count is off.
SPAN_EDITED = "records were modified in HubSpot while the last apply ran"


class Untrusted(Exception):
    """The cheap path cannot be trusted for a type: read it in full (the message says why)."""


class Survey:
    """One refresh's searches, and what they counted."""

    def __init__(self, client: HubSpotClient, marker: str) -> None:
        self.client = client
        self.marker = marker
        #: the newest modification time any search returned (epoch ms)
        self.newest_ms: int | None = None
        #: type → this project's marked records, as counted
        self.counts: dict[str, int] = {}
        #: type → ids of marked records of this project the state does not map
        self.extras: dict[str, tuple[str, ...]] = {}

    def _group(
        self, lo: int | None, hi: int | None, span: AppliedSpan | None = None
    ) -> list[dict[str, Any]]:
        """This project's records with ids in ``[lo, hi)`` (None: open-ended), and with
        ``span`` those modified before it or after it (filter groups are OR-ed)."""
        ((project,),) = (g["filters"] for g in project_group(self.marker))
        filters: list[dict[str, Any]] = [project]
        if lo is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "GTE", "value": str(lo)})
        if hi is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "LT", "value": str(hi)})
        if span is None:
            return [{"filters": filters}]
        return [
            {"filters": [*filters, {"propertyName": MODIFIED, "operator": "LT",
                                    "value": str(span.first_ms)}]},
            {"filters": [*filters, {"propertyName": MODIFIED, "operator": "GT",
                                    "value": str(span.last_ms)}]},
        ]

    def survey(
        self, object_type: str, by_id: Mapping[str, str], *, cutoff_ms: int | None,
        extras: Sequence[str], skip: tuple[int, frozenset[str]] = (0, frozenset()),
        applied: AppliedSpan | None = None,
    ) -> tuple[list[str], dict[str, int]]:
        """Count this project's records of the type, range by range, note the newest
        modification time, and (with a cutoff) return the managed ids to read (those
        modified since the cutoff and those the counts say are missing), and id →
        modification time of those not read because ``skip`` (the log's cutoff and the ids
        read at it) says they matched the state at that very time. ``applied`` (with a
        cutoff): what the last apply wrote, left out of the search (see the module)."""
        known = sorted(int(i) for i in by_id if i.isdigit())
        if len(known) != len(by_id):
            raise Untrusted("an id that is not a number")
        extra_ids = {int(i) for i in extras if i.isdigit()} - set(known)
        span = applied if cutoff_ms is not None else None
        written = {int(i) for i in span.ids if i.isdigit()} if span is not None else set()
        changed: list[tuple[int, int]] = []
        missing: set[int] = set()
        found_extras: set[int] = set()
        total = 0
        for lo, hi, inside in _ranges(known):
            count, modified = self._count_and_changes(object_type, lo, hi, cutoff_ms, span)
            changed.extend(modified)
            if cutoff_ms is None:
                total += count
                continue
            inside_set = set(inside)
            # what the apply wrote and nothing modified since: inside the span
            kept = {i for i in written if _within(i, lo, hi) and i in inside_set} - {
                i for i, _ in modified}
            outside = count
            if span is not None:  # the whole range, counted: a record the apply wrote
                count, _ = self._count_and_changes(object_type, lo, hi, None)  # may be gone
            new_extras = {i for i, _ in modified if i not in inside_set}
            range_extras = {i for i in extra_ids if _within(i, lo, hi)} | new_extras
            if count == len(inside) + len(range_extras):
                if span is not None and count - outside != len(kept):
                    raise Untrusted(SPAN_EDITED)  # another record modified inside the span
                total += count
                found_extras |= range_extras
                continue
            total += count
            gone, listed_extras = self._locate(object_type, lo, hi, inside, extra_ids, count)
            if span is not None and count - outside != len(kept - gone):
                raise Untrusted(SPAN_EDITED)
            missing |= gone
            found_extras |= listed_extras
        self.counts[object_type] = total
        if cutoff_ms is None:
            return [], {}
        at, verified = skip
        wanted = set(missing)
        matched: dict[str, int] = {}
        for i, when_ms in changed:
            if str(i) not in by_id:
                continue
            if when_ms == at and str(i) in verified and i not in missing:
                matched[str(i)] = when_ms  # read and matched at that time already
            else:
                wanted.add(i)
        if len(wanted) > FULL_SHARE * len(known) and len(wanted) > PAGE:
            raise Untrusted(f"{len(wanted)} records changed")
        self.extras[object_type] = tuple(str(i) for i in sorted(found_extras))
        return [str(i) for i in sorted(wanted)], matched

    def _count_and_changes(
        self, object_type: str, lo: int | None, hi: int | None, cutoff_ms: int | None,
        span: AppliedSpan | None = None,
    ) -> tuple[int, list[tuple[int, int]]]:
        """The range's count (outside ``span``), and the ids (with their times) modified at
        or after the cutoff (newest first, page by page until the times fall below it)."""
        changed: list[tuple[int, int]] = []
        after: str | None = None
        seen = 0
        while True:
            page = self.client.search_page(
                object_type, self._group(lo, hi, span), [MODIFIED],
                sort=(MODIFIED, "DESCENDING"), limit=1 if cutoff_ms is None else PAGE,
                after=after,
            )
            if after is None:
                count = page.total
            for record in page.records:
                modified = modified_ms(record.properties.get(MODIFIED))
                if modified is None:
                    raise Untrusted("a record without a modification time")
                if self.newest_ms is None or modified > self.newest_ms:
                    self.newest_ms = modified
                if cutoff_ms is not None and modified >= cutoff_ms:
                    changed.append((int(record.id), modified))
            seen += len(page.records)
            last = modified_ms(page.records[-1].properties.get(MODIFIED)) if page.records else None
            if cutoff_ms is None or page.after is None or last is None or last < cutoff_ms:
                return count, changed
            if seen + PAGE > SEARCH_CAP:
                raise Untrusted("more changed records than search can page")
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
        """Every marked id in the range (``HubSpotClient.search`` pages by ``hs_object_id``,
        never past 10,000)."""
        listed: set[int] = set()
        for record in self.client.search(object_type, self._group(lo, hi), ["hs_object_id"],
                                         limit=PAGE):
            if record.id.isdigit():
                listed.add(int(record.id))
            if len(listed) > SEARCH_CAP * 2:
                raise Untrusted("too many marked records to list")
        return listed


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


__all__ = ["FULL_SHARE", "PAGE", "RANGE_SIZE", "Survey", "Untrusted"]
