"""The catalogue checks as plain data in, findings out (no portal, no files)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from reconciler.model import AssociationRef, DesiredRecord, DesiredState, ProjectSettings, Source
from reconciler.planning.catalogue import PropertyInfo
from reconciler.planning.catalogue.definitions import Catalogue, property_from_api
from reconciler.planning.catalogue.positions import locate_findings
from reconciler.planning.catalogue.rules import (
    Finding,
    find_problems,
    type_id_problem,
    value_problem,
)


def _desired(*records: DesiredRecord) -> DesiredState:
    return DesiredState(
        project=ProjectSettings(root=".", name="demo"),
        records=MappingProxyType({r.address: r for r in records}),
        reference_time="2026-11-29T00:00:00Z",
    )


def _record(
    object_type: str, key: str, line: int = 1, associations: tuple[AssociationRef, ...] = (),
    **properties: str,
) -> DesiredRecord:
    return DesiredRecord(
        object_type=object_type, key=key, properties=MappingProxyType(properties),
        source=Source("spec.yaml", line, 3), associations=associations,
    )


def _api_property(**fields: Any) -> dict[str, Any]:
    return {"type": "string", "fieldType": "text", **fields}


STAGE = PropertyInfo(
    "dealstage", "enumeration", "select",
    options=(("appointmentscheduled", "Appointment Scheduled"), ("closedwon", "Closed Won")),
)


def test_the_api_shape_becomes_property_info() -> None:
    info = property_from_api(_api_property(
        name="hs_forecast_amount", type="number", calculated=True,
        modificationMetadata={"readOnlyValue": True},
    ))
    assert (info.calculated, info.read_only, info.owner) == (True, True, False)
    owner = property_from_api(_api_property(
        name="hs_deal_owner_2", type="enumeration", referencedObjectType="OWNER",
        externalOptions=True,
    ))
    assert owner.owner and owner.external_options
    stage = property_from_api(_api_property(
        name="dealstage", type="enumeration", fieldType="select",
        options=[{"value": "closedwon", "label": "Closed Won"}, {"value": "x"}],
    ))
    assert stage.options == (("closedwon", "Closed Won"), ("x", "x"))


def test_calculated_and_read_only_properties_cannot_be_set() -> None:
    calculated = PropertyInfo("hs_forecast_amount", "number", "number", calculated=True)
    assert value_problem(calculated, "10", None) == (
        "hs_forecast_amount is calculated by HubSpot and cannot be set; remove it"
    )
    read_only = PropertyInfo("hs_object_id", "number", "number", read_only=True)
    assert value_problem(read_only, "", None) == (
        "hs_object_id is read-only (HubSpot sets it); remove it"
    )


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        ("number", "1500.5", None),
        ("number", "-3e2", None),
        ("number", "", None),  # empty clears, whatever the type
        ("number", "1,234,567.5", "n must be a number, not '1,234,567.5'; write 1234567.5"),
        ("number", "1.000,50", "n must be a number, not '1.000,50'; write digits with an "
                               "optional decimal point, like 1500.5"),
        ("bool", "False", None),
        ("bool", "yes", "n must be true or false, not 'yes'"),
        ("date", "2026-02-28", None),
        ("date", "1767139200000", None),  # midnight UTC in Unix ms
        ("date", "1767139200001", "n must be a date (YYYY-MM-DD), not '1767139200001'"),
        ("date", "2026-02-30", "n must be a date (YYYY-MM-DD), not '2026-02-30'"),
        ("datetime", "2026-12-01T10:00:00.000Z", None),
        ("datetime", "2026-12-01T10:00:00+01:00", None),
        ("datetime", "1767139200123", None),
        ("datetime", "tomorrow", "n must be a date and time (ISO 8601, like "
                                 "2026-12-01T10:00:00Z), not 'tomorrow'"),
        ("string", "anything at all", None),
    ],
)
def test_value_formats(kind: str, value: str, problem: str | None) -> None:
    assert value_problem(PropertyInfo("n", kind, "text"), value, None) == problem


def test_options_labels_case_and_lists() -> None:
    assert value_problem(STAGE, "closedwon", None) is None
    assert value_problem(STAGE, "Closed  won", None) == (
        "'Closed  won' is the label of the dealstage option 'closedwon'; write closedwon"
    )
    assert value_problem(STAGE, "CLOSEDWON", None) == (
        "'CLOSEDWON' is not an option of dealstage; did you mean 'closedwon'?"
    )
    options = tuple((f"o{n}", f"O {n}") for n in range(12))
    many = PropertyInfo("p", "enumeration", "select", options=options)
    assert value_problem(many, "zzz", None) == (
        "'zzz' is not an option of p; use one of: o0, o1, o2, o3, o4, o5, o6, o7, o8, o9 "
        "and 2 more"
    )


def test_several_options_and_options_from_elsewhere() -> None:
    checkbox = PropertyInfo("tags", "enumeration", "checkbox", options=(("a", "A"), ("b", "B")))
    assert value_problem(checkbox, "a;b", None) is None
    assert value_problem(checkbox, "a;c", None) == "'c' is not an option of tags; use one of: a, b"
    external = PropertyInfo(
        "ext", "enumeration", "select", options=(("a", "A"),), external_options=True
    )
    assert value_problem(external, "anything", None) is None
    assert value_problem(PropertyInfo("free", "enumeration", "select"), "anything", None) is None


def test_owner_ids_are_checked_only_when_the_owners_were_read() -> None:
    owners = PropertyInfo("hs_attendee_owner_ids", "enumeration", "checkbox", owner=True)
    assert value_problem(owners, "1001;1002", None) is None
    assert value_problem(owners, "1001;1002", frozenset({"1001", "1002"})) is None
    assert value_problem(owners, "1001;7", frozenset({"1001"})) == (
        "7 is not an owner id in this portal; use an owner's id or email"
    )


def test_types_and_pairs_not_read_are_not_checked() -> None:
    desired = _desired(
        _record("deals", "big", dealstage="nope", typo_here="x"),
        _record("contacts", "jane", 2, (AssociationRef("companies", to_id="5", label="Boss"),)),
    )
    assert find_problems(desired, Catalogue()) == []
    assert find_problems(desired, Catalogue(), existing={}) == []


def test_findings_name_the_property_or_the_association() -> None:
    desired = _desired(
        _record("deals", "big", 1, dealstage="nope", hs_prioritee="high", reconciler_key="x",
                reconciler_applied="{}"),  # (the tool's own, absent from the catalogue: skipped)
        _record("contacts", "jane", 5, (
            AssociationRef("companies", to_id="5", label="Boss"),
            AssociationRef("companies", to_id="6", type_id=279),
        )),
    )
    catalogue = Catalogue(
        properties={
            "deals": {
                "dealstage": STAGE,
                "hs_priority": PropertyInfo("hs_priority", "string", "text"),
            },
            "contacts": {},
        },
        labels={("contacts", "companies"): ()},
    )
    findings = find_problems(desired, catalogue, existing={"companies": frozenset({"6"})})
    assert [(f.address, f.prop, f.association, f.about_target) for f in findings] == [
        ("deals/big", "dealstage", None, False),
        ("deals/big", "hs_prioritee", None, False),
        ("contacts/jane", None, 0, False),
        ("contacts/jane", None, 0, True),
    ]
    assert findings[1].message == (
        "property 'hs_prioritee' does not exist for deals in this portal; "
        "did you mean 'hs_priority'?"
    )
    assert findings[2].message == (
        "association label 'Boss' does not exist for contacts → companies in this portal; none "
        "is defined (create it in HubSpot first)"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges")
def test_findings_are_located_only_in_files_the_loader_would_read(tmp_path: Path) -> None:
    # The spec file was swapped, since it was loaded, for a link out of the project: it
    # is not read (the link could lead anywhere, to a FIFO that blocks forever, a device).
    outside = tmp_path / "outside.yaml"
    outside.write_text("deals:\n  big:\n    properties:\n      hs_prioritee: high\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "spec.yaml").symlink_to(outside)
    record = DesiredRecord(
        object_type="deals", key="big", properties=MappingProxyType({"hs_prioritee": "high"}),
        source=Source(str(project / "spec.yaml"), 7, 3),
    )
    desired = DesiredState(
        project=ProjectSettings(root=str(project), name="demo"),
        records=MappingProxyType({record.address: record}),
        reference_time="2026-11-29T00:00:00Z",
    )
    (issue,) = locate_findings([Finding("deals/big", "no such property", prop="hs_prioritee",
                                        at_key=True)], desired)
    assert (issue.line, issue.column) == (7, 3)  # the record's own place, as loaded


def test_an_unknown_object_type_is_reported_once() -> None:
    desired = _desired(_record("gadgets", "a", 1), _record("gadgets", "b", 2))
    findings = find_problems(desired, Catalogue(unknown_types=frozenset({"gadgets"})))
    assert [(f.address, f.message) for f in findings] == [
        ("gadgets/a", "object type 'gadgets' does not exist in this portal"),
    ]


def test_the_catalogue_round_trips_through_json_and_merges() -> None:
    old = Catalogue(
        properties={"contacts": {"email": PropertyInfo("email", "string", "text")}},
        owner_ids=frozenset({"1"}),
        labels={("deals", "contacts"): ("Old",)},
        unknown_types=frozenset({"gadgets"}),
    )
    new = Catalogue(
        properties={"deals": {"dealstage": STAGE}}, labels={("deals", "contacts"): ("New",)}
    )
    merged = new.merged_over(Catalogue.from_json(old.to_json()))
    assert Catalogue.from_json(merged.to_json()) == merged
    assert sorted(merged.properties) == ["contacts", "deals"]
    assert merged.properties["deals"]["dealstage"] == STAGE
    assert merged.owner_ids == frozenset({"1"})
    assert merged.labels == {("deals", "contacts"): ("New",)}
    assert merged.unknown_types == frozenset({"gadgets"})
    typed = Catalogue(
        type_ids={("deals", "contacts"): (("HUBSPOT_DEFINED", 3), ("USER_DEFINED", 45))},
        deactivated_owners={"42": "gone@example.com"},
    )
    assert Catalogue.from_json(typed.to_json()) == typed
    assert Catalogue.from_json(old.to_json()).type_ids == {}  # an older cache: nothing known


def test_a_text_longer_than_hubspot_holds() -> None:
    """Properties guide: "A plain text string, limited to 65,536 characters"."""
    body = PropertyInfo("hs_meeting_body", "string", "html")
    assert value_problem(body, "x" * 65_536, None) is None
    assert value_problem(body, "x" * 70_123, None) == (
        "hs_meeting_body is 70,123 characters; HubSpot's text properties hold at most 65,536"
    )


def test_deactivated_owners_are_named() -> None:
    """Owners guide: archived owners are "users that were deactivated"."""
    owner = PropertyInfo("hubspot_owner_id", "enumeration", "select", owner=True)
    gone = {"42": "gone@example.com", "43": ""}
    assert value_problem(owner, "42", frozenset({"1001"}), gone) == (
        "gone@example.com is a deactivated owner in this portal (owner id 42); choose an "
        "active owner"
    )
    assert value_problem(owner, "43", frozenset({"1001"}), gone) == (
        "43 is a deactivated owner in this portal; choose an active owner"
    )
    assert value_problem(owner, "44", frozenset({"1001"}), gone) == (
        "44 is not an owner id in this portal; use an owner's id or email"
    )
    record = DesiredRecord(
        object_type="deals", key="big", properties=MappingProxyType({}),
        source=Source("spec.yaml", 1, 3), owner_email="Gone@Example.com",
    )
    (finding,) = find_problems(
        _desired(record), Catalogue(deactivated_owners=gone), owner_emails={}
    )
    assert (finding.prop, finding.message) == (
        "hubspot_owner_id",
        "Gone@Example.com is a deactivated owner in this portal (owner id 42); choose an "
        "active owner",
    )


def test_a_type_id_only_the_portal_knows_is_checked_against_the_pair() -> None:
    catalogue = Catalogue(type_ids={
        ("deals", "contacts"): (("HUBSPOT_DEFINED", 3), ("USER_DEFINED", 45)),
    })

    def problem(type_id: int, category: str = "HUBSPOT_DEFINED") -> str | None:
        ref = AssociationRef("contacts", to_key="jane", type_id=type_id, category=category)
        return type_id_problem("deals", ref, catalogue)

    assert problem(3) is None  # HubSpot's own, from the table: never asked
    assert problem(45, "USER_DEFINED") is None
    assert problem(45) == (
        "type_id 45 is USER_DEFINED for deals → contacts in this portal; add category: "
        "USER_DEFINED"
    )
    assert problem(46, "USER_DEFINED") == (
        "type_id 46 is not an association type of deals → contacts in this portal; it has "
        "3 (HUBSPOT_DEFINED), 45 (USER_DEFINED)"
    )
    unread = AssociationRef("companies", to_key="acme", type_id=99)
    assert type_id_problem("deals", unread, catalogue) is None  # pair not read: not checked
