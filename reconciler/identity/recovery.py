"""Finding the records a create may have made: the markers, and recovery by search.

Every record the tool creates carries two custom properties (``ensure_markers`` creates
them on each object type before the first write):

- ``reconciler_key`` = ``<project id>:<type>/<key>``, all lowercase: which spec record it is;
- ``reconciler_project`` = ``<project id>``: whose it is (one ``EQ`` search lists them all).

Lowercase because HubSpot's search ``IN`` "is case-sensitive, so inputted values must be in
lowercase" (facts §7): a marker with a capital could never be found again.

Before a create batch is sent its keys, and the exact marker sent for each, are written to
the state as *in flight*; if the process dies or the answer is lost, ``recover_in_flight``
(next run) or ``find_by_marker`` (same run) searches for those markers and adopts what
exists, so nothing is created twice. A calendar meeting gets its markers only after the
scheduler answered, so one whose answer was lost is looked for by what the scheduler stores
instead (``find_calendar_meeting``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from reconciler.identity.applied_digest import DIGEST_PROPERTY
from reconciler.hubspot.client import HubSpotClient, PropertyDefinition, RemoteRecord, UpdateInput
from reconciler.errors import ReconcilerError
from reconciler.state.model import RecordState, State
from reconciler.state.store import StateStore

MARKER_PROPERTY = "reconciler_key"
PROJECT_PROPERTY = "reconciler_project"
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


def marker_value(project_id: str, address: str) -> str:
    """The ``reconciler_key`` of ``address`` in project ``project_id``, lowercase."""
    return f"{project_id}:{address}".lower()


def marker_properties(project_id: str, address: str) -> dict[str, str]:
    """Both marker properties, as every create (and adoption) sets them."""
    return {
        MARKER_PROPERTY: marker_value(project_id, address),
        PROJECT_PROPERTY: project_id.lower(),
    }


def ensure_markers(
    client: HubSpotClient, object_types: Iterable[str], unique: dict[str, bool] | None = None
) -> dict[str, bool]:
    """Make sure both marker properties (and ``reconciler_applied``, the digest of what was
    applied) exist on each type; return which types have
    ``reconciler_key`` unique (those are created by upsert). ``reconciler_project`` is
    never unique: every record of the project carries the same value."""
    unique = unique if unique is not None else {}
    for object_type in sorted(set(object_types)):
        existing = {p.name: p for p in client.list_properties(object_type)}
        group = MARKER_GROUP.get(object_type, f"{object_type.rstrip('s')}information")
        if MARKER_PROPERTY in existing:
            unique[object_type] = existing[MARKER_PROPERTY].has_unique_value
        else:
            created = client.create_property(object_type, PropertyDefinition(
                name=MARKER_PROPERTY, label="Reconciler key", type="string",
                field_type="text", group_name=group,
                has_unique_value=object_type not in NO_UNIQUE_PROPERTIES,
                hidden=True, form_field=False,
            ))
            unique[object_type] = created.has_unique_value
        if PROJECT_PROPERTY not in existing:
            client.create_property(object_type, PropertyDefinition(
                name=PROJECT_PROPERTY, label="Reconciler project", type="string",
                field_type="text", group_name=group, has_unique_value=False,
                hidden=True, form_field=False,
            ))
        if DIGEST_PROPERTY not in existing:  # what was applied: see reconciler.identity.applied_digest
            client.create_property(object_type, PropertyDefinition(
                name=DIGEST_PROPERTY, label="Reconciler applied", type="string",
                field_type="textarea", group_name=group, has_unique_value=False,
                hidden=True, form_field=False,
            ))
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
    first_release: Collection[str] = (),
) -> dict[str, RemoteRecord]:
    """Records carrying the markers (marker → address); address → record found.

    A record is found only with both markers a create sent: ``reconciler_key`` = the
    marker and ``reconciler_project`` = its id (the part before ``:``); a key alone is no
    proof (it may have been copied onto another project's record). Only ``first_release``
    markers (sent by the first release, which set no ``reconciler_project``) are found by
    the key alone, when the record carries no project id.

    Markers are compared lowercase: search ``IN`` matches only lowercase values, and a
    marker written by the first release (``Demo:meetings/x``) is found by its lowercase
    form. Searches again until every marker is found or ``deadline`` has passed: the last
    search is made after the deadline, so "not found" means "not in the index after the
    grace", never "not indexed yet". ``stopped`` (Ctrl-C) ends the wait at once.
    """
    missing = {marker.lower(): address for marker, address in markers.items()}
    keys_only = {marker.lower() for marker in first_release}
    found: dict[str, RemoteRecord] = {}
    while missing and not stopped():
        for remote in client.search_by_property_values(
            object_type, MARKER_PROPERTY, list(missing), [MARKER_PROPERTY, PROJECT_PROPERTY]
        ):
            value = str(remote.properties.get(MARKER_PROPERTY) or "").lower()
            owner = str(remote.properties.get(PROJECT_PROPERTY) or "").lower()
            if owner != value.partition(":")[0] and not (value in keys_only and not owner):
                continue  # the key without its project id: not provably what was sent
            address = missing.pop(value, None)
            if address is not None:
                found[address] = remote
        now = clock()
        if not missing or now >= deadline or stopped():
            break
        sleep(min(poll_seconds, deadline - now))
    return found


# -- calendar meetings ----------------------------------------------------------------------

#: How far before the attempt's own clock a meeting's hs_createdate may be and still count
#: as made by it (clocks of this machine and HubSpot's differ a little).
CALENDAR_CLOCK_SKEW_SECONDS = 120.0
CALENDAR_LOOKUP_PROPERTIES = (
    MARKER_PROPERTY, PROJECT_PROPERTY, "hubspot_owner_id", "hs_meeting_title",
    "hs_meeting_start_time", "hs_createdate",
)


def calendar_attempt(
    organizer: str, properties: Mapping[str, str], sent_at: float
) -> dict[str, Any]:
    """What an in-flight calendar entry records to find the meeting if the answer is lost:
    what the scheduler stores on it (owner, title, start) and when it was sent."""
    return {
        "organizer": organizer,
        "owner": properties.get("hubspot_owner_id"),
        "title": properties.get("hs_meeting_title"),
        "start": properties.get("hs_meeting_start_time"),
        "sent_at": sent_at,
    }


@dataclass(frozen=True, slots=True)
class CalendarLookup:
    """What a search for a calendar meeting whose answer was lost found."""

    #: the meeting to adopt (None: nothing, or nothing certain)
    meeting: RemoteRecord | None
    #: ids of every meeting that matched (owner, title, start, created after the attempt)
    candidates: tuple[str, ...]
    #: True when ``meeting`` carries no marker yet (adopting it must set them)
    needs_markers: bool = False

    @property
    def ambiguous(self) -> bool:
        return self.meeting is None and bool(self.candidates)

    def problem(self) -> str:
        ids = ", ".join(self.candidates)
        return (
            "the scheduler's answer was lost and the meetings that could be this one are "
            f"ambiguous (ids {ids}); nothing was created. Adopt the right one with "
            "`reconciler import ADDRESS ID` (archive the others in HubSpot), or archive "
            "them all and apply again"
        )


def _epoch_ms(value: str) -> str:
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return str(int(moment.timestamp() * 1000))


def find_calendar_meeting(
    client: HubSpotClient,
    attempt: Mapping[str, Any],
    marker: str,
    *,
    deadline: float,
    poll_seconds: float = SEARCH_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    stopped: Callable[[], bool] = lambda: False,
) -> CalendarLookup:
    """The meeting a calendar create whose answer was lost made, if it can be told apart.

    The scheduler writes no marker, so the meeting is searched by what it does store:
    owner, title, start, and created no earlier than the attempt (less a clock skew). The
    search is repeated until ``deadline`` (the search index lags). It is adopted only when
    certain: exactly one candidate, carrying no marker (or carrying this very marker and
    its project id, when the markers were set but the state was not saved).
    """
    filters: list[dict[str, Any]] = [
        {"propertyName": "hs_createdate", "operator": "GTE",
         "value": str(int((float(attempt["sent_at"]) - CALENDAR_CLOCK_SKEW_SECONDS) * 1000))},
    ]
    for name, key in (("hubspot_owner_id", "owner"), ("hs_meeting_title", "title")):
        if attempt.get(key) is not None:
            filters.append({"propertyName": name, "operator": "EQ", "value": str(attempt[key])})
    if attempt.get("start") is not None:
        filters.append({"propertyName": "hs_meeting_start_time", "operator": "EQ",
                        "value": _epoch_ms(str(attempt["start"]))})
    wanted = marker.lower()
    candidates: list[RemoteRecord] = []
    while not stopped():
        candidates = list(client.search("meetings", [{"filters": filters}],
                                        list(CALENDAR_LOOKUP_PROPERTIES)))
        settled = len(candidates) > 1 or any(
            str(c.properties.get(MARKER_PROPERTY) or "").lower() == wanted for c in candidates
        )
        now = clock()
        if settled or now >= deadline or stopped():
            break
        sleep(min(poll_seconds, deadline - now))
    ids = tuple(c.id for c in candidates)
    if len(candidates) != 1:
        return CalendarLookup(None, ids)
    (only,) = candidates
    carried = str(only.properties.get(MARKER_PROPERTY) or "").lower()
    owner = str(only.properties.get(PROJECT_PROPERTY) or "").lower()
    if carried == wanted and owner == wanted.partition(":")[0]:
        return CalendarLookup(only, ids)  # (both markers, as set after the create)
    if not carried and not owner:
        return CalendarLookup(only, ids, needs_markers=True)
    return CalendarLookup(None, ids)


def set_markers(client: HubSpotClient, object_type: str, hubspot_id: str,
                markers: Mapping[str, str]) -> None:
    """Write the marker properties on one record (raises ReconcilerError if refused)."""
    outcome = client.batch_update(object_type, [UpdateInput(hubspot_id, dict(markers))])
    if outcome.errors or hubspot_id not in outcome.by_id():
        message = outcome.errors[0].message if outcome.errors else "HubSpot returned no result"
        raise ReconcilerError(f"could not set the markers on {object_type} {hubspot_id}: {message}")


# -- the next run ---------------------------------------------------------------------------


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


@dataclass(slots=True)
class Recovery:
    """What ``recover_in_flight`` did: adopted addresses, and calendar meetings it could
    not settle (address → why; they stay in flight and apply creates nothing for them)."""

    adopted: list[str] = field(default_factory=list)
    unresolved: dict[str, str] = field(default_factory=dict)


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
    return recover(client, store, state, project, grace_seconds=grace_seconds,
                   poll_seconds=poll_seconds, sleep=sleep, clock=clock,
                   stopped=stopped).adopted


def recover(
    client: HubSpotClient,
    store: StateStore,
    state: State,
    project: str,
    *,
    grace_seconds: float = SEARCH_LAG_GRACE_SECONDS,
    poll_seconds: float = SEARCH_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    stopped: Callable[[], bool] = lambda: False,
) -> Recovery:
    """``recover_in_flight``, also reporting the calendar meetings it could not settle."""
    result = Recovery()
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    calendar: list[tuple[str, dict[str, Any]]] = []
    for batch_id, entry in sorted(state.in_flight.items()):
        if entry.get("calendar"):
            calendar.append((batch_id, entry))
        else:
            by_type[str(entry["object_type"])].append((batch_id, entry))
    for object_type, entries in sorted(by_type.items()):
        if stopped():
            return result
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
        found = find_by_marker(
            client, object_type, markers, deadline=newest + grace_seconds,
            poll_seconds=poll_seconds, sleep=sleep, clock=clock, stopped=stopped,
            first_release=first_release,
        ) if markers else {}
        if stopped():  # the wait was cut short: an empty search proves nothing
            return result
        for _, entry in entries:
            for address in entry.get("addresses", []):
                remote = found.get(address)
                if remote is None or address in state.records:
                    continue
                state.records[address] = _adopted_entry(entry, address, object_type, remote.id)
                result.adopted.append(address)
        for batch_id, _ in entries:
            state.in_flight.pop(batch_id, None)
        store.save(state)
    for batch_id, entry in calendar:
        if stopped():
            return result
        recover_calendar(client, store, state, project, batch_id, entry, result,
                         deadline=float(entry.get("started_at", 0)) + grace_seconds,
                         poll_seconds=poll_seconds, sleep=sleep, clock=clock, stopped=stopped)
    return result


def recover_calendar(
    client: HubSpotClient,
    store: StateStore,
    state: State,
    project: str,
    batch_id: str,
    entry: Mapping[str, Any],
    result: Recovery,
    *,
    deadline: float,
    poll_seconds: float = SEARCH_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    stopped: Callable[[], bool] = lambda: False,
) -> RecordState | None:
    """Settle one in-flight calendar meeting: adopt it (setting its markers), drop the
    entry if nothing was made, or keep it in flight and note why in ``result.unresolved``.
    Returns the adopted record."""
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
                               poll_seconds=poll_seconds, sleep=sleep, clock=clock,
                               stopped=stopped, first_release=[marker])
        lookup = CalendarLookup(found.get(address), (found[address].id,) if found else ())
    else:
        lookup = find_calendar_meeting(client, attempt, marker, deadline=deadline,
                                       poll_seconds=poll_seconds, sleep=sleep, clock=clock,
                                       stopped=stopped)
    if stopped():
        return None
    if lookup.meeting is None:
        if lookup.ambiguous:  # kept in flight, so that apply creates nothing for it
            result.unresolved[address] = lookup.problem()
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
    result.adopted.append(address)
    store.save(state)
    return record
