"""The plan with what the pre-plan scan found (``reconciler.identity.scan``).

``plan_with_portal`` is ``planner.plan`` with the records the scan found adopted instead of
created (an ``adopt`` change each, with whatever update it needs), the duplicates listed
on the plan, ``--dedupe``'s archives, and a ``release`` that writes nothing for each record
the state maps in place of one carrying this project's id marker. ``adopted_record`` is
the state entry of a found record, as if this tool's state had kept it (from its digest,
``reconciler.identity.applied_digest``). Pure: no request is made here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from reconciler.hubspot.records import RemoteRecord
from reconciler.identity.applied_digest import DIGEST_PROPERTY, decode_digest
from reconciler.identity.scan import IdentityScan, managed_names
from reconciler.model import DesiredRecord, DesiredState, address_of
from reconciler.planning.changes import Change, Plan, RemoteSnapshot
from reconciler.planning.ownership import carried_markers
from reconciler.planning.pins import picked_associations, rederived_pins
from reconciler.planning.planner import plan
from reconciler.state.model import AppliedAssociation, Pin, RecordState, State


def adopted_record(
    record: DesiredRecord | None, object_type: str, remote: RemoteRecord,
    ids: Mapping[str, str], known: Mapping[str, DesiredRecord] | None = None,
) -> RecordState:
    """The state entry of a found record, as if this tool's state had kept it: managed
    properties as the portal holds them, pins and associations as its digest says they
    were applied (``ids``: address → HubSpot id, to resolve associations by key), with the
    re-pins a kept state would have made (``pins.rederived_pins``; ``known``: the spec's
    records, for picks). Without a digest, relative times are pinned to the portal's
    values and no association is assumed (the plan adds the declared ones; adding one that
    exists changes nothing)."""
    names = managed_names(record) if record is not None else []
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
    found = RecordState(id=remote.id, object_type=object_type, properties=properties,
                        associations=tuple(associations), pinned=pinned)
    if digest is None or record is None:
        return found
    return replace(found, pinned=rederived_pins(record, found, known or {}, {}))


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
                                remote_record, ids, desired.records)
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
        elif change.action in ("update", "repin"):
            changes.append(
                replace(change, action="adopt", reason=_adopt_reason(scan, change.address))
            )
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
            reason=_adopt_reason(scan, address), hubspot_id=recorded.id,
            after=dict(recorded.properties), associations=associations,
            pins=dict(recorded.pinned), source=record.source,
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


__all__ = [
    "ADOPT_REASON",
    "adopted_record",
    "plan_with_portal",
]
