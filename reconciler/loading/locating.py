"""Where a spec problem is: every pending issue gets its file, line and column.

Issues are collected without positions (``PendingIssue``: a file and a path in it); only
when there is something to report are the files that need it re-read for positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from reconciler.errors import SpecIssue
from reconciler.loading.files import read_file
from reconciler.loading.issues import PendingIssue, render_path
from reconciler.loading.yamlfile import ParsedFile, decode, parse


def locate_all(
    pending: list[PendingIssue],
    parsed: Mapping[str, ParsedFile | None],
    files: Mapping[str, Path] | None = None,
    root: Path | None = None,
) -> list[SpecIssue]:
    """Give every pending issue its line and column, re-reading files only as needed.

    Each file's positions are indexed once (``ParsedFile.positions``): linear in the
    files, however many issues there are.
    """
    known: dict[str, ParsedFile | None] = dict(parsed)
    located: list[SpecIssue] = []
    for issue in pending:
        line, column = issue.line, issue.column
        if line is None or column is None:
            if known.get(issue.file) is None and files is not None and issue.file in files:
                known[issue.file] = _reparse(files[issue.file], issue.file, root)
            file = known.get(issue.file)
            positions = file.positions() if file is not None else None
            position = positions.locate(issue.path, at_key=issue.at_key) if positions else None
            line, column = position or (1, 1)
        located.append(SpecIssue(issue.file, line, column, render_path(issue.path), issue.message))
    return located


def _reparse(path: Path, display: str, root: Path | None) -> ParsedFile | None:
    raw, _ = read_file(path, display, root if root is not None else path.parent)
    text = decode(raw, display)[0] if raw is not None else None
    return parse(text, display) if text is not None else None
