"""The portal's schema as data: what a new portal holds before anyone changes it (each
type's built-in property group, the default deal and ticket pipelines with their stages),
and what pipelines mean for records (the options of the pipeline and stage properties, and
the rule that a record's stage is one of its pipeline's).

Pipelines: every account starts with the deal pipeline ``default`` and the ticket pipeline
``0`` (facts §14; design-20 §1.5): deal stage ids from HubSpot's legacy deal-pipelines page,
probabilities from it (the first four) and from observed portals (the rest); ticket stages
``1``–``4``, of which only ``4`` (Closed) is closed [I]. Default pipelines and their stages
have ``createdAt`` = 0 (the pipelines spec says so).

Groups: ``contactinformation``, ``companyinformation``, ``dealinformation`` and
``ticketinformation`` are HubSpot's; the names for meetings, calls, notes, tasks, emails and
custom objects are **unverified** (no source names them), which is why the tool takes the
group of a property the type already has rather than a name of its own
(``identity.marker_writes.ensure_markers``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.emulator.catalogue import DEAL_STAGES, TICKET_STAGES, PropertyDef, ValueProblem

#: Each type's built-in property group: (name, label).
BUILTIN_GROUPS: dict[str, tuple[str, str]] = {
    "contacts": ("contactinformation", "Contact information"),
    "companies": ("companyinformation", "Company information"),
    "deals": ("dealinformation", "Deal information"),
    "tickets": ("ticketinformation", "Ticket information"),
    "meetings": ("meetinginformation", "Meeting information"),  # unverified
    "calls": ("callinformation", "Call information"),  # unverified
    "notes": ("noteinformation", "Note information"),  # unverified
    "tasks": ("taskinformation", "Task information"),  # unverified
    "emails": ("emailinformation", "Email information"),  # unverified
}


def builtin_group(object_type: str) -> tuple[str, str]:
    """The built-in group of a type; a custom object's is ``<type>_information`` (ours)."""
    return BUILTIN_GROUPS.get(
        object_type, (f"{object_type}_information", f"{object_type} information")
    )


#: The ids of the pipeline HubSpot uses when a record names none (deals guide; the ERRORS
#: page's ticket example comes back with ``hs_pipeline: "0"``).
DEFAULT_PIPELINE_IDS = {"deals": "default", "tickets": "0"}

#: A record's pipeline and stage properties, per type that has pipelines.
STAGE_PROPERTIES = {
    "deals": ("pipeline", "dealstage"),
    "tickets": ("hs_pipeline", "hs_pipeline_stage"),
}

#: The default stages' probabilities (deals) and states (tickets), by stage id.
DEFAULT_PROBABILITIES = {
    "appointmentscheduled": "0.2", "qualifiedtobuy": "0.4", "presentationscheduled": "0.6",
    "decisionmakerboughtin": "0.8", "contractsent": "0.9", "closedwon": "1.0", "closedlost": "0.0",
}
DEFAULT_TICKET_STATES = {"1": "OPEN", "2": "OPEN", "3": "OPEN", "4": "CLOSED"}
EPOCH = "1970-01-01T00:00:00.000Z"


def deal_stage_metadata(probability: str) -> dict[str, str]:
    """A deal stage's metadata as HubSpot returns it: strings; closed at 0.0 and 1.0 (lost
    and won, as the pipelines guide describes them)."""
    closed = float(probability) in (0.0, 1.0)
    return {"probability": probability, "isClosed": "true" if closed else "false"}


def ticket_stage_metadata(state: str) -> dict[str, str]:
    return {"ticketState": state, "isClosed": "true" if state == "CLOSED" else "false"}


