"""The state's journal: saves cost what changed, a torn or stale journal is safe, a damaged
one is refused untouched, a first-release file is migrated with a backup, and the lock is
per state file."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.errors import StateError, StateLockedError
from reconciler.state.model import FORMAT_VERSION, AppliedAssociation, RecordState, State
from reconciler.state.store import StateStore

FORMAT1 = Path(__file__).parents[1] / "data" / "state" / "format1-local.json"


def _record(n: int) -> RecordState:
    return RecordState(str(n), "meetings", {"hs_meeting_title": f"Meeting {n}"})


def _big_state(path: Path, count: int) -> StateStore:
    store = StateStore(path)
    state = store.load()
    state.records.update({f"meetings/m{n}": _record(n) for n in range(count)})
    store.save(state)
    return store


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir())}


def test_a_save_appends_only_what_changed(tmp_path: Path) -> None:
    store = _big_state(tmp_path / "s.json", 2000)
    snapshot = store.path.read_bytes()
    state = store.load()
    state.records["meetings/m5"] = replace(state.records["meetings/m5"], id="5005")
    del state.records["meetings/m6"]
    state.owners["alice@example.com"] = "1001"
    state.in_flight["b1"] = {"object_type": "meetings", "addresses": ["meetings/new"],
                             "started_at": 1.5}
    state.portal_id = 42
    store.save(state)

    assert store.path.read_bytes() == snapshot  # the snapshot was not rewritten
    (line,) = store.journal_path.read_text().splitlines()
    entry = json.loads(line)
    assert entry["serial"] == 2
    assert entry["records"] == {"meetings/m5": {**_record(5).to_json(), "id": "5005"},
                                "meetings/m6": None}
    assert entry["owners"] == {"alice@example.com": "1001"}
    assert entry["in_flight"]["b1"]["addresses"] == ["meetings/new"]
    assert entry["fields"]["portal_id"] == 42
    assert len(line) < 1000  # not the 2,000 records
    loaded = StateStore(store.path).load()
    assert loaded.to_json() == state.to_json() and loaded.serial == 2


def test_the_end_of_a_command_folds_the_journal_into_the_snapshot(tmp_path: Path) -> None:
    store = _big_state(tmp_path / "s.json", 10)
    with store.locked():
        state = store.load()
        for n in range(3):
            state.records[f"meetings/x{n}"] = _record(100 + n)
            store.save(state)
        assert len(store.journal_path.read_text().splitlines()) == 3
    assert store.journal_path.read_bytes() == b""
    on_disk = json.loads(store.path.read_text())  # the file at rest is the whole state
    assert on_disk["format_version"] == FORMAT_VERSION and on_disk["serial"] == 4
    assert len(on_disk["records"]) == 13
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.json.journal"]


def test_unsaved_changes_are_not_written_when_the_lock_is_released(tmp_path: Path) -> None:
    store = _big_state(tmp_path / "s.json", 3)
    with store.locked():
        state = store.load()
        state.records["meetings/x"] = _record(9)
        store.save(state)
        state.records["meetings/never-saved"] = _record(10)
    assert "meetings/never-saved" not in StateStore(store.path).load().records
    assert "meetings/x" in StateStore(store.path).load().records


def test_a_torn_last_line_is_ignored_and_compacted_away(tmp_path: Path) -> None:
    store = _big_state(tmp_path / "s.json", 5)
    state = store.load()
    state.records["meetings/kept"] = _record(50)
    store.save(state)
    expected = state.to_json()
    with open(store.journal_path, "ab") as journal:  # a save cut short by a crash
        journal.write(b'{"journal": "x", "serial": 3, "records": {"meetings/half')
    before = _files(store.path)
    loaded = StateStore(store.path).load()
    assert loaded.to_json() == expected
    assert _files(store.path) == before  # loading never writes

    again = StateStore(store.path)
    state = again.load()
    state.records["meetings/next"] = _record(51)
    again.save(state)  # the torn tail must not be glued to a new line
    assert StateStore(store.path).load().to_json() == state.to_json()


def test_lines_of_a_replaced_snapshot_are_ignored(tmp_path: Path) -> None:
    """A compaction killed after its rename, before it emptied the journal."""
    store = _big_state(tmp_path / "s.json", 5)
    state = store.load()
    for n in range(3):
        state.records[f"meetings/m{n}"] = _record(70 + n)
        store.save(state)
    old_journal = store.journal_path.read_bytes()
    store.compact()
    assert store.journal_path.read_bytes() == b""
    store.journal_path.write_bytes(old_journal)  # as if the truncation never happened
    loaded = StateStore(store.path).load()
    assert loaded.to_json() == state.to_json()


@pytest.mark.parametrize("damage, fragment", [
    (lambda lines: [lines[0], b"{not json", *lines[1:]], "is not JSON"),
    (lambda lines: [lines[0], *lines[2:]], "expected"),  # a save lost from the middle
    (lambda lines: [lines[0], lines[0], *lines[1:]], "expected"),  # one twice
    (lambda lines: [lines[0].replace(b'"id": "70"', b'"id": 70'), *lines[1:]], "not a string"),
])
def test_a_damaged_journal_is_refused_and_left_untouched(
    tmp_path: Path, damage: object, fragment: str
) -> None:
    store = _big_state(tmp_path / "s.json", 5)
    state = store.load()
    for n in range(3):
        state.records[f"meetings/m{n}"] = _record(70 + n)
        store.save(state)
    lines = store.journal_path.read_bytes().splitlines()
    store.journal_path.write_bytes(b"\n".join(damage(lines)) + b"\n")  # type: ignore[operator]
    before = _files(store.path)
    with pytest.raises(StateError, match=fragment):
        StateStore(store.path).load()
    with pytest.raises(StateError, match="journal is damaged"):
        with StateStore(store.path).locked():
            StateStore(store.path).load()
    assert _files(store.path) == before


def test_a_newer_snapshot_is_refused_with_its_journal_untouched(tmp_path: Path) -> None:
    store = _big_state(tmp_path / "s.json", 5)
    state = store.load()
    state.records["meetings/x"] = _record(1)
    store.save(state)
    data = json.loads(store.path.read_text())
    store.path.write_text(json.dumps({**data, "format_version": FORMAT_VERSION + 1}))
    before = _files(store.path)
    with pytest.raises(StateError, match="newer than this reconciler"):
        StateStore(store.path).load()
    assert _files(store.path) == before


def test_a_first_release_file_is_read_as_is_and_migrated_at_its_first_save(
    tmp_path: Path
) -> None:
    path = tmp_path / "local.json"
    shutil.copy(FORMAT1, path)
    original = path.read_bytes()
    store = StateStore(path)
    state = store.load()
    assert path.read_bytes() == original  # reading never migrates
    assert state.serial == 3 and state.portal_id == 1234567 and state.project_id == "demo-4k7q2z"
    assert state.owners == {"alice@example.com": "1001"}
    kickoff = state.records["meetings/kickoff"]
    assert kickoff.associations == (
        AppliedAssociation("contacts", "77", "HUBSPOT_DEFINED", 200, "jane"),
    )
    assert kickoff.pinned["hs_meeting_start_time"].expr == "+3d 10:00"
    assert state.records["calls/intro"].properties == {"hs_call_title": "Intro ☎"}
    assert state.in_flight["b1"]["addresses"] == ["meetings/review"]

    with store.locked():
        state.records["contacts/jane"] = replace(state.records["contacts/jane"], id="78")
        store.save(state)
    assert store.migration_backup is not None
    assert store.migration_backup.read_bytes() == original  # the first release can read it
    migrated = json.loads(path.read_text())
    assert migrated["format_version"] == FORMAT_VERSION and migrated["serial"] == 4
    assert migrated["lineage"] == json.loads(original)["lineage"]  # saved plans stay bound
    reloaded = StateStore(path).load()
    assert reloaded.records["contacts/jane"].id == "78"
    assert reloaded.records["meetings/kickoff"] == kickoff
    assert reloaded.in_flight == state.in_flight


def test_a_backup_is_the_whole_state_and_restores_exactly_it(tmp_path: Path) -> None:
    store = _big_state(tmp_path / "s.json", 3)
    state = store.load()
    state.records["meetings/journaled"] = _record(9)
    store.save(state)
    backup = store.backup()
    assert backup is not None
    state.records["meetings/after"] = _record(10)
    store.save(state)
    shutil.copy(backup, store.path)  # restore, with the journal still beside it
    restored = StateStore(store.path).load()
    assert "meetings/journaled" in restored.records
    assert "meetings/after" not in restored.records


def test_saving_a_state_this_store_did_not_load_rewrites_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    _big_state(path, 3)
    other = StateStore(path)
    state = State(lineage="", target="local")  # e.g. `state rebuild`
    state.records["meetings/only"] = _record(1)
    other.save(state)
    assert StateStore(path).load().records == {"meetings/only": _record(1)}


def _hold(path: str, ready: multiprocessing.synchronize.Event) -> None:
    with StateStore(path).locked(command="apply"):
        ready.set()
        signal.pause()  # until the test kills it


def test_states_in_one_folder_lock_separately(tmp_path: Path) -> None:
    local, sandbox = tmp_path / "local.json", tmp_path / "sandbox.json"
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    holder = context.Process(target=_hold, args=(str(local), ready))
    holder.start()
    try:
        assert ready.wait(10)
        with StateStore(sandbox).locked():  # another target's state: not blocked
            pass
        with pytest.raises(StateLockedError, match=f"pid {holder.pid}"):
            with StateStore(local).locked():
                pass
        local.with_name("local.json.lock").unlink()  # deleting the holder's note...
        (tmp_path / "link.json").symlink_to(local)
        with pytest.raises(StateLockedError):  # ...or going through a link changes nothing
            with StateStore(tmp_path / "link.json").locked():
                pass
    finally:
        assert holder.pid is not None
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
    with StateStore(local).locked():
        with pytest.raises(StateLockedError):  # also within one process
            with StateStore(local).locked():
                pass


def test_the_lock_folds_saves_made_through_another_store_of_the_file(tmp_path: Path) -> None:
    """A run over several targets locks each state, and each target's apply saves through
    its own ``StateStore``: the lock's release still folds the journal."""
    path = tmp_path / "s.json"
    _big_state(path, 3)
    holder = StateStore(path)
    with holder.locked():
        worker = StateStore(path)
        state = worker.load()
        state.records["meetings/by-worker"] = _record(9)
        worker.save(state)
        assert store_lines(path) == 1
    assert store_lines(path) == 0
    assert "meetings/by-worker" in json.loads(path.read_text())["records"]


