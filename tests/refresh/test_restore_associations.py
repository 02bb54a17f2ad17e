"""The planner puts back declared associations a full refresh found missing (pure)."""

from __future__ import annotations

from reconciler.model import AssociationRef, DesiredRecord, DesiredState, ProjectSettings, Source
from reconciler.planning.changes import RemoteSnapshot
from reconciler.planning.planner import plan
from reconciler.state.model import AppliedAssociation, RecordState, State

SRC = Source("spec.yaml", 3, 5)
JANE = AssociationRef("contacts", to_key="jane", type_id=200)
ACME = AssociationRef("companies", to_key="acme", type_id=188)
APPLIED = (
    AppliedAssociation("contacts", "77", "HUBSPOT_DEFINED", 200, "jane"),
    AppliedAssociation("companies", "88", "HUBSPOT_DEFINED", 188, "acme"),
)


def _plan(present: dict[str, frozenset[tuple[str, int]]] | None) -> list[tuple[str, str]]:
    spec = DesiredState(
        project=ProjectSettings(root=".", name="demo"),
        records={"meetings/kickoff": DesiredRecord(
            object_type="meetings", key="kickoff", properties={"hs_meeting_title": "K"},
            associations=(JANE, ACME), source=SRC,
        )},
        reference_time="2026-11-23T09:00:00Z",
    )
    state = State.empty()
    state.records["meetings/kickoff"] = RecordState(
        id="1", object_type="meetings", properties={"hs_meeting_title": "K"},
        associations=APPLIED,
    )
    remote = {"meetings/kickoff": RemoteSnapshot(
        id="1", properties={"hs_meeting_title": "K"}, associations=present,
    )}
    result = plan(spec, state, remote)
    return [
        (change.reason, ref.to_key or "")
        for change in result.changes for ref in change.add_associations
    ]


def test_a_declared_association_missing_in_the_portal_is_added_again() -> None:
    assert _plan({"contacts": frozenset(), "companies": frozenset({("88", 188)})}) == [
        ("changed in the portal", "jane")
    ]


def test_nothing_changes_when_the_portal_holds_them_or_they_were_not_read() -> None:
    assert _plan({"contacts": frozenset({("77", 200), ("99", 1)}),
                  "companies": frozenset({("88", 188)})}) == []
    assert _plan(None) == []  # incremental refresh: associations not read
    assert _plan({"contacts": frozenset({("77", 200)})}) == []  # companies not read
