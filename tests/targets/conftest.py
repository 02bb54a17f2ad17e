"""Two portals: the shared ``emulator`` (target ``one``) and a second emulator of this
module's own (target ``two``, other owners), and the CLI run against the targets that
``reconciler.yaml`` names, not against a ``--base-url``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.config import EmulatorConfig, Owner
from reconciler.emulator.embedded import Emulator, start_emulator
from tests.targets.gitops_portals import (  # noqa: F401  (the GitOps tests' portals and runner)
    actions,
    github,
    portals,
    repo,
    secrets,
)

SECOND_TOKEN = "second-portal-token"
SECOND_OWNERS = (
    Owner("2001", "dana@second.example", "Dana", "Dorn", 6001),
    Owner("2002", "erik@second.example", "Erik", "Eng", 6002),
)

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="session")
def _second_server() -> Iterator[Emulator]:
    config = EmulatorConfig(token=SECOND_TOKEN, owners=SECOND_OWNERS, portal_id=7654321)
    with start_emulator(config, host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture
def second(_second_server: Emulator) -> Iterator[Emulator]:
    _second_server.reset()
    yield _second_server
    _second_server.reset()


@pytest.fixture
def cli(
    emulator: Emulator, second: Emulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """The CLI with each target's token in its own variable (TOKEN_ONE, TOKEN_TWO)."""
    from reconciler.cli.base import main

    monkeypatch.setenv("TOKEN_ONE", emulator.token)
    monkeypatch.setenv("TOKEN_TWO", second.token)
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(*args: str | Path) -> tuple[int, str, str]:
        code = main([*map(str, args)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def targets_yaml(
    emulator: Any, second: Any, extra_one: str = "", extra_two: str = "", head: str = ""
) -> str:
    """``reconciler.yaml`` with targets ``one`` and ``two`` (``extra_*``: more of their
    settings, as YAML lines indented by four spaces; ``head``: more project settings)."""
    return (
        "name: fleet\n"
        "id: fleet-demo-01\n"
        f"{head}"
        "targets:\n"
        "  one:\n"
        f"    base_url: {emulator.base_url}\n"
        "    token_env: TOKEN_ONE\n"
        f"{extra_one}"
        "  two:\n"
        f"    base_url: {second.base_url}\n"
        "    token_env: TOKEN_TWO\n"
        f"{extra_two}"
    )
