"""The daily budget: how many requests a plan's apply will take, against what HubSpot
says is left of the account's daily limit (``X-HubSpot-RateLimit-Daily-Remaining``, facts
§2), so that an apply that cannot finish today is refused before it starts.

The estimate counts every request an apply sends when nothing fails (retries are not
counted): the reads its plan made (an apply makes them again: refresh, catalogue, scan), the
marker properties checked (and made) per type written, one batch per 100 records per action
and type (updates with association changes or only a new digest included; moves and releases
of a type share theirs), the adopted and deduped records read back, one request a batch of
100 associations removed, then added, per pair of types on the updates, the associations of
upserted records in batches of 100 per associated type, the label reads (not of a label this
apply makes: it learns its id when it makes it), two requests per calendar meeting (the
scheduler's create, then its markers), the search for taken markers before a rewrite, one
count search per created type while search catches up, and one request per schema change (a
label made is read back from both sides). A saved plan (``apply --plan``) makes no plan
reads again: its reads are the check that it still holds, and its records read back before
they are written (``with_saved_plan_reads``). The daily remaining is the latest figure any
answer carried; search answers and OAuth calls carry none (OAuth apps have no daily limit),
and then nothing is checked. A figure no HubSpot account could have (negative, not a number,
beyond a billion) is ignored where it is read (``reconciler.hubspot.failures``): unknown
too, never printed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from reconciler.errors import ConfigError, ReconcilerError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.records import BATCH_LIMIT
from reconciler.identity.markers import NO_UNIQUE_PROPERTIES, tool_properties
from reconciler.planning.changes import STATE_ONLY_ACTIONS, Plan
from reconciler.planning.schema_changes import placeholder_of

#: An apply this small is not worth an extra request to learn the daily remaining.
SMALL_APPLY = 10


@dataclass(frozen=True, slots=True)
class RequestEstimate:
    """About how many requests an apply of a plan sends, by what they are for."""

    records: int
    associations: int
    calendar: int
    markers: int
    #: the plan's reads, made again by the apply
    reads: int = 0
    #: searches: taken markers before a rewrite, and the counts while search catches up
    searches: int = 0
    #: the schema phases: one request per change made (an adopt is none; a label made is
    #: read back from both sides)
    schema: int = 0

    @property
    def total(self) -> int:
        return (self.records + self.associations + self.calendar + self.markers + self.reads
                + self.searches + self.schema)

    def describe(self, remaining: int | None) -> str:
        text = f"Apply will take about {self.total:,} request(s)"
        if remaining is not None and remaining >= 0:  # (negative: nobody's count)
            text += f"; HubSpot's daily limit leaves {remaining:,} for today"
        return text + "."


def _batches(count: int) -> int:
    return -(-count // BATCH_LIMIT)


#: Batches of 100 records per action and type (a dedupe reads back the kept records and the
#: extra ones, then archives; an adopt reads the found ones back; moves and releases are
#: sent together, as "refactor").
_BATCHES_PER_ACTION = {"create": 1, "update": 1, "archive": 1, "refactor": 1, "remark": 1,
                       "adopt": 1, "dedupe": 3}

#: The phase a plan's action is sent in, where it shares its batches with another action.
_PHASE = {"move": "refactor", "release": "refactor"}

#: How many marker properties a type's first write makes (a saved plan does not know which
#: the portal lacks; its schema changes say the type has none of them).
_MARKER_PROPERTIES = len(tool_properties("any-project"))

#: The actions whose records a saved plan's apply reads back (100 a request, the markers
#: only) before it writes them: it did not refresh them itself (``provably_ours``).
_READ_BACK = {"update": "update", "archive": "archive", "move": "refactor",
              "release": "refactor"}


def estimate_requests(plan: Plan) -> RequestEstimate:
    """What an apply of ``plan`` sends when nothing fails (see the module)."""
    by_batch: Counter[tuple[str, str]] = Counter()
    removed: Counter[tuple[str, str]] = Counter()
    added: Counter[tuple[str, str]] = Counter()
    upserted: Counter[tuple[str, str]] = Counter()
    labels: set[tuple[str, str]] = set()
    calendar = 0
    written: set[str] = set()
    created: set[str] = set()
    remarked: Counter[str] = Counter()
    for change in plan.changes:
        if change.action in STATE_ONLY_ACTIONS:
            continue
        if change.action != "archive":
            written.add(change.object_type)
        labels.update((change.object_type, ref.to_type)
                      for ref in change.associations if ref.label is not None
                      and ref.type_id is None and placeholder_of(ref.label) is None)
        if change.action == "create":
            created.add(change.object_type)
            if change.calendar is not None:
                calendar += 1
                continue
            if change.object_type not in NO_UNIQUE_PROPERTIES:
                for ref in change.add_associations:  # upserts carry none inline: sent after
                    upserted[(change.object_type, ref.to_type)] += 1
        if change.action in ("update", "adopt"):  # (sent after the type's updates)
            for applied in change.remove_associations:
                removed[(change.object_type, applied.to_type)] += 1
            for ref in change.add_associations:
                added[(change.object_type, ref.to_type)] += 1
        if change.action == "adopt" and (
            change.diffs or change.add_associations or change.remove_associations
        ):  # (updated with the updates)
            by_batch[("update", change.object_type)] += 1
        if change.action == "release" and not change.after:
            continue  # already gone from the portal: forgotten, nothing sent
        if change.action == "remark":
            remarked[change.object_type] += 1
        by_batch[(_PHASE.get(change.action, change.action), change.object_type)] += 1
    unmarked = {c.object_type for c in plan.schema_changes
                if c.kind == "marker" and c.action == "create" and c.runs}
    return RequestEstimate(
        records=sum(_batches(n) * _BATCHES_PER_ACTION[action]
                    for (action, _), n in by_batch.items()),
        associations=sum(_batches(n) for n in (*removed.values(), *added.values(),
                                                 *upserted.values())) + len(labels),
        calendar=2 * calendar,
        markers=sum(1 + plan.missing_properties.get(
            t, _MARKER_PROPERTIES if t in unmarked else 0) for t in written),
        reads=plan.reads,
        searches=len(created) + sum(_batches(n) for n in remarked.values()),
        schema=sum(
            3 if (c.kind, c.action) == ("label", "create") else 1
            for c in plan.schema_changes
            if c.runs and c.action != "adopt" and c.kind != "marker"
        ),
    )


def with_saved_plan_reads(plan: Plan, checked: int) -> Plan:
    """A saved plan with the reads its apply makes: ``checked`` (the requests that found it
    still holds, already sent) and its records read back before they are written."""
    read_back: Counter[tuple[str, str]] = Counter(
        (_READ_BACK[c.action], c.object_type) for c in plan.changes
        if c.action in _READ_BACK and c.hubspot_id
        and not (c.action == "release" and not c.after)
    )
    return replace(plan, reads=checked + sum(_batches(n) for n in read_back.values()))


def check_daily_budget(
    plan: Plan, remaining: int | None, *, ignore: bool, target: str | None = None
) -> RequestEstimate:
    """The plan's estimate; ``ConfigError`` (nothing was changed) when it needs more
    requests than the account has left today, unless ``ignore``."""
    estimate = estimate_requests(plan)
    if ignore or remaining is None or remaining < 0 or estimate.total <= remaining:
        return estimate
    where = f" for target {target}" if target else ""
    raise ConfigError(
        f"this apply{where} needs about {estimate.total:,} requests, but HubSpot's daily "
        f"limit leaves {remaining:,} for today (X-HubSpot-RateLimit-Daily-Remaining); "
        "nothing was changed. Apply after the daily limit resets (midnight in the portal's "
        "time zone), apply part of it with --only, or pass --ignore-daily-budget to start "
        "anyway (it stops when the limit is reached, with the state saved; apply again "
        "tomorrow to finish)"
    )


def daily_remaining(client: HubSpotClient, plan: Plan) -> int | None:
    """What the account has left today. When no answer has said so yet (a refresh of
    searches only) and the apply is not small, one cheap read asks (its answer carries the
    header); None when HubSpot does not say (OAuth apps have no daily limit)."""
    if client.daily_remaining is None and estimate_requests(plan).total > SMALL_APPLY:
        try:
            client.account_portal_id()
        except ReconcilerError:
            pass  # an error answer still carries the header, if HubSpot sends it
    return client.daily_remaining
