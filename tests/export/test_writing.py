"""Export's pieces without a portal: keys, times, durations, and YAML that reads back."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.export.convert import assign_keys, duration_text, local_iso, slug
from reconciler.export.writing import dump
from reconciler.hubspot.records import RemoteRecord
from reconciler.loading.times import parse_duration
from reconciler.loading.yamlfile import parse

KEY_PATTERN = r"[a-z0-9][a-z0-9._-]*"


def test_slugs_are_readable_local_keys() -> None:
    assert slug("Northwind kickoff!") == "northwind-kickoff"
    assert slug("  Café — Q3 review  ") == "cafe-q3-review"
    assert slug("Großhandel Søndergaard") == "grosshandel-sondergaard"
    assert slug("jane@acme.example") == "jane-acme.example"
    assert slug("!!!") == ""
    assert len(slug("word " * 40)) <= 60


@given(st.text())
def test_any_slug_fits_the_key_pattern(text: str) -> None:
    import re

    made = slug(text)
    assert made == "" or re.fullmatch(KEY_PATTERN, made)


def _record(record_id: str, **props: str) -> RemoteRecord:
    return RemoteRecord(id=record_id, properties=props)


def test_keys_are_unique_and_the_oldest_record_gets_the_plain_one() -> None:
    records = {
        "12": _record("12", hs_meeting_title="Kickoff"),
        "9": _record("9", hs_meeting_title="Kickoff"),
        "100": _record("100", hs_meeting_title="Kickoff 2"),
        "101": _record("101", hs_meeting_title="Kickoff"),
        "7": _record("7", hs_timestamp="2026-11-23T23:30:00.000Z"),
    }
    keys = assign_keys("meetings", records, "Europe/Berlin")
    assert keys == {"7": "meeting-2026-11-24", "9": "kickoff", "12": "kickoff-2",
                    "100": "kickoff-2-2", "101": "kickoff-3"}


def test_twenty_thousand_records_of_one_title_are_keyed_at_once() -> None:
    import time

    records = {str(n): _record(str(n), hs_call_title="Check-in") for n in range(1, 20_001)}
    started = time.monotonic()
    keys = assign_keys("calls", records, "UTC")
    assert time.monotonic() - started < 2  # (each key once tried every suffix before it)
    assert keys["1"] == "check-in" and keys["2"] == "check-in-2"
    assert keys["20000"] == "check-in-20000" and len(set(keys.values())) == 20_000


def test_contacts_are_keyed_by_name_then_email() -> None:
    keys = assign_keys("contacts", {
        "1": _record("1", firstname="Jane", lastname="Doe", email="jane@x.example"),
        "2": _record("2", email="ops@x.example"),
        "3": _record("3"),
    }, "UTC")
    assert keys == {"1": "jane-doe", "2": "ops-x.example", "3": "contact"}


def test_times_get_the_project_offset_and_durations_the_spec_form() -> None:
    assert local_iso("2026-11-23T09:00:00.000Z", "Europe/Berlin") == "2026-11-23T10:00:00+01:00"
    assert local_iso("2026-07-01T09:00:00.250Z", "Europe/Berlin") == (
        "2026-07-01T11:00:00.250+02:00"
    )
    assert local_iso("1764000000000", "UTC") == "2025-11-24T16:00:00+00:00"
    assert local_iso("soon", "UTC") is None
    assert duration_text("330000") == "5m30s"
    assert duration_text("90061000") == "1d1h1m1s"
    assert duration_text("1500") is None  # not whole seconds: kept as the raw property
    assert duration_text("0") is None


@given(st.integers(min_value=1, max_value=10 * 365 * 86_400))
def test_durations_read_back_as_the_same_milliseconds(seconds: int) -> None:
    text = duration_text(str(seconds * 1000))
    assert text is not None
    assert parse_duration(text).total_seconds() == seconds


scalars = st.one_of(st.text(), st.integers(min_value=-10**9, max_value=10**9), st.booleans())
bodies = st.dictionaries(
    st.text(min_size=1, max_size=12), st.one_of(
        scalars,
        st.dictionaries(st.text(min_size=1, max_size=12), scalars, max_size=3),
        st.lists(st.dictionaries(st.sampled_from(["contact", "label", "type_id"]), scalars,
                                 min_size=1, max_size=3), max_size=3),
    ), max_size=5,
)


@settings(max_examples=300)
@given(st.dictionaries(st.from_regex(KEY_PATTERN, fullmatch=True), bodies, max_size=4))
def test_dumped_yaml_reads_back_equal(records: dict[str, Any]) -> None:
    document = {"meetings": records}
    assert parse(dump(document), "x.yaml").data == document


def test_multi_line_text_is_a_literal_block() -> None:
    text = dump({"meetings": {"a": {"title": "Kickoff", "body": "Agenda:\n  - intro\n"}}})
    assert text == (
        "meetings:\n  a:\n    title: Kickoff\n    body: |\n      Agenda:\n        - intro\n"
    )