def stage_body(
    stage_id: str, label: str, order: int, metadata: dict[str, str], moment: str
) -> dict[str, Any]:
    """A stage as stored (and answered, less nothing): HubSpot's ``PipelineStage``."""
    return {
        "id": stage_id, "label": label, "displayOrder": order, "metadata": metadata,
        "archived": False, "createdAt": moment, "updatedAt": moment,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def default_pipelines() -> dict[str, dict[str, Any]]:
    """The default pipeline of each type that has pipelines, as stored."""
    deal_stages = [
        stage_body(sid, label, n, deal_stage_metadata(DEFAULT_PROBABILITIES[sid]), EPOCH)
        for n, (sid, label) in enumerate(DEAL_STAGES)
    ]
    ticket_stages = [
        stage_body(sid, label, n, ticket_stage_metadata(DEFAULT_TICKET_STATES[sid]), EPOCH)
        for n, (sid, label) in enumerate(TICKET_STAGES)
    ]
    return {
        "deals": {"id": "default", "label": "Sales Pipeline", "displayOrder": 0,
                  "archived": False, "createdAt": EPOCH, "updatedAt": EPOCH,
                  "stages": deal_stages},
        "tickets": {"id": "0", "label": "Support Pipeline", "displayOrder": 0,
                    "archived": False, "createdAt": EPOCH, "updatedAt": EPOCH,
                    "stages": ticket_stages},
    }


def live_stages(pipeline: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [stage for stage in pipeline["stages"] if not stage["archived"]]


def pipeline_properties(
    object_type: str, pipelines: Sequence[Mapping[str, Any]], builtin: Mapping[str, PropertyDef]
) -> dict[str, PropertyDef]:
    """The pipeline and stage properties of a type, their options the (live) pipelines and
    stages: a deal's ``dealstage`` takes any stage of any pipeline, and ``stage_problem``
    then holds it to its own pipeline's."""
    names = STAGE_PROPERTIES.get(object_type)
    if names is None:
        return {}
    stages = [stage for pipeline in pipelines for stage in live_stages(pipeline)]
    pipeline_name, stage_name = names
    return {
        pipeline_name: replace(
            builtin[pipeline_name], options=tuple(str(p["id"]) for p in pipelines),
            option_labels={str(p["id"]): str(p["label"]) for p in pipelines},
        ),
        stage_name: replace(
            builtin[stage_name], options=tuple(dict.fromkeys(str(s["id"]) for s in stages)),
            option_labels={str(s["id"]): str(s["label"]) for s in stages},
        ),
    }


def stage_problem(
    object_type: str, pipelines: Sequence[Mapping[str, Any]], clean: dict[str, str],
    current: Mapping[str, str] | None,
) -> ValueProblem | None:
    """A record's stage must be a stage of its pipeline (facts §14). A create that sets a
    stage and no pipeline is in the default pipeline, which is filled in (``clean`` gains
    it), as HubSpot fills it in; an update changing either is checked against what the
    record then holds (``current`` merged with the update). The message is the one
    observed for deals (design-20 §1.4); for tickets it is ours."""
    names = STAGE_PROPERTIES.get(object_type)
    if names is None:
        return None
    pipeline_name, stage_name = names
    if pipeline_name not in clean and stage_name not in clean:
        return None
    if current is None and clean.get(stage_name) and not clean.get(pipeline_name):
        clean[pipeline_name] = DEFAULT_PIPELINE_IDS[object_type]
    merged = {**(current or {}), **clean}
    stage = merged.get(stage_name)
    pipeline_id = merged.get(pipeline_name) or DEFAULT_PIPELINE_IDS[object_type]
    pipeline = next((p for p in pipelines if p["id"] == pipeline_id), None)
    if not stage or pipeline is None:  # no stage, or a pipeline the options check refused
        return None
    stage_ids = [str(s["id"]) for s in live_stages(pipeline)]
    if stage in stage_ids:
        return None
    return ValueProblem(
        stage_name, "INVALID_OPTION",
        f"{stage} is not a valid pipeline stage ID. Valid options are: "
        f"pipelineId={pipeline_id} : [{', '.join(stage_ids)}]",
    )
