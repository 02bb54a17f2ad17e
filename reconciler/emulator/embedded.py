"""Start the emulator in-process on a loopback port, and the handle to drive it.

    with start_emulator(EmulatorConfig(), port=0) as emu:
        emu.base_url, emu.token
        emu.records("meetings")

The server runs in a background thread; ``stop()`` (or leaving the ``with``) shuts it down
and closes the store. ``clock`` (``reconciler.clock``) times the emulator's waits and dates:
a test that runs the client on the same fake clock waits out search lag, slow answers and
rate-limit windows in no time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.emulator import inspection
from reconciler.emulator.app import EmulatorApp
from reconciler.emulator.config import EmulatorConfig, FaultConfig
from reconciler.emulator.server import EmulatorHTTPServer


class Emulator:
    """A running emulator: its address, its token, and the knobs and views tests use."""

    def __init__(
        self, app: EmulatorApp, server: EmulatorHTTPServer, thread: threading.Thread
    ) -> None:
        self._app = app
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.base_url = f"http://{self.host}:{self.port}"
        self._stopped = False

    @property
    def token(self) -> str:
        return self._app.config.token

    @property
    def config(self) -> EmulatorConfig:
        return self._app.config

    @property
    def clock(self) -> Clock:
        return self._app.clock

    def set_faults(self, faults: FaultConfig, seed: int | None = None) -> None:
        self._app.set_faults(faults, seed)

    def set_config(self, **changes: Any) -> EmulatorConfig:
        """Change runtime knobs, e.g. ``set_config(search_lag_seconds=2.0, scopes=(...))``."""
        return self._app.set_config(**changes)

    def reset(self) -> None:
        """Forget all data and requests; back to the configuration it was started with."""
        self._app.reset()

    def records(self, object_type: str, archived: bool | None = False) -> list[dict[str, Any]]:
        """Stored records of a type in HubSpot's shape (all properties); ``None`` = both."""
        return inspection.records(self._app, object_type, archived)

    def requests(self) -> list[dict[str, Any]]:
        """The request log: method, path, query, status, request/response bodies, dropped."""
        return self._app.requests()

    def clear_requests(self) -> None:
        self._app.clear_requests()

    def wait_for_request(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any] | None:
        """The first exchange in the request log that ``match`` accepts, once one has been
        answered (waiting at most ``timeout`` seconds of real time); None if none was."""
        return self._app.wait_for_request(match, timeout)

    def calendar_events(self) -> list[dict[str, Any]]:
        return self._app.store.calendar_events()

    def serve_forever(self) -> None:
        """Block until ``stop()`` or Ctrl-C (for the CLI)."""
        try:
            self._thread.join()
        finally:
            self.stop()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._app.store.close()

    def __enter__(self) -> Emulator:  # noqa: PYI034
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> Emulator:
    """Start an emulator in a background thread (``port=0``: a free port) and return it."""
    app = EmulatorApp(config or EmulatorConfig(), clock)
    server = EmulatorHTTPServer((host, port), app)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="hubspot-emulator",
        daemon=True,
    )
    thread.start()
    return Emulator(app, server, thread)
