"""Every search by marker: the one lookup of the records that carry a project's markers.

``find_marked`` finds records either by the keys a create sent (``IN``, lowercase, 100 a
request: recovery, ``import --all-matching``) or as every record whose
``reconciler_project`` is the project's id (``EQ``, paged by ``hs_object_id`` past
search's 10,000 cap by ``HubSpotClient.search``: the pre-plan scan, ``state rebuild``).
Either way a record counts only when it carries a key *and* the project id that is the
key's prefix (``markers.proves_owner``); grouped by key, the oldest record first.

Search lags writes (facts §7): ``find_by_marker`` searches again until a deadline, so an
empty answer means "not made"; ``read_back=True`` returns the records as a read by id
does (reads see every write at once). ``records_carrying`` is the one search that asks no
proof of ownership: before a marker is rewritten, whoever's record carries it already.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import RemoteRecord
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY, carried, proves_owner
from reconciler.identity.search_lag import SEARCH_POLL_SECONDS, search_until

#: search's ``total`` stops here: a larger count reads as 10,000 (``count_marked``)
SEARCH_TOTAL_CAP = 10_000


def project_group(project_id: str) -> list[dict[str, Any]]:
    """The search filter of every record carrying ``project_id`` as its project marker."""
    return [{"filters": [{"propertyName": PROJECT_PROPERTY, "operator": "EQ",
                          "value": project_id.lower()}]}]


def count_marked(client: HubSpotClient, object_type: str, project_id: str) -> int:
    """How many records of ``object_type`` carry this project's marker (search counts at
    most 10,000: a larger answer reads as 10,000, which is only ever compared upwards)."""
    return client.search_page(object_type, project_group(project_id), [], limit=1).total


def oldest_first(records: Iterable[RemoteRecord]) -> list[RemoteRecord]:
    return sorted(records, key=lambda r: (len(r.id), r.id))


def find_marked(
    client: HubSpotClient,
    object_type: str,
    properties: Sequence[str],
    *,
    project_id: str | None = None,
    markers: Iterable[str] = (),
    first_release: Collection[str] = (),
    read_back: bool = False,
) -> dict[str, list[RemoteRecord]]:
    """Key (lowercase ``reconciler_key``) → the records carrying it and its project id,
    oldest first; each with ``properties`` and both markers.

    With ``project_id``: every record whose ``reconciler_project`` is that id (its keys
    having that prefix); else the records carrying one of ``markers``. Only keys in
    ``first_release`` (sent by the first release, which set no ``reconciler_project``) are
    found on a record that carries no project id. ``read_back``: what was found is read
    by id (one batch read per 100), archived records left out, and checked again.
    """
    props = marker_lookup_properties(properties)
    if project_id is not None:
        matches = list(client.search(object_type, project_group(project_id), props))
    else:
        matches = records_carrying(client, object_type, markers, props)
    if read_back:
        matches = read_by_id(client, object_type, matches, props)
    return group_owned(matches, project_id=project_id, first_release=first_release)


def records_carrying(
    client: HubSpotClient, object_type: str, markers: Iterable[str],
    properties: Sequence[str] = (),
) -> list[RemoteRecord]:
    """Every record carrying one of the keys ``markers``, whoever's it is (a key is unique
    on most types: rewriting a marker must not take another record's), with ``properties``
    and both markers."""
    wanted = list(dict.fromkeys(m.lower() for m in markers))
    if not wanted:
        return []
    props = marker_lookup_properties(properties)
    return client.search_by_property_values(object_type, MARKER_PROPERTY, wanted, props)


def marker_lookup_properties(properties: Sequence[str]) -> list[str]:
    """``properties`` and both markers, each once."""
    return list(dict.fromkeys([*properties, MARKER_PROPERTY, PROJECT_PROPERTY]))


def read_by_id(
    client: HubSpotClient, object_type: str, records: Iterable[RemoteRecord],
    properties: Sequence[str],
) -> list[RemoteRecord]:
    """``records`` as a read by id returns them now (one batch read per 100), archived
    ones left out: search lags writes, so what it returned may be an older version (a
    digest from before the last update); a read sees every write at once."""
    ids = [r.id for r in records]
    if not ids:
        return []
    fresh = client.read_all(object_type, ids, list(properties))
    return [fresh[i] for i in ids if i in fresh]


def group_owned(
    records: Iterable[RemoteRecord], *, project_id: str | None = None,
    first_release: Collection[str] = (),
) -> dict[str, list[RemoteRecord]]:
    """Key → the records carrying it and its project id (``proves_owner``), oldest first;
    with ``project_id``, only its keys. A ``first_release`` key also counts on a record
    that carries no project id."""
    prefix = f"{project_id.lower()}:" if project_id is not None else ""
    keys_only = {m.lower() for m in first_release}
    found: dict[str, list[RemoteRecord]] = defaultdict(list)
    for remote in records:
        key, owner = carried(remote)
        if not key.startswith(prefix):
            continue
        if proves_owner(key, owner) or (key in keys_only and not owner):
            found[key].append(remote)
    return {key: oldest_first(grouped) for key, grouped in found.items()}


def find_by_marker(
    client: HubSpotClient,
    object_type: str,
    markers: Mapping[str, str],
    *,
    deadline: float,
    poll_seconds: float = SEARCH_POLL_SECONDS,
    stopped: Callable[[], bool] = lambda: False,
    first_release: Collection[str] = (),
) -> dict[str, RemoteRecord]:
    """Records carrying the markers (marker → address); address → record found.

    ``find_marked`` by key: a record is found only with both markers a create sent (a key
    alone is no proof: it may have been copied onto another project's record), except
    for ``first_release`` keys, found by the key alone on a record with no project id.
    Markers are compared lowercase: search ``IN`` matches only lowercase values, and a
    marker written by the first release (``Demo:meetings/x``) is found by its lowercase
    form. Searches again (only for what is still missing) until every marker is found or
    ``deadline`` (wall clock, on the client's clock) has passed: see
    ``search_lag.search_until``. ``stopped`` (Ctrl-C) ends the wait at once.
    """
    missing = {marker.lower(): address for marker, address in markers.items()}
    found: dict[str, RemoteRecord] = {}

    def attempt() -> bool:
        for key, records in find_marked(client, object_type, [], markers=list(missing),
                                        first_release=first_release).items():
            address = missing.pop(key, None)
            if address is not None:
                found[address] = records[0]
        return not missing

    if missing:
        search_until(client.clock, deadline, attempt, stopped=stopped, poll_seconds=poll_seconds)
    return found


__all__ = [
    "SEARCH_TOTAL_CAP",
    "count_marked",
    "find_by_marker",
    "find_marked",
    "group_owned",
    "marker_lookup_properties",
    "oldest_first",
    "project_group",
    "read_by_id",
    "records_carrying",
]
