"""JSON nested past Python's recursion limit, wherever we read JSON someone could have
written: the state file, its journal, a record's applied digest (a property on the
portal), and our caches. Each is a clear refusal or a fallback, never RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.identity.applied_digest import decode_digest
from reconciler.identity.refresh_log import load_log
from tests.helpers import Run, write_project

#: Past the decoder's recursion limit; 4,000 characters fit in one HubSpot property.
DEEP = "[" * 2_000 + "]" * 2_000


def test_a_deeply_nested_digest_property_is_no_digest() -> None:
    # the digest is read from a portal property: another app (or person) may write it
    assert decode_digest(DEEP) is None


def test_a_deeply_nested_refresh_log_is_no_log(tmp_path: Path) -> None:
    (tmp_path / "log.json").write_text(DEEP)
    assert load_log(tmp_path / "log.json") is None


@pytest.mark.parametrize("which", ["local.json", "local.json.journal"])
def test_a_deeply_nested_state_file_is_exit_1(run: Run, tmp_path: Path, which: str) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": "name: p\nid: p-7k2m9q\n",
        "s.yaml": "companies:\n  acme: {name: Acme}\n",
    })
    assert run("apply", "--project", root, "--auto-approve")[0] == 0
    state = root / ".reconciler" / "state" / which
    state.write_text(DEEP + ("\n" if which.endswith("journal") else ""))
    code, out, err = run("plan", "--project", root, "--offline")
    assert code == 1, out + err
    assert "Traceback" not in err and "Internal error" not in err, err
    assert "nested too deeply" in err
