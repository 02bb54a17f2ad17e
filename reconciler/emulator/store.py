"""The emulator's storage: one SQLite database (in memory or a file) behind one lock.

One connection, shared by every request thread under an ``RLock``: SQLite in memory
cannot be shared between connections anyway, and a batch is one transaction
(``executemany``, JSON columns), so the lock is held for milliseconds. Callers that
must check-then-write atomically (unique values, upserts) hold ``Store.lock`` around both.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from reconciler.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    type TEXT NOT NULL,
    id INTEGER NOT NULL,
    properties TEXT NOT NULL,          -- JSON object of name -> string
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    archived_at TEXT,
    visible_at REAL NOT NULL DEFAULT 0, -- search sees ``properties`` from this time on
    indexed TEXT,                       -- what search sees before visible_at (NULL: nothing)
    PRIMARY KEY (type, id)
);
CREATE TABLE IF NOT EXISTS uniques (
    type TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, id INTEGER NOT NULL,
    PRIMARY KEY (type, name, value)
);
CREATE TABLE IF NOT EXISTS associations (
    from_type TEXT NOT NULL, from_id INTEGER NOT NULL,
    to_type TEXT NOT NULL, to_id INTEGER NOT NULL,
    category TEXT NOT NULL, type_id INTEGER NOT NULL,
    PRIMARY KEY (from_type, from_id, to_type, to_id, category, type_id)
);
CREATE TABLE IF NOT EXISTS custom_properties (
    type TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL,
    PRIMARY KEY (type, name)
);
CREATE TABLE IF NOT EXISTS property_groups (
    type TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL,
    PRIMARY KEY (type, name)
);
CREATE TABLE IF NOT EXISTS pipelines (
    type TEXT NOT NULL, id TEXT NOT NULL, definition TEXT NOT NULL,  -- stages inside
    PRIMARY KEY (type, id)
);
CREATE TABLE IF NOT EXISTS labels (
    from_type TEXT NOT NULL, to_type TEXT NOT NULL, type_id INTEGER NOT NULL,
    label TEXT, name TEXT NOT NULL,
    PRIMARY KEY (from_type, to_type, type_id)
);
CREATE TABLE IF NOT EXISTS calendar_events (
    meeting_id INTEGER PRIMARY KEY, event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_FIRST_ID = 10_001


@dataclass
class StoredRecord:
    """One row of ``records``, decoded."""

    type: str
    id: int
    properties: dict[str, str]
    created_at: str
    updated_at: str
    archived: bool
    archived_at: str | None
    visible_at: float
    indexed: dict[str, str] | None


def _decode(row: sqlite3.Row | tuple[Any, ...]) -> StoredRecord:
    return StoredRecord(
        type=row[0],
        id=row[1],
        properties=json.loads(row[2]),
        created_at=row[3],
        updated_at=row[4],
        archived=bool(row[5]),
        archived_at=row[6],
        visible_at=row[7],
        indexed=json.loads(row[8]) if row[8] is not None else None,
    )


_COLUMNS = (
    "type, id, properties, created_at, updated_at, archived, archived_at, visible_at, indexed"
)


class Store:
    """Records, unique values, associations, custom properties and groups, pipelines,
    labels, calendar events."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                path or ":memory:", check_same_thread=False, isolation_level=None
            )
        except sqlite3.Error as error:
            raise ConfigError(f"cannot open the emulator database {path}: {error}") from None
        try:
            self._open(path)
        except (sqlite3.Error, ValueError) as error:
            self._conn.close()
            raise ConfigError(
                f"the emulator database {path} is not a usable SQLite file ({error}); "
                "move it aside (or delete it) and the emulator starts with an empty portal"
            ) from None

    def _open(self, path: str | None) -> None:
        if path:
            # A file that is not SQLite fails here; a damaged one fails quick_check, up front
            # rather than as a 500 on some later request.
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            first = str(self._conn.execute("PRAGMA quick_check(1)").fetchone()[0])
            if first != "ok":
                raise sqlite3.DatabaseError("damaged: " + first.splitlines()[0])
        self._conn.executescript(_SCHEMA)
        self._next_id = self._load_next_id()

    def _load_next_id(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key='next_id'").fetchone()
        return int(row[0]) if row else _FIRST_ID

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and one SQLite transaction; roll back on any exception."""
        with self.lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def allocate_ids(self, conn: sqlite3.Connection, count: int) -> list[int]:
        """``count`` fresh ids (HubSpot ids are numeric strings, unique per portal here)."""
        first = self._next_id
        self._next_id += count
        conn.execute(
            "INSERT INTO meta(key, value) VALUES('next_id', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (str(self._next_id),),
        )
        return list(range(first, first + count))

    def reset(self) -> None:
        with self.transaction() as conn:
            for table in ("records", "uniques", "associations", "custom_properties", "labels",
                          "property_groups", "pipelines", "calendar_events", "meta"):
                conn.execute(f"DELETE FROM {table}")
            self._next_id = _FIRST_ID

    # records -------------------------------------------------------------------------

    def insert_records(self, conn: sqlite3.Connection, records: Iterable[StoredRecord]) -> None:
        conn.executemany(
            f"INSERT INTO records({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (r.type, r.id, json.dumps(r.properties), r.created_at, r.updated_at,
                 int(r.archived), r.archived_at, r.visible_at,
                 json.dumps(r.indexed) if r.indexed is not None else None)
                for r in records
            ],
        )

    def update_records(self, conn: sqlite3.Connection, records: Iterable[StoredRecord]) -> None:
        conn.executemany(
            "UPDATE records SET properties=?, updated_at=?, archived=?, archived_at=?, "
            "visible_at=?, indexed=? WHERE type=? AND id=?",
            [
                (json.dumps(r.properties), r.updated_at, int(r.archived), r.archived_at,
                 r.visible_at, json.dumps(r.indexed) if r.indexed is not None else None,
                 r.type, r.id)
                for r in records
            ],
        )

    def get_records(self, object_type: str, ids: Iterable[int]) -> dict[int, StoredRecord]:
        """The records of these ids, archived or not (callers decide what they may see)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[int, StoredRecord] = {}
        with self.lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT {_COLUMNS} FROM records WHERE type=? AND id IN ({marks})",
                    (object_type, *chunk),
                ).fetchall()
                for row in rows:
                    found[row[1]] = _decode(row)
        return found

    def list_records(self, object_type: str, archived: bool | None = False) -> list[StoredRecord]:
        """Records of a type by id; ``archived=None`` lists both."""
        with self.lock:
            if archived is None:
                rows = self._conn.execute(
                    f"SELECT {_COLUMNS} FROM records WHERE type=? ORDER BY id", (object_type,)
                ).fetchall()
            else:
                rows = self._conn.execute(
                    f"SELECT {_COLUMNS} FROM records WHERE type=? AND archived=? ORDER BY id",
                    (object_type, int(archived)),
                ).fetchall()
        return [_decode(row) for row in rows]

    def record_types(self) -> list[str]:
        with self.lock:
            rows = self._conn.execute("SELECT DISTINCT type FROM records ORDER BY type").fetchall()
        return [row[0] for row in rows]

    # unique values ---------------------------------------------------------------------

    def unique_owner(self, object_type: str, name: str, value: str) -> int | None:
        with self.lock:
            row = self._conn.execute(
                "SELECT id FROM uniques WHERE type=? AND name=? AND value=?",
                (object_type, name, value),
            ).fetchone()
        return int(row[0]) if row else None

    def set_uniques(
        self, conn: sqlite3.Connection, object_type: str, entries: Iterable[tuple[str, str, int]]
    ) -> None:
        """Claim (name, value) for record ids; an empty value releases the record's claim."""
        for name, value, record_id in entries:
            conn.execute(
                "DELETE FROM uniques WHERE type=? AND name=? AND id=?",
                (object_type, name, record_id),
            )
            if value != "":
                conn.execute(
                    "INSERT INTO uniques(type, name, value, id) VALUES (?,?,?,?)",
                    (object_type, name, value, record_id),
                )

    def release_uniques(self, conn: sqlite3.Connection, object_type: str, ids: list[int]) -> None:
        conn.executemany(
            "DELETE FROM uniques WHERE type=? AND id=?", [(object_type, i) for i in ids]
        )

    # associations ----------------------------------------------------------------------

    def add_associations(
        self, conn: sqlite3.Connection, rows: Iterable[tuple[str, int, str, int, str, int]]
    ) -> None:
        conn.executemany("INSERT OR IGNORE INTO associations VALUES (?,?,?,?,?,?)", list(rows))

    def remove_associations(
        self, conn: sqlite3.Connection, pairs: Iterable[tuple[str, int, str, int]]
    ) -> None:
        """Remove every association type between each (from, to) pair, both directions."""
        both = []
        for from_type, from_id, to_type, to_id in pairs:
            both.append((from_type, from_id, to_type, to_id))
            both.append((to_type, to_id, from_type, from_id))
        conn.executemany(
            "DELETE FROM associations WHERE from_type=? AND from_id=? AND to_type=? AND to_id=?",
            both,
        )

    def remove_association_types(
        self, conn: sqlite3.Connection, rows: Iterable[tuple[str, int, str, int, str, int]]
    ) -> None:
        conn.executemany(
            "DELETE FROM associations WHERE from_type=? AND from_id=? AND to_type=? AND to_id=? "
            "AND category=? AND type_id=?",
            list(rows),
        )

    def associations_of(
        self, from_type: str, from_ids: Iterable[int], to_type: str | None = None
    ) -> list[tuple[str, int, str, int, str, int]]:
        ids = list(dict.fromkeys(from_ids))
        result: list[tuple[str, int, str, int, str, int]] = []
        with self.lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT * FROM associations WHERE from_type=? AND from_id IN ({marks})"
                params: list[Any] = [from_type, *chunk]
                if to_type is not None:
                    sql += " AND to_type=?"
                    params.append(to_type)
                result.extend(self._conn.execute(sql + " ORDER BY to_id", params).fetchall())
        return result

    # custom properties, labels, calendar events ----------------------------------------

    def custom_properties(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            rows = self._conn.execute(
                "SELECT type, definition FROM custom_properties ORDER BY rowid"
            ).fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def put_custom_property(self, object_type: str, name: str, definition: dict[str, Any]) -> None:
        """Create or replace (an update, an archive, a restore) one custom property."""
        self._put("custom_properties", "name", object_type, name, definition)

    def property_groups(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            rows = self._conn.execute(
                "SELECT type, definition FROM property_groups ORDER BY rowid"
            ).fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def put_property_group(self, object_type: str, name: str, definition: dict[str, Any]) -> None:
        self._put("property_groups", "name", object_type, name, definition)

    def pipelines(self, object_type: str) -> list[dict[str, Any]]:
        """The type's pipelines (archived ones too), each with its stages, as stored."""
        with self.lock:
            rows = self._conn.execute(
                "SELECT definition FROM pipelines WHERE type=? ORDER BY rowid", (object_type,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def put_pipeline(self, object_type: str, definition: dict[str, Any]) -> None:
        self._put("pipelines", "id", object_type, str(definition["id"]), definition)

    def _put(
        self, table: str, key: str, object_type: str, name: str, definition: dict[str, Any]
    ) -> None:
        # ON CONFLICT keeps the row (and its rowid: listing order is creation order).
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO {table}(type, {key}, definition) VALUES (?,?,?) "
                f"ON CONFLICT(type, {key}) DO UPDATE SET definition=excluded.definition",
                (object_type, name, json.dumps(definition)),
            )

    def next_meta_counter(self, key: str, first: int) -> int:
        """The next value of a persistent counter (pipeline and stage ids), from ``first``."""
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            value = int(row[0]) if row else first
            conn.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, str(value + 1)),
            )
        return value

    def labels(self) -> list[tuple[str, str, int, str | None, str]]:
        with self.lock:
            return list(self._conn.execute("SELECT * FROM labels ORDER BY type_id").fetchall())

    def add_labels(self, rows: Iterable[tuple[str, str, int, str | None, str]]) -> None:
        with self.transaction() as conn:
            conn.executemany("INSERT INTO labels VALUES (?,?,?,?,?)", list(rows))

    def relabel(self, from_type: str, to_type: str, type_id: int, label: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE labels SET label=? WHERE from_type=? AND to_type=? AND type_id=?",
                (label, from_type, to_type, type_id),
            )

    def delete_labels(self, types: Iterable[tuple[str, str, int]]) -> None:
        """Delete label types (from, to, type id) and every association of those types."""
        rows = list(types)
        with self.transaction() as conn:
            conn.executemany(
                "DELETE FROM labels WHERE from_type=? AND to_type=? AND type_id=?", rows
            )
            conn.executemany(
                "DELETE FROM associations WHERE from_type=? AND to_type=? AND type_id=? "
                "AND category='USER_DEFINED'",
                rows,
            )

    def max_label_type_id(self) -> int:
        with self.lock:
            row = self._conn.execute("SELECT MAX(type_id) FROM labels").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def add_calendar_event(
        self, conn: sqlite3.Connection, meeting_id: int, event: dict[str, Any]
    ) -> None:
        conn.execute(
            "INSERT INTO calendar_events(meeting_id, event) VALUES (?,?)",
            (meeting_id, json.dumps(event)),
        )

    def calendar_events(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._conn.execute(
                "SELECT event FROM calendar_events ORDER BY meeting_id"
            ).fetchall()
        return [json.loads(row[0]) for row in rows]
