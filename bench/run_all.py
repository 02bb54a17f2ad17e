"""Run every benchmark in ``bench/`` in turn: ``python bench/run_all.py [--full]`` (``make bench``).

Prints the machine (``nproc``, ``lscpu``, Python) and the date first, then each
``bench/bench_*.py`` in name order, passing ``--quick`` to those that have it unless
``--full`` is given. Figures from different machines, or from runs far apart on this noisy
2-core one, do not compare: compare ratios within one run. Exits non-zero if any bench failed.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def machine() -> str:
    """What the figures were measured on, for the top of BENCHMARKS.md."""
    lines = [f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"]
    lines.append(f"python: {platform.python_implementation()} {platform.python_version()}")
    if shutil.which("nproc"):
        lines.append(f"nproc: {_output(['nproc'])}")
    if shutil.which("lscpu"):
        lines.append("lscpu (first 20 lines):")
        # The flags line alone runs to ~1,500 characters; its head says enough.
        lines += ["  " + _clip(line) for line in _output(["lscpu"]).splitlines()[:20]]
    return "\n".join(lines)


def _clip(line: str, width: int = 140) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def _output(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()


def bench_scripts() -> list[Path]:
    return sorted(BENCH.glob("bench_*.py"))


def has_quick(script: Path) -> bool:
    # Reading the source is enough (and cheaper than running each with --help).
    return '"--quick"' in script.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full sizes: no --quick")
    parser.add_argument("only", nargs="*", help="run only these scripts (e.g. bench_emulator)")
    args = parser.parse_args(argv)
    print(machine(), flush=True)
    failed: list[str] = []
    for script in bench_scripts():
        if args.only and script.stem not in args.only and script.name not in args.only:
            continue
        command = [sys.executable, str(script)]
        if not args.full and has_quick(script):
            command.append("--quick")
        print(f"\n=== {' '.join([script.name, *command[2:]])}", flush=True)
        start = time.perf_counter()
        code = subprocess.run(command, cwd=BENCH.parent, check=False).returncode
        print(
            f"=== {script.name}: exit {code} after {time.perf_counter() - start:.0f} s", flush=True
        )
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
