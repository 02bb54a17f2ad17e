"""The state on disk: a snapshot, and a journal of the saves made since it was written.

``<state>.json`` is the *snapshot*: the whole state as versioned JSON, one record a line,
exactly what ``StateStore`` wrote before the journal existed (plus the ``journal`` token).
``<state>.json.journal`` holds one JSON line per save since then, with only what that save
changed::

    {"journal": "<token>", "serial": 13,
     "records": {"meetings/a": {...}, "meetings/b": null},     # null: removed
     "in_flight": {"<batch>": {...}, "<other batch>": null},
     "owners": {"alice@example.com": "1001"}, "fields": {"portal_id": 1234567, ...}}

A save appends its line and fsyncs the journal, so it costs what the batch changed, not
what the state holds. Loading reads the snapshot and replays the lines that carry the
snapshot's token, in serial order. Compaction writes a new snapshot with a new token
(temp file, fsync, rename, fsync the folder) and only then empties the journal: a crash
between the two leaves lines of the old token, which the new snapshot already contains
and which are therefore ignored. Bytes after the journal's last newline are a save cut
short by a crash; that save never returned, so nothing it held was relied upon, and they
are ignored (the next save compacts them away).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

JOURNAL_SUFFIX = ".journal"


class JournalDamaged(ValueError):
    """A complete journal line that cannot be what a save wrote."""


@dataclass(slots=True)
class JournalScan:
    """What reading the journal found besides its entries."""

    #: bytes up to and including the last newline (where the next line would start)
    end: int = 0
    #: bytes after it: a line cut short by a crash
    torn: int = 0
    #: complete lines of another snapshot (left by a compaction cut short)
    stale: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Whether the next save may append (else it compacts first)."""
        return not self.torn and not self.stale


def journal_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + JOURNAL_SUFFIX)


def dumps(value: Any) -> str:
    # No indent: only then does ``json`` use its C encoder.
    return json.dumps(value, ensure_ascii=False)


def encode_snapshot(fields: Mapping[str, Any], record_lines: Iterable[str]) -> str:
    """The snapshot's text: ``fields`` in order, ``records`` with one record a line."""
    return "".join(snapshot_chunks(fields, record_lines))


def snapshot_chunks(fields: Mapping[str, Any], record_lines: Iterable[str]) -> Iterator[str]:
    """``encode_snapshot`` in pieces of up to 1,000 records, so that writing a snapshot of
    50,000 records never holds all of its text at once."""
    first = True
    for name, value in fields.items():
        yield ("{\n" if first else ",\n")
        first = False
        if name != "records":
            yield f"  {dumps(name)}: {dumps(value)}"
            continue
        lines = iter(record_lines)
        block = list(islice(lines, 1000))
        if not block:
            yield '  "records": {}'
            continue
        yield '  "records": {\n'
        while block:
            yield ",\n".join(block)
            block = list(islice(lines, 1000))
            if block:
                yield ",\n"
        yield "\n  }"
    yield "\n}\n"


def record_line(address: str, encoded: str) -> str:
    return f"    {dumps(address)}: {encoded}"


def encode_entry(
    token: str, serial: int, *, records: Mapping[str, str | None],
    in_flight: Mapping[str, str | None], owners: Mapping[str, str | None] | None,
    fields: Mapping[str, Any] | None, schema: str | None = None,
) -> bytes:
    """One journal line; ``records`` and ``in_flight`` values are already JSON (or None)."""
    parts = [f'"journal": {dumps(token)}', f'"serial": {serial}']
    if records:
        parts.append('"records": {' + ", ".join(
            f"{dumps(a)}: {'null' if e is None else e}" for a, e in records.items()
        ) + "}")
    if in_flight:
        parts.append('"in_flight": {' + ", ".join(
            f"{dumps(b)}: {'null' if e is None else e}" for b, e in in_flight.items()
        ) + "}")
    if owners:
        parts.append(f'"owners": {dumps(owners)}')
    if fields:
        parts.append(f'"fields": {dumps(fields)}')
    if schema is not None:  # the schema ids, whole (they are few): already JSON
        parts.append(f'"schema": {schema}')
    return ("{" + ", ".join(parts) + "}\n").encode("utf-8")


def read_journal(data: bytes, token: str, serial: int) -> JournalScan:
    """The entries of ``data`` that follow a snapshot with ``token`` at ``serial``.

    ``JournalDamaged`` for a complete line that does not parse, or a line of this token
    whose serial does not follow the one before it (a line lost or duplicated).
    """
    scan = JournalScan()
    last_newline = data.rfind(b"\n")
    scan.end = last_newline + 1
    scan.torn = len(data) - scan.end
    expected = serial + 1
    start = 0
    number = 0
    while start < scan.end:
        stop = data.index(b"\n", start)
        number += 1
        raw = data[start:stop]
        start = stop + 1
        try:
            entry = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise JournalDamaged(f"line {number} is not JSON ({exc})") from None
        except RecursionError:
            raise JournalDamaged(f"line {number} is not a journal entry (nested too "
                                 "deeply)") from None
        if type(entry) is not dict or type(entry.get("serial")) is not int:
            raise JournalDamaged(f"line {number} is not a journal entry")
        if entry.get("journal") != token:
            scan.stale += 1
            continue
        if entry["serial"] != expected:
            raise JournalDamaged(
                f"line {number} has serial {entry['serial']}, expected {expected}"
            )
        expected += 1
        scan.entries.append(entry)
    return scan


def write_atomically(path: Path, chunks: Iterable[str]) -> os.stat_result:
    """Replace ``path`` with the text ``chunks`` make: temp file in the same folder, fsync,
    rename, fsync the folder. A crash leaves the old file or the new one, never half of
    one. Returns the new file's stat."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
            written = os.fstat(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(folder)
    return written


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file's name durable (POSIX); harmless where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = [
    "JOURNAL_SUFFIX", "JournalDamaged", "JournalScan", "dumps", "encode_entry",
    "encode_snapshot", "fsync_dir", "snapshot_chunks", "journal_path", "read_journal",
    "record_line", "write_atomically",
]
