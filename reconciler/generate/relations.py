"""Who may be picked: the candidates of a ``random_reference``, and the choice among them.

``scope:`` names one record S (``parent``, ``parent.parent``, ``pick.<name>``, or
``{type: companies, key: "..."}``); the candidates are the source's records *related* to
S: S is their ``for_each`` parent (``via: children``), or an association links them, in
either direction (``via: associations``); both by default. Associations count when the
candidates' own generator, S's generator or a hand-written record lists them, so what is
related never depends on which other generators happen to run first.

The choice is rendezvous hashing: each candidate gets a score from the pick's digest and
its key, and the best score wins, so a new candidate moves only the picks it outranks.
Above ``RANKED_MOST`` candidates, candidates fall into 64 fixed buckets by their key; a
pick ranks the buckets, then the members of the best one (O(64 + N/64), not O(N)), with
the same property.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from reconciler.generate.draws import seed_of

if TYPE_CHECKING:
    from reconciler.generate.context import Context

#: A record by (object type, key).
Ref = tuple[str, str]
#: Up to this many candidates, every one is ranked (the original rendezvous choice).
RANKED_MOST = 64
_BUCKETS = 64
_MASK = (1 << 64) - 1
VIA = ("both", "children", "associations")


class Pool:
    """Candidates, sorted, with their buckets (made once per candidate set)."""

    __slots__ = ("keys", "_buckets")

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys: tuple[str, ...] = tuple(sorted(set(keys)))
        self._buckets: list[list[tuple[int, str]]] | None = None

    def choose(self, digest: str, but: frozenset[str] = frozenset()) -> str | None:
        """The candidate ``digest`` ranks first, leaving out ``but`` (None: no one left)."""
        keys = self.keys
        if len(keys) <= RANKED_MOST:
            left = [k for k in keys if k not in but] if but else keys
            return max(left, key=lambda c: seed_of(digest, c)) if left else None
        if self._buckets is None:
            buckets: list[list[tuple[int, str]]] = [[] for _ in range(_BUCKETS)]
            for key in keys:
                own = seed_of("\x00candidate", key)
                buckets[own % _BUCKETS].append((own, key))
            self._buckets = buckets
        record = seed_of(digest)
        members = [[m for m in b if m[1] not in but] if but else b for b in self._buckets]
        ranked = [b for b in range(_BUCKETS) if members[b]]
        if not ranked:
            return None
        best = max(ranked, key=lambda b: _mix(record ^ (b * 0x9E3779B97F4A7C15 & _MASK)))
        return max(members[best], key=lambda item: _mix(record ^ item[0]))[1]


def _mix(value: int) -> int:
    """SplitMix64's finaliser: a well-spread score from two seeds, without a hash call."""
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def parent_type(ctx: Context, generator: str) -> str | None:
    """The object type of a generator's ``for_each`` parents."""
    gen = ctx.generators[generator]
    if gen.for_each is None:
        return None
    found = ctx.generators.get(gen.for_each)
    return found.object_type if found is not None else gen.for_each


def pool(ctx: Context, source: str, scope: Ref | None, via: str) -> Pool:
    """The candidates ``source`` offers within ``scope`` (None: all of them): a generator's
    records, or a type's (its generators'), with the type's hand-written records when the
    source is the type's name (``offers_hand_written``)."""
    cache_key = (source, scope, via)
    found = ctx.pools.get(cache_key)
    if found is None:
        found = ctx.pools[cache_key] = Pool(_candidates(ctx, source, scope, via))
    return found


def _candidates(ctx: Context, source: str, scope: Ref | None, via: str) -> list[str]:
    names = ctx.generators_for(source)
    hand = ctx.hand.get(source, []) if offers_hand_written(ctx, source) else []
    if scope is None:
        keys = [m.key for name in names for m in ctx.made.get(name, [])]
        keys.extend(r.key for r in hand)
        return keys
    keys = []
    if via in ("both", "children"):
        for name in names:
            if parent_type(ctx, name) == scope[0]:
                keys.extend(ctx.children.get(name, {}).get(scope[1], ()))
    if via in ("both", "associations"):
        for name in names:
            keys.extend(_linked_to(ctx, name).get(scope, ()))
        keys.extend(r.key for r in hand if scope in r.associations)
        target_type = ctx.generators[names[0]].object_type if names else source
        own = {k for t, k in links_of(ctx, scope) if t == target_type}
        if own:
            offered = {m.key for name in names for m in ctx.made.get(name, [])}
            offered.update(r.key for r in hand)
            keys.extend(own & offered)
    return keys


def offers_hand_written(ctx: Context, source: str) -> bool:
    """Whether a source offers the hand-written records of its type: it is a type, or a
    generator named after its type (``contacts:``), not one like ``vip_contacts:``."""
    gen = ctx.generators.get(source)
    return gen is None or gen.object_type == source


def _linked_to(ctx: Context, generator: str) -> dict[Ref, list[str]]:
    """The records of ``generator`` by each record their associations name (built once)."""
    found = ctx.linked.get(generator)
    if found is None:
        found = ctx.linked[generator] = {}
        for made in ctx.made.get(generator, []):
            for ref in made.links:
                found.setdefault(ref, []).append(made.key)
    return found


def links_of(ctx: Context, ref: Ref) -> tuple[Ref, ...]:
    """What a record's own associations name."""
    made = ctx.made_by_ref.get(ref)
    if made is not None:
        return made.links
    hand = ctx.hand_keys.get(ref)
    return hand.associations if hand is not None else ()


def exists(ctx: Context, ref: Ref) -> bool:
    return ref in ctx.made_by_ref or ref in ctx.hand_keys
