"""How the state file keeps pins: a pin whose value is its property's is saved as its
expression alone (a 50k-record state: 10 MB less to read), files with the full form are
still read, and a record of any wrong shape is refused with the same message as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import StateError
from reconciler.state.model import AppliedAssociation, Pin, RecordState, State
from reconciler.state.store import StateStore


def _meeting() -> RecordState:
    return RecordState(
        "7", "meetings",
        {"hs_meeting_title": "Kickoff", "hs_timestamp": "2026-12-01T09:00:00.000Z"},
        (AppliedAssociation("contacts", "9", "HUBSPOT_DEFINED", 200, "jane", "Champion"),),
        {
            "hs_timestamp": Pin("+3d 10:00", "2026-12-01T09:00:00.000Z"),  # = the property
            "hs_meeting_title": Pin("gen:abc", "Kick-off"),  # differs (edited since)
            "@association:0": Pin("gen:def", "jane"),  # a pick: no property of its name
        },
    )


def test_a_pin_equal_to_its_property_is_saved_as_its_expression(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    state = State.empty(target="local", project="demo")
    state.records["meetings/a"] = _meeting()
    store.save(state)
    store.compact()
    saved = json.loads(store.path.read_text())["records"]["meetings/a"]["pinned"]
    assert saved == {
        "@association:0": {"expr": "gen:def", "value": "jane"},
        "hs_meeting_title": {"expr": "gen:abc", "value": "Kick-off"},
        "hs_timestamp": "+3d 10:00",
    }
    assert StateStore(store.path).load().records["meetings/a"] == _meeting()
    # what `state show` prints keeps every pin explicit
    assert _meeting().to_json()["pinned"]["hs_timestamp"] == {
        "expr": "+3d 10:00", "value": "2026-12-01T09:00:00.000Z",
    }


def test_the_journal_and_in_flight_records_use_the_same_form(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    state = store.load()
    store.save(state)
    state.records["meetings/a"] = _meeting()
    store.save(state)  # a journal line
    assert '"hs_timestamp": "+3d 10:00"' in store.journal_path.read_text()
    assert StateStore(store.path).load().records == {"meetings/a": _meeting()}


def test_pins_in_the_full_form_are_still_read(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    record = _meeting().to_json()
    record["pinned"] = {k: {"expr": p.expr, "value": p.value} for k, p in _meeting().pinned.items()}
    path.write_text(json.dumps({
        "format_version": 1, "lineage": "x", "serial": 3, "records": {"meetings/a": record},
    }))
    assert StateStore(path).load(check=False).records["meetings/a"] == _meeting()


def _damaged(record: dict[str, Any]) -> str:
    with pytest.raises(StateError) as caught:
        State.from_json({"format_version": 2, "lineage": "x", "records": {"m/a": record}},
                        where="s.json")
    return str(caught.value)


GOOD: dict[str, Any] = {
    "id": "1", "object_type": "meetings", "properties": {"a": "x"},
    "associations": [{"to_type": "contacts", "to_id": "2", "category": "USER_DEFINED",
                      "type_id": 3}],
    "pinned": {"a": "+1d"},
}


@pytest.mark.parametrize("change, message", [
    ({"id": 1}, 'id 1 is not a string'),
    ({"id": ""}, "a record id is empty"),
    ({"object_type": None}, "object_type null is not a string"),
    ({"properties": {"a": 1}}, "a property value is not a string"),
    ({"properties": []}, "properties is not a JSON object"),
    ({"associations": {}}, "associations is not a list"),
    ({"associations": [{"to_type": "c", "to_id": "2", "category": "U", "type_id": "3"}]},
     'type_id "3" is not a whole number'),
    ({"associations": [{"to_type": "c", "to_id": "2", "category": "U", "type_id": 3,
                        "label": 5}]}, "label 5 is not a string"),
    ({"pinned": None}, "pinned is not a JSON object"),
    ({"pinned": {"b": "+1d"}}, 'pin "+1d" has no value and no property of its name'),
    ({"pinned": {"a": {"expr": "+1d"}}}, "value is missing"),
    ({"pinned": {"a": 5}}, "an entry is not a JSON object"),
    ({"via_calendar": "yes"}, "via_calendar is not true or false"),
])
def test_a_record_of_a_wrong_shape_is_refused_naming_what(
    change: dict[str, Any], message: str
) -> None:
    assert f"record m/a: {message}" in _damaged({**GOOD, **change})


def test_a_record_of_the_right_shape_reads_as_before() -> None:
    state = State.from_json({"format_version": 2, "lineage": "x", "records": {"m/a": GOOD}},
                            where="s.json")
    assert state.records["m/a"] == RecordState(
        "1", "meetings", {"a": "x"},
        (AppliedAssociation("contacts", "2", "USER_DEFINED", 3),), {"a": Pin("+1d", "x")},
    )
