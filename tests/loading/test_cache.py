"""The parse cache is checked, never trusted: a bad entry costs speed, never correctness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.loading.cache import DraftCache
from reconciler.loading.project import load_project

from .conftest import REFERENCE, REPO

SPEC = """\
meetings:
  kickoff:
    title: Kickoff
    start: 2026-11-23T10:00:00Z
    duration: 45m
    associations:
      - contact: jane
contacts:
  jane:
    email: jane@example.com
"""


def _entries(root: Path) -> list[Path]:
    return sorted((root / ".reconciler" / "cache").glob("*.json"))


def _title(root: Path) -> str:
    desired = load_project(root, reference_time=REFERENCE)
    return desired.records["meetings/kickoff"].properties["hs_meeting_title"]


@pytest.fixture
def cached(project) -> Path:
    root = project({"spec.yaml": SPEC})
    assert _title(root) == "Kickoff"
    assert len(_entries(root)) == 1
    return root


def test_an_edited_entry_is_not_believed(cached: Path) -> None:
    entry = _entries(cached)[0]
    entry.write_bytes(entry.read_bytes().replace(b"Kickoff", b"Hacked!"))
    assert _title(cached) == "Kickoff"
    assert b"Hacked!" not in entry.read_bytes()  # and it was written again, intact


def _rewrite(root: Path, payload: Any) -> None:
    """Store ``payload`` under the entry's key with a valid header and digest."""
    entry = _entries(root)[0]
    DraftCache(root, enabled=True, salt="any").put(entry.stem, payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"rows": "oops"},
        {"rows": [["meetings"]]},
        {"rows": [None]},
        {"rows": [["meetings", "kickoff", 2, 3, {"hs_meeting_title": 5}, {}, [], None, None, 2]]},
        {"rows": [["meetings", "kickoff", 2, 3, {}, {}, [["contacts"]], None, None, 2]]},
        {"rows": [["meetings", "kickoff", 2, 3, {}, {}, [], {"organizer": 1}, None, 2]]},
        {"rows": [["meetings", "kickoff", "2", 3, {}, {}, [], None, None, 9]]},
        {"nothing": []},
    ],
)
def test_an_entry_of_the_wrong_shape_is_parsed_again(cached: Path, payload: Any) -> None:
    _rewrite(cached, payload)
    assert _title(cached) == "Kickoff"


@pytest.mark.parametrize(
    "content",
    [b"", b"\n", b"{not json\n{}", b"[]\n{}", b'{"format": 3}\n{}', b"\xff\xfe\n\x00", b"{}" * 10],
)
def test_a_malformed_entry_is_parsed_again(cached: Path, content: bytes) -> None:
    _entries(cached)[0].write_bytes(content)
    assert _title(cached) == "Kickoff"


def test_an_entry_copied_under_another_key_is_ignored(project) -> None:
    root = project({"a.yaml": SPEC, "b.yaml": "deals:\n  d:\n    name: D\n"})
    load_project(root, reference_time=REFERENCE)
    first, second = _entries(root)
    first.write_bytes(second.read_bytes())
    desired = load_project(root, reference_time=REFERENCE)
    assert set(desired.records) == {"meetings/kickoff", "contacts/jane", "deals/d"}


def test_an_entry_that_is_a_fifo_does_not_hang(cached: Path) -> None:
    entry = _entries(cached)[0]
    entry.unlink()
    os.mkfifo(entry)
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(cached)],
        capture_output=True, text=True, timeout=30, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 2 records")


def test_a_linked_cache_folder_is_not_used(project, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    keep = outside / ("0" * 64 + ".json")
    keep.write_text("{}")
    root = project({"project/spec.yaml": SPEC}) / "project"
    (root / ".reconciler").mkdir()
    (root / ".reconciler" / "cache").symlink_to(outside, target_is_directory=True)
    assert _title(root) == "Kickoff"
    assert sorted(p.name for p in outside.iterdir()) == [keep.name]  # nothing written or pruned


def test_pruning_removes_only_cache_entries(cached: Path) -> None:
    folder = cached / ".reconciler" / "cache"
    (folder / "notes.json").write_text("{}")
    (folder / ("a" * 64 + ".json")).write_text("{}")
    _title(cached)
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and "notes.json" in names and "a" * 64 + ".json" not in names


def test_entries_say_what_they_are(cached: Path) -> None:
    header, _, body = _entries(cached)[0].read_bytes().partition(b"\n")
    assert set(json.loads(header)) == {"format", "key", "sha256"}
    assert "rows" in json.loads(body)
