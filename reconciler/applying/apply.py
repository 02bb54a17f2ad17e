"""Execute a ``Plan`` against a portal, recording every outcome in the state at once.

The phases, in order (each in its own module):

0. the schema the plan makes, changes or adopts (``schema.apply_schema``: groups,
   properties, pipelines, stages, labels), then the records' placeholders filled;
1. the marker properties exist on every type written (``marker_writes.ensure_markers``);
2. moves and releases (``apply_refactor``), then marker rewrites of a migrating state
   (``apply_update.remark``);
3. creates, type by type in write order (``apply_create``; calendar meetings through
   the scheduler, ``apply_calendar``), with the associations of upserted records;
4. updates and association changes (``apply_update``), then associations whose target
   was created later in the run; re-pins, recorded in the state only (no request);
5. archives, in reverse write order (``apply_archive``), and the extra records of
   duplicated markers (``apply_identity.dedupe``); then what ``schema.removed`` deletes
   (``schema.remove_schema``);
6. when something was created, a bounded wait until search lists it
   (``reconciler.identity.scan.wait_until_searchable``), so the next run, even without
   this state, finds it.

Adopted records (``apply_identity.adopt``: they carry the marker of a record the state did
not map) are mapped before the creates, and updated with the other updates.

Every outcome is recorded by ``apply_run.ApplyRun`` (the one place that writes the state),
which saves after every batch, so a crash loses nothing HubSpot accepted. Crash safety rests
on the markers and in-flight batches: see ``reconciler.identity.markers`` and
``reconciler.identity.recovery``.
"""

from __future__ import annotations

import threading

from reconciler.applying.adopt import adopt, dedupe
from reconciler.applying.archive import archive
from reconciler.applying.calendar import create_calendar
from reconciler.applying.create import create_batches, prepare
from reconciler.applying.refactor import refactor
from reconciler.applying.run import ApplyResult, ApplyRun, Failure, ProgressCallback, Stop
from reconciler.applying.schema import apply_schema, remove_schema
from reconciler.applying.update import associate_deferred, by_type, remark, update
from reconciler.errors import ReconcilerError
from reconciler.hubspot.client import HubSpotClient
from reconciler.identity.marker_writes import ensure_markers
from reconciler.identity.scan import wait_until_searchable
from reconciler.identity.search_lag import SEARCH_LAG_GRACE_SECONDS
from reconciler.model import AssociationRef
from reconciler.planning.changes import STATE_ONLY_ACTIONS, Change, Plan
from reconciler.state.model import State
from reconciler.state.store import StateStore


def _run(run: ApplyRun) -> ApplyResult:
    try:
        apply_schema(run)  # (records then see this target's ids for the spec's keys)
        changes = run.plan.changes
        # every write carries the markers or the digest (updates too: a record made before
        # the digest property existed gets it with its first update)
        written = {c.object_type for c in changes
                   if c.action != "archive" and c.action not in STATE_ONLY_ACTIONS}
        ensure_markers(run.client, written, run.unique_marker, project_id=run.project)
        refactor(run, [c for c in changes if c.action in ("move", "release")])
        run.check_stop()
        remark(run, [c for c in changes if c.action == "remark"])
        run.check_stop()
        adopted = adopt(run, [c for c in changes if c.action == "adopt"])
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
        update(run, [*(c for c in changes if c.action == "update"), *adopted])
        associate_deferred(run, deferred)
        repins = [c for c in changes if c.action == "repin"]
        for change in repins:  # (state only: no request, see STATE_ONLY_ACTIONS)
            run.record_repinned(change)
        if repins:
            run.save()
        run.check_stop()
        archive(run, [c for c in changes if c.action == "archive"])
        dedupe(run, [c for c in changes if c.action == "dedupe"])
        remove_schema(run)
        run.check_stop()  # stopped during the last phase: some of it was not sent
    except Stop:
        pass
    run.bind_project_id()
    if run.result.created and not run.stop.is_set():
        created = {run.state.records[a].object_type for a in run.result.created
                   if a in run.state.records}
        try:
            run.result.search_wait = wait_until_searchable(
                run.client, run.state, run.project, created,
                timeout_seconds=run.grace_seconds, stopped=run.stop.is_set,
            ).describe()
        except ReconcilerError as error:  # everything is applied and saved: only a note
            run.result.search_wait = (
                f"could not check that HubSpot's search lists the created records: {error}"
            )
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
    markers_checked: bool = False,
) -> ApplyResult:
    """Carry out ``plan``; the caller holds the state lock. Never raises for one record.

    ``project`` is the project's marker id. ``grace_seconds``: how long a create whose
    answer was lost is looked for by marker before it is sent again (see
    ``find_by_marker``). ``markers_checked``: the caller made ``plan`` just now from a
    refresh, which read whose records are updated and archived; otherwise (a saved plan)
    they are read back first, and one without this project's id marker is refused
    (``apply_update.provably_ours``)."""
    return _run(ApplyRun(
        plan, client=client, store=store, state=state, project=project,
        progress=progress, stop=stop, grace_seconds=grace_seconds,
        markers_checked=markers_checked,
    ))


__all__ = ["ApplyResult", "Failure", "apply_plan"]
