"""An emulator for the client tests: one per session, reset before each test.

The tests talk real HTTP to it on 127.0.0.1; nothing in httpx or in the client is mocked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings

TOKEN = "pat-na1-s3cr3t-0123456789abcdef"


@pytest.fixture(scope="session")
def hub_session() -> Iterator[Emulator]:
    with start_emulator(EmulatorConfig(token=TOKEN)) as emu:
        yield emu


@pytest.fixture
def hub(hub_session: Emulator) -> Emulator:
    hub_session.reset()
    return hub_session


@pytest.fixture
def make_client(hub: Emulator) -> Iterator[Callable[..., HubSpotClient]]:
    """Clients against the emulator; fast retries and no limiter unless a test asks."""
    made: list[HubSpotClient] = []

    def make(**overrides: Any) -> HubSpotClient:
        values: dict[str, Any] = {
            "base_url": hub.base_url,
            "token": TOKEN,
            "requests_per_10s": None,
            "search_per_second": None,
            "retry_initial_seconds": 0.01,
            "retry_max_seconds": 0.05,
            "timeout_seconds": 5.0,
        }
        values.update(overrides)
        client = HubSpotClient(ClientSettings(**values))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., HubSpotClient]) -> HubSpotClient:
    return make_client()


@pytest.fixture
def http_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every logger at DEBUG (ours, httpx's, httpcore's)."""
    caplog.set_level(logging.DEBUG)
    return caplog


def api_requests(hub: Emulator, path_part: str = "") -> list[dict[str, Any]]:
    return [r for r in hub.requests() if path_part in r["path"]]
