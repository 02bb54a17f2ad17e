"""Key patterns, each section's generated fields, and pin expressions.

Small pure helpers of the expansion (``expand``): which keys a pattern makes and whether
they are valid, which HubSpot properties a friendly field sets, and the digests that name
a generated value in the state (``gen:<hex>`` / ``gen@t:<hex>``).
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from datetime import datetime, timedelta, timezone
from typing import Any

from reconciler.generate.inputs import TIME_PIN, VALUE_PIN
from reconciler.model import SECTION_OBJECT_TYPES

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
#: Generated times are placeholders in the year 1901 until each run resolves them.
PLACEHOLDER_BASE = datetime(1901, 1, 1, tzinfo=timezone.utc)
PLACEHOLDER_STRIDE = timedelta(days=40)


def friendly_fields(section: str) -> list[str]:
    from reconciler.loading.records import FRIENDLY_FIELDS

    names = list(FRIENDLY_FIELDS.get(section, {}))
    if section == "meetings":
        names.append("duration")
    return names


def field_properties(section: str) -> dict[str, list[str]]:
    from reconciler.loading.records import FRIENDLY_FIELDS

    mapping = {name: [prop] for name, (prop, _) in FRIENDLY_FIELDS.get(section, {}).items()}
    if section == "meetings":
        mapping["start"] = ["hs_meeting_start_time", "hs_timestamp"]
        mapping["duration"] = ["hs_meeting_end_time"]
    return mapping


def time_prop(section: str, field_name: str) -> str:
    props = field_properties(section).get(field_name)
    return props[0] if props else field_name


def pin_for(pin: str, prop: str, offset: timedelta | None) -> str:
    prefix = TIME_PIN if pin.startswith(TIME_PIN) else VALUE_PIN
    extra = "" if offset is None else f"|{int(offset.total_seconds())}"
    return prefix + hashlib.sha256(f"{pin}|{prop}{extra}".encode()).hexdigest()[:12]


def digest_of(*parts: Any) -> str:
    """12 hex digits of SHA-256 over ``parts`` (text as is, anything else as JSON)."""
    text = "\x1f".join(
        part if isinstance(part, str)
        else json.dumps(part, sort_keys=True, default=str, separators=(",", ":"))
        for part in parts
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def placeholder(index: int) -> str:
    instant = PLACEHOLDER_BASE + index * PLACEHOLDER_STRIDE
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def hand_path(object_type: str, key: str) -> tuple[str, ...]:
    if object_type in SECTION_OBJECT_TYPES:
        return (object_type, key)
    return ("objects", object_type, key)


def key_pattern_problem(pattern: str) -> str | None:
    if not pattern:
        return "missing key: a pattern like acct-{n:04} or {parent}-c{n}"
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        return f"{pattern!r} is not a key pattern ({exc}); write it like acct-{{n:04}}"
    names = [name for _, name, _, _ in parsed if name is not None]
    for name in names:
        if name not in ("n", "parent"):
            return (
                f"{pattern!r}: {{{name}}} is not known in a key pattern; use {{n}} and {{parent}}"
            )
    for _, field_name, spec, conversion in parsed:
        if conversion:
            return f"{pattern!r}: conversions (!r, !s) are not allowed in a key pattern"
        if field_name == "n" and spec:
            if any(len(d) > 3 or int(d) > 100 for d in re.findall(r"[0-9]+", spec)):
                # checked before format() tries it: {n:999999999} would take a gigabyte
                return f"{pattern!r}: {spec!r} is wider than a key (at most 100 characters)"
            try:
                format(1, spec)
            except ValueError:
                return f"{pattern!r}: {spec!r} is not a number format; write {{n:04}}"
        if field_name == "parent" and spec:
            return f"{pattern!r}: {{parent}} takes no format"
    return None


def key_shape(pattern: str) -> re.Pattern[str]:
    """A regular expression for every key ``pattern`` can make."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if name == "n":
            parts.append(r"[0-9]+")
        elif name == "parent":
            parts.append(r".+")
    return re.compile("".join(parts))


def make_key(pattern: str, n: int, parent: str | None) -> str:
    return pattern.format(n=n, parent=parent or "")


def key_problem(key: str) -> str | None:
    if len(key) > 100:
        return "keys are at most 100 characters"
    if not KEY_RE.match(key):
        return (
            "keys are lowercase letters, digits, '-', '_' and '.', starting with a letter or digit"
        )
    return None
