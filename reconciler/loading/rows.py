"""A record as the draft cache stores it: a compact row, since warm loads read 50k of them.

``draft_row`` writes one from a draft (``reconciler.loading.records``); ``rows_are_sound`` checks
that rows read back from the cache have exactly that shape.
"""

from __future__ import annotations

from typing import Any

from reconciler.loading.records import Draft
from reconciler.model import calendar_is_sound

TYPE, KEY, LINE, COLUMN, PROPS, REL, ASSOC, CAL, OWNER_EMAIL, FLAGS = range(10)
OWNS, OWNED = 1, 2  # FLAGS bits: sets its owner; takes the default owner


def draft_row(draft: Draft, position: tuple[int, int]) -> list[Any]:
    associations = [
        # [to_type, to_key, to_id, category (None: HUBSPOT_DEFINED), type_id, label,
        #  index in associations:, the field naming the target]
        [a[0], a[1], a[2], None if a[3] == "HUBSPOT_DEFINED" else a[3], a[4], a[5], a[6][-1], a[7]]
        for a in draft["assoc"]
    ]
    flags = (OWNS if draft["owns"] else 0) | (OWNED if draft["owned"] else 0)
    return [
        draft["type"], draft["key"], position[0], position[1], draft["props"], draft["rel"],
        associations, draft["cal"], draft["owner_email"], flags,
    ]  # fmt: skip


def rows_are_sound(rows: Any) -> bool:
    """True if cached ``rows`` have exactly the shape ``draft_row`` writes (else: parse again).

    The cache checks each entry's digest; this check makes sure that even an entry that
    passes it can never crash the load or put a non-text value into a property.
    """
    if type(rows) is not list:
        return False
    try:
        for row in rows:
            if type(row) is not list or len(row) != 10:
                return False
            object_type, key, line, column, props, rel, assoc, cal, email, flags = row
            if not (
                type(object_type) is str and type(key) is str
                and type(line) is int and type(column) is int
                and type(props) is dict and type(rel) is dict
                and type(assoc) is list and type(flags) is int and 0 <= flags <= 3
                and (email is None or type(email) is str)
                and all(type(v) is str for v in props.values())
                and all(type(v) is str for v in rel.values())
                and all(_association_is_sound(a) for a in assoc)
                and (cal is None or calendar_is_sound(cal))
            ):
                return False
    except (TypeError, ValueError):
        return False
    return True


def _association_is_sound(item: Any) -> bool:
    if type(item) is not list or len(item) != 8:
        return False
    to_type, to_key, to_id, category, type_id, label, index, field_name = item
    return (
        type(to_type) is str and type(index) is int and type(field_name) is str
        and all(v is None or type(v) is str for v in (to_key, to_id, category, label))
        and (type_id is None or type(type_id) is int)
    )  # fmt: skip
