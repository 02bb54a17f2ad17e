"""hubspot-reconciler: declarative YAML to HubSpot CRM.

The library API (the CLI in ``reconciler.cli`` is one client of it):

- ``reconciler.spec.load_project(root, reference_time=...) -> DesiredState``
- ``reconciler.planner.plan(desired, state, remote=None) -> Plan``
- ``reconciler.apply.apply_plan(...)``
"""

from __future__ import annotations

__version__ = "0.1.0"
