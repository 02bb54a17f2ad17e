"""What ``plan`` reads of the portal to check the spec against its catalogue (the checks
themselves, no I/O: ``reconciler.planning.catalogue``), and the per-target cache of it.

    check_against_portal(client, desired, target, owners=...)
        reads (one properties read per object type in the spec, at most one owners read
        and, when an owner does not resolve, one read of the deactivated owners, one labels
        read per pair that uses a label or a type id of no HubSpot-defined pair, one batch
        read per 100 existing ids),
        caches the catalogue under ``.reconciler/catalogue/<target>.json``, checks.
    check_cached(desired, target)
        ``plan --offline``: the same checks against the cached catalogue, when there is
        one (without it, or with a damaged one, nothing is checked and nothing is said).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.errors import ApiError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.failures import UNKNOWN_TYPE_STATUSES
from reconciler.model import DesiredState
from reconciler.planning.catalogue import (
    Catalogue,
    check,
    checks_type_id,
    owner_ids_used,
    property_from_api,
)
from reconciler.planning.schema_planner import SchemaPlan
from reconciler.settings import Target
from reconciler.workflow.catalogue_cache import load_cached, save_cached


def check_against_portal(
    client: HubSpotClient,
    desired: DesiredState,
    target: Target,
    *,
    owners: Mapping[str, str],
    planned: SchemaPlan | None = None,
    bodies: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> None:
    """Check ``desired`` against the portal; raise ``SpecError`` with every problem.

    ``planned``: the schema this plan makes first (records may use it); ``bodies``: the
    property definitions already read, by type (not read again).

    ``owners`` are the spec's owner emails that the owners API knows now (lowercase email
    → id, from ``reconciler.workflow.portal.resolve_owners``): an email not among them does not
    exist. Owner ids are checked against the owners API, read only when an id is used
    that is not one of those.
    """
    catalogue = read_catalogue(client, desired, bodies=bodies)
    used = owner_ids_used(desired, catalogue)
    known = frozenset(owners.values())
    if used - known:
        catalogue.owner_ids = frozenset(owner.id for owner in client.list_owners())
    emails = {email.lower() for email in owners}
    if any(r.owner_email and r.owner_email.lower() not in emails
           for r in desired.records.values()) or (
        catalogue.owner_ids is not None and used - catalogue.owner_ids
    ):
        # Only when an owner does not resolve: is it a deactivated one? (one more read)
        catalogue.deactivated_owners = {
            owner.id: owner.email or "" for owner in client.list_archived_owners()
        }
    existing = _existing_ids(client, desired)
    cached = load_cached(desired.project.root, target)
    save_cached(desired.project.root, target, catalogue.merged_over(cached or Catalogue()))
    if catalogue.owner_ids is None and used:
        # Every id used is one the spec's emails resolved to: known to exist, no read.
        catalogue = replace(catalogue, owner_ids=known)
    owner_emails = {email.lower(): owner_id for email, owner_id in owners.items()}
    check(desired, catalogue, planned=planned, owner_emails=owner_emails, existing=existing)


def check_cached(desired: DesiredState, target: Target,
                 planned: SchemaPlan | None = None) -> None:
    """``plan --offline``: check against the cached catalogue, if there is a usable one."""
    catalogue = load_cached(desired.project.root, target)
    if catalogue is None:
        return
    check(desired, catalogue, planned=planned)


def read_catalogue(
    client: HubSpotClient, desired: DesiredState,
    *, bodies: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Catalogue:
    """Properties of every object type in the spec, and the labels (association types) of
    every pair that uses a label or a type id only the portal can vouch for: one request
    each (none for the property types in ``bodies``, read already)."""
    types = sorted({record.object_type for record in desired.records.values()})
    catalogue = Catalogue()
    unknown: set[str] = set()
    for object_type in types:
        try:
            # HubSpot's own shape, not client.list_properties: option labels and
            # ``calculated`` are needed here and ``PropertyDefinition`` drops them.
            results = (bodies[object_type] if bodies and object_type in bodies
                       else client.property_bodies(object_type))
        except ApiError as error:
            if error.status not in UNKNOWN_TYPE_STATUSES:
                raise
            unknown.add(object_type)
            continue
        infos = (property_from_api(p) for p in results)
        catalogue.properties[object_type] = {info.name: info for info in infos}
    catalogue.unknown_types = frozenset(unknown)
    pairs = sorted(
        {
            (record.object_type, ref.to_type)
            for record in desired.records.values()
            for ref in record.associations
            if ref.label is not None or checks_type_id(record.object_type, ref)
        }
    )
    for from_type, to_type in pairs:
        if from_type in unknown:
            continue
        try:
            labels = client.association_labels(from_type, to_type)
        except ApiError as error:
            if error.status not in UNKNOWN_TYPE_STATUSES:
                raise
            continue
        catalogue.labels[(from_type, to_type)] = tuple(
            label.label for label in labels if label.label
        )
        catalogue.type_ids[(from_type, to_type)] = tuple(
            (label.category, label.type_id) for label in labels
        )
    return catalogue


def _existing_ids(client: HubSpotClient, desired: DesiredState) -> dict[str, frozenset[str]]:
    """Which of the ids named by existing-id associations exist: one batch read per type
    (per 100 ids)."""
    wanted: dict[str, set[str]] = {}
    for record in desired.records.values():
        for ref in record.associations:
            if ref.to_id is not None:
                wanted.setdefault(ref.to_type, set()).add(ref.to_id)
    existing: dict[str, frozenset[str]] = {}
    for to_type, ids in sorted(wanted.items()):
        try:
            found = client.read_all(to_type, sorted(ids), [])
        except ApiError as error:
            if error.status not in UNKNOWN_TYPE_STATUSES:
                raise
            continue
        existing[to_type] = frozenset(found)
    return existing
