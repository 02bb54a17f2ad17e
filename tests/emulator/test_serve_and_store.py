"""Starting and stopping: the CLI command, the embedded handle, persistence in a file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli.base import cli
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import start_emulator
from reconciler.errors import ConfigError


def test_serve_prints_url_and_token_and_answers(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-u", "-c", "import sys; from reconciler.cli import main; sys.exit(main())",
         "emulator", "serve", "--port", "0", "--data", str(tmp_path / "emu.sqlite"), "--portal-id", "2519445"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        url = re.search(r"(http://127\.0\.0\.1:\d+)", process.stdout.readline())
        token = re.search(r"Token: (\S+)", process.stdout.readline())
        assert url and token
        response = httpx.get(url.group(1) + "/crm/v3/owners", headers={"Authorization": f"Bearer {token.group(1)}"})
        assert response.status_code == 200
        account = httpx.get(url.group(1) + "/account-info/v3/details", headers={"Authorization": f"Bearer {token.group(1)}"})
        assert account.json()["portalId"] == 2519445
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_refuses_remote_host_without_flag() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "--allow-remote" in str(result.exception) + result.output


def test_serve_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--help"], catch_exceptions=False)
    assert result.exit_code == 0 and "Example:" in result.output


def test_file_store_survives_a_restart(tmp_path: Path) -> None:
    config = EmulatorConfig(token="t", data_path=str(tmp_path / "portal.sqlite"))
    with start_emulator(config) as emu:
        created = httpx.post(emu.base_url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer t"},
                             json={"properties": {"email": "keep@example.com"}, "associations": []})
        assert created.status_code == 201
        httpx.post(emu.base_url + "/crm/v3/properties/contacts", headers={"Authorization": "Bearer t"}, json={
            "name": "k", "label": "K", "type": "string", "fieldType": "text", "groupName": "contactinformation"})
    with start_emulator(config) as emu:
        records = emu.records("contacts")
        assert [r["properties"]["email"] for r in records] == ["keep@example.com"]
        again = httpx.post(emu.base_url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer t"},
                           json={"properties": {"email": "two@example.com", "k": "v"}, "associations": []})
        assert again.status_code == 201 and int(again.json()["id"]) > int(created.json()["id"])


def _damaged_copy(tmp_path: Path) -> Path:
    """A real emulator database with its pages overwritten past the header."""
    path = tmp_path / "damaged.sqlite"
    with start_emulator(EmulatorConfig(token="t", data_path=str(path))) as emu:
        httpx.post(emu.base_url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer t"},
                   json={"properties": {"email": "x@example.com"}, "associations": []})
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 8, len(data), 97):
        data[offset] = 0xFF
    path.write_bytes(bytes(data))
    return path


def test_a_corrupt_database_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli.base import main

    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("these are my notes, not a database\n" * 100)
    for path in (not_sqlite, _damaged_copy(tmp_path)):
        with pytest.raises(ConfigError, match="move it aside"):
            start_emulator(EmulatorConfig(token="t", data_path=str(path)))  # the library raises...
        code = main(["emulator", "serve", "--port", "0", "--data", str(path)])  # ...the CLI exits 1
        err = capsys.readouterr().err
        assert code == 1, err
        assert str(path) in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
