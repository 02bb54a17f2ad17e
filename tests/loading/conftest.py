from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
#: The example with 3 of its 50 generated accounts: the same spec, loaded in a fraction.
SMALL_VARS = [("accounts", "3")]
SMALL = ["--var", "accounts=3"]
BAD_SPECS = REPO / "tests" / "data" / "bad_specs"
#: A Friday, in winter time in Europe/Berlin.
REFERENCE = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def reference() -> datetime:
    return REFERENCE


@pytest.fixture
def project(tmp_path: Path):
    """Write a project: project({"spec.yaml": "...", "reconciler.yaml": "..."}) -> its folder."""

    def write(files: dict[str, str | bytes]) -> Path:
        for name, content in files.items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        return tmp_path

    return write
