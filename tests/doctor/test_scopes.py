"""The scopes each command needs, per type, as the specs' any-of lists name them."""

from __future__ import annotations

from reconciler.workflow.scopes import needs_of_apply, record_read, record_write, schema_write


def test_activities_use_the_contacts_scopes() -> None:
    assert record_read("calls").any_of == ("crm.objects.contacts.read", "crm.objects.calls.read")
    assert record_write("meetings").any_of == ("crm.objects.contacts.write",)
    assert "sales-email-read" in record_write("emails").any_of
    assert schema_write("meetings").any_of == ("crm.schemas.contacts.write",)


def test_tickets_and_custom_objects_have_their_own() -> None:
    assert "tickets" in record_write("tickets").any_of
    assert "tickets" in schema_write("tickets").any_of
    assert record_write("p_widgets").any_of[0] == "crm.objects.custom.write"
    assert schema_write("2-1234").any_of == ("crm.schemas.custom.write",)


def test_a_write_scope_reads_too() -> None:
    assert record_read("deals").met_by(frozenset({"crm.objects.deals.write"}))
    assert not record_write("deals").met_by(frozenset({"crm.objects.deals.read"}))


def test_apply_needs_schema_writes_only_where_markers_are_missing() -> None:
    needs = needs_of_apply(["contacts", "deals"], owners=True, schema_types=["deals"])
    assert [n.doing for n in needs] == [
        "read contacts", "read deals", "read owners", "write contacts", "write deals",
        "change the deals schema (properties, pipelines)",
    ]
