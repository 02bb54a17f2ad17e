"""kill -9, Ctrl-C and a second apply: the apply as a real process, the emulator in this one."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator.config import FaultConfig
from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.identity.marker_writes import ensure_markers
from reconciler.identity.markers import marker_value
from reconciler.state.model import State
from reconciler.state.store import StateStore

from .conftest import (
    CliRun,
    assert_exactly,
    bulk_spec,
    cli_process,
    read_state,
    write_project,
)

pytestmark = pytest.mark.contract(False)


def _answered(emulator: Emulator, path_end: str = "", *, since: float = 0.0) -> None:
    """Wait until the emulator has answered a request whose path ends so (any request if
    empty), logged at or after ``since`` (the emulator's clock)."""
    found = emulator.wait_for_request(
        lambda r: r["path"].endswith(path_end) and r["time"] >= since, timeout=20.0
    )
    assert found is not None, f"timed out waiting for a request to *{path_end}"


def _records_in_state(project: Path) -> int:
    try:
        return len(read_state(project)["records"])
    except ValueError:  # never half a file (os.replace), but be safe while polling
        return 0


# A name with capitals: markers are lowercase whatever the name (search IN matches only
# lowercase values), and recovery after each kill must still find every record.
KILL_PROJECT = """\
name: Seed-Large
targets:
  local:
    rate_limit: {concurrency: 1, requests_per_10s: 10000, search_per_second: 50}
"""


@pytest.mark.slow
def test_sigkill_at_twenty_random_moments_never_duplicates(
    faulty: Emulator, tmp_path: Path
) -> None:
    outcomes, progress = _kill_repeatedly(faulty, tmp_path, kills=20, meetings=1000, calls=1000)
    assert outcomes.count(-signal.SIGKILL) >= 18, outcomes
    assert sum(1 for n in progress if n < 2000) >= 15, progress  # they landed mid-apply


def test_three_sigkills_of_a_small_apply_end_exact(faulty: Emulator, tmp_path: Path) -> None:
    outcomes, progress = _kill_repeatedly(faulty, tmp_path, kills=3, meetings=150, calls=150)
    assert outcomes.count(-signal.SIGKILL) >= 2, outcomes


def _kill_repeatedly(
    faulty: Emulator, tmp_path: Path, *, kills: int, meetings: int, calls: int
) -> tuple[list[int], list[int]]:
    """Kill an apply ``kills`` times at random moments, then let one finish: exact.

    Real time (the apply is a process): every answer is slow enough, the index lags long
    enough and the grace outlasts the lag by enough for the kills to land anywhere and
    for each recovery to prove that it waits before concluding "not created", and no
    longer, so that each run is short."""
    project = write_project(tmp_path / "Seed-Large", {
        "reconciler.yaml": KILL_PROJECT, "bulk.yaml": bulk_spec(meetings, calls),
    })
    # Some slow answers give the kills something to land in; a lagging index makes the
    # recovery after each kill prove that it waits before concluding "not created".
    faulty.set_faults(FaultConfig(slow=1.0, slow_seconds=0.05), seed=3)
    faulty.set_config(search_lag_seconds=0.1)
    rng = random.Random(20)
    args = ("apply", "--project", project, "--auto-approve")
    outcomes: list[int] = []
    progress: list[int] = []
    for _ in range(kills):
        started = faulty.clock.time()
        process = cli_process(faulty, *args, grace=0.4)
        if rng.random() < 0.5:
            # anywhere: start-up, recovery of the last kill, refresh, planning, writing
            time.sleep(rng.uniform(0.2, 1.2))
        else:
            # while writing: a batch of this run answered, the next one in flight
            while faulty.wait_for_request(
                lambda r, started=started: (r["path"].endswith("/batch/create")
                                            and r["time"] >= started),
                timeout=0.2,
            ) is None:
                assert process.process.poll() is None, "the apply ended before writing"
            time.sleep(rng.uniform(0.0, 0.1))
        process.kill()
        outcomes.append(process.finish().code)
        progress.append(_records_in_state(project))
    print("records in the state after each kill:", progress)
    final = cli_process(faulty, *args, grace=0.4)
    run = final.finish()
    assert run.code == 0, run.err[-2000:]
    assert "Traceback" not in run.err
    faulty.set_faults(FaultConfig())
    assert_exactly(faulty, project, {"meetings": meetings, "calls": calls})
    return outcomes, progress


def test_ctrl_c_finishes_the_batches_in_flight_then_exits_130(
    faulty: Emulator, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "int", {
        "reconciler.yaml": "name: int\n", "bulk.yaml": bulk_spec(1500, 0),
    })
    # slow answers keep the apply going long after the first batch is recorded, even on
    # a busy machine, so the Ctrl-C lands mid-apply
    faulty.set_faults(FaultConfig(slow=1.0, slow_seconds=0.6), seed=5)
    process = cli_process(faulty, "apply", "--project", project, "--auto-approve")
    _answered(faulty, "/batch/create")  # (its records are in the state, or about to be)
    process.send_signal(signal.SIGINT)
    run = process.finish(timeout=30)
    assert run.code == 130, run.err
    assert "Stopping after the batches in flight" in run.err
    assert "Apply interrupted:" in run.out and "created" in run.out
    assert "Traceback" not in run.err
    state = read_state(project)
    assert state["in_flight"] == {}  # every batch sent was answered and recorded
    assert 0 < len(state["records"]) < 1500
    assert len(faulty.records("meetings")) == len(state["records"])

    faulty.set_faults(FaultConfig())
    rerun = cli_process(faulty, "apply", "--project", project, "--auto-approve")
    again = rerun.finish()
    assert again.code == 0, again.err
    assert f"Plan: {1500 - len(state['records'])} to create" in again.out
    assert_exactly(faulty, project, {"meetings": 1500})


def test_a_second_apply_fails_fast_naming_the_holder(
    faulty: Emulator, cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    project = write_project(tmp_path / "lock", {
        "reconciler.yaml": "name: lock\n", "bulk.yaml": bulk_spec(300, 0),
    })
    faulty.set_faults(FaultConfig(slow=1.0, slow_seconds=0.15), seed=9)
    first = cli_process(faulty, "apply", "--project", project, "--auto-approve")
    _answered(faulty)  # it holds the lock, and has slow requests ahead

    started = time.monotonic()
    second = cli("apply", "--project", project, "--auto-approve")
    assert time.monotonic() - started < 5
    assert second.code == 1
    assert "is locked by another reconciler" in second.err
    assert f"pid {first.pid}" in second.err and "`apply`" in second.err
    assert "Traceback" not in second.err

    assert first.finish().code == 0
    faulty.set_faults(FaultConfig())
    assert_exactly(faulty, project, {"meetings": 300})


def test_a_lock_left_by_a_killed_apply_is_released(faulty: Emulator, tmp_path: Path) -> None:
    project = write_project(tmp_path / "stale", {
        "reconciler.yaml": "name: stale\n", "bulk.yaml": bulk_spec(300, 0),
    })
    faulty.set_faults(FaultConfig(slow=1.0, slow_seconds=0.3), seed=11)
    first = cli_process(faulty, "apply", "--project", project, "--auto-approve", grace=1.0)
    _answered(faulty)  # it holds the lock
    first.kill()
    first.finish()
    faulty.set_faults(FaultConfig())
    second = cli_process(faulty, "apply", "--project", project, "--auto-approve", grace=1.0)
    run = second.finish()
    assert run.code == 0, run.err
    assert_exactly(faulty, project, {"meetings": 300})



def test_ctrl_c_during_recovery_stops_at_once_and_keeps_the_batch_in_flight(
    faulty: Emulator, tmp_path: Path
) -> None:
    """Recovery waits out the search lag before concluding "not created"; Ctrl-C must not
    wait with it, and an empty search cut short proves nothing (the batch stays)."""
    project = write_project(tmp_path / "rec", {
        "reconciler.yaml": "name: rec\n", "bulk.yaml": bulk_spec(5, 0),
    })
    addresses = [f"meetings/m{i}" for i in range(5)]
    state = State.empty(target="local", project="rec", project_id="rec")
    state.in_flight["t0"] = {  # sent, never committed: recovery finds nothing, and waits
        "object_type": "meetings", "addresses": addresses, "started_at": time.time(),
        "markers": {a: marker_value("rec", a) for a in addresses},
    }
    StateStore(project / ".reconciler/state/local.json").save(state)
    with HubSpotClient(ClientSettings(base_url=faulty.base_url, token=faulty.token)) as client:
        ensure_markers(client, ["meetings"])  # (else nothing can have been created: no wait)
    process = cli_process(faulty, "apply", "--project", project, "--auto-approve", grace=60.0)
    _answered(faulty, "/search")
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    run = process.finish(timeout=30)
    assert run.code == 130, run.out + run.err
    assert time.monotonic() - started < 10
    assert "Traceback" not in run.err
    assert set(read_state(project)["in_flight"]) == {"t0"}
    assert faulty.records("meetings") == []


def test_recovery_without_a_key_property_knows_nothing_was_created(
    faulty: Emulator, tmp_path: Path
) -> None:
    """HubSpot refuses a whole batch that names an unknown property, so a batch in flight to a
    type without the key property created nothing: no wait, no search (it would answer 400)."""
    project = write_project(tmp_path / "nokey", {
        "reconciler.yaml": "name: nokey\n", "bulk.yaml": bulk_spec(5, 0),
    })
    addresses = [f"meetings/m{i}" for i in range(5)]
    state = State.empty(target="local", project="nokey", project_id="nokey")
    state.in_flight["t0"] = {
        "object_type": "meetings", "addresses": addresses, "started_at": time.time(),
        "markers": {a: marker_value("nokey", a) for a in addresses},
    }
    StateStore(project / ".reconciler/state/local.json").save(state)
    started = time.monotonic()
    run = cli_process(faulty, "apply", "--project", project, "--auto-approve",
                      grace=60.0).finish(timeout=30)
    assert run.code == 0, run.out + run.err
    assert time.monotonic() - started < 20  # not the 60 s grace
    assert read_state(project)["in_flight"] == {}
    assert_exactly(faulty, project, {"meetings": 5})
