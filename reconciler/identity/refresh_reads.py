"""The reads of a refresh: managed records by id, compared with the state as they arrive.

A record read is kept as a snapshot of what the planner reads (``RemoteSnapshot``); one
whose values differ from the state is noted as drifting (the log lists it, and the next
refresh reads it again); one read without this project's id marker, in a state of this
project's id, is noted as unproven (``planner.not_provably_ours``). A full refresh also
reads the associations an apply made that the spec still declares (``read_associations``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import partial

from reconciler.errors import ReconcilerError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import RemoteRecord
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY
from reconciler.identity.refresh_log import MODIFIED, modified_ms
from reconciler.model import DesiredState
from reconciler.planning.changes import RemoteSnapshot
from reconciler.planning.comparing import applied_identity, association_identity, same_value
from reconciler.planning.ownership import not_provably_ours
from reconciler.state.model import State

#: read with every record (no extra request): whose it is (``planner.not_provably_ours``)
MARKERS = (MARKER_PROPERTY, PROJECT_PROPERTY)
#: At most this many drifting records are listed in the log (read by id next time); with
#: more, the cutoff stays below the oldest of them instead.
KEEP_DRIFTING = 1000


class Reads:
    """One refresh's reads by id and what they found."""

    def __init__(self, client: HubSpotClient, marker: str, state: State) -> None:
        self.client = client
        self.marker = marker
        self.state = state
        self.snapshots: dict[str, RemoteSnapshot | None] = {}
        self.gone = 0
        #: modification times of records whose portal values differ from the state
        self.drift_ms: list[int] = []
        #: by type, the ids of those records
        self.drifting: dict[str, set[str]] = defaultdict(set)
        #: id → modification time of every record read (or skipped) that matched the state
        self.matched_ms: dict[str, int] = {}
        #: address → id of records read without this project's id marker (``Refreshed``)
        self.unproven: dict[str, str] = {}
        self.checking = state.project_id == marker


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
        recorded = self.state.records[address]
        modified = modified_ms(remote.properties.get(MODIFIED))
        if all(same_value(v, remote.properties.get(k)) for k, v in recorded.properties.items()):
            if modified is not None:
                self.matched_ms[remote.id] = modified
            return
        self.drifting[recorded.object_type].add(remote.id)
        if modified is not None:
            self.drift_ms.append(modified)
        else:
            self.drift_ms.append(0)  # no time to vouch for: the next refresh starts over

    def drift_floor(self) -> list[int]:
        """[the time to keep the cutoff at] when too many records drift to list them in
        the log, else [] (they are listed and read by id next time)."""
        if sum(map(len, self.drifting.values())) <= KEEP_DRIFTING:
            return []
        return [min(self.drift_ms)]


def read_associations(
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


__all__ = ["KEEP_DRIFTING", "MARKERS", "Reads", "read_associations"]
