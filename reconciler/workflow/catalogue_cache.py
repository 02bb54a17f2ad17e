"""The per-target catalogue cache: ``.reconciler/catalogue/<target>.json``.

Every plan against a portal rewrites it; ``plan --offline`` checks the spec against it
when it is there. It is a cache and nothing more: a file that is missing, damaged, from
another format or made for another server is ignored (offline plans then skip the checks
against the portal, and the next plan against the portal writes a good one). Written
atomically (temp file in the same folder, then ``os.replace``), so a reader never sees
half a file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from reconciler.planning.catalogue.definitions import Catalogue
from reconciler.settings import Target

CATALOGUE_DIR = Path(".reconciler") / "catalogue"
#: Bump when the file's form changes; older files are then ignored.
FORMAT = 1
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def cache_path(project_root: str | Path, target: Target) -> Path | None:
    """Where the target's catalogue is cached (None: a target name unfit for a file name)."""
    if not _SAFE_NAME.fullmatch(target.name):
        return None
    return Path(project_root) / CATALOGUE_DIR / f"{target.name}.json"


def _identity(target: Target) -> dict[str, object]:
    # A cache made against another server (say, --base-url to an emulator) or another
    # portal must not be trusted for this one.
    base_url = target.base_url.rstrip("/") if target.base_url else None
    return {"base_url": base_url, "portal_id": target.portal_id}


def load_cached(project_root: str | Path, target: Target) -> Catalogue | None:
    """The cached catalogue for ``target``, or None when there is no usable one."""
    path = cache_path(project_root, target)
    if path is None:
        return None
    try:
        data = json.loads(path.read_bytes())
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or data.get("target") != _identity(target)
        ):
            return None
        return Catalogue.from_json(data["catalogue"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def save_cached(project_root: str | Path, target: Target, catalogue: Catalogue) -> None:
    """Write the cache atomically; a folder that cannot be written only costs speed."""
    path = cache_path(project_root, target)
    if path is None:
        return
    payload = {
        "format": FORMAT,
        "target": _identity(target),
        "read_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "catalogue": catalogue.to_json(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(json.dumps(payload, separators=(",", ":")))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError:
        pass
