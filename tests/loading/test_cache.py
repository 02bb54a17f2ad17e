"""The parse cache is checked, never trusted: a bad entry costs speed, never correctness.
Only an entry sealed with this user's own key (one this user's runs wrote) skips the shape
check."""

from __future__ import annotations

import hashlib
import hmac
import json
import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.loading import cache as cache_module
from reconciler.loading.cache import DraftCache, user_key
from reconciler.loading.project import load_project
from tests.helpers import write_unsealed_cache_entry

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
    return sorted((root / ".reconciler" / "cache").glob("*.entry"))


def _any(payload: dict[str, Any]) -> bool:
    return True


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
    """Store ``payload`` under the entry's key with a valid header and digest, as someone
    without this user's key would (JSON, no seal)."""
    write_unsealed_cache_entry(root, _entries(root)[0].stem, payload)


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
    keep = outside / ("0" * 64 + ".entry")
    keep.write_text("{}")
    root = project({"project/spec.yaml": SPEC}) / "project"
    (root / ".reconciler").mkdir()
    (root / ".reconciler" / "cache").symlink_to(outside, target_is_directory=True)
    assert _title(root) == "Kickoff"
    assert sorted(p.name for p in outside.iterdir()) == [keep.name]  # nothing written or pruned


def test_pruning_removes_only_cache_entries(cached: Path) -> None:
    folder = cached / ".reconciler" / "cache"
    (folder / "notes.json").write_text("{}")
    (folder / ("a" * 64 + ".entry")).write_text("{}")
    old_format = folder / (_entries(cached)[0].stem + ".json")  # (entries before format 5)
    old_format.write_text("{}")
    _title(cached)
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and "notes.json" in names and "a" * 64 + ".entry" not in names


def test_entries_say_what_they_are(cached: Path) -> None:
    header, _, body = _entries(cached)[0].read_bytes().partition(b"\n")
    fields = json.loads(header)
    assert set(fields) == {"format", "key", "sha256", "body", "seal"}
    assert fields["body"] == "marshal" and "rows" in marshal.loads(body)


def test_an_unsealed_entry_of_the_right_shape_is_used(cached: Path) -> None:
    """What the shape check lets in is used (whoever can write the cache can write the
    YAML beside it): the seal only saves the check."""
    rows = DraftCache(cached, enabled=True, salt="any").get(_entries(cached)[0].stem, _any)
    assert rows is not None
    rows["rows"][0][4]["hs_meeting_title"] = "From the cache"
    _rewrite(cached, rows)
    assert b'"body"' not in _entries(cached)[0].read_bytes().partition(b"\n")[0]
    assert _title(cached) == "From the cache"
    # and, checked once, it is written again sealed: the next load skips the check
    assert json.loads(_entries(cached)[0].read_bytes().partition(b"\n")[0])["seal"]
    assert _title(cached) == "From the cache"


def _marshalled(root: Path, payload: Any, seal_key: bytes | None) -> None:
    """Store ``payload`` as a marshalled entry with a valid digest, sealed with
    ``seal_key`` (None: no seal)."""
    entry = _entries(root)[0]
    key = entry.stem
    body = marshal.dumps(payload)
    digest = hashlib.sha256(key.encode() + body).hexdigest()
    fields: dict[str, Any] = {"format": cache_module.FORMAT, "key": key, "sha256": digest,
                              "body": "marshal"}
    if seal_key is not None:
        tag = (f"{cache_module.FORMAT}|{sys.implementation.cache_tag}|{marshal.version}|"
               f"{cache_module.code_fingerprint()}|{key}|{digest}")
        fields["seal"] = hmac.new(seal_key, tag.encode(), hashlib.sha256).hexdigest()
    entry.write_bytes(json.dumps(fields).encode() + b"\n" + body)


@pytest.mark.parametrize("seal_key", [None, b"someone else's key, 32 bytes lo"])
def test_a_marshalled_entry_not_sealed_by_this_user_is_never_read(
    cached: Path, seal_key: bytes | None
) -> None:
    # a body marshal would turn into objects of any type: never unmarshalled unless sealed
    _marshalled(cached, {"rows": [[1, 2, 3]], "generate": 5}, seal_key)
    assert _title(cached) == "Kickoff"
    assert json.loads(_entries(cached)[0].read_bytes().partition(b"\n")[0])["seal"]


