"""`moved:` and `removed:` as the loader reads and checks them: every problem located."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.loading.project import load_project
from tests.helpers import write_project

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)

RECORDS = """\
contacts:
  vera:
    email: vera@example.com
  otto:
    email: otto@example.com
companies:
  acme:
    name: Acme
"""


def _load(tmp_path: Path, refactors: str, records: str = RECORDS) -> object:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": "name: p\n", "records.yaml": records, "refactors.yaml": refactors,
    })
    return load_project(root, reference_time=NOW, use_cache=False)


def _problems(tmp_path: Path, refactors: str, records: str = RECORDS) -> list[str]:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, refactors, records)
    root = f"{tmp_path / 'p'}/"
    return [f"{i.line}:{i.column} {i.path}: {i.message}".replace(root, "")
            for i in caught.value.issues]


def test_entries_are_read_with_where_they_are(tmp_path: Path) -> None:
    desired = _load(tmp_path, """\
        moved:
          - from: contacts/vera-important
            to: contacts/vera
          - {from: contacts/v1, to: contacts/vera-old}
          - {from: contacts/vera-old, to: contacts/otto-2}
          - {from: contacts/otto-2, to: contacts/otto}
        removed: [calls/old-call]
        """)
    refactors = desired.refactors  # type: ignore[attr-defined]
    assert {a: r.to for a, r in refactors.items()} == {
        "contacts/vera-important": "contacts/vera",
        "contacts/v1": "contacts/otto",  # a chain ends where the record is now
        "contacts/vera-old": "contacts/otto",
        "contacts/otto-2": "contacts/otto",
        "calls/old-call": None,
    }
    source = refactors["contacts/vera-important"].source
    assert (Path(source.file).name, source.line) == ("refactors.yaml", 2)
    assert refactors["calls/old-call"].source.line == 7


def test_every_problem_is_located(tmp_path: Path) -> None:
    problems = _problems(tmp_path, """\
        moved:
          - {from: contacts/a, to: companies/acme}
          - {from: contacts/b, to: contacts/nobody}
          - {from: contacts/vera, to: contacts/otto}
          - {from: contacts/c, to: contacts/vera}
          - {from: contacts/d, to: contacts/vera}
          - {from: contact/e, to: contact/vera}
          - {from: contacts/x, to: contacts/y}
          - {from: contacts/y, to: contacts/x}
          - {from: vera, to: contacts/vera}
          - {from: contacts/c, to: contacts/otto}
          - {from: contacts/f}
        removed: [contacts/otto, contacts/c, calls/gone, contacts/g]
        """)
    assert problems == [
        "2:28 moved[0].to: cannot move contacts/a to companies/acme: a record keeps its type "
        "(contacts)",
        "3:28 moved[1].to: contacts/nobody is not in the spec; did you mean 'contacts/otto'?; "
        "a move's 'to' is the record's address now",
        "4:12 moved[2].from: contacts/vera is still in the spec (records.yaml:2); a moved "
        "record's old address must be gone from the spec: rename it there, or drop this entry",
        "6:28 moved[4].to: contacts/vera is already the destination of the move from "
        "contacts/c (refactors.yaml:5:5); two records cannot become one",
        "7:12 moved[5].from: 'contact' is not an object type; did you mean contacts/e?",
        "8:28 moved[6].to: these moves form a cycle: contacts/y → contacts/x → contacts/y",
        "9:28 moved[7].to: these moves form a cycle: contacts/x → contacts/y → contacts/x",
        "10:12 moved[8].from: 'vera' is not an address; write <object type>/<local key>, "
        "e.g. contacts/vera",
        "11:12 moved[9].from: contacts/c is moved twice (also at refactors.yaml:5:5); keep one",
        "12:5 moved[10]: missing required field 'to'",
        "13:11 removed[0]: contacts/otto is still in the spec (records.yaml:4); removed: stops "
        "managing a record the spec no longer has: delete it there, or drop this entry",
        "13:26 removed[1]: contacts/c is both moved and removed (also at refactors.yaml:5:5); "
        "keep one",
    ]


def test_a_cached_file_keeps_its_entries(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {
        "reconciler.yaml": "name: p\n", "records.yaml": RECORDS,
        "refactors.yaml": "moved: [{from: contacts/v, to: contacts/vera}]\nremoved: [calls/x]\n",
    })
    first = load_project(root, reference_time=NOW)
    again = load_project(root, reference_time=NOW)  # from the parse cache
    assert dict(again.refactors) == dict(first.refactors) and len(first.refactors) == 2


def test_the_schema_describes_the_entries_for_editors() -> None:
    import json

    from reconciler.loading.schema import schema_text

    schema = json.loads(schema_text("spec"))
    for section in ("moved", "removed"):
        assert "Example:" in schema["properties"][section]["description"]
    move = schema["$defs"]["move"]
    assert move["required"] == ["from", "to"] and move["additionalProperties"] is False
