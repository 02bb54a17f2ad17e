"""Helpers for apply-under-fire tests: bulk projects, the CLI in-process or as a process
that can be killed, and what the emulator and the state file hold afterwards.

Every test here talks real HTTP to the shared emulator (``tests/conftest.py``) with its
faults switched on per test; the faults are seeded and switched off again at teardown. The
CLI in this process (``cli``) and ``apply_library`` run on the emulator's clock: on a
``@pytest.mark.fake_clock`` test, search lag, slow answers, 429 pauses and the recovery
grace are waited out in no time. A CLI process (``cli_process``) runs on the real clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from reconciler.applying.apply import apply_plan
from reconciler.applying.run import ApplyResult
from reconciler.cli.base import main
from reconciler.emulator.config import FaultConfig
from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY
from reconciler.identity.recovery import recover_in_flight
from reconciler.identity.refresh import refresh_records
from reconciler.loading.project import load_project
from reconciler.model import slug
from reconciler.planning.planner import plan
from reconciler.state.store import StateStore
from reconciler.workflow.portal import resolve_owners
from tests.helpers import write_project  # noqa: F401  (re-exported to the tests)

TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
GRACE_ENV = "RECONCILER_RECOVERY_GRACE_SECONDS"
STATE = ".reconciler/state/local.json"


def bulk_spec(meetings: int, calls: int, *, prefix: str = "") -> str:
    """A spec file with ``meetings`` meetings and ``calls`` calls (one line per field)."""
    lines = ["meetings:"] if meetings else []
    for i in range(meetings):
        lines += [f"  {prefix}m{i}:", f"    title: Meeting {i}", "    start: 2026-12-01T10:00:00Z"]
    if calls:
        lines.append("calls:")
    for i in range(calls):
        lines += [f"  {prefix}c{i}:", f"    title: Call {i}", "    timestamp: 2026-12-01T10:00:00Z"]
    return "\n".join(lines) + "\n"


def read_state(project: Path) -> dict[str, Any]:
    path = project / STATE  # snapshot + journal: what a killed apply left is in both
    return StateStore(path).load().to_json() if path.exists() else {
        "records": {}, "in_flight": {}
    }


def markers(emulator: Emulator, object_type: str) -> Counter[str]:
    """How many live records of a type carry each marker value."""
    return Counter(
        str(r["properties"].get(MARKER_PROPERTY)) for r in emulator.records(object_type)
    )


def assert_exactly(emulator: Emulator, project: Path, expected: dict[str, int]) -> None:
    """The portal holds exactly ``expected`` records per type, each once, each mapped."""
    state = read_state(project)
    project_id = state.get("project_id") or slug(project.name)
    for object_type, count in expected.items():
        seen = markers(emulator, object_type)
        duplicates = {m: n for m, n in seen.items() if n > 1}
        assert not duplicates, f"{object_type}: duplicates {list(duplicates.items())[:5]}"
        assert len(seen) == count, f"{object_type}: {len(seen)} in the portal, want {count}"
        mapped = {
            a: r for a, r in state["records"].items() if r["object_type"] == object_type
        }
        assert len(mapped) == count, f"{object_type}: {len(mapped)} in the state, want {count}"
        ids = {str(r["id"]) for r in emulator.records(object_type)}
        assert {str(r["id"]) for r in mapped.values()} == ids, f"{object_type}: ids differ"
        assert set(seen) == {f"{project_id}:{a}" for a in mapped}, f"{object_type}: markers differ"
        owners = {r["properties"].get(PROJECT_PROPERTY) for r in emulator.records(object_type)}
        assert owners == ({project_id} if count else set()), f"{object_type}: {owners}"
    assert state["in_flight"] == {}


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def faulty(emulator: Emulator) -> Iterator[Emulator]:
    """The emulator, with faults and lag switched off again after the test."""
    yield emulator
    emulator.set_faults(FaultConfig(), seed=0)
    emulator.set_config(search_lag_seconds=0.0, daily_limit=None, rate_limit_per_10s=None,
                        search_per_second=None)


@pytest.fixture
def cli(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliRun]:
    """Run the real CLI in this process against the emulator, on its clock; ``grace``: the
    recovery grace (unless given, the CLI's default: free on a fake clock)."""
    monkeypatch.setenv(TOKEN_ENV, emulator.token)
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(*args: str | Path, grace: float | None = None) -> CliRun:
        if grace is not None:
            monkeypatch.setenv(GRACE_ENV, str(grace))
        code = main([*map(str, args), "--base-url", emulator.base_url], clock=emulator.clock)
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return invoke


def cli_process(
    emulator: Emulator, *args: str | Path, grace: float | None = None
) -> CliProcess:
    """The CLI as a separate process (to kill it, or to Ctrl-C it)."""
    env = {
        **os.environ,
        TOKEN_ENV: emulator.token,
        "NO_COLOR": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    if grace is not None:
        env[GRACE_ENV] = str(grace)
    code = "import sys; from reconciler.cli import main; sys.exit(main())"
    # Output goes to files, not pipes: a plan of thousands of lines would fill a pipe
    # nobody reads until the end and block the apply before it starts.
    out = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by finish()
    err = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by finish()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args), "--base-url", emulator.base_url],
        stdout=out, stderr=err, text=True, env=env,
    )
    return CliProcess(process, out, err)


