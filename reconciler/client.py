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

from reconciler.connection import ClientSettings, HubSpotConnection
from reconciler.crm_records import (
    BATCH_LIMIT,
    CALENDAR_PROPERTIES,
    AssociationLabel,
    BatchItemError,
    BatchOutcome,
    CreateInput,
    Owner,
    PropertyDefinition,
    RemoteRecord,
    UpdateInput,
    associations_to_api,
    calendar_properties,
    create_input_to_api,
    iso_datetime,
    label_from_api,
    outcome_from_api,
    owner_from_api,
    property_from_api,
    property_to_api,
    record_from_api,
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
    "UpdateInput",
    "iso_datetime",
]

T = TypeVar("T")
R = TypeVar("R")

#: Search takes at most this many values in one IN filter and 200 results a page (facts §7).
SEARCH_IN_VALUES = 100
SEARCH_PAGE_LIMIT = 200


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

    # ---- objects ------------------------------------------------------------------

    def batch_create(self, object_type: str, inputs: Sequence[CreateInput]) -> BatchOutcome:
        """One batch create; results match inputs by trace id only (order is random)."""
        _check_batch(inputs)
        trace_ids = [i.trace_id for i in inputs]
        if len(set(trace_ids)) != len(trace_ids):
            raise ValueError("every CreateInput needs its own trace_id")
        body = {"inputs": [create_input_to_api(i) for i in inputs]}
        data = self._send(
            "POST", f"{self.paths.objects(object_type)}/batch/create",
            json=body, kind="create", trace_ids=trace_ids,
        )
        return outcome_from_api(data)

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
        data = self._send(
            "POST", f"{self.paths.objects(object_type)}/batch/update", json={"inputs": items}
        )
        outcome = outcome_from_api(data)
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
        data = self._send(
            "POST", f"{self.paths.objects(object_type)}/batch/upsert", json={"inputs": items}
        )
        return outcome_from_api(data)

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
        data = self._send(
            "POST", f"{self.paths.objects(object_type)}/batch/read",
            json=body, params={"archived": "true" if archived else "false"},
        )
        return outcome_from_api(data)

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
        (facts §7): an empty answer right after a write proves nothing."""
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
            data = self._send(
                "POST", f"{self.paths.objects(object_type)}/search", json=body, search=True
            ) or {}
            for item in data.get("results") or []:
                yield record_from_api(item)
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def search_by_property_values(
        self, object_type: str, prop: str, values: Sequence[str], properties: Sequence[str]
    ) -> list[RemoteRecord]:
        """Records whose ``prop`` is one of ``values`` (IN filters, chunked)."""
        wanted = list(dict.fromkeys(values))
        props = list(dict.fromkeys([*properties, prop]))
        found: dict[str, RemoteRecord] = {}
        for start in range(0, len(wanted), SEARCH_IN_VALUES):
            chunk = wanted[start : start + SEARCH_IN_VALUES]
            groups = [{"filters": [{"propertyName": prop, "operator": "IN", "values": chunk}]}]
            for record in self.search(object_type, groups, props):
                found.setdefault(record.id, record)
        return list(found.values())

    # ---- properties, owners, account ----------------------------------------------------

    def list_properties(self, object_type: str) -> list[PropertyDefinition]:
        data = self._send("GET", self.paths.properties(object_type)) or {}
        return [property_from_api(p) for p in data.get("results") or []]

    def create_property(
        self, object_type: str, definition: PropertyDefinition
    ) -> PropertyDefinition:
        """Create a property; if it already exists (409), return the existing one."""
        try:
            data = self._send(
                "POST", self.paths.properties(object_type), json=property_to_api(definition)
            )
        except ApiError as error:
            if error.status != 409:
                raise
            data = self._send("GET", f"{self.paths.properties(object_type)}/{definition.name}")
        return property_from_api(data or {})

    def list_owners(self) -> list[Owner]:
        owners: list[Owner] = []
        after: str | None = None
        while True:
            params = {"limit": "100", "archived": "false"}
            if after:
                params["after"] = after
            data = self._send("GET", self.paths.owners(), params=params) or {}
            owners.extend(owner_from_api(o) for o in data.get("results") or [])
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return owners

    def account_portal_id(self) -> int | None:
        """The portal (hub) id the token belongs to, or None if the server does not say."""
        try:
            data = self._send("GET", self.paths.account_details()) or {}
        except ApiError as error:
            if error.status in (403, 404, 405):
                return None
            raise
        portal_id = data.get("portalId")
        try:
            return int(portal_id) if portal_id is not None else None
        except (TypeError, ValueError):
            return None

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
        data = self._send(
            "POST", self.paths.calendar_meetings(),
            json=body, params={"organizerUserId": str(organizer_user_id)}, kind="create",
        )
        return record_from_api(data or {})

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
            data = self._send("POST", path, json={"inputs": inputs[start : start + BATCH_LIMIT]})
            _raise_batch_errors(outcome_from_api(data).errors, "POST", path)

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
                self._send("POST", path, json={"inputs": archive[start : start + BATCH_LIMIT]})
            return
        inputs = _association_inputs(pairs)
        path = f"{base}/batch/labels/archive"
        for start in range(0, len(inputs), BATCH_LIMIT):
            data = self._send("POST", path, json={"inputs": inputs[start : start + BATCH_LIMIT]})
            _raise_batch_errors(outcome_from_api(data).errors, "POST", path)

    def read_associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, tuple[tuple[str, int], ...]]:
        """``from_id -> ((to_id, type_id), ...)``; ids without associations are absent."""
        path = f"{self.paths.associations(from_type, to_type)}/batch/read"
        found: dict[str, list[tuple[str, int]]] = {}
        todo: list[dict[str, str]] = [{"id": str(i)} for i in dict.fromkeys(ids)]
        while todo:
            batch, todo = todo[:BATCH_LIMIT], todo[BATCH_LIMIT:]
            data = self._send("POST", path, json={"inputs": batch}) or {}
            for result in data.get("results") or []:
                from_id = str((result.get("from") or {}).get("id"))
                pairs = found.setdefault(from_id, [])
                for target in result.get("to") or []:
                    for kind in target.get("associationTypes") or []:
                        pair = (str(target.get("toObjectId")), int(kind.get("typeId", 0)))
                        if pair not in pairs:
                            pairs.append(pair)
                after = (((result.get("paging") or {}).get("next")) or {}).get("after")
                if after:
                    todo.append({"id": from_id, "after": str(after)})
            # 207 errors here mean "no associations" for those ids: nothing to add.
        return {from_id: tuple(pairs) for from_id, pairs in found.items() if pairs}

    def association_labels(self, from_type: str, to_type: str) -> list[AssociationLabel]:
        data = self._send("GET", self.paths.association_labels(from_type, to_type)) or {}
        return [label_from_api(item) for item in data.get("results") or []]

# ---- helpers ------------------------------------------------------------------------------


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


