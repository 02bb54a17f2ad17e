"""One spec file: read its bytes, then a cache hit, or parse, check and build its rows.

Per file: read bytes → cache hit, or parse (``yamlfile``), check against the schema
(``schema``) and build record drafts (``records``), kept as cache rows (``rows``).
Records with schema errors are still built on their own, so every problem of a record
shows in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.generate.loading import file_sections, sections_are_sound
from reconciler.loading import schema as schemas
from reconciler.loading.cache import DraftCache
from reconciler.loading.files import read_file
from reconciler.loading.issues import PathPart, PendingIssue
from reconciler.loading.records import Draft, build_drafts
from reconciler.loading.refactors import refactor_rows
from reconciler.loading.refactors import rows_are_sound as refactor_rows_are_sound
from reconciler.loading.rows import draft_row, rows_are_sound
from reconciler.loading.schema_section import section_is_sound, section_of
from reconciler.loading.yamlfile import ParsedFile, decode, parse
from reconciler.model import SECTION_OBJECT_TYPES, ProjectSettings


@dataclass
class FileResult:
    display: str
    path: Path
    rows: list[list[Any]] = field(default_factory=list)  # see rows.draft_row
    keys: list[list[Any]] = field(default_factory=list)  # [type, key, line, column]
    issues: list[PendingIssue] = field(default_factory=list)
    parsed: ParsedFile | None = None  # kept only when issues need positions
    sections: dict[str, Any] | None = None  # generate:/patch: (reconciler.generate.loading)
    #: Records with schema errors, built only to check their references and times too:
    #: (row, the fields the schema flagged). They never become records.
    check_rows: list[tuple[list[Any], set[PathPart]]] = field(default_factory=list)
    #: moved:/removed: entries (reconciler.loading.refactors)
    refactors: list[list[Any]] = field(default_factory=list)
    #: the schema: section (reconciler.loading.schema_section.section_of)
    schema: dict[str, Any] | None = None
    #: The records of the file's generators (reconciler.generate), not its own.
    generated: bool = False


def _record_prefix(path: tuple[PathPart, ...]) -> tuple[str, ...] | None:
    if len(path) >= 3 and path[0] == "objects":
        return tuple(str(p) for p in path[:3])
    if len(path) >= 2 and path[0] in SECTION_OBJECT_TYPES:
        return tuple(str(p) for p in path[:2])
    return None


def load_file(
    root: Path, path: Path, display: str, settings: ProjectSettings, cache: DraftCache
) -> FileResult:
    result = FileResult(display, path)
    raw, refused = read_file(path, display, root)
    if raw is None:
        assert refused is not None
        result.issues.append(refused)
        return result
    # (each kind of entry has its own prefix: no file's bytes make another kind's key)
    key = cache.key(b"file\x00" + raw)
    cached = cache.get(key, _entry_fits)
    if cached is not None:
        result.sections = cached.get("generate")
        result.schema = cached.get("schema")
        result.refactors = cached.get("refactors", [])
        result.rows = cached["rows"]
        result.keys = [row[:4] for row in result.rows]
        return result
    text, decode_issues = decode(raw, display)
    if text is None:
        result.issues = decode_issues
        return result
    parsed = parse(text, display)
    result.issues = list(parsed.issues)
    document = parsed.data
    if parsed.root is None or document is None:
        return result
    if not isinstance(document, dict):
        sections = "".join(f"{section}:, " for section in SECTION_OBJECT_TYPES)
        message = (
            f"a spec file must be a mapping of sections ({sections}objects:), "
            f"not {_kind(document)}"
        )
        result.issues.append(PendingIssue(display, (), message, line=1, column=1))
        result.parsed = parsed
        return result
    skip: set[tuple[str, ...]] = set()
    if result.issues or not schemas.is_valid("spec", document):
        result.issues.extend(schemas.validation_issues("spec", document, display))
    if parsed.lossy:
        result.issues = _lossy_numbers(result.issues, parsed.lossy, display)
    if result.issues:
        skip = {p for p in (_record_prefix(i.path) for i in result.issues) if p is not None}
    drafts, keys, build_issues = build_drafts(document, display, settings.timezone, skip)
    result.issues.extend(build_issues)
    if skip:
        more, checked = _more_issues(document, display, settings.timezone, result.issues)
        result.issues.extend(more)
    index = parsed.positions()
    positions = index.records() if index is not None else {}
    if skip:  # (checked is set above whenever skip is)
        result.check_rows = [
            (draft_row(draft, positions.get(tuple(draft["path"]), (1, 1))), fields)
            for draft, fields in checked
        ]
    result.rows = [draft_row(d, positions.get(tuple(d["path"]), (1, 1))) for d in drafts]
    result.keys = [[t, k, *positions.get(p, (1, 1))] for t, k, p in keys]
    result.sections = file_sections(document, index)
    if "schema" in document:
        result.schema = section_of(
            document, lambda at: index.locate(at, at_key=True) if index is not None else None
        )
    if "moved" in document or "removed" in document:
        result.refactors = refactor_rows(
            document, lambda at: index.locate(at, at_key=False) if index is not None else None
        )
    if result.issues:
        result.parsed = parsed
    else:
        cache.put(key, {"rows": result.rows, "generate": result.sections,
                        "refactors": result.refactors, "schema": result.schema})
    return result


def _entry_fits(cached: dict[str, Any]) -> bool:
    """A file's cache entry (not sealed by this user's runs) has exactly the shape they
    write."""
    return (
        rows_are_sound(cached.get("rows"))
        and sections_are_sound(cached.get("generate"))
        and refactor_rows_are_sound(cached.get("refactors", []))
        and section_is_sound(cached.get("schema"))
    )


def _lossy_numbers(
    issues: list[PendingIssue], lossy: Mapping[tuple[PathPart, ...], str], display: str
) -> list[PendingIssue]:
    """One issue per number whose text YAML does not keep: ``phone: 0301234`` is 301234.

    It replaces the schema's "expected text, got a whole number" at the same place, which
    does not say why: YAML 1.1 habits (and YAML 1.2 too) read digits as a number.
    """
    kept = [i for i in issues if not (i.path in lossy and i.message.startswith("expected "))]
    for path, text in lossy.items():
        lost = "plus sign" if text.startswith("+") else "leading zero"
        number = re.sub(r"^\+?(-?)0*(?=[0-9])", r"\1", text)
        message = (
            f"{text} is read by YAML as the number {number}, which drops the {lost}; "
            f'quote it ("{text}") to keep it as written, or write {number}'
        )
        kept.append(PendingIssue(display, path, message))
    return kept


def _more_issues(
    document: dict[str, Any], display: str, timezone_name: str, found: list[PendingIssue]
) -> tuple[list[PendingIssue], list[tuple[Draft, set[PathPart]]]]:
    """The problems of records with schema errors that the schema does not see.

    Such records are skipped when drafts are built (the builder relies on valid input), so
    a bad time next to a misspelt field would only show after the first fix. Here each is
    built on its own, and what it finds in fields the schema did not already flag is
    reported too: every problem of a record in one pass. Also returns the drafts, with
    their flagged fields, for the checks across files (``assembly.assemble``).
    """
    flagged: dict[tuple[str, ...], set[PathPart]] = {}
    for issue in found:
        prefix = _record_prefix(issue.path)
        if prefix is None:
            continue
        fields = flagged.setdefault(prefix, set())
        if len(issue.path) > len(prefix):
            fields.add(issue.path[len(prefix)])
        elif not issue.message.startswith("missing required field"):
            fields.add("")  # the record itself is wrong: nothing else to check
    more: list[PendingIssue] = []
    checked: list[tuple[Draft, set[PathPart]]] = []
    for prefix, fields in flagged.items():
        body: Any = document
        for part in prefix:
            body = body.get(part) if isinstance(body, dict) else None
        if "" in fields or not isinstance(body, dict):
            continue
        single: dict[str, Any] = {}
        nest = single
        for part in prefix[:-1]:
            nest = nest.setdefault(part, {})
        nest[prefix[-1]] = body
        try:
            drafts, _, issues = build_drafts(single, display, timezone_name, set())
        except Exception:  # noqa: BLE001 - a record the schema refused can break the builder
            continue
        more.extend(
            issue
            for issue in issues
            if len(issue.path) > len(prefix) and issue.path[len(prefix)] not in fields
        )
        checked.extend((draft, fields) for draft in drafts)
    return more, checked



def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return "a single value"
