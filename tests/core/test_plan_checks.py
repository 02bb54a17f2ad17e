"""What plan catches of issue #19's rows before anything is written: an association type
of another pair, a portal's own options, tickets without a stage, deactivated owners.
Through the real CLI, over real HTTP, against the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.cli.base import main
from tests.core.test_catalogue import _api, _plan_fails, _project, _requests
from tests.helpers import Run


def test_a_type_id_the_pair_does_not_have_is_refused_at_plan(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    with _api(emulator) as api:
        created = api.post(
            "/crm/associations/v4/deals/contacts/labels",
            json={"name": "decision_maker", "label": "Decision maker"},
        )
        created.raise_for_status()
    label_id = created.json()["results"][0]["typeId"]
    project = _project(tmp_path, f"""\
        contacts:
          jane:
            email: jane@example.com
        companies:
          acme:
            name: Acme
        deals:
          big:
            name: Big deal
            associations:
              - contact: jane
                type_id: {label_id}
                category: USER_DEFINED
              - company: acme
                type_id: 5
          small:
            name: Small deal
            associations:
              - contact: jane
                type_id: 4242
                category: USER_DEFINED
        """)
    assert _plan_fails(run, project, emulator) == [
        f"P/spec.yaml:20:18: deals.small.associations[0].type_id: type_id 4242 is not an "
        f"association type of deals → contacts in this portal; it has 3 (HUBSPOT_DEFINED), "
        f"{label_id} (USER_DEFINED)",
    ]
    # one labels read, for the pair whose ids only the portal knows (5 is HubSpot's Primary)
    assert _requests(emulator, "GET", "/labels") == ["/crm/associations/v4/deals/contacts/labels"]


def test_an_outcome_the_portal_does_not_have_is_caught_at_plan(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    """validate takes any outcome (portals define their own); plan checks the portal's."""
    project = _project(tmp_path, """\
        meetings:
          kickoff:
            title: Kickoff
            start: 2026-11-23T10:00:00Z
            outcome: COMPLETE
          review:
            title: Review
            start: 2026-11-23T11:00:00Z
            outcome: no show
        """)
    assert main(["validate", "--no-cache", str(project)]) == 0
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:5:14: meetings.kickoff.outcome: 'COMPLETE' is not an option of "
        "hs_meeting_outcome; did you mean 'COMPLETED'?",
    ]


def test_a_ticket_without_a_stage_is_refused_before_anything_is_sent(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    """HubSpot: "The following required properties were missing: [hs_pipeline_stage]"."""
    project = _project(tmp_path, """\
        objects:
          tickets:
            printer:
              properties: {subject: Printer jam}
        """)
    assert _plan_fails(run, project, emulator) == [
        "P/spec.yaml:3:5: objects.tickets.printer: tickets need hs_pipeline_stage, the "
        "ticket's status (e.g. \"1\": New in the default ticket pipeline); HubSpot refuses "
        "to create one without it",
    ]
    assert emulator.requests() == []  # a spec problem: the portal is not even asked
