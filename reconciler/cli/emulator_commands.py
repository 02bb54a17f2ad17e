"""`reconciler emulator serve`: run the local HubSpot emulator until Ctrl-C."""

from __future__ import annotations

import secrets
import signal
from pathlib import Path
from types import FrameType

import click

from reconciler.cli.base import cli
from reconciler.errors import ConfigError

FAULT_MODE_SEARCH_LAG = 3.0  # seconds; HubSpot's index lags writes "a few moments"


@cli.group()
def emulator() -> None:
    """The local HubSpot emulator (HubSpot's paths, shapes, limits and failures)."""


@emulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port (0: a free one).")
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file to keep records in between runs (default: in memory).",
)
@click.option(
    "--rate-limit", default="off", show_default=True, help="Burst limit: 100/10s, or off."
)
@click.option("--daily-limit", type=int, help="Requests per day before 429 DAILY.")
@click.option("--search-rate", type=int, help="Search requests per second (HubSpot: 5).")
@click.option("--search-lag", type=float, default=None,
              help="Seconds before a write is visible to search "
              f"(default: {FAULT_MODE_SEARCH_LAG:g} with --faults, else 0).")
@click.option("--faults", default="off", show_default=True,
              help="e.g. 5xx=0.1,drop_after_commit=0.05,429=0.3,slow=0.1:2s,seed=7")
@click.option("--token", help="Bearer token to accept (default: a random one, printed).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for shuffles and faults."
)
@click.option("--portal-id", type=click.IntRange(1, 2**31 - 1), default=1234567, show_default=True,
              help="The hub id GET /account-info/v3/details answers (match a target's portal_id).")
@click.option(
    "--trace-id-echo/--no-trace-id-echo",
    "echo_trace_ids",
    default=False,
    show_default=True,
    help="Echo objectWriteTraceId on batch results (off: HubSpot's documented 207 example "
    "has none).",
)
@click.option(
    "--allow-remote", is_flag=True, help="Allow a non-loopback --host (no real security!)."
)
def serve(
    host: str, port: int, data: Path | None, rate_limit: str, daily_limit: int | None,
    search_rate: int | None, search_lag: float | None, faults: str, token: str | None, seed: int,
    portal_id: int, echo_trace_ids: bool, allow_remote: bool,
) -> int:
    """Serve a local HubSpot on HOST:PORT until Ctrl-C; prints its base URL and token.

    \b
    Example:
      reconciler emulator serve --port 8080 --data .reconciler/emulator.sqlite
      reconciler emulator serve --rate-limit 100/10s --faults 5xx=0.1,drop_after_commit=0.05
      reconciler emulator serve --portal-id 2519445
    """
    from reconciler.emulator.config import (
        LOOPBACK_HOSTS,
        EmulatorConfig,
        parse_faults,
        parse_rate_limit,
    )
    from reconciler.emulator.embedded import start_emulator

    if host not in LOOPBACK_HOSTS and not allow_remote:
        raise ConfigError(
            f"--host {host} is not a loopback address; the emulator has no real security, "
            "pass --allow-remote to serve it anyway"
        )
    fault_config, fault_seed = parse_faults(faults)
    if search_lag is None:
        # As HubSpot's search index lags writes "a few moments": on when rehearsing faults.
        search_lag = FAULT_MODE_SEARCH_LAG if faults not in ("", "off") else 0.0
    if data is not None:
        data.parent.mkdir(parents=True, exist_ok=True)
    config = EmulatorConfig(
        token=token or secrets.token_urlsafe(18),
        data_path=str(data) if data else None,
        rate_limit_per_10s=parse_rate_limit(rate_limit),
        daily_limit=daily_limit,
        search_per_second=search_rate,
        search_lag_seconds=search_lag,
        faults=fault_config,
        seed=fault_seed if fault_seed is not None else seed,
        portal_id=portal_id,
        echo_trace_ids=echo_trace_ids,
    )
    try:
        emu = start_emulator(config, host=host, port=port)
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    click.echo(f"HubSpot emulator listening on {emu.base_url}")
    click.echo(f"Token: {emu.token}")
    click.echo(f"Inspect: {emu.base_url}/__emulator/records   (Ctrl-C to stop)")
    signal.signal(signal.SIGTERM, _interrupt)  # stop as cleanly on `kill` as on Ctrl-C
    try:
        emu.serve_forever()
    except KeyboardInterrupt:
        emu.stop()
        click.echo("Stopped.")
    return 0


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt
