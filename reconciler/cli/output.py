"""Plans and apply results as text for people (terminal, Markdown) and JSON for machines."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.applying.run import ApplyResult
from reconciler.cli.schema_output import schema_lines, schema_markdown_rows, schema_summary
from reconciler.planning.changes import Change, Plan, PropertyDiff
from reconciler.state.plan_document import plan_to_json

#: Above this many changes the text plan lists one line per change instead of every property.
DETAILED_LIMIT = 200

_COLOURS = {
    "create": "32", "update": "33", "archive": "31", "remark": "36", "dim": "2", "bold": "1",
    "move": "36", "release": "35", "adopt": "34", "dedupe": "31",
}
_SYMBOLS = {
    "create": "+", "update": "~", "archive": "-", "remark": "#", "move": ">", "release": "/",
    "adopt": "=", "dedupe": "x",
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


def summary_line(plan: Plan) -> str:
    if not plan.has_changes:
        return "No changes. The portal matches the spec."
    if not plan.changes:  # the schema alone (ids adopted, a label renamed back...)
        return schema_summary(plan).strip()
    remarks = plan.count("remark")
    refactors = "".join(
        f", {n} to {verb}" for verb, n in (("move", plan.count("move")),
                                          ("release", plan.count("release")),
                                          ("adopt", plan.count("adopt")),
                                          ("dedupe", plan.count("dedupe"))) if n
    )
    return schema_summary(plan) + (
        f"Plan: {plan.count('create')} to create, {plan.count('update')} to update, "
        f"{plan.count('archive')} to archive{refactors}"
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
        lines.extend(schema_lines(plan, colour=colour, detailed=detailed))
        for change in plan.changes:
            lines.extend(_change_lines(change, colour=colour, detailed=detailed,
                                       timezone=plan.timezone))
        if plan.changes:  # (the schema's lines end with their own blank line)
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


#: GitHub refuses a comment over 65,536 characters; a markdown plan stays under this.
MARKDOWN_LIMIT = 65_000
_CELL = 200  # longest text of one table cell (a key can be long)


@dataclass(frozen=True, slots=True)
class MarkdownTarget:
    """One target's part of a markdown plan: its plan, or the error that stopped it."""

    target: str
    plan: Plan | None
    error: str | None = None
    released: tuple[str, ...] = ()
    needed: tuple[str, ...] = ()


def render_plan_markdown(
    plan: Plan, *, released: tuple[str, ...] = (), needed: tuple[str, ...] = (),
    full_plan_hint: str | None = None, limit: int = MARKDOWN_LIMIT,
) -> str:
    """For a pull-request comment: see ``render_plans_markdown``."""
    entry = MarkdownTarget(plan.target or "", plan, None, released, needed)
    return render_plans_markdown([entry], full_plan_hint=full_plan_hint, limit=limit)


