"""Saved plans (``plan --out``, ``apply --plan``): written never over a state file, and
read back only when they follow from the state they name (and, checked by
``applying.still_holds`` before anything is written, from the portal where they touch it).
"""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.errors import ConfigError, StateError
from reconciler.identity.markers import marker_properties
from reconciler.model import DesiredState
from reconciler.planning.changes import MARKER_ACTIONS, Change, Plan
from reconciler.planning.schema_resolution import placeholders_in
from reconciler.settings import Target
from reconciler.state.model import RecordState, State
from reconciler.state.plan_document import PlanFileError, plan_from_json, plan_to_json
from reconciler.state.saved_schema import unfollowed_schema_changes
from reconciler.state.schema_document import schema_problems
from reconciler.state.store import StateStore


def _some(items: list[str]) -> str:
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def save_plan(the_plan: Plan, path: Path, store: StateStore | None = None) -> None:
    """Write ``plan --out``; never over a state file (or its lock), and OSErrors become
    ConfigErrors that say what to do."""
    if store is not None and store.owns(path):
        raise ConfigError(
            f"refusing to write the plan to {path}: that is the state file (or its lock); "
            "give --out another name, e.g. plan.json"
        )
    if looks_like_state(path):
        raise ConfigError(
            f"refusing to write the plan to {path}: it holds a reconciler state; give --out "
            "another name, e.g. plan.json"
        )
    text = json.dumps(plan_to_json(the_plan), indent=2) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
    except OSError as exc:
        raise ConfigError(
            f"the plan could not be written to {path} ({exc.strerror or exc}); free some disk "
            "space or choose another --out"
        ) from exc


def looks_like_state(path: Path) -> bool:
    """Whether ``path`` is an existing reconciler state file (or one's backup)."""
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as handle:
            head = handle.read(64 * 1024)
            if b'"lineage"' not in head or b'"format_version"' not in head:
                return False
            data = json.loads(head + handle.read())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"format_version", "lineage", "records"} <= data.keys()


def load_saved_plan(path: Path, state: State, target: Target, desired: DesiredState) -> Plan:
    """A plan saved by ``plan --out``: refused if it is damaged or edited, was made for
    another target, project or state, or does not follow from the state it names."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: the plan cannot be read ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise ConfigError(
            f"{path}: not a saved reconciler plan (not JSON: {exc}); make one with "
            "`reconciler plan --out FILE`"
        ) from exc
    except RecursionError:  # json's decoder recurses: [[[[... 100,000 deep
        raise ConfigError(
            f"{path}: not a saved reconciler plan (nested too deeply); make one with "
            "`reconciler plan --out FILE`"
        ) from None
    try:
        saved = plan_from_json(data)
    except PlanFileError as exc:
        raise ConfigError(
            f"{path}: not a plan this reconciler will apply: {exc}. Make a new one with "
            "`reconciler plan --out FILE`"
        ) from None
    if saved.target != target.name:
        raise StateError(
            f"{path} was made for target {saved.target}, not {target.name}; make a new plan"
        )
    if saved.project != desired.project.name:
        raise StateError(
            f"{path} was made for project {saved.project}, not {desired.project.name}; make a "
            "new plan in this project"
        )
    if saved.state_lineage != state.lineage or saved.state_serial != state.serial:
        raise StateError(
            f"{path} is stale: the state changed since the plan was made "
            f"(serial {saved.state_serial} → {state.serial}); run `reconciler plan --out` again"
        )
    unfollowed = unfollowed_schema_changes(saved.schema_changes, desired.schema)
    if unfollowed:
        raise StateError(
            f"{path} does not follow from the spec, so nothing was applied: "
            f"{_some(unfollowed)}. Make a new plan with `reconciler plan --out FILE`"
        )
    problems = check_plan_against(saved, state, desired.project.marker_id)
    if problems:
        raise StateError(
            f"{path} does not follow from the state it names, so nothing was applied: "
            f"{_some(problems)}. Make a new plan with `reconciler plan --out FILE`"
        )
    return saved


def refuse_stale(path: Path, portal_changes: list[str]) -> None:
    """Refuse a saved plan the portal no longer bears out where it touches it (what changed,
    one line each: ``applying.still_holds.portal_changes``); nothing has been written."""
    if portal_changes:
        raise StateError(
            f"{path} no longer holds: the portal changed where the plan touches it since it "
            f"was made, so nothing was applied: {_some(portal_changes)}. Make a new plan with "
            "`reconciler plan --out FILE` (and have it reviewed)"
        )


def check_plan_against(the_plan: Plan, state: State, marker_id: str) -> list[str]:
    """What in a plan does not follow from ``state``: every update, remark and archive
    names a record the state manages by the state's id for it (and its type); a create
    names no id; a remark writes exactly this project's markers; no record appears twice."""
    problems: list[str] = schema_problems(
        the_plan.schema_changes, dict(placeholders_in(the_plan.changes)), state.schema
    )
    seen: set[tuple[str, bool]] = set()
    # moves and releases first: the rest of the plan names records where they will be
    records = _refactored_records(the_plan, state, marker_id, problems)
    for change in the_plan.changes:
        address = change.address
        # a record may have a marker rewrite (or move) besides its update
        once = (address, change.action in MARKER_ACTIONS)
        if change.action != "dedupe":  # (one dedupe per extra record of a marker)
            if once in seen:
                problems.append(f"{address} appears twice")
            seen.add(once)
        if change.action in ("move", "release"):
            continue
        recorded = records.get(address)
        if change.action in ("adopt", "dedupe"):
            problems.extend(_identity_problems(change, recorded))
            continue
        problems.extend(_identity_writes(change, marker_id))
        if change.action == "create":
            if change.hubspot_id is not None:
                problems.append(f"the create of {address} names id {change.hubspot_id}")
            continue
        if recorded is None:
            problems.append(f"{change.action} of {address}, which the state does not manage")
        elif change.hubspot_id != recorded.id:
            problems.append(
                f"{change.action} of {address} names id {change.hubspot_id}, but the state "
                f"maps it to {recorded.id}"
            )
        elif change.object_type != recorded.object_type:
            problems.append(
                f"{change.action} of {address} as {change.object_type}, but it is "
                f"{recorded.object_type}"
            )
        elif change.action == "remark" and (
            dict(change.after) != marker_properties(marker_id, address)
            or change.properties_to_send != marker_properties(marker_id, address)
        ):
            problems.append(f"the marker rewrite of {address} writes more than its markers")
    return problems


