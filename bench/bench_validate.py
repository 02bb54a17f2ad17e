"""Validate timings: ``python bench/bench_validate.py [SIZES...]`` (default 1000 10000 50000).

Per size, in one run on the same files: bare ruamel C safe-load time (the floor any
YAML loader pays), cold validate (empty cache), warm validate (nothing changed), the
ratio cold/bare, peak memory of the cold load (tracemalloc, measured separately because
tracing slows everything down), and the bare load again with the garbage collector paused
(the loader pauses it; this shows how much of the margin that alone explains).
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ruamel.yaml import YAML

from bench.gen_project import generate
from reconciler.loading.project import load_project

NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)


def bare_load(files: list[Path], *, without_gc: bool = False) -> float:
    yaml = YAML(typ="safe")
    assert "CParser" in yaml.Parser.__name__, "ruamel.yaml.clib is not installed"
    if without_gc:  # the loader pauses the collector; show what that alone buys a bare load
        gc.disable()
    start = time.perf_counter()
    for path in files:
        yaml.load(path.read_bytes())
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed


def timed_load(root: Path, *, use_cache: bool) -> tuple[float, int]:
    start = time.perf_counter()
    desired = load_project(root, reference_time=NOW, use_cache=use_cache)
    return time.perf_counter() - start, len(desired.records)


def clear_cache(root: Path) -> None:
    from reconciler.loading.cache import SUFFIX

    for entry in (root / ".reconciler" / "cache").glob(f"*{SUFFIX}"):
        entry.unlink()


def main(sizes: list[int]) -> None:
    print(
        f"{'records':>8} {'MB':>6} {'bare C load':>12} {'cold':>8} {'warm':>8} "
        f"{'cold/bare':>9} {'peak MiB':>9} {'bare, no GC':>12}"
    )
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "project"
            files = generate(size, root)
            megabytes = sum(p.stat().st_size for p in files) / 1e6
            bare = bare_load(files)
            bare_no_gc = bare_load(files, without_gc=True)
            cold, count = timed_load(root, use_cache=True)
            warm, _ = timed_load(root, use_cache=True)
            clear_cache(root)
            tracemalloc.start()
            load_project(root, reference_time=NOW, use_cache=False)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            print(
                f"{count:>8} {megabytes:>6.1f} {bare:>11.2f}s {cold:>7.2f}s {warm:>7.2f}s "
                f"{cold / bare:>9.2f} {peak:>9.0f} {bare_no_gc:>11.2f}s",
                flush=True,
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000, 50000])
