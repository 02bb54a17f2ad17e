"""The one HubSpot client: every endpoint the reconciler uses, batched to HubSpot's limits.

``HubSpotClient`` builds HubSpot's paths for the target's API version (``ApiPaths``,
facts §9) and its request bodies (``reconciler.hubspot.records``), and runs batches on
threads (``run_batches``). Its endpoints come in groups, one module each:
``object_endpoints`` (batches of records, calendar meetings), ``search_endpoints``,
``account_endpoints`` (properties, owners, the portal id), ``association_endpoints`` and
``schema_endpoints`` (property definitions and groups, pipelines, association labels),
all built on ``endpoints`` (the paths, one checked call, batches on threads). Sending,
retries, rate limits and error mapping live in ``reconciler.hubspot.connection``; callers only
ever see ``reconciler.errors`` and the frozen values re-exported here.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from reconciler.clock import Clock
from reconciler.hubspot.account_endpoints import AccountEndpoints
from reconciler.hubspot.association_endpoints import AssociationEndpoints
from reconciler.hubspot.connection import ClientSettings, HubSpotConnection
from reconciler.hubspot.endpoints import ApiPaths
from reconciler.hubspot.object_endpoints import ObjectEndpoints
from reconciler.hubspot.ratelimit import RollingWindowLimiter
from reconciler.hubspot.records import (
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
    iso_datetime,
)
from reconciler.hubspot.schema_endpoints import SchemaEndpoints
from reconciler.hubspot.schema_records import (
    Pipeline,
    PipelineStage,
    PropertyChanges,
    PropertyGroup,
    PropertyOption,
    PropertySchema,
    StageDraft,
    deal_stage,
    ticket_stage,
)
from reconciler.hubspot.search_endpoints import SearchEndpoints, SearchPage

if TYPE_CHECKING:  # httpx is imported when a connection is made (connection.py)
    import httpx

__all__ = [
    "BATCH_LIMIT",
    "CALENDAR_PROPERTIES",
    "ApiPaths",
    "AssociationLabel",
    "BatchItemError",
    "BatchOutcome",
    "ClientSettings",
    "CreateInput",
    "HubSpotClient",
    "Owner",
    "Pipeline",
    "PipelineStage",
    "PropertyChanges",
    "PropertyDefinition",
    "PropertyGroup",
    "PropertyOption",
    "PropertySchema",
    "RemoteRecord",
    "SearchPage",
    "StageDraft",
    "UpdateInput",
    "deal_stage",
    "iso_datetime",
    "ticket_stage",
]


class HubSpotClient(
    ObjectEndpoints, SearchEndpoints, AccountEndpoints, AssociationEndpoints, SchemaEndpoints
):
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
        self._cancelled = threading.Event()
        self._owners = None
        self._archived_owners = None
        self.property_names = {}

    @property
    def clock(self) -> Clock:
        """The clock of every wait made for this client (``ClientSettings.clock``): its
        deadlines, retries and rate limits, and the recovery and search-lag waits."""
        return self.settings.clock

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
        return (f"HubSpotClient(base_url={self.settings.base_url!r}, "
                f"api_version={self.paths.version!r})")

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def cancel(self) -> None:
        """Ask every ``run_batches`` to submit no more batches (those in flight finish)."""
        self._cancelled.set()

