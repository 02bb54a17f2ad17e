"""`export --types` takes every record of the contacts, companies and deals it names, not
only those an activity hangs on; `--relative-to now` writes times relative to the export,
which the loader resolves back to the same moments (and apply pins)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.export.convert import relative_text
from reconciler.loading.times import resolve_time
from tests.export.conftest import Cli
from tests.export.test_export import _portal, _state_ids, export
from tests.helpers import Run

EVERY_TYPE = "contacts,companies,deals,meetings,calls"


def test_types_export_every_record_of_a_type(
    run: Run, cli: Cli, golden: Path, tmp_path: Path, emulator: Emulator, second: Emulator,
) -> None:
    out = tmp_path / "copy"
    stdout = export(run, golden, out, "--types", EVERY_TYPE)
    sources = json.loads((out / "sources.json").read_text("utf-8"))["records"]
    # the loner and Initech hang on no activity: exported all the same
    assert {"contacts/loner-example.com", "companies/initech"} <= set(sources)
    assert "Left out" not in stdout  # every association's other end is in the export

    code, o, e = cli("apply", "--project", out, "--auto-approve", "--base-url", second.base_url)
    assert code == 0, o + e
    assert _portal(second, _state_ids(out)) == _portal(emulator, sources)
    code, o, e = cli("plan", "--project", out, "--base-url", second.base_url)
    assert code == 0 and "No changes." in o, o + e


def test_types_of_records_only(run: Run, golden: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    export(run, golden, out, "--types", "companies")
    records = json.loads((out / "sources.json").read_text("utf-8"))["records"]
    assert sorted(records) == ["companies/acme-gmbh", "companies/globex", "companies/initech"]


def test_relative_to_now_writes_times_that_stay_fresh(
    run: Run, cli: Cli, golden: Path, tmp_path: Path, emulator: Emulator, second: Emulator,
) -> None:
    out = tmp_path / "copy"
    export(run, golden, out, "--relative-to", "now", "--types", EVERY_TYPE)
    meetings = (out / "meetings.yaml").read_text("utf-8")
    assert "2026-11-23" not in meetings
    starts = re.findall(r"^    start: (.*)$", meetings, re.M)
    assert starts and all(re.fullmatch(r'"?([+-]\d+d|today) \d\d:\d\d"?', s) for s in starts)
    assert "# Times are relative to " in meetings
    sources = json.loads((out / "sources.json").read_text("utf-8"))["records"]

    code, o, e = cli("apply", "--project", out, "--auto-approve", "--base-url", second.base_url)
    assert code == 0, o + e
    # (the same moments as the original: export and apply ran on the same day)
    assert _portal(second, _state_ids(out)) == _portal(emulator, sources)
    code, o, e = cli("plan", "--project", out, "--base-url", second.base_url)
    assert code == 0 and "No changes." in o, o + e


@pytest.mark.parametrize("moment", [
    "2026-03-29T00:30:00Z",      # before Berlin's spring-forward, the night it happens
    "2026-07-01T08:15:30Z",      # summer time, with seconds
    "2026-12-06T22:59:00Z",      # the reference's own day, late
    "2027-01-10T06:00:00.250Z",  # ahead of the reference; the milliseconds are dropped
])
def test_a_relative_time_resolves_back_to_its_moment(moment: str) -> None:
    reference = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
    text = relative_text(moment, "Europe/Berlin", reference)
    assert text is not None
    expected = datetime.fromisoformat(moment.replace("Z", "+00:00")).replace(microsecond=0)
    assert resolve_time(text, reference, "Europe/Berlin") == expected


def test_a_sources_file_nested_past_any_export_is_ignored(tmp_path: Path) -> None:
    """An export folder's sources.json is read only to know which files to replace; one
    nested 100,000 deep (made by hand) is no earlier export's, never a crash."""
    from reconciler.export.writing import SOURCES_FILE, _earlier_files

    (tmp_path / SOURCES_FILE).write_text("[" * 100_000 + "]" * 100_000, "utf-8")
    assert _earlier_files(tmp_path) == []
