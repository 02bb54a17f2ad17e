"""Ctrl-C as a user presses it: the CLI in its own process, SIGINT sent to it.

At the confirmation prompt Ctrl-C cancels (exit 130, nothing written); during the
recovery of an interrupted apply it stops the wait at once (exit 130), instead of waiting
out the whole search-lag grace.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import stored, write_project

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")

ROOT = Path(__file__).resolve().parents[2]
MAIN = "import sys; from reconciler.cli import main; sys.exit(main())"


def _env(emulator: Any, **extra: str) -> dict[str, str]:
    return {**os.environ, "HUBSPOT_ACCESS_TOKEN": emulator.token, "NO_COLOR": "1",
            "PYTHONPATH": str(ROOT), **extra}


def _project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "proj", {
        "reconciler.yaml": "name: ctrlc\n",
        "accounts.yaml": "companies:\n  acme:\n    name: Acme\n    domain: acme.example\n",
    })


def _read_until(fd: int, text: str, timeout: float = 30.0) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {text!r}; output so far: {seen!r}"
        if not select.select([fd], [], [], min(left, 0.5))[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode(errors="replace")


def _finish(process: subprocess.Popen[bytes], fd: int, what: str, timeout: float = 15.0) -> str:
    """Read the terminal until the CLI exits (so it never blocks writing to it); kill it
    and fail with what it printed if it is still running after ``timeout`` seconds."""
    seen = b""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the terminal closed: the CLI is exiting
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    if process.poll() is None:
        process.kill()
        process.wait()
        pytest.fail(f"the CLI was still running {timeout:.0f} s after {what}; "
                    f"it printed: {seen.decode(errors='replace')!r}")
    return seen.decode(errors="replace")


def _apply_at_the_prompt(project: Path, emulator: Any) -> tuple[subprocess.Popen[bytes], int]:
    """``apply`` on a terminal (a pty), waiting at its confirmation prompt."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN, "apply", "--project", str(project),
         "--base-url", emulator.base_url],
        stdin=terminal, stdout=terminal, stderr=terminal, env=_env(emulator),
    )
    os.close(terminal)
    try:
        _read_until(controller, "Apply these changes? [y/N]: ")
    except BaseException:
        process.kill()
        process.wait()
        os.close(controller)
        raise
    return process, controller


def test_ctrl_c_at_the_confirmation_prompt_cancels(tmp_path: Path, emulator: Any) -> None:
    # Sent the moment the prompt shows: the CLI may not be reading yet (it once hung there
    # until Enter, about one run in ten).
    project = _project(tmp_path)
    process, controller = _apply_at_the_prompt(project, emulator)
    try:
        process.send_signal(signal.SIGINT)
        out = _finish(process, controller, "Ctrl-C at the confirmation prompt")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert process.returncode == 130, out
    assert stored(emulator, "companies") == []
    assert not (project / ".reconciler" / "state" / "local.json").exists()


@pytest.mark.parametrize(("answers", "created"), [
    ("y\n", 1), ("n\n", 0), ("\n", 0), ("maybe\nyes\n", 1),
])
def test_the_answer_at_the_confirmation_prompt(
    tmp_path: Path, emulator: Any, answers: str, created: int
) -> None:
    project = _project(tmp_path)
    process, controller = _apply_at_the_prompt(project, emulator)
    try:
        os.write(controller, answers.encode())
        out = _finish(process, controller, f"answering {answers!r}", timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert process.returncode == 0, out
    assert len(stored(emulator, "companies")) == created
    assert ("Apply cancelled." in out) == (created == 0), out
    assert ("Error: invalid input" in out) == answers.startswith("maybe"), out


def test_ctrl_c_during_recovery_stops_at_once(tmp_path: Path, emulator: Any) -> None:
    project = _project(tmp_path)
    state = project / ".reconciler" / "state" / "local.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({
        "format_version": 1, "lineage": "l-1", "serial": 3, "target": "local",
        "project": "ctrlc", "project_id": "ctrlc", "records": {}, "owners": {},
        "in_flight": {"batch-1": {"object_type": "companies", "addresses": ["companies/acme"],
                                  "started_at": time.time()}},
    }))
    # A batch in flight means an earlier apply made the marker properties: recovery searches
    # by them, and a search on a property the portal lacks is a 400, as on HubSpot.
    for name in ("reconciler_key", "reconciler_project"):
        made = httpx.post(f"{emulator.base_url}/crm/v3/properties/companies", json={
            "name": name, "label": name, "type": "string", "fieldType": "text",
            "groupName": "companyinformation"}, headers={"Authorization": f"Bearer {emulator.token}"})
        assert made.status_code == 201, made.text
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN, "apply", "--project", str(project), "--auto-approve",
         "--base-url", emulator.base_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(emulator, RECONCILER_RECOVERY_GRACE_SECONDS="120"),
    )
    try:
        searched = None
        for _ in range(60):  # at most 30 s, unless the CLI ends first
            searched = emulator.wait_for_request(lambda r: "/search" in r["path"], timeout=0.5)
            if searched is not None or process.poll() is not None:
                break
        assert searched is not None, process.communicate()  # (it waits in recovery now)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, out + err
    assert time.monotonic() - started < 10  # not the 120 s grace
    assert stored(emulator, "companies") == []
    assert json.loads(state.read_text())["in_flight"]  # still to recover next time
