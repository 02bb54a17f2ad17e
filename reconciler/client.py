"""The one HubSpot client: every endpoint the reconciler uses, batched to HubSpot's limits.

``HubSpotClient`` builds HubSpot's paths for the target's API version (``ApiPaths``,
facts §9) and its request bodies (``reconciler.crm_records``), and runs batches on
threads (``run_batches``). Sending, retries, rate limits and error mapping live in
``reconciler.connection``; callers only ever see ``reconciler.errors`` and the frozen
values re-exported here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx

from reconciler.connection import ClientSettings, HubSpotConnection, RequestKind
from reconciler.crm_records import (
    BATCH_LIMIT,
    CALENDAR_PROPERTIES,
    AnswerShapeError,
    AssociationLabel,
    BatchItemError,
    BatchOutcome,
    CreateInput,
    Owner,
    PropertyDefinition,
    RemoteRecord,
    UpdateInput,
    as_integer,
    as_object,
    association_errors_from_api,
    associations_from_api,
    associations_to_api,
    calendar_properties,
    create_input_to_api,
    iso_datetime,
    label_from_api,
    next_after,
    outcome_from_api,
    owner_from_api,
    property_from_api,
    property_to_api,
    record_from_api,
    results_list,
    search_page_from_api,
)
from reconciler.errors import ApiError, ReconcilerError
from reconciler.ratelimit import RollingWindowLimiter

__all__ = [
    "BATCH_LIMIT",
    "CALENDAR_PROPERTIES",
    "AssociationLabel",
    "BatchItemError",
    "BatchOutcome",
    "ClientSettings",
    "CreateInput",
    "HubSpotClient",
    "Owner",
    "PropertyDefinition",
    "RemoteRecord",
    "SearchPage",
    "UpdateInput",
    "iso_datetime",
]

T = TypeVar("T")
R = TypeVar("R")

#: Search takes at most this many values in one IN filter and 200 results a page (facts §7).
SEARCH_IN_VALUES = 100
SEARCH_PAGE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One search answer: its records, how many match in all (capped at 10,000 by HubSpot),
    and the ``after`` cursor of the next page (None: the last page)."""

    records: list[RemoteRecord]
    total: int
    after: str | None


@dataclass(frozen=True)
class ApiPaths:
    """HubSpot's paths for one API version (facts §9)."""

    version: str

    @property
    def dated(self) -> bool:
        return self.version != "v3"

    def objects(self, object_type: str) -> str:
        if self.dated:
            return f"/crm/objects/{self.version}/{object_type}"
        return f"/crm/v3/objects/{object_type}"

    def properties(self, object_type: str) -> str:
        if self.dated:
            return f"/crm/properties/{self.version}/{object_type}"
        return f"/crm/v3/properties/{object_type}"

    def owners(self) -> str:
        return f"/crm/owners/{self.version}" if self.dated else "/crm/v3/owners"

    def associations(self, from_type: str, to_type: str) -> str:
        if self.dated:
            return f"/crm/associations/{self.version}/{from_type}/{to_type}"
        return f"/crm/v4/associations/{from_type}/{to_type}"

    def association_labels(self, from_type: str, to_type: str) -> str:
        # The schema API: /crm/associations/v4/... in the v4 spec (not /crm/v4/associations).
        version = self.version if self.dated else "v4"
        return f"/crm/associations/{version}/{from_type}/{to_type}/labels"

    def calendar_meetings(self) -> str:
        # The issue asks for the 2026-03 scheduler for every target (facts §8).
        return "/scheduler/2026-03/meetings/calendar"

    def account_details(self) -> str:
        return "/account-info/v3/details"


