"""A process killed (SIGKILL) at random moments while it saves and compacts its state
loses no save that returned, and leaves a state that loads and is exactly a saved one."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from reconciler.state.model import RecordState, State
from reconciler.state.store import StateStore

REPO = Path(__file__).resolve().parents[2]
RECORDS = 10_000
#: Saves, then the lock's release compacts (10,000 records: tens of ms), again and again;
#: each save is printed once it returned.
CHILD = """
import sys
from pathlib import Path
from reconciler.state.store import StateStore
from tests.core.test_state_crash import change
path = Path(sys.argv[1])
while True:
    store = StateStore(path)
    with store.locked():
        state = store.load()
        for _ in range(7):
            change(state, state.serial + 1)
            store.save(state)
            print(state.serial, flush=True)
"""


def change(state: State, serial: int) -> None:
    """What save number ``serial`` changes: a record replaced, sometimes one removed, an
    owner, and an in-flight batch started or settled."""
    state.records[f"meetings/r{serial % RECORDS}"] = RecordState(
        str(serial), "meetings", {"hs_meeting_title": f"Saved at {serial}"}
    )
    if serial % 3 == 0:
        state.records.pop(f"meetings/r{serial * 7 % RECORDS}", None)
    state.owners[f"o{serial % 5}@example.com"] = str(serial)
    if serial % 2:
        state.in_flight["b"] = {"object_type": "meetings", "started_at": float(serial),
                                "addresses": [f"meetings/r{serial % RECORDS}"]}
    else:
        state.in_flight.pop("b", None)


def _initial() -> State:
    state = State(lineage="lineage-1", serial=1, target="local", project="crash")
    state.records.update(
        {f"meetings/r{n}": RecordState("0", "meetings", {"hs_meeting_title": "First"})
         for n in range(RECORDS)}
    )
    return state


def _expected(serial: int) -> State:
    state = _initial()
    for n in range(2, serial + 1):
        change(state, n)
    state.serial = serial
    return state


def test_a_killed_save_or_compaction_loses_nothing_that_was_saved(tmp_path: Path) -> None:
    path = tmp_path / "state" / "local.json"
    path.parent.mkdir()
    seed = _initial()
    seed.serial = 0
    StateStore(path).save(seed)  # serial 1
    rng = random.Random(20261129)
    acknowledged = 1
    for _round in range(12):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert child.stdout is not None
        first = child.stdout.readline()  # past the imports: it has saved once
        time.sleep(rng.uniform(0.0, 0.3))  # a random moment into the saves that follow
        child.kill()
        # (read through the same buffered stream as the first line: readline may have
        # taken more lines into its buffer, which communicate(), reading the pipe itself,
        # would never see: under load the acknowledged saves then looked fewer)
        out = child.stdout.read()
        assert child.stderr is not None
        err = child.stderr.read()
        child.wait(timeout=30)
        assert child.returncode == -9, err[-2000:]
        printed = [int(line) for line in (first + out).split()]
        acknowledged = max([acknowledged, *printed])

        state = StateStore(path).load()
        assert state.serial >= acknowledged  # a save that returned is never lost
        assert state.serial <= acknowledged + 1  # at most the one it was killed in
        expected = _expected(state.serial)
        assert state.records == expected.records
        assert state.owners == expected.owners and state.in_flight == expected.in_flight
        assert state.lineage == "lineage-1"
        acknowledged = state.serial
    assert acknowledged > 30, "the child hardly saved: the kills proved little"
