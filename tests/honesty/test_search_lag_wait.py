"""A new project does not wait out the search-lag grace on its first apply because another
project of this tool wrote meetings or calls to the portal (#19): whether *this* project
wrote a type before is recorded in the tool's own property definitions
(``reconciler_wrote_<id>``), which the properties API answers without search's lag."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.emulator.embedded import Emulator
from tests.helpers import write_project
from tests.resilience.conftest import CliRun, bulk_spec, markers

Cli = Callable[..., CliRun]
LAG = 1.0
GRACE = 12.0


def _apply(cli: Cli, project: Path, grace: float) -> CliRun:
    run = cli("apply", "--project", project, "--auto-approve", grace=grace)
    assert run.code == 0, run.out + run.err
    return run


@pytest.mark.fake_clock
def test_a_new_projects_first_apply_does_not_wait_for_another_projects_meetings(
    faulty: Emulator, cli: Cli, tmp_path: Path
) -> None:
    faulty.set_config(search_lag_seconds=LAG)
    other = write_project(tmp_path / "other", {
        "reconciler.yaml": "name: other\nid: other-team-01\n", "s.yaml": bulk_spec(3, 3),
    })
    _apply(cli, other, grace=0.0)
    fresh = write_project(tmp_path / "fresh", {
        "reconciler.yaml": "name: fresh\nid: fresh-team-01\n", "s.yaml": bulk_spec(4, 4),
    })
    started = faulty.clock.monotonic()
    run = _apply(cli, fresh, grace=GRACE)
    waited = faulty.clock.monotonic() - started
    # only the wait after the apply, until search lists what it created (about the lag)
    assert waited < GRACE / 2, (waited, run.out)
    assert "8 created" in run.out
    for object_type in ("meetings", "calls"):
        mine = [m for m in markers(faulty, object_type) if m.startswith("fresh-team-01:")]
        assert len(mine) == 4, mine
    for object_type in ("meetings", "calls"):
        assert {"reconciler_wrote_other_team_01", "reconciler_wrote_fresh_team_01"} <= (
            _property_names(faulty, object_type))


def _property_names(emulator: Emulator, object_type: str) -> set[str]:
    answer = httpx.get(f"{emulator.base_url}/crm/v3/properties/{object_type}",
                       headers={"Authorization": f"Bearer {emulator.token}"}, timeout=10)
    return {p["name"] for p in answer.json()["results"]}
