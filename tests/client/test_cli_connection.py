"""A wrong --base-url fails within seconds through the real CLI, naming the host and
what to check (issue 11: it used to wait 22 s in silence)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.cli.base import main
from tests.helpers import write_project


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:9", "cannot reach 127.0.0.1:9: the connection was refused"),
        ("https://no-such-host.invalid",
         "cannot reach no-such-host.invalid: the host name 'no-such-host.invalid' is unknown"),
    ],
)  # fmt: skip
def test_a_wrong_base_url_fails_at_once_naming_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    base_url: str, expected: str,
) -> None:  # fmt: skip
    project = write_project(tmp_path / "wrong-url", {
        "reconciler.yaml": "name: wrong-url\n",
        "spec.yaml": "meetings:\n  kickoff:\n    title: Kickoff\n    start: 2026-12-01T10:00:00Z\n",
    })  # fmt: skip
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "not-a-real-token-0000")
    monkeypatch.setenv("NO_COLOR", "1")
    started = time.monotonic()
    code = main(["plan", "--project", str(project), "--base-url", base_url])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1, err
    assert elapsed < 3, elapsed
    assert expected in err
    assert "Check the base URL (--base-url" in err
    assert "Traceback" not in err
