"""No input, however broken, gets anything out of the loader but a result or our errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ConfigError, SpecError
from reconciler.loading.project import load_project

from .conftest import REFERENCE

FRAGMENTS = [
    "meetings:",
    "calls:",
    "contacts:",
    "objects:",
    "  kickoff:",
    "    title: T",
    "  - a",
    "    start: +3d 10:00",
    "    start: 2026-02-30T10:00",
    "    duration: 45m",
    "    end: x",
    "    associations:",
    "      - contact: jane",
    "      - company: {id: 1}",
    "    owner: a@b.co",
    "    calendar: {organizer: 1, reminders: [15m]}",
    "  jane:",
    "    email: j@x.io",
    "&a [*a]",
    "<<: *a",
    "a: &a {b: *a}",
    "!!binary xx",
    "? [a]\n: b",
    "---",
    "\t",
    "{",
    "'",
    "0x1F: 1",
    "version: 1",
    "    properties: {x: .nan, y: [1]}",
    "    outcome: done",
    "    start: 0001-01-01T00:00:00",
    "    start: 2999-12-31T23:30:00Z",
    "    duration: 99999w",
    "    start: +99999999d",
    "  c: {timestamp: now, duration: 1h, disposition: busy}",
    "\x00",
    "[" * 70,
    "- " * 70 + "x",
    "b: &b [*a, *a, *a, *a]",
    "<<: [*a, *b]",
    "? " * 40 + ": x",
]

yamlish = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("\n".join)
texts = st.one_of(st.text(max_size=200), yamlish)
raw_bytes = st.binary(max_size=200)


def _check(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, content in files.items():
            (root / name).write_bytes(content)
        try:
            load_project(root, reference_time=REFERENCE, use_cache=False)
        except (SpecError, ConfigError) as error:
            for issue in getattr(error, "issues", []):
                assert issue.line >= 1 and issue.column >= 1
                assert "\n" not in issue.render()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=texts, project_file=st.one_of(st.none(), texts))
def test_random_yaml_never_escapes(spec: str, project_file: str | None) -> None:
    files = {"spec.yaml": spec.encode("utf-8", "surrogatepass")}
    if project_file is not None:
        files["reconciler.yaml"] = project_file.encode("utf-8", "surrogatepass")
    _check(files)


@settings(max_examples=100, deadline=None)
@given(content=raw_bytes)
def test_random_bytes_never_escape(content: bytes) -> None:
    _check({"spec.yaml": content})