@dataclass
class CliProcess:
    """A running CLI process; ``finish()`` waits for it and returns what it printed."""

    process: subprocess.Popen[str]
    _out: IO[str]
    _err: IO[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        self.process.kill()

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def finish(self, timeout: float = 120.0) -> CliRun:
        code = self.process.wait(timeout=timeout)
        texts = []
        for stream in (self._out, self._err):
            stream.seek(0)
            texts.append(stream.read())
            stream.close()
        return CliRun(code, texts[0], texts[1])


class RewritingTransport(httpx.BaseTransport):
    """An httpx transport to the emulator that lets a test meddle with chosen exchanges:
    ``hook(request, send)`` for requests ``match(request)`` selects (``times`` of them)."""

    def __init__(
        self,
        match: Callable[[httpx.Request], bool],
        hook: Callable[[httpx.Request, Callable[[httpx.Request], httpx.Response]], httpx.Response],
        *,
        times: int = 1,
    ) -> None:
        self._inner = httpx.HTTPTransport()
        self._match = match
        self._hook = hook
        self.times = times
        self.hits = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.times > 0 and self._match(request):
            self.times -= 1
            self.hits += 1
            return self._hook(request, self._inner.handle_request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def json_answer(response: httpx.Response, body: Any) -> httpx.Response:
    """``response`` with another JSON body (same status)."""
    response.read()
    return httpx.Response(response.status_code, json=body)


def apply_library(
    emulator: Emulator, project: Path, transport: httpx.BaseTransport, *, grace: float = 1.0
) -> ApplyResult:
    """What ``apply --auto-approve`` does (recover, refresh, plan, apply), with the client
    on ``transport``: for faults the emulator can only inject on chosen requests."""
    desired = load_project(project, reference_time=datetime.now(timezone.utc))
    marker_id = desired.project.marker_id
    store = StateStore(project / STATE)
    state = store.load(target="local", project=desired.project.name, project_id=marker_id)
    settings = ClientSettings(base_url=emulator.base_url, token=emulator.token,
                              requests_per_10s=None, search_per_second=None,
                              clock=emulator.clock)
    with HubSpotClient(settings, transport=transport) as client:
        recover_in_flight(client, store, state, marker_id, grace_seconds=grace)
        remote = refresh_records(client, desired, state)
        owners = resolve_owners(client, desired, state)
        the_plan = plan(desired, state, remote, owners=owners, target="local")
        result = apply_plan(the_plan, client=client, store=store, state=state,
                            project=marker_id, grace_seconds=grace)
        store.save(state)
    return result
