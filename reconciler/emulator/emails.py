"""Emails' headers: ``hs_email_headers`` fills the sender and recipient properties.

The emails guide (https://developers.hubspot.com/docs/api-reference/crm-emails-v3/guide):
setting ``hs_email_headers`` "will automatically populate certain read only email
properties": ``hs_email_from_email``, ``hs_email_from_firstname``, ``hs_email_from_lastname``,
``hs_email_to_email``, ``hs_email_to_firstname``, ``hs_email_to_lastname``. The headers are
a JSON string, ``{"from": {"email", "firstName", "lastName"}, "to": [...], "cc": [...],
"bcc": [...]}`` (the shape integrations write to live portals; the guide's own section on
it was not found). Several recipients are joined with ``;`` (our choice, unverified), and a
value that is not a JSON object is refused (HubSpot's answer to it is unverified).
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.emulator.catalogue import ValueProblem

HEADERS = "hs_email_headers"
#: The read-only properties HubSpot fills from the headers, per side and header field.
DERIVED = {
    ("from", "email"): "hs_email_from_email",
    ("from", "firstName"): "hs_email_from_firstname",
    ("from", "lastName"): "hs_email_from_lastname",
    ("to", "email"): "hs_email_to_email",
    ("to", "firstName"): "hs_email_to_firstname",
    ("to", "lastName"): "hs_email_to_lastname",
}


def _people(value: Any) -> list[dict[str, Any]]:
    """One address object or a list of them; anything else holds nobody."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def derive_from_headers(props: dict[str, str]) -> ValueProblem | None:
    """Fill (or, when the headers are cleared, clear) the sender and recipient properties in
    ``props`` from its ``hs_email_headers``; the problem when the headers are not a JSON
    object. ``props`` is what a write sends: untouched when it does not name the headers."""
    if HEADERS not in props:
        return None
    raw = props[HEADERS]
    derived = dict.fromkeys(DERIVED.values(), "")
    if raw != "":
        try:
            headers = json.loads(raw)
        except ValueError:
            headers = None
        if not isinstance(headers, dict):
            return ValueProblem(
                HEADERS, "INVALID_JSON",
                f"{HEADERS} must be a JSON object with from, to, cc and bcc",
            )
        for (side, field), name in DERIVED.items():
            values = [str(person[field]) for person in _people(headers.get(side))
                      if person.get(field) not in (None, "")]
            derived[name] = ";".join(values)
    props.update(derived)
    return None