class HubSpotClient:
    """HubSpot's CRM API for the reconciler. A context manager; safe to share by threads.

    ``requests_sent``, ``retries`` and ``rate_limited`` count what happened, for
    summaries and benchmarks.
    """

    def __init__(
        self, settings: ClientSettings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.paths = ApiPaths(settings.api_version)
        self.connection = HubSpotConnection(settings, transport=transport)
        self._send = self.connection.send
        self._cancelled = threading.Event()
        self._owners: list[Owner] | None = None

    @property
    def requests_sent(self) -> int:
        return self.connection.requests_sent

    @property
    def retries(self) -> int:
        return self.connection.retries

    @property
    def rate_limited(self) -> int:
        return self.connection.rate_limited

    @property
    def daily_remaining(self) -> int | None:
        """Requests left today for the account, as the latest answer said (None: unknown)."""
        return self.connection.daily_remaining

    @property
    def rate_limiter(self) -> RollingWindowLimiter | None:
        return self.connection.rate_limiter

    @property
    def search_limiter(self) -> RollingWindowLimiter | None:
        return self.connection.search_limiter

    def __repr__(self) -> str:
        return f"HubSpotClient(base_url={self.settings.base_url!r}, api_version={self.paths.version!r})"

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def cancel(self) -> None:
        """Ask every ``run_batches`` to submit no more batches (those in flight finish)."""
        self._cancelled.set()

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        kind: RequestKind = "read",
        trace_ids: Sequence[str] = (),
        **send: Any,
    ) -> T:
        """Send, then check the answer's shape where it enters: a 2xx that ``parse``
        cannot use is an error for a read and "outcome unknown" for a write."""
        data = self._send(method, path, kind=kind, trace_ids=trace_ids, **send)
        try:
            return parse(data)
        except AnswerShapeError as problem:
            raise self.connection.unusable(method, path, kind, str(problem), trace_ids) from None

    # ---- objects ------------------------------------------------------------------

    def batch_create(self, object_type: str, inputs: Sequence[CreateInput]) -> BatchOutcome:
        """One batch create; results match inputs by trace id only (order is random)."""
        _check_batch(inputs)
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
        _check_batch(inputs)
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
        _check_batch(inputs)
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
        _check_batch(ids)
        self._send(
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
        _check_batch(ids)
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

    # ---- batches on threads ---------------------------------------------------------

    def run_batches(
        self,
        fn: Callable[[Sequence[T]], R],
        items: Sequence[T],
        *,
        size: int = BATCH_LIMIT,
        stop: threading.Event | None = None,
    ) -> Iterator[tuple[Sequence[T], R | ReconcilerError]]:
        """Split ``items`` into batches of ``size``, run ``fn`` on ``concurrency`` threads, and
        yield ``(chunk, result-or-error)`` as each completes, so the caller can save state
        after every batch. A ``ReconcilerError`` is yielded, not raised; anything else (a
        bug) is raised once the batches in flight have finished.

        When ``stop`` is set (or ``cancel()`` was called) no further batch is started; the
        ones in flight are still answered and yielded. Chunks never started are not yielded.
        """
        if size < 1:
            raise ValueError("batch size must be at least 1")
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        if not chunks:
            return

        def stopped() -> bool:
            return self._cancelled.is_set() or (stop is not None and stop.is_set())

        pending = iter(chunks)
        running: dict[Future[R], Sequence[T]] = {}
        executor = ThreadPoolExecutor(
            max_workers=min(self.settings.concurrency, len(chunks)),
            thread_name_prefix="hubspot-batch",
        )
        try:
            for chunk in pending:
                running[executor.submit(fn, chunk)] = chunk
                if len(running) >= self.settings.concurrency:
                    break
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    chunk = running.pop(future)
                    error = future.exception()
                    if error is not None and not isinstance(error, ReconcilerError):
                        raise error
                    # Start the next batch before yielding: the caller's bookkeeping
                    # should not leave a worker idle.
                    if not stopped():
                        following = next(pending, None)
                        if following is not None:
                            running[executor.submit(fn, following)] = following
                    outcome: R | ReconcilerError = error if error is not None else future.result()
                    yield chunk, outcome
        finally:
            # On an early exit (break in the caller, an exception) let what is in
            # flight finish, start nothing new.
            for future in running:
                future.cancel()
            executor.shutdown(wait=True)

    # ---- search -----------------------------------------------------------------------

    def search(
        self,
        object_type: str,
        filter_groups: list[dict[str, Any]],
        properties: Sequence[str],
        *,
        limit: int = SEARCH_PAGE_LIMIT,
    ) -> Iterator[RemoteRecord]:
        """Every match, page by page (``after``). Search lags writes by a few moments
        (facts §7): an empty answer right after a write proves nothing. The values of
        every ``IN`` filter are sent lowercased: HubSpot matches ``IN`` only in lowercase."""
        filter_groups = _lowercase_in_values(filter_groups)
        after: str | None = None
        page_size = max(1, min(limit, SEARCH_PAGE_LIMIT))
        while True:
            body: dict[str, Any] = {
                "filterGroups": filter_groups,
                "properties": list(properties),
                "limit": page_size,
                # A stable order keeps pages from overlapping while records are written.
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            }
            if after is not None:
                body["after"] = after
            records, following = self._call(
                "POST", f"{self.paths.objects(object_type)}/search", search_page_from_api,
                json=body, search=True,
            )
            yield from records
            if following is None or following == after:
                return  # (the same cursor again would page forever)
            after = following

    def search_page(
        self,
        object_type: str,
        filter_groups: list[dict[str, Any]],
        properties: Sequence[str],
        *,
        sort: tuple[str, str] = ("hs_object_id", "ASCENDING"),
        limit: int = SEARCH_PAGE_LIMIT,
        after: str | None = None,
    ) -> SearchPage:
        """One search page with its ``total`` (HubSpot counts at most 10,000: facts §7),
        sorted by one property (``sort``: name, ASCENDING or DESCENDING)."""
        body: dict[str, Any] = {
            "filterGroups": _lowercase_in_values(filter_groups),
            "properties": list(properties),
            "limit": max(1, min(limit, SEARCH_PAGE_LIMIT)),
            "sorts": [{"propertyName": sort[0], "direction": sort[1]}],
        }
        if after is not None:
            body["after"] = after

        def parse(data: Any) -> SearchPage:
            records, following = search_page_from_api(data)
            total = as_object(data, "the answer").get("total", len(records))
            if isinstance(total, bool) or not isinstance(total, int) or total < 0:
                raise AnswerShapeError(f"'total' is {total!r}, not a count")
            return SearchPage(records, total, following)

        return self._call(
            "POST", f"{self.paths.objects(object_type)}/search", parse, json=body, search=True
        )

    def search_by_property_values(
        self, object_type: str, prop: str, values: Sequence[str], properties: Sequence[str]
    ) -> list[RemoteRecord]:
        """Records whose ``prop`` is one of ``values`` (IN filters, chunked).

        HubSpot matches ``IN`` only in lowercase ("inputted values must be in lowercase",
        facts §7), so every value is sent lowercased and matched without regard to case.
        A hit whose ``prop`` is none of the values asked for is ignored, never returned.
        """
        wanted = list(dict.fromkeys(str(v).lower() for v in values))
        asked = set(wanted)
        props = list(dict.fromkeys([*properties, prop]))
        found: dict[str, RemoteRecord] = {}
        for start in range(0, len(wanted), SEARCH_IN_VALUES):
            chunk = wanted[start : start + SEARCH_IN_VALUES]
            groups = [{"filters": [{"propertyName": prop, "operator": "IN", "values": chunk}]}]
            for record in self.search(object_type, groups, props):
                if str(record.properties.get(prop) or "").lower() in asked:
                    found.setdefault(record.id, record)
        return list(found.values())

    # ---- properties, owners, account ----------------------------------------------------

    def list_properties(self, object_type: str) -> list[PropertyDefinition]:
        return self._call(
            "GET", self.paths.properties(object_type),
            lambda data: [
                property_from_api(p, f"results[{n}]") for n, p in enumerate(results_list(data))
            ],
        )

    def property_bodies(self, object_type: str) -> list[Mapping[str, Any]]:
        """The properties of a type as HubSpot describes them (option labels, ``calculated``
        and all), for the catalogue check. Checked like every answer: a list of objects,
        each with a name; anything else is an UnusableAnswerError, never "no properties"."""

        def parse(data: Any) -> list[Mapping[str, Any]]:
            bodies = []
            for n, raw in enumerate(results_list(data)):
                property_from_api(raw, f"results[{n}]")  # the shape check
                bodies.append(as_object(raw, f"results[{n}]"))
            return bodies

        return self._call("GET", self.paths.properties(object_type), parse)

    def create_property(
        self, object_type: str, definition: PropertyDefinition
    ) -> PropertyDefinition:
        """Create a property; if it already exists (409), return the existing one."""
        def parse(data: Any) -> PropertyDefinition:
            created = property_from_api(data)
            if created.name != definition.name:
                raise AnswerShapeError(
                    f"it describes property {created.name!r}, not {definition.name!r}"
                )
            return created

        try:
            return self._call(
                "POST", self.paths.properties(object_type), parse,
                json=property_to_api(definition), kind="write",
            )
        except ApiError as error:
            if error.status != 409:
                raise
        return self._call("GET", f"{self.paths.properties(object_type)}/{definition.name}", parse)

    def list_owners(self) -> list[Owner]:
        """Every active owner, read once per client (one run): resolving the spec's owner
        emails and checking its owner ids both need them, and they do not change with
        what a run writes."""
        if self._owners is None:
            self._owners = self._read_owners()
        return list(self._owners)

    def _read_owners(self) -> list[Owner]:
        owners: list[Owner] = []
        after: str | None = None
        while True:
            params = {"limit": "100", "archived": "false"}
            if after:
                params["after"] = after
            page, following = self._call(
                "GET", self.paths.owners(),
                lambda data: (
                    [owner_from_api(o, f"results[{n}]") for n, o in enumerate(results_list(data))],
                    next_after(data),
                ),
                params=params,
            )
            owners.extend(page)
            if following is None or following == after:
                return owners
            after = following

    def account_portal_id(self) -> int | None:
        """The portal (hub) id the token belongs to; None only when the endpoint is refused
        or absent (403, 404, 405). An answer without a usable ``portalId`` is an error."""

        def parse(data: Any) -> int:
            body = as_object(data, "the body")
            if "portalId" not in body:
                raise AnswerShapeError("'portalId' is missing")
            return as_integer(body["portalId"], "'portalId'")

        try:
            return self._call("GET", self.paths.account_details(), parse)
        except ApiError as error:
            if error.status in (403, 404, 405):
                return None
            raise

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
                    {"numberOfTimeUnits": int(number), "timeUnit": unit} for number, unit in reminders
                ],
                "shouldIncludeInviteDescription": bool(include_description),
            },
        }
        return self._call(
            "POST", self.paths.calendar_meetings(), record_from_api,
            json=body, params={"organizerUserId": str(organizer_user_id)}, kind="create",
        )

    # ---- associations ---------------------------------------------------------------------

    def associate(
        self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str, str, int]]
    ) -> None:
        """Create associations ``(from_id, to_id, category, type_id)`` (v4 batch create).

        Associating twice is harmless, so this is retried like a read. Raises ApiError
        if HubSpot refused any pair (a 207), naming every refusal.
        """
        inputs = _association_inputs(pairs)
        path = f"{self.paths.associations(from_type, to_type)}/batch/create"
        for start in range(0, len(inputs), BATCH_LIMIT):
            errors = self._call(
                "POST", path, association_errors_from_api,
                json={"inputs": inputs[start : start + BATCH_LIMIT]}, kind="write",
            )
            _raise_batch_errors(errors, "POST", path)

    def dissociate(
        self,
        from_type: str,
        to_type: str,
        pairs: Sequence[tuple[str, str, str, int]],
        *,
        all_types: bool = False,
    ) -> None:
        """Remove the association types given (batch/labels/archive), or with
        ``all_types`` every association between each pair (batch/archive)."""
        base = self.paths.associations(from_type, to_type)
        if all_types:
            by_from: dict[str, list[dict[str, str]]] = {}
            for from_id, to_id, _category, _type_id in pairs:
                targets = by_from.setdefault(str(from_id), [])
                if {"id": str(to_id)} not in targets:
                    targets.append({"id": str(to_id)})
            archive = [{"from": {"id": f}, "to": t} for f, t in by_from.items()]
            path = f"{base}/batch/archive"
            for start in range(0, len(archive), BATCH_LIMIT):
                self._call(
                    "POST", path, association_errors_from_api,
                    json={"inputs": archive[start : start + BATCH_LIMIT]}, kind="write",
                )
            return
        inputs = _association_inputs(pairs)
        path = f"{base}/batch/labels/archive"
        for start in range(0, len(inputs), BATCH_LIMIT):
            errors = self._call(
                "POST", path, association_errors_from_api,
                json={"inputs": inputs[start : start + BATCH_LIMIT]}, kind="write",
            )
            _raise_batch_errors(errors, "POST", path)

    def read_associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, tuple[tuple[str, int], ...]]:
        """``from_id -> ((to_id, type_id), ...)``; ids without associations are absent."""
        path = f"{self.paths.associations(from_type, to_type)}/batch/read"
        found: dict[str, list[tuple[str, int]]] = {}
        todo: list[dict[str, str]] = [{"id": str(i)} for i in dict.fromkeys(ids)]
        while todo:
            batch, todo = todo[:BATCH_LIMIT], todo[BATCH_LIMIT:]
            asked = {item["id"] for item in batch}

            def parse(data: Any) -> list[tuple[str, list[tuple[str, int]], str | None]]:
                results = associations_from_api(data)
                for from_id, _pairs, _after in results:
                    if from_id not in asked:
                        raise AnswerShapeError(f"it answers for {from_id}, which was not asked for")
                return results

            for from_id, pairs_found, after in self._call(
                "POST", path, parse, json={"inputs": batch}
            ):
                pairs = found.setdefault(from_id, [])
                pairs.extend(pair for pair in pairs_found if pair not in pairs)
                if after:
                    todo.append({"id": from_id, "after": after})
            # 207 errors here mean "no associations" for those ids: nothing to add.
        return {from_id: tuple(pairs) for from_id, pairs in found.items() if pairs}

    def association_labels(self, from_type: str, to_type: str) -> list[AssociationLabel]:
        return self._call(
            "GET", self.paths.association_labels(from_type, to_type),
            lambda data: [
                label_from_api(item, f"results[{n}]") for n, item in enumerate(results_list(data))
            ],
        )

