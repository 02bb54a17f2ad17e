"""The expansion cache is checked, never trusted: an entry with a valid digest but the
wrong shape is expanded again (it once crashed the load with exit 3). Only entries sealed
with this user's own key skip the check (``loading.cache``); a forger has no such key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.loading.cache import CACHE_DIR, DraftCache
from reconciler.loading.project import load_project
from tests.helpers import write_unsealed_cache_entry

from .conftest import REFERENCE


def _generated_entry(root: Path) -> tuple[Path, list[list[Any]]]:
    """The cache file holding the expansion, and its generated records."""
    for path in sorted((root / CACHE_DIR).glob("*.entry")):
        payload = DraftCache(root, enabled=True, salt="any").get(path.stem, lambda _: True)
        if payload is not None and "generated" in payload:
            return path, payload["generated"]
    raise AssertionError("no expansion in the cache")


def _meeting(entries: list[list[Any]]) -> int:
    """The index of a generated meeting (it has a generated time and associations)."""
    return next(i for i, e in enumerate(entries) if e[0] == "meetings" and e[13] and e[8])


def _set_time_slot(e: list[Any], value: Any) -> None:
    e[13][next(iter(e[13]))] = value


FORGERIES: dict[str, Callable[[list[Any]], None]] = {
    "not a record": lambda e: e.clear(),
    "file out of range": lambda e: e.__setitem__(2, 99),
    "number property": lambda e: e[6].__setitem__("hs_meeting_title", 5),
    "times not a mapping": lambda e: e.__setitem__(13, []),
    "short time slot": lambda e: _set_time_slot(e, [0, 1]),
    "window of a million days": lambda e: _set_time_slot(e, [0, 10**6, False, 0.5, 3, 0]),
    "slot past midnight": lambda e: _set_time_slot(e, [-3, 3, False, 0.5, 500, 0]),
    "text fraction": lambda e: _set_time_slot(e, [-3, 3, False, "0.5", 3, 0]),
    "association without its path": lambda e: e[8][0].__setitem__(6, []),
    "by_time value not a pair": lambda e: e.__setitem__(14, {"hs_meeting_outcome": "x"}),
    "owns not a flag": lambda e: e.__setitem__(11, "yes"),
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_expansion_entry_is_expanded_again(gen_project, forgery: str) -> None:  # type: ignore[no-untyped-def]
    root = gen_project()
    expected = load_project(root, reference_time=REFERENCE)
    path, entries = _generated_entry(root)
    forged = copy.deepcopy(entries)
    FORGERIES[forgery](forged[_meeting(forged)])
    # (a valid digest, as the forger can write one; no seal, as only this user's runs can)
    write_unsealed_cache_entry(root, path.stem, {"generated": forged})

    again = load_project(root, reference_time=REFERENCE)  # no crash, and the same records
    assert again.records == expected.records
    assert _generated_entry(root)[1] == entries  # and the entry was written again, sound


def test_the_entry_as_written_is_sound(gen_project) -> None:  # type: ignore[no-untyped-def]
    from reconciler.generate.loading import entries_are_sound

    root = gen_project()
    load_project(root, reference_time=REFERENCE)
    entries = _generated_entry(root)[1]
    assert entries_are_sound(entries, files=1)  # (else every warm load expands again)
    assert not entries_are_sound(entries, files=0)
