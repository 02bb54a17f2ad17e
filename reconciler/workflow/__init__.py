"""The library behind each command: reads, then plan, then writes.

``options`` (what a run starts from: ``RunOptions``, the target, the spec it takes),
``plans`` (the one way a plan is made), ``runs`` (one target's plan and apply),
``many_targets`` (the run over one target or several, which the CLI calls), ``refusals``
(what stops an apply before its first write), ``portal`` (connecting, owners),
``schema_reads`` and ``catalogue_reads`` (what a plan reads of the portal's schema and
catalogue before the pure planner's checks; ``catalogue_cache``: the catalogue kept per
target for ``plan --offline``), ``manage`` (destroy, refresh-times), ``state_edits``
(state rm / mv / rebind), ``scaffold`` (init).
"""
