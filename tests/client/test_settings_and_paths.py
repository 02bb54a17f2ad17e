"""Settings checks, paths per API version, and that the token stays secret."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from reconciler.emulator.embedded import Emulator
from reconciler.errors import ApiError, ConfigError, ReconcilerError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.hubspot.records import CreateInput

from .conftest import TOKEN, api_requests


@pytest.mark.parametrize(
    "url", ["http://api.example.com", "http://10.0.0.5:8080", "http://192.168.1.1"]
)
def test_plain_http_is_refused_for_non_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="refusing plain http://"):
        ClientSettings(url, "t")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://api.hubapi.com"]
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    ClientSettings(url, "t")


@pytest.mark.parametrize("token", ["", "   "])
def test_empty_token_is_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="no HubSpot access token"):
        ClientSettings("https://api.hubapi.com", token)


def test_bad_api_version_is_refused() -> None:
    with pytest.raises(ConfigError, match="api_version 'v9'"):
        ClientSettings("https://api.hubapi.com", "t", api_version="v9")


def test_token_not_in_repr() -> None:
    settings = ClientSettings("https://api.hubapi.com", TOKEN)
    assert TOKEN not in repr(settings)
    with HubSpotClient(settings) as client:
        assert TOKEN not in repr(client)


@pytest.mark.parametrize(
    ("version", "objects", "properties", "owners", "associations", "labels"),
    [
        ("v3", "/crm/v3/objects/meetings", "/crm/v3/properties/meetings", "/crm/v3/owners",
         "/crm/v4/associations/meetings/contacts", "/crm/associations/v4/meetings/contacts/labels"),
        ("2026-03", "/crm/objects/2026-03/meetings", "/crm/properties/2026-03/meetings",
         "/crm/owners/2026-03", "/crm/associations/2026-03/meetings/contacts",
         "/crm/associations/2026-03/meetings/contacts/labels"),
    ],
)  # fmt: skip
def test_paths_per_api_version(
    make_client: Callable[..., HubSpotClient], hub: Emulator, version: str, objects: str,
    properties: str, owners: str, associations: str, labels: str,
) -> None:  # fmt: skip
    client = make_client(api_version=version)
    contact = client.batch_create("contacts", [CreateInput("c", {"email": "a@example.com"})])
    meeting = client.batch_create(
        "meetings", [CreateInput("m", {"hs_timestamp": "1700000000000", "hs_meeting_title": "x"})]
    )
    contact_id, meeting_id = contact.results[0].id, meeting.results[0].id
    client.batch_read("meetings", [meeting_id], ["hs_meeting_title"])
    list(client.search("meetings", [], ["hs_meeting_title"]))
    client.list_properties("meetings")
    client.list_owners()
    client.associate("meetings", "contacts", [(meeting_id, contact_id, "HUBSPOT_DEFINED", 200)])
    client.association_labels("meetings", "contacts")
    paths = [r["path"] for r in hub.requests()]
    assert paths == [
        contact_path := objects.replace("meetings", "contacts") + "/batch/create",
        objects + "/batch/create",
        objects + "/batch/read",
        objects + "/search",
        properties,
        owners,
        associations + "/batch/create",
        labels,
    ]
    assert contact_path.startswith("/crm/")
    assert all(r["status"] in (200, 201) for r in hub.requests())


def test_bearer_token_sent_and_never_logged(
    make_client: Callable[..., HubSpotClient], http_log: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    client.list_owners()  # the emulator answers 401 unless the bearer token is right
    ours = [r for r in http_log.records if r.name == "reconciler.http"]
    assert len(ours) == 1
    assert ours[0].levelno == logging.DEBUG
    assert ours[0].getMessage() == ours[0].getMessage()  # rendered without error
    assert "GET /crm/v3/owners -> 200" in ours[0].getMessage()
    assert "attempt 1" in ours[0].getMessage()
    assert all(TOKEN not in record.getMessage() for record in http_log.records)
    assert TOKEN not in http_log.text


def test_token_never_in_errors_or_logs(
    make_client: Callable[..., HubSpotClient], http_log: pytest.LogCaptureFixture
) -> None:
    wrong = make_client(token=TOKEN + "-wrong")
    with pytest.raises(ApiError) as caught:
        wrong.list_owners()
    assert TOKEN not in str(caught.value)
    unreachable = make_client(base_url="http://127.0.0.1:9", max_retries=1)
    with pytest.raises(ReconcilerError) as refused:
        unreachable.list_owners()
    assert TOKEN not in str(refused.value)
    assert TOKEN not in http_log.text
    assert api_requests  # the helper stays importable for the other modules
