"""The state file: which HubSpot record each local key became, and what was last applied.

Modules: ``model`` (what the state holds), ``store`` (``StateStore``: load, save, compact,
the lock's use), ``reading`` (snapshot + journal read and checked), ``journal`` (the
journal's format, atomic writes), ``on_disk`` (what a store last read or wrote, so a save
appends only what changed), ``backup`` (backups before an edit or a migration), ``lock``
(one command per state file), ``saved_plans`` (``plan --out``/``apply --plan``) and
``plan_document`` (a plan's JSON form and digest).
"""
