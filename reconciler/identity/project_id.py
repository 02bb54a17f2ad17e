"""A project's identity: the ``id:`` in ``reconciler.yaml`` that its markers carry.

The id is written once, by ``reconciler init`` (``reconciler.workflow.scaffold``), and
committed with the project: it does not change when the folder is moved or renamed, and two
folders of the same name get different ids, so they never share records. It is the slug of
the project's name (for people reading markers in HubSpot) plus 8 random hex digits (for
uniqueness).

``reconciler.yaml`` is edited with ruamel's round-trip mode so its comments and key order
survive; ruamel's types stay in this module.
"""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.model import slug

#: What ``reconciler.yaml``'s ``id:`` must look like (its schema says the same).
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{5,62}$")
_SLUG_LENGTH = 40
PROJECT_FILES = ("reconciler.yaml", "reconciler.yml")
IGNORED = ".reconciler/"


def new_project_id(name: str) -> str:
    """``<slug of name, at most 40 characters>-<8 random hex digits>``."""
    stem = slug(name)[:_SLUG_LENGTH].strip("-") or "project"
    project_id = f"{stem}-{secrets.token_hex(4)}"
    assert ID_PATTERN.match(project_id), project_id
    return project_id


def plain(text: str) -> str:
    """``text`` as a YAML scalar (quoted when it would not read back as the same string)."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9 _.-]*", text) and text.lower() not in (
        "true", "false", "yes", "no", "on", "off", "null", "~"
    ) and not text.endswith(" "):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_id(path: Path, root: Path, *, refuse_if_present: bool = True) -> tuple[str, str] | None:
    """Write a new ``id:`` into the project file ``path``, keeping its comments and key
    order; returns (name, id). A file with an id already is refused (the id never
    changes), or with ``refuse_if_present`` off left alone (None)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the user's long lines
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}); fix it, then run init again") from exc
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError(f"{path}: expected a mapping of settings (name:, targets: ...)")
    if data.get("id") is not None:
        if not refuse_if_present:
            return None
        raise ConfigError(
            f"{path} already has an id ({data['id']}); a project's id never changes, since "
            "its records in every portal carry it. Nothing was changed"
        )
    name = str(data.get("name") or root.resolve().name or "project")
    project_id = new_project_id(name)
    if "id" in data:  # `id:` present but empty
        data["id"] = project_id
    else:
        keys = list(data.keys())
        position = keys.index("name") + 1 if "name" in keys else 0
        data.insert(position, "id", project_id)
    out = io.StringIO()
    yaml.dump(data, out)
    path.write_text(out.getvalue(), encoding="utf-8")
    return name, project_id


def ignore_state(path: Path) -> str:
    """``.reconciler/`` (state, caches, the local emulator's data) is never committed."""
    if not path.exists():
        path.write_text(IGNORED + "\n", encoding="utf-8")
        return "created"
    text = path.read_text(encoding="utf-8")
    lines = {line.strip() for line in text.splitlines()}
    if lines & {".reconciler", ".reconciler/", "/.reconciler", "/.reconciler/"}:
        return "unchanged"
    separator = "" if not text or text.endswith("\n") else "\n"
    path.write_text(text + separator + IGNORED + "\n", encoding="utf-8")
    return "appended"


__all__ = ["ID_PATTERN", "add_id", "ignore_state", "new_project_id", "plain"]
