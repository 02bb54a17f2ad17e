"""Archiving records removed from the spec (HubSpot's recycle bin), activities first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from reconciler.applying.run import ApplyRun
from reconciler.applying.update import by_type, provably_ours
from reconciler.errors import ReconcilerError
from reconciler.planning.changes import Change


def archive(run: ApplyRun, changes: list[Change]) -> None:
    """Archive the records removed from the spec, each only while it carries this
    project's id marker (``provably_ours``: read back unless this run's refresh read it)."""
    # Reverse write order: meetings and calls before the contacts they hang on.
    for object_type, group in by_type(changes, reverse=True):
        archive_by_id(run, object_type, provably_ours(run, object_type, group, "archived"),
                      run.record_archived)


def archive_by_id(
    run: ApplyRun, object_type: str, changes: Sequence[Change],
    on_success: Callable[[Change], None],
) -> None:
    """Batch-archive records by id (100 a request); ``on_success`` records each batch
    HubSpot accepted, and the state is saved after every batch."""
    by_id = {str(c.hubspot_id): c for c in changes}
    for chunk, outcome in run.client.run_batches(
        partial(run.client.batch_archive, object_type), list(by_id), stop=run.stop
    ):
        chunk_changes = [by_id[i] for i in chunk]
        if isinstance(outcome, ReconcilerError):
            run.fail_batch(chunk_changes, outcome)
            continue
        for change in chunk_changes:
            on_success(change)
        run.save()
        run.progress(len(chunk))

__all__ = ["archive", "archive_by_id"]
