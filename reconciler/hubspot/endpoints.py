"""What every group of HubSpot endpoints builds on: the paths and one checked call.

``ApiPaths`` spells HubSpot's paths for the target's API version (facts §9).
``Endpoints`` is the base of the endpoint groups that make up ``HubSpotClient``
(``object_endpoints``, ``search_endpoints``, ``account_endpoints``,
``association_endpoints``, ``schema_endpoints``): ``_call`` sends through the connection
and checks the answer's shape where it enters, and ``run_batches`` runs batches on threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from reconciler.errors import ReconcilerError
from reconciler.hubspot.connection import ClientSettings, HubSpotConnection
from reconciler.hubspot.failures import RequestKind
from reconciler.hubspot.records import BATCH_LIMIT, AnswerShapeError

T = TypeVar("T")
R = TypeVar("R")


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

    def pipelines(self, object_type: str) -> str:
        if self.dated:
            return f"/crm/pipelines/{self.version}/{object_type}"
        return f"/crm/v3/pipelines/{object_type}"

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

    def api_usage(self) -> str:
        return "/account-info/v3/api-usage/daily/private-apps"

    def token_info(self) -> str:
        # HubSpot's private-apps guide; no version of its own (design-20 §1.8).
        return "/oauth/v2/private-apps/get/access-token-info"


class Endpoints:
    """The state and the two methods every endpoint group uses (set up by ``HubSpotClient``)."""

    settings: ClientSettings
    paths: ApiPaths
    connection: HubSpotConnection
    _cancelled: threading.Event

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
        data = self.connection.send(method, path, kind=kind, trace_ids=trace_ids, **send)
        try:
            return parse(data)
        except AnswerShapeError as problem:
            raise self.connection.unusable(method, path, kind, str(problem), trace_ids) from None

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


def check_batch(items: Sequence[Any]) -> None:
    if len(items) > BATCH_LIMIT:
        raise ValueError(f"a batch takes at most {BATCH_LIMIT} inputs, not {len(items)}")
