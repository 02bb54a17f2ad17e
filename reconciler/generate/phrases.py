"""Words that sound like sales: our own phrase bank (``phrases.yaml``), drawn like Faker.

The bank holds, per kind of text (``call_note``, ``agenda``, ``email_subject``...),
fragments by deal stage and outcome; a text is one fragment of each of the kind's parts
(``open``, ``topic``, ``next``...), joined, so a few hundred lines give thousands of texts.
A fragment may name slots (``{contact}``, ``{company}``...): it is drawn only when the
caller gives them all, so ``phrase('call_note')`` works alone and
``phrase('call_note', contact='Ann')`` also draws the fragments that name Ann.

Draws take ``rng.random()`` alone (``draws.below``), from the field's own stream: the same
seed, generator, key and field give the same text. Values made from the bank are pinned in
the state like Faker's, so a later edit of the bank never churns a portal.

The words are written for this project: no vendor templates, no scraped copy.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

#: The default pipeline's stages (HubSpot's ids), and ``any`` for fragments of every stage.
STAGES = (
    "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
    "decisionmakerboughtin", "contractsent", "closedwon", "closedlost",
)
ANY = "any"
#: What a fragment may name, filled from the caller's arguments.
SLOTS = ("contact", "company", "product", "owner_first")
_BANK_FILE = Path(__file__).with_name("phrases.yaml")
_SLOT = re.compile(r"\{([a-z_]+)\}")


class PhraseProblem(ValueError):
    """A phrase asked for that the bank cannot give (unknown kind, stage, outcome, slot)."""


@dataclass(frozen=True)
class Kind:
    name: str
    parts: tuple[str, ...]
    joiner: str
    outcomes: tuple[str, ...]
    #: (stage, outcome, part) → fragments, in the bank's order
    fragments: Mapping[tuple[str, str, str], tuple[str, ...]]


def bank_version() -> str:
    """A digest of the bank's text: part of the generators' cache key."""
    return _version()


@lru_cache(maxsize=1)
def _version() -> str:
    return hashlib.sha256(_BANK_FILE.read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=1)
def bank() -> Mapping[str, Kind]:
    """The bank, read once per process (only when a generator draws a phrase)."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=False).load(_BANK_FILE.read_text("utf-8"))
    kinds: dict[str, Kind] = {}
    for name, body in data["kinds"].items():
        parts = tuple(body["parts"])
        fragments: dict[tuple[str, str, str], list[str]] = {}
        for entry in body["entries"]:
            stages = entry.get("stage", ANY)
            outcomes = entry.get("outcome", ANY)
            for stage in stages if isinstance(stages, list) else [stages]:
                for outcome in outcomes if isinstance(outcomes, list) else [outcomes]:
                    for part in parts:
                        found = fragments.setdefault((stage, outcome, part), [])
                        found.extend(str(text) for text in entry.get(part) or ())
        kinds[name] = Kind(
            name, parts, str(body.get("joiner", " ")), tuple(body.get("outcomes") or ()),
            {k: tuple(v) for k, v in fragments.items()},
        )
    return kinds


def check(kind: str, stage: str | None = None, outcome: str | None = None,
          slots: Mapping[str, Any] | None = None) -> Kind:
    """The kind, once its arguments are known to make sense (else PhraseProblem)."""
    from reconciler.loading.issues import did_you_mean

    kinds = bank()
    found = kinds.get(kind)
    if found is None:
        raise PhraseProblem(
            f"phrase: no kind {kind!r}{did_you_mean(kind, kinds)}; kinds: "
            + ", ".join(sorted(kinds))
        )
    if stage is not None and stage not in STAGES:
        raise PhraseProblem(
            f"phrase: no {kind} phrases for the stage {stage!r}{did_you_mean(stage, STAGES)}; "
            f"stages: {', '.join(STAGES)} (or leave stage out)"
        )
    if outcome is not None and _outcome(outcome) not in found.outcomes:
        if not found.outcomes:
            raise PhraseProblem(f"phrase: {kind} phrases have no outcome; leave it out")
        hint = did_you_mean(_outcome(outcome), found.outcomes)
        raise PhraseProblem(
            f"phrase: no {kind} phrases for the outcome {outcome!r}{hint}; outcomes: "
            + ", ".join(found.outcomes)
        )
    for slot in slots or ():
        if slot not in SLOTS:
            raise PhraseProblem(
                f"phrase: no slot {slot!r}{did_you_mean(slot, SLOTS)}; slots: {', '.join(SLOTS)}"
            )
    return found


def _outcome(text: str) -> str:
    """``COMPLETED`` (a meeting's outcome as HubSpot writes it) is ``completed``."""
    return text.strip().lower()


def draw(
    rng: random.Random, kind: str, stage: str | None = None, outcome: str | None = None,
    slots: Mapping[str, Any] | None = None,
) -> str:
    """One text of ``kind``: a fragment of each part, from ``rng.random()`` alone."""
    from reconciler.generate.draws import below

    given = {k: str(v) for k, v in (slots or {}).items() if v is not None and str(v) != ""}
    found = check(kind, stage, outcome, slots)
    if outcome is None and found.outcomes:
        outcome = found.outcomes[0]  # a call note is of a connected call unless told
    pieces: list[str] = []
    for pool in _pools(found.name, stage, None if outcome is None else _outcome(outcome),
                       frozenset(given)):
        if pool:
            pieces.append(pool[below(rng, len(pool))])
    if not pieces:  # (the bank's own test keeps this from happening)
        raise PhraseProblem(f"phrase: the bank has no {kind} phrases for these arguments")
    text = found.joiner.join(pieces)
    return _SLOT.sub(lambda m: given[m.group(1)], text)


@lru_cache(maxsize=1024)
def _pools(
    kind: str, stage: str | None, outcome: str | None, given: frozenset[str]
) -> tuple[tuple[str, ...], ...]:
    """Each part's fragments for these arguments: of the stage and of any stage, of the
    outcome and of any outcome, that need only the slots given."""
    found = bank()[kind]
    stages = (stage, ANY) if stage is not None else (ANY,)
    outcomes = (outcome, ANY) if outcome is not None else (ANY,)
    pools = []
    for part in found.parts:
        pool = [
            text
            for s in stages for o in outcomes
            for text in found.fragments.get((s, o, part), ())
            if set(_SLOT.findall(text)) <= given
        ]
        pools.append(tuple(pool))
    return tuple(pools)
