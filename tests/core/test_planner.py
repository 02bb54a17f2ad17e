"""The planner is pure: plain data in, Plan out."""

from __future__ import annotations

from types import MappingProxyType

from reconciler.model import AssociationRef, DesiredRecord, DesiredState, ProjectSettings, Source
from reconciler.planning.changes import RemoteSnapshot
from reconciler.planning.comparing import same_value
from reconciler.planning.planner import plan
from reconciler.state.model import AppliedAssociation, Pin, RecordState, State
from reconciler.state.plan_document import plan_from_json, plan_to_json

SRC = Source("spec.yaml", 3, 5)


def record(key: str, object_type: str = "meetings", **props: str) -> DesiredRecord:
    return DesiredRecord(object_type=object_type, key=key, properties=props, source=SRC)


def desired(*records: DesiredRecord) -> DesiredState:
    return DesiredState(
        project=ProjectSettings(root=".", name="demo"),
        records={r.address: r for r in records},
        reference_time="2026-11-23T09:00:00Z",
    )


def applied(id_: str, object_type: str = "meetings", **props: str) -> RecordState:
    return RecordState(id=id_, object_type=object_type, properties=props)


def test_new_record_is_a_create_with_every_property() -> None:
    result = plan(desired(record("kickoff", hs_meeting_title="Kickoff")), State.empty())
    assert [(c.action, c.address) for c in result.changes] == [("create", "meetings/kickoff")]
    assert result.changes[0].properties_to_send == {"hs_meeting_title": "Kickoff"}
    assert result.summary() == {"create": 1, "update": 0, "archive": 0, "unchanged": 0}


def test_unchanged_record_gives_no_changes() -> None:
    state = State.empty()
    state.records["meetings/kickoff"] = applied("1", hs_meeting_title="Kickoff")
    result = plan(desired(record("kickoff", hs_meeting_title="Kickoff")), state)
    assert not result.has_changes
    assert result.unchanged == ("meetings/kickoff",)


def test_changed_property_sends_only_that_property() -> None:
    state = State.empty()
    state.records["meetings/kickoff"] = applied("1", hs_meeting_title="Old", hs_meeting_body="B")
    result = plan(desired(record("kickoff", hs_meeting_title="New", hs_meeting_body="B")), state)
    (change,) = result.changes
    assert change.action == "update" and change.hubspot_id == "1"
    assert change.properties_to_send == {"hs_meeting_title": "New"}
    assert [(d.before, d.after) for d in change.diffs] == [("Old", "New")]


def test_record_gone_from_spec_is_archived() -> None:
    state = State.empty()
    state.records["calls/old"] = applied("9", "calls", hs_call_title="Old")
    result = plan(desired(), state)
    assert [(c.action, c.address, c.hubspot_id) for c in result.changes] == [
        ("archive", "calls/old", "9")
    ]


def test_portal_edit_of_managed_property_is_drift_and_put_back() -> None:
    state = State.empty()
    state.records["meetings/kickoff"] = applied("1", hs_meeting_title="Kickoff")
    remote = {"meetings/kickoff": RemoteSnapshot("1", {"hs_meeting_title": "Edited in UI"})}
    result = plan(desired(record("kickoff", hs_meeting_title="Kickoff")), state, remote)
    (change,) = result.changes
    assert change.action == "update" and change.reason == "changed in the portal"
    assert change.properties_to_send == {"hs_meeting_title": "Kickoff"}
    assert [(d.name, d.before, d.after) for d in change.drift] == [
        ("hs_meeting_title", "Kickoff", "Edited in UI")
    ]


def test_portal_edit_of_unmanaged_property_is_not_drift() -> None:
    state = State.empty()
    state.records["meetings/kickoff"] = applied("1", hs_meeting_title="Kickoff")
    remote = {
        "meetings/kickoff": RemoteSnapshot(
            "1", {"hs_meeting_title": "Kickoff", "hs_meeting_body": "someone's notes"}
        )
    }
    assert not plan(desired(record("kickoff", hs_meeting_title="Kickoff")), state, remote).changes


def test_record_deleted_in_portal_is_created_again() -> None:
    state = State.empty()
    state.records["meetings/kickoff"] = applied("1", hs_meeting_title="Kickoff")
    result = plan(desired(record("kickoff", hs_meeting_title="Kickoff")), state, {"meetings/kickoff": None})
    (change,) = result.changes
    assert change.action == "create" and change.reason == "deleted in the portal"


