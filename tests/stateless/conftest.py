"""Stateless runs (CI keeps no state between runs) against the emulator with search lag on;
the fixtures are the resilience tests' (the CLI in-process, the emulator reset after)."""

from tests.resilience.conftest import cli, faulty  # noqa: F401  (fixtures)
