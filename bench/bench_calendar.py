"""Calendars and stories at volume: ``python bench/bench_calendar.py [--quick] [--companies N]``.

A generated sales team (``--companies`` 300 make ~50,000 meetings and calls over 90 days:
background meetings and calls, and a story per deal), every activity placed on one of 40
owners' calendars (business hours, weights, a gap, German holidays). In one run, each step
in a fresh process:

1. render+validate cold: load with an empty cache (generators expanded, every activity
   placed) and render it as plain spec YAML;
2. validate the rendered folder cold (the same records written out by hand): the baseline;
   the issue's target is step 1 within 3x of this;
3. placement alone: 20k requests, then 40k (the fastest of three runs each), to show it
   grows as n log n (the ratio of the two, ~2.1 for n log n, 4 for n squared);
4. a warm ``reconciler plan --offline`` of the unchanged project through the CLI, against a
   state as apply would have left it (every time pinned); target < 2 s; and of the
   rendered folder against the same state (the same records hand-written), for the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROJECT = """\
name: calendar-bench
timezone: Europe/Berlin
seed: 21
vars:
  companies: {{type: integer, default: {companies}}}
calendar:
  business_hours: "08:00-18:00"
  weekdays: {{mon: 1.0, tue: 1.2, wed: 1.2, thu: 1.1, fri: 0.7}}
  hours: {{"08": 0.5, "12": 0.4, "17": 0.4}}
  gap: 5m
  holidays: {{country: DE, subdiv: BE}}
"""

GENERATORS = """\
generate:
  companies:
    key: "co-{n:04}"
    count: "{{ vars.companies }}"
    owner: "rep{{ '%02d' % random_number(1, 40) }}@example.com"
    fields:
      name: {fake: company}
      domain: "{{ fields.name.split(' ')[0] | lower | replace(',', '') }}-{{ n }}.example.com"
  contacts:
    for_each: companies
    key: "{parent}-c{n}"
    count: 4
    fields:
      first_name: {fake: first_name}
      last_name: {fake: last_name}
      email: "{{ fields.first_name | lower }}.{{ n }}@{{ parent.domain }}"
    associations:
      - company: "{{ parent.key }}"
  meetings:
    for_each: companies
    key: "{parent}-m{n}"
    count: 33
    owner: "{{ parent.owner }}"
    fields:
      title: "{{ random_choice('Review', 'Workshop', 'Check-in') }} with {{ parent.name }}"
      start: {datetime_between: {start: -80d, end: +10d, business_hours: true}}
      duration: {random_choice: {15m: 40%, 30m: 40%, 45m: 20%}}
      outcome: {by_time: {field: start, past: COMPLETED, future: SCHEDULED}}
    associations:
      - company: "{{ parent.key }}"
  calls:
    for_each: contacts
    key: "{parent}-call{n}"
    count: 30
    owner: "rep{{ '%02d' % random_number(1, 40) }}@example.com"
    fields:
      title: "Call with {{ parent.first_name }}"
      timestamp: {datetime_between: {start: -80d, end: -1d, business_hours: true}}
      duration: "{{ random_number(1, 6) }}m"
      disposition: {random_choice: {connected: 50%, left_voicemail: 30%, no_answer: 20%}}
    associations:
      - contact: "{{ parent.key }}"
  deals:
    for_each: companies
    key: "{parent}-d{n}"
    count: 2
    owner: "{{ parent.owner }}"
    fields:
      name: "{{ parent.name }} deal {{ n }}"
      pipeline: default
      amount: {random_number: {min: 5000, max: 90000, step: 500}}
    associations:
      - company: "{{ parent.key }}"
    story:
      window: {start: -85d, end: +10d}
      outcomes:
        won: {weight: 25%, stage: closedwon, ends: past}
        lost: {weight: 15%, stage: closedlost, ends: past}
        open: {weight: 60%, stage: appointmentscheduled}
      associations:
        - company: "{{ parent.parent }}"
      steps:
        discovery:
          type: calls
          at: start
          count: {random_choice: {1: 60%, 2: 40%}}
          stage: qualifiedtobuy
          fields:
            title: "Discovery call {{ step.n }}"
            duration: "{{ '20m' if step.last else '1m' }}"
        demo:
          type: meetings
          after: {step: discovery, business_days: 2-5}
          stage: presentationscheduled
          fields:
            title: "Demo for {{ parent.name }}"
            duration: 45m
            outcome: {by_time: {field: start, past: COMPLETED, future: SCHEDULED}}
        follow_up:
          type: calls
          after: {step: demo, business_days: 1-2}
          stage: decisionmakerboughtin
          fields: {title: "Follow-up on the demo", duration: 10m}
        closing:
          type: meetings
          when: [won, lost]
          after: {step: follow_up, business_days: 3-8}
          stage: contractsent
          fields: {title: "Decision meeting", duration: 30m}
