"""Execute a ``Plan`` against a portal, recording every outcome in the state at once.

The phases, in order (each in its own module):

1. the marker properties exist on every type written (``recovery.ensure_markers``);
2. moves and releases (``apply_refactor``), then marker rewrites of a migrating state
   (``apply_update.remark``);
3. creates, type by type in write order (``apply_create``; calendar meetings through
   the scheduler, ``apply_calendar``), with the associations of upserted records;
4. updates and association changes (``apply_update``), then associations whose target
   was created later in the run;
5. archives, in reverse write order (``apply_archive``).

Every outcome is recorded by ``apply_run.ApplyRun`` (the one place that writes the state),
which saves after every batch, so a crash loses nothing HubSpot accepted. Crash safety rests
on the markers and in-flight batches: see ``reconciler.recovery``.
"""

from __future__ import annotations

import threading

from reconciler.apply_archive import archive
from reconciler.apply_calendar import create_calendar
from reconciler.apply_create import create_batches, prepare
from reconciler.apply_refactor import refactor
from reconciler.apply_run import ApplyResult, ApplyRun, Failure, ProgressCallback, Stop
from reconciler.apply_update import associate_deferred, by_type, remark, update
from reconciler.client import HubSpotClient
from reconciler.model import AssociationRef
from reconciler.planner import Change, Plan
from reconciler.recovery import (
    CREATE_ROUNDS,
    MARKER_PROPERTY,
    PROJECT_PROPERTY,
    SEARCH_LAG_GRACE_SECONDS,
    ensure_markers,
    find_by_marker,
    marker_properties,
    marker_value,
    recover_in_flight,
)
from reconciler.state import State, StateStore


def _run(run: ApplyRun) -> ApplyResult:
    changes = run.plan.changes
    try:
        # every write carries the markers or the digest (updates too: a record made before
        # the digest property existed gets it with its first update)
        written = {c.object_type for c in changes if c.action != "archive"}
        ensure_markers(run.client, written, run.unique_marker)
        refactor(run, [c for c in changes if c.action in ("move", "release")])
        run.check_stop()
        remark(run, [c for c in changes if c.action == "remark"])
        run.check_stop()
        deferred: list[tuple[Change, AssociationRef]] = []
        for object_type, group in by_type([c for c in changes if c.action == "create"]):
            run.check_stop()
            pending, calendar, later = prepare(run, object_type, group)
            deferred.extend(later)
            for change in calendar:
                run.check_stop()
                create_calendar(run, change)
            if pending:
                create_batches(run, object_type, pending)
        run.check_stop()
        update(run, [c for c in changes if c.action == "update"])
        associate_deferred(run, deferred)
        run.check_stop()
        archive(run, [c for c in changes if c.action == "archive"])
        run.check_stop()  # stopped during the last phase: some of it was not sent
    except Stop:
        pass
    run.bind_project_id()
    run.result.requests = run.client.requests_sent
    return run.result


def apply_plan(
    plan: Plan,
    *,
    client: HubSpotClient,
    store: StateStore,
    state: State,
    project: str,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    grace_seconds: float = SEARCH_LAG_GRACE_SECONDS,
) -> ApplyResult:
    """Carry out ``plan``; the caller holds the state lock. Never raises for one record.

    ``project`` is the project's marker id. ``grace_seconds``: how long a create whose
    answer was lost is looked for by marker before it is sent again (see
    ``find_by_marker``)."""
    return _run(ApplyRun(
        plan, client=client, store=store, state=state, project=project,
        progress=progress, stop=stop, grace_seconds=grace_seconds,
    ))


__all__ = [  # the recovery names are re-exported: callers import them from here too
    "CREATE_ROUNDS",
    "MARKER_PROPERTY",
    "PROJECT_PROPERTY",
    "SEARCH_LAG_GRACE_SECONDS",
    "ApplyResult",
    "Failure",
    "apply_plan",
    "ensure_markers",
    "find_by_marker",
    "marker_properties",
    "marker_value",
    "recover_in_flight",
]
