"""`reconciler export`: a golden portal copied into spec files, and seeded into another."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.client import ClientSettings, HubSpotClient
from reconciler.emulator import Emulator, EmulatorConfig, start_emulator
from tests.helpers import Run, stored

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(run: Run, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI with no --base-url added (for validate, and for the second emulator)."""
    from reconciler.cli import main

    def invoke(*args: str | Path) -> tuple[int, str, str]:
        code = main([*map(str, args)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


@pytest.fixture
def second(emulator: Emulator) -> Iterator[Emulator]:
    """Another portal to seed the copy into (the same token, so one environment serves)."""
    with start_emulator(EmulatorConfig(token=emulator.token), host="127.0.0.1", port=0) as emu:
        yield emu


def export(run: Run, golden: Path, out: Path, *extra: str) -> str:
    assert run("apply", "--project", golden, "--auto-approve")[0] == 0
    code, stdout, stderr = run("export", "--project", golden, "--out", out, *extra)
    assert code == 0, stdout + stderr
    return stdout


def test_export_writes_readable_spec_that_validates(
    run: Run, cli: Cli, golden: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    stdout = export(run, golden, out)
    assert "Exported" in stdout
    for name in ("meetings.yaml", "calls.yaml", "contacts.yaml"):
        print((out / name).read_text())
    code, o, e = cli("validate", out)
    assert code == 0, o + e
