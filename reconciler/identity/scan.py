"""The portal holds identity: finding this project's records the state does not map.

A lost, stale or rebuilt-too-early state must never make apply create a record the portal
already has. Before planning, ``scan_portal`` compares, per object type, how many records
carry this project's marker (one ``reconciler_project EQ`` count search) with how many the
state maps. Equal (a fresh portal, a state that knows everything): nothing more is asked.
More: the project's records of that type are listed (``lookup.find_marked``: paged by
``hs_object_id``, so past search's 10,000 cap, facts §7) and grouped by ``reconciler_key``:

- a spec record the state does not map whose marker is carried → **adopt** it (the oldest
  record carrying it), never create it;
- a marker carried by more than one record → a **duplicate**: the record the state maps
  (else the oldest) is kept, the others are reported, and archived by ``--dedupe``;
- an address the state maps to a record that does not carry this project's id marker,
  while another record does → the marked one **wins**: it is adopted, and the mapped one
  is released without a write (``replaced``). A record with this project's id marker
  always wins over one without, so dedupe never keeps one without.

Only records carrying ``reconciler_project`` = this project's id are listed: a key alone
(the first release's ``<name>:<address>``) never makes a record this project's. While the
state's markers are not this project's id yet (a first-release state being migrated), the
state may map records that carry no id marker, so counting proves nothing and the
project's records are always listed.

Search lags writes by a few moments (facts §7). Meetings and calls have no unique property
(upsert cannot protect them), so when the state knows none of this project's records of
such a type and this project wrote that type here before (its ``reconciler_wrote_<id>``
property exists: ``markers.may_have_written``, read without search's lag), records still to
be created are looked for again once the search-lag grace has passed: a second apply
seconds after a first one (two merges) then sees what the first created. A new project
never waits because another project wrote meetings or calls.

After an apply, ``wait_until_searchable`` waits (bounded by the same grace) until search
counts every record the state maps, so that a CI run right after this one finds them.
``reconciler.identity.scan_plan`` makes the plan with what the scan found. Every wait is on
the client's clock (``reconciler.identity.search_lag``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import RemoteRecord
from reconciler.identity.applied_digest import DIGEST_PROPERTY
from reconciler.identity.lookup import (
    SEARCH_TOTAL_CAP,
    count_marked,
    find_marked,
    group_owned,
    marker_lookup_properties,
    read_by_id,
)
from reconciler.identity.marker_writes import properties_when_marked
from reconciler.identity.markers import NO_UNIQUE_PROPERTIES, address_in, may_have_written
from reconciler.identity.search_lag import SEARCH_POLL_SECONDS, search_until, wait
from reconciler.model import DesiredRecord, DesiredState
from reconciler.state.model import State


@dataclass(frozen=True, slots=True)
class IdentityScan:
    """What the portal holds for this project that the state does not map."""

    #: address → the record carrying its marker (the oldest, when several do)
    adoptable: Mapping[str, RemoteRecord] = field(default_factory=dict)
    #: address → ids of every record carrying its marker, the one kept first
    duplicates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: address → the id the state maps it to, a record that carries no marker of this
    #: project's id while another record does: that one wins (adopted, when the spec has
    #: the address), the mapped one is forgotten without a write
    replaced: Mapping[str, str] = field(default_factory=dict)
    #: seconds spent waiting out the search lag
    waited: float = 0.0


def managed_names(record: DesiredRecord) -> list[str]:
    names = set(record.properties)
    if record.owner_email:
        names.add("hubspot_owner_id")
    return sorted(names)


def scan_portal(
    client: HubSpotClient,
    desired: DesiredState,
    state: State,
    *,
    grace_seconds: float,
    counts: Mapping[str, int] | None = None,
    unproven: Collection[str] = (),
    stopped: Callable[[], bool] = lambda: False,
) -> IdentityScan:
    """Adoptable records and duplicates of this project (see the module docstring).

    ``counts``: type → marked records, as the refresh just counted them (those types
    cost no request here when the state knows them all). ``unproven``: addresses whose
    mapped record the refresh read without this project's id marker (the plan forgets
    them, ``planning.ownership.not_provably_ours``): counted as unmapped, so a record that carries
    the marker is adopted in their place."""
    counted = dict(counts or {})
    project_id = desired.project.marker_id
    clock = client.clock
    started = clock.time()
    types = sorted({r.object_type for r in desired.records.values()}
                   | {r.object_type for r in state.records.values()})
    known: dict[str, int] = defaultdict(int)
    for recorded in state.records.values():
        if recorded.id:
            known[recorded.object_type] += 1
    for address in unproven:
        if address in state.records and state.records[address].id:
            known[state.records[address].object_type] -= 1
    creating: dict[str, set[str]] = defaultdict(set)
    names: dict[str, set[str]] = defaultdict(set)
    for address, record in desired.records.items():
        names[record.object_type].update(managed_names(record))
        if address not in state.records or address in unproven:
            creating[record.object_type].add(address)
    state_missing = not state.records and not state.in_flight
    # A state whose markers are not this project's id yet (a first-release state, or one
    # an earlier release's rebuild wrote) maps records that need not carry them, so
    # counting tells nothing: the project's records are listed.
    migrating = state.project_id != project_id
    adoptable: dict[str, RemoteRecord] = {}
    duplicates: dict[str, tuple[str, ...]] = {}
    replaced: dict[str, str] = {}
    waited = 0.0
    for object_type in types:
        if stopped():
            break
        lag_wait = (state_missing and object_type in NO_UNIQUE_PROPERTIES
                    and bool(creating[object_type]))
        if not lag_wait and not (migrating and known[object_type]) and (
            counted.get(object_type, -1) == known[object_type]
        ):
            continue  # the state maps every marked record: nothing to adopt, no duplicate
        defined = properties_when_marked(client, object_type)
        if not defined:
            continue  # this tool never wrote this type here (markers of the first release
            # are found by `state rebuild`, which also reads them)
        if lag_wait and not may_have_written(defined, project_id):
            lag_wait = False  # this project never wrote the type here: nothing to wait for
        props = sorted(names[object_type])
        if DIGEST_PROPERTY in defined:
            props.append(DIGEST_PROPERTY)
        while True:
            if object_type in counted:
                count = counted.pop(object_type)  # (counted again after a wait)
            else:
                count = count_marked(client, object_type, project_id)
            found: dict[str, list[RemoteRecord]] = {}
            if count > known[object_type] or (migrating and count):
                found = _by_address(find_marked(client, object_type, props,
                                                project_id=project_id), project_id, object_type)
            missing = creating[object_type] - set(found)
            remaining = started + grace_seconds - clock.time()
            if not lag_wait or not missing or remaining <= 0 or stopped():
                break
            # Not found yet may be "not indexed yet": look again once the grace is over.
            wait(clock, remaining, stopped)
            waited += remaining
            lag_wait = False
        found = _read_back(client, object_type, found, props, project_id)
        for address, records in found.items():
            mapped_as = state.records.get(address)
            ordered = sorted(records, key=lambda r: (len(r.id), r.id))
            if mapped_as is not None and mapped_as.id:
                mapped = [r for r in ordered if r.id == mapped_as.id]
                if mapped:
                    ordered = mapped + [r for r in ordered if r.id != mapped_as.id]
                    if len(ordered) > 1:
                        duplicates[address] = tuple(r.id for r in ordered)
                    continue
                # the state maps a record without this project's id marker, and these
                # carry it: a record with this project's id marker always wins
                replaced[address] = mapped_as.id
            if address in desired.records:
                adoptable[address] = ordered[0]
                if len(ordered) > 1:
                    duplicates[address] = tuple(r.id for r in ordered)
    return IdentityScan(adoptable, duplicates, replaced, waited)


def _by_address(
    by_key: Mapping[str, list[RemoteRecord]], project_id: str, object_type: str
) -> dict[str, list[RemoteRecord]]:
    return {
        address: records for key, records in by_key.items()
        if (address := address_in(key, project_id, object_type)) is not None
    }


def _read_back(
    client: HubSpotClient, object_type: str, found: Mapping[str, list[RemoteRecord]],
    props: Sequence[str], project_id: str,
) -> dict[str, list[RemoteRecord]]:
    """The found records as a read by id returns them (``lookup.read_by_id``), still
    carrying this project's markers."""
    listed = [r for records in found.values() for r in records]
    fresh = read_by_id(client, object_type, listed, marker_lookup_properties(props))
    return _by_address(group_owned(fresh, project_id=project_id), project_id, object_type)


