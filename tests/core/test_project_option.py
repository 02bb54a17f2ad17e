"""``--project`` names a folder the loader reads: an unreadable one is reported by the
loader, the same for every command (exit 1, what to fix), not by click's usage check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.loading.test_files import _without_file_powers

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="drops root's file powers")


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"], ["validate"]])
def test_an_unreadable_project_folder_is_the_loaders_error(
    tmp_path: Path, command: list[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "reconciler.yaml").write_text("name: demo\n")
    project.chmod(0o000)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", *command, "--project", str(project)],
            capture_output=True, text=True, timeout=60, cwd=REPO,
            preexec_fn=_without_file_powers,
        )  # fmt: skip
    finally:
        project.chmod(0o755)
    if result.returncode == 97:
        pytest.skip("cannot drop root's file capabilities here")
    assert (result.returncode, result.stderr.splitlines()) == (1, [
        f"Error: cannot read the project folder '{project}': permission denied; "
        "check its permissions (reading and listing it)"
    ])
