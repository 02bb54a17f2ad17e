"""Identity lives in the portal: which record is which spec record, and whose, one idea a module.

- ``markers``: the marker format (``reconciler_key`` = ``<project id>:<address>``,
  ``reconciler_project`` = ``<project id>``) and what proves a record a project's, no I/O;
  ``marker_writes``: ``ensure_markers`` (the properties, created before the first write)
  and ``set_markers``.
- ``lookup``: every search by marker, ``find_marked`` (by the keys sent, or every record of
  the project) and ``find_by_marker`` (waiting out the search lag), used by recovery,
  adoption, rebuild and the pre-plan scan.
- ``search_lag``: how long an empty search proves nothing, and the waits, on the client's
  clock (``reconciler.clock``).
- ``recovery``: in-flight creates of a crashed or cut-off apply, adopted by marker.
- ``calendar_lookup``: a calendar meeting whose answer was lost, found by what the
  scheduler stores.
- ``scan``: the pre-plan scan (records of this project the state does not map: adopt,
  duplicates, a marked record winning over an unmarked one) and, after an apply, the wait
  until search lists what it created; ``scan_plan``: the plan with what it found.
- ``adoption``: ``import`` and ``state rebuild``.
- ``applied_digest``: what was applied to a record, kept on the record.
- ``refresh``: what the portal holds now for the managed records (full or incremental);
  ``refresh_survey`` (its searches), ``refresh_reads`` (its reads by id), ``refresh_log``
  (what the next refresh starts from).
- ``project_id``: the project's ``id:`` in ``reconciler.yaml``, which its markers carry.

Every search pages with ``HubSpotClient.search`` (by ``hs_object_id``, past the 10,000 cap).
"""
