"""The spec: YAML files that describe the records a project wants in HubSpot.

    load_project(root, reference_time=..., use_cache=True) -> DesiredState
    load_project_settings(root) -> ProjectSettings
    schema_text("spec" | "project") -> str
    find_project(start=".") -> Path    (the nearest folder above with reconciler.yaml)

Modules: ``yamlfile`` (fast parsing, hostile files refused), ``yaml_walk`` (nodes →
plain data, what YAML would silently accept refused), ``yaml_positions`` (where a JSON
path was written), ``schema`` (JSON Schema validation and messages), ``records``
(friendly fields → HubSpot properties), ``times`` (absolute and relative times,
durations, wire format), ``cache`` (parsed files by content hash), ``files`` (which
files, read without trusting them), ``project_settings`` (``reconciler.yaml``),
``spec_file`` (one file to cache rows), ``rows`` (the cached row format), ``assembly``
(cross-file checks, the records), ``locating`` (issue positions), ``project`` (the
folder, the result).
"""

from __future__ import annotations

from reconciler.loading.files import find_project, spec_files
from reconciler.loading.project import load_project
from reconciler.loading.project_settings import load_project_settings
from reconciler.loading.schema import schema_text

__all__ = ["find_project", "load_project", "load_project_settings", "schema_text", "spec_files"]
