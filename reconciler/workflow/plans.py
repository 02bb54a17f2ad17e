"""The one way a plan is made, for ``plan``, ``apply`` and any number of targets: the reads
(refresh → owners → the catalogue's checks → the pre-plan scan), then the pure plan, given
the context it was made in and limited to what ``--only`` names.

Offline (no client) there are no reads: the plan is made from the state alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from reconciler.hubspot.client import HubSpotClient
from reconciler.identity.markers import tool_properties
from reconciler.identity.refresh import RefreshReport, refresh_records
from reconciler.identity.refresh_log import log_path_for
from reconciler.identity.scan import scan_portal
from reconciler.identity.scan_plan import plan_with_portal
from reconciler.model import DesiredState
from reconciler.planning.changes import Plan
from reconciler.planning.planner import plan
from reconciler.state.model import State
from reconciler.targets import limit, matches_only, release
from reconciler.workflow.options import LoadedTarget, RunOptions
from reconciler.workflow.portal import resolve_owners
from reconciler.workflow.schema_reads import schema_step


@dataclass(frozen=True, slots=True)
class Planned:
    plan: Plan
    #: creates --only did not name but the records it names need
    needed: tuple[str, ...] = ()
    #: how the refresh went (None: offline)
    refresh: RefreshReport | None = None
    #: X-HubSpot-RateLimit-Daily-Remaining as last seen (None: not said)
    daily_remaining: int | None = None


def make_plan(
    loaded: LoadedTarget,
    state: State,
    options: RunOptions,
    client: HubSpotClient | None,
    *,
    released: tuple[str, ...] = (),
    stopped: Callable[[], bool] = lambda: False,
) -> Planned:
    """Read what the portal holds (unless ``client`` is None: offline), then plan.

    ``released``: the records the target no longer takes, already forgotten by ``state``
    (``--only`` may name them). ``stopped`` (Ctrl-C) ends the scan's waits at once.
    """
    from reconciler.generate.scheduling import settle
    from reconciler.workflow.catalogue_reads import check_against_portal, check_cached

    # generated activities placed around those the state has applied (a no-op unless a
    # project with calendar: has both applied and new ones)
    loaded = replace(loaded, desired=settle(loaded.desired, state))
    desired, target = loaded.desired, loaded.target
    if client is None:
        step = schema_step(None, desired, state, protected=target.protected,
                           allow_data_loss=options.allow_schema_data_loss)
        # the catalogue cached by the last plan, if any
        check_cached(step.desired, target, step.planned)
        drafted = with_context(plan(step.desired, state, None, target=target.name), desired)
        return _limited(step.attach(drafted), options, desired, state, released)
    grace = options.grace_seconds(target)
    # The schema first: records name what it makes by key, resolved to this portal's ids.
    step = schema_step(client, desired, state, protected=target.protected,
                       allow_data_loss=options.allow_schema_data_loss)
    before_refresh = client.requests_sent
    remote = refresh_records(
        client, step.desired, state, mode=options.refresh,
        log_path=log_path_for(target.state_path), margin_seconds=grace,
    )
    refreshing = client.requests_sent - before_refresh
    owners = resolve_owners(client, desired, state)
    check_against_portal(client, step.desired, target, owners=owners, planned=step.planned,
                         bodies=step.bodies)
    daily = client.daily_remaining
    found = scan_portal(client, step.desired, state, grace_seconds=grace, counts=remote.counts,
                        unproven=remote.unproven, stopped=stopped)
    drafted = step.attach(with_context(plan_with_portal(
        step.desired, state, remote, found, owners=owners, target=target.name,
        dedupe=options.dedupe,
    ), desired, owners))
    # what the estimate of its apply needs: these reads again, and the properties to make
    tool = tool_properties(desired.project.marker_id)
    # (the apply's refresh starts from the log this one left: only what it needs again)
    again = remote.report.next_requests
    reads = client.requests_sent - (refreshing - again if again is not None else 0)
    drafted = replace(drafted, reads=reads, missing_properties={
        object_type: len(tool - names) for object_type, names in client.property_names.items()
    })
    limited = _limited(drafted, options, desired, state, released)
    return replace(limited, refresh=remote.report, daily_remaining=daily)


def with_context(
    the_plan: Plan, desired: DesiredState, owners: Mapping[str, str] | None = None
) -> Plan:
    """The plan with what it was made with: the owners it resolved (saved with it, so that
    ``apply --plan`` records them) and the project's timezone (times are shown in it)."""
    return replace(the_plan, owners=dict(owners or {}), timezone=desired.project.timezone)


def release_excluded(state: State, loaded: LoadedTarget, options: RunOptions) -> tuple[str, ...]:
    """Forget (never archive) the managed records the target no longer includes; with
    --only, only those it names."""
    excluded = loaded.excluded
    if options.only:
        excluded = frozenset(a for a in excluded if matches_only(a, options.only))
    return release(state, excluded)


def _limited(
    the_plan: Plan, options: RunOptions, desired: DesiredState, state: State,
    released: tuple[str, ...],
) -> Planned:
    """The plan, limited to what --only names (and the creates that needs)."""
    if not options.only:
        return Planned(the_plan)
    limited = limit(the_plan, options.only, [*desired.records, *state.records, *released])
    return Planned(limited.plan, limited.needed)

