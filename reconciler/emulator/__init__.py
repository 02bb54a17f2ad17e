"""A local HubSpot: HubSpot's paths and shapes, limits and failures, on a loopback port.

    from reconciler.emulator.config import EmulatorConfig, FaultConfig, parse_faults
    from reconciler.emulator.embedded import start_emulator
    with start_emulator(EmulatorConfig(token="t"), port=0) as emu:
        ...  # point a client at emu.base_url with Authorization: Bearer t

Modules, by concept: ``config`` (what the portal is), ``app`` (one request: auth, limits,
faults, request log), ``server`` (HTTP), ``routing`` (paths → handlers), ``store``
(SQLite), ``catalogue`` (properties and value checks), ``portal`` (shared state, record
shape, the clock), ``writes`` (checked writes in one transaction), ``emails`` (what an
email's headers fill in), ``objects``, ``search``, ``associations`` (and
``association_types``: which type ids a pair has), ``properties``, ``property_groups``,
``pipelines`` (and ``schema_model``: built-in groups, default pipelines, a record's stage in
its pipeline), ``owners``, ``scheduler``, ``limits``, ``account``
(``/account-info``, private-app token info), ``faults``, ``inspection``
(``/__emulator/``), ``embedded`` (in-process start/stop, on a ``reconciler.clock.Clock``).
"""

from __future__ import annotations

from reconciler.emulator.config import (
    DEFAULT_OWNERS,
    EmulatorConfig,
    FaultConfig,
    Owner,
    parse_faults,
)
from reconciler.emulator.embedded import Emulator, start_emulator

__all__ = [
    "DEFAULT_OWNERS",
    "Emulator",
    "EmulatorConfig",
    "FaultConfig",
    "Owner",
    "parse_faults",
    "start_emulator",
]
