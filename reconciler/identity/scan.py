"""The portal holds identity: finding this project's records the state does not map.

A lost, stale or rebuilt-too-early state must never make apply create a record the portal
already has. Before planning, ``scan_portal`` compares, per object type, how many records
carry this project's marker (one ``reconciler_project EQ`` count search) with how many the
state maps. Equal (a fresh portal, a state that knows everything): nothing more is asked.
More: the project's records of that type are listed (paged by ``hs_object_id``, so past
search's 10,000 cap, facts §7) and grouped by ``reconciler_key``:

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
such a type and the portal has the marker property (this tool wrote there before), records
still to be created are looked for again once the search-lag grace has passed: a second
apply seconds after a first one (two merges) then sees what the first created.

After an apply, ``wait_until_searchable`` waits (bounded by the same grace) until search
counts every record the state maps, so that a CI run right after this one finds them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.identity.applied_digest import DIGEST_PROPERTY, decode_digest
from reconciler.hubspot.client import HubSpotClient, RemoteRecord
from reconciler.model import DesiredRecord, DesiredState, address_of
from reconciler.planning.changes import Change, Plan, RemoteSnapshot
from reconciler.planning.ownership import carried_markers
from reconciler.planning.pins import picked_associations
from reconciler.planning.planner import plan
from reconciler.identity.recovery import MARKER_PROPERTY, NO_UNIQUE_PROPERTIES, PROJECT_PROPERTY
from reconciler.state.model import AppliedAssociation, Pin, RecordState, State

SEARCH_PAGE = 200


def list_matching(
    client: HubSpotClient, object_type: str, groups: Sequence[Mapping[str, Any]],
    properties: Sequence[str],
) -> list[RemoteRecord]:
    """Every record matching ``groups``, paged by ``hs_object_id`` (each query asks for
    ids above the last one seen) instead of ``after``: search refuses to page past 10,000
    results (facts §7), a project may hold more."""
    found: list[RemoteRecord] = []
    last: str | None = None
    while True:
        query = [dict(g) for g in groups]
        if last is not None:
            query = [{"filters": [*g["filters"], {"propertyName": "hs_object_id",
                                                  "operator": "GT", "value": last}]}
                     for g in query]
        page = client.search_page(object_type, query, list(properties), limit=SEARCH_PAGE)
        found.extend(page.records)
        if not page.records or len(page.records) < SEARCH_PAGE:
            return found
        last = page.records[-1].id


def _project_group(project_id: str) -> list[dict[str, Any]]:
    return [{"filters": [{"propertyName": PROJECT_PROPERTY, "operator": "EQ",
                          "value": project_id.lower()}]}]


#: search's ``total`` stops here: a larger count reads as 10,000 (``count_marked``)
SEARCH_TOTAL_CAP = 10_000


def count_marked(client: HubSpotClient, object_type: str, project_id: str) -> int:
    """How many records of ``object_type`` carry this project's marker (search counts at
    most 10,000: a larger answer reads as 10,000, which is only ever compared upwards)."""
    return client.search_page(object_type, _project_group(project_id), [], limit=1).total


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
    searches: int = 0


def _managed_names(record: DesiredRecord) -> list[str]:
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
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
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
    started = clock()
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
        names[record.object_type].update(_managed_names(record))
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
    searches = 0
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
        defined = {p.name for p in client.list_properties(object_type)}
        if MARKER_PROPERTY not in defined or PROJECT_PROPERTY not in defined:
            continue  # this tool never wrote this type here (markers of the first release
            # are found by `state rebuild`, which also reads them)
        props = [*sorted(names[object_type]), MARKER_PROPERTY, PROJECT_PROPERTY]
        if DIGEST_PROPERTY in defined:
            props.append(DIGEST_PROPERTY)
        while True:
            if object_type in counted:
                count = counted.pop(object_type)  # (counted again after a wait)
            else:
                count = count_marked(client, object_type, project_id)
                searches += 1
            found: dict[str, list[RemoteRecord]] = {}
            if count > known[object_type] or (migrating and count):
                listed = list_matching(client, object_type, _project_group(project_id), props)
                searches += 1 + len(listed) // SEARCH_PAGE
                found = _by_address(listed, object_type, project_id)
            missing = creating[object_type] - set(found)
            remaining = started + grace_seconds - clock()
            if not lag_wait or not missing or remaining <= 0 or stopped():
                break
            # Not found yet may be "not indexed yet": look again once the grace is over.
            sleep(remaining)
            waited += remaining
            lag_wait = False
        found = _read_back(client, object_type, found, props)
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
    return IdentityScan(adoptable, duplicates, replaced, waited, searches)


def _read_back(
    client: HubSpotClient, object_type: str, found: Mapping[str, list[RemoteRecord]],
    props: Sequence[str],
) -> dict[str, list[RemoteRecord]]:
    """The found records as a read by id returns them: search lags writes, so what it
    returned may be an older version (a digest from before the last update); a read sees
    every write at once, and leaves out what was archived since."""
    ids = [r.id for records in found.values() for r in records]
    if not ids:
        return {}
    fresh = client.read_all(object_type, ids, list(props))
    return {
        address: kept
        for address, records in found.items()
        if (kept := [fresh[r.id] for r in records if r.id in fresh])
    }


def _by_address(
    listed: Iterable[RemoteRecord], object_type: str, project_id: str
) -> dict[str, list[RemoteRecord]]:
    prefix = f"{project_id.lower()}:"
    found: dict[str, list[RemoteRecord]] = defaultdict(list)
    for remote in listed:
        value = str(remote.properties.get(MARKER_PROPERTY) or "").lower()
        if not value.startswith(prefix):
            continue
        address = value[len(prefix):]
        if address.partition("/")[0] == object_type:
            found[address].append(remote)
    return dict(found)


# -- planning with what was found ---------------------------------------------------------


def adopted_record(
    record: DesiredRecord | None, object_type: str, remote: RemoteRecord,
    ids: Mapping[str, str],
) -> RecordState:
    """The state entry of a found record, as if this tool's state had kept it: managed
    properties as the portal holds them, pins and associations as its digest says they
    were applied (``ids``: address → HubSpot id, to resolve associations by key). Without
    a digest, relative times are pinned to the portal's values and no association is
    assumed (the plan adds the declared ones; adding one that exists changes nothing)."""
    names = _managed_names(record) if record is not None else []
    properties = {n: v for n in names if (v := remote.properties.get(n)) is not None}
    digest = decode_digest(remote.properties.get(DIGEST_PROPERTY))
    associations: list[AppliedAssociation] = []
    if digest is not None:
        pinned: dict[str, Pin] = dict(digest.pins)
        for kept in digest.associations or ():
            to_id = ids.get(address_of(kept.to_type, kept.to_key)) if kept.to_key else kept.to_id
            if to_id and kept.type_id is not None:
                associations.append(AppliedAssociation(
                    kept.to_type, to_id, kept.category, kept.type_id, kept.to_key))
    else:
        pinned = {
            name: Pin(expr=expr, value=properties[name])
            for name, expr in (record.relative_times.items() if record is not None else ())
            if name in properties
        }
    return RecordState(id=remote.id, object_type=object_type, properties=properties,
                       associations=tuple(associations), pinned=pinned)


class _WithFound(Mapping[str, RemoteSnapshot | None]):
    """The refresh's snapshots, plus the found records as the portal holds them."""

    def __init__(self, base: Mapping[str, RemoteSnapshot | None],
                 found: Mapping[str, RemoteSnapshot]) -> None:
        self._base = base
        self._found = found

    def __getitem__(self, address: str) -> RemoteSnapshot | None:
        if address in self._found:
            return self._found[address]
        return self._base[address]

    def __iter__(self) -> Iterator[str]:
        yield from self._base
        yield from (a for a in self._found if a not in self._base)

    def __len__(self) -> int:
        return len(self._base) + sum(1 for a in self._found if a not in self._base)


