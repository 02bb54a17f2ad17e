"""HubSpot's association type ids (HUBSPOT_DEFINED) between the standard types, in one table.

Sources: HubSpot's associations guide, "Association type ID values" (the unlabeled default
and the Primary type of each pair), and the Node SDK's ``AssociationTypes`` enum, which
agrees (facts §6 and §14; design-19 rows 6–7 correct facts §14's ticket/company Primary:
ticket → company is 26, company → ticket 25). The meetings and calls guides' examples
(200, 194, 220) match.

- ``DEFAULT_ASSOCIATION_TYPE_IDS``: the unlabeled default of a pair, used when an
  association names no ``type_id:`` or ``label:``;
- ``PRIMARY_ASSOCIATION_TYPE_IDS``: the labelled "Primary" types (a contact's, deal's or
  ticket's primary company, and their inverses);
- ``HUBSPOT_DEFINED_TYPE_IDS``: every HubSpot-defined id this table knows, per pair. Each
  id names one direction of one pair, so an id of another pair is a mistake that
  ``pair_of`` can explain (HubSpot answers it with a misleading "CONTACT=… is not
  valid": hubspot-api-nodejs#646).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Engagement → record and back (from, to): (engagement → record, record → engagement).
_ENGAGEMENTS: Mapping[str, Mapping[str, tuple[int, int]]] = {
    "calls": {"contacts": (194, 193), "companies": (182, 181), "deals": (206, 205),
              "tickets": (220, 219)},
    "emails": {"contacts": (198, 197), "companies": (186, 185), "deals": (210, 209),
               "tickets": (224, 223)},
    "meetings": {"contacts": (200, 199), "companies": (188, 187), "deals": (212, 211),
                 "tickets": (226, 225)},
    "notes": {"contacts": (202, 201), "companies": (190, 189), "deals": (214, 213),
              "tickets": (228, 227)},
    "tasks": {"contacts": (204, 203), "companies": (192, 191), "deals": (216, 215),
              "tickets": (230, 229)},
}

#: The other pairs: (from, to) → (unlabeled from → to, unlabeled to → from).
_RECORDS: Mapping[tuple[str, str], tuple[int, int]] = {
    ("calls", "meetings"): (399, 400),
    ("contacts", "companies"): (279, 280),
    ("deals", "contacts"): (3, 4),
    ("deals", "companies"): (341, 342),
    ("tickets", "contacts"): (16, 15),
    ("tickets", "companies"): (339, 340),
    ("tickets", "deals"): (28, 27),
}


def _both_ways() -> dict[tuple[str, str], int]:
    table: dict[tuple[str, str], int] = {}
    for engagement, targets in _ENGAGEMENTS.items():
        for record, (forward, back) in targets.items():
            table[(engagement, record)] = forward
            table[(record, engagement)] = back
    for (source, target), (forward, back) in _RECORDS.items():
        table[(source, target)] = forward
        table[(target, source)] = back
    return table


DEFAULT_ASSOCIATION_TYPE_IDS: Mapping[tuple[str, str], int] = MappingProxyType(_both_ways())

#: The "Primary" (labelled, HUBSPOT_DEFINED) types; HubSpot cannot delete them.
PRIMARY_ASSOCIATION_TYPE_IDS: Mapping[tuple[str, str], int] = MappingProxyType(
    {
        ("contacts", "companies"): 1,
        ("companies", "contacts"): 2,
        ("deals", "companies"): 5,
        ("companies", "deals"): 6,
        ("tickets", "companies"): 26,
        ("companies", "tickets"): 25,
    }
)

#: contact → company "Primary" (HUBSPOT_DEFINED, labeled).
PRIMARY_CONTACT_TO_COMPANY = PRIMARY_ASSOCIATION_TYPE_IDS[("contacts", "companies")]

#: Every HubSpot-defined type id the table knows, per pair (from, to).
HUBSPOT_DEFINED_TYPE_IDS: Mapping[tuple[str, str], frozenset[int]] = MappingProxyType(
    {
        pair: frozenset(
            i for i in (DEFAULT_ASSOCIATION_TYPE_IDS.get(pair),
                        PRIMARY_ASSOCIATION_TYPE_IDS.get(pair)) if i is not None
        )
        for pair in {*DEFAULT_ASSOCIATION_TYPE_IDS, *PRIMARY_ASSOCIATION_TYPE_IDS}
    }
)

_PAIR_OF: Mapping[int, tuple[str, str]] = MappingProxyType(
    {type_id: pair for pair, ids in HUBSPOT_DEFINED_TYPE_IDS.items() for type_id in ids}
)
#: The object types the table covers: between two of them, it knows every HubSpot-defined
#: id that this tool's users write (the default and the Primary types).
KNOWN_TYPES = frozenset(t for pair in HUBSPOT_DEFINED_TYPE_IDS for t in pair)


def default_type_id(from_type: str, to_type: str) -> int | None:
    """The unlabeled default type id for a pair, or None if HubSpot defines none."""
    return DEFAULT_ASSOCIATION_TYPE_IDS.get((from_type, to_type))


def pair_of(type_id: int) -> tuple[str, str] | None:
    """The pair (from, to) a HubSpot-defined ``type_id`` of this table belongs to."""
    return _PAIR_OF.get(type_id)


def wrong_pair_problem(from_type: str, to_type: str, type_id: int) -> str | None:
    """Why HUBSPOT_DEFINED ``type_id`` cannot associate ``from_type`` to ``to_type``, when
    the table knows it belongs to another pair; None when it fits, or is not in the table
    (then only the portal can say: plan checks it against the pair's listed types)."""
    pair = pair_of(type_id)
    if pair is None or pair == (from_type, to_type):
        return None
    fits = sorted(HUBSPOT_DEFINED_TYPE_IDS.get((from_type, to_type), ()))
    if fits:
        choices = " or ".join(
            f"{i} (Primary)" if i == PRIMARY_ASSOCIATION_TYPE_IDS.get((from_type, to_type))
            else str(i)
            for i in fits
        )
        advice = f"{from_type} → {to_type} takes {choices}"
    else:
        advice = (f"HubSpot defines no type for {from_type} → {to_type}; use a label: "
                  "defined in the portal")
    return f"type_id {type_id} is HubSpot's {pair[0]} → {pair[1]} type; {advice}"