"""

_STEP = textwrap.dedent(
    """
    import json, resource, sys, time
    from datetime import datetime, timezone
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from reconciler.loading.project import load_project
    step, project, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    now = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    start = time.perf_counter()
    extra = {{}}
    if step == "generate":
        from reconciler.generate.render import render_files
        desired = load_project(project, reference_time=now)
        files = render_files(desired, {{}}, "# rendered\\n")
        for name, text in files.items():
            (Path(out) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(out) / name).write_text(text)
        (Path(out) / "reconciler.yaml").write_text(
            "name: calendar-bench\\ntimezone: Europe/Berlin\\n"
        )
        extra["activities"] = sum(
            r.object_type in ("meetings", "calls") for r in desired.records.values()
        )
    elif step == "validate":
        desired = load_project(project, reference_time=now, use_cache=False)
    elif step == "place":
        from reconciler.generate.calendar import place
        from reconciler.generate.scheduling import requests_of
        from reconciler.loading.times import zone
        desired = load_project(project, reference_time=now)
        schedule = desired.schedule
        _, requests, _ = requests_of(schedule.entries, None)
        for size in (20000, 40000):
            part = [r for r in requests[:size] if r.after < 0]
            runs = []
            for _ in range(3):  # the fastest of three: a busy machine adds, never takes
                began = time.perf_counter()
                place(part, today=now.date(), tz=zone("Europe/Berlin"),
                      settings=schedule.settings, days=schedule.days)
                runs.append(time.perf_counter() - began)
            extra[f"place_{{size}}"] = min(runs)
    elif step == "state":
        from reconciler.generate.scheduling import settle
        from reconciler.planning.planner import plan
        from reconciler.settings import resolve_target
        from reconciler.state.model import AppliedAssociation, RecordState
        from reconciler.workflow.options import store_for
        desired = load_project(project, reference_time=now)
        target = resolve_target(desired.project, target_name=None, environ={{}})
        store = store_for(desired.project, target)
        state = store.load()
        state.owners.update({{f"rep{{i:02d}}@example.com": str(2000 + i) for i in range(1, 41)}})
        for change in plan(settle(desired, state), state, owners=state.owners).changes:
            state.records[change.address] = RecordState(
                id=str(len(state.records) + 1), object_type=change.object_type,
                properties=dict(change.after), pinned=dict(change.pins),
                associations=tuple(
                    AppliedAssociation(a.to_type, "1", a.category, a.type_id or 1, a.to_key)
                    for a in change.associations
                ),
            )
        state.project_id = desired.project.marker_id
        store.save(state)
    elapsed = time.perf_counter() - start
    print(json.dumps({{"seconds": elapsed, "records": len(desired.records),
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      **extra}}))
    """
).format(repo=str(REPO))


def step(name: str, project: Path, out: Path | None = None) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _STEP, name, str(project), str(out or "")],
        capture_output=True, text=True,
    )
    if done.returncode:
        raise SystemExit(f"step {name} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="30 companies (~5,000 activities)")
    parser.add_argument("--companies", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write the project here, kept")
    args = parser.parse_args()
    companies = args.companies or (30 if args.quick else 300)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        project = Path(folder) / "project"
        project.mkdir()
        (project / "reconciler.yaml").write_text(PROJECT.format(companies=companies))
        (project / "team.yaml").write_text(GENERATORS)
        rendered = Path(folder) / "rendered"
        rendered.mkdir()
        cold = step("generate", project, rendered)
        baseline = step("validate", rendered)
        print(f"records: {cold['records']:,.0f}, of which meetings and calls: "
              f"{cold['activities']:,.0f} (companies={companies})")
        print(f"{'step':<44} {'seconds':>8} {'peak MiB':>9}")
        print(f"{'render+validate cold (generators, placed)':<44} {cold['seconds']:>8.2f} "
              f"{cold['peak_mib']:>9.0f}")
        print(f"{'validate cold, the rendered folder':<44} {baseline['seconds']:>8.2f} "
              f"{baseline['peak_mib']:>9.0f}")
        print(f"ratio generators / rendered: {cold['seconds'] / baseline['seconds']:.2f} "
              "(target: at most 3)")
        if not args.quick:
            placed = step("place", project)
            print(f"placement alone, 20,000 / 40,000 requests: {placed['place_20000']:.2f} s / "
                  f"{placed['place_40000']:.2f} s (ratio "
                  f"{placed['place_40000'] / placed['place_20000']:.2f}; n log n ~2.1)")
        step("state", project)
        command = [str(Path(sys.executable).with_name("reconciler")), "plan", "--offline",
                   "--project", str(project)]
        subprocess.run(command, capture_output=True, check=True)  # warms the caches
        times = []
        for _ in range(3):
            start = time.perf_counter()
            done = subprocess.run(
                ["/usr/bin/time", "-f", "%M", *command] if os.path.exists("/usr/bin/time")
                else command, capture_output=True, text=True, check=True,
            )
            times.append(time.perf_counter() - start)
        peak = done.stderr.strip().splitlines()[-1] if os.path.exists("/usr/bin/time") else "?"
        print(f"{'plan --offline warm, unchanged (CLI, median of 3)':<44} "
              f"{sorted(times)[1]:>8.2f} {int(peak) / 1024 if peak.isdigit() else 0:>9.0f}   "
              f"{done.stdout.strip().splitlines()[-1]}")
        # the same records hand-written (the rendered folder), against the same state: what
        # a warm plan of 50,000 records costs on this machine now, without generators
        state = project / ".reconciler" / "state" / "local.json"
        baseline_command = [command[0], "plan", "--offline", "--project", str(rendered),
                            "--state", str(state)]
        subprocess.run(baseline_command, capture_output=True, check=True)
        baseline_times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(baseline_command, capture_output=True, check=True)
            baseline_times.append(time.perf_counter() - start)
        print(f"{'plan --offline warm, the rendered folder':<44} "
              f"{sorted(baseline_times)[1]:>8.2f}   (ratio generated / rendered: "
              f"{sorted(times)[1] / sorted(baseline_times)[1]:.2f})")


if __name__ == "__main__":
    main()
