"""Every refusal that must come before the first write of an apply: an unresolved owner,
an archive on a protected target, a marker rewrite there without ``--migrate-markers``,
more archives than the target allows without ``--allow-archives``, or schema deleted on a
protected target or at the cost of data without ``--allow-schema-data-loss``."""

from __future__ import annotations

from reconciler.errors import ConfigError
from reconciler.planning.changes import Plan
from reconciler.settings import ARCHIVE_PERCENT_FLOOR, Target
from reconciler.state.model import State
from reconciler.workflow.options import RunOptions


def refuse_before_writing(
    target: Target, the_plan: Plan, state: State, options: RunOptions
) -> None:
    """Every refusal that must come before the first write of an apply."""
    refuse_unresolved_owners(the_plan)
    refuse_protected_archives(target, the_plan)
    refuse_protected_remarks(target, the_plan, migrate_markers=options.migrate_markers)
    refuse_mass_archives(target, the_plan, state, allow=options.allow_archives)
    refuse_schema_losses(target, the_plan, allow=options.allow_schema_data_loss)


def refuse_schema_losses(target: Target, the_plan: Plan, *, allow: bool) -> None:
    """A saved plan is applied as it was made: a protected target still never has schema
    deleted or retyped, and a change that loses data still needs the flag (the plan may
    have been made with it, or edited)."""
    deleting = [c.address for c in the_plan.schema_changes
                if c.action in ("archive", "retype") or c.loses_data]
    if target.protected and deleting:
        raise ConfigError(
            f"target {target.name} is protected: refusing to delete or retype schema "
            f"({_some(deleting)}); a protected target never deletes schema"
        )
    losing = [c.address for c in the_plan.schema_changes if c.loses_data]
    if losing and not allow:
        raise ConfigError(
            f"this plan archives or retypes {_some(losing)}, which hold data; nothing was "
            "changed. Run apply with --allow-schema-data-loss if that is meant"
        )


def refuse_protected_archives(target: Target, the_plan: Plan) -> None:
    """A target marked ``protected: true`` never has records archived, whatever the flags:
    the whole apply is refused before anything is written."""
    if not target.protected:
        return
    archives = [c.address for c in the_plan.changes if c.action == "archive"]
    if not archives:
        return
    raise ConfigError(
        f"target {target.name} is protected: refusing to archive {_some(archives)}; put "
        f"{'it' if len(archives) == 1 else 'them'} back in the spec, or stop managing "
        f"{'it' if len(archives) == 1 else 'them'} (the portal keeps the record): list "
        "the address under `removed:` in the spec, or run `reconciler state rm ADDRESS`"
    )


def refuse_protected_remarks(target: Target, the_plan: Plan, *, migrate_markers: bool) -> None:
    """Rewriting markers writes to every managed record: on a protected target only when
    asked for with ``--migrate-markers``."""
    remarks = [c.address for c in the_plan.changes if c.action == "remark"]
    if not remarks or not target.protected or migrate_markers:
        return
    raise ConfigError(
        f"target {target.name} is protected: this plan rewrites the markers of "
        f"{len(remarks)} managed record(s) ({_some(remarks)}), a write to each of them; "
        "run `reconciler apply --migrate-markers` to do it on purpose"
    )


def refuse_mass_archives(
    target: Target, the_plan: Plan, state: State, *, allow: int | None
) -> None:
    """Stop before writing when a plan archives more than the target allows: more than
    ``max_archives`` records, or (when more than 5) more than ``max_archive_percent`` of
    the records the state manages. A spec folder checked out half-way, a wrong --state or
    a renamed key type must not empty a portal; ``--allow-archives N`` says it is meant."""
    archives = the_plan.count("archive")
    managed = len(state.records)
    too_many = archives > target.max_archives
    too_large_share = (
        archives > ARCHIVE_PERCENT_FLOOR
        and archives * 100 > target.max_archive_percent * max(managed, 1)
    )
    if not (too_many or too_large_share) or (allow is not None and allow >= archives):
        return
    limit = (
        f"more than max_archives: {target.max_archives}" if too_many
        else f"more than max_archive_percent: {target.max_archive_percent:g}% of the "
        f"{managed} records the state manages"
    )
    hint = (
        f"--allow-archives {allow} is fewer than that; " if allow is not None else ""
    )
    raise ConfigError(
        f"this plan archives {archives} records on target {target.name}, {limit}; nothing "
        f"was changed. {hint}Check the plan (`reconciler plan`), and if that is meant, run "
        f"again with --allow-archives {archives}"
    )


def refuse_unresolved_owners(the_plan: Plan) -> None:
    """Never send the ``<owner email>`` placeholder a plan shows for an unresolved owner."""
    unresolved = sorted({
        f"{change.address} ({value})"
        for change in the_plan.changes
        for name, value in change.properties_to_send.items()
        if name == "hubspot_owner_id" and value.startswith("<owner ")
    })
    if unresolved:
        raise ConfigError(
            f"the owner of {_some(unresolved)} is not resolved to an owner id; nothing was "
            "changed. Make the plan against the portal (`reconciler plan --out FILE`, not "
            "--offline) so owners are looked up, then apply it"
        )


def _some(items: list[str]) -> str:
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
