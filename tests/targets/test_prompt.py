"""apply over several targets asks once, on a terminal, after every plan is shown; Ctrl-C
at that question applies nothing anywhere (exit 130)."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.core.test_interrupts import MAIN, ROOT, _read_until
from tests.helpers import stored, write_project
from tests.targets.conftest import targets_yaml
from tests.targets.test_many_targets import SPEC

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX ptys")


def _start(project: Path, emulator: Any, second: Any) -> tuple[subprocess.Popen[bytes], int]:
    controller, terminal = pty.openpty()
    env = {**os.environ, "TOKEN_ONE": emulator.token, "TOKEN_TWO": second.token,
           "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    env.pop("HUBSPOT_BASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN, "apply", "--project", str(project), "-t", "one", "-t", "two"],
        stdin=terminal, stdout=terminal, stderr=terminal, env=env,
    )
    os.close(terminal)
    return process, controller


def test_one_question_for_every_target(tmp_path: Path, emulator: Any, second: Any) -> None:
    project = write_project(tmp_path / "p", {"reconciler.yaml": targets_yaml(emulator, second), **SPEC})
    process, controller = _start(project, emulator, second)
    try:
        shown = _read_until(controller, "Apply these changes to 2 targets?")
        assert shown.index("== target one ==") < shown.index("== target two ==")
        os.write(controller, b"y\n")
        rest = _read_until(controller, "two     Apply complete")
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert code == 0
    assert (shown + rest).count("Apply these changes") == 1
    assert len(stored(emulator, "meetings")) == len(stored(second, "meetings")) == 1


def test_ctrl_c_at_the_question_applies_nothing(tmp_path: Path, emulator: Any, second: Any) -> None:
    project = write_project(tmp_path / "p", {"reconciler.yaml": targets_yaml(emulator, second), **SPEC})
    process, controller = _start(project, emulator, second)
    try:
        _read_until(controller, "Apply these changes to 2 targets?")
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert code == 130
    assert stored(emulator, "companies") == [] and stored(second, "companies") == []
