"""Refactors through the spec (``moved:``/``removed:``), ``state mv|rm`` and ``import``
that write the markers, ``init`` and finding the project from a sub-folder."""

from __future__ import annotations

from tests.manage.conftest import hub, project  # noqa: F401  (fixtures shared with manage)