def render_plans_markdown(
    entries: Sequence[MarkdownTarget], *, full_plan_hint: str | None = None,
    limit: int = MARKDOWN_LIMIT,
) -> str:
    """For a pull-request comment: a summary table (a row per target), then per target its
    changes by object type in collapsible sections; never more than ``limit`` characters
    (the changes that do not fit are counted, with where to find the full plan).

    Everything that comes from the project (file names, keys, property names, reasons, the
    target's name) is escaped: a file named ``x\n**No changes**.yaml`` must not write its
    own line into the comment.
    """
    single = len(entries) == 1
    title = "### reconciler plan" + (
        f" for {_md(entries[0].target)}" if single and entries[0].target else ""
    )
    head = [title, "", "| target | create | update | archive | unchanged | released | result |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for entry in entries:
        head.append(_summary_row(entry))
    # Each target: a fixed frame (heading, summary, section openers) and rows that fit.
    frames: list[tuple[list[str], list[tuple[list[str], list[str], list[str]]]]] = []
    for entry in entries:
        frames.append(_target_frame(entry, heading=not single))
    fixed = len("\n".join(head)) + sum(
        len("\n".join(top)) + sum(len("\n".join(o)) + len("\n".join(c)) + 4
                                    for o, _, c in sections) + 4
        for top, sections in frames
    )
    budget = limit - fixed - 600  # room for the note on what is left out
    left_out = {"changes": 0, "released": 0}
    lines = list(head)
    for top, sections in frames:
        lines += ["", *top]
        for opener, rows, closer in sections:
            lines += ["", *opener]
            kind = "released" if opener[0].startswith("<details><summary>released") else "changes"
            for row in rows:
                if sum(left_out.values()) or len(row) + 1 > budget:
                    left_out[kind] += 1
                    continue
                budget -= len(row) + 1
                lines.append(row)
            lines += closer
    if sum(left_out.values()):
        where = full_plan_hint or (
            "run `reconciler plan` (or `reconciler plan --out plan.json`) for the full plan"
        )
        changes, released = left_out["changes"], left_out["released"]
        what = f"{changes} more change{'s' if changes != 1 else ''}" + (
            f" and {released} released record{'s' if released != 1 else ''}" if released else ""
        )
        lines += ["", f"**{what} not shown** "
                  f"(a comment holds at most {limit:,} characters); {where}."]
    text = "\n".join(lines) + "\n"
    if len(text) > limit:  # only with hundreds of targets: the frames alone do not fit
        cut = text.rfind("\n", 0, limit - 200)
        text = text[:cut] + "\n\n**The rest of this plan is not shown** (a comment holds " \
            f"at most {limit:,} characters).\n"
    return text


def _summary_row(entry: MarkdownTarget) -> str:
    name = _md(entry.target) or "(default)"
    if entry.plan is None:
        return f"| {name} | | | | | | **error** |"
    plan = entry.plan
    result = "changes" if plan.has_changes else "no changes"
    return (
        f"| {name} | {plan.count('create')} | {plan.count('update')} | "
        f"{plan.count('archive')} | {len(plan.unchanged)} | {len(entry.released)} | {result} |"
    )


def _target_frame(
    entry: MarkdownTarget, *, heading: bool
) -> tuple[list[str], list[tuple[list[str], list[str], list[str]]]]:
    top = [f"#### {_md(entry.target)}", ""] if heading else []
    if entry.plan is None:
        text = entry.error or "failed"
        text = text if len(text) <= 500 else text[:497] + "..."
        return [*top, f"**Error:** {_md(text)}"], []
    plan = entry.plan
    top.append(f"**{summary_line(plan)}**")
    if entry.needed:
        top += ["", "Also included, as records --only names are associated with them and "
                f"they are not created yet: {_md(', '.join(entry.needed))}"]
    sections: list[tuple[list[str], list[str], list[str]]] = []
    if plan.schema_changes:  # first: apply makes the schema before the records
        opener = [f"<details><summary>schema: {len(plan.schema_changes)} change(s)</summary>",
                  "", "| | what | why |", "|---|---|---|"]
        sections.append((opener, schema_markdown_rows(plan, _md), ["", "</details>"]))
    by_type: dict[str, list[Change]] = {}
    for change in plan.changes:
        by_type.setdefault(change.object_type, []).append(change)
    for object_type, changes in by_type.items():
        counts = [
            f"{n} {label}" for action, label in (
                ("create", "to create"), ("update", "to update"), ("archive", "to archive"),
                ("remark", "marker rewrites"), ("move", "to move"), ("release", "to release"),
            ) if (n := sum(1 for c in changes if c.action == action))
        ]
        opener = [f"<details><summary>{_md(object_type)}: {', '.join(counts)}</summary>", "",
                  "| | record | what | where |", "|---|---|---|---|"]
        sections.append((opener, [_change_row(c) for c in changes], ["", "</details>"]))
    if entry.released:
        opener = [
            f"<details><summary>released: {len(entry.released)} (this target no longer "
            "includes them; the portal keeps them, nothing is archived)</summary>", "",
        ]
        rows = [f"- {_md(_cut(address))}" for address in entry.released]
        sections.append((opener, rows, ["", "</details>"]))
    return top, sections


def _change_row(change: Change) -> str:
    if change.action == "update":
        what = _md(_cut(", ".join(d.name for d in change.diffs[:6])))
    elif change.action == "remark":
        what = "marker rewrite"
    elif change.action == "move":
        what = _md(_cut(f"moved from {change.moved_from}"))
    else:
        what = _md(_cut(change.reason))
    where = _md(_cut(f"{change.source.file}:{change.source.line}")) if change.source else ""
    return f"| {_md(_SYMBOLS[change.action])} | {_md(_cut(change.address))} | {what} | {where} |"


def _cut(text: str) -> str:
    return text if len(text) <= _CELL else text[: _CELL - 3] + "..."


def full_plan_hint(environ: Mapping[str, str]) -> str | None:
    """Where a pull request's reader finds the full plan: in GitHub Actions, the run's
    page (its artifacts); None elsewhere."""
    server = environ.get("GITHUB_SERVER_URL", "")
    repository = environ.get("GITHUB_REPOSITORY", "")
    run_id = environ.get("GITHUB_RUN_ID", "")
    url = f"{server}/{repository}/actions/runs/{run_id}"
    if not (server and repository and run_id) or not re.fullmatch(r"https://[\w.:/-]+", url):
        return None
    return f"the full plan is in the artifacts of [this workflow run]({url})"


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


#: Characters with a meaning in GitHub-flavoured Markdown (tables included).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def _md(text: str) -> str:
    """``text`` as literal Markdown on one line: specials backslash-escaped, HTML escaped,
    line breaks and other control characters turned into spaces."""
    one_line = "".join(" " if ord(c) < 32 or c in "\u2028\u2029\x7f" else c for c in text)
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def render_plan_json(
    plan: Plan, *, released: Sequence[str] = (), needed: Sequence[str] = ()
) -> str:
    """``plan --json``: the saved-plan document; ``released`` (records the target no longer
    includes) and ``needed`` (creates --only pulled in) are added only when there are any."""
    document = plan_to_json(plan)
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
    "PropertyDiff",
    "apply_result_json",
    "render_apply_summary",
    "render_plan_json",
    "render_plan_markdown",
    "render_plans_markdown",
    "render_plan_text",
    "summary_line",
]
