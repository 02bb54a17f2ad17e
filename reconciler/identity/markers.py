"""The marker format: the two properties that say which spec record a portal record is, and whose.

Every record the tool creates (or adopts) carries two custom properties:

- ``reconciler_key`` = ``<project id>:<type>/<key>``, all lowercase: which spec record it is;
- ``reconciler_project`` = ``<project id>``: whose it is (one ``EQ`` search lists them all).

Lowercase because HubSpot's search ``IN`` "is case-sensitive, so inputted values must be in
lowercase" (facts §7): a marker with a capital could never be found again.

A record is provably a project's only when it carries both: the key *and* the project id
that is the key's prefix (``proves_owner``). A key alone (the first release's
``<name>:<address>``, or one copied by hand) proves nothing about whose the record is.

``marker_writes.ensure_markers`` creates both properties (and ``reconciler_applied``, the
digest of what was applied: ``reconciler.identity.applied_digest``) on each object type
before the first write, and one more per project, ``reconciler_wrote_<project id>``
(``written_by``): that this project has written records of the type here. The properties
API answers without search's lag, so a project that lost its state can tell at once
whether it ever wrote a type (and must wait for search to catch up before creating) or
never did (nothing of its own can be there, whatever other projects wrote).

This module is the format alone (no I/O: the planner uses it); ``marker_writes`` makes and
writes the properties on the portal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reconciler.hubspot.records import PropertyDefinition, RemoteRecord
from reconciler.identity.applied_digest import DIGEST_PROPERTY
from reconciler.object_types import OBJECT_TYPES

MARKER_PROPERTY = "reconciler_key"
PROJECT_PROPERTY = "reconciler_project"
#: The group the markers join when the type has it (HubSpot's for contacts, companies, deals
#: and tickets; unverified for the activities), by object type (the object-type table): else
#: ``marker_group`` takes the group of one of the type's own properties, which HubSpot
#: cannot refuse.
MARKER_GROUP = {t.name: t.marker_group for t in OBJECT_TYPES}
#: Object types where HubSpot documents no unique-value properties (facts §7):
#: the marker there is an ordinary property, and recovery rests on search.
NO_UNIQUE_PROPERTIES = frozenset(t.name for t in OBJECT_TYPES if not t.unique_marker)
#: The prefix of the per-project properties that record which projects wrote a type.
WRITTEN_BY_PREFIX = "reconciler_wrote_"


def written_by(project_id: str) -> str:
    """The property whose existence on a type says project ``project_id`` wrote records of
    that type here (property names are lowercase letters, digits and ``_``; a project id
    has no ``_``, so two ids never give one name)."""
    return WRITTEN_BY_PREFIX + re.sub(r"[^a-z0-9]", "_", project_id.lower())


def marker_value(project_id: str, address: str) -> str:
    """The ``reconciler_key`` of ``address`` in project ``project_id``, lowercase."""
    return f"{project_id}:{address}".lower()


def marker_properties(project_id: str, address: str) -> dict[str, str]:
    """Both marker properties, as every create (and adoption) sets them."""
    return {
        MARKER_PROPERTY: marker_value(project_id, address),
        PROJECT_PROPERTY: project_id.lower(),
    }


def carried(remote: RemoteRecord) -> tuple[str, str]:
    """The (``reconciler_key``, ``reconciler_project``) a record carries, lowercase ("" if none)."""
    return (str(remote.properties.get(MARKER_PROPERTY) or "").lower(),
            str(remote.properties.get(PROJECT_PROPERTY) or "").lower())


def proves_owner(key: str, owner: str) -> bool:
    """Whether a record carrying ``reconciler_key`` = ``key`` and ``reconciler_project`` =
    ``owner`` (both lowercase, as ``carried`` reads them) is provably that project's: the
    project id must be the key's prefix."""
    return bool(owner) and owner == key.partition(":")[0]


def address_in(key: str, project_id: str, object_type: str) -> str | None:
    """The address (``<type>/<key>``) a key of project ``project_id`` names, when it names
    one of ``object_type``; else None."""
    prefix = f"{project_id.lower()}:"
    if not key.startswith(prefix):
        return None
    address = key[len(prefix):]
    return address if address.partition("/")[0] == object_type else None


def tool_properties(project_id: str) -> frozenset[str]:
    """The properties ``ensure_markers`` makes sure of for project ``project_id``."""
    return frozenset({MARKER_PROPERTY, PROJECT_PROPERTY, DIGEST_PROPERTY, written_by(project_id)})


def may_have_written(defined: Iterable[str], project_id: str) -> bool:
    """Whether project ``project_id`` may have written records of a type whose properties
    are ``defined``: its ``written_by`` property is there, or none of any project is (a
    portal written by a release that did not record it: it may have)."""
    names = set(defined)
    if written_by(project_id) in names:
        return True
    return not any(name.startswith(WRITTEN_BY_PREFIX) for name in names)


def marker_group(object_type: str, properties: Iterable[PropertyDefinition]) -> str:
    """The property group the markers are made in: ``MARKER_GROUP``'s when one of the type's
    properties is in it, else the group of the type's first HubSpot-defined property (a
    property must name an existing group: HubSpot refuses any other)."""
    groups = [(p.group_name, p.hubspot_defined) for p in properties if p.group_name]
    preferred = MARKER_GROUP.get(object_type)
    if preferred is not None and any(name == preferred for name, _builtin in groups):
        return preferred
    for name, builtin in groups:
        if builtin:
            return name
    return groups[0][0] if groups else preferred or f"{object_type.rstrip('s')}information"


__all__ = [
    "WRITTEN_BY_PREFIX",
    "MARKER_GROUP",
    "MARKER_PROPERTY",
    "NO_UNIQUE_PROPERTIES",
    "PROJECT_PROPERTY",
    "address_in",
    "carried",
    "marker_group",
    "marker_properties",
    "marker_value",
    "may_have_written",
    "proves_owner",
    "tool_properties",
    "written_by",
]
