"""A plan's schema changes for people: first in the text plan, first in the markdown one.

    + group companies.demo_info
    + property companies.demo_segment  (the tool's marker properties, ...)
    ~ property companies.demo_segment
        options: + ent "Enterprise (order 1)"
    + pipeline deals/emea (3 stages)
    = pipeline deals/emea  (adopted: "EMEA Sales" exists, id 1234)
    + label contacts→companies "Champion" (inverse "Championed by")
    - property companies/old_segment  (listed in schema.removed)
"""

from __future__ import annotations

import json
from collections.abc import Callable

from reconciler.planning.changes import Plan
from reconciler.planning.schema_changes import SchemaChange

_SYMBOLS = {"create": "+", "update": "~", "adopt": "=", "retype": "!", "archive": "-",
            "keep": " "}
_COLOURS = {"create": "32", "update": "33", "adopt": "34", "retype": "31", "archive": "31",
            "keep": "2"}


def _style(text: str, action: str, enabled: bool) -> str:
    return f"\x1b[{_COLOURS[action]}m{text}\x1b[0m" if enabled else text


def _dim(text: str, enabled: bool) -> str:
    return f"\x1b[2m{text}\x1b[0m" if enabled else text


def describe(change: SchemaChange) -> str:
    """``property companies.demo_segment``, ``pipeline deals/emea (3 stages)``,
    ``label contacts→companies "Champion" (inverse "Championed by")``."""
    kind = change.kind
    if kind == "label":
        label = change.body.get("label")
        inverse = change.body.get("inverseLabel") or change.body.get("inverse")
        text = f"label {change.key}: {change.object_type}→{change.to_type}"
        if label:
            text += f" {json.dumps(label, ensure_ascii=False)}"
        if inverse:
            text += f" (inverse {json.dumps(inverse, ensure_ascii=False)})"
        return text
    if kind in ("property", "group", "marker"):
        name = "property" if kind == "marker" else kind
        return f"{name} {change.object_type}.{change.key}"
    if kind == "pipeline" and change.action == "create":
        count = len(change.body.get("stages") or [])
        return f"pipeline {change.address} ({count} stage{'s' if count != 1 else ''})"
    return f"{kind} {change.address}"


def _note(change: SchemaChange) -> str:
    notes = [change.reason]
    if change.id and change.action != "create":
        notes.append(f"id {change.id}")
    if change.source is not None:
        notes.append(f"{change.source.file}:{change.source.line}")
    return "; ".join(notes)


def schema_lines(plan: Plan, *, colour: bool = False, detailed: bool = True) -> list[str]:
    """The text plan's schema part (nothing when the plan changes no schema)."""
    if not plan.schema_changes:
        return []
    lines = ["Schema:"]
    for change in plan.schema_changes:
        symbol = _style(_SYMBOLS[change.action], change.action, colour)
        lines.append(f"  {symbol} {describe(change)}  " + _dim(f"({_note(change)})", colour))
        if not detailed:
            continue
        for diff in change.diffs:
            if diff.field.startswith("option "):
                value = diff.field.partition(" ")[2]
                if diff.before is None:
                    lines.append(f"      options: + {value} {_quote(diff.after)}")
                elif diff.after is None:
                    lines.append(f"      options: - {value} {_quote(diff.before)}")
                else:
                    lines.append(f"      options: ~ {value}: {_quote(diff.before)} → "
                                 f"{_quote(diff.after)}")
            else:
                lines.append(f"      {diff.field}: {_quote(diff.before)} → {_quote(diff.after)}")
    return [*lines, ""]


def _quote(value: str | None) -> str:
    return "(unset)" if value is None else json.dumps(value, ensure_ascii=False)


def schema_summary(plan: Plan) -> str:
    """``Schema: 2 to create, 1 to adopt.`` for the summary line ("" when none). The tool's
    marker properties have their plan lines but are not counted: the count is the spec's
    schema, so a spec without one keeps the summary it always had."""
    counts: dict[str, int] = {}
    for change in plan.schema_changes:
        if change.runs and change.kind != "marker":
            counts[change.action] = counts.get(change.action, 0) + 1
    if not counts:
        return ""
    words = {"create": "to create", "update": "to update", "adopt": "to adopt",
             "retype": "to retype", "archive": "to archive"}
    return "Schema: " + ", ".join(f"{n} {words[a]}" for a, n in counts.items()) + ". "


def schema_markdown_rows(plan: Plan, escape: Callable[[str], str]) -> list[str]:
    """One table row per schema change, for the markdown plan's Schema section (every
    text from the project passed through ``escape``)."""
    return [f"| {escape(_SYMBOLS[c.action].strip() or '·')} | {escape(describe(c))} | "
            f"{escape(_note(c))} |" for c in plan.schema_changes]


__all__ = ["describe", "schema_lines", "schema_markdown_rows", "schema_summary"]
