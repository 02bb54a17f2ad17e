"""``doctor``: will apply work on this portal? Asked before anything is written.

Read-only. It checks, in order, and reports one finding a line (``ok``, ``warn`` or
``fail``, each failure with what to do about it):

1. the token is accepted and belongs to the portal the target (and its state) name;
2. the token's scopes cover what plan and apply need for the types the spec writes
   (HubSpot's private-app token info says which it has; without it, harmless reads probe
   the read scopes and the write scopes stay unverified);
3. the marker properties exist on each type, or can be made on the first apply;
4. every owner the spec names is an active owner of the portal (owners cannot be created
   through the API: the target's ``owners:`` map is the way round);
5. the schema the spec declares against the portal's, in one line (what apply will
   create, adopt, update), or what plan would refuse about it;
6. the rate-limit tier and what is left of today's API budget against the first apply;
7. this machine's parse cache: whether its entries are sealed (``reconciler.loading.cache``;
   a warning at most: without a seal every load only checks its entries, slower).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from reconciler.errors import ApiError, ReconcilerError, SpecError
from reconciler.hubspot.account_endpoints import DailyUsage, TokenInfo
from reconciler.hubspot.budget import estimate_requests
from reconciler.hubspot.client import HubSpotClient, PropertyDefinition
from reconciler.identity.applied_digest import DIGEST_PROPERTY
from reconciler.identity.markers import MARKER_PROPERTY, NO_UNIQUE_PROPERTIES, PROJECT_PROPERTY
from reconciler.loading.cache import seal_report
from reconciler.planning.planner import plan
from reconciler.planning.schema_step import SchemaStep
from reconciler.settings import TIER_REQUESTS_PER_10S, Target
from reconciler.state.model import State
from reconciler.workflow.options import LoadedTarget, RunOptions, load_target
from reconciler.workflow.portal import connect
from reconciler.workflow.schema_reads import schema_step
from reconciler.workflow.scopes import (
    OWNERS_READ,
    ScopeNeed,
    needs_of_apply,
    record_read,
    schema_write,
)

Level = Literal["ok", "warn", "fail"]
#: The order findings are shown in (the order in which they matter).
TOPICS = ("token", "scopes", "markers", "owners", "schema", "budget", "cache")
MARKERS = (MARKER_PROPERTY, PROJECT_PROPERTY, DIGEST_PROPERTY)
#: HubSpot allows at most 10 unique-value properties per object type (facts §7).
UNIQUE_LIMIT = 10
#: The daily limit of private apps by tier (facts §2); the limit names the tier.
TIER_OF_DAILY_LIMIT = {
    250_000: ("Free or Starter", "starter"),
    625_000: ("Professional", "professional"),
    650_000: ("Professional", "professional"),
    1_000_000: ("Enterprise", "enterprise"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    topic: str  # token, scopes, markers, owners, schema, budget, cache
    message: str


@dataclass(frozen=True, slots=True)
class DoctorReport:
    target: Target
    portal_id: int | None
    findings: tuple[Finding, ...]

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "fail")


class _Findings:
    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(self, level: Level, topic: str, message: str) -> None:
        self.items.append(Finding(level, topic, message))


def diagnose(options: RunOptions) -> DoctorReport:
    """Check the target's portal, token and spec; never writes (not even the state)."""
    loaded = load_target(options)
    target = loaded.target
    state = loaded.store.load()
    found = _Findings()
    # The portal ids are checked here, as findings, not refused by connect.
    unchecked = replace(target, portal_id=None)
    with connect(unchecked, options.environ, state=None, clock=options.clock) as client:
        portal_id = _check_portal(client, target, state, found)
        if portal_id is not None or not any(f.level == "fail" for f in found.items):
            _check_the_rest(client, loaded, state, portal_id, found)
    sealed, message = seal_report()  # (this machine's, not the portal's: never a problem)
    found.add("ok" if sealed else "warn", "cache", message)
    ordered = sorted(found.items, key=lambda f: TOPICS.index(f.topic))
    return DoctorReport(target, portal_id, tuple(ordered))