#: What says whose a record is, and which: an update never writes them, a create only our
#: markers for its address (a marker rewrite is checked on its own, as a remark).
_IDENTITY_PROPERTIES = ("hs_object_id", *marker_properties("x", "companies/x"))


def _identity_writes(change: Change, marker_id: str) -> list[str]:
    if change.action not in ("create", "update"):
        return []
    ours = marker_properties(marker_id, change.address) if change.action == "create" else {}
    sent = change.properties_to_send
    written = [name for name in _IDENTITY_PROPERTIES
               if name in sent and sent[name] != ours.get(name)]
    if not written:
        return []
    return [f"the {change.action} of {change.address} writes {', '.join(written)}, which "
            "says whose the record is (only a marker rewrite writes markers, only ours)"]


def _identity_problems(change: Change, recorded: RecordState | None) -> list[str]:
    """An adopt maps an address the state does not map, a dedupe archives a record that is
    not the one the state maps; both name an id (apply reads it back and checks that it
    carries the address's marker before anything is written, ``apply_identity``)."""
    address = change.address
    if not (change.hubspot_id or "").isdigit():
        return [f"the {change.action} of {address} names no HubSpot id"]
    if change.action == "adopt" and recorded is not None:
        return [f"the adopt of {address}, which the state maps already (id {recorded.id})"]
    if change.action == "dedupe" and recorded is not None and recorded.id == change.hubspot_id:
        return [f"the dedupe of {address} archives id {change.hubspot_id}, the record the "
                "state maps"]
    return []


def _refactored_records(
    the_plan: Plan, state: State, marker_id: str, problems: list[str]
) -> dict[str, RecordState]:
    """The state's records as the plan's moves and releases leave them, each checked: a
    move takes a managed record (by the state's id) to a free address of its type and
    writes exactly its new markers; a release names a managed record and clears them."""
    records = dict(state.records)
    for change in the_plan.changes:
        if change.action not in ("move", "release"):
            continue
        source = change.moved_from if change.action == "move" else change.address
        recorded = records.get(str(source))
        what = f"the {change.action} of {source}"
        if recorded is None:
            problems.append(f"{what}, which the state does not manage")
        elif change.hubspot_id != recorded.id or change.object_type != recorded.object_type:
            problems.append(f"{what} names {change.object_type} id {change.hubspot_id}, but the "
                            f"state maps it to {recorded.object_type} id {recorded.id}")
        elif change.action == "release":
            if dict(change.after) not in ({}, {k: "" for k in marker_properties(marker_id, "x")}):
                problems.append(f"{what} writes more than clearing its markers")
            else:
                del records[str(source)]
        elif change.address in records:
            problems.append(f"{what} to {change.address}, which the state already manages")
        elif dict(change.after) != marker_properties(marker_id, change.address):
            problems.append(f"{what} writes more than its new markers")
        else:
            records[change.address] = records.pop(str(source))
    return records
