"""The inspection API under ``/__emulator/``: outside HubSpot's namespace, no token, no
faults, no rate limits.

    GET  /__emulator/health                      {"status": "ok"}
    GET  /__emulator/records?type=meetings[&archived=true|all]
    GET  /__emulator/requests                    the request log, oldest first
    DELETE /__emulator/requests                  clear the request log
    POST /__emulator/reset                       forget everything, back to the start config
    GET|PUT /__emulator/faults                   {"spec": "5xx=0.1,..."} or FaultConfig fields
    GET|PATCH /__emulator/config                 runtime knobs (lag, limits, scopes, owners)
    GET  /__emulator/calendar-events             what the scheduler endpoint created
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from reconciler.emulator.config import FaultConfig, Owner, parse_faults
from reconciler.emulator.http_types import Reply, error_body
from reconciler.errors import ConfigError

if TYPE_CHECKING:
    from reconciler.emulator.app import EmulatorApp

PREFIX = "/__emulator/"

#: Config fields that may change at runtime (the token and the store may not).
RUNTIME_KNOBS = {
    "rate_limit_per_10s", "daily_limit", "search_per_second", "search_lag_seconds", "scopes",
    "shuffle_results", "custom_object_types", "portal_id", "time_zone",
    "echo_trace_ids", "owners",
}


def is_inspection(path: str) -> bool:
    """Whether a path is the inspection API's (outside HubSpot's namespace)."""
    return path.startswith(PREFIX) or path == PREFIX.rstrip("/")


def records(
    app: EmulatorApp, object_type: str, archived: bool | None = False
) -> list[dict[str, Any]]:
    """What is stored, in HubSpot's object shape with every stored property."""
    portal = app.portal
    object_type = portal.resolve_type(object_type)
    return [portal.to_api(record) for record in portal.store.list_records(object_type, archived)]


def config_view(app: EmulatorApp) -> dict[str, Any]:
    config = app.config
    view = {name: getattr(config, name) for name in sorted(RUNTIME_KNOBS)}
    view["owners"] = [asdict(owner) for owner in config.owners]
    view["faults"] = asdict(config.faults)
    return view


def _owners(raw: Any) -> tuple[Owner, ...]:
    """Owners as the config view shows them: ``[{id, email, first_name, last_name, user_id,
    archived?}]``."""
    if not isinstance(raw, list):
        raise ConfigError("owners must be a list of owners")
    try:
        return tuple(Owner(**item) for item in raw)
    except TypeError as error:
        raise ConfigError(
            f"owners: each needs id, email, first_name, last_name, user_id (archived optional): "
            f"{error}"
        ) from None


def handle(
    app: EmulatorApp, method: str, path: str, query: dict[str, list[str]], raw: bytes
) -> Reply:
    name = path[len(PREFIX) :].strip("/") if path.startswith(PREFIX) else ""
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        return Reply(400, error_body("VALIDATION_ERROR", f"Invalid JSON: {exc}"))
    try:
        return _route(app, method, name, query, body)
    except ConfigError as exc:
        return Reply(400, error_body("VALIDATION_ERROR", str(exc)))
    except Exception as exc:  # noqa: BLE001 - keep the inspection API answering whatever it is sent
        return Reply(400, error_body("VALIDATION_ERROR", f"{type(exc).__name__}: {exc}"))


def _route(
    app: EmulatorApp, method: str, name: str, query: dict[str, list[str]], body: Any
) -> Reply:
    if name in ("", "health") and method == "GET":
        return Reply(200, {"status": "ok", "portalId": app.config.portal_id})
    if name == "records" and method == "GET":
        types = query.get("type") or app.portal.object_types
        archived_text = (query.get("archived") or ["false"])[-1].lower()
        archived = None if archived_text == "all" else archived_text == "true"
        return Reply(200, {t: records(app, t, archived) for t in types})
    if name == "requests" and method == "GET":
        return Reply(200, {"results": app.requests()})
    if name == "requests" and method == "DELETE":
        app.clear_requests()
        return Reply(204)
    if name == "reset" and method == "POST":
        app.reset()
        return Reply(204)
    if name == "calendar-events" and method == "GET":
        return Reply(200, {"results": app.store.calendar_events()})
    if name == "faults" and method == "GET":
        return Reply(200, asdict(app.config.faults))
    if name == "faults" and method in ("PUT", "POST"):
        if isinstance(body, dict) and "spec" in body:
            faults, seed = parse_faults(str(body["spec"]))
        else:
            known = {f.name for f in fields(FaultConfig)}
            faults = FaultConfig(**{k: v for k, v in (body or {}).items() if k in known})
            seed = None
        app.set_faults(faults, seed)
        return Reply(200, asdict(faults))
    if name == "config" and method == "GET":
        return Reply(200, config_view(app))
    if name == "config" and method in ("PATCH", "PUT", "POST"):
        changes = dict(body or {})
        unknown = sorted(set(changes) - RUNTIME_KNOBS)
        if unknown:
            return Reply(400, error_body("VALIDATION_ERROR",
                                         f"Not settable at runtime: {', '.join(unknown)}"))
        for key in ("scopes", "custom_object_types"):
            if changes.get(key) is not None:
                changes[key] = tuple(changes[key])
        if "owners" in changes:
            changes["owners"] = _owners(changes["owners"])
        app.set_config(**changes)
        return Reply(200, config_view(app))
    return Reply(
        404, error_body("OBJECT_NOT_FOUND", f"No inspection endpoint {method} /__emulator/{name}")
    )
