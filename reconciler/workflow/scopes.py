"""Which private-app scopes each command needs, per object type.

From the specs' ``security`` lists in ``../shared/hubspot-openapi/`` (any one scope of a
list allows the call) and facts §10: meetings, calls, notes, tasks and emails are read and
written with the contacts scopes (their own ``crm.objects.<type>.read`` also reads them;
the emails specs add ``sales-email-read``); tickets use the ``tickets`` scopes; properties
are read with any scope that reads the type and written with ``crm.schemas.<type>.write``.
The README's scopes table says the same in words; ``doctor`` checks a token against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.object_types import OBJECT_TYPES

#: Types whose records HubSpot guards with the contacts scopes (facts §10).
ENGAGEMENTS = frozenset(t.name for t in OBJECT_TYPES if t.engagement)
_TICKETS = ("tickets", "tickets.highly_sensitive.v2", "tickets.sensitive.v2")
OWNERS_READ = ("crm.objects.owners.read",)


@dataclass(frozen=True, slots=True)
class ScopeNeed:
    """One thing a command does, and the scopes any one of which allows it."""

    doing: str  # e.g. "read deals"
    any_of: tuple[str, ...]

    def met_by(self, granted: frozenset[str]) -> bool:
        return any(scope in granted for scope in self.any_of)


def _family(object_type: str) -> str:
    if object_type in ENGAGEMENTS:
        return "contacts"
    if is_custom(object_type):
        return "custom"
    return object_type


def is_custom(object_type: str) -> bool:
    """A custom object type, by its name (``p_widgets``) or type id (``2-1234``): all
    share the ``crm.objects.custom.*`` and ``crm.schemas.custom.*`` scopes."""
    return object_type.startswith(("p_", "2-"))


def record_read(object_type: str) -> ScopeNeed:
    if object_type in ENGAGEMENTS:
        extra = ("sales-email-read",) if object_type == "emails" else ()
        any_of = ("crm.objects.contacts.read", f"crm.objects.{object_type}.read", *extra)
    elif object_type == "tickets":
        any_of = _TICKETS
    else:
        family = _family(object_type)
        any_of = (
            f"crm.objects.{family}.read",
            f"crm.objects.{family}.sensitive.read.v2",
            f"crm.objects.{family}.highly_sensitive.read.v2",
            *record_write(object_type).any_of,
        )
    return ScopeNeed(f"read {object_type}", any_of)


def record_write(object_type: str) -> ScopeNeed:
    if object_type in ENGAGEMENTS:
        extra = ("sales-email-read",) if object_type == "emails" else ()
        any_of: tuple[str, ...] = ("crm.objects.contacts.write", *extra)
    elif object_type == "tickets":
        any_of = _TICKETS
    else:
        family = _family(object_type)
        any_of = (
            f"crm.objects.{family}.write",
            f"crm.objects.{family}.sensitive.write.v2",
            f"crm.objects.{family}.highly_sensitive.write.v2",
        )
    return ScopeNeed(f"write {object_type}", any_of)


def schema_write(object_type: str) -> ScopeNeed:
    """Creating properties of a type (the marker properties on first apply, a ``schema:``
    section's properties, pipelines and stages)."""
    family = _family(object_type)
    tickets = _TICKETS if family == "tickets" else ()
    return ScopeNeed(
        f"change the {object_type} schema (properties, pipelines)",
        (f"crm.schemas.{family}.write", *tickets),
    )


def needs_of_plan(types: Iterable[str], *, owners: bool) -> tuple[ScopeNeed, ...]:
    """``plan`` (and ``doctor``, ``export``): read the records and their properties
    (any read scope of the type reads its properties), and the owners when the spec names
    owners by email."""
    needs = [record_read(t) for t in sorted(set(types))]
    if owners:
        needs.append(ScopeNeed("read owners", OWNERS_READ))
    return tuple(needs)


def needs_of_apply(
    types: Iterable[str], *, owners: bool, schema_types: Iterable[str] = ()
) -> tuple[ScopeNeed, ...]:
    """``apply``: plan's reads, the records' writes, and the schema writes of the types
    whose properties it creates (``schema_types``: the marker properties not yet made)."""
    written = sorted(set(types))
    return (
        *needs_of_plan(written, owners=owners),
        *(record_write(t) for t in written),
        *(schema_write(t) for t in sorted(set(schema_types))),
    )
