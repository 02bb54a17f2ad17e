"""Generate a project of N records for benchmarks: ``python bench/gen_project.py N OUTDIR``.

Mostly meetings and calls (with associations to a pool of contacts and companies), split
into files of 1,000 records, sized like real activity data (~200 bytes of text each).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

PER_FILE = 1000
LOREM = (
    "Discussed the rollout plan, the budget for next quarter and who owns the follow-ups. "
    "Agreed to meet again after the pilot."
)


def generate(count: int, out: Path, *, seed: int = 7) -> list[Path]:
    """Write a project of ``count`` records into ``out``; return the spec files written."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reconciler.yaml").write_text(
        "name: bench\ntimezone: Europe/Berlin\ndefault_owner: alice@example.com\n"
    )
    pool = max(10, count // 20)
    companies = max(2, pool // 5)
    lines = ["companies:"]
    lines += [
        f"  company-{i}:\n    name: Company {i}\n    domain: c{i}.example" for i in range(companies)
    ]
    lines.append("contacts:")
    lines += [
        f"  contact-{i}:\n    email: person{i}@c{i % companies}.example\n    first_name: P{i}\n"
        f"    associations:\n      - company: company-{i % companies}"
        for i in range(pool)
    ]
    files = [out / "accounts.yaml"]
    files[0].write_text("\n".join(lines) + "\n")
    remaining = max(0, count - pool - companies)
    index = 0
    while remaining > 0:
        chunk = min(PER_FILE, remaining)
        body: list[str] = ["meetings:"]
        calls: list[str] = ["calls:"]
        for _ in range(chunk):
            contact = rng.randrange(pool)
            company = contact % companies
            day = rng.randrange(1, 28)
            if index % 3:
                body.append(
                    f"  meeting-{index}:\n    title: Meeting {index} with contact {contact}\n"
                    f"    start: 2026-11-{day:02d}T{9 + index % 8:02d}:00:00+01:00\n"
                    f"    duration: {15 * (1 + index % 4)}m\n    outcome: completed\n"
                    f'    body: "{LOREM}"\n'
                    f"    associations:\n      - contact: contact-{contact}\n"
                    f"      - company: company-{company}"
                )
            else:
                calls.append(
                    f"  call-{index}:\n    title: Call {index}\n"
                    f"    timestamp: 2026-11-{day:02d}T{9 + index % 8:02d}:30:00+01:00\n"
                    f"    direction: outbound\n    status: completed\n    duration: 12m\n"
                    f'    disposition: connected\n    body: "{LOREM}"\n'
                    f"    associations:\n      - contact: contact-{contact}"
                )
            index += 1
        path = out / "activities" / f"part-{len(files):04d}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(body) + "\n" + "\n".join(calls) + "\n")
        files.append(path)
        remaining -= chunk
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    files = generate(args.count, args.out)
    print(f"wrote {len(files)} files to {args.out}")


if __name__ == "__main__":
    main()
