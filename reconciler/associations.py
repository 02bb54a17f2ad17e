"""HubSpot's default (HUBSPOT_DEFINED, unlabeled) association type ids, in one table.

Source: ../shared/hubspot-api-facts.md §6 and §14 (HubSpot's Node SDK AssociationTypes
enum, and the meetings/calls guides' examples: 200, 194, 220).
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
        ("notes", "contacts"): 202,
        ("contacts", "notes"): 201,
        ("notes", "companies"): 190,
        ("companies", "notes"): 189,
        ("notes", "deals"): 214,
        ("deals", "notes"): 213,
        ("notes", "tickets"): 228,
        ("tickets", "notes"): 227,
        ("tasks", "contacts"): 204,
        ("contacts", "tasks"): 203,
        ("tasks", "companies"): 192,
        ("companies", "tasks"): 191,
        ("tasks", "deals"): 216,
        ("deals", "tasks"): 215,
        ("tasks", "tickets"): 230,
        ("tickets", "tasks"): 229,
        ("emails", "contacts"): 198,
        ("contacts", "emails"): 197,
        ("emails", "companies"): 186,
        ("companies", "emails"): 185,
        ("emails", "deals"): 210,
        ("deals", "emails"): 209,
        ("emails", "tickets"): 224,
        ("tickets", "emails"): 223,
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
