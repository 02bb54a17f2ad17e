"""Adopting records that already exist in the portal: ``import`` and ``state rebuild``.

A record is found by its HubSpot id (``import_record``: the one explicit way to adopt a
record that does not carry this project's markers; one carrying another project's id
marker only when that project is named, on purpose) or by the markers apply writes on
everything it creates, ``reconciler_key`` = ``<project id>:<address>`` and
``reconciler_project`` = ``<project id>``, all lowercase (``import_all_matching``,
``rebuild_state``): both must be carried, so a key alone (the first release's
``<name>:<address>``) never makes a record this project's. Adopting a record sets both
markers on it. Its managed properties are recorded as the portal holds them, its relative
times pinned to the portal's values and its existing associations recorded, so the next
plan shows only the real differences.

Like every command that changes the state: the state lock is held, and the previous file
is copied to a backup first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.errors import ConfigError, ReconcilerError, StateError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import RemoteRecord, UpdateInput
from reconciler.identity.applied_digest import DIGEST_PROPERTY, AppliedDigest, decode_digest
from reconciler.identity.lookup import find_marked
from reconciler.identity.marker_writes import ensure_markers, properties_when_marked
from reconciler.identity.markers import (
    MARKER_PROPERTY,
    PROJECT_PROPERTY,
    address_in,
    marker_properties,
    marker_value,
)
from reconciler.identity.scan import managed_names
from reconciler.model import SECTION_OBJECT_TYPES, DesiredRecord, DesiredState, address_of
from reconciler.planning.pins import rederived_pins
from reconciler.settings import Target
from reconciler.state.model import AppliedAssociation, Pin, RecordState, State
from reconciler.workflow.options import RunOptions, load_target
from reconciler.workflow.portal import connect, resolve_owners
from reconciler.workflow.state_edits import check_address


@dataclass(frozen=True, slots=True)
class Adopted:
    address: str
    hubspot_id: str


@dataclass(frozen=True, slots=True)
class AdoptOutcome:
    """What import (or rebuild) adopted into the state."""

    target: Target
    adopted: tuple[Adopted, ...]
    #: address → ids of other portal records carrying the same marker (left alone)
    duplicates: Mapping[str, tuple[str, ...]]
    backup: Path | None
    #: rebuild: address → id of records the previous state mapped that carry no marker of
    #: this project's id (the first release's, another project's), so were not taken back
    left_behind: Mapping[str, str] = field(default_factory=dict)


def _unknown_spec_address(address: str, desired: DesiredState) -> ConfigError:
    from reconciler.loading.issues import did_you_mean

    hint = did_you_mean(address, desired.records)
    return ConfigError(
        f"{address} is not in the spec{hint}; import adopts records the spec describes, "
        "so add it to a spec file first"
    )


def _managed_properties(record: DesiredRecord | None) -> list[str]:
    return managed_names(record) if record is not None else []


def _adopted_record(
    record: DesiredRecord | None, object_type: str, remote: RemoteRecord,
    known: Mapping[str, DesiredRecord],
) -> RecordState:
    """The state entry for a record found in the portal: its managed properties as the
    portal holds them (so the next plan shows only real differences), and its pins as the
    record's digest (``reconciler_applied``) says they were applied, so a changed
    ``start: +3d 10:00`` is planned as a change. A record without a digest (made before
    digests, or by hand) gets its relative times pinned to the portal's value."""
    names = _managed_properties(record)
    properties = {n: v for n in names if (v := remote.properties.get(n)) is not None}
    pinned: dict[str, Pin] = {}
    digest = decode_digest(remote.properties.get(DIGEST_PROPERTY))
    if digest is not None:
        pinned = dict(digest.pins)
        if record is not None:  # with the re-pins a kept state made (the digest has not)
            pinned = rederived_pins(record, RecordState(
                id=remote.id, object_type=object_type, properties=properties, pinned=pinned,
            ), known, {})
    elif record is not None:
        pinned = {
            name: Pin(expr=expr, value=properties[name])
            for name, expr in record.relative_times.items()
            if name in properties
        }
    return RecordState(id=remote.id, object_type=object_type, properties=properties, pinned=pinned)