def _check_the_rest(client: HubSpotClient, loaded: LoadedTarget, state: State,
                    portal_id: int | None, found: _Findings) -> None:
    desired, target = loaded.desired, loaded.target
    types = sorted({r.object_type for r in desired.records.values()})
    emails = {r.owner_email.lower() for r in desired.records.values() if r.owner_email}
    # calendar organizers named by email must be owners too (apply asks for their user id)
    emails |= {r.calendar.organizer.lower() for r in desired.records.values()
               if r.calendar is not None and "@" in r.calendar.organizer}
    ids = {str(r.properties["hubspot_owner_id"]) for r in desired.records.values()
           if r.properties.get("hubspot_owner_id")}
    info = client.token_info()
    if info is not None and portal_id is not None and info.hub_id != portal_id:
        found.add("fail", "token", f"token info says the token is of portal {info.hub_id}, "
                  f"the account details say {portal_id}; use the token of one portal")
    unmade = _check_markers(client, types, info, found)
    schema = desired.schema
    declared = ({p.object_type for p in schema.properties.values()}
                | {g.object_type for g in schema.groups.values()}
                | {p.object_type for p in schema.pipelines.values()})
    needs = needs_of_apply(types, owners=bool(emails or ids),
                           schema_types={*unmade, *declared})
    _check_scopes(client, info, needs, types, found)
    if emails or ids:
        _check_owners(client, target, emails, ids, found)
    step = _schema_line(client, loaded, state, found)
    _check_budget(client, loaded, state, step, found)


# -- 1. the token and its portal ------------------------------------------------------------


def _check_portal(client: HubSpotClient, target: Target, state: State,
                  found: _Findings) -> int | None:
    try:
        actual = client.account_portal_id()
    except ApiError as error:
        if error.status == 401:
            found.add("fail", "token", f"HubSpot refused the token in {target.token_env} "
                      "(401): use the access token of the portal's private app")
            return None
        raise
    if actual is None:
        level: Level = "fail" if target.portal_id is not None else "warn"
        found.add(level, "token", "the account behind the token cannot be identified "
                  "(GET /account-info/v3/details was refused): grant the private app the "
                  "`oauth` scope")
        return None
    for wanted, whose, fix in (
        (target.portal_id, f"target {target.name} names",
         f"use portal {target.portal_id}'s token, or fix targets.{target.name}.portal_id"),
        (state.portal_id, f"the state of target {target.name} was made in",
         "use that portal's token, or `reconciler state rebind` to move the state on purpose"),
    ):
        if wanted is not None and wanted != actual:
            found.add("fail", "token", f"the token in {target.token_env} belongs to portal "
                      f"{actual}, but {whose} portal {wanted}: {fix}")
    if not any(f.level == "fail" for f in found.items):
        found.add("ok", "token", f"the token is accepted; portal {actual}")
    return actual


# -- 2. scopes ----------------------------------------------------------------------------


def _check_scopes(client: HubSpotClient, info: TokenInfo | None, needs: Iterable[ScopeNeed],
                  types: list[str], found: _Findings) -> None:
    if info is not None:
        missing = [need for need in needs if not need.met_by(info.scopes)]
        for need in missing:
            found.add("fail", "scopes", f"the token may not {need.doing}: grant the private "
                      f"app {' or '.join(need.any_of[:2])}")
        if not missing:
            found.add("ok", "scopes", "the token has every scope plan and apply need")
        return
    # No token info (an OAuth token, or HubSpot would not say): probe with reads only.
    refused = False
    for object_type in types:
        try:
            client.search_page(object_type, [], [], limit=1)
        except ApiError as error:
            if error.status != 403:
                raise
            refused = True
            found.add("fail", "scopes", f"the token may not read {object_type}: grant the "
                      f"private app {' or '.join(record_read(object_type).any_of[:2])}")
    if not refused:
        found.add("warn", "scopes", "HubSpot would not list the token's scopes (token info "
                  "refused it): reads work; write scopes are unverified (no harmless write "
                  "can prove them)")


# -- 3. markers ---------------------------------------------------------------------------


def _check_markers(client: HubSpotClient, types: list[str], info: TokenInfo | None,
                   found: _Findings) -> list[str]:
    """The types whose marker properties the first apply must create."""
    unmade: list[str] = []
    for object_type in types:
        try:
            defined = {p.name: p for p in client.list_properties(object_type)}
        except ApiError as error:
            if error.status != 403:
                raise
            continue  # the scopes check says what is missing
        if all(name in defined for name in MARKERS):
            continue
        unmade.append(object_type)
        if MARKER_PROPERTY not in defined and object_type not in NO_UNIQUE_PROPERTIES:
            _check_unique_slot(object_type, defined.values(), found)
    if not unmade:
        if types:
            found.add("ok", "markers", "the marker properties exist")
        return unmade
    writable = info is None or all(schema_write(t).met_by(info.scopes) for t in unmade)
    if writable:
        found.add("ok", "markers", "the marker properties (reconciler_key, _project, "
                  f"_applied) will be created on the first apply on {', '.join(unmade)}")
    return unmade


def _check_unique_slot(object_type: str, properties: Iterable[PropertyDefinition],
                       found: _Findings) -> None:
    unique = [p.name for p in properties if p.has_unique_value]
    if len(unique) >= UNIQUE_LIMIT:
        found.add("fail", "markers", f"{object_type} already has {len(unique)} unique-value "
                  f"properties, HubSpot's limit: reconciler_key needs one; archive one of "
                  f"{', '.join(sorted(unique))}")