# ---- helpers ------------------------------------------------------------------------------


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


def _lowercase_in_values(filter_groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``filter_groups`` with the string values of every ``IN`` filter lowercased
    ("This operator is case-sensitive, so inputted values must be in lowercase", facts §7)."""
    groups = []
    for group in filter_groups:
        filters = []
        for item in group.get("filters") or []:
            if item.get("operator") == "IN" and isinstance(item.get("values"), list):
                values = [v.lower() if isinstance(v, str) else v for v in item["values"]]
                item = {**item, "values": values}
            filters.append(item)
        groups.append({**group, "filters": filters})
    return groups


def _check_batch(items: Sequence[Any]) -> None:
    if len(items) > BATCH_LIMIT:
        raise ValueError(f"a batch takes at most {BATCH_LIMIT} inputs, not {len(items)}")


def _association_inputs(pairs: Sequence[tuple[str, str, str, int]]) -> list[dict[str, Any]]:
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for from_id, to_id, category, type_id in pairs:
        types = by_pair.setdefault((str(from_id), str(to_id)), [])
        spec = {"associationCategory": category, "associationTypeId": int(type_id)}
        if spec not in types:
            types.append(spec)
    return [
        {"from": {"id": f}, "to": {"id": t}, "types": types} for (f, t), types in by_pair.items()
    ]


def _raise_batch_errors(errors: Sequence[BatchItemError], method: str, path: str) -> None:
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ApiError(207, first.message + more, category=first.category, method=method, path=path)


