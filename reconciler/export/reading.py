"""Reading a portal for ``export``: the activities, the records they hang on, associations.

Reads only. The chosen types' records are found by search (every record of a chosen
contacts, companies, deals or tickets type; the activities since ``--since``), sorted by
``hs_object_id`` and paged by ``hs_object_id GT <last id>`` rather than by ``after`` alone,
because search stops at 10,000 results (hubspot-api-facts.md §7); their properties are
then read by id in batches of 100 (§1), as are the contacts, companies, deals and tickets
they are associated with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.errors import ApiError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import AssociationLabel, RemoteRecord

#: The activity types ``export`` takes by default, and the types they pull in (which
#: ``--types`` may also name: then every record of the type is exported).
ACTIVITY_TYPES = ("meetings", "calls", "notes", "tasks", "emails")
RELATED_TYPES = ("contacts", "companies", "deals", "tickets")
EXPORT_TYPES = (*ACTIVITY_TYPES, *RELATED_TYPES)

#: Associations the export declares, each on one side only (HubSpot stores both directions
#: of an association, and the spec writes it once): activity → record, call → meeting,
#: contact → company, deal → contact / company, ticket → contact / company / deal.
DECLARED_PAIRS: tuple[tuple[str, str], ...] = (
    *((activity, record) for activity in ACTIVITY_TYPES for record in RELATED_TYPES),
    ("calls", "meetings"),
    ("contacts", "companies"), ("deals", "contacts"), ("deals", "companies"),
    ("tickets", "contacts"), ("tickets", "companies"), ("tickets", "deals"),
)

#: One search query stays this far under search's 10,000-result cap; the next one starts
#: after the last id seen.
_RESULTS_PER_QUERY = 9_800


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    """What the export needs to know of one property definition."""

    name: str
    type: str
    writable: bool  # not read-only, not calculated, not hidden


@dataclass
class PortalSnapshot:
    """Everything export read: records by type and id, associations, owners, labels."""

    records: dict[str, dict[str, RemoteRecord]] = field(default_factory=dict)
    #: (from type, to type) → from id → ((to id, type id), ...)
    associations: dict[tuple[str, str], dict[str, tuple[tuple[str, int], ...]]] = field(
        default_factory=dict
    )
    properties: dict[str, dict[str, PropertyInfo]] = field(default_factory=dict)
    owner_emails: dict[str, str] = field(default_factory=dict)  # owner id → email
    #: (from type, to type) → type id → label (category, type id, label)
    labels: dict[tuple[str, str], dict[int, AssociationLabel]] = field(default_factory=dict)
    portal_id: int | None = None


def property_infos(client: HubSpotClient, object_type: str) -> dict[str, PropertyInfo]:
    infos: dict[str, PropertyInfo] = {}
    for body in client.property_bodies(object_type):
        metadata = body.get("modificationMetadata")
        read_only = isinstance(metadata, Mapping) and bool(metadata.get("readOnlyValue"))
        writable = not (read_only or body.get("calculated") or body.get("hidden"))
        name = str(body["name"])
        infos[name] = PropertyInfo(name, str(body.get("type") or "string"), writable)
    return infos


def find_activity_ids(
    client: HubSpotClient, object_type: str, since: datetime | None
) -> list[str]:
    """The ids of every record of ``object_type`` (with ``hs_timestamp`` >= ``since``;
    any type when ``since`` is None)."""
    ids: list[str] = []
    last = "0"
    while True:
        filters: list[dict[str, Any]] = [
            {"propertyName": "hs_object_id", "operator": "GT", "value": last}
        ]
        if since is not None:
            millis = str(int(since.timestamp() * 1000))
            filters.append({"propertyName": "hs_timestamp", "operator": "GTE", "value": millis})
        count = 0
        for record in client.search(object_type, [{"filters": filters}], ["hs_object_id"]):
            ids.append(record.id)
            count += 1
            if count >= _RESULTS_PER_QUERY:
                break
        if count < _RESULTS_PER_QUERY:
            return list(dict.fromkeys(ids))
        last = max(ids[-count:], key=int)


def read_records(
    client: HubSpotClient, object_type: str, ids: Iterable[str], properties: Sequence[str]
) -> dict[str, RemoteRecord]:
    """Records by id (batch reads of 100); archived or missing ids are left out."""
    found = client.read_all(object_type, list(ids), properties)
    return {i: r for i, r in found.items() if not r.archived}


def read_labels(
    client: HubSpotClient, from_type: str, to_type: str
) -> dict[int, AssociationLabel]:
    """The association types the portal defines for a pair, by type id ({} if refused)."""
    try:
        return {label.type_id: label for label in client.association_labels(from_type, to_type)}
    except ApiError as error:
        if error.status in (400, 403, 404):
            return {}
        raise


def read_owner_emails(client: HubSpotClient) -> dict[str, str]:
    return {owner.id: owner.email for owner in client.list_owners() if owner.email}


def read_portal_id(client: HubSpotClient) -> int | None:
    try:
        return client.account_portal_id()
    except ApiError:
        return None


def _wanted_properties(
    infos: Mapping[str, PropertyInfo], friendly: Iterable[str], skip: frozenset[str]
) -> list[str]:
    names = {name for name, info in infos.items() if info.writable}
    names.update(n for n in friendly if n in infos)
    names.update(n for n in ("hubspot_owner_id", "hs_timestamp") if n in infos)
    return sorted(n for n in names if not n.startswith("reconciler_") and (
        n not in skip or n in ("hubspot_owner_id", "hs_timestamp")))


def read_portal(
    client: HubSpotClient,
    types: Sequence[str],
    since: datetime | None,
    *,
    friendly: Mapping[str, Iterable[str]],
    skip: frozenset[str],
) -> PortalSnapshot:
    """Read the activities of ``types`` (since ``since``), every record of the contacts,
    companies, deals and tickets ``types`` names, and the ones associated with those
    activities, the associations among all of these, the owners and the association
    labels they use."""
    snapshot = PortalSnapshot(portal_id=read_portal_id(client))
    activities = [t for t in ACTIVITY_TYPES if t in types]
    for object_type in (*activities, *RELATED_TYPES):
        snapshot.properties[object_type] = property_infos(client, object_type)

    def wanted(object_type: str) -> list[str]:
        return _wanted_properties(
            snapshot.properties[object_type], friendly.get(object_type, ()), skip
        )

    related: dict[str, set[str]] = {
        t: set(find_activity_ids(client, t, None)) if t in types else set()
        for t in RELATED_TYPES
    }
    for object_type in activities:
        ids = find_activity_ids(client, object_type, since)
        snapshot.records[object_type] = read_records(client, object_type, ids, wanted(object_type))
    for from_type, to_type in DECLARED_PAIRS:
        if from_type not in activities or (to_type in ACTIVITY_TYPES and to_type not in types):
            continue
        linked = client.read_associations(from_type, to_type, list(snapshot.records[from_type]))
        snapshot.associations[(from_type, to_type)] = linked
        if to_type in related:
            related[to_type].update(to_id for pairs in linked.values() for to_id, _t in pairs)
    for object_type in RELATED_TYPES:
        snapshot.records[object_type] = read_records(
            client, object_type, sorted(related[object_type], key=int), wanted(object_type)
        )
    for from_type, to_type in DECLARED_PAIRS:
        if from_type in RELATED_TYPES and snapshot.records[from_type]:
            snapshot.associations[(from_type, to_type)] = client.read_associations(
                from_type, to_type, list(snapshot.records[from_type])
            )
    _read_used_labels(client, snapshot)
    if any(r.properties.get("hubspot_owner_id") for by_id in snapshot.records.values()
           for r in by_id.values()):
        snapshot.owner_emails = read_owner_emails(client)
    return snapshot


def _read_used_labels(client: HubSpotClient, snapshot: PortalSnapshot) -> None:
    from reconciler.associations import default_type_id

    for (from_type, to_type), linked in snapshot.associations.items():
        default = default_type_id(from_type, to_type)
        if any(type_id != default for pairs in linked.values() for _to, type_id in pairs):
            snapshot.labels[(from_type, to_type)] = read_labels(client, from_type, to_type)