# -- 4. owners ----------------------------------------------------------------------------


def _check_owners(client: HubSpotClient, target: Target, emails: set[str], ids: set[str],
                  found: _Findings) -> None:
    try:
        owners = client.list_owners()
    except ApiError as error:
        if error.status != 403:
            raise
        found.add("fail", "owners", "the token may not read owners: grant the private app "
                  f"{OWNERS_READ[0]}")
        return
    known_emails = {o.email.lower() for o in owners if o.email}
    known_ids = {o.id for o in owners}
    missing = sorted(emails - known_emails) + sorted(ids - known_ids)
    for owner in missing:
        found.add("fail", "owners", f"{owner} is not an active owner of this portal (owners "
                  "cannot be created through the API): add the user in HubSpot, or map it to "
                  f"one of this portal's owners under targets.{target.name}.owners in "
                  "reconciler.yaml")
    if not missing:
        found.add("ok", "owners", f"the spec's {len(emails) + len(ids)} owner(s) are active "
                  "owners")


# -- 5. schema ----------------------------------------------------------------------------


def _schema_line(client: HubSpotClient, loaded: LoadedTarget, state: State,
                 found: _Findings) -> SchemaStep | None:
    """The schema the spec declares against the portal's, in one line: the schema plan's
    changes counted by what they do (the reads and the planner of ``plan`` itself). The
    step is returned for the budget's estimate (None: no schema, or refused)."""
    desired = loaded.desired
    if desired.schema.empty:
        return None
    try:
        step = schema_step(client, desired, state, protected=loaded.target.protected,
                           allow_data_loss=False)
    except SpecError as error:
        for issue in error.issues:
            found.add("fail", "schema", issue.message)
        return None
    except ReconcilerError as error:
        found.add("fail", "schema", str(error))
        return None
    counts: Counter[tuple[str, str]] = Counter(
        (change.action, change.kind) for change in step.planned.changes
    )
    if not counts:
        found.add("ok", "schema", "the portal has the schema the spec declares")
        return step
    parts = []
    for action in ("create", "adopt", "update", "retype", "archive", "keep"):
        kinds = [f"{n} {kind}{'s' if n > 1 else ''}" for (a, kind), n in sorted(counts.items())
                 if a == action]
        if kinds:
            parts.append(f"{_VERBS[action]} {', '.join(kinds)}")
    found.add("ok", "schema", f"apply will {'; '.join(parts)}")
    return step


_VERBS = {"create": "create", "adopt": "adopt (found by label)", "update": "update",
          "retype": "retype", "archive": "archive", "keep": "keep (a protected target)"}


# -- 6. rate limits and today's budget ----------------------------------------------------


def _check_budget(client: HubSpotClient, loaded: LoadedTarget, state: State,
                  step: SchemaStep | None, found: _Findings) -> None:
    target = loaded.target
    try:
        usage = client.daily_usage()
    except ApiError as error:
        if error.status != 401:
            raise
        usage = None
    if usage is None:
        found.add("warn", "budget", "the daily API usage is unknown (GET /account-info/v3/"
                  "api-usage/daily/private-apps was refused): grant the private app `oauth`")
        return
    # The plan from the state (no record reads), with the schema's changes when there are.
    desired = step.desired if step is not None else loaded.desired
    drafted = plan(desired, state, None, target=target.name)
    first_apply = estimate_requests(step.attach(drafted) if step else drafted).total
    found.add(*_budget_finding(usage, first_apply))
    tier = TIER_OF_DAILY_LIMIT.get(usage.limit)
    burst = target.rate_limit.requests_per_10s
    if tier is not None and burst is not None and burst > TIER_REQUESTS_PER_10S[tier[1]]:
        found.add("warn", "budget", f"target {target.name} sends up to {burst} requests per "
                  f"10 s, but a {tier[0]} account allows {TIER_REQUESTS_PER_10S[tier[1]]}: set "
                  f"targets.{target.name}.rate_limit.tier to {tier[1]}")


def _budget_finding(usage: DailyUsage, first_apply: int) -> tuple[Level, str, str]:
    tier = TIER_OF_DAILY_LIMIT.get(usage.limit)
    named = f" ({tier[0]})" if tier else ""
    resets = f", resets {usage.resets_at}" if usage.resets_at else ""
    text = (f"daily limit {usage.limit:,}{named}, {usage.used:,} used today, "
            f"{usage.remaining:,} left{resets}; apply's writes as the state stands take "
            f"about {first_apply:,} request(s) (its reads come on top: `plan` prints the "
            "whole estimate)")
    if usage.remaining < first_apply:
        return "fail", "budget", f"{text}: wait for the reset, or apply part with --only"
    return "ok", "budget", text
