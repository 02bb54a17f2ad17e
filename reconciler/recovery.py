"""Finding the records a create may have made: the marker property, and recovery by search.

Every record the tool creates carries the custom property ``reconciler_key`` =
``<project>:<address>`` (``ensure_markers`` creates it on each object type before the first
write). Before a create batch is sent its keys are written to the state as *in flight*; if
the process dies or the answer is lost, ``recover_in_flight`` (next run) or
``find_by_marker`` (same run) searches for those markers and adopts what exists, so nothing
is created twice.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconciler.client import HubSpotClient, PropertyDefinition, RemoteRecord
from reconciler.state import RecordState, State, StateStore

MARKER_PROPERTY = "reconciler_key"
MARKER_GROUP = {
    "contacts": "contactinformation",
    "companies": "companyinformation",
    "deals": "dealinformation",
    "tickets": "ticketinformation",
    "meetings": "meetinginformation",
    "calls": "callinformation",
}
#: Object types where HubSpot documents no unique-value properties (facts §7):
#: the marker there is an ordinary property, and recovery rests on search.
NO_UNIQUE_PROPERTIES = frozenset({"meetings", "calls"})


def marker_value(project: str, address: str) -> str:
    return f"{project}:{address}"


def ensure_markers(
    client: HubSpotClient, object_types: Iterable[str], unique: dict[str, bool] | None = None
) -> dict[str, bool]:
    """Make sure the marker property exists on each type; return which types have it unique."""
    unique = unique if unique is not None else {}
    for object_type in sorted(set(object_types)):
        existing = {p.name: p for p in client.list_properties(object_type)}
        if MARKER_PROPERTY in existing:
            unique[object_type] = existing[MARKER_PROPERTY].has_unique_value
            continue
        wants_unique = object_type not in NO_UNIQUE_PROPERTIES
        created = client.create_property(
            object_type,
            PropertyDefinition(
                name=MARKER_PROPERTY,
                label="Reconciler key",
                type="string",
                field_type="text",
                group_name=MARKER_GROUP.get(object_type, f"{object_type.rstrip('s')}information"),
                has_unique_value=wants_unique,
                hidden=True,
                form_field=False,
            ),
        )
        unique[object_type] = created.has_unique_value
    return unique


# How long after an in-flight batch was sent an empty marker search still proves nothing:
# HubSpot's search index lags writes by "a few moments" (facts §7), and a request cut off
# on our side may still be processed on HubSpot's. Tunable with RECONCILER_RECOVERY_GRACE_SECONDS.
SEARCH_LAG_GRACE_SECONDS = 30.0
SEARCH_POLL_SECONDS = 1.0
#: Rounds of create → settle lost answers by marker → resend the rest, within one apply.
CREATE_ROUNDS = 3


def find_by_marker(
    client: HubSpotClient,
    object_type: str,
    markers: Mapping[str, str],
    *,
    deadline: float,
    poll_seconds: float = SEARCH_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    stopped: Callable[[], bool] = lambda: False,
) -> dict[str, RemoteRecord]:
    """Records carrying the markers (marker → address); address → record found.

    Searches again until every marker is found or ``deadline`` has passed: the last search
    is made after the deadline, so "not found" means "not in the index after the grace",
    never "not indexed yet".
    """
    missing = dict(markers)
    found: dict[str, RemoteRecord] = {}
    while missing:
        for remote in client.search_by_property_values(
            object_type, MARKER_PROPERTY, list(missing), [MARKER_PROPERTY]
        ):
            address = missing.pop(str(remote.properties.get(MARKER_PROPERTY)), None)
            if address is not None:
                found[address] = remote
        now = clock()
        if not missing or now >= deadline or stopped():
            break
        sleep(min(poll_seconds, deadline - now))
    return found


def recover_in_flight(
    client: HubSpotClient,
    store: StateStore,
    state: State,
    project: str,
    *,
    grace_seconds: float = SEARCH_LAG_GRACE_SECONDS,
    poll_seconds: float = SEARCH_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> list[str]:
    """Adopt records a crashed or cut-off apply created; return the adopted addresses.

    The in-flight batches of each object type are looked up together by marker
    (``find_by_marker``), waiting until the newest of them is ``grace_seconds`` old before
    concluding that a key was not created. An adopted record gets the state entry saved
    with its batch (properties, associations, pins as sent), so the next plan is exact.
    """
    adopted: list[str] = []
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for batch_id, entry in sorted(state.in_flight.items()):
        by_type[str(entry["object_type"])].append((batch_id, entry))
    for object_type, entries in sorted(by_type.items()):
        markers = {
            marker_value(project, address): address
            for _, entry in entries
            for address in entry.get("addresses", [])
            if address not in state.records
        }
        newest = max(float(entry.get("started_at", 0)) for _, entry in entries)
        found = find_by_marker(
            client, object_type, markers, deadline=newest + grace_seconds,
            poll_seconds=poll_seconds, sleep=sleep, clock=clock,
        ) if markers else {}
        for _, entry in entries:
            sent: Mapping[str, Any] = entry.get("records") or {}
            for address in entry.get("addresses", []):
                remote = found.get(address)
                if remote is None or address in state.records:
                    continue
                record = (
                    RecordState.from_json({**sent[address], "id": remote.id})
                    if address in sent
                    else RecordState(id=remote.id, object_type=object_type, properties={})
                )
                state.records[address] = record
                adopted.append(address)
        for batch_id, _ in entries:
            state.in_flight.pop(batch_id, None)
        store.save(state)
    return adopted
