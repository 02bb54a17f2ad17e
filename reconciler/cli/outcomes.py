"""How ``plan`` and ``apply`` show what came of a run: one target's outcome as it always
was, or several targets' grouped per target with a summary table at the end (text), as
one document (JSON, ``format_version`` ``MANY_FORMAT_VERSION``), or one comment
(markdown). The plans and results themselves are rendered by ``output``; errors by
``base``. Every function returns the command's exit code where it decides one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.cli.base import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    error_exit_code,
    error_text,
    render_target_error,
)
from reconciler.cli.output import (
    MarkdownTarget,
    apply_result_json,
    full_plan_hint,
    render_apply_summary,
    render_plan_json,
    render_plan_markdown,
    render_plan_text,
    render_plans_markdown,
    render_scope_notes,
    summary_line,
)
from reconciler.cli.terminal import colour
from reconciler.hubspot.budget import estimate_requests
from reconciler.identity.adoption import AdoptOutcome
from reconciler.planning.changes import Plan
from reconciler.state.plan_document import plan_to_json
from reconciler.workflow.manage import RunOutcome
from reconciler.workflow.many_targets import TargetResult, worst_exit_code
from reconciler.workflow.runs import ApplyOutcome, PlanOutcome
from reconciler.workflow.state_edits import StateEditOutcome

#: The top-level ``format_version`` of the JSON document for several targets (a list of
#: per-target entries under ``targets``); a single target keeps its own document.
MANY_FORMAT_VERSION = 1


def heading(name: str) -> str:
    return click.style(f"== target {name} ==", bold=True) if colour() else f"== target {name} =="


def _table(rows: Sequence[tuple[str, str]]) -> list[str]:
    width = max([len("target"), *(len(name) for name, _ in rows)])
    return [f"{'target':<{width}}  result", *(f"{name:<{width}}  {text}" for name, text in rows)]


def _echo_grouped(
    results: Sequence[TargetResult[Any]], rows: Sequence[tuple[str, str]], echo_one: Any
) -> None:
    """Each target under its heading, then the summary table."""
    for result in results:
        click.echo(heading(result.name))
        if result.outcome is None:
            assert result.error is not None
            render_target_error(result.name, result.error)
        else:
            echo_one(result.outcome)
        click.echo("")
    for line in _table(rows):
        click.echo(line)


# -- plan -------------------------------------------------------------------------------


def echo_warnings(warnings: Sequence[str]) -> None:
    """Located warnings about a target's settings, on stderr (any output format)."""
    for line in warnings:
        click.secho(line, fg="yellow", err=True)


def echo_plan(outcome: PlanOutcome, fmt: str) -> None:
    """One target's plan."""
    echo_warnings(outcome.warnings)
    if fmt == "json":
        click.echo(render_plan_json(outcome.plan, released=outcome.released,
                                    needed=outcome.needed))
    elif fmt == "markdown":
        click.echo(render_plan_markdown(
            outcome.plan, released=outcome.released, needed=outcome.needed,
            full_plan_hint=full_plan_hint(os.environ),
        ), nl=False)
    else:
        _echo_plan_text(outcome)


def _echo_plan_text(outcome: PlanOutcome) -> None:
    if outcome.in_flight:
        click.echo(
            f"Note: {outcome.in_flight} record(s) from an interrupted apply will be looked up "
            "by marker and adopted by the next apply before anything is created.\n"
        )
    for line in render_scope_notes(outcome.released, outcome.needed, outcome.target.name):
        click.echo(line + "\n")
    click.echo(render_plan_text(outcome.plan, colour=colour()))
    if outcome.refresh is not None:
        click.echo(outcome.refresh.describe())
    if outcome.plan.has_changes:
        click.echo(estimate_requests(outcome.plan).describe(outcome.daily_remaining))


