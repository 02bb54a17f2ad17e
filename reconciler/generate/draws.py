"""Random draws that stay the same across Python versions and processes.

Every generated value draws from its own ``random.Random``, seeded by ``seed_of`` (a
SHA-256 of the project seed, the generator, the record's key and the field), and takes
only ``rng.random()`` from it: ``random()``'s sequence per seed is what Python promises to
keep; ``randrange``, ``choice`` and ``choices`` are not.
"""

from __future__ import annotations

import hashlib
import random


def seed_of(*parts: object) -> int:
    """A 64-bit seed from a stable hash (never ``hash()``: it changes per process)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")

def below(rng: random.Random, count: int) -> int:
    """A whole number in [0, count) from ``rng.random()`` alone (stable across Pythons;
    ``randrange`` and ``choices`` are not promised to be)."""
    return min(int(rng.random() * count), count - 1)

def weighted(rng: random.Random, weights: tuple[float, ...]) -> int:
    """An index drawn with ``weights``, from ``rng.random()`` alone."""
    point = rng.random() * sum(weights)
    total = 0.0
    for index, weight in enumerate(weights):
        total += weight
        if point < total:
            return index
    return len(weights) - 1
