"""Problems found while loading, before they know their line and column.

Most checks work on plain data and know only the JSON path of what is wrong; the file is
re-read for positions only when there is something to report (see
``yaml_positions.locate``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

PathPart: TypeAlias = str | int


@dataclass(frozen=True, slots=True)
class PendingIssue:
    """A problem at ``path`` in ``file``; ``line``/``column`` when already known.

    ``at_key``: point at the key of ``path`` (an unknown or misspelt field) rather than
    at its value.
    """

    file: str
    path: tuple[PathPart, ...]
    message: str
    line: int | None = None
    column: int | None = None
    at_key: bool = False


def render_path(path: tuple[PathPart, ...]) -> str:
    """``("meetings", "kickoff", "associations", 0)`` → ``meetings.kickoff.associations[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.isprintable():  # a key with a newline would split the located line
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'title'?`` when something close exists, else ``""``."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""
