"""Refactors through the spec (``moved:``/``removed:``), ``state mv|rm`` and ``import``
that write the markers, ``init`` and finding the project from a sub-folder.

``production``: a second emulator of this folder's own, so the GitOps sequence has two
portals as the example's targets do (the shared ``emulator`` is the sandbox).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from tests.manage.conftest import hub, project  # noqa: F401  (fixtures shared with manage)

PRODUCTION_TOKEN = "production-portal-token"
PRODUCTION_PORTAL = 13579246


@pytest.fixture(scope="session")
def _production_server() -> Iterator[Emulator]:
    config = EmulatorConfig(token=PRODUCTION_TOKEN, portal_id=PRODUCTION_PORTAL)
    with start_emulator(config, host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture
def production(_production_server: Emulator) -> Iterator[Emulator]:
    _production_server.reset()
    yield _production_server
    _production_server.reset()
