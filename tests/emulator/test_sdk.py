"""The official HubSpot Python SDK (hubspot-api-client 12) against the emulator: batch
create, read and archive meetings and calls, with its models parsing every answer."""

from __future__ import annotations

import pytest

from reconciler.emulator.embedded import Emulator

hubspot = pytest.importorskip("hubspot")


@pytest.mark.parametrize("kind", ["meetings", "calls"])
def test_sdk_batch_create_read_archive(emulator: Emulator, kind: str) -> None:
    import importlib

    models = importlib.import_module(f"hubspot.crm.objects.{kind}")
    emulator.set_config(echo_trace_ids=True)  # the SDK's models read the echo when it comes
    client = hubspot.Client.create(access_token=emulator.token, host=emulator.base_url)
    api = getattr(client.crm.objects, kind).batch_api
    title = "hs_meeting_title" if kind == "meetings" else "hs_call_title"
    inputs = [
        models.SimplePublicObjectBatchInputForCreate(
            properties={"hs_timestamp": "2026-01-05T10:00:00Z", title: f"SDK {i}"},
            object_write_trace_id=f"sdk-{i}",
        )
        for i in range(5)
    ]
    created = api.create(
        batch_input_simple_public_object_batch_input_for_create=models.BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)
    )
    assert isinstance(created, models.BatchResponseSimplePublicObject)
    assert sorted(r.object_write_trace_id for r in created.results) == [f"sdk-{i}" for i in range(5)]
    ids = [r.id for r in created.results]

    bad = models.SimplePublicObjectBatchInputForCreate(properties={"nope": "x"}, object_write_trace_id="bad")
    partial = api.create(
        batch_input_simple_public_object_batch_input_for_create=models.BatchInputSimplePublicObjectBatchInputForCreate(inputs=[bad, inputs[0]])
    )
    assert isinstance(partial, models.BatchResponseSimplePublicObjectWithErrors)
    assert partial.num_errors == 1 and partial.errors[0].context["objectWriteTraceId"] == ["bad"]

    read = api.read(
        batch_read_input_simple_public_object_id=models.BatchReadInputSimplePublicObjectId(
            inputs=[models.SimplePublicObjectId(id=i) for i in ids], properties=[title], properties_with_history=[]
        )
    )
    assert sorted(r.properties[title] for r in read.results) == [f"SDK {i}" for i in range(5)]

    assert api.archive(
        batch_input_simple_public_object_id=models.BatchInputSimplePublicObjectId(
            inputs=[models.SimplePublicObjectId(id=i) for i in ids]
        )
    ) is None
    assert len(emulator.records(kind)) == 1  # the good input of the partial batch
    assert len(emulator.records(kind, archived=True)) == 5


def test_sdk_sees_429_as_api_exception(emulator: Emulator) -> None:
    from hubspot.crm.objects.meetings import ApiException

    emulator.set_config(rate_limit_per_10s=1)
    client = hubspot.Client.create(access_token=emulator.token, host=emulator.base_url)
    client.crm.objects.meetings.basic_api.get_page()
    with pytest.raises(ApiException) as caught:
        client.crm.objects.meetings.basic_api.get_page()
    assert caught.value.status == 429


def test_sdk_reads_a_contact_by_email(emulator: Emulator) -> None:
    """The SDK percent-encodes the id in the path (``sdk%40example.com``); HubSpot decodes it."""
    from hubspot.crm.contacts import SimplePublicObjectInputForCreate

    client = hubspot.Client.create(access_token=emulator.token, host=emulator.base_url)
    created = client.crm.contacts.basic_api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(properties={"email": "sdk@example.com"})
    )
    found = client.crm.contacts.basic_api.get_by_id("sdk@example.com", id_property="email")
    assert found.id == created.id and found.properties["email"] == "sdk@example.com"
