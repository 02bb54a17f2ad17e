"""The ``reconciler`` command's own process ends without tearing its heap down
(``gc_pause.end_without_teardown``): what it prints, its exit code and the state it saves
must be exactly those of an ordinary exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from reconciler.cli.base import main
from tests.helpers import stored, write_project

ROOT = Path(__file__).resolve().parents[2]


def _reconciler(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m reconciler``, as a user runs it (the console script calls the same)."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})},
        timeout=60,
    )


def _companies(tmp_path: Path, count: int) -> Path:
    return write_project(tmp_path / "proj", {
        "reconciler.yaml": "name: process-end\n",
        "accounts.yaml": "companies:\n" + "".join(
            f"  co{n}:\n    name: Company {n} {'x' * 200}\n    domain: co{n}.example\n"
            for n in range(count)
        ),
    })


def test_a_plan_longer_than_a_pipe_holds_is_printed_whole(tmp_path: Path) -> None:
    # ~1 MB of JSON: far more than a pipe buffers, so the last of it is still in our
    # buffer when the command returns; leaving without a flush would cut it short.
    project = _companies(tmp_path, 1500)
    done = _reconciler("plan", "--offline", "--json", "--project", str(project))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) > 500_000
    assert json.loads(done.stdout)["summary"]["create"] == 1500


def test_the_exit_code_is_the_commands(tmp_path: Path) -> None:
    project = _companies(tmp_path, 2)
    changes = _reconciler("plan", "--offline", "--detailed-exitcode", "--project", str(project))
    assert changes.returncode == 2, changes.stderr
    assert "2 to create" in changes.stdout
    missing = _reconciler("plan", "--offline", "--project", str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        f"Error: project folder '{tmp_path / 'nowhere'}' does not exist"
    ]


def test_an_apply_saves_its_state_and_releases_its_lock(tmp_path: Path, emulator: Any) -> None:
    project = _companies(tmp_path, 3)
    done = _reconciler(
        "apply", "--auto-approve", "--project", str(project), "--base-url", emulator.base_url,
        env={"HUBSPOT_ACCESS_TOKEN": emulator.token},
    )
    assert done.returncode == 0, done.stderr
    assert len(stored(emulator, "companies")) == 3
    state = project / ".reconciler" / "state" / "local.json"
    assert len(json.loads(state.read_text())["records"]) == 3
    # the lock is free and the state complete: the next plan, in-process, changes nothing
    assert main(["plan", "--offline", "--detailed-exitcode", "--project", str(project)]) == 0
