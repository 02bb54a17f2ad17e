"""Generators at volume: ``python bench/bench_generate.py [--quick] [--accounts N]``.

The shipped example's hand-written files with ``bench/generated_pipeline.yaml`` (the example's
generators before calendars and stories: three owners' calendars hold only ~60 accounts of
the example's own, and these figures stay comparable across rounds), scaled by its
``accounts`` variable: 5,300 accounts make ~50,000 records (``--quick``: 530, ~5,000).
Calendars and stories at volume: ``bench_calendar.py``.
In one run, each step in a fresh process (so peak RSS is that step's own):

1. render+validate cold: load the project with an empty cache (every generator expanded:
   Faker, templates, checks) and render it as plain spec YAML;
2. validate the rendered folder cold (the same records written out by hand): the baseline;
   the issue's target is step 1 within 3x of this;
3. where step 1's time goes (cProfile, by component);
4. a warm ``reconciler plan --offline`` of the unchanged generated project, through the
   CLI (interpreter start included), against a state as apply would have left it (made
   here on plain data: applying 50k records to the emulator takes minutes); target < 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_STEP = textwrap.dedent(
    """
    import json, resource, sys, time
    from datetime import datetime, timezone
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from reconciler.loading.project import load_project
    step, project, accounts, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    now = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    start = time.perf_counter()
    if step == "generate":
        from reconciler.generate.render import render_files
        desired = load_project(project, reference_time=now, variables=[("accounts", accounts)])
        files = render_files(desired, {{}}, "# rendered\\n")
        for name, text in files.items():
            (Path(out) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(out) / name).write_text(text)
        (Path(out) / "reconciler.yaml").write_text("name: acme-demo\\ntimezone: Europe/Berlin\\n")
    elif step == "validate":
        desired = load_project(project, reference_time=now, use_cache=False)
    elif step == "state":
        from reconciler.planning.planner import plan
        from reconciler.settings import resolve_target
        from reconciler.state.model import AppliedAssociation, RecordState
        from reconciler.state.model import State
        from reconciler.workflow.options import store_for
        desired = load_project(project, reference_time=now, variables=[("accounts", accounts)])
        target = resolve_target(desired.project, target_name=None, environ={{}})
        store = store_for(desired.project, target)
        state = store.load()
        # the schema as apply would have left it: made here, with ids of this state's own
        # (so the records that name its pipeline or label resolve, and the plan is unchanged)
        from reconciler.planning.schema_step import plan_schema_step
        from reconciler.state.schema_ids import LabelIds, PipelineIds, StageIds
        schema, ids = desired.schema, state.schema
        ids.groups.update({{g.address: "created" for g in schema.groups.values()}})
        ids.properties.update({{p.address: "created" for p in schema.properties.values()}})
        for n, pipeline in enumerate(schema.pipelines.values()):
            ids.pipelines[pipeline.address] = PipelineIds(
                f"9{{n}}", pipeline.label, "created",
                {{s.key: StageIds(f"9{{n}}{{i}}", s.label) for i, s in enumerate(pipeline.stages)}},
            )
        for n, label in enumerate(schema.labels.values()):
            ids.labels[label.key] = LabelIds(label.from_type, label.to_type, 900 + 2 * n,
                                             label.label, "created", 901 + 2 * n, label.inverse)
        desired = plan_schema_step(desired, state, None, protected=False,
                                   allow_data_loss=False).desired
        for change in plan(desired, state).changes:
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
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
    """
).format(repo=str(REPO))


def step(name: str, project: Path, accounts: int, out: Path | None = None) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _STEP, name, str(project), str(accounts), str(out or "")],
        capture_output=True, text=True,
    )
    if done.returncode:
        raise SystemExit(f"step {name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def profile(project: Path, accounts: int) -> list[tuple[str, float]]:
    """Seconds of a cold expansion by component (cumulative, so they overlap a little)."""
    import cProfile
    import pstats
    from datetime import datetime, timezone

    from reconciler.loading.project import load_project

    shutil.rmtree(project / ".reconciler", ignore_errors=True)
    profiler = cProfile.Profile()
    profiler.enable()
    load_project(project, reference_time=datetime(2026, 11, 23, tzinfo=timezone.utc),
                 variables=[("accounts", str(accounts))], use_cache=False)
    profiler.disable()
    stats = pstats.Stats(profiler)
    wanted = {
        "Faker providers (fakes.fake)": ("fakes.py", "fake"),
        "Jinja2 templates (Template.render)": ("templates.py", "render"),
        "checks as hand-written (schema + FileBuilder: expand._build)": ("expand.py", "_build"),
        "seeds and pin digests (seed_of, _digest)": ("draws.py", "seed_of"),
        "one record in all (expand._record)": ("expand.py", "_record"),
        "the whole load (load_project)": ("project.py", "load_project"),
    }
    found: dict[str, float] = {}
    for (file, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        for label, (want_file, want_function) in wanted.items():
            if file.endswith(want_file) and function == want_function:
                found[label] = found.get(label, 0.0) + row[3]
    digest = sum(row[3] for (f, _, fn), row in stats.stats.items()  # type: ignore[attr-defined]
                 if f.endswith("expand.py") and fn == "_digest")
    found["seeds and pin digests (seed_of, _digest)"] = (
        found.get("seeds and pin digests (seed_of, _digest)", 0.0) + digest
    )
    return sorted(found.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="530 accounts (~5,000 records)")
    parser.add_argument("--accounts", type=int, default=None)
    args = parser.parse_args()
    accounts = args.accounts or (530 if args.quick else 5300)
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "examples"
        shutil.copytree(REPO / "examples", project,
                        ignore=shutil.ignore_patterns(".reconciler", "gitops"))
        shutil.copy(REPO / "bench" / "generated_pipeline.yaml",
                    project / "generated" / "pipeline.yaml")
        settings = (project / "reconciler.yaml").read_text(encoding="utf-8")
        (project / "reconciler.yaml").write_text(  # no calendar: (the stories need one)
            re.sub(r"(?m)^calendar:\n(?:[ #].*\n)*", "", settings), encoding="utf-8"
        )
        rendered = Path(folder) / "rendered"
        rendered.mkdir()
        cold = step("generate", project, accounts, rendered)
        baseline = step("validate", rendered, accounts)
        print(f"records: {cold['records']:,.0f} (accounts={accounts})")
        print(f"{'step':<44} {'seconds':>8} {'peak MiB':>9}")
        print(f"{'render+validate cold (generators)':<44} {cold['seconds']:>8.2f} "
              f"{cold['peak_mib']:>9.0f}")
        print(f"{'validate cold, the rendered folder':<44} {baseline['seconds']:>8.2f} "
              f"{baseline['peak_mib']:>9.0f}")
        print(f"ratio generators / rendered: {cold['seconds'] / baseline['seconds']:.2f} "
              "(target: at most 3)")
        step("state", project, accounts)
        command = [str(Path(sys.executable).with_name("reconciler")), "plan", "--offline",
                   "--project", str(project), "--var", f"accounts={accounts}"]
        subprocess.run(command, capture_output=True, check=True)  # warms the parse cache
        start = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *command] if os.path.exists("/usr/bin/time") else command,
            capture_output=True, text=True, check=True,
        )
        warm = time.perf_counter() - start
        peak = done.stderr.strip().splitlines()[-1] if os.path.exists("/usr/bin/time") else "?"
        print(f"{'plan --offline warm, unchanged (CLI)':<44} {warm:>8.2f} "
              f"{int(peak) / 1024 if peak.isdigit() else 0:>9.0f}   "
              f"{done.stdout.strip().splitlines()[-1]}")
        print("\nwhere render+validate cold goes (cProfile, cumulative seconds):")
        for label, seconds in profile(project, accounts):
            print(f"  {label:<62} {seconds:>7.2f}")


if __name__ == "__main__":
    main()
