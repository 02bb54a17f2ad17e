"""The route table: HubSpot's paths (v3/v4 and 2026-03) → handlers, with the scope each needs.

Each ``Route`` says which OAuth scopes allow it, any one of them, as the specs' ``security``
lists do (so a token with limited scopes gets HubSpot's 403 ``MISSING_SCOPES``, and only
then) and whether it is a search (own rate limit, no headers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from reconciler.emulator import (
    account,
    associations,
    objects,
    owners,
    pipelines,
    properties,
    property_groups,
    scheduler,
    search,
)
from reconciler.emulator.http_types import ApiRequest, HubSpotError, Reply
from reconciler.emulator.portal import ENGAGEMENT_TYPES, Portal

Handler = Callable[[Portal, ApiRequest], Reply]
# (portal, path params) -> the scopes any one of which allows the call (empty: no check)
ScopeRule = Callable[[Portal, dict[str, str]], tuple[str, ...]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    scope: ScopeRule
    is_search: bool = False


def _objects_scope(write: bool, key: str = "objectType") -> ScopeRule:
    def rule(portal: Portal, params: dict[str, str]) -> tuple[str, ...]:
        try:
            return portal.scopes_for(portal.resolve_type(params[key]), write)
        except HubSpotError:  # an unknown type is reported by the handler, not as a scope
            return ()

    return rule


def _schema_scope(write: bool) -> ScopeRule:
    """Properties: reads accept the type's ``crm.schemas.<type>.read`` or any scope that reads
    its records (the properties spec's any-of list names both); writes need
    ``crm.schemas.<type>.write``, where activities (absent from that list) go by contacts."""
    def rule(portal: Portal, params: dict[str, str]) -> tuple[str, ...]:
        try:
            object_type = portal.resolve_type(params["objectType"])
        except HubSpotError:
            return ()
        family = portal.scope_family(object_type)  # activities: contacts
        if write:
            return (f"crm.schemas.{family}.write",)
        schemas = [f"crm.schemas.{family}.read"]
        if object_type in ENGAGEMENT_TYPES:
            schemas += [f"crm.schemas.{object_type}.read", f"crm.objects.{object_type}.read"]
        return (*schemas, *portal.scopes_for(object_type, False))

    return rule


def _pipeline_scope(write: bool) -> ScopeRule:
    """Pipelines: reads as properties' (the type's schema read scope or any scope that reads
    its records); writes need ``crm.schemas.<type>.write``, or for tickets also the
    ``tickets`` scopes (the pipelines spec's write list names both, and no objects scope)."""
    reads = _schema_scope(False)

    def rule(portal: Portal, params: dict[str, str]) -> tuple[str, ...]:
        if not write:
            return reads(portal, params)
        try:
            object_type = portal.resolve_type(params["objectType"])
        except HubSpotError:
            return ()
        family = portal.scope_family(object_type)
        tickets = portal.scopes_for(object_type, True) if family == "tickets" else ()
        return (f"crm.schemas.{family}.write", *tickets)

    return rule


def _fixed(*scopes: str) -> ScopeRule:
    return lambda _portal, _params: scopes


#: The scheduler's any-of list for POST .../meetings/calendar (scheduler specs).
_SCHEDULER_WRITE = (
    "crm.objects.appointments.sensitive.write.v2", "crm.objects.appointments.write",
    "crm.objects.commercepayments.write", "crm.objects.companies.highly_sensitive.write.v2",
    "crm.objects.companies.sensitive.write.v2", "crm.objects.companies.write",
    "crm.objects.contacts.highly_sensitive.write.v2", "crm.objects.contacts.sensitive.write.v2",
    "crm.objects.contacts.write", "crm.objects.courses.write",
    "crm.objects.deals.highly_sensitive.write.v2", "crm.objects.deals.sensitive.write.v2",
    "crm.objects.deals.write", "crm.objects.goals.write", "crm.objects.line_items.write",
    "crm.objects.listings.write", "crm.objects.products.write",
    "crm.objects.projects.highly_sensitive.write", "crm.objects.projects.sensitive.write",
    "crm.objects.projects.write", "crm.objects.services.write", "meetings-write", "tickets",
    "tickets.highly_sensitive.v2", "tickets.sensitive.v2",
)


_OBJ = r"/crm/(?:v3/objects|objects/2026-03)/(?P<objectType>[^/]+)"
_PROPS = r"/crm/(?:v3/properties|properties/2026-03)/(?P<objectType>[^/]+)"
_PROP = _PROPS + r"/(?P<propertyName>[^/]+)"
_GROUP = _PROPS + r"/groups/(?P<groupName>[^/]+)"
_PIPES = r"/crm/(?:v3/pipelines|pipelines/2026-03)/(?P<objectType>[^/]+)"
_PIPE = _PIPES + r"/(?P<pipelineId>[^/]+)"
_STAGE = _PIPE + r"/stages/(?P<stageId>[^/]+)"
_OWNERS = r"/crm/(?:v3/owners|owners/2026-03)"
_ASSOC = (r"/crm/(?:v4/associations|associations/2026-03)"
          r"/(?P<fromObjectType>[^/]+)/(?P<toObjectType>[^/]+)")
_LABELS = (r"/crm/(?:associations/v4|associations/2026-03|v4/associations)"
           r"/(?P<fromObjectType>[^/]+)/(?P<toObjectType>[^/]+)/labels")
_V4OBJ = (r"/crm/(?:v4/objects|objects/2026-03)"
          r"/(?P<fromObjectType>[^/]+)/(?P<fromObjectId>\d+)/associations")
_SCHED = r"/scheduler/(?:v3|2026-03)/meetings/calendar"
_ACCOUNT = r"/account-info/(?:v3|2026-03)"
_TOKEN_INFO = r"/oauth/v2/private-apps/get/access-token-info"


def _route(
    method: str, path: str, handler: Handler, scope: ScopeRule, is_search: bool = False
) -> Route:
    return Route(method, re.compile(f"^{path}/?$"), handler, scope, is_search)


ROUTES: tuple[Route, ...] = (
    _route("POST", _OBJ + "/batch/create", objects.batch_create, _objects_scope(True)),
    _route("POST", _OBJ + "/batch/read", objects.batch_read, _objects_scope(False)),
    _route("POST", _OBJ + "/batch/update", objects.batch_update, _objects_scope(True)),
    _route("POST", _OBJ + "/batch/archive", objects.batch_archive, _objects_scope(True)),
    _route("POST", _OBJ + "/batch/upsert", objects.batch_upsert, _objects_scope(True)),
    _route("POST", _OBJ + "/search", search.search, _objects_scope(False), is_search=True),
    _route("GET", _OBJ, objects.list_records, _objects_scope(False)),
    _route("POST", _OBJ, objects.create_one, _objects_scope(True)),
    _route("GET", _OBJ + r"/(?P<objectId>[^/]+)", objects.get_one, _objects_scope(False)),
    _route("PATCH", _OBJ + r"/(?P<objectId>[^/]+)", objects.patch_one, _objects_scope(True)),
    _route("DELETE", _OBJ + r"/(?P<objectId>[^/]+)", objects.delete_one, _objects_scope(True)),
    _route("GET", _PROPS, properties.list_properties, _schema_scope(False)),
    _route("POST", _PROPS, properties.create_property, _schema_scope(True)),
    _route("POST", _PROPS + "/batch/create", properties.batch_create, _schema_scope(True)),
    _route("POST", _PROPS + "/batch/read", properties.batch_read, _schema_scope(False)),
    _route("POST", _PROPS + "/batch/archive", properties.batch_archive, _schema_scope(True)),
    # groups before {propertyName}: the first route of a method that matches answers
    _route("GET", _PROPS + "/groups", property_groups.list_groups, _schema_scope(False)),
    _route("POST", _PROPS + "/groups", property_groups.create_group, _schema_scope(True)),
    _route("GET", _GROUP, property_groups.get_group, _schema_scope(False)),
    _route("PATCH", _GROUP, property_groups.update_group, _schema_scope(True)),
    _route("DELETE", _GROUP, property_groups.archive_group, _schema_scope(True)),
    _route("GET", _PROP, properties.get_property, _schema_scope(False)),
    _route("PATCH", _PROP, properties.update_property, _schema_scope(True)),
    _route("DELETE", _PROP, properties.archive_property, _schema_scope(True)),
    _route("GET", _PIPES, pipelines.list_pipelines, _pipeline_scope(False)),
    _route("POST", _PIPES, pipelines.create_pipeline, _pipeline_scope(True)),
    _route("GET", _PIPE, pipelines.get_pipeline, _pipeline_scope(False)),
    _route("PUT", _PIPE, pipelines.replace_pipeline, _pipeline_scope(True)),
    _route("PATCH", _PIPE, pipelines.update_pipeline, _pipeline_scope(True)),
    _route("DELETE", _PIPE, pipelines.archive_pipeline, _pipeline_scope(True)),
    _route("GET", _PIPE + "/audit", pipelines.audit, _pipeline_scope(False)),
    _route("GET", _PIPE + "/stages", pipelines.list_stages, _pipeline_scope(False)),
    _route("POST", _PIPE + "/stages", pipelines.create_stage, _pipeline_scope(True)),
    _route("GET", _STAGE, pipelines.get_stage, _pipeline_scope(False)),
    _route("PUT", _STAGE, pipelines.replace_stage, _pipeline_scope(True)),
    _route("PATCH", _STAGE, pipelines.update_stage, _pipeline_scope(True)),
    _route("DELETE", _STAGE, pipelines.archive_stage, _pipeline_scope(True)),
    _route("GET", _STAGE + "/audit", pipelines.audit, _pipeline_scope(False)),
    _route("GET", _OWNERS, owners.list_owners, _fixed("automation", "crm.objects.owners.read")),
    _route("GET", _OWNERS + r"/(?P<ownerId>[^/]+)", owners.get_owner,
           _fixed("automation", "crm.objects.owners.read")),
    _route("POST", _ASSOC + "/batch/create", associations.batch_create,
           _objects_scope(True, "fromObjectType")),
    _route("POST", _ASSOC + "/batch/read", associations.batch_read,
           _objects_scope(False, "fromObjectType")),
    _route("POST", _ASSOC + "/batch/archive", associations.batch_archive,
           _objects_scope(True, "fromObjectType")),
    _route("POST", _ASSOC + "/batch/labels/archive", associations.batch_archive_labels,
           _objects_scope(True, "fromObjectType")),
    # labels: the associations-schema spec lists the same scopes, reads included, for all four
    _route("GET", _LABELS, associations.list_labels, _objects_scope(False, "fromObjectType")),
    _route("POST", _LABELS, associations.create_label, _objects_scope(False, "fromObjectType")),
    _route("PUT", _LABELS, associations.update_label, _objects_scope(False, "fromObjectType")),
    _route("DELETE", _LABELS + r"/(?P<associationTypeId>[^/]+)", associations.delete_label,
           _objects_scope(False, "fromObjectType")),
    _route("GET", _V4OBJ + r"/(?P<toObjectType>[^/]+)", associations.list_for_record,
           _objects_scope(False, "fromObjectType")),
    _route("PUT", _V4OBJ + r"/default/(?P<toObjectType>[^/]+)/(?P<toObjectId>\d+)",
           associations.put_default, _objects_scope(True, "fromObjectType")),
    _route("PUT", _V4OBJ + r"/(?P<toObjectType>[^/]+)/(?P<toObjectId>\d+)",
           associations.put_labelled, _objects_scope(True, "fromObjectType")),
    _route("DELETE", _V4OBJ + r"/(?P<toObjectType>[^/]+)/(?P<toObjectId>\d+)",
           associations.delete_pair, _objects_scope(True, "fromObjectType")),
    _route("POST", _SCHED, scheduler.create_calendar_meeting, _fixed(*_SCHEDULER_WRITE)),
    _route("GET", _ACCOUNT + "/details", account.account_details, _fixed("oauth")),
    _route("GET", _ACCOUNT + "/api-usage/daily/private-apps", account.api_usage,
           _fixed("oauth")),
    _route("POST", _TOKEN_INFO, account.token_info, _fixed()),  # needs no scope
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None | str:
    """The route and its path params, percent-decoded (SDKs encode them: an email id is
    ``sdk%40example.com``, facts §14); ``"method"`` if the path exists for other methods."""
    path_known = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            # Decoded only now: an encoded slash (%2F) stays inside its segment.
            return route, {k: unquote(v) for k, v in found.groupdict().items() if v is not None}
        path_known = True
    return "method" if path_known else None
