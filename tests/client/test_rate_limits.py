"""The rolling-window limiter on its own (a fake clock), and against the emulator's limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.deadline import Deadline, WaitTooLong
from reconciler.hubspot.ratelimit import MAX_BELIEVABLE_LIMIT, RollingWindowLimiter
from tests.helpers import FakeClock


def limiter(limit: int, window: float = 10.0, headroom: float = 0.0) -> tuple[RollingWindowLimiter, FakeClock]:
    clock = FakeClock()
    return RollingWindowLimiter(limit, window, headroom=headroom, clock=clock), clock


def test_allows_limit_per_rolling_window() -> None:
    lim, clock = limiter(3)
    assert [lim.acquire() for _ in range(3)] == [0, 0, 0]
    clock.now += 4
    waited = lim.acquire()  # the 4th waits until the 1st leaves the window
    assert waited == pytest.approx(6.0)
    assert clock.now == pytest.approx(1010.0)
    clock.now += 0.5
    assert lim.acquire() == pytest.approx(0.0)  # sent at 1000 and 1000: both expired at 1010
    assert lim.in_window() == 2


def test_headroom() -> None:
    lim, _ = limiter(100, headroom=0.08)
    assert lim.limit == 92
    assert limiter(1, headroom=0.5)[0].limit == 1


def test_headers_resize_the_window_and_limit() -> None:
    lim, _ = limiter(1000, headroom=0.1)
    lim.observe(server_limit=20, remaining=None, window_seconds=2.0)
    assert (lim.limit, lim.window_seconds) == (18, 2.0)


def test_requests_counted_by_the_server_but_not_by_us_are_booked() -> None:
    lim, clock = limiter(10)
    lim.acquire()
    # the server has seen 7 in its window (someone else shares the app): book 6 more
    lim.observe(server_limit=10, remaining=3, window_seconds=10.0)
    assert lim.in_window() == 7
    # a stale answer that counts fewer than we sent changes nothing
    lim.observe(server_limit=10, remaining=9, window_seconds=10.0)
    assert lim.in_window() == 7
    lim.exhausted()
    assert lim.in_window() == 10
    assert lim.until_oldest_expires() == pytest.approx(10.0)
    clock.now += 10
    assert lim.in_window() == 0


def test_our_requests_that_left_the_window_while_an_answer_was_in_flight_are_not_foreign() -> None:
    lim, clock = limiter(10)
    lim.acquire()  # at 1000
    clock.now += 9.95
    lim.acquire()  # at 1009.95; it arrives at 1009.98, when the server counts both
    clock.now += 0.1  # answered at 1010.05: the first has left our window meanwhile
    lim.observe(server_limit=10, remaining=8, window_seconds=10.0)
    assert lim.in_window() == 1  # nothing booked: no one else used the app
    # another process's requests are still booked
    lim.acquire()
    lim.observe(server_limit=10, remaining=5, window_seconds=10.0)  # counted 5: 2 ours + 3
    assert lim.in_window() == 5


def test_absurd_counts_from_a_server_cost_the_limiter_no_memory() -> None:
    # It appended one entry per "missing" request: Remaining -10**12 took 2.4 GB, then a
    # MemoryError (issue 17).
    lim, clock = limiter(100)
    lim.observe(server_limit=None, remaining=-1_000_000_000_000, window_seconds=None)
    assert (lim.in_window(), lim.entries_held()) == (0, 0)  # not believed: nothing booked
    lim.observe(server_limit=100_000_000_000, remaining=0, window_seconds=None)
    assert lim.limit == 100  # that Max is not believed; Remaining 0 is: the window is full
    assert (lim.in_window(), lim.entries_held()) == (100, 1)
    lim.observe(server_limit=MAX_BELIEVABLE_LIMIT, remaining=0, window_seconds=None)
    assert lim.in_window() == MAX_BELIEVABLE_LIMIT  # a believable million: still one entry
    assert lim.entries_held() == 1
    clock.now += 100
    # A long run at full pace, every answer booking other requests: what is held is
    # bounded by what we send in the window and the time kept after it (40 s), not by
    # the counts or the run's length.
    for _ in range(2000):
        lim.acquire()
        lim.observe(server_limit=100, remaining=50, window_seconds=10.0)
        clock.now += 0.05
    assert clock.now - 1100 >= 100  # far past the window and the time kept after it
    assert lim.entries_held() <= 2 * 100 * 4


def test_a_window_no_hubspot_has_is_not_believed() -> None:
    # Interval-Milliseconds 99999999999 made the limiter sleep about three years.
    lim, clock = limiter(5)
    lim.observe(server_limit=1, remaining=0, window_seconds=99_999_999.999)
    assert (lim.limit, lim.window_seconds) == (1, 10.0)
    lim.observe(server_limit=None, remaining=None, window_seconds=0.0005)
    assert lim.window_seconds == 10.0
    assert lim.acquire() == pytest.approx(10.0)
    assert clock.slept == [pytest.approx(10.0)]
    lim.observe(server_limit=None, remaining=None, window_seconds=60.0)  # long, but possible
    assert lim.window_seconds == 60.0


def test_the_limiter_waits_through_the_request_deadline() -> None:
    lim, clock = limiter(1)
    deadline = Deadline(5.0, clock=clock)
    lim.acquire(deadline.wait)
    with pytest.raises(WaitTooLong) as refused:
        lim.acquire(deadline.wait)  # the next slot is 10 s away: more than is left
    assert (refused.value.seconds, refused.value.allowed) == (10.0, 5.0)
    assert not refused.value.capped
    assert clock.slept == [] and lim.in_window() == 1  # it did not wait, nor book


def test_thread_safe_under_contention() -> None:
    lim = RollingWindowLimiter(50, 60.0)
    count = 0
    lock = threading.Lock()

    def grab() -> None:
        nonlocal count
        for _ in range(10):
            lim.acquire()
            with lock:
                count += 1

    threads = [threading.Thread(target=grab) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count == 50 and lim.in_window() == 50


# ---- against the emulator ------------------------------------------------------------------------


def test_burst_stays_under_the_portal_limit(make_client: Callable[..., HubSpotClient], hub: Emulator) -> None:
    hub.set_config(rate_limit_per_10s=20)
    client = make_client(requests_per_10s=20, concurrency=4)
    assert client.rate_limiter is not None and client.rate_limiter.limit == 19

    def read(chunk: Sequence[int]) -> int:
        client.list_properties("contacts")  # (owners are read once per client)
        return chunk[0]

    outcomes = list(client.run_batches(read, list(range(18)), size=1))
    assert len(outcomes) == 18 and all(isinstance(o, int) for _, o in outcomes)
    assert client.rate_limited == 0
    assert all(r["status"] == 200 for r in hub.requests())
    # the next request would have to wait for the window
    assert client.rate_limiter.in_window() == 18
    assert client.rate_limiter.until_oldest_expires() > 5


def test_limit_is_corrected_from_headers(make_client: Callable[..., HubSpotClient], hub: Emulator) -> None:
    hub.set_config(rate_limit_per_10s=20)
    client = make_client(requests_per_10s=1000)
    other = make_client(requests_per_10s=None)  # another process using the same app
    for _ in range(10):
        other.list_properties("contacts")
    client.list_properties("contacts")
    limiter = client.rate_limiter
    assert limiter is not None
    assert limiter.limit == 19  # from X-HubSpot-RateLimit-Max: 20, less the headroom
    assert limiter.in_window() == 11  # the server counted 11 in the window; we sent 1


def test_search_has_its_own_per_second_limit(make_client: Callable[..., HubSpotClient], hub: Emulator) -> None:
    hub.set_config(search_per_second=2)
    client = make_client(search_per_second=2)
    started = time.monotonic()
    for _ in range(4):
        list(client.search("meetings", [], []))
    elapsed = time.monotonic() - started
    assert client.rate_limited == 0
    assert elapsed >= 1.0  # 4 searches at 2 per second span more than one window
    assert all(r["status"] == 200 for r in hub.requests())


def test_search_429_is_retried(make_client: Callable[..., HubSpotClient], hub: Emulator) -> None:
    hub.set_config(search_per_second=1)
    client = make_client(search_per_second=None, max_retries=8)  # no limiter: collect 429s
    for _ in range(2):
        list(client.search("meetings", [], []))
    assert client.rate_limited >= 1
    statuses = [r["status"] for r in hub.requests()]
    assert statuses.count(200) == 2 and 429 in statuses
