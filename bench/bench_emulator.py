"""How fast the emulator answers batch creates (100 records each), rate limits off.

Runs the emulator in a child process (``reconciler emulator serve``) so the client's
threads do not share its GIL, then sends batch creates from 1, 2 and 4 keep-alive httpx
clients in threads for a few seconds each and prints requests/s and records/s.

    .venv/bin/python bench/bench_emulator.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time

import httpx

TOKEN = "bench-token"


def _inputs(thread: int, batch: int) -> list[dict[str, object]]:
    return [
        {
            "properties": {
                "hs_timestamp": "2026-01-05T10:00:00Z",
                "hs_meeting_title": f"Bench {thread}-{batch}-{i}",
                "hs_meeting_outcome": "SCHEDULED",
                "hubspot_owner_id": "1001",
            },
            "objectWriteTraceId": f"{thread}-{batch}-{i}",
        }
        for i in range(100)
    ]


def run(base_url: str, threads: int, seconds: float) -> tuple[int, float]:
    count = [0] * threads
    payloads = [{"inputs": _inputs(t, 0)} for t in range(threads)]
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:
            while time.perf_counter() < stop_at:
                response = client.post(
                    "/crm/v3/objects/meetings/batch/create", json=payloads[index]
                )
                if response.status_code != 201:
                    raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")
                count[index] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(count), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-u", "-c",
         "import sys; from reconciler.cli import main; sys.exit(main())",
         "emulator", "serve", "--port", "0",
         "--token", TOKEN, "--rate-limit", "off"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"(http://\S+)", server.stdout.readline())
        if not match:
            raise SystemExit("the emulator did not print its base URL")
        base_url = match.group(1)
        print(f"emulator at {base_url}; batch create of 100 meetings, rate limits off")
        for threads in (1, 2, 4):
            done, elapsed = run(base_url, threads, args.seconds)
            rate = done / elapsed
            print(f"{threads} client thread(s): {rate:7.1f} batch requests/s  "
                  f"({rate * 100:8.0f} records/s)")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
