"""Which association type ids exist between two types, what their inverses and labels are.

HUBSPOT_DEFINED: the unlabeled default of each pair (``reconciler.associations``) and, for
the pairs with a company, the **Primary** types (associations guide, "Association type ID
values"; HubSpot's Node SDK ``AssociationTypes``): contact→company 1 (inverse 2),
deal→company 5 (6), ticket→company 26 (25). Their labels: "Primary" for 1 is documented
(associations-schema guide); "Primary" for 5 and 26 and the inverses' "Contact/Deal/Ticket
with Primary Company" (observed for 2 and 6 only) are **unverified**.

USER_DEFINED: the portal's labels (``labels`` rows of the store: from type, to type, type id,
label, internal name). Both directions of a label share its internal name; the inverse of a
type is the type of the same name on the reversed pair (on a same-type pair, the other one,
or itself when the label is not paired).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.associations import DEFAULT_ASSOCIATION_TYPE_IDS, PRIMARY_ASSOCIATION_TYPE_IDS

LabelRow = tuple[str, str, int, str | None, str]

#: (from, to) → the Primary type id (the tool's table: ``reconciler.associations``).
PRIMARY_TYPE_IDS: dict[tuple[str, str], int] = dict(PRIMARY_ASSOCIATION_TYPE_IDS)
PRIMARY_LABELS: dict[int, str] = {
    1: "Primary",
    5: "Primary",
    26: "Primary",
    2: "Contact with Primary Company",
    6: "Deal with Primary Company",
    25: "Ticket with Primary Company",
}


def hubspot_defined(from_type: str, to_type: str) -> list[tuple[int, str | None]]:
    """The HUBSPOT_DEFINED (type id, label) of a pair: the unlabeled default, then Primary."""
    found: list[tuple[int, str | None]] = []
    default = DEFAULT_ASSOCIATION_TYPE_IDS.get((from_type, to_type))
    if default is not None:
        found.append((default, None))
    primary = PRIMARY_TYPE_IDS.get((from_type, to_type))
    if primary is not None:
        found.append((primary, PRIMARY_LABELS[primary]))
    return found


def target(
    labels: Sequence[LabelRow], from_type: str, category: str, type_id: int
) -> str | None:
    """The object type an association type id points at from ``from_type``."""
    if category == "HUBSPOT_DEFINED":
        for (source, to_type), known in (*DEFAULT_ASSOCIATION_TYPE_IDS.items(),
                                         *PRIMARY_TYPE_IDS.items()):
            if source == from_type and known == type_id:
                return to_type
        return None
    if category != "USER_DEFINED":
        return None
    for source, to_type, label_type_id, _label, _name in labels:
        if source == from_type and label_type_id == type_id:
            return to_type
    return None


def inverse(
    labels: Sequence[LabelRow], from_type: str, to_type: str, category: str, type_id: int
) -> int | None:
    """The type id of the same association seen from the other side."""
    if category == "HUBSPOT_DEFINED":
        if PRIMARY_TYPE_IDS.get((from_type, to_type)) == type_id:
            return PRIMARY_TYPE_IDS.get((to_type, from_type))
        return DEFAULT_ASSOCIATION_TYPE_IDS.get((to_type, from_type))
    name = next(
        (n for s, t, i, _l, n in labels if (s, t, i) == (from_type, to_type, type_id)), None
    )
    if name is None:
        return None
    mirrored = [i for s, t, i, _l, n in labels if (s, t) == (to_type, from_type) and n == name]
    others = [i for i in mirrored if i != type_id]
    return others[0] if others else (mirrored[0] if mirrored else None)


def label(
    labels: Sequence[LabelRow], from_type: str, to_type: str, category: str, type_id: int
) -> str | None:
    if category == "HUBSPOT_DEFINED":
        if PRIMARY_TYPE_IDS.get((from_type, to_type)) == type_id:
            return PRIMARY_LABELS[type_id]
        return None
    for source, to, label_type_id, text, _name in labels:
        if (source, to, label_type_id) == (from_type, to_type, type_id):
            return text
    return None


def internal_name(
    labels: Sequence[LabelRow], from_type: str, to_type: str, type_id: int
) -> str | None:
    for source, to, label_type_id, _label, name in labels:
        if (source, to, label_type_id) == (from_type, to_type, type_id):
            return name
    return None
