"""Batch endpoints, correlation by trace id, run_batches, search, properties, owners,
associations and the calendar endpoint, against the emulator."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.errors import ApiError, ReconcilerError
from reconciler.hubspot.client import BATCH_LIMIT, HubSpotClient
from reconciler.hubspot.records import CreateInput, PropertyDefinition, UpdateInput, iso_datetime

from .conftest import api_requests


def meeting(trace: str, title: str | None = None) -> CreateInput:
    return CreateInput(trace, {"hs_timestamp": "1700000000000", "hs_meeting_title": title or trace})


def test_more_than_batch_limit_is_refused_before_sending(client: HubSpotClient, hub: Emulator) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        client.batch_create("meetings", [meeting(f"t{i}") for i in range(BATCH_LIMIT + 1)])
    with pytest.raises(ValueError, match="at most 100"):
        client.batch_archive("meetings", [str(i) for i in range(BATCH_LIMIT + 1)])
    assert hub.requests() == []


def test_duplicate_trace_ids_are_refused(client: HubSpotClient) -> None:
    with pytest.raises(ValueError, match="own trace_id"):
        client.batch_create("meetings", [meeting("same"), meeting("same")])


def test_207_results_correlate_by_trace_id_not_order(client: HubSpotClient, hub: Emulator) -> None:
    hub.set_config(echo_trace_ids=True)  # correlation by the echo the spec allows (off by default)
    inputs = [meeting(f"trace-{i}", f"title {i}") for i in range(40)]
    bad = CreateInput("trace-bad", {"hs_timestamp": "1700000000000", "no_such_property": "x"})
    outcome = client.batch_create("meetings", [*inputs[:20], bad, *inputs[20:]])
    by_trace = outcome.by_trace_id()
    assert set(by_trace) == {i.trace_id for i in inputs}
    for item in inputs:
        assert by_trace[item.trace_id].properties["hs_meeting_title"] == item.properties["hs_meeting_title"]
    # the emulator shuffles: correlating by position would have been wrong
    assert [r.object_write_trace_id for r in outcome.results] != [i.trace_id for i in inputs]
    assert len(outcome.errors) == 1
    error = outcome.errors[0]
    assert error.trace_ids == ("trace-bad",)
    assert error.category == "VALIDATION_ERROR"
    assert "no_such_property" in error.message
    assert api_requests(hub, "/batch/create")[0]["status"] == 207


def test_inline_associations_on_create(client: HubSpotClient, hub: Emulator) -> None:
    contact = client.batch_create("contacts", [CreateInput("c", {"email": "x@example.com"})])
    contact_id = contact.results[0].id
    created = client.batch_create(
        "meetings",
        [CreateInput("m", {"hs_timestamp": "1700000000000"},
                     (("contacts", contact_id, "HUBSPOT_DEFINED", 200),))],
    )  # fmt: skip
    meeting_id = created.results[0].id
    assert client.read_associations("meetings", "contacts", [meeting_id, "424242"]) == {
        meeting_id: ((contact_id, 200),)
    }


def test_update_upsert_read_archive(client: HubSpotClient, hub: Emulator) -> None:
    hub.set_config(echo_trace_ids=True)  # by_trace_id() reads the echo (off by default)
    created = client.batch_create("meetings", [meeting("a"), meeting("b")]).by_trace_id()
    a, b = created["a"].id, created["b"].id
    # no trace ids given: the client adds them, so one bad input does not fail the batch
    updated = client.batch_update(
        "meetings", [UpdateInput(a, {"hs_meeting_title": "A2"}), UpdateInput("999999", {"hs_meeting_title": "?"})]
    )
    assert [r.id for r in updated.results] == [a]
    assert updated.errors and "999999" in updated.errors[0].ids
    read = client.batch_read("meetings", [a, b], ["hs_meeting_title"]).by_id()
    assert read[a].properties["hs_meeting_title"] == "A2"
    client.batch_archive("meetings", [b])
    assert set(client.read_all("meetings", [a, b], ["hs_meeting_title"])) == {a}
    archived = client.batch_read("meetings", [b], ["hs_meeting_title"], archived=True)
    assert [r.archived for r in archived.results] == [True]


def test_upsert_by_unique_property(client: HubSpotClient) -> None:
    client.create_property(
        "companies",
        PropertyDefinition("reconciler_key", "Reconciler key", "string", "text", "companyinformation",
                           has_unique_value=True, hidden=True),
    )  # fmt: skip
    first = client.batch_upsert(
        "companies", "reconciler_key", [CreateInput("u1", {"reconciler_key": "p:companies/acme", "name": "Acme"})]
    )
    again = client.batch_upsert(
        "companies", "reconciler_key", [CreateInput("u2", {"reconciler_key": "p:companies/acme", "name": "Acme 2"})]
    )
    assert first.results[0].new is True
    assert again.results[0].new is False
    assert again.results[0].id == first.results[0].id
    with pytest.raises(ValueError, match="has no reconciler_key"):
        client.batch_upsert("companies", "reconciler_key", [CreateInput("u3", {"name": "x"})])


def test_read_all_splits_into_batches(client: HubSpotClient, hub: Emulator) -> None:
    ids: list[str] = []
    for start in range(0, 250, BATCH_LIMIT):
        chunk = [meeting(f"t{i}") for i in range(start, min(start + BATCH_LIMIT, 250))]
        ids.extend(r.id for r in client.batch_create("meetings", chunk).results)
    hub.clear_requests()
    found = client.read_all("meetings", [*ids, "777777"], ["hs_meeting_title"])
    assert set(found) == set(ids)
    sizes = sorted(len(r["request_body"]["inputs"]) for r in api_requests(hub, "/batch/read"))
    assert sizes == [51, 100, 100]


def test_run_batches_yields_every_chunk_and_errors_as_values(client: HubSpotClient) -> None:
    def work(chunk: Sequence[int]) -> int:
        if 7 in chunk:
            raise ApiError(400, "bad chunk")
        return sum(chunk)

    results = list(client.run_batches(work, list(range(25)), size=5))
    assert sorted(tuple(chunk) for chunk, _ in results) == [tuple(range(i, i + 5)) for i in range(0, 25, 5)]
    by_first = {chunk[0]: outcome for chunk, outcome in results}
    assert isinstance(by_first[5], ApiError)
    assert by_first[0] == sum(range(5))


def test_run_batches_stops_submitting_when_asked(make_client: Callable[..., HubSpotClient]) -> None:
    client = make_client(concurrency=2)
    stop = threading.Event()
    started: list[int] = []
    lock = threading.Lock()

    def work(chunk: Sequence[int]) -> int:
        with lock:
            started.append(chunk[0])
        return chunk[0]

    seen = []
    for chunk, _outcome in client.run_batches(work, list(range(100)), size=10, stop=stop):
        seen.append(chunk[0])
        stop.set()  # Ctrl-C after the first answer: what was in flight still comes back
    assert len(seen) == len(started)
    assert 1 <= len(seen) <= 3


def test_run_batches_raises_bugs(client: HubSpotClient) -> None:
    def work(chunk: Sequence[int]) -> int:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        list(client.run_batches(work, [1, 2, 3], size=1))


def test_cancel_stops_run_batches(make_client: Callable[..., HubSpotClient]) -> None:
    client = make_client(concurrency=1)
    client.cancel()
    # the first batch was submitted before anyone looked; nothing after it
    assert len(list(client.run_batches(lambda c: len(c), list(range(50)), size=10))) == 1


def test_search_pages_with_after(client: HubSpotClient, hub: Emulator) -> None:
    client.batch_create("meetings", [meeting(f"s{i}", "searchable") for i in range(7)])
    groups = [{"filters": [{"propertyName": "hs_meeting_title", "operator": "EQ", "value": "searchable"}]}]
    found = list(client.search("meetings", groups, ["hs_meeting_title"], limit=3))
    assert len({r.id for r in found}) == 7
    assert len(api_requests(hub, "/search")) == 3


def test_search_by_property_values_chunks_in_filters(client: HubSpotClient, hub: Emulator) -> None:
    client.create_property(
        "meetings", PropertyDefinition("reconciler_key", "Key", "string", "text", "meetinginformation")
    )
    inputs = [
        CreateInput(f"k{i}", {"hs_timestamp": "1700000000000", "reconciler_key": f"p:meetings/k{i}"})
        for i in range(120)
    ]
    client.batch_create("meetings", inputs[:100])
    client.batch_create("meetings", inputs[100:])
    hub.clear_requests()
    wanted = [f"p:meetings/k{i}" for i in range(0, 120, 1)] + ["p:meetings/absent"]
    found = client.search_by_property_values("meetings", "reconciler_key", wanted, [])
    assert sorted(r.properties["reconciler_key"] or "" for r in found) == sorted(wanted[:-1])
    assert len(api_requests(hub, "/search")) >= 2


def test_create_property_twice_returns_existing(client: HubSpotClient) -> None:
    definition = PropertyDefinition(
        "reconciler_key", "Reconciler key", "string", "text", "callinformation", hidden=True
    )
    created = client.create_property("calls", definition)
    again = client.create_property("calls", definition)
    assert created.name == again.name == "reconciler_key"
    assert again.hidden is True and again.form_field is False
    assert "reconciler_key" in {p.name for p in client.list_properties("calls")}


def test_owners(client: HubSpotClient) -> None:
    owners = client.list_owners()
    assert {o.email for o in owners} >= {"alice@example.com", "bob@example.com"}
    alice = next(o for o in owners if o.email == "alice@example.com")
    assert (alice.id, alice.user_id, alice.first_name) == ("1001", "5001", "Alice")


def test_associate_dissociate_labels(client: HubSpotClient, hub: Emulator) -> None:
    contact = client.batch_create("contacts", [CreateInput("c", {"email": "y@example.com"})]).results[0].id
    company = client.batch_create("companies", [CreateInput("o", {"name": "Y"})]).results[0].id
    labels = client.association_labels("contacts", "companies")
    assert any(label.type_id == 279 and label.label is None for label in labels)
    client.associate("contacts", "companies", [(contact, company, "HUBSPOT_DEFINED", 279)])
    client.associate("contacts", "companies", [(contact, company, "HUBSPOT_DEFINED", 279)])  # idempotent
    assert client.read_associations("contacts", "companies", [contact]) == {contact: ((company, 279),)}
    client.dissociate("contacts", "companies", [(contact, company, "HUBSPOT_DEFINED", 279)], all_types=True)
    assert client.read_associations("contacts", "companies", [contact]) == {}
    with pytest.raises(ApiError) as refused:
        client.associate("contacts", "companies", [(contact, "987654", "HUBSPOT_DEFINED", 279)])
    assert "987654" in str(refused.value)


def test_calendar_meeting(client: HubSpotClient, hub: Emulator) -> None:
    contact = client.batch_create("contacts", [CreateInput("c", {"email": "z@example.com"})]).results[0].id
    record = client.create_calendar_meeting(
        "5001",
        {
            "hs_meeting_title": "Kickoff",
            "hs_meeting_start_time": "1767261600000",
            "hs_meeting_end_time": "2026-01-01T11:00:00Z",
            "hs_meeting_outcome": "SCHEDULED",
            "hubspot_owner_id": "1001",
            "hs_attendee_owner_ids": "1002;1003",
            "reconciler_key": "not a scheduler property",
        },
        [("contacts", contact, "HUBSPOT_DEFINED", 200)],
        "Europe/Berlin",
        [(30, "MINUTES"), (1, "DAYS")],
        True,
    )
    assert record.id
    assert record.properties["hs_meeting_title"] == "Kickoff"
    sent = api_requests(hub, "/scheduler/2026-03/meetings/calendar")[0]
    assert sent["query"] == "organizerUserId=5001"
    props = sent["request_body"]["properties"]
    assert props["hs_meeting_start_time"] == "2026-01-01T10:00:00.000Z"
    assert props["hs_timestamp"] == props["hs_meeting_start_time"]
    assert props["hs_meeting_end_time"] == "2026-01-01T11:00:00.000Z"
    assert props["hs_attendee_owner_ids"] == ["1002", "1003"]
    assert "reconciler_key" not in props
    assert sent["request_body"]["emailReminderSchedule"] == {
        "reminders": [{"numberOfTimeUnits": 30, "timeUnit": "MINUTES"},
                      {"numberOfTimeUnits": 1, "timeUnit": "DAYS"}],
        "shouldIncludeInviteDescription": True,
    }  # fmt: skip
    assert hub.calendar_events()


def test_iso_datetime() -> None:
    assert iso_datetime("0") == "1970-01-01T00:00:00.000Z"
    assert iso_datetime("2026-01-01T12:00:00+02:00") == "2026-01-01T10:00:00.000Z"
    assert iso_datetime("2026-01-01T10:00:00.123456") == "2026-01-01T10:00:00.123Z"


def test_account_portal_id_absent_is_none(client: HubSpotClient) -> None:
    assert client.account_portal_id() in (None, 1234567)


def test_errors_are_ours(client: HubSpotClient) -> None:
    with pytest.raises(ReconcilerError):
        client.batch_read("no_such_type", ["1"], [])
