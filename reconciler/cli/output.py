"""Plans and apply results as text for people and JSON for machines (Markdown plans:
``reconciler.cli.markdown``; the per-type summary both open with: ``plan_summary``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.applying.run import ApplyResult
from reconciler.cli.markdown import (
    MARKDOWN_LIMIT,
    MarkdownTarget,
    full_plan_hint,
    render_plan_markdown,
    render_plans_markdown,
)
from reconciler.cli.plan_summary import (
    SYMBOLS,
    describe,
    repin_phrase,
    summary_line,
    type_summaries,
)
from reconciler.cli.schema_output import schema_lines
from reconciler.hubspot.budget import estimate_requests
from reconciler.planning.changes import Change, Plan, PropertyDiff
from reconciler.state.plan_document import plan_to_json

#: Above this many changes the text plan lists a create (or archive) on one line: the
#: summary at the top names what they set; updates always show every property they change.
DETAILED_LIMIT = 200
#: From this many changes on (or with any re-pin) a text plan opens with its summary per
#: type and property.
SUMMARY_FROM = 10

_COLOURS = {
    "create": "32", "update": "33", "archive": "31", "remark": "36", "dim": "2", "bold": "1",
    "move": "36", "release": "35", "adopt": "34", "dedupe": "31", "repin": "2",
}


def _style(text: str, colour: str, enabled: bool) -> str:
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if enabled else text


def _quote(value: str | None, timezone: str | None = None) -> str:
    """A property value as the plan shows it; an instant also in the project's timezone."""
    if value is None:
        return "(unset)"
    short = value if len(value) <= 80 else value[:77] + "..."
    quoted = json.dumps(short, ensure_ascii=False)
    local = _local_time(value, timezone) if timezone else None
    return f"{quoted} ({local})" if local else quoted


def _local_time(value: str, timezone: str) -> str | None:
    """``2026-12-01T09:00:00.000Z`` → ``Tue 2026-12-01 10:00 Europe/Berlin``; None if
    ``value`` is not an instant (a date alone, a number, text)."""
    if len(value) < 16 or value[10:11] != "T" or not value[:4].isdigit():
        return None
    try:
        from zoneinfo import ZoneInfo

        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if instant.tzinfo is None:
            return None
        local = instant.astimezone(ZoneInfo(timezone))
    except (ValueError, KeyError, OSError):
        return None
    seconds = ":%S" if local.second else ""
    return local.strftime(f"%a %Y-%m-%d %H:%M{seconds} ") + timezone


def render_plan_text(plan: Plan, *, colour: bool = False) -> str:
    """Terraform-like: + create, ~ update (old → new per property), - archive."""
    lines: list[str] = []
    drifted = [c for c in plan.changes if c.drift]
    if drifted:
        lines.append(_style("Changed in the portal since the last apply:", "bold", colour))
        for change in drifted:
            lines.append(f"  {change.address}")
            for diff in change.drift:
                lines.append(
                    f"      {diff.name}: {_quote(diff.before, plan.timezone)} → "
                    f"{_quote(diff.after, plan.timezone)}"
                )
        lines.append("")
    if plan.has_changes and (len(plan.changes) >= SUMMARY_FROM or plan.count("repin")):
        lines.append(_style("Summary:", "bold", colour))
        lines += [f"  {s.object_type}: {describe(s)}" for s in type_summaries(plan)]
        lines.append("")
    if plan.has_portal_changes:
        where = f" on target {plan.target}" if plan.target else ""
        lines.append(f"Reconciler will perform these actions{where}:")
        lines.append("")
        detailed = len(plan.changes) <= DETAILED_LIMIT
        lines.extend(schema_lines(plan, colour=colour, detailed=detailed))
        for change in plan.changes:
            if change.action == "repin":  # (state only: the summary counts them)
                continue
            lines.extend(_change_lines(change, colour=colour, detailed=detailed,
                                       timezone=plan.timezone))
        if plan.has_portal_changes and any(c.action != "repin" for c in plan.changes):
            # (the schema's lines end with their own blank line)
            lines.append("")
    elif plan.schema_changes:  # only removals a protected target keeps: say so
        lines.extend(schema_lines(plan, colour=colour))
    lines.extend(duplicate_lines(plan))
    lines.append(_style(summary_line(plan), "bold", colour))
    return "\n".join(lines)


def duplicate_lines(plan: Plan) -> list[str]:
    """Markers carried by more than one record, and what to do about them."""
    if not plan.duplicates:
        return []
    deduping = plan.count("dedupe")
    lines = [f"{len(plan.duplicates)} marker(s) carried by more than one record (the first "
             "id is kept):"]
    for address, ids in sorted(plan.duplicates.items())[:20]:
        lines.append(f"  {address}: {', '.join(ids)}")
    if len(plan.duplicates) > 20:
        lines.append(f"  ... and {len(plan.duplicates) - 20} more")
    if not deduping:
        lines.append("Archive the extra records with `reconciler apply --dedupe`.")
    return [*lines, ""]