# -- after an apply -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchWait:
    """How the wait for search to list what an apply created went."""

    waited: float
    #: object type → (records search counts, records the state maps), for types not caught up
    behind: Mapping[str, tuple[int, int]]

    def describe(self) -> str | None:
        """One line for the apply summary (None: search listed them at once)."""
        if not self.behind:
            if self.waited < 1:
                return None
            return f"Waited {self.waited:.0f} s until HubSpot's search listed every record created."
        lagging = ", ".join(f"{t} {n}/{m}" for t, (n, m) in sorted(self.behind.items()))
        return (
            f"HubSpot's search did not list every record created after {self.waited:.0f} s "
            f"({lagging}); an apply started right now without this state may not find them."
        )


def wait_until_searchable(
    client: HubSpotClient,
    state: State,
    project_id: str,
    object_types: Iterable[str],
    *,
    timeout_seconds: float,
    poll_seconds: float = SEARCH_POLL_SECONDS,
    stopped: Callable[[], bool] = lambda: False,
) -> SearchWait:
    """Wait until search counts, per type, at least the records the state maps (so a CI run
    right after a merge sees what this one created); at most ``timeout_seconds``."""
    expected: dict[str, int] = defaultdict(int)
    types = set(object_types)
    for recorded in state.records.values():
        if recorded.object_type in types and recorded.id:
            expected[recorded.object_type] += 1
    clock = client.clock
    started = clock.time()
    behind: dict[str, tuple[int, int]] = {}
    pending = sorted(t for t in types if expected[t])

    def attempt() -> bool:
        nonlocal behind, pending
        behind = {}
        for object_type in pending:
            count = count_marked(client, object_type, project_id)
            # (past the cap a count cannot say more: waiting for it would last the timeout)
            if count < min(expected[object_type], SEARCH_TOTAL_CAP):
                behind[object_type] = (count, expected[object_type])
        pending = sorted(behind)
        return not pending

    if pending:
        search_until(clock, started + timeout_seconds, attempt, stopped=stopped,
                     poll_seconds=poll_seconds)
    return SearchWait(clock.time() - started, behind)


__all__ = [
    "IdentityScan",
    "SearchWait",
    "managed_names",
    "scan_portal",
    "wait_until_searchable",
]
