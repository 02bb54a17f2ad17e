"""``GET /account-info/v3/details`` (and ``/account-info/2026-03/details``): who the portal is.

No spec in ``shared/hubspot-openapi`` covers it; the shape is HubSpot's reference page
(https://developers.hubspot.com/docs/api-reference/latest/account/account-information/get-account-details):
``portalId, accountType, timeZone, companyCurrency, additionalCurrencies,
dataHostingLocation, uiDomain, utcOffset, utcOffsetMilliseconds``, all required. The guide
names the ``oauth`` scope. The reconciler reads ``portalId`` to check a target's portal.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.emulator.http_types import ApiRequest, Reply
from reconciler.emulator.portal import Portal


def _offset(zone_name: str, now: float) -> tuple[str, int]:
    """The zone's UTC offset at ``now``, as HubSpot writes it (``-05:00``) and in milliseconds."""
    offset = datetime.fromtimestamp(now, timezone.utc).astimezone(ZoneInfo(zone_name)).utcoffset()
    millis = int(offset.total_seconds() * 1000) if offset is not None else 0
    sign = "-" if millis < 0 else "+"
    minutes = abs(millis) // 60_000
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}", millis


def account_details(portal: Portal, request: ApiRequest) -> Reply:
    config = portal.config
    utc_offset, utc_offset_millis = _offset(config.time_zone, portal.clock.time())
    body: dict[str, Any] = {
        "portalId": config.portal_id,
        "accountType": "STANDARD",
        "timeZone": config.time_zone,
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "dataHostingLocation": "na1",
        "uiDomain": "app.hubspot.com",
        "utcOffset": utc_offset,
        "utcOffsetMilliseconds": utc_offset_millis,
    }
    return Reply(200, body)
