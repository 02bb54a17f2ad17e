"""``reconciler.yaml`` is read once per command, however many targets the command runs over
(it was read five times by ``apply --target a --target b``), and each target is resolved
once (it was twice). Observed, not patched: a Python audit hook sees every file the
process opens, a profile hook every call."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reconciler.settings import resolve_target
from tests.targets.conftest import Cli
from tests.targets.test_many_targets import managed, project

#: What the process opened while a test watches (None: nobody watches).
_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], (str, os.PathLike)):
        _opened.append(os.fspath(args[0]))


# (An audit hook cannot be removed; outside ``reads_of`` it does nothing.)
sys.addaudithook(_audit)


@contextmanager
def reads_of(path: Path) -> Iterator[list[str]]:
    """The opens of ``path`` while the block runs (the list fills as it does)."""
    global _opened
    opened: list[str] = []
    _opened = opened
    reads: list[str] = []
    try:
        yield reads
    finally:
        _opened = None
        reads.extend(p for p in opened if Path(p).name == path.name and
                     Path(p).resolve() == path.resolve())


@pytest.mark.parametrize("args", [
    ("plan", "-t", "one", "-t", "two"),
    ("apply", "-t", "one", "-t", "two", "--auto-approve"),
    ("plan", "--all-targets", "--json"),
    ("plan", "-t", "one"),
    ("plan", "--offline"),
    ("state", "list", "-t", "one"),
])
def test_every_command_reads_the_project_file_once(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any, args: tuple[str, ...]
) -> None:
    root = project(tmp_path, emulator, second)
    with reads_of(root / "reconciler.yaml") as reads:
        code, out, err = cli(*args, "--project", root)
    assert code == 0, out + err
    assert len(reads) == 1, reads


def test_import_reads_the_project_file_once(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    """import shows what it will write, then writes it: from one reading of the file."""
    root = project(tmp_path, emulator, second)
    code, out, err = cli("apply", "--project", root, "-t", "one", "--auto-approve")
    assert code == 0, out + err
    hubspot_id = managed(root, "one")["companies/acme"]
    code, out, err = cli("state", "rm", "companies/acme", "--offline", "-t", "one",
                         "--project", root)
    assert code == 0, out + err
    with reads_of(root / "reconciler.yaml") as reads:
        code, out, err = cli("import", "companies/acme", hubspot_id, "-t", "one",
                             "--auto-approve", "--project", root)
    assert code == 0, out + err
    assert len(reads) == 1, reads
    assert managed(root, "one")["companies/acme"] == hubspot_id


def test_each_target_is_resolved_once(
    cli: Cli, tmp_path: Path, emulator: Any, second: Any
) -> None:
    root = project(tmp_path, emulator, second)
    calls: list[str] = []

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code is resolve_target.__code__:
            calls.append(frame.f_locals["target_name"])

    before = sys.getprofile()
    sys.setprofile(profile)
    threading.setprofile(profile)  # (the targets' threads)
    try:
        code, out, err = cli("apply", "--project", root, "-t", "one", "-t", "two",
                             "--auto-approve")
    finally:
        threading.setprofile(None)
        sys.setprofile(before)
    assert code == 0, out + err
    assert sorted(calls) == ["one", "two"]