def test_an_entry_sealed_by_this_user_is_used_as_it_is(cached: Path) -> None:
    key = user_key()
    assert key is not None
    payload = DraftCache(cached, enabled=True, salt="any").get(_entries(cached)[0].stem, _any)
    assert payload is not None
    payload["rows"][0][4]["hs_meeting_title"] = "Sealed"
    _marshalled(cached, payload, key)
    assert _title(cached) == "Sealed"


def test_the_key_is_made_once_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = tmp_path / "xdg" / cache_module.KEY_FILE
    key = user_key()
    assert key is not None and path.read_bytes() == key and len(key) == 32
    assert path.stat().st_mode & 0o077 == 0
    assert cache_module._read_or_make_key(path) == key  # read again, not made again


@pytest.mark.parametrize("problem", ["group-writable", "readable by others", "short"])
def test_a_key_of_ours_others_could_touch_is_made_anew(tmp_path: Path, problem: str) -> None:
    path = tmp_path / cache_module.KEY_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"k" * (31 if problem == "short" else 32))
    path.chmod({"group-writable": 0o620, "readable by others": 0o644}.get(problem, 0o600))
    key = cache_module._read_or_make_key(path)
    assert key is not None and key != b"k" * 32 and path.read_bytes() == key
    assert path.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("problem", ["a link", "a folder"])
def test_a_key_that_is_not_a_file_of_ours_seals_nothing(tmp_path: Path, problem: str) -> None:
    path = tmp_path / cache_module.KEY_FILE
    path.parent.mkdir(parents=True)
    if problem == "a link":
        (tmp_path / "elsewhere").write_bytes(b"k" * 32)
        (tmp_path / "elsewhere").chmod(0o600)
        path.symlink_to(tmp_path / "elsewhere")
    else:
        path.mkdir()
    assert cache_module._read_or_make_key(path) is None
    assert (tmp_path / "elsewhere").exists() or path.is_dir()  # left alone


def test_without_a_fingerprint_of_the_code_nothing_is_sealed(
    project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "_fingerprint", [None])  # (a package it cannot list)
    root = project({"spec.yaml": SPEC})
    assert _title(root) == "Kickoff" and _title(root) == "Kickoff"
    header = json.loads(_entries(root)[0].read_bytes().partition(b"\n")[0])
    assert set(header) == {"format", "key", "sha256"}


def test_a_sealed_entry_skips_the_check_and_an_unsealed_one_is_checked(cached: Path) -> None:
    cache = DraftCache(cached, enabled=True, salt="any")
    key = _entries(cached)[0].stem
    checked: list[object] = []

    def check(payload: dict[str, Any]) -> bool:
        checked.append(payload)
        return type(payload.get("rows")) is list and all(type(r) is list for r in payload["rows"])

    assert cache.get(key, check) is not None and checked == []  # sealed: not checked
    _rewrite(cached, {"rows": [7]})  # replaced since, unsealed: checked, and refused
    assert cache.get(key, check) is None and checked == [{"rows": [7]}]


def test_another_build_of_the_tool_does_not_believe_the_seal(
    cached: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry whose shape changed without a FORMAT bump is made again, not believed."""
    key = _entries(cached)[0].stem
    monkeypatch.setattr(cache_module, "_fingerprint", ["another build"])
    assert DraftCache(cached, enabled=True, salt="any").get(key, _any) is None


def test_pruning_goes_past_what_it_cannot_remove(cached: Path) -> None:
    folder = cached / ".reconciler" / "cache"
    (folder / ("b" * 64 + ".entry")).mkdir()
    (folder / ("c" * 64 + ".entry")).write_text("{}")
    _title(cached)
    assert not (folder / ("c" * 64 + ".entry")).exists()


def test_without_a_place_for_the_key_entries_are_unsealed_and_still_used(
    project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert user_key() is None
    root = project({"spec.yaml": SPEC})
    assert _title(root) == "Kickoff"
    header = json.loads(_entries(root)[0].read_bytes().partition(b"\n")[0])
    assert set(header) == {"format", "key", "sha256"}
    assert _title(root) == "Kickoff"
