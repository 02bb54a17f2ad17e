"""HubSpot's default (HUBSPOT_DEFINED, unlabeled) association type ids, in one table.

Source: ../shared/hubspot-api-facts.md §6 (HubSpot's Node SDK AssociationTypes enum,
and the meetings/calls guides' examples: 200, 194, 220).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

DEFAULT_ASSOCIATION_TYPE_IDS: Mapping[tuple[str, str], int] = MappingProxyType(
    {
        ("meetings", "contacts"): 200,
        ("contacts", "meetings"): 199,
        ("meetings", "companies"): 188,
        ("companies", "meetings"): 187,
        ("meetings", "deals"): 212,
        ("deals", "meetings"): 211,
        ("meetings", "tickets"): 226,
        ("tickets", "meetings"): 225,
        ("calls", "contacts"): 194,
        ("contacts", "calls"): 193,
        ("calls", "companies"): 182,
        ("companies", "calls"): 181,
        ("calls", "deals"): 206,
        ("deals", "calls"): 205,
        ("calls", "tickets"): 220,
        ("tickets", "calls"): 219,
        ("calls", "meetings"): 399,
        ("meetings", "calls"): 400,
        ("contacts", "companies"): 279,
        ("companies", "contacts"): 280,
        ("deals", "contacts"): 3,
        ("contacts", "deals"): 4,
        ("deals", "companies"): 341,
        ("companies", "deals"): 342,
        ("tickets", "contacts"): 16,
        ("contacts", "tickets"): 15,
        ("tickets", "companies"): 339,
        ("companies", "tickets"): 340,
        ("tickets", "deals"): 28,
        ("deals", "tickets"): 27,
    }
)

#: contact → company "Primary" (HUBSPOT_DEFINED, labeled).
PRIMARY_CONTACT_TO_COMPANY = 1


def default_type_id(from_type: str, to_type: str) -> int | None:
    """The unlabeled default type id for a pair, or None if HubSpot defines none."""
    return DEFAULT_ASSOCIATION_TYPE_IDS.get((from_type, to_type))
