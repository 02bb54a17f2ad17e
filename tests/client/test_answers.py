"""Answers of the wrong shape, through a rewriting proxy in front of the emulator: a read
fails naming the endpoint (never "no records"), a write is "outcome unknown", and
results for inputs that were not sent are never mapped. Also HubSpot's refused
properties as readable lines, and IN values in lowercase."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.errors import AmbiguousWriteError, InvalidPropertiesError, UnusableAnswerError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import CreateInput, PropertyDefinition, UpdateInput
from tests.proxy import Answer, RewritingProxy

from .conftest import api_requests

OBJECTS = "/crm/v3/objects/meetings"


def meeting(trace: str) -> CreateInput:
    return CreateInput(trace, {"hs_timestamp": "1700000000000", "hs_meeting_title": trace})


@pytest.fixture
def proxy(hub: Emulator) -> Iterator[RewritingProxy]:
    with RewritingProxy(hub.base_url) as running:
        yield running


@pytest.fixture
def via_proxy(make_client: Callable[..., HubSpotClient], proxy: RewritingProxy) -> HubSpotClient:
    return make_client(base_url=proxy.base_url)


def body(value: Any, status: int | None = None) -> Callable[[Answer], Answer]:
    return lambda answer: answer.with_body(value, status)


# ---- reads: an error naming the endpoint, never "no records" ---------------------------------


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({}, "'results' is missing"),
        ([], "the body is a list, not an object"),
        ({"results": "oops"}, "'results' is a string, not a list"),
        ({"results": [{"properties": {}}]}, "results[0].id is missing"),
        ({"results": [{"id": None}]}, "results[0].id is null, not an id"),
        ({"results": [{"id": "1", "properties": []}]}, "results[0].properties is a list, not an object"),
    ],
)
def test_a_batch_read_of_the_wrong_shape_is_an_error(
    client: HubSpotClient, via_proxy: HubSpotClient, proxy: RewritingProxy, answer: Any, reason: str
) -> None:
    ids = [r.id for r in client.batch_create("meetings", [meeting("a"), meeting("b")]).results]
    proxy.rewrite("POST", "*/batch/read", body(answer))
    with pytest.raises(UnusableAnswerError) as caught:
        via_proxy.read_all("meetings", ids, ["hs_meeting_title"])
    assert str(caught.value).startswith(
        f"POST {OBJECTS}/batch/read: the answer cannot be used ({reason}); nothing was concluded"
    )
    assert (caught.value.method, caught.value.path, caught.value.reason) == (
        "POST", f"{OBJECTS}/batch/read", reason
    )


def test_a_non_json_answer_to_a_read_is_an_error(via_proxy: HubSpotClient, proxy: RewritingProxy) -> None:
    proxy.rewrite("GET", "/crm/v3/owners", lambda a: a.with_raw(b"<html>gateway</html>"))
    with pytest.raises(UnusableAnswerError, match="with a body that is not JSON"):
        via_proxy.list_owners()


def test_a_batch_read_answering_ids_not_asked_for_is_an_error(
    client: HubSpotClient, via_proxy: HubSpotClient, proxy: RewritingProxy
) -> None:
    ids = [r.id for r in client.batch_create("meetings", [meeting("a"), meeting("b")]).results]

    def foreign(answer: Answer) -> Answer:
        results = [dict(r, id="999999") for r in answer.body["results"]]
        return answer.with_body(dict(answer.body, results=results))

    proxy.rewrite("POST", "*/batch/read", foreign, times=1)
    with pytest.raises(UnusableAnswerError, match="record 999999, which was not asked for"):
        via_proxy.batch_read("meetings", ids, [])

    def one_for_all(answer: Answer) -> Answer:
        first = answer.body["results"][0]
        return answer.with_body(dict(answer.body, results=[first for _ in answer.body["results"]]))

    proxy.rewrite("POST", "*/batch/read", one_for_all, times=1)
    with pytest.raises(UnusableAnswerError, match="is answered twice"):
        via_proxy.batch_read("meetings", ids, [])


@pytest.mark.parametrize(
    ("call", "method", "pattern"),
    [
        (lambda c: list(c.search("meetings", [], [])), "POST", "*/search"),
        (lambda c: c.list_properties("meetings"), "GET", "/crm/v3/properties/meetings"),
        (lambda c: c.list_owners(), "GET", "/crm/v3/owners"),
        (lambda c: c.association_labels("meetings", "contacts"), "GET", "*/labels"),
        (lambda c: c.read_associations("meetings", "contacts", ["1"]), "POST", "/crm/v4/*/batch/read"),
        (lambda c: c.account_portal_id(), "GET", "/account-info/v3/details"),
    ],
)
@pytest.mark.parametrize("answer", [[], {"results": "oops"}, "oops", None])
def test_every_read_checks_its_answer(
    via_proxy: HubSpotClient, proxy: RewritingProxy,
    call: Callable[[HubSpotClient], object], method: str, pattern: str, answer: Any,
) -> None:  # fmt: skip
    proxy.rewrite(method, pattern, body(answer))
    with pytest.raises(UnusableAnswerError) as caught:
        call(via_proxy)
    assert caught.value.method == method
    assert proxy.rewritten and caught.value.path == proxy.rewritten[0][1]


def test_search_and_owners_pages_with_a_broken_cursor_are_errors(
    via_proxy: HubSpotClient, proxy: RewritingProxy
) -> None:
    proxy.rewrite("POST", "*/search", body({"results": [], "paging": {"next": {"after": {"x": 1}}}}))
    with pytest.raises(UnusableAnswerError, match=r"'paging.next.after' is an object, not a cursor"):
        list(via_proxy.search("meetings", [], []))


def test_a_portal_id_that_is_not_a_number_is_an_error(via_proxy: HubSpotClient, proxy: RewritingProxy) -> None:
    proxy.rewrite("GET", "/account-info/v3/details", body({"portalId": "my portal"}))
    with pytest.raises(UnusableAnswerError, match="'portalId' is a string, not an integer"):
        via_proxy.account_portal_id()


def test_an_association_read_for_records_not_asked_for_is_an_error(
    via_proxy: HubSpotClient, proxy: RewritingProxy
) -> None:
    proxy.rewrite("POST", "/crm/v4/*/batch/read", body(
        {"results": [{"from": {"id": "777"}, "to": [{"toObjectId": 5, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 200}]}]}]}
    ))  # fmt: skip
    with pytest.raises(UnusableAnswerError, match="it answers for 777, which was not asked for"):
        via_proxy.read_associations("meetings", "contacts", ["1"])


# ---- writes: an unusable answer is "outcome unknown" -----------------------------------------


@pytest.mark.parametrize("answer", [{}, [], {"results": "oops"}, {"results": [{"id": ""}]}, None])
def test_a_create_answered_unusably_after_commit_is_ambiguous(
    via_proxy: HubSpotClient, proxy: RewritingProxy, hub: Emulator, answer: Any
) -> None:
    proxy.rewrite("POST", "*/batch/create", body(answer))
    with pytest.raises(AmbiguousWriteError) as caught:
        via_proxy.batch_create("meetings", [meeting("x1"), meeting("x2")])
    assert caught.value.trace_ids == ["x1", "x2"]
    assert "the write may or may not have been committed" in str(caught.value)
    assert str(caught.value).startswith(f"POST {OBJECTS}/batch/create: the answer cannot be used (")
    assert len(hub.records("meetings")) == 2  # it did commit: only a marker search can tell
    assert len(api_requests(hub, "/batch/create")) == 1  # and it was not resent


@pytest.mark.parametrize(
    ("rewrite", "reason"),
    [
        (lambda results: [dict(r, id=results[0]["id"]) for r in results], "answers two inputs"),
        (lambda results: [dict(r, objectWriteTraceId="other") for r in results[:1]],
         "answers trace id 'other', which was not sent"),
        (lambda results: [*results, results[0]], "3 results for 2 inputs"),
    ],
)  # fmt: skip
def test_a_create_answering_for_inputs_not_sent_is_ambiguous(
    via_proxy: HubSpotClient, proxy: RewritingProxy,
    rewrite: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], reason: str,
) -> None:  # fmt: skip
    proxy.rewrite("POST", "*/batch/create",
                  lambda a: a.with_body(dict(a.body, results=rewrite(a.body["results"]))))
    with pytest.raises(AmbiguousWriteError, match=reason):
        via_proxy.batch_create("meetings", [meeting("y1"), meeting("y2")])


def test_create_results_without_trace_ids_are_kept_with_their_properties(
    via_proxy: HubSpotClient, proxy: RewritingProxy
) -> None:
    # HubSpot's documented 207 example carries no objectWriteTraceId: the caller matches
    # by the marker, so every returned property is kept.
    proxy.rewrite("POST", "*/batch/create", lambda a: a.with_body(
        dict(a.body, results=[{k: v for k, v in r.items() if k != "objectWriteTraceId"}
                              for r in a.body["results"]])
    ))  # fmt: skip
    outcome = via_proxy.batch_create("meetings", [meeting("z1"), meeting("z2")])
    assert outcome.by_trace_id() == {}
    assert sorted(r.properties["hs_meeting_title"] or "" for r in outcome.results) == ["z1", "z2"]


@pytest.mark.parametrize("answer", [{}, ["x"], {"results": [{"id": "424242"}]}])
def test_an_update_answered_unusably_is_ambiguous(
    client: HubSpotClient, via_proxy: HubSpotClient, proxy: RewritingProxy, answer: Any
) -> None:
    record = client.batch_create("meetings", [meeting("u")]).results[0]
    proxy.rewrite("POST", "*/batch/update", body(answer))
    with pytest.raises(AmbiguousWriteError) as caught:
        via_proxy.batch_update("meetings", [UpdateInput(record.id, {"hs_meeting_title": "U2"})])
    assert caught.value.trace_ids == [f"update:{record.id}"]


def test_an_upsert_answered_unusably_is_ambiguous(
    client: HubSpotClient, via_proxy: HubSpotClient, proxy: RewritingProxy
) -> None:
    client.create_property("companies", PropertyDefinition(
        "reconciler_key", "Key", "string", "text", "companyinformation", has_unique_value=True))
    proxy.rewrite("POST", "*/batch/upsert", body({"status": "COMPLETE"}))
    with pytest.raises(AmbiguousWriteError, match="'results' is missing"):
        via_proxy.batch_upsert("companies", "reconciler_key",
                               [CreateInput("u1", {"reconciler_key": "p:companies/a", "name": "A"})])


@pytest.mark.parametrize("answer", [{}, [], {"id": None, "properties": {}}])
def test_a_calendar_create_answered_unusably_is_ambiguous(
    via_proxy: HubSpotClient, proxy: RewritingProxy, hub: Emulator, answer: Any
) -> None:
    proxy.rewrite("POST", "/scheduler/*", body(answer))
    with pytest.raises(AmbiguousWriteError):
        via_proxy.create_calendar_meeting(
            "5001",
            {"hs_meeting_title": "T", "hs_meeting_start_time": "1767261600000",
             "hs_meeting_end_time": "1767265200000", "hs_meeting_outcome": "SCHEDULED",
             "hubspot_owner_id": "1001"},
            [], "UTC", [], False,
        )  # fmt: skip
    assert len(api_requests(hub, "/scheduler/")) == 1


def test_a_non_json_answer_to_a_create_is_ambiguous(via_proxy: HubSpotClient, proxy: RewritingProxy) -> None:
    proxy.rewrite("POST", "*/batch/create", lambda a: a.with_raw(b"OK"))
    with pytest.raises(AmbiguousWriteError, match="not JSON"):
        via_proxy.batch_create("meetings", [meeting("n")])


def test_an_answer_whose_encoding_is_broken_is_unusable(
    via_proxy: HubSpotClient, proxy: RewritingProxy
) -> None:
    broken = (b"this is not gzip", None, (("Content-Encoding", "gzip"),))
    proxy.rewrite("POST", "*/batch/create", lambda a: a.with_raw(*broken))
    with pytest.raises(AmbiguousWriteError, match="its body cannot be decoded"):
        via_proxy.batch_create("meetings", [meeting("g")])
    proxy.rewrite("GET", "/crm/v3/owners", lambda a: a.with_raw(*broken))
    with pytest.raises(UnusableAnswerError, match="its body cannot be decoded"):
        via_proxy.list_owners()


# ---- HubSpot's refused properties, one readable line each -------------------------------------


REFUSED = (
    'Property values were not valid: [{"isValid":false,"message":"Property \\"hs_prioritee\\" '
    'does not exist","error":"PROPERTY_DOESNT_EXIST","name":"hs_prioritee",'
    '"localizedErrorMessage":"Property \\"hs_prioritee\\" does not exist","portalId":1234567},'
    '{"isValid":false,"message":"nope was not one of the allowed options: [a, b]",'
    '"error":"INVALID_OPTION","name":"dealtype"}]'
)


def test_refused_properties_are_readable_lines(via_proxy: HubSpotClient, proxy: RewritingProxy) -> None:
    # a batch refused whole (HubSpot's 400, facts §10)
    refusal = {"status": "error", "message": REFUSED, "category": "VALIDATION_ERROR",
               "correlationId": "c-1"}
    proxy.rewrite("POST", "*/batch/update", body(refusal, 400))
    with pytest.raises(InvalidPropertiesError) as caught:
        via_proxy.batch_update("deals", [UpdateInput("1", {"hs_prioritee": "x", "dealtype": "nope"})])
    error = caught.value
    assert error.problems == (
        'hs_prioritee: Property "hs_prioritee" does not exist',
        "dealtype: nope was not one of the allowed options: [a, b]",
    )
    assert (error.status, error.category, error.correlation_id) == (400, "VALIDATION_ERROR", "c-1")
    assert str(error) == (
        "HubSpot answered 400 VALIDATION_ERROR POST /crm/v3/objects/deals/batch/update: Property "
        'values were not valid: hs_prioritee: Property "hs_prioritee" does not exist; dealtype: '
        "nope was not one of the allowed options: [a, b]"
    )


def test_refused_properties_in_a_207_are_readable_lines(client: HubSpotClient) -> None:
    outcome = client.batch_create("meetings", [
        meeting("ok"), CreateInput("bad", {"hs_timestamp": "1700000000000", "hs_prioritee": "x"})])
    (error,) = outcome.errors
    assert error.problems == ('hs_prioritee: Property "hs_prioritee" does not exist',)
    assert error.message == (
        'Property values were not valid: hs_prioritee: Property "hs_prioritee" does not exist'
    )


def test_other_messages_are_kept_as_they_are() -> None:
    from reconciler.hubspot.records import readable_message

    assert readable_message("Property values were not valid: [not json") == (
        "Property values were not valid: [not json", ())
    assert readable_message("No meetings with id 7") == ("No meetings with id 7", ())


# ---- IN values in lowercase ----------------------------------------------------------------------


def test_in_values_are_sent_lowercase_and_foreign_hits_ignored(
    client: HubSpotClient, via_proxy: HubSpotClient, proxy: RewritingProxy, hub: Emulator
) -> None:
    client.create_property("meetings", PropertyDefinition(
        "reconciler_key", "Key", "string", "text", "meetinginformation"))
    client.batch_create("meetings", [
        CreateInput("k", {"hs_timestamp": "1700000000000", "reconciler_key": "seed-large:meetings/kickoff"}),
        CreateInput("o", {"hs_timestamp": "1700000000000", "reconciler_key": "other:meetings/x"}),
    ])  # fmt: skip
    hub.clear_requests()
    found = client.search_by_property_values(
        "meetings", "reconciler_key", ["Seed-Large:meetings/Kickoff"], []
    )
    assert [r.properties["reconciler_key"] for r in found] == ["seed-large:meetings/kickoff"]
    sent = api_requests(hub, "/search")[0]["request_body"]["filterGroups"]
    assert sent == [{"filters": [{"propertyName": "reconciler_key", "operator": "IN",
                                  "values": ["seed-large:meetings/kickoff"]}]}]  # fmt: skip

    # a hit whose value was not asked for (a careless server) is never returned
    def add_foreign(answer: Answer) -> Answer:
        foreign = {"id": "31337", "properties": {"reconciler_key": "other:meetings/x"}}
        return answer.with_body(dict(answer.body, results=[*answer.body["results"], foreign]))

    proxy.rewrite("POST", "*/search", add_foreign)
    again = via_proxy.search_by_property_values(
        "meetings", "reconciler_key", ["seed-large:meetings/kickoff"], []
    )
    assert [r.properties["reconciler_key"] for r in again] == ["seed-large:meetings/kickoff"]


def test_every_in_filter_is_sent_lowercase(client: HubSpotClient, hub: Emulator) -> None:
    client.batch_create("meetings", [meeting("Mixed-Case")])
    hub.clear_requests()
    groups = [{"filters": [
        {"propertyName": "hs_meeting_title", "operator": "IN", "values": ["Mixed-Case", "OTHER"]},
        {"propertyName": "hs_meeting_title", "operator": "EQ", "value": "Mixed-Case"},
    ]}]  # fmt: skip
    found = list(client.search("meetings", groups, ["hs_meeting_title"]))
    assert [r.properties["hs_meeting_title"] for r in found] == ["Mixed-Case"]
    sent = api_requests(hub, "/search")[0]["request_body"]["filterGroups"][0]["filters"]
    assert sent[0]["values"] == ["mixed-case", "other"]
    assert sent[1]["value"] == "Mixed-Case"  # EQ is left as it is
    assert groups[0]["filters"][0]["values"] == ["Mixed-Case", "OTHER"]  # the caller's own list
