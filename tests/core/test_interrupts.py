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


def test_ctrl_c_at_the_confirmation_prompt_cancels(tmp_path: Path, emulator: Any) -> None:
    project = _project(tmp_path)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN, "apply", "--project", str(project),
         "--base-url", emulator.base_url],
        stdin=terminal, stdout=terminal, stderr=terminal, env=_env(emulator),
    )
    os.close(terminal)
    try:
        _read_until(controller, "Apply these changes?")
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert code == 130
    assert stored(emulator, "companies") == []
    assert not (project / ".reconciler" / "state" / "local.json").exists()


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
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN, "apply", "--project", str(project), "--auto-approve",
         "--base-url", emulator.base_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(emulator, RECONCILER_RECOVERY_GRACE_SECONDS="120"),
    )
    try:
        deadline = time.monotonic() + 30
        while not any("/search" in r["path"] for r in emulator.requests()):
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.05)
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
