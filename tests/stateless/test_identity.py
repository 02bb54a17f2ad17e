"""The portal holds identity: a lost, deleted or racing state never duplicates or undoes.

Every test runs the real CLI against the emulator with its search index lagging writes,
and deletes the state file between runs as a CI job without a cache would. In this process
they run on a fake clock (``tests/helpers.FakeClock``): the lag and the grace are waited
out in no time; the CLI as a process (the kill loop) runs on the real clock.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.planning.changes import PLAN_FORMAT_VERSION
from tests.helpers import write_project
from tests.resilience.conftest import (
    CliRun,
    assert_exactly,
    bulk_spec,
    markers,
    read_state,
)

Cli = Callable[..., CliRun]
PROJECT = "name: stateless\nid: stateless-test\n"
LAG = 1.0
GRACE = 2.5  # > LAG: what the tool waits before concluding "not created"


def _forget_state(project: Path) -> None:
    shutil.rmtree(project / ".reconciler", ignore_errors=True)


def _apply(cli: Cli, project: Path, *extra: str) -> CliRun:
    run = cli("apply", "--project", project, "--auto-approve", *extra, grace=GRACE)
    assert run.code == 0, run.out[-2000:] + run.err[-2000:]
    return run


def _two_applies_with_the_state_deleted(
    faulty: Emulator, cli: Cli, tmp_path: Path, meetings: int, calls: int
) -> None:
    project = write_project(tmp_path / "p", {
        "reconciler.yaml": PROJECT, "bulk.yaml": bulk_spec(meetings, calls),
    })
    faulty.set_config(search_lag_seconds=LAG)
    _apply(cli, project)
    _forget_state(project)
    run = _apply(cli, project)
    assert "Plan: 0 to create" in run.out, run.out[-2000:]
    assert f"{meetings + calls} to adopt" in run.out
    assert "0 created" in run.out
    assert_exactly(faulty, project, {"meetings": meetings, "calls": calls})
    # and the state it made is exact: nothing left to do
    assert cli("plan", "--project", project, "--detailed-exitcode").code == 0


@pytest.mark.fake_clock
def test_a_deleted_state_adopts_instead_of_creating(
    faulty: Emulator, cli: Cli, tmp_path: Path
) -> None:
    _two_applies_with_the_state_deleted(faulty, cli, tmp_path, 100, 100)


@pytest.mark.slow
@pytest.mark.fake_clock
def test_a_deleted_state_between_two_applies_of_2000_records_creates_nothing(
    faulty: Emulator, cli: Cli, tmp_path: Path
) -> None:
    _two_applies_with_the_state_deleted(faulty, cli, tmp_path, 1000, 1000)


@pytest.mark.fake_clock
def test_two_applies_seconds_apart_inside_the_search_lag_never_duplicate(
    faulty: Emulator, cli: Cli, tmp_path: Path
) -> None:
    """Two merges: the second CI job starts (without the first one's state) while search
    does not list what the first one created yet."""
    first = write_project(tmp_path / "first", {
        "reconciler.yaml": PROJECT, "bulk.yaml": bulk_spec(20, 20),
    })
    faulty.set_config(search_lag_seconds=LAG)
    run = cli("apply", "--project", first, "--auto-approve", grace=0.0)  # no wait after it
    assert run.code == 0, run.err
    second = tmp_path / "second"
    shutil.copytree(first, second, ignore=shutil.ignore_patterns(".reconciler"))
    started = faulty.clock.monotonic()
    run = _apply(cli, second)
    assert faulty.clock.monotonic() - started >= LAG * 0.5  # it waited for the index
    assert "0 created" in run.out, run.out[-2000:]
    for object_type in ("meetings", "calls"):
        counts = markers(faulty, object_type)
        assert len(counts) == 20 and set(counts.values()) == {1}, counts
    assert_exactly(faulty, second, {"meetings": 20, "calls": 20})


SPEC_V1 = """\
contacts:
  ann:
    email: ann@example.com
  bob:
    email: bob@example.com
meetings:
  kickoff:
    title: Kickoff
    start: +3d 10:00
    duration: 30m
    associations:
      - contact: ann
      - contact: bob
"""


def _rebuild(cli: Cli, project: Path) -> None:
    run = cli("state", "rebuild", "--project", project, grace=GRACE)
    assert run.code == 0, run.out + run.err


@pytest.mark.fake_clock
@pytest.mark.parametrize("how", ["rebuild", "missing"])
def test_a_stateless_run_plans_a_changed_relative_time_and_a_removed_association(
    faulty: Emulator, cli: Cli, tmp_path: Path, how: str
) -> None:
    project = write_project(tmp_path / "p", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC_V1})
    faulty.set_config(search_lag_seconds=LAG)
    _apply(cli, project)
    before = read_state(project)["records"]["meetings/kickoff"]
    # the pull request: another start, and bob no longer invited
    (project / "spec.yaml").write_text(
        SPEC_V1.replace("+3d 10:00", "+4d 11:00").replace("      - contact: bob\n", "")
    )
    _forget_state(project)
    if how == "rebuild":
        _rebuild(cli, project)
    run = cli("plan", "--project", project, grace=GRACE)
    assert run.code == 0, run.err
    assert "meetings/kickoff" in run.out
    assert "hs_meeting_start_time" in run.out, run.out
    assert "associations: - contacts/bob" in run.out, run.out
    assert "associations: + contacts/ann" not in run.out  # recorded as applied
    assert "Plan: 0 to create" in run.out
    _apply(cli, project)
    after = read_state(project)["records"]["meetings/kickoff"]
    assert after["properties"]["hs_meeting_start_time"] != before["properties"][
        "hs_meeting_start_time"]
    assert [a["to_key"] for a in after["associations"]] == ["ann"]
    # applied: a further stateless plan has nothing to do
    _forget_state(project)
    if how == "rebuild":
        _rebuild(cli, project)
    run = cli("plan", "--project", project, "--detailed-exitcode", grace=GRACE)
    assert run.code in (0, 2), run.err
    if how == "rebuild":
        assert run.code == 0 and "No changes." in run.out, run.out
    else:  # found by marker and adopted as they are: no write
        assert "Plan: 0 to create, 0 to update, 0 to archive, 3 to adopt." in run.out, run.out
        assert "hs_meeting_start_time" not in run.out and "associations:" not in run.out


@pytest.mark.fake_clock
def test_duplicates_are_reported_and_deduped(
    faulty: Emulator, cli: Cli, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "p", {
        "reconciler.yaml": PROJECT, "bulk.yaml": bulk_spec(3, 0),
    })
    _apply(cli, project)
    kept = read_state(project)["records"]["meetings/m1"]["id"]
    # a copy made outside this state (another run without the state, say): same marker
    original = next(r for r in faulty.records("meetings") if r["id"] == kept)
    copy_props = {k: v for k, v in original["properties"].items()
                  if k.startswith(("hs_meeting", "hs_timestamp", "reconciler_"))}
    _create_raw(faulty, "meetings", copy_props)
    run = cli("plan", "--project", project, grace=0.0)
    assert run.code == 0, run.err
    assert "1 marker(s) carried by more than one record" in run.out, run.out
    assert f"meetings/m1: {kept}, " in run.out
    assert "reconciler apply --dedupe" in run.out
    run = _apply(cli, project, "--dedupe")
    assert "1 to dedupe" in run.out and "1 duplicate(s) archived" in run.out, run.out
    assert_exactly(faulty, project, {"meetings": 3})
    assert read_state(project)["records"]["meetings/m1"]["id"] == kept
    run = cli("plan", "--project", project, "--detailed-exitcode", grace=0.0)
    assert run.code == 0 and "more than one record" not in run.out, run.out


def _create_raw(emulator: Emulator, object_type: str, properties: dict[str, str]) -> None:
    import httpx

    answer = httpx.post(
        f"{emulator.base_url}/crm/v3/objects/{object_type}",
        headers={"Authorization": f"Bearer {emulator.token}"},
        json={"properties": properties}, timeout=10,
    )
    assert answer.status_code in (200, 201), answer.text



@pytest.mark.slow
def test_twenty_sigkills_with_the_state_deleted_after_every_third_end_exact(
    faulty: Emulator, tmp_path: Path
) -> None:
    """Kill an apply at 20 random moments, deleting the state after every third run (a CI
    job losing its cache): the last apply ends with exactly the spec, nothing twice."""
    import random

    from reconciler.emulator.config import FaultConfig
    from tests.resilience.conftest import cli_process

    meetings, calls = 300, 300
    project = write_project(tmp_path / "p", {
        "reconciler.yaml": PROJECT, "bulk.yaml": bulk_spec(meetings, calls),
    })
    # (real time, the apply being a process: answers slow and a lag long enough for the
    # kills to land anywhere from start-up to the last write, and no longer)
    faulty.set_faults(FaultConfig(slow=1.0, slow_seconds=0.05), seed=5)
    faulty.set_config(search_lag_seconds=0.15)
    rng = random.Random(12)
    args = ("apply", "--project", project, "--auto-approve")
    for run_number in range(1, 21):
        process = cli_process(faulty, *args, grace=0.5)
        time.sleep(rng.uniform(0.2, 1.5))
        process.kill()
        process.finish()
        if run_number % 3 == 0:
            _forget_state(project)
    final = cli_process(faulty, *args, grace=0.5).finish(timeout=60)
    assert final.code == 0, final.err[-2000:]
    faulty.set_faults(FaultConfig())
    assert_exactly(faulty, project, {"meetings": meetings, "calls": calls})


@pytest.mark.fake_clock
def test_a_saved_plan_adopts_and_dedupes_as_shown(
    faulty: Emulator, cli: Cli, tmp_path: Path
) -> None:
    import json

    project = write_project(tmp_path / "p", {
        "reconciler.yaml": PROJECT, "bulk.yaml": bulk_spec(2, 1),
    })
    _apply(cli, project)
    _forget_state(project)
    out = tmp_path / "plan.json"
    run = cli("plan", "--project", project, "--out", out, grace=0.0)
    assert run.code == 0, run.err
    saved = json.loads(out.read_text())
    assert saved["format_version"] == PLAN_FORMAT_VERSION
    assert sorted(c["action"] for c in saved["changes"]) == ["adopt"] * 3
    run = cli("apply", "--project", project, "--plan", out, grace=0.0)
    assert run.code == 0, run.out + run.err
    assert_exactly(faulty, project, {"meetings": 2, "calls": 1})