def test_order_puts_targets_first_and_archives_last() -> None:
    state = State.empty()
    state.records["contacts/gone"] = applied("5", "contacts", email="x@example.com")
    state.records["meetings/gone"] = applied("6", "meetings", hs_meeting_title="x")
    result = plan(
        desired(
            record("m", "meetings", hs_meeting_title="M"),
            record("c", "contacts", email="c@example.com"),
            record("co", "companies", name="Co"),
        ),
        state,
    )
    assert [c.address for c in result.changes] == [
        "companies/co", "contacts/c", "meetings/m", "meetings/gone", "contacts/gone",
    ]


def test_pinned_relative_time_does_not_churn() -> None:
    wanted = DesiredRecord(
        object_type="meetings", key="demo", source=SRC,
        properties={"hs_meeting_start_time": "2026-11-27T09:00:00.000Z",
                    "hs_timestamp": "2026-11-27T09:00:00.000Z"},
        relative_times=MappingProxyType({"hs_meeting_start_time": "+3d 10:00"}),
    )
    state = State.empty()
    state.records["meetings/demo"] = RecordState(
        id="1", object_type="meetings",
        properties={"hs_meeting_start_time": "2026-11-26T09:00:00.000Z",
                    "hs_timestamp": "2026-11-26T09:00:00.000Z"},
        pinned={"hs_meeting_start_time": Pin("+3d 10:00", "2026-11-26T09:00:00.000Z")},
    )
    assert not plan(desired(wanted), state).changes
    first = plan(desired(wanted), State.empty()).changes[0]
    assert first.pins == {"hs_meeting_start_time": Pin("+3d 10:00", "2026-11-27T09:00:00.000Z")}


def test_association_added_and_removed() -> None:
    wanted = DesiredRecord(
        object_type="meetings", key="m", source=SRC, properties={"hs_meeting_title": "M"},
        associations=(AssociationRef("contacts", to_key="jane", type_id=200),),
    )
    state = State.empty()
    state.records["meetings/m"] = RecordState(
        id="1", object_type="meetings", properties={"hs_meeting_title": "M"},
        associations=(AppliedAssociation("companies", "77", "HUBSPOT_DEFINED", 188, "acme"),),
    )
    (change,) = plan(desired(wanted), state).changes
    assert change.action == "update" and change.properties_to_send == {}
    assert [a.to_key for a in change.add_associations] == ["jane"]
    assert [a.to_key for a in change.remove_associations] == ["acme"]


def test_an_association_applied_from_a_label_is_compared_by_that_label() -> None:
    def spec(label: str) -> DesiredRecord:
        return DesiredRecord(
            object_type="meetings", key="m", source=SRC, properties={"hs_meeting_title": "M"},
            associations=(AssociationRef("contacts", to_key="ann", category="USER_DEFINED",
                                         label=label),),
        )

    made = AppliedAssociation("contacts", "7", "USER_DEFINED", 41, "ann", label="Decision maker")
    state = State.empty()
    state.records["meetings/m"] = RecordState(
        id="1", object_type="meetings", properties={"hs_meeting_title": "M"}, associations=(made,),
    )
    assert not plan(desired(spec("Decision maker")), state).changes
    (change,) = plan(desired(spec("Champion")), state).changes
    assert [a.label for a in change.add_associations] == ["Champion"]
    assert change.remove_associations == (made,)
    assert plan_from_json(plan_to_json(plan(desired(spec("Champion")), state))).changes == (change,)
    assert AppliedAssociation.from_json(made.to_json()) == made


def test_owner_email_resolves_through_owner_map() -> None:
    wanted = DesiredRecord(
        object_type="calls", key="c", source=SRC, properties={"hs_call_title": "C"},
        owner_email="alice@example.com",
    )
    result = plan(desired(wanted), State.empty(), owners={"alice@example.com": "1001"})
    assert result.changes[0].after["hubspot_owner_id"] == "1001"


def test_plan_round_trips_through_json() -> None:
    wanted = DesiredRecord(
        object_type="meetings", key="m", source=SRC, properties={"hs_meeting_title": "M"},
        associations=(AssociationRef("contacts", to_key="jane", type_id=200),),
    )
    original = plan(desired(wanted), State.empty(), target="local")
    assert plan_from_json(plan_to_json(original)) == original


def test_same_value_is_lenient_on_numbers_and_instants() -> None:
    assert same_value("5", "5.0")
    assert same_value("2026-01-01T10:00:00Z", "2026-01-01T10:00:00.000Z")
    assert same_value(None, "")
    assert not same_value("a", "b")
