"""Recovery of in-flight creates: adopting what a crashed or cut-off apply made.

Before a create batch is sent its keys, and the exact marker sent for each
(``reconciler.identity.markers``), are written to the state as *in flight*. If the process
dies or the answer is lost, the next run's ``recover_in_flight`` looks those markers up
(``lookup.find_by_marker``, waiting out the search lag) and adopts what exists, so
nothing is created twice; within one apply, ``applying.create`` settles a lost answer the
same way. A calendar meeting gets its markers only after the scheduler answered, so one
whose answer was lost is looked for by what the scheduler stores instead
(``calendar_lookup``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.hubspot.client import HubSpotClient
from reconciler.identity.calendar_lookup import CalendarLookup, find_calendar_meeting
from reconciler.identity.lookup import find_by_marker
from reconciler.identity.marker_writes import set_markers
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY, marker_value
from reconciler.identity.search_lag import SEARCH_LAG_GRACE_SECONDS, SEARCH_POLL_SECONDS
from reconciler.state.model import RecordState, State
from reconciler.state.store import StateStore


def entry_markers(entry: Mapping[str, Any], project_id: str, state: State) -> dict[str, str]:
    """address → the marker sent for it. Entries written by the first release have no
    ``markers``: theirs carried the project name the state was made with."""
    sent = entry.get("markers")
    if isinstance(sent, Mapping):
        return {str(a): str(m) for a, m in sent.items()}
    prefix = state.project if state.project_id is None and state.project else project_id
    return {str(a): marker_value(prefix, str(a)) for a in entry.get("addresses", [])}


def _adopted_entry(entry: Mapping[str, Any], address: str, object_type: str,
                   hubspot_id: str, *, via_calendar: bool = False) -> RecordState:
    sent: Mapping[str, Any] = entry.get("records") or {}
    if address in sent:
        return RecordState.from_json({**sent[address], "id": hubspot_id})
    return RecordState(id=hubspot_id, object_type=object_type, properties={},
                       via_calendar=via_calendar)


def recover_in_flight(
    client: HubSpotClient,
    store: StateStore,
    state: State,
    project: str,
    *,
    grace_seconds: float = SEARCH_LAG_GRACE_SECONDS,
    poll_seconds: float = SEARCH_POLL_SECONDS,
    stopped: Callable[[], bool] = lambda: False,
) -> list[str]:
    """Adopt records a crashed or cut-off apply created; return the adopted addresses.

    ``project`` is the project's marker id. The in-flight batches of each object type are
    looked up together by the markers they sent (``find_by_marker``), waiting until the
    newest of them is ``grace_seconds`` old before concluding that a key was not created.
    An adopted record gets the state entry saved with its batch (properties,
    associations, pins as sent), so the next plan is exact. Calendar meetings are looked
    up by what the scheduler stores (``find_calendar_meeting``); one that cannot be told
    apart stays in flight (``recover_calendar`` says why) and apply creates nothing for it.

    ``stopped`` (the Ctrl-C event) ends every wait at once; what was not settled stays in
    flight for the next run.
    """
    adopted: list[str] = []
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    calendar: list[tuple[str, dict[str, Any]]] = []
    for batch_id, entry in sorted(state.in_flight.items()):
        if entry.get("calendar"):
            calendar.append((batch_id, entry))
        else:
            by_type[str(entry["object_type"])].append((batch_id, entry))
    for object_type, entries in sorted(by_type.items()):
        if stopped():
            return adopted
        markers = {
            marker: address
            for _, entry in entries
            for address, marker in entry_markers(entry, project, state).items()
            if address not in state.records
        }
        first_release = {  # (entries of the first release sent no project id)
            marker
            for _, entry in entries if not isinstance(entry.get("markers"), Mapping)
            for marker in entry_markers(entry, project, state).values()
        }
        newest = max(float(entry.get("started_at", 0)) for _, entry in entries)
        if markers and MARKER_PROPERTY not in {p.name for p in client.list_properties(object_type)}:
            # No key property on the type: HubSpot refuses a whole batch that names an
            # unknown property, so nothing was created (and search would answer 400).
            markers = {}
        found = find_by_marker(
            client, object_type, markers, deadline=newest + grace_seconds,
            poll_seconds=poll_seconds, stopped=stopped, first_release=first_release,
        ) if markers else {}
        if stopped():  # the wait was cut short: an empty search proves nothing
            return adopted
        for _, entry in entries:
            for address in entry.get("addresses", []):
                remote = found.get(address)
                if remote is None or address in state.records:
                    continue
                state.records[address] = _adopted_entry(entry, address, object_type, remote.id)
                adopted.append(address)
        for batch_id, _ in entries:
            state.in_flight.pop(batch_id, None)
        store.save(state)
    for batch_id, entry in calendar:
        if stopped():
            return adopted
        recover_calendar(client, store, state, project, batch_id, entry, adopted,
                         deadline=float(entry.get("started_at", 0)) + grace_seconds,
                         poll_seconds=poll_seconds, stopped=stopped)
    return adopted


def recover_calendar(
    client: HubSpotClient,
    store: StateStore,
    state: State,
    project: str,
    batch_id: str,
    entry: Mapping[str, Any],
    adopted: list[str],
    *,
    deadline: float,
    poll_seconds: float = SEARCH_POLL_SECONDS,
    stopped: Callable[[], bool] = lambda: False,
) -> RecordState | None:
    """Settle one in-flight calendar meeting: adopt it (setting its markers), drop the
    entry if nothing was made, or keep it in flight and note why in the entry
    (``unresolved``: apply then creates nothing for it). Returns the adopted record, its
    address appended to ``adopted``."""
    (address,) = entry.get("addresses", [])[:1] or [""]
    if not address or address in state.records:
        state.in_flight.pop(batch_id, None)
        store.save(state)
        return None
    markers = entry_markers(entry, project, state)
    marker = markers.get(address, marker_value(project, address))
    attempt = entry.get("calendar")
    if not isinstance(attempt, Mapping):  # an entry of the first release: marker only
        found = find_by_marker(client, "meetings", {marker: address}, deadline=deadline,
                               poll_seconds=poll_seconds, stopped=stopped,
                               first_release=[marker])
        lookup = CalendarLookup(found.get(address), (found[address].id,) if found else ())
    else:
        lookup = find_calendar_meeting(client, attempt, marker, deadline=deadline,
                                       poll_seconds=poll_seconds, stopped=stopped)
    if stopped():
        return None
    if lookup.meeting is None:
        if lookup.ambiguous:  # kept in flight, so that apply creates nothing for it
            state.in_flight[batch_id] = {**entry, "unresolved": lookup.problem()}
            store.save(state)
            return None
        state.in_flight.pop(batch_id, None)  # nothing was made: the next plan creates it
        store.save(state)
        return None
    if lookup.needs_markers:
        set_markers(client, "meetings", lookup.meeting.id,
                    {MARKER_PROPERTY: marker.lower(),
                     PROJECT_PROPERTY: marker.partition(":")[0].lower()})
    record = _adopted_entry(entry, address, "meetings", lookup.meeting.id, via_calendar=True)
    state.records[address] = record
    state.in_flight.pop(batch_id, None)
    adopted.append(address)
    store.save(state)
    return record


__all__ = [
    "entry_markers",
    "recover_calendar",
    "recover_in_flight",
]
