"""CRM objects in batches (create, update, upsert, archive, read) and calendar meetings.

Every batch answer is checked against what was sent before anyone maps it to inputs:
a result that cannot be matched safely is "outcome unknown", never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.hubspot.endpoints import Endpoints, check_batch
from reconciler.hubspot.records import (
    AnswerShapeError,
    BatchOutcome,
    CreateInput,
    RemoteRecord,
    UpdateInput,
    associations_to_api,
    calendar_properties,
    create_input_to_api,
    outcome_from_api,
    record_from_api,
)


class ObjectEndpoints(Endpoints):
    """``/crm/objects``: batches of records, and the scheduler's calendar meetings."""

    def batch_create(self, object_type: str, inputs: Sequence[CreateInput]) -> BatchOutcome:
        """One batch create; results match inputs by trace id only (order is random)."""
        check_batch(inputs)
        trace_ids = [i.trace_id for i in inputs]
        if len(set(trace_ids)) != len(trace_ids):
            raise ValueError("every CreateInput needs its own trace_id")
        body = {"inputs": [create_input_to_api(i) for i in inputs]}
        return self._call(
            "POST", f"{self.paths.objects(object_type)}/batch/create",
            lambda data: _created(outcome_from_api(data), trace_ids),
            json=body, kind="create", trace_ids=trace_ids,
        )

    def batch_update(self, object_type: str, inputs: Sequence[UpdateInput]) -> BatchOutcome:
        """One batch update. Every input is sent with a trace id (its own, or one made from
        its id) so HubSpot answers a 207 instead of failing the whole batch for one bad
        input (facts §3); each error's ``ids`` names the inputs it is about."""
        check_batch(inputs)
        items: list[dict[str, Any]] = []
        id_of_trace: dict[str, str] = {}
        for update in inputs:
            trace_id = update.trace_id if update.trace_id is not None else f"update:{update.id}"
            id_of_trace[trace_id] = str(update.id)
            items.append(
                {"id": str(update.id), "properties": dict(update.properties),
                 "objectWriteTraceId": trace_id}
            )  # fmt: skip
        sent_ids = [str(u.id) for u in inputs]
        outcome = self._call(
            "POST", f"{self.paths.objects(object_type)}/batch/update",
            lambda data: _for_ids(outcome_from_api(data), sent_ids),
            json={"inputs": items}, kind="write", trace_ids=list(id_of_trace),
        )
        errors = tuple(
            replace(error, ids=tuple(dict.fromkeys(
                [*error.ids, *(id_of_trace[t] for t in error.trace_ids if t in id_of_trace)]
            )))
            for error in outcome.errors
        )  # fmt: skip
        return BatchOutcome(outcome.results, errors)

    def batch_upsert(
        self, object_type: str, id_property: str, inputs: Sequence[CreateInput]
    ) -> BatchOutcome:
        """Create-or-update by a unique-value property: safe to resend, so it is retried.

        Each input's id is its value of ``id_property``; results carry ``new``.
        """
        check_batch(inputs)
        items = []
        for item in inputs:
            if id_property not in item.properties:
                raise ValueError(f"upsert input {item.trace_id} has no {id_property} property")
            body = create_input_to_api(item)
            body["id"] = item.properties[id_property]
            body["idProperty"] = id_property
            items.append(body)
        trace_ids = [i.trace_id for i in inputs]
        return self._call(
            "POST", f"{self.paths.objects(object_type)}/batch/upsert",
            lambda data: _created(outcome_from_api(data), trace_ids),
            json={"inputs": items}, kind="write", trace_ids=trace_ids,
        )

    def batch_archive(self, object_type: str, ids: Sequence[str]) -> None:
        """Archive (HubSpot's recycle bin); unknown or archived ids are not an error (204)."""
        check_batch(ids)
        self.connection.send(
            "POST", f"{self.paths.objects(object_type)}/batch/archive",
            json={"inputs": [{"id": str(i)} for i in ids]},
        )

    def batch_read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        *,
        archived: bool = False,
    ) -> BatchOutcome:
        check_batch(ids)
        body = {
            "inputs": [{"id": str(i)} for i in ids],
            "properties": list(properties),
            "propertiesWithHistory": [],
        }
        asked = [str(i) for i in ids]
        return self._call(
            "POST", f"{self.paths.objects(object_type)}/batch/read",
            lambda data: _for_ids(outcome_from_api(data), asked),
            json=body, params={"archived": "true" if archived else "false"},
        )

    def read_all(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str]
    ) -> dict[str, RemoteRecord]:
        """Every record of ``ids`` that exists (not archived), by id; missing ids are absent."""
        found: dict[str, RemoteRecord] = {}
        unique = list(dict.fromkeys(str(i) for i in ids))
        for _chunk, outcome in self.run_batches(
            lambda chunk: self.batch_read(object_type, chunk, properties), unique
        ):
            if isinstance(outcome, ReconcilerError):
                raise outcome
            found.update(outcome.by_id())
        return found
    # ---- scheduler ------------------------------------------------------------------------

    def create_calendar_meeting(
        self,
        organizer_user_id: str,
        properties: Mapping[str, str],
        associations: Sequence[tuple[str, str, str, int]],
        timezone: str,
        reminders: Sequence[tuple[int, str]],
        include_description: bool,
    ) -> RemoteRecord:
        """A meeting created as a calendar event (one request; no batch variant, facts §8).

        Only the scheduler's own properties (``CALENDAR_PROPERTIES``) are sent, with times
        as ISO 8601 and multi-value properties as lists; write any other property (such as
        the marker) with ``batch_update`` afterwards. Never resent once possibly committed.
        """
        body = {
            "properties": calendar_properties(properties),
            "associations": associations_to_api(associations),
            "timezone": timezone,
            "emailReminderSchedule": {
                "reminders": [
                    {"numberOfTimeUnits": int(number), "timeUnit": unit}
                    for number, unit in reminders
                ],
                "shouldIncludeInviteDescription": bool(include_description),
            },
        }
        return self._call(
            "POST", self.paths.calendar_meetings(), record_from_api,
            json=body, params={"organizerUserId": str(organizer_user_id)}, kind="create",
        )


