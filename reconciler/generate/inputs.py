"""What the expansion takes: the generator sections of each file, hand-written records and
options. Plain data only, so the loader can import this without Faker or Jinja2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Most records the generators of a project may make, unless ``max_generated`` says more.
DEFAULT_LIMIT = 200_000
#: Pin expressions of generated values (kept by ``refresh-times``) and of generated times
#: and the values chosen by them (re-pinned by ``refresh-times``).
VALUE_PIN = "gen:"
TIME_PIN = "gen@t:"
#: The name under which a random pick among records is pinned (``planning.pins.PICK_PREFIX``).
PICK_PREFIX = "@association:"


#: A generated record as cached (a list, not a mapping: 50k of them are written and read):
#: [type, key, file, line, column, section, props, rel, assoc, cal, owner_email, owns,
#:  owned, times, by_time, schedule, story]; ``times``: property → [start day, end day,
#: business hours, where in the window, slot, offset ms]; ``by_time``: property → [time
#: property, future value]; ``schedule``: None, or the request that places the activity on
#: its owner's calendar (``reconciler.generate.scheduling``); ``story``: None, or what a
#: story's subject takes from its steps (``reconciler.generate.stories``). The draft fields
#: are those of ``reconciler.loading.records.FileBuilder``.
(E_TYPE, E_KEY, E_FILE, E_LINE, E_COLUMN, E_SECTION, E_PROPS, E_REL, E_ASSOC, E_CAL,
 E_OWNER_EMAIL, E_OWNS, E_OWNED, E_TIMES, E_BY_TIME, E_SCHEDULE, E_STORY) = range(17)


def is_generated_pin(expr: str) -> bool:
    """True for the pin of a generated value that no time decides (``refresh-times`` keeps it)."""
    return expr.startswith(VALUE_PIN)


@dataclass(frozen=True)
class FileSections:
    """One spec file's ``generate:`` and ``patch:`` sections, and where things are."""

    file: str
    generate: Mapping[str, Any]
    patch: Mapping[str, Any]
    #: generator name → (line, column) of its name
    positions: Mapping[str, tuple[int, int]]


@dataclass(frozen=True)
class HandRecord:
    """A hand-written record, as generators see it (parents, picks, key clashes)."""

    object_type: str
    key: str
    properties: Mapping[str, str]
    where: str  # file:line:column
    owner: str | None = None  # its owner's email, when written as one
    #: (type, key) of the records its associations name (``scope:`` follows them)
    associations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Options:
    seed: str = "0"
    timezone: str = "UTC"
    limit: int = DEFAULT_LIMIT
    variables: Mapping[str, Any] = field(default_factory=dict)
    #: the project's ``calendar:`` (and default owner) as a digest, read by the pins of
    #: scheduled activities; "" without a calendar (nothing is scheduled)
    calendar: str = ""


