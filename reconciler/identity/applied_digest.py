"""What was applied to a record, kept on the record itself: the ``reconciler_applied`` property.

The state file is a cache; the portal holds identity (the markers, ``reconciler.identity.recovery``)
and, in this property, what a rebuild needs to plan exactly what a kept state would:

- the pins: relative times (``start: +3d 10:00``) with the expression they were resolved
  from and the value sent, and generated picks (``@association:<n>``);
- the declared associations, by the target's local key and type (or HubSpot id when the
  spec names one), with category and type id.

Without it a rebuilt state re-pins with the *current* expression and knows only the
associations the spec declares now, so a pull request that changes ``start:`` or removes an
association would never be applied by a stateless CI.

The value is compact JSON (``{"v":1,"p":{name:[expr,value]},"a":[[type,key,id,cat,tid]]}``),
written with every create and update. HubSpot's string properties hold at most 65,536
characters: a digest that would not fit keeps its pins and drops the associations (marked
``"a":null``: a rebuild then falls back to the spec's associations, as before).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import AssociationRef
from reconciler.state.model import AppliedAssociation, Pin

DIGEST_PROPERTY = "reconciler_applied"
DIGEST_VERSION = 1
#: HubSpot's limit for a string property value (characters).
MAX_DIGEST_CHARS = 65_536


@dataclass(frozen=True, slots=True)
class DigestAssociation:
    """A declared association as applied: by local key when ours, else by HubSpot id."""

    to_type: str
    to_key: str | None
    to_id: str | None
    category: str
    type_id: int | None


@dataclass(frozen=True, slots=True)
class AppliedDigest:
    pins: Mapping[str, Pin]
    #: None: not recorded (too long to fit, or written before associations were kept)
    associations: tuple[DigestAssociation, ...] | None


def encode_digest(
    pins: Mapping[str, Pin], associations: Iterable[AssociationRef | AppliedAssociation]
) -> str:
    """The property value for a record applied with these pins and associations."""
    rows: list[list[Any]] = []
    for item in associations:
        if isinstance(item, AppliedAssociation):
            to_key, to_id = item.to_key, None if item.to_key is not None else item.to_id
        else:
            to_key, to_id = item.to_key, None if item.to_key is not None else item.to_id
        rows.append([item.to_type, to_key, to_id, item.category, item.type_id])
    body: dict[str, Any] = {
        "v": DIGEST_VERSION,
        "p": {name: [pin.expr, pin.value] for name, pin in sorted(pins.items())},
        "a": rows,
    }
    text = _dump(body)
    if len(text) > MAX_DIGEST_CHARS:
        body["a"] = None
        text = _dump(body)
    if len(text) > MAX_DIGEST_CHARS:  # pins alone too long: nothing worth keeping
        text = _dump({"v": DIGEST_VERSION, "p": None, "a": None})
    return text


def _dump(body: Mapping[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def decode_digest(text: str | None) -> AppliedDigest | None:
    """The digest a record carries; None when it has none or it cannot be read (a record
    written before digests existed, or edited by hand: the rebuild falls back)."""
    if not text:
        return None
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # a portal property: anyone may have written it
        return None
    if not isinstance(body, dict) or body.get("v") != DIGEST_VERSION:
        return None
    raw_pins, raw_assocs = body.get("p"), body.get("a")
    if not isinstance(raw_pins, dict):
        return None
    pins: dict[str, Pin] = {}
    for name, pair in raw_pins.items():
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(p, str) for p in pair)):
            return None
        pins[str(name)] = Pin(expr=pair[0], value=pair[1])
    associations: tuple[DigestAssociation, ...] | None = None
    if isinstance(raw_assocs, list):
        rows: list[DigestAssociation] = []
        for row in raw_assocs:
            if not (isinstance(row, list) and len(row) == 5 and isinstance(row[0], str)
                    and isinstance(row[3], str)
                    and (row[4] is None or (isinstance(row[4], int)
                                            and not isinstance(row[4], bool)))):
                return None
            rows.append(DigestAssociation(
                row[0], _text_or_none(row[1]), _text_or_none(row[2]), row[3], row[4],
            ))
        associations = tuple(rows)
    return AppliedDigest(pins, associations)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


__all__ = [
    "DIGEST_PROPERTY",
    "MAX_DIGEST_CHARS",
    "AppliedDigest",
    "DigestAssociation",
    "decode_digest",
    "encode_digest",
]
