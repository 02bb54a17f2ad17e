"""``moved:`` and ``removed:``: refactors that go through pull requests, as Terraform's.

A spec file may say that a record's address changed (``moved: [{from: contacts/vera-important,
to: contacts/vera}]``) or that a record is no longer managed (``removed: [calls/old-call]``:
never archived, its markers are cleared and the portal keeps it). Per file the entries are
read into rows (cached with the file's records); across files they are checked against the
spec's addresses, with every problem located, and resolved into ``Refactor`` values (chains
of moves followed to the address the record has now).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from reconciler.loading.issues import PathPart, PendingIssue, did_you_mean
from reconciler.model import ASSOCIATION_TARGET_NAMES, Refactor, Source

#: A row per entry: [section ("moved" | "removed"), index, from, to (None: removed), line,
#: column]; the position is the entry's.
Row = list[Any]


def refactor_rows(document: Mapping[str, Any], locate: Any) -> list[Row]:
    """The file's well-formed ``moved:``/``removed:`` entries (the schema reports the rest).

    ``locate(path) -> (line, column) | None`` gives an entry's position.
    """
    rows: list[Row] = []
    moved = document.get("moved")
    for index, entry in enumerate(moved if isinstance(moved, list) else []):
        if isinstance(entry, dict) and _is_address(entry.get("from")) and _is_address(
            entry.get("to")
        ):
            line, column = locate(("moved", index)) or (1, 1)
            rows.append(["moved", index, entry["from"], entry["to"], line, column])
    removed = document.get("removed")
    for index, entry in enumerate(removed if isinstance(removed, list) else []):
        if _is_address(entry):
            line, column = locate(("removed", index)) or (1, 1)
            rows.append(["removed", index, entry, None, line, column])
    return rows


def _is_address(value: Any) -> bool:
    return isinstance(value, str) and "/" in value


def rows_are_sound(rows: Any) -> bool:
    """True if cached ``rows`` have exactly the shape ``refactor_rows`` writes."""
    if type(rows) is not list:
        return False
    for row in rows:
        if type(row) is not list or len(row) != 6:
            return False
        section, index, source, to, line, column = row
        if not (
            section in ("moved", "removed") and type(index) is int and type(source) is str
            and (to is None if section == "removed" else type(to) is str)
            and type(line) is int and type(column) is int
        ):  # fmt: skip
            return False
    return True


def check_refactors(
    files: Iterable[tuple[str, list[Row]]], addresses: Mapping[str, Source]
) -> tuple[Mapping[str, Refactor], list[PendingIssue]]:
    """Check every file's entries against the spec's ``addresses`` (address → where it is
    defined); returns the refactors by old address, chains resolved, and the problems."""
    issues: list[PendingIssue] = []
    first: dict[str, tuple[str, Row]] = {}  # old address → the entry that names it
    targets: dict[str, tuple[str, Row]] = {}  # new address → the move to it
    entries: list[tuple[str, Row]] = []
    for display, rows in files:
        for row in rows:
            section, index, source, to = row[0], row[1], row[2], row[3]
            here: tuple[PathPart, ...] = (section, index, "from") if to else (section, index)
            problem = _address_problem(source) or (to and _address_problem(to))
            if problem:
                issues.append(PendingIssue(display, here, problem))
                continue
            if source in addresses:
                issues.append(PendingIssue(display, here, _still_in_spec(source, addresses, to)))
                continue
            earlier = first.get(source)
            if earlier is not None:
                issues.append(PendingIssue(display, here, _twice(source, section, earlier)))
                continue
            first[source] = (display, row)
            if to is not None:
                there: tuple[PathPart, ...] = (section, index, "to")
                if to.partition("/")[0] != source.partition("/")[0]:
                    issues.append(PendingIssue(display, there, (
                        f"cannot move {source} to {to}: a record keeps its type "
                        f"({source.partition('/')[0]})"
                    )))
                    continue
                other = targets.get(to)
                if other is not None:
                    issues.append(PendingIssue(display, there, (
                        f"{to} is already the destination of the move from {other[1][2]} "
                        f"({_where(*other)}); two records cannot become one"
                    )))
                    continue
                targets[to] = (display, row)
            entries.append((display, row))
    refactors: dict[str, Refactor] = {}
    for display, row in entries:
        section, index, source, to = row[0], row[1], row[2], row[3]
        where = Source(display, row[4], row[5])
        if to is None:
            refactors[source] = Refactor(source, None, where)
            continue
        final, problem = _follow(to, first, addresses)
        if problem is not None:
            issues.append(PendingIssue(display, (section, index, "to"), problem))
            continue
        refactors[source] = Refactor(source, final, where)
    return MappingProxyType(refactors), issues


def _follow(
    to: str, first: Mapping[str, tuple[str, Row]], addresses: Mapping[str, Source]
) -> tuple[str, str | None]:
    """Where a move ends: ``to`` itself if it is in the spec, or where the moves from it
    lead (``a → b``, ``b → c``: a record at ``a`` is now at ``c``)."""
    seen = [to]
    current = to
    while current not in addresses:
        step = first.get(current)
        if step is not None and step[1][3] is None:
            return current, (
                f"{current} is removed (removed: at {_where(*step)}); move it or remove it, "
                "not both"
            )
        if step is None:
            same_type = current.partition("/")[0] + "/"
            hint = did_you_mean(current, [a for a in addresses if a.startswith(same_type)])
            return current, (
                f"{current} is not in the spec{hint}; a move's 'to' is the record's address now"
            )
        current = step[1][3]
        if current in seen:
            return current, f"these moves form a cycle: {' → '.join([*seen, current])}"
        seen.append(current)
    return current, None


def _address_problem(address: str) -> str | None:
    object_type, _, key = address.partition("/")
    plural = ASSOCIATION_TARGET_NAMES.get(object_type)
    if plural is not None and plural != object_type:
        return f"{object_type!r} is not an object type; did you mean {plural}/{key}?"
    return None


def _still_in_spec(address: str, addresses: Mapping[str, Source], to: str | None) -> str:
    where = addresses[address]
    if to is None:
        return (
            f"{address} is still in the spec ({where.file}:{where.line}); removed: stops "
            "managing a record the spec no longer has: delete it there, or drop this entry"
        )
    return (
        f"{address} is still in the spec ({where.file}:{where.line}); a moved record's old "
        "address must be gone from the spec: rename it there, or drop this entry"
    )


def _twice(address: str, section: str, earlier: tuple[str, Row]) -> str:
    other_section = earlier[1][0]
    if other_section != section:
        return f"{address} is both moved and removed (also at {_where(*earlier)}); keep one"
    return f"{address} is {section} twice (also at {_where(*earlier)}); keep one"


def _where(display: str, row: Row) -> str:
    return f"{display}:{row[4]}:{row[5]}"


__all__ = ["Row", "check_refactors", "refactor_rows", "rows_are_sound"]
