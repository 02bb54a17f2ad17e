"""`reconciler targets --json` (the CI matrix) with targets a hostile or careless
reconciler.yaml names: each portal's jobs get tokens of that portal only."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.base import main


def _targets_json(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["targets", "--json", "--project", str(root)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_two_portals_on_one_write_token_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # neither sets token_env: both apply jobs would get HUBSPOT_ACCESS_TOKEN, one portal's
    # token, and west's apply would write west's records into east's portal
    (tmp_path / "reconciler.yaml").write_text(
        "name: two\ntimezone: Europe/Berlin\n"
        "targets:\n  east: {portal_id: 1}\n  west: {portal_id: 2}\n"
    )
    code, out, err = _targets_json(tmp_path, capsys)
    assert (code, out) == (1, "")
    # (at west, where a token_env would go)
    assert ("reconciler.yaml:5:3: targets.west.token_env: cannot run in the CI workflow: it "
            "and target east would share the write secret HUBSPOT_ACCESS_TOKEN; give each its "
            "own token_env") in err
    assert "Traceback" not in err


def test_a_newline_in_a_target_name_stays_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        'name: odd\ntimezone: Europe/Berlin\ntargets:\n  "x\\ny": {}\n'
    )
    code, out, err = _targets_json(tmp_path, capsys)
    assert (code, out) == (1, "")
    first, *rest = err.splitlines()
    assert first.startswith("reconciler.yaml:4:3: ") or first.startswith(str(tmp_path))
    assert "is not a valid target name" in first
    assert rest == ["Error: 1 problem found in the spec"]
