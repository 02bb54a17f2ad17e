"""Planning: the pure planner (no I/O) and the catalogue checks.

Modules: ``changes`` (the plan as a value: ``Change``, ``Plan``), ``planner`` (``plan``:
desired state + state (+ portal) → ``Plan``), ``comparing`` (what counts as a change),
``pins`` (pinned relative times and random picks), ``refactors`` (``moved:``/``removed:``
→ moves and releases), ``ownership`` (records not provably this project's; marker
rewrites), ``catalogue`` (the portal's properties, owners and association types checked).
The plan's JSON form lives with the state (``reconciler.state.plan_document``).
"""