def echo_plans(
    results: Sequence[TargetResult[PlanOutcome]], *, fmt: str, detailed_exitcode: bool
) -> int:
    """Several targets' plans; the worst exit code."""
    codes: list[int] = []
    rows: list[tuple[str, str]] = []
    for result in results:
        if result.outcome is None:
            assert result.error is not None
            codes.append(error_exit_code(result.error))
            rows.append((result.name, f"error: {error_text(result.error)}"))
        else:
            echo_warnings(result.outcome.warnings)
            changes = result.outcome.plan.has_changes
            codes.append(EXIT_CHANGES if changes and detailed_exitcode else 0)
            rows.append((result.name, summary_line(result.outcome.plan)))
    if fmt == "json":
        click.echo(json.dumps(_plans_json(results), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        entries = [
            MarkdownTarget(
                r.name, r.outcome.plan if r.outcome else None,
                error_text(r.error) if r.error is not None else None,
                r.outcome.released if r.outcome else (),
                r.outcome.needed if r.outcome else (),
            )
            for r in results
        ]
        click.echo(render_plans_markdown(entries, full_plan_hint=full_plan_hint(os.environ)),
                   nl=False)
    else:
        _echo_grouped(results, rows, _echo_plan_text)
    return worst_exit_code(codes)


def _plans_json(results: Sequence[TargetResult[PlanOutcome]]) -> dict[str, Any]:
    return {
        "format_version": MANY_FORMAT_VERSION,
        "targets": [
            {
                "target": r.name,
                "ok": r.error is None,
                "error": error_text(r.error) if r.error is not None else None,
                "released": list(r.outcome.released) if r.outcome else [],
                "needed": list(r.outcome.needed) if r.outcome else [],
                "plan": plan_to_json(r.outcome.plan) if r.outcome else None,
            }
            for r in results
        ],
    }


# -- apply ------------------------------------------------------------------------------


def echo_plans_to_confirm(plans: Sequence[tuple[str, Plan]], *, grouped: bool) -> None:
    """The plans apply asks about: one target's with its request estimate, or each of
    several under its heading."""
    for name, the_plan in plans:
        if grouped:
            click.echo(heading(name))
        click.echo(render_plan_text(the_plan, colour=colour()))
        if grouped:
            click.echo("")
        elif the_plan.has_changes:
            click.echo(estimate_requests(the_plan).describe(None))


def echo_apply(outcome: ApplyOutcome, *, as_json: bool) -> int:
    """One target's apply; its exit code."""
    echo_warnings(outcome.warnings)
    if outcome.interrupted:
        _echo_apply_text(outcome)
        return EXIT_INTERRUPTED
    if as_json:
        payload = _apply_json(outcome)
        if outcome.released:  # (only when a target released records: the usual shape stays)
            payload["released"] = list(outcome.released)
        click.echo(json.dumps(payload, indent=2))
    else:
        _echo_apply_text(outcome)
    return _apply_code(outcome)


def _echo_apply_text(outcome: ApplyOutcome) -> None:
    if outcome.interrupted:
        click.echo("Interrupted during recovery; nothing was applied. Run apply again.", err=True)
        return
    applied = outcome.result
    if applied is not None:
        for failure in applied.failures:
            click.secho(failure.render(), fg="red", err=True)
        if applied.stopped_reason:
            click.secho(applied.stopped_reason, fg="red", err=True)
    for line in render_scope_notes(outcome.released, outcome.needed, outcome.target.name):
        click.echo(line)
    if applied is None:
        if outcome.recovered:  # (with a result, its summary counts them as recovered)
            click.echo(f"Recovered {len(outcome.recovered)} record(s) from an interrupted apply.")
        if outcome.declined:
            click.echo("Apply cancelled.")
        elif outcome.plan.schema_changes:  # only removals a protected target keeps: say so
            click.echo(render_plan_text(outcome.plan, colour=colour()))
        else:
            click.echo(summary_line(outcome.plan))
        return
    click.echo(render_apply_summary(applied))
    click.echo(f"State: {outcome.target.state_path}")


def _apply_code(outcome: ApplyOutcome) -> int:
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    applied = outcome.result
    if applied is None:
        return 0
    return EXIT_INTERRUPTED if applied.interrupted else (0 if applied.ok else EXIT_ERROR)


def _apply_json(outcome: ApplyOutcome) -> dict[str, Any]:
    if outcome.result is not None:
        return apply_result_json(outcome.result, outcome.plan, outcome.new_ids)
    return {"format_version": 1, "ok": not outcome.interrupted, "declined": outcome.declined,
            "summary": outcome.plan.summary(), "ids": dict(outcome.new_ids)}


def echo_applies(results: Sequence[TargetResult[ApplyOutcome]], *, as_json: bool) -> int:
    """Several targets' applies; the worst exit code."""
    codes: list[int] = []
    rows: list[tuple[str, str]] = []
    for result in results:
        if result.outcome is not None:
            echo_warnings(result.outcome.warnings)
        code, text = _apply_row(result)
        codes.append(code)
        rows.append((result.name, text))
    if as_json:
        click.echo(json.dumps(_applies_json(results, codes), indent=2, ensure_ascii=False))
    else:
        _echo_grouped(results, rows, _echo_apply_text)
    return worst_exit_code(codes)


def _apply_row(result: TargetResult[ApplyOutcome]) -> tuple[int, str]:
    outcome = result.outcome
    if outcome is None:
        assert result.error is not None
        return error_exit_code(result.error), f"error: {error_text(result.error)}"
    if outcome.interrupted:
        return EXIT_INTERRUPTED, "interrupted during recovery; nothing applied"
    if outcome.result is None:
        return 0, "cancelled" if outcome.declined else summary_line(outcome.plan)
    return _apply_code(outcome), render_apply_summary(outcome.result)


def _applies_json(
    results: Sequence[TargetResult[ApplyOutcome]], codes: Sequence[int]
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for result, code in zip(results, codes, strict=True):
        outcome = result.outcome
        entry: dict[str, Any] = {
            "target": result.name,
            "exit_code": code,
            "error": error_text(result.error) if result.error is not None else None,
        }
        if outcome is not None:
            entry["released"] = list(outcome.released)
            entry["result"] = _apply_json(outcome)
        entries.append(entry)
    return {"format_version": MANY_FORMAT_VERSION, "ok": all(c == 0 for c in codes),
            "targets": entries}


# -- import, state rebuild, destroy, refresh-times, state rm / mv ------------------------


def echo_adopted(outcome: AdoptOutcome, verb: str, summary: str | None = None) -> None:
    for item in outcome.adopted:
        click.echo(f"{verb} {item.address} (HubSpot id {item.hubspot_id})")
    for address, ids in sorted(outcome.duplicates.items()):
        click.secho(
            f"Warning: other records also carry the marker of {address} (ids "
            f"{', '.join(ids)}); they were left alone, archive them in HubSpot if unwanted",
            fg="yellow", err=True,
        )
    if outcome.left_behind:
        shown = ", ".join(f"{a} (id {i})" for a, i in list(outcome.left_behind.items())[:10])
        more = len(outcome.left_behind) - 10
        click.secho(
            f"Warning: {len(outcome.left_behind)} record(s) the previous state mapped carry no "
            f"marker of this project's id and were not taken: {shown}"
            + (f" and {more} more" if more > 0 else "")
            + ". Records marked by the first release are migrated only from the state that "
            "maps them (restore it from the backup, then run `reconciler apply`); to adopt "
            "one on purpose, run `reconciler import ADDRESS ID`",
            fg="yellow", err=True,
        )
    if summary:
        click.echo(summary)
    echo_state_footer(outcome.target.state_path, outcome.backup)


def echo_state_footer(state_path: Path, backup: Path | None) -> None:
    click.echo(f"State: {state_path}" + (f" (previous file kept as {backup})" if backup else ""))


def echo_run_outcome(outcome: RunOutcome) -> int:
    """What a destroy, refresh-times or state rm / mv run did; its exit code."""
    result = outcome.result
    if result is None:
        click.echo("Cancelled." if outcome.declined else summary_line(outcome.plan))
        return 0
    for failure in result.failures:
        click.secho(failure.render(), fg="red", err=True)
    if result.stopped_reason:
        click.secho(result.stopped_reason, fg="red", err=True)
    click.echo(render_apply_summary(result))
    echo_state_footer(outcome.target.state_path, outcome.backup)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return 0 if result.ok else EXIT_ERROR


def echo_state_edit(outcome: StateEditOutcome, message: str) -> None:
    click.echo(message)
    echo_state_footer(outcome.target.state_path, outcome.backup)