ADOPT_REASON = "carries this project's marker; the state did not map it"


def _adopt_reason(scan: IdentityScan, address: str) -> str:
    old_id = scan.replaced.get(address)
    if old_id is None:
        return ADOPT_REASON
    return f"carries this project's marker; the state mapped id {old_id}, which does not"


def plan_with_portal(
    desired: DesiredState,
    state: State,
    remote: Mapping[str, RemoteSnapshot | None] | None,
    scan: IdentityScan,
    *,
    owners: Mapping[str, str] | None = None,
    target: str | None = None,
    dedupe: bool = False,
) -> Plan:
    """``planner.plan``, with the records ``scan`` found adopted instead of created (each an
    ``adopt`` change, with whatever update it needs), the duplicates listed on the plan,
    and with ``dedupe`` one ``dedupe`` change (archive) per extra record.

    A record the state maps that carries no marker of this project's id, where another
    record carries it (``scan.replaced``), is released without a write (the portal keeps it
    as it is: it is not provably this project's) and the marked one adopted in its place;
    it is neither updated, nor given this project's markers, nor archived."""
    if not scan.adoptable and not scan.duplicates and not scan.replaced:
        return plan(desired, state, remote, owners=owners, target=target)
    ids = {a: r.id for a, r in state.records.items() if a not in scan.replaced}
    ids.update({a: r.id for a, r in scan.adoptable.items()})
    found = {
        address: adopted_record(desired.records.get(address), remote_record_type(address),
                                remote_record, ids)
        for address, remote_record in scan.adoptable.items()
    }
    kept = {a: r for a, r in state.records.items() if a not in scan.replaced}
    view = replace(state, records={**kept, **found})
    snapshots = {a: RemoteSnapshot(id=r.id, properties=r.properties) for a, r in found.items()}
    seen = _WithFound(remote, snapshots) if remote is not None else None
    made = plan(desired, view, seen, owners=owners, target=target)
    changes: list[Change] = []
    for change in made.changes:
        if change.address not in found:
            changes.append(change)
        elif change.action == "update":
            changes.append(replace(change, action="adopt", reason=_adopt_reason(scan, change.address)))
        # (a remark of a found record: it carries this project's markers already)
    unchanged = []
    for address in made.unchanged:
        if address not in found:
            unchanged.append(address)
            continue
        record, recorded = desired.records[address], found[address]
        associations, _picks = picked_associations(record, recorded, desired.records)
        changes.append(Change(
            action="adopt", object_type=record.object_type, key=record.key,
            reason=_adopt_reason(scan, address), hubspot_id=recorded.id, after=dict(recorded.properties),
            associations=associations, pins=dict(recorded.pinned), source=record.source,
        ))
    changes.extend(_forget_replaced(desired, state, scan, remote))
    if dedupe:
        for address, carrying in sorted(scan.duplicates.items()):
            object_type, _, key = address.partition("/")
            source = desired.records[address].source if address in desired.records else None
            changes.extend(
                Change(action="dedupe", object_type=object_type, key=key,
                       reason=f"carries the marker of {address}, kept as id {carrying[0]}",
                       hubspot_id=extra, source=source)
                for extra in carrying[1:]
            )
    return replace(
        made, changes=tuple(sorted(changes, key=_order)), unchanged=tuple(unchanged),
        state_lineage=state.lineage, state_serial=state.serial,
        duplicates=dict(scan.duplicates),
    )


