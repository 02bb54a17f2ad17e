"""`plan` and `apply` over several targets: output grouped per target, a summary table at
the end, one question for every plan, and the worst exit code.

The library side is ``reconciler.workflow.many_targets``; the commands themselves are in
``plan_commands`` and come here when more than one target is asked for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import click

from reconciler.cli.base import EXIT_BUG, EXIT_ERROR, EXIT_INTERRUPTED, render_error
from reconciler.hubspot.budget import estimate_requests
from reconciler.cli.plan_commands import EXIT_CHANGES, Interrupts, _colour, _graceful_interrupt
from reconciler.errors import ReconcilerError, SpecError
from reconciler.workflow.many_targets import (
    TargetResult,
    apply_targets,
    plan_targets,
    worst_exit_code,
)
from reconciler.planning.changes import Plan
from reconciler.state.plan_document import plan_to_json
from reconciler.cli.output import (
    MarkdownTarget,
    apply_result_json,
    full_plan_hint,
    render_apply_summary,
    render_plan_text,
    render_plans_markdown,
    render_scope_notes,
    summary_line,
)
from reconciler.workflow.runs import ApplyOutcome, PlanOutcome, RunOptions

#: The top-level ``format_version`` of the JSON document for several targets (a list of
#: per-target entries under ``targets``); a single target keeps its own document.
MANY_FORMAT_VERSION = 1


def _error_text(error: Exception) -> str:
    if isinstance(error, SpecError):
        return "; ".join(issue.render() for issue in error.issues[:5]) + (
            f"; and {len(error.issues) - 5} more" if len(error.issues) > 5 else ""
        )
    if isinstance(error, ReconcilerError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error} (run with --debug and report it)"


def _error_code(error: Exception) -> int:
    return error.exit_code if isinstance(error, ReconcilerError) else EXIT_BUG


def _show_error(name: str, error: Exception) -> None:
    if isinstance(error, ReconcilerError):
        render_error(error)
    else:
        click.secho(f"Error on target {name}: {_error_text(error)}", fg="red", err=True)


def _heading(name: str) -> str:
    return click.style(f"== target {name} ==", bold=True) if _colour() else f"== target {name} =="


def _table(rows: Sequence[tuple[str, str]]) -> list[str]:
    width = max([len("target"), *(len(name) for name, _ in rows)])
    return [f"{'target':<{width}}  result", *(f"{name:<{width}}  {text}" for name, text in rows)]


def plan_many(runs: Sequence[RunOptions], *, fmt: str, detailed_exitcode: bool) -> int:
    """``plan`` for several targets."""
    results = plan_targets(runs)
    codes: list[int] = []
    rows: list[tuple[str, str]] = []
    for result in results:
        if result.outcome is None:
            assert result.error is not None
            codes.append(_error_code(result.error))
            rows.append((result.name, f"error: {_error_text(result.error)}"))
        else:
            changes = result.outcome.plan.has_changes
            codes.append(EXIT_CHANGES if changes and detailed_exitcode else 0)
            rows.append((result.name, summary_line(result.outcome.plan)))
    if fmt == "json":
        click.echo(json.dumps(_plans_json(results), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        entries = [
            MarkdownTarget(
                r.name, r.outcome.plan if r.outcome else None,
                _error_text(r.error) if r.error is not None else None,
                r.outcome.released if r.outcome else (),
                r.outcome.needed if r.outcome else (),
            )
            for r in results
        ]
        click.echo(render_plans_markdown(entries, full_plan_hint=full_plan_hint(os.environ)),
                   nl=False)
    else:
        for result in results:
            click.echo(_heading(result.name))
            if result.outcome is None:
                assert result.error is not None
                _show_error(result.name, result.error)
            else:
                _echo_plan(result.outcome)
            click.echo("")
        for line in _table(rows):
            click.echo(line)
    return worst_exit_code(codes)


def _echo_plan(outcome: PlanOutcome) -> None:
    if outcome.in_flight:
        click.echo(
            f"Note: {outcome.in_flight} record(s) from an interrupted apply will be looked up "
            "by marker and adopted by the next apply before anything is created.\n"
        )
    for line in render_scope_notes(outcome.released, outcome.needed, outcome.target.name):
        click.echo(line + "\n")
    click.echo(render_plan_text(outcome.plan, colour=_colour()))
    if outcome.refresh is not None:
        click.echo(outcome.refresh.describe())
    if outcome.plan.has_changes:
        click.echo(estimate_requests(outcome.plan).describe(outcome.daily_remaining))


def _plans_json(results: Sequence[TargetResult[PlanOutcome]]) -> dict[str, Any]:
    return {
        "format_version": MANY_FORMAT_VERSION,
        "targets": [
            {
                "target": r.name,
                "ok": r.error is None,
                "error": _error_text(r.error) if r.error is not None else None,
                "released": list(r.outcome.released) if r.outcome else [],
                "needed": list(r.outcome.needed) if r.outcome else [],
                "plan": plan_to_json(r.outcome.plan) if r.outcome else None,
            }
            for r in results
        ],
    }


def apply_many(runs: Sequence[RunOptions], *, auto_approve: bool, as_json: bool) -> int:
    """``apply`` for several targets: one combined plan, one question."""
    interrupts = Interrupts()

    def confirm(plans: Sequence[tuple[str, Plan]]) -> bool:
        if not as_json:
            for name, the_plan in plans:
                click.echo(_heading(name))
                click.echo(render_plan_text(the_plan, colour=_colour()))
                click.echo("")
        if auto_approve:
            return True
        count = len(plans)
        return interrupts.ask(
            f"Apply these changes to {count} target{'s' if count != 1 else ''}?"
        )

    with _graceful_interrupt(interrupts):
        results = apply_targets(runs, confirm=confirm, stop=interrupts.stop)
    codes: list[int] = []
    rows: list[tuple[str, str]] = []
    for result in results:
        code, text = _apply_row(result)
        codes.append(code)
        rows.append((result.name, text))
    if as_json:
        click.echo(json.dumps(_applies_json(results, codes), indent=2, ensure_ascii=False))
        return worst_exit_code(codes)
    for result in results:
        click.echo(_heading(result.name))
        _echo_apply(result)
        click.echo("")
    for line in _table(rows):
        click.echo(line)
    return worst_exit_code(codes)


def _apply_row(result: TargetResult[ApplyOutcome]) -> tuple[int, str]:
    outcome = result.outcome
    if outcome is None:
        assert result.error is not None
        return _error_code(result.error), f"error: {_error_text(result.error)}"
    if outcome.interrupted:
        return EXIT_INTERRUPTED, "interrupted during recovery; nothing applied"
    if outcome.result is None:
        if outcome.declined:
            return 0, "cancelled"
        return 0, summary_line(outcome.plan)
    applied = outcome.result
    code = EXIT_INTERRUPTED if applied.interrupted else (0 if applied.ok else EXIT_ERROR)
    return code, render_apply_summary(applied)


def _echo_apply(result: TargetResult[ApplyOutcome]) -> None:
    outcome = result.outcome
    if outcome is None:
        assert result.error is not None
        _show_error(result.name, result.error)
        return
    for line in render_scope_notes(outcome.released, outcome.needed, outcome.target.name):
        click.echo(line)
    if outcome.interrupted:
        click.echo("Interrupted during recovery; nothing was applied. Run apply again.", err=True)
        return
    if outcome.recovered:
        click.echo(f"Recovered {len(outcome.recovered)} record(s) from an interrupted apply.")
    applied = outcome.result
    if applied is None:
        click.echo("Apply cancelled." if outcome.declined else summary_line(outcome.plan))
        return
    for failure in applied.failures:
        click.secho(failure.render(), fg="red", err=True)
    if applied.stopped_reason:
        click.secho(applied.stopped_reason, fg="red", err=True)
    click.echo(render_apply_summary(applied))
    click.echo(f"State: {outcome.target.state_path}")


def _applies_json(
    results: Sequence[TargetResult[ApplyOutcome]], codes: Sequence[int]
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for result, code in zip(results, codes):
        outcome = result.outcome
        entry: dict[str, Any] = {
            "target": result.name,
            "exit_code": code,
            "error": _error_text(result.error) if result.error is not None else None,
        }
        if outcome is not None:
            entry["released"] = list(outcome.released)
            entry["result"] = (
                apply_result_json(outcome.result, outcome.plan, outcome.new_ids)
                if outcome.result is not None
                else {"format_version": 1, "ok": not outcome.interrupted,
                      "declined": outcome.declined, "summary": outcome.plan.summary(),
                      "ids": dict(outcome.new_ids)}
            )
        entries.append(entry)
    return {"format_version": MANY_FORMAT_VERSION, "ok": all(c == 0 for c in codes),
            "targets": entries}


__all__ = ["apply_many", "plan_many"]