def store_lines(path: Path) -> int:
    return len(path.with_name(path.name + ".journal").read_text().splitlines())


def test_an_in_flight_entry_given_a_new_value_in_place_is_saved(tmp_path: Path) -> None:
    store = _big_state(tmp_path / "s.json", 1)
    state = store.load()
    entry = {"object_type": "meetings", "addresses": ["meetings/a"], "started_at": 1.5}
    state.in_flight["b1"] = entry
    store.save(state)
    entry["unresolved"] = "two meetings carry its marker"  # as calendar recovery does
    store.save(state)
    entry["unresolved"] = "still two"
    store.save(state)
    assert StateStore(store.path).load().in_flight["b1"]["unresolved"] == "still two"
    del state.in_flight["b1"]
    store.save(state)
    assert StateStore(store.path).load().in_flight == {}


def test_a_journal_written_behind_a_stores_back_is_not_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    _big_state(path, 2)
    first, second = StateStore(path), StateStore(path)
    mine, theirs = first.load(), second.load()
    theirs.records["meetings/theirs"] = _record(8)
    second.save(theirs)
    mine.records["meetings/mine"] = _record(9)
    first.save(mine)  # a whole snapshot instead: never two lines with one serial
    loaded = StateStore(path).load()
    assert loaded.to_json() == mine.to_json() and loaded.serial == 2