def _change_lines(
    change: Change, *, colour: bool, detailed: bool, timezone: str | None = None
) -> list[str]:
    symbol = _style(SYMBOLS[change.action], change.action, colour)
    notes = []
    if change.hubspot_id:
        notes.append(f"id {change.hubspot_id}")
    notes.append(change.reason)
    if change.source is not None:
        notes.append(f"{change.source.file}:{change.source.line}")
    if change.calendar is not None:
        notes.append("calendar event")
    head = f"  {symbol} {change.address}  " + _style(f"({'; '.join(notes)})", "dim", colour)
    if not detailed and change.action in ("create", "archive", "dedupe"):
        return [head]
    lines = [head]
    if change.action in ("remark", "move", "release"):
        what = {"remark": "marker rewrite", "move": f"move from {change.moved_from}",
                "release": "release: stop managing, never archived"}[change.action]
        lines[0] = f"  {symbol} {change.address}  " + _style(
            f"({what}; {'; '.join(notes)})", "dim", colour
        )
        for diff in change.diffs:
            lines.append(f"      {diff.name}: {_quote(diff.before)} → {_quote(diff.after)}")
    elif change.action == "create":
        for diff in change.diffs:
            lines.append(f"      {diff.name}: {_quote(diff.after, timezone)}")
    elif change.action in ("update", "adopt"):
        for diff in change.diffs:
            lines.append(
                f"      {diff.name}: {_quote(diff.before, timezone)} → "
                f"{_quote(diff.after, timezone)}"
            )
    for ref in change.add_associations:
        target = ref.to_address or f"{ref.to_type} id {ref.to_id}"
        lines.append(f"      associations: + {target}")
    for applied in change.remove_associations:
        target = f"{applied.to_type}/{applied.to_key}" if applied.to_key else applied.to_id
        lines.append(f"      associations: - {target}")
    return lines


def render_scope_notes(
    released: Sequence[str], needed: Sequence[str], target: str | None
) -> list[str]:
    """Text lines for what a target's include/exclude released and what --only pulled in."""
    lines: list[str] = []
    if released:
        lines.append(
            f"Released {len(released)} record(s) that target {target} no longer includes "
            f"(no longer managed; the portal keeps them, nothing is archived): "
            + ", ".join(released[:10])
            + (f" and {len(released) - 10} more" if len(released) > 10 else "")
        )
    if needed:
        lines.append(
            "Also included, as records --only names are associated with them and they are "
            "not created yet: " + ", ".join(needed)
        )
    return lines


def render_plan_json(
    plan: Plan, *, released: Sequence[str] = (), needed: Sequence[str] = ()
) -> str:
    """``plan --json``: the saved-plan document; ``released`` (records the target no longer
    includes) and ``needed`` (creates --only pulled in) are added only when there are any,
    and ``estimate`` (the requests its apply takes) when it changes anything."""
    document = plan_to_json(plan)
    if plan.has_changes:  # (what the text plan's "Apply will take about N request(s)" says)
        document["estimate"] = {"requests": estimate_requests(plan).total}
    if released:
        document["released"] = list(released)
    if needed:
        document["needed"] = list(needed)
    return json.dumps(document, indent=2, ensure_ascii=False)


def apply_result_json(
    result: ApplyResult, plan: Plan, new_ids: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``apply --json``; ``ids`` maps each record created (or recovered) to its new id."""
    return {
        "format_version": 1,
        "ok": result.ok,
        "target": plan.target,
        "created": result.created,
        "updated": result.updated,
        "archived": result.archived,
        "adopted": result.adopted,
        "moved": result.moved,
        "released": result.released,
        "remarked": result.remarked,
        "deduped": result.deduped,
        "repinned": result.repinned,
        "schema": result.schema,
        "search_wait": result.search_wait,
        "notes": result.notes,
        "ids": dict(sorted((new_ids or {}).items())),
        "failed": [
            {
                "address": f.address,
                "message": f.message,
                "skipped": f.skipped,
                "file": f.source.file if f.source else None,
                "line": f.source.line if f.source else None,
            }
            for f in result.failures
        ],
        "interrupted": result.interrupted,
        "stopped_reason": result.stopped_reason,
        "requests": result.requests,
    }


def render_apply_summary(result: ApplyResult) -> str:
    parts = [
        f"{len(result.created)} created",
        f"{len(result.updated)} updated",
        f"{len(result.archived)} archived",
    ]
    if result.adopted:  # (found by marker: adopted, or recovered after an interrupted apply)
        parts.append(f"{len(result.adopted)} recovered")
    if result.deduped:
        parts.append(f"{len(result.deduped)} duplicate(s) archived")
    if result.repinned:  # (state only: no request)
        parts.append(repin_phrase(len(result.repinned)))
    if result.moved:
        parts.append(f"{len(result.moved)} moved")
    if result.released:
        parts.append(f"{len(result.released)} released")
    if result.remarked:  # (each record's two markers, counted once per record)
        count = len(result.remarked)
        parts.append(f"{count} marker{'s' if count != 1 else ''} rewritten")
    failed = [f for f in result.failures if not f.skipped]
    skipped = [f for f in result.failures if f.skipped]
    if failed:
        parts.append(f"{len(failed)} failed")
    if skipped:
        parts.append(f"{len(skipped)} skipped")
    head = "Apply complete" if result.ok else (
        "Apply interrupted" if result.interrupted else "Apply finished with errors"
    )
    if result.schema:
        parts.insert(0, f"{len(result.schema)} schema change(s)")
    wait = f" {result.search_wait}" if result.search_wait else ""
    notes = "".join(f"\n  {note}" for note in result.notes)
    return f"{head}: {', '.join(parts)} ({result.requests} HTTP requests).{wait}{notes}"


def render_failures(failures: Iterable[Any]) -> list[str]:
    return [f.render() for f in failures]


__all__ = [
    "MARKDOWN_LIMIT",
    "MarkdownTarget",
    "PropertyDiff",
    "full_plan_hint",
    "render_plan_markdown",
    "render_plans_markdown",
    "apply_result_json",
    "render_apply_summary",
    "render_plan_json",
    "render_plan_markdown",
    "render_plans_markdown",
    "render_plan_text",
    "summary_line",
]