def _forget_replaced(
    desired: DesiredState, state: State, scan: IdentityScan,
    remote: Mapping[str, RemoteSnapshot | None] | None,
) -> list[Change]:
    """A ``release`` that writes nothing (``after`` empty) for each record the state maps
    in place of one carrying this project's id marker: the state forgets it, the portal
    keeps it as it is."""
    changes = []
    for address, old_id in sorted(scan.replaced.items()):
        recorded = state.records[address]
        winner = scan.adoptable.get(address)
        instead = f"id {winner.id} does" if winner is not None else "another record does"
        object_type, _, key = address.partition("/")
        record = desired.records.get(address)
        seen = remote.get(address) if remote is not None else None
        carried = (f"{carried_markers(seen.markers)}, not this project's id"
                   if seen is not None and seen.markers is not None
                   else "no marker of this project's id")
        changes.append(Change(
            action="release", object_type=recorded.object_type or object_type, key=key,
            reason=f"carries {carried}, {instead}; forgotten, left as it is in the portal",
            hubspot_id=old_id, source=record.source if record is not None else None,
        ))
    return changes


def remote_record_type(address: str) -> str:
    return address.partition("/")[0]


def _order(change: Change) -> tuple[int, int, str, str]:
    from reconciler.model import write_rank

    rank = write_rank(change.object_type)
    if change.action in ("archive", "dedupe"):
        return (1, -rank, change.object_type, change.key)
    return (0, rank, change.object_type, change.key)


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
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    stopped: Callable[[], bool] = lambda: False,
) -> SearchWait:
    """Wait until search counts, per type, at least the records the state maps (so a CI run
    right after a merge sees what this one created); at most ``timeout_seconds``."""
    expected: dict[str, int] = defaultdict(int)
    types = set(object_types)
    for recorded in state.records.values():
        if recorded.object_type in types and recorded.id:
            expected[recorded.object_type] += 1
    started = clock()
    behind: dict[str, tuple[int, int]] = {}
    pending = sorted(t for t in types if expected[t])
    while pending and not stopped():
        behind = {}
        for object_type in pending:
            count = count_marked(client, object_type, project_id)
            # (past the cap a count cannot say more: waiting for it would last the timeout)
            if count < min(expected[object_type], SEARCH_TOTAL_CAP):
                behind[object_type] = (count, expected[object_type])
        pending = sorted(behind)
        remaining = started + timeout_seconds - clock()
        if not pending or remaining <= 0:
            break
        sleep(min(poll_seconds, remaining))
    return SearchWait(clock() - started, behind)


__all__ = [
    "IdentityScan",
    "SearchWait",
    "adopted_record",
    "count_marked",
    "list_matching",
    "plan_with_portal",
    "scan_portal",
    "wait_until_searchable",
]
