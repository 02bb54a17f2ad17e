"""Finding a calendar meeting whose answer was lost, by what the scheduler stores.

The scheduler endpoint takes only its own properties (facts §8), so a calendar meeting
gets its markers only after the scheduler answered. One whose answer was lost carries
none: it is looked for by owner, title, start, and created no earlier than the attempt
(less a clock skew), which the in-flight entry records before the request leaves
(``calendar_attempt``), and adopted only when that is certain (``CalendarLookup``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import RemoteRecord
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY, carried
from reconciler.identity.search_lag import SEARCH_POLL_SECONDS, search_until

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

    def search() -> bool:
        nonlocal candidates
        candidates = list(client.search("meetings", [{"filters": filters}],
                                        list(CALENDAR_LOOKUP_PROPERTIES)))
        return len(candidates) > 1 or any(carried(c)[0] == wanted for c in candidates)

    search_until(client.clock, deadline, search, stopped=stopped, poll_seconds=poll_seconds)
    ids = tuple(c.id for c in candidates)
    if len(candidates) != 1:
        return CalendarLookup(None, ids)
    (only,) = candidates
    key, owner = carried(only)
    if key == wanted and owner == wanted.partition(":")[0]:
        return CalendarLookup(only, ids)  # (both markers, as set after the create)
    if not key and not owner:
        return CalendarLookup(only, ids, needs_markers=True)
    return CalendarLookup(None, ids)


__all__ = [
    "CALENDAR_CLOCK_SKEW_SECONDS",
    "CALENDAR_LOOKUP_PROPERTIES",
    "CalendarLookup",
    "calendar_attempt",
    "find_calendar_meeting",
]
