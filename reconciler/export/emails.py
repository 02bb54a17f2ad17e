"""An email's ``hs_email_headers`` as the spec's ``from``/``to``/``cc``/``bcc`` (export's
side of ``reconciler.loading.friendly.email_headers``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.loading.friendly import HEADER_FIELDS, email_headers


def _address_text(address: Any) -> Any:
    """One address of ``hs_email_headers`` as the spec writes it: ``jane@example.com``,
    ``Jane Doe <jane@example.com>``, or a mapping where the names hold spaces; None if it
    is not an address."""
    if not isinstance(address, Mapping) or not isinstance(address.get("email"), str):
        return None
    first, last = address.get("firstName"), address.get("lastName")
    if not first and not last:
        return address["email"]
    if isinstance(first, str) and " " not in first.strip() and first.strip() == first and (
            last is None or isinstance(last, str) and last.strip() == last):
        return f"{first} {last} <{address['email']}>" if last else f"{first} <{address['email']}>"
    item = {"email": address["email"], "first_name": first, "last_name": last}
    return {k: v for k, v in item.items() if v}


def email_fields(headers: str) -> dict[str, Any] | None:
    """``hs_email_headers`` → the email's ``from``/``to``/``cc``/``bcc``, when the loader
    writes them back as the same text; else None (the property is kept as it is)."""
    try:
        data = json.loads(headers)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) - set(HEADER_FIELDS):
        return None
    fields: dict[str, Any] = {}
    for name in HEADER_FIELDS:
        value = data.get(name)
        if name == "from" and value is not None:
            fields[name] = _address_text(value)
        elif isinstance(value, list) and value:
            fields[name] = [_address_text(item) for item in value]
            if len(fields[name]) == 1:
                fields[name] = fields[name][0]
    written, problems = email_headers(fields)
    return fields if not problems and written == headers else None


__all__ = ["email_fields"]
