"""Stateless runs (CI keeps no state between runs) against the emulator with search lag on;
the fixtures are the resilience tests' (the CLI in-process, the emulator reset after), and
``test_other_teams_records``' (another team's records beside this project, applied once),
which ``test_poisoned_state`` uses too."""

from tests.resilience.conftest import cli, faulty  # noqa: F401  (fixtures)
from tests.stateless.test_other_teams_records import applied, hub  # noqa: F401  (fixtures)
