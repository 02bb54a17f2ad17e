"""The account and its token: who the portal is, its daily API usage, and what a private
app's token may do (what ``reconciler doctor`` asks before anything is written).

- ``GET /account-info/{v3,2026-03}/details``: ``PortalInformationResponse``
  (``account-info-*.json``): ``portalId, accountType, timeZone, companyCurrency,
  additionalCurrencies, dataHostingLocation, uiDomain, utcOffset, utcOffsetMilliseconds``.
- ``GET /account-info/{v3,2026-03}/api-usage/daily/private-apps``: one ``ApiUsage``,
  ``private-apps-api-calls-daily``, with the daily limit, the requests counted today and
  the next midnight in the account's time zone, when HubSpot's daily limit resets (facts §2).
  Both name the ``oauth`` scope in their specs.
- ``POST /oauth/v2/private-apps/get/access-token-info`` with ``{"tokenKey": token}``:
  ``{userId, hubId, appId, scopes}``, the token's granted scopes (design-20 §1.8; HubSpot's
  private-apps guide documents it, no spec here covers it; it needs no scope). A key other
  than the emulator's token is a 400 (HubSpot's answer to it is unverified).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.emulator.catalogue import format_timestamp
from reconciler.emulator.http_types import ApiRequest, Reply, validation_error
from reconciler.emulator.limits import UNLIMITED_DAILY
from reconciler.emulator.portal import Portal

#: The private app's id in token-info answers (any stable number: apps have one id).
APP_ID = 3_100_001


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


def next_midnight(zone_name: str, now: float) -> datetime:
    """The next midnight in the account's time zone (when the daily limit resets), in UTC."""
    zone = ZoneInfo(zone_name)
    today = datetime.fromtimestamp(now, zone).date()
    return datetime.combine(today + timedelta(days=1), time(), zone).astimezone(timezone.utc)


def api_usage(portal: Portal, request: ApiRequest) -> Reply:
    """Today's private-app API calls against the daily limit (with no limit set, the
    ``X-HubSpot-RateLimit-Daily`` maximum the answers' headers show)."""
    config = portal.config
    now = portal.clock.time()
    usage = {
        "name": "private-apps-api-calls-daily",
        "usageLimit": config.daily_limit if config.daily_limit is not None else UNLIMITED_DAILY,
        "currentUsage": portal.limiter.daily_used(config.token),
        "collectedAt": format_timestamp(datetime.fromtimestamp(now, timezone.utc)),
        "resetsAt": format_timestamp(next_midnight(config.time_zone, now)),
        "fetchStatus": "SUCCESS",
    }
    return Reply(200, {"results": [usage]})


def full_scopes(portal: Portal) -> tuple[str, ...]:
    """What a private app granted everything the reconciler can use holds: per object type,
    its record read and write scopes and its schema read and write scopes, plus owners and
    ``oauth`` (account info)."""
    scopes = {"crm.objects.owners.read", "oauth"}
    for object_type in portal.object_types:
        family = portal.scope_family(object_type)
        scopes.add(portal.scopes_for(object_type, False)[0])
        scopes.add(portal.scopes_for(object_type, True)[0])
        scopes.update((f"crm.schemas.{family}.read", f"crm.schemas.{family}.write"))
    return tuple(sorted(scopes))


def token_info(portal: Portal, request: ApiRequest) -> Reply:
    config = portal.config
    body = request.body
    key = body.get("tokenKey") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        raise validation_error("tokenKey is required")
    if key != config.token:
        raise validation_error("tokenKey is not a private app access token of this account")
    granted = config.scopes if config.scopes is not None else full_scopes(portal)
    active = [owner for owner in config.owners if not owner.archived]
    return Reply(200, {
        "userId": active[0].user_id if active else 0,  # the user who made the app
        "hubId": config.portal_id,
        "appId": APP_ID,
        "scopes": sorted(granted),
    })
