"""What counts as a change: property values compared as HubSpot means them ("5" is "5.0",
datetimes are instants), associations compared by identity (the spec's against those
last applied, and those the portal no longer holds).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from reconciler.model import AssociationRef
from reconciler.planning.changes import RemoteSnapshot
from reconciler.state.model import AppliedAssociation, RecordState


def spec_changed(after: Mapping[str, str], recorded: RecordState) -> bool:
    return any(not same_value(recorded.properties.get(k), v) for k, v in after.items())


def association_identity(ref: AssociationRef) -> tuple[str, str, str, str]:
    return ref.identity()


def applied_identity(applied: AppliedAssociation) -> tuple[str, str, str, str]:
    target = f"key:{applied.to_key}" if applied.to_key is not None else f"id:{applied.to_id}"
    # One made from a `label:` is the spec's by that label (the id it resolved to is the
    # portal's), as AssociationRef.identity() names it.
    if applied.label is not None:
        return (applied.to_type, target, "", f"label:{applied.label}")
    return (applied.to_type, target, applied.category, str(applied.type_id))


def association_changes(
    wanted: tuple[AssociationRef, ...], applied: tuple[AppliedAssociation, ...]
) -> tuple[tuple[AssociationRef, ...], tuple[AppliedAssociation, ...]]:
    if len(wanted) == len(applied) and all(map(_same_association, wanted, applied)):
        return (), ()  # the common case, settled without building identity strings
    applied_by_identity = {applied_identity(a): a for a in applied}
    wanted_ids = {association_identity(w) for w in wanted}
    added = tuple(w for w in wanted if association_identity(w) not in applied_by_identity)
    removed = tuple(a for ident, a in applied_by_identity.items() if ident not in wanted_ids)
    return added, removed


def removed_in_portal(
    wanted: tuple[AssociationRef, ...], applied: tuple[AppliedAssociation, ...],
    snapshot: RemoteSnapshot | None,
) -> tuple[AssociationRef, ...]:
    """Declared associations an apply made that the portal no longer holds (a full refresh
    read them): added again. Associations the spec does not declare are never touched."""
    if snapshot is None or snapshot.associations is None or not applied:
        return ()
    declared = {association_identity(w): w for w in wanted}
    restored = []
    for association in applied:
        present = snapshot.associations.get(association.to_type)
        if present is None or (association.to_id, association.type_id) in present:
            continue
        ref = declared.get(applied_identity(association))
        if ref is not None:
            restored.append(ref)
    return tuple(restored)


def _same_association(ref: AssociationRef, applied: AppliedAssociation) -> bool:
    """True only if the two identities are equal (False may still mean equal: full check)."""
    return (
        ref.type_id is not None
        and ref.type_id == applied.type_id
        and ref.to_key == applied.to_key
        and (ref.to_key is not None or ref.to_id == applied.to_id)
        and ref.to_type == applied.to_type
        and ref.category == applied.category
    )


def same_value(before: str | None, after: str | None) -> bool:
    """Equal as HubSpot means it: "5" and "5.0" are one number; datetimes compare as instants."""
    if before == after:
        return True
    if before is None or after is None:
        return before in (None, "") and after in (None, "")
    try:
        return float(before) == float(after)
    except ValueError:
        pass
    if "T" in before and "T" in after:
        try:
            return _instant(before) == _instant(after)
        except ValueError:
            return False
    return False


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
