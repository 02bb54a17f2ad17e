"""Plan of N unchanged records under HubSpot's default limit (100 requests / 10 s), against
the emulator: what an incremental refresh costs, and what 100 records edited in the portal
add to it.

In one run against one emulator:

1. setup, limits off: ``apply`` creates N/2 meetings and N/2 calls, then one ``plan``
   (its refresh is full: no previous refresh) leaves the refresh log;
2. limits on (100 requests / 10 s, search 5 / s, as HubSpot's free tier):
   ``plan`` of the N unchanged records (incremental): wall time, HTTP requests, peak RSS;
3. 100 meetings edited in the portal, then ``plan`` again: those 100 show as drift;
4. with ``--compare-full``, ``plan --refresh=full`` for comparison (about N/100 reads).

Each plan is a child process (``reconciler plan``), as a user runs it.

    .venv/bin/python bench/bench_refresh.py                     # N = 50,000
    .venv/bin/python bench/bench_refresh.py --records 10000 --compare-full
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import start_emulator

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
LIMIT_PER_10S = 100
SEARCH_PER_SECOND = 5
EDITED = 100

#: the child prints its own peak RSS last, so each figure is that command's alone: VmHWM,
#: not ru_maxrss, which on Linux carries this process's high-water mark (the emulator's
#: 50,000 records) into the child across fork and exec
CHILD = (
    "import re, sys\n"
    "from pathlib import Path\n"
    "from reconciler.cli import main\n"
    "code = main()\n"
    "status = Path('/proc/self/status').read_text()\n"
    "peak = re.search(r'VmHWM:\\s+(\\d+)', status).group(1)\n"
    "sys.stderr.write(f'\\nPEAK_RSS_KIB {peak}\\n')\n"
    "sys.exit(code)\n"
)


def write_project(root: Path, base_url: str, n: int, *, limited: bool) -> None:
    """The project; ``limited``: the client paces itself as for HubSpot's free tier, else
    (setup) it runs as fast as the emulator answers."""
    root.mkdir(parents=True, exist_ok=True)
    limits = (
        "{tier: free}" if limited
        else "{tier: free, requests_per_10s: 1000000, search_per_second: 1000, concurrency: 4}"
    )
    (root / "reconciler.yaml").write_text(
        "name: bench\nid: bench-refresh\ndefault_target: bench\n"
        f"targets:\n  bench:\n    base_url: {base_url}\n    rate_limit: {limits}\n"
    )
    if (root / "bulk.yaml").exists():
        return
    half = n // 2
    lines = ["meetings:"]
    for i in range(half):
        lines += [f"  m{i}:", f"    title: Meeting {i}", "    start: 2026-12-01T10:00:00Z"]
    lines.append("calls:")
    for i in range(n - half):
        lines += [f"  c{i}:", f"    title: Call {i}", "    timestamp: 2026-12-01T10:00:00Z"]
    (root / "bulk.yaml").write_text("\n".join(lines) + "\n")


def reconciler(emu: Any, project: Path, *args: str) -> dict[str, Any]:
    """Run one command as a child process against the emulator; its figures."""
    emu.clear_requests()
    env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": TOKEN, "NO_COLOR": "1"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args, "--project", str(project)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"reconciler {' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    peak = re.search(r"PEAK_RSS_KIB (\d+)", done.stderr)
    log = [r for r in emu.requests() if not r["path"].startswith("/__emulator")]
    refreshed = next(
        (line for line in done.stdout.splitlines() if line.startswith("Refreshed")), ""
    )
    summary = next((line for line in done.stdout.splitlines()
                    if line.startswith(("Plan:", "No changes", "Apply complete"))), "")
    return {
        "wall_s": wall,
        "requests": len(log),
        "searches": sum(1 for r in log if r["path"].endswith("/search")),
        "reads": sum(1 for r in log if r["path"].endswith("/batch/read")),
        "429s": sum(1 for r in log if r["status"] == 429),
        "peak_rss_mib": int(peak.group(1)) / 1024 if peak else float("nan"),
        "refreshed": refreshed,
        "summary": summary,
    }


def edit_meetings(emu: Any, count: int) -> None:
    """Edit ``count`` meetings as a user in HubSpot's UI would (one batch update)."""
    import httpx

    ids = sorted((r["id"] for r in emu.records("meetings")), key=int)[:count]
    httpx.post(
        f"{emu.base_url}/crm/v3/objects/meetings/batch/update",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"inputs": [{"id": i, "properties": {"hs_meeting_title": "Edited in the UI"}}
                         for i in ids]},
        timeout=60,
    ).raise_for_status()


def show(label: str, figures: dict[str, Any]) -> None:
    print(f"{label}:")
    print(f"  {figures['wall_s']:.2f} s, {figures['requests']} requests "
          f"({figures['searches']} searches, {figures['reads']} batch reads), "
          f"{figures['429s']} 429s, peak RSS {figures['peak_rss_mib']:.0f} MiB")
    print(f"  {figures['refreshed']}  {figures['summary']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--compare-full", action="store_true",
                        help="also time `plan --refresh=full` under the limit")
    args = parser.parse_args()
    n = args.records
    config = EmulatorConfig(token=TOKEN, request_log_size=100_000)
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}")
    with start_emulator(config, port=0) as emu, tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "bench"
        write_project(project, emu.base_url, n, limited=False)
        started = time.monotonic()
        applied = reconciler(emu, project, "apply", "--auto-approve")
        first = reconciler(emu, project, "plan")
        print(f"setup (limits off): apply of {n:,} records {applied['wall_s']:.1f} s, first "
              f"plan {first['wall_s']:.1f} s ({first['refreshed']}); "
              f"{time.monotonic() - started:.0f} s in all")

        write_project(project, emu.base_url, n, limited=True)
        emu.set_config(rate_limit_per_10s=LIMIT_PER_10S, search_per_second=SEARCH_PER_SECOND)
        time.sleep(11)  # the emulator's window still holds the setup's requests
        print(f"# limits on: {LIMIT_PER_10S} requests / 10 s, search {SEARCH_PER_SECOND} / s")
        show(f"plan of {n:,} unchanged records (incremental)", reconciler(emu, project, "plan"))

        edit_meetings(emu, EDITED)  # one request, as a user's edits in the UI
        edited = reconciler(emu, project, "plan")
        show(f"plan with {EDITED} records edited in the portal", edited)
        if f"{EDITED} to update" not in edited["summary"]:
            raise SystemExit(f"expected {EDITED} updates, got: {edited['summary']}")
        if args.compare_full:
            show("plan --refresh=full (for comparison)",
                 reconciler(emu, project, "plan", "--refresh=full"))


if __name__ == "__main__":
    main()
