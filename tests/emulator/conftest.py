from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.emulator.embedded import Emulator


@pytest.fixture
def api(emulator: Emulator) -> Iterator[httpx.Client]:
    """A keep-alive client on the emulator, authenticated with its token."""
    with httpx.Client(
        base_url=emulator.base_url,
        headers={"Authorization": f"Bearer {emulator.token}"},
        timeout=10,
    ) as client:
        yield client


def meeting(title: str = "Kickoff", **extra: str) -> dict[str, object]:
    return {"properties": {"hs_timestamp": "2026-01-05T10:00:00Z", "hs_meeting_title": title, **extra}}
