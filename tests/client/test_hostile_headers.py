"""Rate-limit headers no HubSpot could send, through a proxy that rewrites them (issue 17).

Each is ignored (with a debug note), the limiter's memory stays bounded whatever the
numbers, and every wait, whoever asked for it, counts toward the request's one deadline,
which names the host when it runs out. Nothing here sleeps longer than a deadline of a
second: before the fix these requests slept for a window of three years, or 6 x 100 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.cli.base import main
from reconciler.emulator.embedded import Emulator
from reconciler.errors import AmbiguousWriteError, DeadlineError
from reconciler.hubspot.budget import RequestEstimate
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.failures import believable_header
from reconciler.hubspot.ratelimit import RollingWindowLimiter
from reconciler.hubspot.records import CreateInput, UpdateInput
from tests.helpers import write_project
from tests.proxy import RewritingProxy

from .conftest import TOKEN

Header = tuple[str, str]


def on_every_answer(proxy: RewritingProxy, *headers: Header) -> None:
    for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
        proxy.rewrite(method, "*", lambda answer: answer.with_headers(*headers))


def limiter_of(client: HubSpotClient) -> RollingWindowLimiter:
    assert client.rate_limiter is not None
    return client.rate_limiter


def test_a_negative_remaining_is_ignored(
    make_client: Callable[..., HubSpotClient], hub: Emulator, http_log: pytest.LogCaptureFixture
) -> None:
    # It booked 10**12 "requests of another app", one list entry each: 2.4 GB, then a
    # MemoryError and exit 3.
    with RewritingProxy(hub.base_url) as proxy:
        on_every_answer(proxy, ("X-HubSpot-RateLimit-Remaining", "-1000000000000"))
        client = make_client(base_url=proxy.base_url, requests_per_10s=100)
        for _ in range(3):
            client.list_properties("contacts")
    limiter = limiter_of(client)
    assert (limiter.in_window(), limiter.entries_held()) == (3, 3)
    assert (
        "ignored X-HubSpot-RateLimit-Remaining: '-1000000000000' (a whole number from 0 to "
        "1,000,000 expected)"
    ) in http_log.text


def test_a_max_of_a_hundred_billion_is_ignored_and_costs_no_memory(
    make_client: Callable[..., HubSpotClient], hub: Emulator
) -> None:
    with RewritingProxy(hub.base_url) as proxy:
        on_every_answer(proxy, ("X-HubSpot-RateLimit-Max", "100000000000"),
                        ("X-HubSpot-RateLimit-Remaining", "0"))
        client = make_client(base_url=proxy.base_url, requests_per_10s=100, timeout_seconds=1.0)
        client.list_properties("contacts")
        limiter = limiter_of(client)
        # Max is not believed (the tier's 100 stays, less 4%); Remaining 0 is: the window
        # is full, booked as one entry beside our own request.
        assert (limiter.limit, limiter.in_window(), limiter.entries_held()) == (96, 100, 2)
        started = time.monotonic()
        with pytest.raises(DeadlineError) as caught:
            client.list_properties("contacts")  # the next slot is 10 s away
        assert time.monotonic() - started < 0.5
    host = f"127.0.0.1:{proxy.port}"
    assert str(caught.value).startswith(
        "GET /crm/v3/properties/contacts: gave up: waiting 10.0 s for a free slot under the "
        "rate limit would be past the request's deadline (1 s, "
    )
    assert f"nothing more was sent to {host}" in str(caught.value)


def test_a_window_of_three_years_is_ignored(
    make_client: Callable[..., HubSpotClient], hub: Emulator, http_log: pytest.LogCaptureFixture
) -> None:
    # Max 1, Remaining 0 and a window of 99999999999 ms: the limiter slept for the window.
    with RewritingProxy(hub.base_url) as proxy:
        on_every_answer(proxy, ("X-HubSpot-RateLimit-Max", "1"),
                        ("X-HubSpot-RateLimit-Remaining", "0"),
                        ("X-HubSpot-RateLimit-Interval-Milliseconds", "99999999999"))
        client = make_client(base_url=proxy.base_url, requests_per_10s=100, timeout_seconds=1.0)
        client.list_properties("contacts")
        limiter = limiter_of(client)
        assert (limiter.limit, limiter.window_seconds) == (1, 10.0)
        started = time.monotonic()
        # (real time: the slot frees 10 s after the first request, so a loaded machine may
        # show 9.9 s)
        with pytest.raises(DeadlineError, match=r"waiting (10\.0|9\.\d) s for a free slot"):
            client.list_properties("contacts")
        assert time.monotonic() - started < 0.5
    assert "ignored X-HubSpot-RateLimit-Interval-Milliseconds: '99999999999'" in http_log.text


def test_an_ignored_header_is_quoted_only_when_it_cannot_carry_the_token(
    make_client: Callable[..., HubSpotClient], hub: Emulator, http_log: pytest.LogCaptureFixture
) -> None:
    # A cut-off piece of the token would slip past the log scrubber, which matches it whole.
    with RewritingProxy(hub.base_url) as proxy:
        on_every_answer(proxy, ("X-HubSpot-RateLimit-Max", TOKEN + "x"))
        client = make_client(base_url=proxy.base_url, requests_per_10s=100)
        client.list_properties("contacts")
    assert (f"ignored X-HubSpot-RateLimit-Max: a value of {len(TOKEN) + 1} characters"
            in http_log.text)
    assert TOKEN[:8] not in http_log.text


def test_waits_a_believable_header_causes_count_toward_the_deadline(
    make_client: Callable[..., HubSpotClient], hub: Emulator
) -> None:
    # A window of a minute is possible, but a request does not wait past its deadline
    # for it (the limiter's waits did not count toward the deadline at all).
    with RewritingProxy(hub.base_url) as proxy:
        on_every_answer(proxy, ("X-HubSpot-RateLimit-Max", "1"),
                        ("X-HubSpot-RateLimit-Remaining", "0"),
                        ("X-HubSpot-RateLimit-Interval-Milliseconds", "60000"))
        client = make_client(base_url=proxy.base_url, requests_per_10s=100, timeout_seconds=1.0)
        client.list_properties("contacts")
        assert limiter_of(client).window_seconds == 60.0
        started = time.monotonic()
        with pytest.raises(DeadlineError, match="waiting 60.0 s for a free slot"):
            client.list_properties("contacts")
        assert time.monotonic() - started < 0.5
        assert proxy.forwarded.count(("GET", "/crm/v3/properties/contacts")) == 1


def test_a_429_with_retry_after_100_on_every_write_fails_at_once(
    make_client: Callable[..., HubSpotClient], hub: Emulator
) -> None:
    # Each attempt waited the 100 s asked for, 6 retries: 10 minutes for one request.
    limited = (
        (b'{"status":"error","message":"You have reached your ten_secondly_rolling limit.",'
         b'"errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}'),
        429,
        (("Retry-After", "100"), ("Content-Type", "application/json")),
    )
    with RewritingProxy(hub.base_url) as proxy:
        client = make_client(base_url=proxy.base_url, timeout_seconds=60.0, max_retries=6)
        created = client.batch_create(
            "meetings", [CreateInput("t0", {"hs_timestamp": "1700000000000"})]
        ).results[0]
        proxy.rewrite("POST", "*/batch/update", lambda answer: answer.with_raw(*limited))
        started = time.monotonic()
        with pytest.raises(DeadlineError) as caught:
            client.batch_update("meetings", [UpdateInput(created.id, {"hs_meeting_title": "x"})])
        assert time.monotonic() - started < 0.5
        assert proxy.forwarded.count(("POST", "/crm/v3/objects/meetings/batch/update")) == 1
    host = f"127.0.0.1:{proxy.port}"
    assert not isinstance(caught.value, AmbiguousWriteError)  # a 429 was not processed
    assert str(caught.value).startswith(
        "POST /crm/v3/objects/meetings/batch/update: gave up: waiting 100.0 s for the pause "
        f"{host} asked for (HTTP 429) would be past the request's deadline (60 s, "
    )


# ---- the daily remaining ----------------------------------------------------------------------


def test_a_negative_daily_remaining_is_unknown(
    make_client: Callable[..., HubSpotClient], hub: Emulator
) -> None:
    hub.set_config(daily_limit=1000)
    with RewritingProxy(hub.base_url) as proxy:
        client = make_client(base_url=proxy.base_url)
        client.list_properties("contacts")
        assert client.daily_remaining == 999
        on_every_answer(proxy, ("X-HubSpot-RateLimit-Daily-Remaining", "-5"))
        client = make_client(base_url=proxy.base_url)
        client.list_properties("contacts")
    assert client.daily_remaining is None
    estimate = RequestEstimate(records=3, associations=0, calendar=0, markers=1)
    assert estimate.describe(-5) == "Apply will take about 4 request(s)."


def test_plan_never_prints_a_negative_daily_remaining(
    tmp_path: Path, hub: Emulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    project = write_project(tmp_path / "daily", {
        "reconciler.yaml": "name: daily\n",
        "spec.yaml": "meetings:\n  kickoff:\n    title: Kickoff\n    start: 2026-12-01T10:00:00Z\n",
    })  # fmt: skip
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("NO_COLOR", "1")
    with RewritingProxy(hub.base_url) as proxy:
        on_every_answer(proxy, ("X-HubSpot-RateLimit-Daily-Remaining", "-5"))
        code = main(["plan", "--project", str(project), "--base-url", proxy.base_url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Apply will take about 9 request(s)." in captured.out  # (reads, markers made: #19)
    # The tmp path may itself hold "-5" (pytest-500), so look only at the lines we print.
    printed = captured.out.replace(str(tmp_path), "<tmp>")
    assert "-5" not in printed


@pytest.mark.parametrize(
    "value", ["-5", "1e3", "1_000", "0x10", "", "lots", "\uff19", "9" * 30, "1000001"]
)
def test_only_plain_whole_numbers_in_range_are_believed(value: str) -> None:
    headers = httpx.Headers([(b"X-HubSpot-RateLimit-Max", value.encode("utf-8"))])
    assert believable_header(headers, "X-HubSpot-RateLimit-Max", 1, 1_000_000) is None
    good = httpx.Headers({"X-HubSpot-RateLimit-Max": " 190 "})
    assert believable_header(good, "X-HubSpot-RateLimit-Max", 1, 1_000_000) == 190
