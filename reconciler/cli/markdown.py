"""Plans as Markdown for a pull-request comment: a summary table (a row per target), then per
target what it does per object type and property (never cut), then its changes in
collapsible sections, one per object type, as far as GitHub's comment limit allows.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.cli.plan_summary import (
    SYMBOLS,
    describe,
    repin_phrase,
    summary_line,
    type_summaries,
)
from reconciler.cli.schema_output import schema_markdown_rows
from reconciler.planning.changes import Change, Plan

#: GitHub refuses a comment over 65,536 characters; a markdown plan stays under this.
MARKDOWN_LIMIT = 65_000
_CELL = 200  # longest text of one table cell (a key can be long)
_VALUE = 60  # longest value shown in a row's "what"


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
    """For a pull-request comment: a summary table (a row per target), then per target
    what it does per type and property, then its changes by object type in collapsible
    sections; never more than ``limit`` characters. The summaries are never cut: the
    changes that do not fit are counted, with where to find the full plan.

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
    # Each target: a fixed frame (heading, summaries, section openers) and rows that fit.
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
    result = "changes" if plan.has_portal_changes else (
        "pins refreshed" if plan.has_changes else "no changes")
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
    top.append(f"**{_md_plain(summary_line(plan))}**")
    if plan.has_changes:
        top.append("")
        top += [f"- {_md(s.object_type)}: {describe(s, _code)}" for s in type_summaries(plan)]
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
        if change.action != "repin":  # (counted in the summary: no row says nothing)
            by_type.setdefault(change.object_type, []).append(change)
    for summary in type_summaries(plan):
        changes = by_type.get(summary.object_type)
        if not changes:
            continue
        counts = ", ".join(
            f"{n} {phrase}" for action, phrase in (
                ("create", "to create"), ("update", "to update"), ("archive", "to archive"),
                ("adopt", "to adopt"), ("dedupe", "to dedupe"), ("remark", "marker rewrites"),
                ("move", "to move"), ("release", "to release"),
            ) if (n := summary.actions[action])
        )
        opener = [f"<details><summary>{_md(summary.object_type)}: {counts}</summary>", "",
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
    if change.action in ("update", "adopt") and (
        change.diffs or change.add_associations or change.remove_associations
    ):
        what = _what_changes(change)
    elif change.action == "remark":
        what = "marker rewrite"
    elif change.action == "move":
        what = _md(_cut(f"moved from {change.moved_from}"))
    else:
        what = _md(_cut(change.reason))
    where = _md(_cut(f"{change.source.file}:{change.source.line}")) if change.source else ""
    return f"| {_md(SYMBOLS[change.action])} | {_md(_cut(change.address))} | {what} | {where} |"


def _what_changes(change: Change) -> str:
    """An update's properties, old → new (values shortened), and its association changes."""
    parts = [
        f"{_code(d.name)}: {_md(_short(d.before))} → {_md(_short(d.after))}"
        for d in change.diffs[:4]
    ]
    if len(change.diffs) > 4:
        parts.append(f"{len(change.diffs) - 4} more")
    parts += [f"\\+ association {_md(_cut(r.to_address or f'{r.to_type} id {r.to_id}'))}"
              for r in change.add_associations[:2]]
    parts += [f"\\- association {_md(_cut(f'{a.to_type}/{a.to_key}' if a.to_key else a.to_id))}"
              for a in change.remove_associations[:2]]
    return "; ".join(parts)


def _short(value: str | None) -> str:
    if value is None:
        return "(unset)"
    one_line = " ".join(value.split())
    return one_line if len(one_line) <= _VALUE else one_line[: _VALUE - 3] + "..."


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


#: Characters with a meaning in GitHub-flavoured Markdown (tables included).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def _md(text: str) -> str:
    """``text`` as literal Markdown on one line: specials backslash-escaped, HTML escaped,
    line breaks and other control characters turned into spaces."""
    one_line = "".join(" " if ord(c) < 32 or c in "\u2028\u2029\x7f" else c for c in text)
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def _md_plain(text: str) -> str:
    """Text the tool wrote (a summary line): only what could break the bold around it or a
    table is escaped, so ``1,200`` reads as written."""
    return text.replace("*", "\\*").replace("|", "\\|")


def _code(name: str) -> str:
    """A property name as inline code (names are ``[a-z0-9_]``; anything else escaped)."""
    if re.fullmatch(r"[A-Za-z0-9_@:.-]+", name):
        return f"`{name}`"
    return _md(name)


__all__ = [
    "MARKDOWN_LIMIT",
    "MarkdownTarget",
    "full_plan_hint",
    "render_plan_markdown",
    "render_plans_markdown",
    "repin_phrase",
]