def _record_existing_associations(
    client: HubSpotClient, desired: DesiredState, state: State, addresses: Iterable[str],
    digests: Mapping[str, AppliedDigest] | None = None,
) -> None:
    """Record the associations the portal already has that the spec declares, or that the
    record's digest says an apply made (so one the spec no longer declares is planned as
    removed); plan adds only the rest."""
    digests = digests or {}
    wanted: dict[tuple[str, str], list[str]] = defaultdict(list)
    for address in addresses:
        record = _wanted_as(desired, address)
        if record is None:
            continue
        digest = digests.get(address)
        declared = digest.associations if digest is not None and digest.associations else ()
        for to_type in sorted({ref.to_type for ref in record.associations}
                              | {a.to_type for a in declared}):
            wanted[(record.object_type, to_type)].append(address)
    existing: dict[str, set[tuple[str, str, int]]] = defaultdict(set)  # address → portal pairs
    for (from_type, to_type), group in sorted(wanted.items()):
        ids = {state.records[a].id: a for a in group}
        for hubspot_id, linked in client.read_associations(from_type, to_type, list(ids)).items():
            if hubspot_id in ids:
                existing[ids[hubspot_id]].update((to_type, to_id, kind) for to_id, kind in linked)
    labels: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}  # pair → text → id, category
    for address, pairs in existing.items():
        recorded = state.records[address]
        found: list[AppliedAssociation] = []
        wanted_as = _wanted_as(desired, address)
        for ref in wanted_as.associations if wanted_as is not None else ():  # spec's order
            to_id = ref.to_id
            if to_id is None and ref.to_address in state.records:
                to_id = state.records[str(ref.to_address)].id
            if ref.type_id is None and ref.label is not None and wanted_as is not None:
                # a label named by its text: the portal's id for it (one read per pair)
                pair = (wanted_as.object_type, ref.to_type)
                if pair not in labels:
                    labels[pair] = {label.label.lower(): (label.type_id, label.category)
                                    for label in client.association_labels(*pair) if label.label}
                known = labels[pair].get(ref.label.lower())
                if known is not None and to_id is not None and (
                        ref.to_type, to_id, known[0]) in pairs:
                    found.append(AppliedAssociation(ref.to_type, to_id, known[1], known[0],
                                                    ref.to_key, ref.label))
                continue
            linked_now = (ref.to_type, to_id, ref.type_id)
            if ref.type_id is not None and to_id is not None and linked_now in pairs:
                found.append(
                    AppliedAssociation(ref.to_type, to_id, ref.category, ref.type_id, ref.to_key)
                )
        digest = digests.get(address)
        for kept in (digest.associations or ()) if digest is not None else ():
            to_id = kept.to_id
            if kept.to_key is not None:
                target = state.records.get(address_of(kept.to_type, kept.to_key))
                to_id = target.id if target is not None else None
            if to_id is None or kept.type_id is None:
                continue
            applied = AppliedAssociation(kept.to_type, to_id, kept.category, kept.type_id,
                                         kept.to_key)
            if (kept.to_type, to_id, kept.type_id) in pairs and applied not in found:
                found.append(applied)
        state.records[address] = replace(recorded, associations=tuple(found))


def _read_one(
    client: HubSpotClient, object_type: str, hubspot_id: str, properties: list[str]
) -> RemoteRecord:
    found = client.read_all(object_type, [hubspot_id], properties)
    if hubspot_id in found:
        return found[hubspot_id]
    archived = client.batch_read(object_type, [hubspot_id], [], archived=True).by_id()
    if hubspot_id in archived:
        raise ConfigError(
            f"{object_type} {hubspot_id} is archived in the portal; restore it in HubSpot "
            "first, or let apply create the record"
        )
    raise ConfigError(f"{object_type} {hubspot_id} does not exist in the portal")


def _set_markers(
    client: HubSpotClient, object_type: str, project: str, adopted: Iterable[Adopted]
) -> None:
    inputs = [UpdateInput(a.hubspot_id, marker_properties(project, a.address)) for a in adopted]
    for _chunk, outcome in client.run_batches(
        lambda chunk: client.batch_update(object_type, chunk), inputs
    ):
        if isinstance(outcome, ReconcilerError):
            raise outcome
        if outcome.errors:
            raise ConfigError(
                f"could not set {MARKER_PROPERTY} on {object_type}: {outcome.errors[0].message}"
            )


def _refuse_anothers(
    remote: RemoteRecord, object_type: str, address: str, project_id: str,
    from_project: str | None,
) -> None:
    """A record carrying another project's id marker is that project's: import takes a
    record with no id marker (made by hand, or marked by the first release) or this
    project's; another's only when ``from_project`` names that very project (on purpose:
    its markers are overwritten, and that project no longer finds it)."""
    owner = str(remote.properties.get(PROJECT_PROPERTY) or "").lower()
    if not owner or owner == project_id.lower():
        return
    if from_project is not None and from_project.strip().lower() == owner:
        return
    key = str(remote.properties.get(MARKER_PROPERTY) or "")
    address_there = key.partition(":")[2] if key.lower().startswith(f"{owner}:") else ""
    release = (f"`reconciler state rm {address_there}` in that project"
               if address_there else "`reconciler state rm` in that project")
    raise ConfigError(
        f"{object_type} {remote.id} carries {PROJECT_PROPERTY} {owner}"
        + (f" ({MARKER_PROPERTY} {key})" if key else "")
        + f": it is the record of the project with id {owner}, not this one's, so it was not "
        f"imported as {address}. To take it on purpose: `reconciler import {address} "
        f"{remote.id} --from-project {owner}` (that project no longer finds it), or release "
        f"it there first ({release})"
    )


