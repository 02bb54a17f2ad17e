"""What `doctor` reads of an account: the daily API usage of private apps (account-info
spec, v3 and 2026-03) and a private-app token's hub and scopes (token info)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import hubspot_contract
import pytest

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from tests.helpers import FakeClock

TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"
NOON_UTC = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc).timestamp()  # 07:00 in US/Eastern


@pytest.fixture
def clocked() -> Iterator[tuple[Emulator, FakeClock, httpx.Client]]:
    """An emulator whose clock reads 2026-01-05 12:00 UTC and moves only when told; its
    exchanges are contract-checked like the shared emulator's."""
    clock = FakeClock()
    clock.epoch = NOON_UTC - clock.now
    with start_emulator(EmulatorConfig(token="t"), clock=clock) as emu, httpx.Client(
        base_url=emu.base_url, headers={"Authorization": "Bearer t"}, timeout=10
    ) as client:
        yield emu, clock, client
        checker = hubspot_contract.session_checker()
        if checker is not None:
            assert [p for entry in emu.requests() for p in checker.check(entry)] == []


def test_api_usage_reports_the_daily_limit_and_todays_calls(
    clocked: tuple[Emulator, FakeClock, httpx.Client],
) -> None:
    emu, clock, client = clocked
    emu.set_config(daily_limit=250_000)
    for _ in range(3):
        client.get("/crm/v3/objects/contacts")
    usage = client.get("/account-info/v3/api-usage/daily/private-apps")
    assert usage.status_code == 200
    assert usage.json() == {"results": [{
        "name": "private-apps-api-calls-daily", "usageLimit": 250_000, "currentUsage": 4,  # itself too
        "collectedAt": "2026-01-05T12:00:00.000Z",
        "resetsAt": "2026-01-06T05:00:00.000Z",  # midnight in the account's time zone (US/Eastern)
        "fetchStatus": "SUCCESS",
    }]}
    assert usage.headers["X-HubSpot-RateLimit-Daily-Remaining"] == str(250_000 - 4)
    versioned = client.get("/account-info/2026-03/api-usage/daily/private-apps").json()["results"][0]
    assert versioned["currentUsage"] == 5


def test_the_daily_count_starts_again_at_the_accounts_midnight(
    clocked: tuple[Emulator, FakeClock, httpx.Client],
) -> None:
    emu, clock, client = clocked
    emu.set_config(daily_limit=2)
    assert client.get("/crm/v3/objects/contacts").status_code == 200
    assert client.get("/crm/v3/objects/contacts").status_code == 200
    assert client.get("/crm/v3/objects/contacts").json()["policyName"] == "DAILY"
    clock.now += 17 * 3600 - 1  # 04:59:59 UTC: still the same day in US/Eastern
    assert client.get("/crm/v3/objects/contacts").status_code == 429
    clock.now += 1
    assert client.get("/crm/v3/objects/contacts").status_code == 200
    emu.set_config(daily_limit=None)
    usage = client.get("/account-info/v3/api-usage/daily/private-apps").json()["results"][0]
    assert usage["currentUsage"] == 2 and usage["usageLimit"] == 1_000_000_000  # the headers' "no limit"
    assert usage["resetsAt"] == "2026-01-07T05:00:00.000Z"


def test_api_usage_needs_the_oauth_scope(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_config(scopes=("crm.objects.contacts.read",))
    refused = api.get("/account-info/v3/api-usage/daily/private-apps")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["context"]["requiredGranularScopes"] == ["oauth"]


def test_token_info_names_the_hub_and_every_scope_of_a_full_token(api: httpx.Client, emulator: Emulator) -> None:
    response = api.post(TOKEN_INFO, json={"tokenKey": emulator.token})
    assert response.status_code == 200
    body = response.json()
    assert body["hubId"] == emulator.config.portal_id == 1234567
    assert body["userId"] == 5001 and isinstance(body["appId"], int)
    assert body["scopes"] == sorted(body["scopes"])
    assert {"crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.write",
            "crm.objects.deals.write", "tickets", "crm.objects.custom.write", "crm.schemas.contacts.write",
            "crm.schemas.deals.write", "crm.schemas.tickets.write", "crm.schemas.custom.write",
            "crm.objects.owners.read", "oauth"} <= set(body["scopes"])


def test_token_info_names_the_scopes_a_test_granted(api: httpx.Client, emulator: Emulator) -> None:
    """The emulator's ``scopes`` are its token's: a test grants fewer and token info says so;
    the endpoint itself needs no scope."""
    emulator.set_config(scopes=("crm.objects.deals.read", "crm.objects.contacts.read"), portal_id=2519445)
    body = api.post(TOKEN_INFO, json={"tokenKey": emulator.token}).json()
    assert body["scopes"] == ["crm.objects.contacts.read", "crm.objects.deals.read"]
    assert body["hubId"] == 2519445


@pytest.mark.contract(requests=False)
@pytest.mark.parametrize("body", [{"tokenKey": "pat-na1-someone-else"}, {}, {"tokenKey": ""}, None])
def test_token_info_refuses_another_key(api: httpx.Client, body: object) -> None:
    response = api.post(TOKEN_INFO, json=body)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_token_info_needs_the_bearer_token(emulator: Emulator) -> None:
    response = httpx.post(emulator.base_url + TOKEN_INFO, json={"tokenKey": emulator.token})
    assert response.status_code == 401
