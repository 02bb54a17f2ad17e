"""The marker properties made and written on the portal (``reconciler.identity.markers``
says what they are and hold; it does no I/O, so the planner can use it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.errors import ReconcilerError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import PropertyDefinition, RemoteRecord, UpdateInput
from reconciler.identity.applied_digest import DIGEST_PROPERTY
from reconciler.identity.markers import (
    MARKER_PROPERTY,
    NO_UNIQUE_PROPERTIES,
    PROJECT_PROPERTY,
    marker_group,
    written_by,
)


def ensure_markers(
    client: HubSpotClient, object_types: Iterable[str], unique: dict[str, bool] | None = None,
    *, project_id: str | None = None,
) -> dict[str, bool]:
    """Make sure both marker properties (and ``reconciler_applied``, the digest of what was
    applied, and with ``project_id`` that project's ``written_by`` property) exist on each
    type; return which types have ``reconciler_key`` unique (those are created by upsert).
    ``reconciler_project`` is never unique: every record of the project carries the same
    value."""
    unique = unique if unique is not None else {}
    for object_type in sorted(set(object_types)):
        existing = {p.name: p for p in client.list_properties(object_type)}
        group = marker_group(object_type, existing.values())
        if MARKER_PROPERTY in existing:
            unique[object_type] = existing[MARKER_PROPERTY].has_unique_value
        else:
            created = client.create_property(object_type, PropertyDefinition(
                name=MARKER_PROPERTY, label="Reconciler key", type="string",
                field_type="text", group_name=group,
                has_unique_value=object_type not in NO_UNIQUE_PROPERTIES,
                hidden=True, form_field=False,
            ))
            unique[object_type] = created.has_unique_value
        if PROJECT_PROPERTY not in existing:
            client.create_property(object_type, PropertyDefinition(
                name=PROJECT_PROPERTY, label="Reconciler project", type="string",
                field_type="text", group_name=group, has_unique_value=False,
                hidden=True, form_field=False,
            ))
        # what was applied: see reconciler.identity.applied_digest
        if DIGEST_PROPERTY not in existing:
            client.create_property(object_type, PropertyDefinition(
                name=DIGEST_PROPERTY, label="Reconciler applied", type="string",
                field_type="textarea", group_name=group, has_unique_value=False,
                hidden=True, form_field=False,
            ))
        # before the first write of this project: a crash after it still leaves the mark
        if project_id is not None and written_by(project_id) not in existing:
            client.create_property(object_type, PropertyDefinition(
                name=written_by(project_id), label=f"Reconciler: {project_id} wrote here",
                type="string", field_type="text", group_name=group, has_unique_value=False,
                hidden=True, form_field=False,
            ))
    return unique


def properties_when_marked(client: HubSpotClient, object_type: str) -> set[str]:
    """The names of the type's properties (one request), when both marker properties are
    among them; else an empty set: this tool never wrote that type here."""
    defined = {p.name for p in client.list_properties(object_type)}
    return defined if MARKER_PROPERTY in defined and PROJECT_PROPERTY in defined else set()


def set_markers(client: HubSpotClient, object_type: str, hubspot_id: str,
                markers: Mapping[str, str]) -> RemoteRecord:
    """Write the marker properties on one record (raises ReconcilerError if refused); the
    record as HubSpot's answer gives it."""
    outcome = client.batch_update(object_type, [UpdateInput(hubspot_id, dict(markers))])
    written = outcome.by_id().get(hubspot_id)
    if outcome.errors or written is None:
        message = outcome.errors[0].message if outcome.errors else "HubSpot returned no result"
        raise ReconcilerError(f"could not set the markers on {object_type} {hubspot_id}: {message}")
    return written


__all__ = ["ensure_markers", "properties_when_marked", "set_markers"]