def import_record(
    options: RunOptions, address: str, hubspot_id: str, *, from_project: str | None = None
) -> AdoptOutcome:
    """Adopt the portal record ``hubspot_id`` as the spec's ``address``; one carrying
    another project's id marker only when ``from_project`` is that project's id."""
    check_address(address)
    hubspot_id = hubspot_id.strip()
    if not hubspot_id.isdigit():
        raise ConfigError(f"{hubspot_id!r} is not a HubSpot record id (a number, e.g. 4242)")
    loaded = load_target(options)
    desired, target, store = loaded.desired, loaded.target, loaded.store
    record = desired.records.get(address)
    if record is None:
        raise _unknown_spec_address(address, desired)
    with store.locked(command="import"):
        state = store.load(target=target.name, project=desired.project.name,
                           project_id=desired.project.marker_id)
        if address in state.records:
            raise StateError(
                f"{address} is already managed (HubSpot id {state.records[address].id}); "
                f"run `reconciler state rm {address}` first to adopt another record"
            )
        for other, recorded in state.records.items():
            if recorded.id == hubspot_id and recorded.object_type == record.object_type:
                raise StateError(f"{record.object_type} {hubspot_id} is already managed as {other}")
        with connect(target, options.environ, clock=options.clock) as client:
            remote = _read_one(client, record.object_type, hubspot_id,
                               [*_managed_properties(record), MARKER_PROPERTY, PROJECT_PROPERTY])
            _refuse_anothers(remote, record.object_type, address, desired.project.marker_id,
                             from_project)
            ensure_markers(client, [record.object_type], project_id=desired.project.marker_id)
            adopted = Adopted(address, remote.id)
            _set_markers(client, record.object_type, desired.project.marker_id, [adopted])
            resolve_owners(client, desired, state)
            state.records[address] = _adopted_record(record, record.object_type, remote,
                                                     desired.records)
            _record_existing_associations(client, desired, state, [address])
        backup = store.backup()
        store.save(state)
    return AdoptOutcome(target, (adopted,), {}, backup)


def _find_project_records(
    client: HubSpotClient,
    project_id: str,
    object_types: Iterable[str],
    properties: Mapping[str, list[str]],
    addresses: Mapping[str, list[str]] | None,
) -> tuple[dict[str, tuple[str, RemoteRecord]], dict[str, tuple[str, ...]]]:
    """address → (type, record) for this project's records found by their markers
    (``lookup.find_marked``).

    A record is this project's when it carries both of its id markers:
    ``reconciler_project`` = the id and ``reconciler_key`` = ``<id>:<address>``. A record
    carrying only a key (the first release's ``<name>:<address>``, or a key copied by hand)
    is never found here, whatever its prefix: a name says nothing about whose it is.

    With ``addresses`` (type → addresses) only those markers are searched (IN, lowercase,
    chunked); without, every record whose ``reconciler_project`` is this project's id is
    found (a full rebuild, which also finds records since removed from the spec). When
    several records carry one marker the oldest wins; the others are reported.
    """
    found: dict[str, tuple[str, RemoteRecord]] = {}
    duplicates: dict[str, tuple[str, ...]] = {}
    for object_type in sorted(set(object_types)):
        if not properties_when_marked(client, object_type):
            continue  # no record of this type carries this project's id markers
        props = [*properties.get(object_type, []), MARKER_PROPERTY, PROJECT_PROPERTY,
                 DIGEST_PROPERTY]
        # search lags writes (an update's new digest may not be indexed yet): what a
        # record holds is read by id, which sees every write at once (``read_back``)
        if addresses is not None:
            markers = [marker_value(project_id, a) for a in addresses.get(object_type, [])]
            if not markers:
                continue
            by_key = find_marked(client, object_type, props, markers=markers, read_back=True)
        else:  # (paged past 10,000)
            by_key = find_marked(client, object_type, props, project_id=project_id,
                                 read_back=True)
        for key, remotes in by_key.items():
            address = address_in(key, project_id, object_type)
            if address is None:
                continue
            first, *others = remotes  # (oldest first)
            found[address] = (object_type, first)
            if others:
                duplicates[address] = tuple(r.id for r in others)
    return found, duplicates


