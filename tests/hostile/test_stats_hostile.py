"""`render --stats` against hostile timelines: its size follows the activities, not the
span between the first and the last one."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from reconciler.generate.stats import render_markdown, render_text, timeline
from reconciler.loading.project import load_project

REFERENCE = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def test_two_meetings_eleven_centuries_apart_chart_a_few_lines(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("name: far\ntimezone: Europe/Berlin\n")
    (tmp_path / "spec.yaml").write_text(
        "meetings:\n"
        "  old: {title: Old, start: '1900-01-02T10:00:00Z', duration: 30m, owner: '1001'}\n"
        "  new: {title: New, start: '2999-12-01T10:00:00Z', duration: 30m, owner: '1001'}\n"
    )
    found = timeline(load_project(tmp_path, reference_time=REFERENCE, use_cache=False), {},
                     "local")
    text, markdown = render_text(found), render_markdown(found)
    # was 57,413 lines (one a week, empty ones too): ~1 MB into $GITHUB_STEP_SUMMARY
    assert len(text.splitlines()) < 40 and len(markdown.splitlines()) < 50
    assert "1900-W01       1  " in text and "2999-W48       1  " in text
    assert "57,389 weeks without activities" in text
