"""What a plan does, per object type and property: the block a text or markdown plan opens
with, so that a reviewer of 3,200 updates sees at once that they all change one property
(``calls: 3,200 to update: 3,200 × hs_call_title``), before any detail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.cli.schema_output import schema_summary
from reconciler.planning.changes import STATE_ONLY_ACTIONS, Plan

#: How each action is counted in a summary, in this order (re-pins last: they change
#: nothing in the portal).
ACTION_PHRASES: tuple[tuple[str, str], ...] = (
    ("create", "to create"), ("update", "to update"), ("archive", "to archive"),
    ("adopt", "to adopt"), ("dedupe", "to dedupe"), ("move", "to move"),
    ("release", "to release"), ("remark", "marker rewrites"),
)
#: The mark of each action in a text or markdown plan.
SYMBOLS = {
    "create": "+", "update": "~", "archive": "-", "remark": "#", "move": ">", "release": "/",
    "adopt": "=", "dedupe": "x", "repin": "*",
}
#: Most properties named per type (the rest are counted): a summary is never cut, so it
#: must stay short whatever the plan.
SHOWN_PROPERTIES = 12


@dataclass(slots=True)
class TypeSummary:
    """What a plan does to one object type."""

    object_type: str
    actions: Counter[str] = field(default_factory=Counter)
    #: property → how many updates (and adopts) change it
    properties: Counter[str] = field(default_factory=Counter)
    associations_added: int = 0
    associations_removed: int = 0


def type_summaries(plan: Plan) -> list[TypeSummary]:
    """One summary per object type the plan touches, in the plan's order."""
    by_type: dict[str, TypeSummary] = {}
    for change in plan.changes:
        summary = by_type.get(change.object_type)
        if summary is None:
            summary = by_type[change.object_type] = TypeSummary(change.object_type)
        summary.actions[change.action] += 1
        if change.action in ("update", "adopt"):
            summary.properties.update(d.name for d in change.diffs)
            summary.associations_added += len(change.add_associations)
            summary.associations_removed += len(change.remove_associations)
    return list(by_type.values())


def summary_line(plan: Plan) -> str:
    """``Plan: 12 to create, 300 to update, 0 to archive; 1,200 pins refreshed, no portal
    change.``; ``No changes. ...`` when apply has nothing to do."""
    repins = plan.count("repin")
    if not plan.has_portal_changes:
        if repins:
            return f"No changes to the portal; {repin_phrase(repins)}."
        return "No changes. The portal matches the spec."
    schema = schema_summary(plan)  # ("Schema: 2 to create. " first: apply makes it first)
    if not any(c.action not in STATE_ONLY_ACTIONS for c in plan.changes):
        # the schema alone (ids adopted, a label renamed back...)
        return schema.strip() + (f" {repin_phrase(repins).capitalize()}." if repins else "")
    remarks = plan.count("remark")
    refactors = "".join(
        f", {n} to {verb}" for verb, n in (("move", plan.count("move")),
                                          ("release", plan.count("release")),
                                          ("adopt", plan.count("adopt")),
                                          ("dedupe", plan.count("dedupe"))) if n
    )
    return schema + (
        f"Plan: {plan.count('create')} to create, {plan.count('update')} to update, "
        f"{plan.count('archive')} to archive{refactors}"
        + (f", {remarks} marker rewrite{'s' if remarks != 1 else ''}" if remarks else "")
        + (f"; {repin_phrase(repins)}." if repins else ".")
    )


def repin_phrase(count: int) -> str:
    """The one line re-pins get: they are not updates and send nothing."""
    return f"{count:,} pin{'s' if count != 1 else ''} refreshed, no portal change"


def describe(summary: TypeSummary, code: Callable[[str], str] = str) -> str:
    """What the plan does to one type, after its name: ``3,200 to update: 3,200 ×
    hs_call_title; 1,200 pins refreshed, no portal change`` (``code`` marks a property
    name up, e.g. as Markdown code)."""
    counts = [f"{summary.actions[action]:,} {phrase}"
              for action, phrase in ACTION_PHRASES if summary.actions[action]]
    text = ", ".join(counts)
    changed = [f"{n:,} × {code(name)}"
               for name, n in sorted(summary.properties.items(), key=lambda kv: (-kv[1], kv[0]))]
    if len(changed) > SHOWN_PROPERTIES:
        rest = len(changed) - SHOWN_PROPERTIES
        changed = [*changed[:SHOWN_PROPERTIES], f"{rest} more propert{'ies' if rest > 1 else 'y'}"]
    if summary.associations_added:
        changed.append(f"{summary.associations_added:,} × association added")
    if summary.associations_removed:
        changed.append(f"{summary.associations_removed:,} × association removed")
    if changed:
        text += ": " + ", ".join(changed)
    if summary.actions["repin"]:
        text += ("; " if text else "") + repin_phrase(summary.actions["repin"])
    return text


__all__ = ["SYMBOLS", "TypeSummary", "describe", "repin_phrase", "summary_line", "type_summaries"]
