"""Helpers for generator tests: projects on disk, and apply simulated on plain data."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconciler.loading.project import load_project
from reconciler.model import DesiredState
from reconciler.planning.changes import Plan
from reconciler.planning.planner import plan
from reconciler.state.model import AppliedAssociation, RecordState, State

#: A Friday afternoon, in winter time in Europe/Berlin.
REFERENCE = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)

PROJECT = """\
name: gen-demo
timezone: Europe/Berlin
seed: 7
vars:
  accounts: 4
"""

#: A small dataset using every kind of value.
GENERATORS = """\
generate:
  companies:
    key: "acct-{n:03}"
    count: "{{ vars.accounts }}"
    fields:
      name: {fake: company}
      domain: "{{ fields.name.split(' ')[0] | lower | replace(',', '') }}.example.com"
      industry: {random_choice: {COMPUTER_SOFTWARE: 70%, BANKING: 30%}}
  contacts:
    for_each: companies
    key: "{parent}-c{n}"
    count: {random_number: {min: 2, max: 4}}
    fields:
      first_name: {fake: first_name}
      last_name: {fake: last_name}
      email: "{{ fields.first_name | lower }}.{{ n }}@{{ parent.key }}.example.com"
    associations:
      - company: "{{ parent.key }}"
  meetings:
    for_each: companies
    key: "{parent}-m{n}"
    count: 2
    fields:
      title: "Review with {{ parent.name }}"
      start: {datetime_between: {start: -30d, end: +21d, business_hours: true}}
      duration: 45m
      outcome:
        by_time: {field: start, past: COMPLETED, future: SCHEDULED}
    associations:
      - company: "{{ parent.key }}"
      - contact: {random_reference: contacts, scope: parent}
"""


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content), encoding="utf-8")
    return root


@pytest.fixture
def gen_project(tmp_path: Path) -> Callable[..., Path]:
    """gen_project({"gen.yaml": ...}, project=...) -> the folder (files replaced in place)."""
    root = tmp_path / "project"

    def write(files: dict[str, str] | None = None, project: str = PROJECT) -> Path:
        return write_project(root, {"reconciler.yaml": project, **(files or {"gen.yaml": GENERATORS})})

    return write


def load(root: Path, reference: datetime = REFERENCE, **kwargs: object) -> DesiredState:
    return load_project(root, reference_time=reference, use_cache=False, **kwargs)  # type: ignore[arg-type]


def applied(the_plan: Plan, state: State) -> State:
    """The state after a successful apply of ``the_plan`` (ids are made up)."""
    after = state.copy()
    for change in the_plan.changes:
        if change.action == "archive":
            after.records.pop(change.address, None)
            continue
        after.records[change.address] = RecordState(
            id=change.hubspot_id or f"id-{change.address}",
            object_type=change.object_type,
            properties=dict(change.after),
            associations=tuple(
                AppliedAssociation(
                    to_type=a.to_type, to_id=f"id-{a.to_type}/{a.to_key}", category=a.category,
                    type_id=a.type_id or 0, to_key=a.to_key,
                )
                for a in change.associations
            ),
            pinned=dict(change.pins),
        )
    return after


def apply_all(desired: DesiredState, state: State | None = None) -> State:
    return applied(plan(desired, state or State.empty()), state or State.empty())