def _created(outcome: BatchOutcome, trace_ids: Sequence[str]) -> BatchOutcome:
    """A create's (or upsert's) answer, checked against what was sent: at most one result
    per input, each trace id one that was sent and answered once, each id once. Anything
    else cannot be mapped to inputs safely (AnswerShapeError: outcome unknown)."""
    sent = set(trace_ids)
    if len(outcome.results) > len(sent):
        raise AnswerShapeError(f"{len(outcome.results)} results for {len(sent)} inputs")
    ids: set[str] = set()
    traces: set[str] = set()
    for n, result in enumerate(outcome.results):
        if result.id in ids:
            raise AnswerShapeError(f"results[{n}]: id {result.id} answers two inputs")
        ids.add(result.id)
        trace = result.object_write_trace_id
        if trace is None:
            continue  # HubSpot's documented 207 has none: the caller matches by marker
        if trace not in sent:
            raise AnswerShapeError(f"results[{n}] answers trace id {trace!r}, which was not sent")
        if trace in traces:
            raise AnswerShapeError(f"results[{n}]: trace id {trace!r} is answered twice")
        traces.add(trace)
    return outcome


def _for_ids(outcome: BatchOutcome, ids: Sequence[str]) -> BatchOutcome:
    """A batch read's or update's answer: every result one of ``ids``, none twice. (A
    result for an id not sent, or one id for all inputs, would map the wrong record.)"""
    asked = set(ids)
    seen: set[str] = set()
    for n, result in enumerate(outcome.results):
        if result.id not in asked:
            raise AnswerShapeError(f"results[{n}] is record {result.id}, which was not asked for")
        if result.id in seen:
            raise AnswerShapeError(f"results[{n}]: record {result.id} is answered twice")
        seen.add(result.id)
    return outcome

