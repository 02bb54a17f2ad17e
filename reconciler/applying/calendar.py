"""Calendar meetings: one scheduler request each, then the markers and other properties.

The scheduler endpoint takes only its own properties (facts §8), so the meeting carries no
marker until the follow-up update. If the scheduler's answer is lost, the meeting can only
be found by what the scheduler stores: owner, title, start, created after the attempt. The
in-flight entry records those (``reconciler.identity.calendar_lookup.calendar_attempt``)
before the request leaves; the meeting is then adopted only when exactly one candidate
matches and it carries no marker (``calendar_lookup.find_calendar_meeting``). Otherwise it
is reported, naming the candidates, and nothing is created: it is never sent again blind.
"""

from __future__ import annotations

from reconciler.applying.run import ApplyRun
from reconciler.errors import AmbiguousWriteError, ReconcilerError
from reconciler.hubspot.records import CALENDAR_PROPERTIES, RemoteRecord, UpdateInput
from reconciler.identity.applied_digest import DIGEST_PROPERTY, encode_digest
from reconciler.identity.calendar_lookup import calendar_attempt, find_calendar_meeting
from reconciler.identity.marker_writes import set_markers
from reconciler.identity.markers import MARKER_PROPERTY, marker_properties
from reconciler.planning.changes import Change


def organizer_user_id(run: ApplyRun, organizer: str) -> str:
    """The scheduler's ``organizerUserId``: the user id given, or the user id of the owner
    with that email (the owners API carries each owner's ``userId``), so that a spec
    names its organizer the same way in every portal."""
    if "@" not in organizer:
        return organizer
    for owner in run.client.list_owners():
        if owner.email and owner.email.lower() == organizer.lower() and owner.user_id:
            return owner.user_id
    raise ReconcilerError(
        f"organizer {organizer} is not an owner (with a user) of this portal; add the user "
        "in HubSpot, or name another organizer"
    )


def create_calendar(run: ApplyRun, change: Change) -> None:
    cal = change.calendar
    assert cal is not None
    try:
        organizer = organizer_user_id(run, cal.organizer)
    except ReconcilerError as error:
        run.fail_batch([change], error)
        run.save()
        return
    inline = [
        (a.to_type, a.to_id, a.category, a.type_id)
        for a in (run.applied(change.object_type, ref) for ref in change.associations)
        if a is not None
    ]
    properties = dict(change.after)
    properties.setdefault("hs_meeting_outcome", "SCHEDULED")
    markers = marker_properties(run.project, change.address)
    record = run.record_state(change, via_calendar=True)
    batch_id = f"calendar-{run.trace_id()}"
    sent_at = run.client.clock.time()
    run.record_in_flight(batch_id, {
        "object_type": change.object_type,
        "addresses": [change.address],
        "started_at": sent_at,
        "calendar": calendar_attempt(organizer, properties, sent_at),
        "records": {change.address: record.to_json()},
        "markers": {change.address: markers[MARKER_PROPERTY]},
    })
    try:
        remote = run.client.create_calendar_meeting(
            organizer,
            properties,
            inline,
            cal.timezone,
            [(r.number_of_time_units, r.time_unit) for r in cal.reminders],
            cal.include_description,
        )
        if not remote.id.isdigit():
            raise AmbiguousWriteError(
                f"the scheduler answered without a meeting id ({remote.id!r})"
            )
    except AmbiguousWriteError as error:
        remote_or_none = _settle(run, change, batch_id, str(error))
        if remote_or_none is None:
            return
        remote = remote_or_none
    except ReconcilerError as error:
        run.settled(batch_id)
        run.fail_batch([change], error)
        run.save()
        return
    run.record_created(change, remote.id, record)
    run.settled(batch_id)
    run.save()
    _set_the_rest(run, change, remote.id, properties, markers)
    run.progress(1)


def _settle(run: ApplyRun, change: Change, batch_id: str, error: str) -> RemoteRecord | None:
    """The scheduler's answer was lost: find the meeting it may have made (see the module)."""
    entry = run.state.in_flight[batch_id]
    marker = entry["markers"][change.address]
    try:
        lookup = find_calendar_meeting(
            run.client, entry["calendar"], marker,
            deadline=float(entry["started_at"]) + run.grace_seconds,
            stopped=run.stop.is_set,
        )
    except ReconcilerError as search_error:
        run.fail(change, f"outcome unknown ({error}), and looking it up failed "
                 f"({search_error}); run apply again to recover it")
        return None
    if run.stop.is_set():
        run.fail(change, f"outcome unknown ({error}); run apply again to recover it")
        return None
    if lookup.meeting is not None:
        return lookup.meeting
    if lookup.ambiguous:
        with run.lock:
            entry["unresolved"] = lookup.problem()  # kept in flight: never created blind
            run.save()
        run.fail(change, lookup.problem())
        return None
    # Nothing found: most likely nothing was made. It stays in flight, so the next apply
    # looks once more before booking it (a second booking sends a second invitation).
    run.fail(change, f"not created ({error}): no such meeting was found; run apply again, "
             "it looks once more, then books it")
    return None


def _set_the_rest(
    run: ApplyRun, change: Change, hubspot_id: str, properties: dict[str, str],
    markers: dict[str, str],
) -> None:
    """The scheduler takes only its own properties: send the markers and the rest now."""
    rest = {k: v for k, v in properties.items() if k not in CALENDAR_PROPERTIES}
    markers = {**markers, DIGEST_PROPERTY: encode_digest(change.pins, change.associations)}
    try:
        if rest:
            outcome = run.client.batch_update(
                change.object_type, [UpdateInput(hubspot_id, {**rest, **markers})]
            )
            if outcome.errors or hubspot_id not in outcome.by_id():
                message = outcome.errors[0].message if outcome.errors else "no result"
                raise ReconcilerError(message)
            run.note_written(change.object_type, [outcome.by_id()[hubspot_id]])
        else:
            run.note_written(change.object_type,
                             [set_markers(run.client, change.object_type, hubspot_id, markers)])
    except ReconcilerError as error:
        # Mapped, but not all properties set: record what is missing so the next plan
        # shows an update (and an update of a calendar meeting sends its markers too).
        missing = set(rest) or {"hs_meeting_title"}
        recorded = run.state.records[change.address]
        run.record_properties(
            change, {k: v for k, v in recorded.properties.items() if k not in missing}
        )
        run.fail(change, f"created, but setting its other properties failed: {error}")
    run.save()


__all__ = ["create_calendar"]
