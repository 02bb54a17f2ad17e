"""Error answers, retries and the ambiguous write, with faults injected by the emulator."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest

from reconciler.emulator.config import FaultConfig
from reconciler.emulator.embedded import Emulator
from reconciler.errors import (
    AmbiguousWriteError,
    ApiError,
    DeadlineError,
    RateLimitError,
    TransportError,
    UnreachableError,
)
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.deadline import Deadline, WaitTooLong
from reconciler.hubspot.records import CreateInput
from reconciler.hubspot.retrying import (
    RetryableFailure,
    RetryPolicy,
    call_with_retries,
    retry_after_seconds,
)
from tests.helpers import FakeClock
from tests.proxy import RewritingProxy

from .conftest import TOKEN, api_requests


def meetings(n: int, prefix: str = "t") -> list[CreateInput]:
    return [
        CreateInput(f"{prefix}{i}", {"hs_timestamp": "1700000000000", "hs_meeting_title": f"{prefix}{i}"})
        for i in range(n)
    ]


# ---- error answers -------------------------------------------------------------------------


def test_401_maps_to_api_error(make_client: Callable[..., HubSpotClient], hub: Emulator) -> None:
    client = make_client(token="wrong-token")
    with pytest.raises(ApiError) as caught:
        client.list_owners()
    error = caught.value
    assert (error.status, error.category, error.method, error.path) == (
        401, "INVALID_AUTHENTICATION", "GET", "/crm/v3/owners",
    )  # fmt: skip
    assert error.correlation_id
    assert str(error).startswith("HubSpot answered 401 INVALID_AUTHENTICATION GET /crm/v3/owners: ")
    assert len(hub.requests()) == 1  # not retried


def test_403_missing_scopes(client: HubSpotClient, hub: Emulator) -> None:
    hub.set_config(scopes=("crm.objects.owners.read",))
    with pytest.raises(ApiError) as caught:
        client.batch_create("meetings", meetings(1))
    assert caught.value.status == 403
    assert caught.value.category == "MISSING_SCOPES"
    assert not isinstance(caught.value, AmbiguousWriteError)


def test_400_validation_body(client: HubSpotClient) -> None:
    # upsert by a property that is not unique: HubSpot refuses the whole batch (facts §7)
    with pytest.raises(ApiError) as caught:
        client.batch_upsert("companies", "name", [CreateInput("x", {"name": "Acme"})])
    error = caught.value
    assert (error.status, error.category) == (400, "VALIDATION_ERROR")
    assert error.correlation_id
    assert error.path == "/crm/v3/objects/companies/batch/upsert"


def test_400_on_bad_property_definition(client: HubSpotClient) -> None:
    from reconciler.hubspot.records import PropertyDefinition

    with pytest.raises(ApiError) as caught:
        client.create_property("meetings", PropertyDefinition("x", "X", "no-such-type", "text", "g"))
    assert caught.value.status == 400
    assert caught.value.category == "VALIDATION_ERROR"
    assert caught.value.api_message


# ---- retries ---------------------------------------------------------------------------------


def test_5xx_on_reads_is_retried(make_client: Callable[..., HubSpotClient], hub: Emulator) -> None:
    client = make_client(max_retries=8)
    hub.set_faults(FaultConfig(error_5xx=0.5), seed=3)
    for _ in range(5):  # (properties: owners are read once per client)
        assert client.list_properties("contacts")
    statuses = [r["status"] for r in api_requests(hub, "/properties/contacts")]
    assert any(s >= 500 for s in statuses)
    assert statuses.count(200) == 5
    assert client.retries == len(statuses) - 5


def test_5xx_on_create_is_ambiguous_and_not_resent(client: HubSpotClient, hub: Emulator) -> None:
    hub.set_faults(FaultConfig(error_5xx=1.0))
    with pytest.raises(AmbiguousWriteError) as caught:
        client.batch_create("meetings", meetings(3))
    assert caught.value.trace_ids == ["t0", "t1", "t2"]
    assert len(api_requests(hub, "/batch/create")) == 1


def test_429_is_retried_for_reads_and_creates(
    make_client: Callable[..., HubSpotClient], hub: Emulator
) -> None:
    # A 429 waits out the 10 s window (on a fake clock: no real time), and that wait
    # counts toward the deadline.
    clock = FakeClock()
    client = make_client(timeout_seconds=30.0, clock=clock)
    hub.set_faults(FaultConfig(rate_limit_429=0.5), seed=5)
    for batch in range(4):
        outcome = client.batch_create("meetings", meetings(5, prefix=f"b{batch}-"))
        assert len(outcome.results) == 5
    hub.set_faults(FaultConfig())
    assert len(hub.records("meetings")) == 20  # a 429 was not processed: no duplicates
    assert client.rate_limited > 0
    assert client.retries == client.rate_limited
    assert clock.slept == [10.0] * client.rate_limited


def test_a_429_wait_on_a_fake_clock_takes_no_time_and_spends_the_deadline(
    make_client: Callable[..., HubSpotClient], hub: Emulator
) -> None:
    """The clock seam: every wait of a request is on ``ClientSettings.clock``."""
    clock = FakeClock()
    client = make_client(timeout_seconds=25.0, clock=clock)
    hub.set_faults(FaultConfig(rate_limit_429=1.0))
    started = time.monotonic()
    with pytest.raises(DeadlineError) as caught:
        client.list_owners()
    assert time.monotonic() - started < 5  # 20 s waited, none of it real
    assert clock.slept == [10.0, 10.0]  # a third wait would end past the 25 s deadline
    assert clock.now == 1020.0
    assert "waiting 10.0 s for the pause" in str(caught.value)
    assert "past the request's deadline (25 s, 5.0 s left)" in str(caught.value)
    assert len(api_requests(hub, "/owners")) == 3


def test_daily_limit_stops_at_once(client: HubSpotClient, hub: Emulator) -> None:
    hub.set_config(daily_limit=2)
    client.list_properties("contacts")
    client.list_properties("contacts")
    hub.clear_requests()
    with pytest.raises(RateLimitError) as caught:
        client.list_properties("contacts")
    assert caught.value.policy == "DAILY"
    assert "daily" in str(caught.value).lower()
    assert len(hub.requests()) == 1  # never retried


def test_drop_after_commit_on_create_is_ambiguous(client: HubSpotClient, hub: Emulator) -> None:
    hub.set_faults(FaultConfig(drop_after_commit=1.0))
    with pytest.raises(AmbiguousWriteError) as caught:
        client.batch_create("meetings", meetings(2, prefix="amb"))
    hub.set_faults(FaultConfig())
    assert sorted(caught.value.trace_ids) == ["amb0", "amb1"]
    assert sorted(r["properties"]["hs_meeting_title"] for r in hub.records("meetings")) == ["amb0", "amb1"]
    assert len(api_requests(hub, "/batch/create")) == 1
    assert TOKEN not in str(caught.value)


def test_dropped_connection_on_read_is_retried(client: HubSpotClient, hub: Emulator) -> None:
    ids = [r.id for r in client.batch_create("meetings", meetings(3)).results]
    hub.set_faults(FaultConfig(drop_after_commit=0.3, drop_before_write=0.3), seed=11)
    for _ in range(4):
        assert set(client.read_all("meetings", ids, ["hs_meeting_title"])) == set(ids)
    assert client.retries > 0


def test_calendar_create_is_not_resent_after_a_drop(client: HubSpotClient, hub: Emulator) -> None:
    hub.set_faults(FaultConfig(drop_after_commit=1.0))
    with pytest.raises(AmbiguousWriteError):
        client.create_calendar_meeting(
            "5001",
            {"hs_meeting_title": "T", "hs_meeting_start_time": "1767261600000",
             "hs_meeting_end_time": "1767265200000", "hs_meeting_outcome": "SCHEDULED",
             "hubspot_owner_id": "1001"},
            [], "UTC", [], False,
        )  # fmt: skip
    assert len(api_requests(hub, "/scheduler/")) == 1


def test_read_timeout_is_the_deadline(make_client: Callable[..., HubSpotClient], hub: Emulator) -> None:
    client = make_client(timeout_seconds=0.3, max_retries=3)
    hub.set_faults(FaultConfig(slow=1.0, slow_seconds=0.8))
    with pytest.raises(AmbiguousWriteError):
        client.batch_create("meetings", meetings(1))
    started = time.monotonic()
    with pytest.raises(DeadlineError) as caught:
        client.list_owners()
    assert time.monotonic() - started < 0.6  # no retry after the deadline
    assert not isinstance(caught.value, AmbiguousWriteError)
    assert str(caught.value).startswith(
        f"GET /crm/v3/owners: no whole answer from {hub.host}:{hub.port} within 0.3 s"
    )
    assert client.retries == 0
    hub.set_faults(FaultConfig())  # (the next test's reset waits for the slow answers)


def test_first_connection_refused_fails_at_once_naming_the_host(
    make_client: Callable[..., HubSpotClient],
) -> None:
    client = make_client(base_url="http://127.0.0.1:9", max_retries=2)
    started = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        client.batch_create("meetings", meetings(1))
    assert time.monotonic() - started < 3
    assert client.requests_sent == 1
    message = str(caught.value)
    assert message.startswith("cannot reach 127.0.0.1:9: the connection was refused")
    assert "--base-url" in message
    assert not isinstance(caught.value, AmbiguousWriteError)


def test_unknown_host_fails_at_once(make_client: Callable[..., HubSpotClient]) -> None:
    client = make_client(base_url="https://no-such-host.invalid")
    started = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        client.list_owners()
    assert time.monotonic() - started < 3
    assert str(caught.value).startswith(
        "cannot reach no-such-host.invalid: the host name 'no-such-host.invalid' is unknown"
    )


def test_connect_errors_later_in_a_run_are_retried_even_for_creates(
    make_client: Callable[..., HubSpotClient], hub: Emulator
) -> None:
    with RewritingProxy(hub.base_url) as proxy:
        client = make_client(base_url=proxy.base_url, max_retries=2)
        client.list_owners()  # reached once: from now on a refusal may be a hiccup
        proxy.stop()
        with pytest.raises(TransportError) as caught:
            client.batch_create("meetings", meetings(1))
    assert not isinstance(caught.value, (AmbiguousWriteError, UnreachableError))
    assert client.requests_sent == 1 + 3
    assert "ConnectError" in str(caught.value)
    assert f"127.0.0.1:{proxy.port}" in str(caught.value)
    assert hub.records("meetings") == []


def test_pauses_the_server_asks_for_count_toward_the_deadline(
    make_client: Callable[..., HubSpotClient], hub: Emulator
) -> None:
    def limited(seconds: str) -> tuple[bytes, int, tuple[tuple[str, str], ...]]:
        return (
            (b'{"status":"error","message":"You have reached your ten_secondly_rolling limit.",'
             b'"errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}'),
            429,
            (("Retry-After", seconds), ("Content-Type", "application/json")),
        )

    with RewritingProxy(hub.base_url) as proxy:
        proxy.rewrite("GET", "/crm/v3/owners", lambda a: a.with_raw(*limited("0.2")), times=1)
        client = make_client(base_url=proxy.base_url, timeout_seconds=2.0)
        started = time.monotonic()
        assert client.list_owners()  # waited 0.2 s as asked, within the deadline
        assert time.monotonic() - started >= 0.2
        assert (client.rate_limited, client.retries) == (1, 1)

        proxy.rewrite("GET", "/crm/v3/owners", lambda a: a.with_raw(*limited("0.6")), times=1)
        client = make_client(base_url=proxy.base_url, timeout_seconds=0.5)
        started = time.monotonic()
        with pytest.raises(DeadlineError) as caught:
            client.list_owners()  # a pause longer than the deadline is not even started
        assert time.monotonic() - started < 0.4
    host = f"127.0.0.1:{proxy.port}"
    message = str(caught.value)
    assert message.startswith(
        f"GET /crm/v3/owners: gave up: waiting 0.6 s for the pause {host} asked for (HTTP "
        "429) would be past the request's deadline (0.5 s, "
    )
    assert message.endswith(
        f" s left); nothing more was sent to {host}. Run the command again later; if {host} "
        "is a proxy, check that it passes HubSpot's rate-limit headers unchanged."
    )
    assert (client.rate_limited, client.retries) == (1, 0)


def test_a_server_that_accepts_and_never_answers_fails_within_the_deadline(
    make_client: Callable[..., HubSpotClient],
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts connections; nobody ever reads or answers
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        client = make_client(base_url=f"http://{host}", timeout_seconds=1.0, max_retries=6)
        started = time.monotonic()
        with pytest.raises(DeadlineError) as caught:
            client.list_owners()
        assert time.monotonic() - started < 1.5
        assert f"no whole answer from {host} within 1 s" in str(caught.value)
        with pytest.raises(AmbiguousWriteError) as ambiguous:
            client.batch_create("meetings", meetings(1))
        assert f"no whole answer from {host}" in str(ambiguous.value)


def test_an_answer_that_drips_is_cut_at_the_deadline(make_client: Callable[..., HubSpotClient]) -> None:
    stop = threading.Event()

    def serve(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{")
            while not stop.wait(0.1):  # one byte every 100 ms, never the end
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        thread = threading.Thread(target=serve, args=(listener,), daemon=True)
        thread.start()
        client = make_client(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                             timeout_seconds=0.8, max_retries=0)
        started = time.monotonic()
        with pytest.raises(DeadlineError):
            client.list_owners()
        assert time.monotonic() - started < 1.5
        stop.set()
        thread.join(timeout=2)


# ---- the retry policy on its own ---------------------------------------------------------------


def deadline(seconds: float = 1000.0, longest_wait: float = 120.0) -> tuple[Deadline, FakeClock]:
    clock = FakeClock()
    return Deadline(seconds, longest_wait=longest_wait, clock=clock), clock


def test_retry_after_is_honoured_and_capped() -> None:
    calls = []

    def attempt(number: int) -> str:
        calls.append(number)
        if number < 3:
            raise RetryableFailure(ApiError(503, "busy"), retry_after=0.25)
        return "ok"

    within, clock = deadline()
    assert call_with_retries(attempt, RetryPolicy(max_retries=5), deadline=within) == "ok"
    assert clock.slept == [0.25, 0.25]

    def migrating(number: int) -> str:
        raise RetryableFailure(ApiError(477, "Migration in progress"), retry_after=86400)

    within, clock = deadline()
    with pytest.raises(WaitTooLong) as refused:
        call_with_retries(migrating, RetryPolicy(max_retries=5), deadline=within)
    assert clock.slept == []  # gave up instead of waiting a day
    assert (refused.value.seconds, refused.value.allowed, refused.value.capped) == (86400, 120, True)


def test_every_pause_counts_toward_the_deadline() -> None:
    # A 429 with Retry-After: 100 on every attempt took 6 x 100 s: the pauses a server
    # asked for did not count (issue 17).
    def limited(number: int) -> str:
        raise RetryableFailure(ApiError(429, "slow down"), retry_after=100, paced=True)

    within, clock = deadline(60.0)
    with pytest.raises(WaitTooLong) as refused:
        call_with_retries(limited, RetryPolicy(max_retries=6), deadline=within)
    assert clock.slept == []
    assert (refused.value.seconds, refused.value.allowed, refused.value.capped) == (100, 60, False)

    def locked(number: int) -> str:
        raise RetryableFailure(ApiError(423, "locked"), min_wait=2.0)

    within, clock = deadline(7.0)
    with pytest.raises(WaitTooLong):
        call_with_retries(locked, RetryPolicy(max_retries=6, initial_seconds=0.01), deadline=within)
    assert clock.slept == [2.0, 2.0, 2.0]  # a fourth would end at 8 s, past the 7 s


def test_backoff_has_jitter_min_wait_and_a_ceiling() -> None:
    def attempt(number: int) -> str:
        raise RetryableFailure(ApiError(423, "locked"), min_wait=2.0)

    within, clock = deadline()
    policy = RetryPolicy(max_retries=4, initial_seconds=0.01, max_seconds=5)
    with pytest.raises(ApiError, match="locked"):
        call_with_retries(attempt, policy, deadline=within)
    assert len(clock.slept) == 4
    assert all(2.0 <= s <= 5.0 for s in clock.slept)


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("inf") is None and retry_after_seconds("nan") is None
    assert retry_after_seconds("-3") == 0.0
