"""Plans that tell the truth (#19): a generated project (contacts, their meetings and
calls), changed as a user changes one (an option renamed, a template edited, counts
changed), and what the emulator counted while a command ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import write_project

PROJECT = """\
name: honest
id: honest-plans
seed: 7
vars:
  contacts: {type: integer, default: 20}
  meetings: {type: integer, default: 2}
"""

GENERATORS = """\
generate:
  contacts:
    key: "c{n:03}"
    count: "{{ vars.contacts }}"
    fields:
      first_name: {fake: first_name}
      last_name: {fake: last_name}
      email: "contact{{ n }}@example.com"
  meetings:
    for_each: contacts
    key: "{parent}-m{n}"
    count: "{{ vars.meetings }}"
    fields:
      title: "{{ random_choice('Kickoff', 'Demo', 'Review', 'Planning') }} with {{ parent.first_name }}"
      start: {datetime_between: {start: -10d, end: +10d, business_hours: true}}
      duration: 30m
    associations:
      - contact: "{{ parent.key }}"
  calls:
    for_each: contacts
    key: "{parent}-call{n}"
    count: 1
    fields:
      title: "Call with {{ parent.first_name }}"
      timestamp: {datetime_between: {start: -10d, end: -1d}}
    associations:
      - contact: "{{ parent.key }}"
"""


def generated_project(
    root: Path, *, contacts: int = 20, meetings: int = 2, generators: str = GENERATORS
) -> Path:
    """The project (written again in place: a test edits it as a user would); ``contacts``
    and ``meetings`` (per contact) are its variables' defaults."""
    project = PROJECT.replace("default: 20", f"default: {contacts}").replace(
        "default: 2}", f"default: {meetings}}}")
    return write_project(root, {"reconciler.yaml": project, "gen.yaml": generators})


def edit(root: Path, old: str, new: str) -> None:
    """Change the generators as a user would (``old`` must be there)."""
    path = root / "gen.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def sent(emulator: Any) -> list[str]:
    """The requests the emulator answered since it was last cleared, as ``METHOD path``."""
    return [f"{r['method']} {r['path']}" for r in emulator.requests()]


from tests.resilience.conftest import cli, faulty  # noqa: E402, F401  (fixtures)
