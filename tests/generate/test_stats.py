"""`render --stats`: the timeline at a glance, exactly, for a small project at a fixed time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli.base import main
from reconciler.generate.render import Pinned
from reconciler.generate.stats import render_json, render_markdown, render_text, timeline

from .conftest import apply_all, load

PROJECT = "name: stats\ntimezone: Europe/Berlin\nseed: 1\ndefault_owner: alice@example.com\n"

#: Two owners; bob's call at 10:10 falls inside his 10:00-10:30 meeting (one overlap);
#: alice's (the default owner's) are apart. Reference time: Fri 2026-11-20 12:00 UTC, so
#: the generated calls are on Wednesday 2026-11-18 at 15:00, and the review is ahead.
SPEC = """\
meetings:
  kickoff:
    title: Kickoff
    start: 2026-11-16T10:00:00+01:00
    duration: 30m
    owner: bob@example.com
  review:
    title: Review
    start: 2026-11-24T14:00:00+01:00
    duration: 1h
calls:
  first:
    title: First call
    timestamp: 2026-11-16T10:10:00+01:00
    duration: 5m
    owner: bob@example.com
  second:
    title: Second call
    timestamp: 2026-11-09T09:00:00+01:00
    duration: 10m
deals:
  won: {name: Won, stage: closedwon, pipeline: default}
  lost: {name: Lost, stage: closedlost, pipeline: default}
  open: {name: Open, stage: qualifiedtobuy, pipeline: default}
generate:
  more_calls:
    type: calls
    key: "gen-{n}"
    count: 3
    fields:
      title: "Generated {{ n }}"
      timestamp: "-2d 15:00"
"""

TEXT = """\
Timeline of stats for target local (Europe/Berlin), 2026-11-09 .. 2026-11-24
3 weeks, 2 owners, ~2 activities per owner-week, 1 overlap of one owner's meetings and calls.

type      records   past  future  per owner
meetings        2      1       1        1-1
calls           5      5       0        1-4
deals           3  won 1  lost 1     open 1

owner              meetings  calls  all  per week
alice@example.com         1      4    5       1.7
bob@example.com           1      1    2       2.0

Overlaps: 1 pair of one owner's meetings and calls, e.g. meetings/kickoff x calls/first.

Per week, all activities (per owner-week: mean 2, max 3, alice@example.com in 2026-W47):
2026-W46       1  ########
2026-W47       5  ########################################
2026-W48       1  ########

Mon            3  ########################################
Tue            1  #############
Wed            3  ########################################
Thu            0
Fri            0

09:00          1  #############
10:00          2  ###########################
14:00          1  #############
15:00          3  ########################################
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "reconciler.yaml").write_text(PROJECT)
    (root / "spec.yaml").write_text(SPEC)
    return root


def test_the_timeline_as_text(project: Path) -> None:
    assert render_text(timeline(load(project), {}, "local")) == TEXT


def test_the_timeline_as_markdown_and_json(project: Path) -> None:
    found = timeline(load(project), {}, "local")
    markdown = render_markdown(found)
    assert markdown.startswith(
        "### Timeline of stats for target local (Europe/Berlin), 2026-11-09 .. 2026-11-24\n\n"
        "**3 weeks, 2 owners, ~2 activities per owner-week, 1 overlap of one owner's meetings "
        "and calls.**\n\n| type | records | past | future | per owner |\n|---|---|---|---|---|\n"
        "| meetings | 2 | 1 | 1 | 1-1 |\n"
    )
    assert "```text\n2026-W46       1  ########\n" in markdown
    document = json.loads(render_json(found))
    assert document["summary"] == (
        "3 weeks, 2 owners, ~2 activities per owner-week, 1 overlap of one owner's meetings "
        "and calls"
    )
    assert document["by_type"]["calls"] == {"records": 5, "past": 5, "future": 0}
    assert document["by_owner"] == {
        "alice@example.com": {"calls": 4, "meetings": 1},
        "bob@example.com": {"calls": 1, "meetings": 1},
    }
    assert [w["total"] for w in document["by_week"]] == [1, 5, 1]
    assert document["deals"] == {"won": 1, "lost": 1, "open": 1}
    assert document["overlaps"] == {"count": 1, "examples": [["meetings/kickoff", "calls/first"]]}
    assert document["weekday"]["Mon"] == 3 and document["hour"]["15"] == 3
    assert document["per_owner_week"] == {
        "mean": 1.8, "max": 3, "max_owner": "alice@example.com", "max_week": "2026-W47"
    }


def test_the_timeline_uses_the_values_the_state_pinned(project: Path) -> None:
    """A week later, the generated calls' relative times would move: the pins keep them."""
    from datetime import timedelta

    from .conftest import REFERENCE

    state = apply_all(load(project))
    pins = {a: Pinned({k: (p.expr, p.value) for k, p in r.pinned.items()})
            for a, r in state.records.items() if r.pinned}
    later = load(project, REFERENCE + timedelta(days=7))
    pinned, fresh = timeline(later, pins, "local"), timeline(later, {}, "local")
    assert pinned.by_week == timeline(load(project), {}, "local").by_week
    assert fresh.by_week != pinned.by_week


def test_render_stats_by_cli(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "spec.yaml").write_text(SPEC.split("generate:")[0])  # absolute times only
    assert main(["render", "--stats", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Timeline of stats for target local (Europe/Berlin), 2026-11-09 .. "
                          "2026-11-24\n3 weeks, 2 owners, ~")
    assert main(["render", "--stats", "--format", "json", "--project", str(project)]) == 0
    assert json.loads(capsys.readouterr().out)["overlaps"]["count"] == 1
    assert main(["render", "--format", "json", "--project", str(project)]) == 1
    assert "--format goes with --stats" in capsys.readouterr().err