def _adopt_found(
    client: HubSpotClient,
    desired: DesiredState,
    state: State,
    found: Mapping[str, tuple[str, RemoteRecord]],
) -> tuple[Adopted, ...]:
    managed_ids = {(r.object_type, r.id) for r in state.records.values()}
    adopted: list[Adopted] = []
    digests: dict[str, AppliedDigest] = {}
    for address, (object_type, remote) in sorted(found.items()):
        if address in state.records or (object_type, remote.id) in managed_ids:
            continue
        state.records[address] = _adopted_record(_wanted_as(desired, address), object_type,
                                                 remote, desired.records)
        adopted.append(Adopted(address, remote.id))
        digest = decode_digest(remote.properties.get(DIGEST_PROPERTY))
        if digest is not None:
            digests[address] = digest
    _record_existing_associations(client, desired, state, [a.address for a in adopted], digests)
    return tuple(adopted)


def _wanted_as(desired: DesiredState, address: str) -> DesiredRecord | None:
    """The spec's record for a found address: its own, or, for an address a ``moved:``
    entry moves, the record at its new address (whose properties the state must know, or
    the plan after the move would rewrite every one of them as if it were empty)."""
    record = desired.records.get(address)
    refactor = desired.refactors.get(address)
    if record is None and refactor is not None and refactor.to is not None:
        record = desired.records.get(refactor.to)
    return record


def _properties_by_type(desired: DesiredState) -> dict[str, list[str]]:
    names: dict[str, set[str]] = defaultdict(set)
    for record in desired.records.values():
        names[record.object_type].update(_managed_properties(record))
    return {t: sorted(n) for t, n in names.items()}


def import_all_matching(options: RunOptions) -> AdoptOutcome:
    """Adopt every spec record not in the state that the portal has by its marker."""
    loaded = load_target(options)
    desired, target, store = loaded.desired, loaded.target, loaded.store
    with store.locked(command="import"):
        state = store.load(target=target.name, project=desired.project.name,
                           project_id=desired.project.marker_id)
        wanted: dict[str, list[str]] = defaultdict(list)
        for address, record in desired.records.items():
            if address not in state.records:
                wanted[record.object_type].append(address)
        with connect(target, options.environ, clock=options.clock) as client:
            found, duplicates = _find_project_records(
                client, desired.project.marker_id, wanted, _properties_by_type(desired), wanted
            )
            adopted = _adopt_found(client, desired, state, found)
            if adopted:
                resolve_owners(client, desired, state)
        backup = None
        if adopted:
            backup = store.backup()
            store.save(state)
    return AdoptOutcome(target, adopted, duplicates, backup)


def rebuild_state(options: RunOptions) -> AdoptOutcome:
    """A new state file from the portal: every record carrying this project's id markers.

    Only the id decides (``_find_project_records``): records marked by the first release
    (``<name>:<address>``, no ``reconciler_project``) are never taken, whatever the
    project's name, since another project of that name may own them; they are migrated
    only from the first-release state that maps them (``ownership.remark_changes``). Records the
    old state mapped that are not found so are reported (``left_behind``).

    The old file (even a damaged one) is kept as a backup; owners and in-flight entries
    start afresh (the marker search finds what an interrupted apply created).
    """
    loaded = load_target(options)
    desired, target, store = loaded.desired, loaded.target, loaded.store
    with store.locked(command="state rebuild"):
        lineage, serial = "", 0
        previous: dict[str, tuple[str, str]] = {}  # address → (type, id)
        try:
            old = store.load(target=target.name, project=desired.project.name,
                             project_id=desired.project.marker_id)
            lineage, serial = old.lineage, old.serial
            previous = {a: (r.object_type, r.id) for a, r in old.records.items() if r.id}
        except StateError:
            pass
        state = State(lineage=lineage, serial=serial, target=target.name,
                      project=desired.project.name, project_id=desired.project.marker_id)
        types = {*SECTION_OBJECT_TYPES.values(), *(t for t, _ in previous.values()),
                 *(r.object_type for r in desired.records.values())}
        with connect(target, options.environ, clock=options.clock) as client:
            found, duplicates = _find_project_records(
                client, desired.project.marker_id, types, _properties_by_type(desired), None,
            )
            adopted = _adopt_found(client, desired, state, found)
            resolve_owners(client, desired, state)
        backup = store.backup()
        store.save(state)
    taken = {(r.object_type, r.id) for r in state.records.values()}
    left_behind = {a: i for a, (t, i) in sorted(previous.items()) if (t, i) not in taken}
    return AdoptOutcome(target, adopted, duplicates, backup, left_behind)


__all__ = [
    "AdoptOutcome",
    "Adopted",
    "import_all_matching",
    "import_record",
    "rebuild_state",
]
