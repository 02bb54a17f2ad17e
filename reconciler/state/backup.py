"""Backups of a state file: written before a manual edit (``state rm``, ``state mv``,
``state rebind``...) and before a file of the first format is rewritten in this one (the
migration), each a new file that never replaces another.
"""

from __future__ import annotations

import time
import uuid
from contextlib import suppress
from pathlib import Path

from reconciler.errors import StateError
from reconciler.state.journal import journal_path as journal_of
from reconciler.state.model import State
from reconciler.state.on_disk import OnDisk, snapshot_text
from reconciler.state.reading import read_files, reason


def write_backup(path: Path, real_path: Path, journal_path: Path) -> Path | None:
    """Write the state at ``real_path`` next to ``path`` (as the user named it); None when
    there is no state yet.

    Named ``<name>.<time>.backup``, with ``-2``, ``-3``... when two edits fall in the
    same second, so no backup ever overwrites another. It is one self-contained file:
    the snapshot as it is when the journal is empty (a command's end empties it), else
    a snapshot with the journal folded in, under a journal id no journal carries, so
    copying it back over the state restores exactly it.
    """
    if not real_path.exists():
        return None
    journal = b""
    try:
        state, disk = read_files(path, real_path, journal_path)
    except StateError:  # damaged (``state rebuild`` keeps it): both files as they are
        state, disk = State.empty(), OnDisk(version=-1)
        with suppress(OSError):
            journal = journal_path.read_bytes()
    try:
        if disk.version in (-1, 1) or (disk.clean and disk.journal_end == 0):
            data = real_path.read_bytes()  # the snapshot alone is the state
        else:
            data = snapshot_text(state, uuid.uuid4().hex).encode("utf-8")
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = path.with_name(f"{path.name}.{stamp}.backup")
        counter = 1
        while True:
            try:
                with open(target, "xb") as handle:  # exclusive: never replace a backup
                    handle.write(data)
                break
            except FileExistsError:
                counter += 1
                target = path.with_name(f"{path.name}.{stamp}-{counter}.backup")
        if journal:
            with open(journal_of(target), "xb") as handle:
                handle.write(journal)
        return target
    except OSError as exc:
        raise StateError(
            f"{path}: no backup could be written ({reason(exc)}), so nothing was "
            "changed; free some disk space or fix the folder's permissions"
        ) from exc
