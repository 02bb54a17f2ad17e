"""Connecting to a target's portal, and reading its owners.

``connect`` yields a ``HubSpotClient`` for a target: for the embedded ``local`` target it
first starts the emulator in-process (data under ``.reconciler/``) and stops it after,
and checks first that the portal behind the token is the one the target and the state
name. ``resolve_owners`` maps owner emails through the owners API.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from reconciler import __version__
from reconciler.clock import SYSTEM_CLOCK, Clock
from reconciler.errors import ApiError, ConfigError, StateError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.model import DesiredState
from reconciler.settings import Target, read_token
from reconciler.state.model import State


@contextmanager
def connect(
    target: Target,
    environ: Mapping[str, str],
    *,
    state: State | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Iterator[HubSpotClient]:
    """A client for the target's portal (starting the embedded emulator for ``local``),
    waiting on ``clock`` (the embedded emulator too).

    Refused before any request: a target other than ``local`` for a project without an
    ``id:``. Checked before anything else is sent: the portal behind the token, when the
    target names a ``portal_id`` or the ``state`` recorded one (``check_portal``).
    """
    require_project_id(target)
    if target.embedded:
        from reconciler.emulator.config import EmulatorConfig
        from reconciler.emulator.embedded import start_emulator

        assert target.emulator_data is not None
        target.emulator_data.parent.mkdir(parents=True, exist_ok=True)
        config = EmulatorConfig(token="local-embedded", data_path=str(target.emulator_data))
        with start_emulator(config, host="127.0.0.1", port=0, clock=clock) as emulator:
            settings = _client_settings(target, emulator.base_url, emulator.token, clock)
            with HubSpotClient(settings) as client:
                check_portal(client, target, state)
                yield client
        return
    assert target.base_url is not None
    token = read_token(target, environ)
    with HubSpotClient(_client_settings(target, target.base_url, token, clock)) as client:
        check_portal(client, target, state)
        yield client


def require_project_id(target: Target) -> None:
    """Only ``local`` may be used by a project without an ``id:``: two folders named
    alike would otherwise mark (and archive) each other's records in a shared portal."""
    if target.project_id is None and not target.is_local:
        where = f" --project {shlex.quote(str(target.project_root))}" if target.project_root else ""
        raise ConfigError(
            f"target {target.name} needs the project's id: run `reconciler init{where}` (it "
            "writes `id:` to reconciler.yaml; commit it), then try again"
        )


def check_portal(client: HubSpotClient, target: Target, state: State | None) -> None:
    """The portal behind the token must be the one the target names and the state was
    made in. Fails closed: when a portal id must be checked and the account cannot be
    identified, nothing is done. The state records the portal id once it is known (asked
    of every portal but the ``local`` emulator, so that a state can later be checked even
    when the target names no ``portal_id``)."""
    required = target.portal_id is not None or (state is not None and state.portal_id is not None)
    if not required and (state is None or target.is_local):
        return
    try:
        actual = client.account_portal_id()
    except ApiError as error:
        actual, why = None, f"it answered {error.status}"
    else:
        why = "it does not say"
    if actual is None:
        if not required:
            return  # nothing to check against; the state learns the id another time
        which = f"target {target.name}" if target.portal_id is not None else "the state"
        wanted = target.portal_id if target.portal_id is not None else (
            state.portal_id if state is not None else None
        )
        raise ConfigError(
            f"{which} expects portal {wanted}, but the account behind the token in "
            f"{target.token_env} cannot be identified (GET /account-info/v3/details: {why}); "
            "nothing was changed. Use a token whose app may read the account details"
        )
    if target.portal_id is not None and actual != target.portal_id:
        raise ConfigError(
            f"target {target.name} expects portal {target.portal_id}, but the token in "
            f"{target.token_env} belongs to portal {actual}; nothing was changed"
        )
    if state is not None and state.portal_id is not None and state.portal_id != actual:
        raise StateError(
            f"the state for target {target.name} was made in portal {state.portal_id}, but "
            f"the token in {target.token_env} belongs to portal {actual}; nothing was "
            "changed. Use that portal's token, or `reconciler state rebind` to move the "
            "state on purpose"
        )
    if state is not None:
        state.portal_id = actual


def _client_settings(target: Target, base_url: str, token: str, clock: Clock) -> ClientSettings:
    limits = target.rate_limit
    return ClientSettings(
        base_url=base_url,
        token=token,
        api_version=target.api_version,
        requests_per_10s=limits.requests_per_10s,
        search_per_second=limits.search_per_second,
        concurrency=limits.concurrency,
        user_agent=f"hubspot-reconciler/{__version__}",
        clock=clock,
    )


def resolve_owners(client: HubSpotClient, desired: DesiredState, state: State) -> dict[str, str]:
    """Owner emails used by the spec → owner ids (also cached in the state)."""
    emails = {r.owner_email.lower() for r in desired.records.values() if r.owner_email}
    if not emails:
        return {}
    known = {o.email.lower(): o.id for o in client.list_owners() if o.email}
    resolved = {email: known[email] for email in emails if email in known}
    state.owners.update(resolved)
    return resolved
