"""StateStore: atomic saves, refusal of damaged or newer files, one apply at a time."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from reconciler.errors import StateError, StateLockedError
from reconciler.state.model import FORMAT_VERSION, RecordState, State
from reconciler.state.store import StateStore


def test_absent_file_is_empty_state(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "s.json").load()
    assert state.records == {} and state.serial == 0 and state.lineage == ""


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "nested" / "s.json")
    state = State.empty(target="local", project="demo")
    state.records["meetings/a"] = RecordState("1", "meetings", {"hs_meeting_title": "A"})
    store.save(state)
    loaded = store.load()
    assert loaded.records == state.records
    assert loaded.serial == 1 and loaded.lineage == state.lineage != ""
    assert json.loads(store.path.read_text())["format_version"] == FORMAT_VERSION
    assert [p.name for p in store.path.parent.iterdir()] == ["s.json"]  # no temp left behind


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "cannot be read"),
        ("[]", "not a reconciler state file"),
        ('{"format_version": 99, "lineage": "x"}', "newer than this reconciler"),
        ('{"format_version": 1, "lineage": "x", "records": {"a": {"no_id": 1}}}', "damaged"),
        (b"\xff\xfe".decode("latin-1"), "cannot be read"),
    ],
)
def test_bad_state_files_are_refused_and_left_untouched(
    tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "s.json"
    path.write_text(content, encoding="latin-1" if "\xff" in content else "utf-8")
    before = path.read_bytes()
    with pytest.raises(StateError, match=fragment):
        StateStore(path).load()
    assert path.read_bytes() == before


def _hold_lock(path: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    with StateStore(path).locked(command="apply"):
        ready.set()
        signal.pause()  # until the test kills it


def test_second_locker_fails_fast_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    ready = multiprocessing.get_context("fork").Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold_lock, args=(str(path), ready))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(StateLockedError, match=f"pid {holder.pid}"):
            with StateStore(path).locked():
                pass
    finally:
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)  # a killed holder must not leave the lock stuck
        holder.join()
    with StateStore(path).locked():
        pass


def test_backups_in_the_same_second_never_overwrite_each_other(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    state = State.empty()
    backups = []
    for n in range(3):
        state.records[f"meetings/m{n}"] = RecordState(str(n), "meetings", {})
        store.save(state)
        backups.append(store.backup())
    assert len({b for b in backups if b is not None}) == 3
    assert [len(json.loads(b.read_text())["records"]) for b in backups if b] == [1, 2, 3]


@pytest.mark.parametrize("target, project, project_id, accepted", [
    ("local", "Demo Project", "demo-4k7q2z", True),    # this project's id
    ("local", "Demo Project", "demo-project", True),   # made before the project got its id
    ("local", "Demo Project", None, True),             # first release: by name
    ("local", "Other", None, False),
    ("local", "Demo Project", "other-9x3m1w", False),
    ("sandbox", "Demo Project", "demo-4k7q2z", False),
    (None, "Demo Project", "demo-4k7q2z", False),
])
def test_a_state_is_bound_to_its_project_and_target(
    tmp_path: Path, target: str | None, project: str, project_id: str | None, accepted: bool
) -> None:
    from reconciler.state.model import StateBinding

    path = tmp_path / "s.json"
    state = State(lineage="", target=target, project=project, project_id=project_id)
    StateStore(path).save(state)
    binding = StateBinding(target="local", project="Demo Project", project_id="demo-4k7q2z",
                           name_slug="demo-project")
    store = StateStore(path, binding=binding)
    if accepted:
        assert store.load().project == project
    else:
        with pytest.raises(StateError, match="is not this project's state"):
            store.load()
        assert store.load(check=False).project == project


def test_saves_write_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real" / "s.json"
    real.parent.mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(real)
    store = StateStore(link)
    state = State.empty(target="local", project="demo")
    state.records["meetings/a"] = RecordState("1", "meetings", {})
    store.save(state)
    store.save(state)
    assert link.is_symlink() and StateStore(link).load().serial == 2
    assert sorted(p.name for p in real.parent.iterdir()) == ["s.json", "s.json.journal"]


def test_the_lock_survives_its_files_being_deleted(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    ready = multiprocessing.get_context("fork").Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold_lock, args=(str(path), ready))
    holder.start()
    try:
        assert ready.wait(10)
        for leftover in tmp_path.iterdir():
            leftover.unlink()
        with pytest.raises(StateLockedError):
            with StateStore(path).locked():
                pass
    finally:
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()


def test_deleting_a_held_lock_file_keeps_the_state_locked_in_one_process(tmp_path: Path) -> None:
    """The folder's lock still stands for a holder whose lock file was deleted (flock
    excludes two opens of a file even in one process, so no second process is needed)."""
    path = tmp_path / "s.json"
    with StateStore(path).locked():
        (tmp_path / "s.json.lock").unlink()
        with pytest.raises(StateLockedError):
            with StateStore(path).locked():
                pass
        assert not (tmp_path / "s.json.lock").exists()  # the refused command left nothing
    with StateStore(path).locked():  # released: the next command gets it
        pass
    assert list(tmp_path.iterdir()) == []


def test_one_process_holds_two_states_of_one_folder_at_once(tmp_path: Path) -> None:
    """As a run over several targets does, each target's state locked in turn."""
    local, sandbox = StateStore(tmp_path / "local.json"), StateStore(tmp_path / "sandbox.json")
    with local.locked(), sandbox.locked():
        with pytest.raises(StateLockedError):
            with StateStore(tmp_path / "sandbox.json").locked():
                pass
    assert list(tmp_path.iterdir()) == []


def test_a_lock_file_left_by_a_killed_holder_is_taken_over_and_removed(tmp_path: Path) -> None:
    (tmp_path / "s.json.lock").write_text('{"pid": 1}')  # what a killed holder leaves
    with StateStore(tmp_path / "s.json").locked(command="state rm"):
        note = json.loads((tmp_path / "s.json.lock").read_text())
        assert note["pid"] == os.getpid() and note["command"] == "state rm"
    assert list(tmp_path.iterdir()) == []


def test_the_first_releases_folder_lock_and_this_one_exclude_each_other(tmp_path: Path) -> None:
    import fcntl

    path = tmp_path / "s.json"
    folder = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the first release held it
        with pytest.raises(StateLockedError):
            with StateStore(path).locked():
                pass
        fcntl.flock(folder, fcntl.LOCK_UN)
        with StateStore(path).locked():
            with pytest.raises(BlockingIOError):
                fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(folder)


def test_in_flight_records_have_no_id_yet(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({
        "format_version": 1, "lineage": "l", "serial": 1, "records": {},
        "in_flight": {"b1": {"object_type": "meetings", "addresses": ["meetings/a"],
                             "started_at": 1.5, "records": {"meetings/a": {
                                 "id": "", "object_type": "meetings", "properties": {}}}}},
    }))
    assert StateStore(path).load().in_flight["b1"]["addresses"] == ["meetings/a"]
