"""Every path the client builds exists in HubSpot's OpenAPI specs (read from ../shared)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.hubspot.endpoints import ApiPaths
from reconciler.object_types import OBJECT_TYPES

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "hubspot-openapi"


def spec_paths() -> set[str]:
    if not SPECS.is_dir():
        pytest.skip(f"HubSpot OpenAPI specs not found at {SPECS} (reference data, not in the repo)")
    paths: set[str] = set()
    for file in SPECS.glob("*.json"):
        for path in json.loads(file.read_text())["paths"]:
            paths.add(re.sub(r"\{[^}]+\}", "{}", path))
    return paths


@pytest.mark.parametrize("version", ["v3", "2026-03"])
def test_paths_exist_in_the_specs(version: str) -> None:
    known = spec_paths()
    paths = ApiPaths(version)
    built = [
        *(paths.objects("{}") + suffix for suffix in
          ("/batch/create", "/batch/read", "/batch/update", "/batch/upsert", "/batch/archive", "/search")),
        paths.properties("{}"),
        paths.properties("{}") + "/{}",
        paths.properties("{}") + "/batch/create",
        paths.properties("{}") + "/groups",
        paths.properties("{}") + "/groups/{}",
        paths.pipelines("{}"),
        paths.pipelines("{}") + "/{}",
        paths.pipelines("{}") + "/{}/stages",
        paths.pipelines("{}") + "/{}/stages/{}",
        paths.owners(),
        *(paths.associations("{}", "{}") + suffix for suffix in
          ("/batch/create", "/batch/read", "/batch/archive", "/batch/labels/archive")),
        paths.association_labels("{}", "{}"),
        paths.association_labels("{}", "{}") + "/{}",
        paths.calendar_meetings(),
    ]  # fmt: skip
    missing = [p for p in built if p not in known]
    assert missing == []


@pytest.mark.parametrize("version", ["v3", "2026-03"])
def test_every_activity_type_has_its_own_paths_in_its_spec(version: str) -> None:
    """Activities have specs of their own (crm-{meetings,calls,notes,tasks,emails}-*.json):
    the paths the client writes each of the table's engagement types through are there
    word for word, not only as the generic ``{objectType}`` form."""
    if not SPECS.is_dir():
        pytest.skip(f"HubSpot OpenAPI specs not found at {SPECS} (reference data, not in the repo)")
    paths = ApiPaths(version)
    for row in OBJECT_TYPES:
        if not row.engagement:
            continue
        spec = json.loads((SPECS / f"crm-{row.name}-{version}.json").read_text())
        built = [paths.objects(row.name) + suffix for suffix in
                 ("/batch/create", "/batch/read", "/batch/update", "/batch/archive", "/search")]
        assert [p for p in built if p not in spec["paths"]] == [], row.name
