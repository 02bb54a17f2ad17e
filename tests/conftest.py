"""Fixtures every test layer shares.

- ``emulator``: a running in-memory HubSpot emulator (rate limits and faults off), one per
  worker process, reset before each test. At teardown every exchange the test had with it
  is checked against HubSpot's OpenAPI specs (``tests/emulator/contract.py``); a mismatch
  fails the test. Opt out per test with ``@pytest.mark.contract(requests=False)`` (a test
  that sends deliberately bad requests) or ``@pytest.mark.contract(False)``.
  With ``@pytest.mark.fake_clock`` the test gets an emulator of its own on a running
  ``FakeClock`` (``tests/helpers.py``, ``emulator.clock``), which the CLI fixtures run on
  too: search lag, slow answers, 429 pauses and recovery waits then take no time, and
  still count.
- ``contract_checker``: the parsed specs (once per session), or a skip when absent.
- ``run``: the CLI (``reconciler.cli.main``) in this process against that emulator, on its
  clock, with its token in ``HUBSPOT_ACCESS_TOKEN`` and the recovery grace at 0 (no search
  lag unless a test turns it on, so no wait for one); returns ``(exit code, stdout, stderr)``.
- an autouse guard: ``HOME`` (and XDG folders) point into a temporary folder and
  ``HUBSPOT_ACCESS_TOKEN`` / ``HUBSPOT_BASE_URL`` are removed, so no test can read or write
  the user's real state or reach a real portal.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from tests.helpers import FakeClock

_CONTRACT_PATH = Path(__file__).parent / "emulator" / "contract.py"
_spec = importlib.util.spec_from_file_location("hubspot_contract", _CONTRACT_PATH)
assert _spec is not None and _spec.loader is not None
hubspot_contract = importlib.util.module_from_spec(_spec)
sys.modules["hubspot_contract"] = hubspot_contract  # tests: ``import hubspot_contract``
_spec.loader.exec_module(hubspot_contract)

EMULATOR_TOKEN = "emulator-test-token"
GRACE_ENV = "RECONCILER_RECOVERY_GRACE_SECONDS"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "contract(enabled=True, requests=True, responses=True): which exchanges with the "
        "emulator fixture are checked against HubSpot's OpenAPI specs at teardown",
    )
    config.addinivalue_line(
        "markers",
        "fake_clock: the emulator fixture is the test's own, on a FakeClock (emulator.clock) "
        "that the in-process CLI fixtures share: waits on it take no time",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests (``slow``: kill loops, storms) first: on two workers they then run
    beside the short ones instead of last and alone (``make test`` steals work between
    the workers, ``--dist worksteal``, so the short ones even out around them)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the real home folder or a real HubSpot portal."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    for name in ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_BASE_URL", "RECONCILER_TARGET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def contract_checker() -> object:
    """HubSpot's specs, parsed once per session; skips the test when they are absent."""
    checker = hubspot_contract.session_checker()
    if checker is None:
        pytest.skip(hubspot_contract.SKIP_REASON)
    return checker


@pytest.fixture(scope="session")
def _emulator_server() -> Iterator[Emulator]:
    with start_emulator(EmulatorConfig(token=EMULATOR_TOKEN), host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A clean emulator for this test; its exchanges are contract-checked at teardown."""
    if request.node.get_closest_marker("fake_clock") is not None:
        config = EmulatorConfig(token=EMULATOR_TOKEN)
        clock = FakeClock(running=True)
        with start_emulator(config, host="127.0.0.1", port=0, clock=clock) as own:
            yield own
            _check_contract(own, request)
        return
    emu: Emulator = request.getfixturevalue("_emulator_server")
    emu.reset()
    yield emu
    _check_contract(emu, request)


def _check_contract(emu: Emulator, request: pytest.FixtureRequest) -> None:
    """Check the test's exchanges against HubSpot's specs (as its marker asks); reset."""
    marker = request.node.get_closest_marker("contract")
    enabled = True
    options = {"requests": True, "responses": True}
    if marker is not None:
        enabled = bool(marker.args[0]) if marker.args else True
        options.update({k: bool(v) for k, v in marker.kwargs.items() if k in options})
    exchanges = emu.requests()
    emu.reset()
    checker = hubspot_contract.session_checker() if enabled else None
    if checker is None:
        return
    problems: list[str] = []
    for entry in exchanges:
        problems.extend(checker.check(entry, **options))
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        pytest.fail(f"emulator exchanges do not match HubSpot's OpenAPI specs:\n  {shown}{more}", pytrace=False)


@pytest.fixture
def run(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run the CLI against the emulator; return (exit code, stdout, stderr)."""
    from reconciler.cli.base import main

    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", emulator.token)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv(GRACE_ENV, "0")  # (a test of search lag sets its own)

    def invoke(*args: str | Path) -> tuple[int, str, str]:
        code = main([*map(str, args), "--base-url", emulator.base_url], clock=emulator.clock)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke
