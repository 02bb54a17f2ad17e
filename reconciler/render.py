"""Plans and apply results as text for people (terminal, Markdown) and JSON for machines."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.apply import ApplyResult
from reconciler.planner import Change, Plan, PropertyDiff, plan_to_json

#: Above this many changes the text plan lists one line per change instead of every property.
DETAILED_LIMIT = 200

_COLOURS = {
    "create": "32", "update": "33", "archive": "31", "remark": "36", "dim": "2", "bold": "1",
}
_SYMBOLS = {"create": "+", "update": "~", "archive": "-", "remark": "#"}


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


def summary_line(plan: Plan) -> str:
    if not plan.has_changes:
        return "No changes. The portal matches the spec."
    remarks = plan.count("remark")
    return (
        f"Plan: {plan.count('create')} to create, {plan.count('update')} to update, "
        f"{plan.count('archive')} to archive"
        + (f", {remarks} marker rewrite{'s' if remarks != 1 else ''}." if remarks else ".")
    )


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
    if plan.has_changes:
        where = f" on target {plan.target}" if plan.target else ""
        lines.append(f"Reconciler will perform these actions{where}:")
        lines.append("")
        detailed = len(plan.changes) <= DETAILED_LIMIT
        for change in plan.changes:
            lines.extend(_change_lines(change, colour=colour, detailed=detailed,
                                       timezone=plan.timezone))
        lines.append("")
    lines.append(_style(summary_line(plan), "bold", colour))
    return "\n".join(lines)


def _change_lines(
    change: Change, *, colour: bool, detailed: bool, timezone: str | None = None
) -> list[str]:
    symbol = _style(_SYMBOLS[change.action], change.action, colour)
    notes = []
    if change.hubspot_id:
        notes.append(f"id {change.hubspot_id}")
    notes.append(change.reason)
    if change.source is not None:
        notes.append(f"{change.source.file}:{change.source.line}")
    if change.calendar is not None:
        notes.append("calendar event")
    head = f"  {symbol} {change.address}  " + _style(f"({'; '.join(notes)})", "dim", colour)
    if not detailed:
        return [head]
    lines = [head]
    if change.action == "remark":
        lines[0] = f"  {symbol} {change.address}  " + _style(
            f"(marker rewrite; {'; '.join(notes)})", "dim", colour
        )
        for diff in change.diffs:
            lines.append(f"      {diff.name}: {_quote(diff.before)} → {_quote(diff.after)}")
    elif change.action == "create":
        for diff in change.diffs:
            lines.append(f"      {diff.name}: {_quote(diff.after, timezone)}")
    elif change.action == "update":
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


def render_plan_markdown(plan: Plan) -> str:
    """For a pull-request comment: a summary, then a collapsible table of changes.

    Everything that comes from the project (file names, keys, property names, reasons, the
    target's name) is escaped: a file named ``x\n**No changes**.yaml`` must not write its
    own line into the comment.
    """
    lines = [f"### reconciler plan{f' for {_md(plan.target)}' if plan.target else ''}", ""]
    lines.append(f"**{summary_line(plan)}**")
    if plan.has_changes:
        lines += ["", "<details><summary>Changes</summary>", "",
                  "| | record | what | where |", "|---|---|---|---|"]
        for change in plan.changes:
            if change.action == "update":
                what = ", ".join(_md(d.name) for d in change.diffs[:6])
            elif change.action == "remark":
                what = "marker rewrite"
            else:
                what = _md(change.reason)
            where = _md(f"{change.source.file}:{change.source.line}") if change.source else ""
            lines.append(
                f"| {_md(_SYMBOLS[change.action])} | {_md(change.address)} | {what} | {where} |"
            )
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


#: Characters with a meaning in GitHub-flavoured Markdown (tables included).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def _md(text: str) -> str:
    """``text`` as literal Markdown on one line: specials backslash-escaped, HTML escaped,
    line breaks and other control characters turned into spaces."""
    one_line = "".join(" " if ord(c) < 32 or c in "\u2028\u2029\x7f" else c for c in text)
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def render_plan_json(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), indent=2, ensure_ascii=False)


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
    if result.adopted:
        parts.append(f"{len(result.adopted)} recovered")
    failed = [f for f in result.failures if not f.skipped]
    skipped = [f for f in result.failures if f.skipped]
    if failed:
        parts.append(f"{len(failed)} failed")
    if skipped:
        parts.append(f"{len(skipped)} skipped")
    head = "Apply complete" if result.ok else (
        "Apply interrupted" if result.interrupted else "Apply finished with errors"
    )
    return f"{head}: {', '.join(parts)} ({result.requests} HTTP requests)."


def render_failures(failures: Iterable[Any]) -> list[str]:
    return [f.render() for f in failures]


__all__ = [
    "PropertyDiff",
    "apply_result_json",
    "render_apply_summary",
    "render_plan_json",
    "render_plan_markdown",
    "render_plan_text",
    "summary_line",
]
