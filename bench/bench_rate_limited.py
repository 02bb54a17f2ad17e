"""Apply under HubSpot's default private-app limit (100 requests / 10 s), against the emulator.

In one run against one emulator (rate limit on, faults off):

1. the reconciler (a child process, ``reconciler apply``) creates N meetings and N calls:
   records/s as a share of the ceiling the limit allows (100 requests / 10 s x 100 records a
   batch = 1,000 records/s), 429s received, HTTP requests per record, peak memory (RSS);
2. the official SDK (``hubspot-api-client``) creating records one request each, the way a
   simple script does (a sample, extrapolated to 2N records, as stated in the output);
3. the official SDK in a plain batch loop with no limiter (sleeping 1 s after a 429).

    .venv/bin/python bench/bench_rate_limited.py            # N = 10,000 (about 2 minutes)
    .venv/bin/python bench/bench_rate_limited.py --quick    # N = 1,000
    .venv/bin/python bench/bench_rate_limited.py --limit 190 --records 50000 --only-reconciler
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import start_emulator

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
LIMIT_PER_10S = 100
CEILING = LIMIT_PER_10S / 10 * 100  # records/s: every request a full batch of 100
WINDOW = 10.0


def write_project(root: Path, base_url: str, n: int, limit: int = LIMIT_PER_10S) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text(
        "name: bench\nid: bench-rate-limited\ndefault_target: bench\n"
        f"targets:\n  bench:\n    base_url: {base_url}\n"
        f"    rate_limit: {{requests_per_10s: {limit}}}\n"
    )
    lines = ["meetings:"]
    for i in range(n):
        lines += [f"  m{i}:", f"    title: Meeting {i}", "    start: 2026-12-01T10:00:00Z"]
    lines.append("calls:")
    for i in range(n):
        lines += [f"  c{i}:", f"    title: Call {i}", "    timestamp: 2026-12-01T10:00:00Z"]
    (root / "bulk.yaml").write_text("\n".join(lines) + "\n")


def reconciler_apply(emu: Any, n: int, limit: int = LIMIT_PER_10S) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "bench"
        write_project(project, emu.base_url, n, limit)
        emu.clear_requests()
        env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": TOKEN, "NO_COLOR": "1"}
        # VmHWM, not ru_maxrss: on Linux that carries this process's high-water mark (the
        # emulator's records) into the child across fork and exec
        code = ("import re, sys; from pathlib import Path; from reconciler.cli import main\n"
                "code = main()\n"
                "status = Path('/proc/self/status').read_text()\n"
                "sys.stderr.write('\\n@peak_kib=' + re.search(r'VmHWM:\\s+(\\d+)', status)[1])\n"
                "sys.exit(code)\n")
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", code, "apply", "--project", str(project), "--auto-approve"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        _, err = process.communicate()
        wall = time.monotonic() - started
        if process.returncode != 0:
            raise SystemExit(f"reconciler apply failed ({process.returncode}):\n{err[-2000:]}")
        found = re.search(r"@peak_kib=(\d+)", err)
        peak_kib = int(found.group(1)) if found else float("nan")
    log = [r for r in emu.requests() if not r["path"].startswith("/__emulator")]
    writes = [
        r for r in log if r["path"].endswith("/batch/create") and r["status"] in (200, 201, 207)
    ]
    first = min(r["time"] for r in log)
    last = max(r["time"] for r in log)
    last_write = max(r["time"] for r in writes)
    created = sum(len(r["request_body"]["inputs"]) for r in writes)
    assert created == 2 * n, f"created {created}, expected {2 * n}"
    return {
        "records": created,
        "wall_s": wall,
        "http_s": last - first,
        # first request to last create: the apply itself, without what follows it (waiting
        # for search to list what was created, reading the refresh log's counts)
        "write_s": last_write - first,
        "write_requests": sum(1 for r in log if r["time"] <= last_write),
        "requests": len(log),
        "429s": sum(1 for r in log if r["status"] == 429),
        "peak_rss_mib": peak_kib / 1024,
    }


def _sdk(emu: Any) -> Any:
    from hubspot import HubSpot

    return HubSpot(access_token=TOKEN, host=emu.base_url, base_url=emu.base_url)


def _with_429_sleep(send: Callable[[], Any], counter: list[int]) -> None:
    """What a simple script does: on a 429, sleep a second and try again."""
    while True:
        try:
            send()
            return
        except Exception as error:  # each SDK module has its own ApiException class
            if getattr(error, "status", None) != 429:
                raise
            counter[0] += 1
            time.sleep(1.0)


def sdk_single_creates(emu: Any, sample: int) -> dict[str, float]:
    from hubspot.crm.objects.meetings import SimplePublicObjectInputForCreate

    client = _sdk(emu)
    hits = [0]
    started = time.monotonic()
    for i in range(sample):
        body = SimplePublicObjectInputForCreate(
            properties={"hs_meeting_title": f"SDK {i}", "hs_timestamp": "2026-12-01T10:00:00Z"},
            associations=[],
        )
        _with_429_sleep(
            lambda body=body: client.crm.objects.meetings.basic_api.create(
                simple_public_object_input_for_create=body
            ),
            hits,
        )
    seconds = time.monotonic() - started
    return {"records": sample, "seconds": seconds, "429s": hits[0], "requests": sample + hits[0]}


def sdk_batch_loop(emu: Any, n: int) -> dict[str, float]:
    from hubspot.crm.objects.calls import (
        BatchInputSimplePublicObjectBatchInputForCreate as CallBatch,
    )
    from hubspot.crm.objects.calls import (
        SimplePublicObjectBatchInputForCreate as CallInput,
    )
    from hubspot.crm.objects.meetings import (
        BatchInputSimplePublicObjectBatchInputForCreate as MeetingBatch,
    )
    from hubspot.crm.objects.meetings import (
        SimplePublicObjectBatchInputForCreate as MeetingInput,
    )

    client = _sdk(emu)
    hits = [0]
    started = time.monotonic()
    for kind, api, batch_cls, input_cls, title in (
        ("m", client.crm.objects.meetings.batch_api, MeetingBatch, MeetingInput,
         "hs_meeting_title"),
        ("c", client.crm.objects.calls.batch_api, CallBatch, CallInput, "hs_call_title"),
    ):
        for start in range(0, n, 100):
            inputs = [
                input_cls(properties={title: f"Loop {kind}{i}",
                                      "hs_timestamp": "2026-12-01T10:00:00Z"},
                          associations=[], object_write_trace_id=f"{kind}{i}")
                for i in range(start, min(n, start + 100))
            ]
            batch = batch_cls(inputs=inputs)
            _with_429_sleep(
                lambda api=api, batch=batch: api.create(
                    batch_input_simple_public_object_batch_input_for_create=batch
                ),
                hits,
            )
    seconds = time.monotonic() - started
    requests = (2 * n + 99) // 100 + hits[0]
    return {"records": 2 * n, "seconds": seconds, "429s": hits[0], "requests": requests}


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                      if line.startswith("Model name")), platform.processor())
    except OSError:
        model = platform.processor()
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 meetings and 1,000 calls")
    parser.add_argument("--sample", type=int, default=None,
                        help="SDK single creates to time (default 300, quick 100)")
    parser.add_argument("--limit", type=int, default=LIMIT_PER_10S,
                        help="requests / 10 s, the emulator's and the target's (190: Pro)")
    parser.add_argument("--records", type=int, default=None,
                        help="N: meetings, and as many calls (default 10,000)")
    parser.add_argument("--only-reconciler", action="store_true", help="skip the SDK rows")
    args = parser.parse_args()
    n = args.records or (1000 if args.quick else 10_000)
    sample = args.sample or (100 if args.quick else 300)
    limit = args.limit
    ceiling = limit / 10 * 100  # records/s: every request a full batch of 100

    config = EmulatorConfig(token=TOKEN, rate_limit_per_10s=limit, search_per_second=5,
                            request_log_size=max(100_000, n // 20))
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {machine()}")
    print(f"# emulator limit {limit} requests / 10 s: ceiling {ceiling:.0f} records/s")
    with start_emulator(config, port=0) as emu:
        ours = reconciler_apply(emu, n, limit)
        rate = ours["records"] / ours["write_s"]
        # The fastest the limit allows: a full window's burst at once, then one window per
        # further ``limit`` requests (a rolling window lets the first burst through).
        fastest = (int(ours["write_requests"]) - 1) // limit * WINDOW
        print(f"reconciler apply, {n:,} meetings + {n:,} calls:")
        print(f"  {rate:,.0f} records/s = {rate / ceiling:.0%} of the ceiling "
              f"(first request to last create {ours['write_s']:.1f} s; to the last request "
              f"{ours['http_s']:.1f} s; whole process {ours['wall_s']:.1f} s, "
              f"{ours['records'] / ours['wall_s']:,.0f} records/s)")
        if fastest:
            print(f"  the limit allows these {int(ours['write_requests'])} requests in "
                  f"{fastest:.0f} s at best: {fastest / ours['write_s']:.0%} of that pace")
        else:
            print("  (all requests fit in one 10-second window: use the full run to measure)")
        print(f"  429s received: {ours['429s']}; HTTP requests: {ours['requests']} "
              f"({ours['requests'] / ours['records']:.4f} per record); "
              f"peak memory (RSS): {ours['peak_rss_mib']:.0f} MiB")
        if args.only_reconciler:
            return

        time.sleep(WINDOW)  # let the rolling window empty between contenders
        single = sdk_single_creates(emu, sample)
        per_second = single["records"] / single["seconds"]
        print(f"SDK, one request per record ({sample} timed, extrapolated to {2 * n:,}):")
        print(f"  {per_second:,.1f} records/s = {per_second / ceiling:.1%} of the ceiling; "
              f"{2 * n / per_second / 60:,.0f} min for {2 * n:,} records; "
              f"429s: {single['429s']} in the sample; 1 request per record")

        time.sleep(WINDOW)
        loop = sdk_batch_loop(emu, n)
        per_second = loop["records"] / loop["seconds"]
        print(f"SDK, plain batch loop without a limiter, {n:,} + {n:,}:")
        print(f"  {per_second:,.0f} records/s = {per_second / ceiling:.0%} of the ceiling; "
              f"429s received: {loop['429s']}; "
              f"{loop['requests'] / loop['records']:.4f} requests per record")


if __name__ == "__main__":
    main()
