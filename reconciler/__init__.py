"""hubspot-reconciler: declarative YAML to HubSpot CRM.

The library API (the CLI in ``reconciler.cli`` is one client of it):

- ``reconciler.loading.load_project(root, reference_time=...) -> DesiredState``
- ``reconciler.planning.planner.plan(desired, state, remote=None) -> Plan``
- ``reconciler.applying.apply.apply_plan(...)``
"""

from __future__ import annotations

__version__ = "0.1.0"
