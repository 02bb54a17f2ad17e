"""Whether a saved plan still holds on the portal (``apply --plan``), checked before
anything is written.

``state.saved_plans.load_saved_plan`` checks a saved plan against the state it names (its
lineage and serial, every id in it). A plan reviewed in a pull request and applied on merge
was made minutes or days before, so the portal is checked too, where the plan touches it:

- every record the plan names by id still exists (a read by id, 100 a request);
- an update (or adopt) finds the values the plan's before-values show in the properties it
  writes (compared as HubSpot means them, ``planning.comparing.same_value``), when the plan
  was made from a refresh (an offline plan saw the state, not the portal);
- no record the plan creates was made since: the pre-plan scan (``identity.scan``: a marker
  count per type; the project's records listed when the portal has more than the state
  maps) finds none carrying a create's marker;
- no schema item the plan creates was made since, and what it updates, adopts or archives
  is still there (``schema_still_holds``).

A change that does not hold means the reviewed plan is not what applying would do now:
``apply --plan`` refuses it whole and nothing is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from reconciler.applying.schema_still_holds import schema_changes_since
from reconciler.hubspot.client import HubSpotClient
from reconciler.identity.scan import scan_portal
from reconciler.model import DesiredState
from reconciler.planning.changes import Change, Plan
from reconciler.planning.comparing import same_value
from reconciler.state.model import State

#: the changes whose before-values are the portal's (with a refresh) and are sent over
_WRITES_PROPERTIES = ("update", "adopt")


def portal_changes(
    client: HubSpotClient,
    the_plan: Plan,
    state: State,
    desired: DesiredState,
    *,
    grace_seconds: float,
    stopped: Callable[[], bool] = lambda: False,
) -> list[str]:
    """What changed in the portal, where ``the_plan`` touches it, since it was made: one
    line each (empty: the plan still holds)."""
    problems = schema_changes_since(client, the_plan.schema_changes)
    by_type: dict[str, list[Change]] = defaultdict(list)
    for change in the_plan.changes:
        if change.hubspot_id and change.action != "create":
            by_type[change.object_type].append(change)
    for object_type, changes in sorted(by_type.items()):
        names = sorted({d.name for c in changes if c.action in _WRITES_PROPERTIES
                        for d in c.diffs})
        found = client.read_all(object_type, [str(c.hubspot_id) for c in changes], names)
        for change in changes:
            remote = found.get(str(change.hubspot_id))
            if remote is None:
                problems.append(f"{change.address} ({object_type} {change.hubspot_id}) is gone "
                                "from the portal")
            elif the_plan.refreshed and change.action in _WRITES_PROPERTIES:
                problems.extend(
                    f"{change.address}: {d.name} is {_shown(remote.properties.get(d.name))} "
                    f"now, the plan saw {_shown(d.before)}"
                    for d in change.diffs
                    if not same_value(remote.properties.get(d.name), d.before)
                )
    creating = {c.address for c in the_plan.changes if c.action == "create"}
    if creating:
        scan = scan_portal(client, desired, state, grace_seconds=grace_seconds, stopped=stopped)
        for address in sorted(creating & (set(scan.adoptable) | set(scan.duplicates))):
            ids = scan.duplicates.get(address) or (scan.adoptable[address].id,)
            problems.append(f"{address} was created since (id {', '.join(ids)})")
    return problems


def _shown(value: str | None) -> str:
    if value in (None, ""):
        return "empty"
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


__all__ = ["portal_changes"]
