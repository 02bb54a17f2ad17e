"""The spec against the portal's catalogue: what ``plan`` checks so ``apply`` is not refused.

HubSpot refuses a write whose property does not exist, whose value is not one of an
enumeration's options or not a number, date, date-time or boolean, that sets a read-only
or calculated property, names an owner that does not exist, an association label that is
not defined, or an existing record that is not there (facts §10). Each of those is found
here, before anything is written, as a located ``SpecIssue``; all of them are raised
together as one ``SpecError``.

    check(desired, catalogue, planned=..., owner_emails=..., existing=...)
        the checks against a catalogue (no I/O): what the portal holds, as
        ``reconciler.workflow.catalogue_reads`` read it (against the portal, then cached
        per target) or as the cache keeps it (``plan --offline``).

Modules: ``definitions`` (the catalogue as plain data), ``rules`` (the checks),
``overlay`` (the catalogue as the planned schema leaves it), ``positions`` (findings →
file:line:column).
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.errors import SpecError
from reconciler.model import DesiredState
from reconciler.planning.catalogue.definitions import Catalogue, PropertyInfo, property_from_api
from reconciler.planning.catalogue.overlay import overlaid
from reconciler.planning.catalogue.positions import locate_findings
from reconciler.planning.catalogue.rules import Finding, checks_type_id, find_problems
from reconciler.planning.schema_planner import SchemaPlan

__all__ = [
    "Catalogue",
    "Finding",
    "PropertyInfo",
    "check",
    "checks_type_id",
    "find_problems",
    "owner_ids_used",
    "property_from_api",
]


def check(
    desired: DesiredState, catalogue: Catalogue, *, planned: SchemaPlan | None = None,
    owner_emails: Mapping[str, str] | None = None,
    existing: Mapping[str, frozenset[str]] | None = None,
) -> None:
    """Raise ``SpecError`` with every problem of ``desired`` against ``catalogue``, as the
    planned schema (``planned``: made first, records may use it) leaves it."""
    if planned is not None:
        catalogue = overlaid(catalogue, desired.schema, planned)
    findings = find_problems(desired, catalogue, owner_emails=owner_emails, existing=existing)
    if findings:
        raise SpecError(locate_findings(findings, desired))


def owner_ids_used(desired: DesiredState, catalogue: Catalogue) -> set[str]:
    """Every owner id the spec's properties name (``owner: 1001``, ``hubspot_owner_id``)."""
    used: set[str] = set()
    for record in desired.records.values():
        properties = catalogue.properties.get(record.object_type, {})
        for name, value in record.properties.items():
            info = properties.get(name)
            if value and info is not None and info.owner:
                used.update(value.split(";") if info.multiple else [value])
    return used
